"""The complete-schema policy: what happens to a column the rules do not name.

`options.unlisted` in the rules file:
    "keep"  every unnamed column passes unchanged (the default; the behaviour before 0.5)
    "fail"  every column of every table with data must be named (a mutation or "keep", or
            rewritten by identifier remapping); otherwise the run stops (exit 1) listing them:
            on a file before any output (a pre-pass reads the schema first), on a pipe before
            that table's data
    "mask"  every unnamed column gets a default mutation for its type: `options.typeDefaults`
            ({SQL type or kind: mutation}) first, else "hash" on a column with a UNIQUE or
            PRIMARY KEY constraint (or the first mutation that keeps distinct values of its type
            distinct; none: the run stops, exit 2), else "redact" (a fixed,
            type-aware value). A type with no default that restores (json, bytea, arrays...)
            stops the run (exit 2) naming the column. Key columns (PRIMARY KEY, FOREIGN KEY and
            the columns foreign keys reference) are never given a value default: identifier
            remapping rewrites them, or they pass unchanged and the audit says so.
The audit's `unlisted` object records the policy and, per column, what was done.
"""
from __future__ import annotations

from dumpmask.errors import DumpmaskError, MaskingError, RulesError
from dumpmask.features.base import Stage
from dumpmask.idents import display_name as qualname
from dumpmask.rules import ColumnRule, NamePattern, normal_type

# a kind (schema.classify) -> the type name a typeDefaults key may use for every type of it
_KIND_NAMES = {"int": "integer", "float": "numeric", "bool": "boolean", "text": "text", "date": "date",
               "timestamp": "timestamp", "time": "time", "json": "json", "uuid": "uuid", "binary": "binary",
               "enum": "enum", "array": "array", "bit": "bit", "interval": "interval", "year": "year"}


