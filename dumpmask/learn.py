"""The schema, learnt from a dump's DDL statements (events of a dialect's lexer).

A learner reads one dialect's schema statements into the run's catalog: the engine, which
owns the tables (table_state, learn_table), the types (domains, domain_checks) and hears of
constraints that arrive after a table's data (unique_learned). It knows what DDL means; the
dialect only says which statements are DDL; the rules and stages know nothing of it.
"""
from __future__ import annotations

import copy

import dumpmask.idents as idents
from dumpmask.errors import MaskingError
from dumpmask.schema import (TableSchema, enum_type_text, parse_alter_table, parse_create_domain, parse_create_table,
                             parse_create_type_enum, parse_create_unique_index, parse_domain_check, parse_owned_by)


class SchemaLearner:
    """What both dialects share: CREATE TABLE read once per statement (a pre-pass and the
    writing pass see the same statements)."""

    dialect = ""

    def __init__(self, catalog):
        self.catalog = catalog
        self._seen_create: dict = {}

    def learn(self, st):
        """A schema statement -> the catalog; the TableState of a CREATE TABLE (else None)."""
        if st.kind == "create_table":
            cat = self.catalog
            seen_key = (getattr(st, "db", None), st.raw)
            if cat.schema_complete:
                # read in the schema pre-pass already: the same statement is the same table
                state = self._seen_create.get(seen_key)
                if state is not None and self._known(state):
                    return state
            state = self._learn_create(st)
            if state is not None and not cat.schema_complete:
                self._seen_create[seen_key] = state
            return state
        return self._learn_other(st)

    def _known(self, state) -> bool:
        return True

    def _read_create(self, st, **kw):
        cat = self.catalog
        schema = parse_create_table(st.raw, self.dialect, **kw)
        if schema is None:
            msg = f"{cat.source}:{st.line}: could not read this CREATE TABLE; its data can only pass through unmasked"
            if cat.strict:
                raise MaskingError(msg + " (--strict)")
            cat.warn(msg)
        return schema

    def _learn_create(self, st):
        raise NotImplementedError

    def _learn_other(self, st):
        return None


class MySchemaLearner(SchemaLearner):
    dialect = "mysql"

    def _learn_create(self, st):
        schema = self._read_create(st)
        if schema is None:
            return None
        if schema.schema is None and st.db is not None:
            schema.schema = st.db
        return self.catalog.learn_table(schema, st.line)