class Unlisted(Stage):
    needs_schema = True   # on a file: the whole schema (and its unique constraints) before any output

    @staticmethod
    def wanted(engine) -> bool:
        return engine.rules.options.get("unlisted", "keep") != "keep"

    def start(self, engine) -> None:
        self.policy = engine.rules.options["unlisted"]
        self.defaults = engine.rules.options.get("typeDefaults", {})
        self.collecting: list | None = None
        self.done: set = set()
        self.referenced: set | None = None
        self.record = {"policy": self.policy, "columns": []}
        engine.audit.data["unlisted"] = self.record

    def wants_table(self, engine, state) -> bool:
        return True   # every table's data is planned: an unnamed column must not pass unseen

    def schema_ready(self, engine) -> None:
        """With the whole schema known (a file's pre-pass, --schema, an archive's TOC), every
        table with data is planned now, so a failure comes before the first byte of output."""
        if not engine.schema_complete or not engine.data_tables:
            return
        self.collecting = []
        try:
            for key, line in list(engine.data_tables.items()):
                state = engine.table_state(key)
                if state.schema is None or not state.schema.columns:
                    continue
                used = state.plans_used
                engine.build_plan(state, state.schema.data_columns(), line)
                state.plans_used = used   # a check, not data
            missing, self.collecting = self.collecting, None
        finally:
            self.collecting = None
        if missing:
            raise MaskingError(self._message(missing))

    def extend_plan(self, engine, state, columns, plan):
        covered = {p.index for p in plan}
        unnamed = [(i, c) for i, c in enumerate(columns) if i not in covered]
        if not unnamed:
            return plan
        qual = qualname(state.key)
        if self.policy == "fail":
            missing = [(qual, c) for _, c in unnamed]
            if self.collecting is not None:
                self.collecting.extend(missing)
                return plan
            raise MaskingError(self._message(missing))
        for i, cname in unnamed:
            col = state.schema.column(cname) if state.schema is not None else None
            if col is not None and self._is_key(engine, state, cname):
                self._note(qual, cname, col.type, "keep", "a key column: identifier remapping is off for it")
                continue
            plan.append(self._default_plan(engine, state, i, cname, col, qual))
        return plan

    # ------------------------------------------------------------------ helpers
    def _default_plan(self, engine, state, idx, cname, col, qual):
        from dumpmask.schema import Column, unique_constraint_of
        from dumpmask.transformers import parse_mutation

        if col is None:
            raise MaskingError(f"{qual}.{cname}: options.unlisted is \"mask\" but the table's CREATE TABLE was not "
                               "read, so the column's type is unknown: pass --schema FILE or name the column in the rules")
        rcol = engine.resolve_column(col)
        chosen = self._type_default(col, rcol)
        if chosen is not None:
            spec, cls, arg, options, where = chosen
        else:
            unique = state.schema is not None and unique_constraint_of(state.schema, cname)
            spec = "redact"
            if unique:
                from dumpmask.transformers import injective_mutations

                # hash or a unique fake (a `key` rule, a keyed permutation, is identifier remapping's:
                # the rules must name it)
                fits = [m for m in injective_mutations(rcol, engine.dialect.name, engine.resolve_type)
                        if m not in ("key", "keep")]
                if not fits:
                    raise RulesError(f"{qual}.{cname} is in {unique} and no mutation keeps distinct values of type "
                                     f"{col.type} distinct: name the column in the rules (\"key\": remapped with a keyed "
                                     "permutation, or \"keep\")",
                                     engine.rules.path, "$.options.unlisted")
                spec = fits[0]
            options, where = {}, "$.options.unlisted"
            cls, arg = parse_mutation(spec)
        cr = ColumnRule(NamePattern(None, cname, text=cname), spec, cls, arg, options, where,
                        source="unlisted", matched=True)
        try:
            p = engine.make_column_plan(state, idx, col if col is not None else Column(name=cname), cr)
        except RulesError as e:
            raise RulesError(f"{e.message}: {spec!r} is what unlisted: \"mask\" gives type {col.type or '?'}; give "
                             "that type a mutation in $.options.typeDefaults or name the column in the rules",
                             engine.rules.path, where if chosen is not None else "$.options.unlisted") from None
        p.stats.extra["rule"] = where
        self._note(qual, cname, col.type, spec, where)
        return p

    def _type_default(self, col, rcol):
        if not self.defaults:
            return None
        names = [normal_type(col.type or ""), normal_type(rcol.type or ""), rcol.kind,
                 _KIND_NAMES.get(rcol.kind), "array" if (col.type or "").endswith("]") else None]
        for n in names:
            if n and n in self.defaults:
                return self.defaults[n]
        return None

    def _is_key(self, engine, state, cname: str) -> bool:
        if self.referenced is None:
            self.referenced = self._key_nodes(engine)
        return (state.key, cname) in self.referenced

    @staticmethod
    def _key_nodes(engine) -> set:
        """Every (table key, column) that holds keys: primary keys, foreign-key columns, the
        columns foreign keys reference, loose keys (`<table>_id` of that table's key type);
        a partition's column counts when it is a key in its partitioned table or in any other
        partition of it (pg_dump may declare the foreign keys on some partitions only)."""
        from dumpmask.features.keys import loose_key_candidates

        states = [st for st in list(engine.tables.values()) if st.schema is not None]
        nodes = set()
        for st in states:
            s = st.schema
            nodes.update((st.key, c) for c in s.primary_key)
            for fk in s.foreign_keys:
                nodes.update((st.key, c) for c in fk.columns)
                parent = engine.resolve_ref(fk.ref_table, st.key)
                try:
                    nodes.update((parent.key, c) for c in fk.ref_columns_of(parent.schema))
                except DumpmaskError:
                    pass
        for node, table_key, pk, _ in loose_key_candidates([(st.key, st.schema) for st in states]):
            nodes.add(node)
            nodes.add((table_key, pk.name))

        def root(st):
            seen = set()
            while st.schema is not None and st.schema.partition_of and st.key not in seen:
                seen.add(st.key)
                st = engine.table_state(st.schema.partition_of)
            return st.key
        family: dict = {}
        roots = {st.key: root(st) for st in states}
        for (tkey, c) in nodes:
            if tkey in roots:
                family.setdefault(roots[tkey], set()).add(c)
        for st in states:
            nodes.update((st.key, c) for c in family.get(roots[st.key], ()))
        return nodes

    def _note(self, table: str, column: str, type_text, mutation: str, why: str) -> None:
        k = (table, column)
        if k not in self.done:
            self.done.add(k)
            self.record["columns"].append({"table": table, "column": column, "type": type_text,
                                           "mutation": mutation, "why": why})

    @staticmethod
    def _message(missing: list) -> str:
        by_table: dict = {}
        for table, column in missing:
            by_table.setdefault(table, []).append(column)
        listed = "; ".join(f"{t} ({', '.join(cols)})" for t, cols in by_table.items())
        return (f"options.unlisted is \"fail\": {len(missing)} column(s) are not named in the rules: {listed}. "
                "Name each with a mutation or \"keep\"")