class PgSchemaLearner(SchemaLearner):
    dialect = "postgres"

    def _known(self, state) -> bool:
        return state.schema is not None and not state.schema.partition_of

    def _learn_create(self, st):
        cat = self.catalog
        schema = self._read_create(st, domains=cat.domains)
        if schema is None:
            return None
        if schema.partition_of:
            return self._learn_partition(schema, st.line)
        if schema.inherits:
            self._inherit_columns(schema)
        return cat.learn_table(schema, st.line)

    def _learn_partition(self, schema: TableSchema, line):
        """CREATE TABLE child PARTITION OF parent ...: the parent's columns; its rules apply."""
        cat = self.catalog
        parent = cat.table_state(schema.partition_of)
        state = cat.table_state((schema.schema, schema.name))
        if state.schema is None or not state.schema.columns:
            schema.columns = [copy.copy(c) for c in parent.schema.columns] if parent.schema is not None else []
            schema.line = line
            state.schema = schema
        state.schema.partition_of = parent.key
        state.schema.partition_bound = schema.partition_bound
        state.schema.partition_by = schema.partition_by
        for fk in schema.foreign_keys:
            if fk not in state.schema.foreign_keys:
                state.schema.foreign_keys.append(fk)
        state.rules = None
        state.plans.clear()
        return state

    def _inherit_columns(self, child: TableSchema) -> None:
        """CREATE TABLE ... INHERITS (p, ...) as pg_dump writes it lists only the child's own
        columns: the inherited ones come first, in the parents' order (as PostgreSQL stores them)."""
        own = {c.name for c in child.columns}
        inherited = []
        for parent_schema, parent_name in child.inherits:
            parent = self.catalog.table_state((parent_schema if parent_schema is not None else child.schema, parent_name))
            for c in (parent.schema.columns if parent.schema is not None else []):
                if c.name not in own and all(c.name != x.name for x in inherited):
                    inherited.append(copy.copy(c))
        child.columns[:0] = inherited

    def _learn_other(self, st):
        kind = st.kind
        if kind == "create_domain":
            self._learn_domain(st)
        elif kind == "create":
            self._learn_type_or_index(st)
        elif kind == "alter_table":
            self._learn_alter_table(st)
        elif kind == "alter_sequence":
            self._learn_owned_by(st)
        return None

    def _learn_domain(self, st) -> None:
        cat = self.catalog
        parsed = parse_create_domain(st.raw)
        if not parsed:
            return
        name, base = parsed
        cat.domains[name.lower()] = base
        cat.domains[_last_part(name.lower())] = base
        check = parse_domain_check(st.raw)
        if check:
            cat.domain_checks[name.lower()] = check
            cat.domain_checks[_last_part(name.lower())] = check

    def _learn_type_or_index(self, st) -> None:
        """CREATE TYPE ... AS ENUM (before its tables) or CREATE UNIQUE INDEX (after the data)."""
        cat = self.catalog
        enum = parse_create_type_enum(st.raw)
        if enum:
            name, labels = enum
            cat.domains[name.lower()] = enum_type_text(labels)
            cat.domains[_last_part(name.lower())] = enum_type_text(labels)
            return
        index = parse_create_unique_index(st.raw, self.dialect)
        if index:
            state = self._state_with_schema(index["table"])
            names = {c.name for c in state.schema.columns}
            cols = tuple(c for c in index["columns"] if c in names) if names else index["columns"]
            if cols and cols not in state.schema.unique:
                state.schema.unique.append(cols)
                cat.unique_learned(state, cols, st.line)

    def _state_with_schema(self, key):
        state = self.catalog.table_state(key)
        if state.schema is None:
            state.schema = TableSchema(schema=key[0], name=key[1])
        return state

    def _learn_alter_table(self, st) -> None:
        cat = self.catalog
        alter = parse_alter_table(st.raw, self.dialect)
        if not alter:
            return
        state = self._state_with_schema(alter["table"])
        schema = state.schema
        if alter["pk"]:
            new_pk = alter["pk"] != schema.primary_key
            schema.primary_key = alter["pk"]
            if new_pk:
                cat.unique_learned(state, alter["pk"], st.line)
        for unique in alter["unique"]:
            if unique not in schema.unique:
                schema.unique.append(unique)
                cat.unique_learned(state, unique, st.line)
        for fk in alter["fks"]:
            if fk not in schema.foreign_keys:
                schema.foreign_keys.append(fk)
        if alter["attach"]:
            child = self._state_with_schema(alter["attach"])
            child.schema.partition_of = alter["table"]
            child.schema.partition_bound = alter["bound"]
            child.rules = None  # re-resolve with the parent's rules
            child.plans.clear()
        if alter["inherit"] and alter["inherit"] not in schema.inherits:
            schema.inherits.append(alter["inherit"])
        for found in (alter["seq_default"], alter["identity"]):
            if found:
                column = schema.column(found[0])
                if column is not None:
                    column.has_default_sequence = found[1]

    def _learn_owned_by(self, st) -> None:
        owned = parse_owned_by(st.raw)
        if not owned:
            return
        seq, table, col = owned
        state = self.catalog.table_state(table)
        if state.schema is not None:
            column = state.schema.column(col)
            if column is not None:
                column.has_default_sequence = idents.qualname_text(seq[0], seq[1])  # SQL text, as in nextval()


LEARNERS = {"postgres": PgSchemaLearner, "mysql": MySchemaLearner}


def _last_part(name: str) -> str:
    """The unqualified part of a type name as written: `public."Mail.Addr"` -> `"Mail.Addr"` (the
    last dot outside double quotes), so a column that names the type without its schema finds it."""
    quoted = False
    for i in range(len(name) - 1, -1, -1):
        c = name[i]
        if c == '"':
            quoted = not quoted
        elif c == "." and not quoted:
            return name[i + 1:]
    return name
