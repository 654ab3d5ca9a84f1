"""Identifier remapping: primary and foreign keys through a keyed permutation, no mapping table.

Every primary-key column of an integer, UUID or text type, and every column linked to one by
a foreign key, is remapped. Columns joined by foreign keys form a *component* (union-find) and
share one permutation, so parent and child values agree. The permutation depends only on the
run's key and the component's (strategy, range), so the same value maps to the same output in
every key column of the same type, linked or not (an implicit copy of an id still matches).

Integer range of a column (lo = 0): S = the largest value of the column's storage size read as
signed (for unsigned types half of the unsigned maximum); hi = S // 2 for signed columns that own
a sequence / AUTO_INCREMENT (so half of the type's range stays free for new rows), else S.
A component takes the smallest hi of its columns. The keyed permutation swaps the halves of
[0, hi]: the lower half (the original ids) goes onto the upper half, so a remapped id never
equals any original id below the midpoint (0 % unchanged, and no accidental join with an
unremapped copy), the upper half onto the rest. Everything here is decided by the schema
alone (types, sequences, constraints), never by the data, so a dump given as a file, on a pipe
with --schema, or (MySQL) on a pipe gives the same bytes. `range: [lo, hi]` overrides: then a
keyed bijection of [lo, hi] onto itself.

Also here: remapping refuses to run without knowing the keys (data-only dumps, a --schema of
another database); loose keys (`<table>_id` columns no FK declares) are reported or, with
inferKeys, linked; partition-key columns are left alone with their domain; INHERITS children
share their parent's domains.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from dumpmask.audit import ColumnStats
from dumpmask.errors import DumpmaskError, MaskingError, RulesError, StrictError
from dumpmask.features.base import Stage
from dumpmask.idents import display_name
from dumpmask.work import ColumnSpec, RemapFactory
from dumpmask.schema import Column, _split_qual
from dumpmask.lazy import lazy_pattern

if TYPE_CHECKING:
    from dumpmask.remap import Remapper

CATEGORY = "HIPAA-18 unique identifier"
_UNLOCK = lazy_pattern(globals(), "_UNLOCK", rb"\s*UNLOCK\s+TABLES\s*;", re.I)
_ID_NAME = lazy_pattern(globals(), "_ID_NAME", r"(?i)(?:^id$|_id$|Id$|^uuid$|_uuid$|_key$|_ref$|_no$|_number$)")


_qual = display_name   # (schema.name for messages and the audit)


def _names(names, most: int = 10) -> str:
    names = list(names)
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


class _UF:
    def __init__(self):
        self.p: dict = {}

    def find(self, x):
        p = self.p
        p.setdefault(x, x)
        root = x
        while p[root] != root:
            root = p[root]
        while p[x] != root:
            p[x], x = root, p[x]
        return root

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb, key=repr)] = min(ra, rb, key=repr)


def _strategy_for(col: Column) -> str | None:
    k = col.kind
    if k == "int":
        return "randomInteger"
    if k == "numeric" and (col.scale in (0, None)) and col.precision:
        return "randomInteger"
    if k == "uuid":
        return "uuid"
    if k == "binary" and col.length == 16:
        return "uuid"
    if k == "text":
        if col.length == 36 and col.type.startswith(("char", "character(", "bpchar", "nchar")):
            return "uuid"
        return "text"
    return None


def template_remaps(template: str | None) -> bool:
    """Whether a --template covers identifiers (HIPAA-18), and so turns identifier remapping on."""
    if not template:
        return False
    from dumpmask.detect import TEMPLATES

    return CATEGORY in TEMPLATES.get(template, ())


def remapping_wanted(engine) -> bool:
    """Identifier remapping is on: the rules enable it, or the template covers identifiers."""
    return bool(engine.rules.remapping.get("enabled")) or template_remaps(engine.template)


_IRREGULAR = {"people": "person", "children": "child", "men": "man", "women": "woman", "data": "datum",
              "criteria": "criterion", "media": "medium", "indices": "index", "matrices": "matrix"}


def _singular(name: str) -> str:
    """English singular of a table name (enough for `<singular>_id` columns)."""
    if name in _IRREGULAR:
        return _IRREGULAR[name]
    head, sep, last = name.rpartition("_")
    if last in _IRREGULAR:
        return head + sep + _IRREGULAR[last]
    if name.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    if name.endswith(("sses", "shes", "ches", "xes", "zzes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith(("ss", "us", "is")):
        return name[:-1]
    return name


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _int_s(col: Column):
    """The type's size as a signed maximum (None for non-integer kinds): columns that can hold the
    same ids have the same figure (an unsigned type counts as its signed twin)."""
    if col.kind == "numeric":
        return 10 ** ((col.precision or 18) - (col.scale or 0)) - 1
    if col.int_max is None:
        return None
    return col.int_max // 2 if col.int_min == 0 else col.int_max


_CAN_TAKE_HELP = {"randomInteger": "it takes integer and numeric(p,0) columns",
                  "uuid": "it takes uuid, binary(16) and text columns of at least 36 characters",
                  "text": "it takes text columns (char, varchar, text)"}


def _can_take(col: Column, strategy: str) -> bool:
    """Whether a column's type can hold what `strategy` writes (identifierRemapping.strategy)."""
    if strategy == "randomInteger":
        return _strategy_for(col) == "randomInteger"
    if strategy == "uuid":
        return col.kind == "uuid" or (col.kind == "binary" and col.length == 16) or \
            (col.kind == "text" and (col.length is None or col.length >= 36))
    if strategy == "text":
        return col.kind == "text"
    return _strategy_for(col) is not None


def _int_hi(col: Column | None, assume_sequence: bool = False) -> int | None:
    """The top of an integer key's range, from its type alone (never from the data): S = the
    largest value of its storage size read as signed (an unsigned type counts as its signed
    twin, so signed and unsigned copies of an id agree); S // 2 for a signed column that owns
    a sequence, identity or AUTO_INCREMENT, so that half of the type's range stays free for new
    rows after the restore. A MySQL dump on a pipe does not know yet whether a table declared
    later owns AUTO_INCREMENT: `assume_sequence` is that guess (checked when the table arrives)."""
    if col is None:
        return None
    if col.kind == "numeric":
        return 10 ** ((col.precision or 18) - (col.scale or 0)) - 1
    s = _int_s(col)
    if s is None:
        return None
    owns = bool(col.has_default_sequence or col.auto_increment or assume_sequence)
    return s // 2 if (owns and col.int_min != 0) else s


def loose_key_candidates(schemas, skip=lambda key, column: False) -> list:
    """Loose keys: [((table key, column), key table, pk Column, stem)] for the columns named
    `<table>_id` / `<singular>_id` (or ending in `_<table>_id`, camelCase too) of the same type as
    that table's single-column primary key. `schemas`: [(table key, TableSchema)]; `skip(key,
    column)` leaves a column out (declared by a foreign key, named by a rule). The key's table is
    looked for in the column's own schema first; a name that fits several tables equally is left
    alone (ambiguous). Partitions are neither keys nor loose keys (their parent is)."""
    targets: dict = {}   # name stem -> [(table key, pk column)]
    for key, s in schemas:
        if len(s.primary_key) != 1 or s.partition_of:
            continue
        pk = s.column(s.primary_key[0])
        if pk is None or _strategy_for(pk) is None:
            continue
        for stem in {s.name.lower(), _singular(s.name.lower())}:
            targets.setdefault(stem, []).append((key, pk))
    out = []
    if not targets:
        return out
    for key, s in schemas:
        if s.partition_of:
            continue
        for col in s.columns:
            if col.generated or skip(key, col.name):
                continue
            st = _strategy_for(col)
            snake = _snake(col.name)
            if st is None or not snake.endswith("_id"):
                continue
            parts = snake[:-3].split("_")
            best, best_len = [], 0
            for i in range(len(parts)):
                stem = "_".join(parts[i:])
                for tkey, pk in targets.get(stem, ()):
                    if tkey == key or _strategy_for(pk) != st or _int_s(pk) != _int_s(col):
                        continue
                    if len(stem) > best_len:
                        best, best_len = [(tkey, pk, stem)], len(stem)
                    elif len(stem) == best_len:
                        best.append((tkey, pk, stem))
            pick = [b for b in best if b[0][0] == key[0]] or best
            if not pick or len({b[0] for b in pick}) != 1:
                continue  # none, or ambiguous
            tkey, pk, stem = pick[0]
            out.append(((key, col.name), tkey, pk, stem))
    return out


class KeyRemapping(Stage):
    @staticmethod
    def wanted(engine) -> bool:
        """identifierRemapping in the rules, a template that turns it on, or a `key` rule."""
        return remapping_wanted(engine) or any(cr.mutation == "key" for t in engine.rules.tables for cr in t.columns)

    needs_schema = True

    def start(self, engine):
        opts = engine.rules.remapping
        self.enabled = remapping_wanted(engine)
        # a template that covers identifiers fills in the links the way it fills in mutations,
        # unless the rules say inferKeys: false
        self.infer = bool(opts["inferKeys"]) if "inferKeys" in opts else template_remaps(engine.template)
        self.strategy = opts.get("strategy", "auto")
        self.range = opts.get("range")
        self.components: dict = {}      # node -> component root
        self.remappers: dict = {}       # root -> Remapper (created when first used)
        self.node_spec: dict = {}       # node -> (strategy, lo, hi) decided for it
        self.used: dict = {}            # table key -> {node: spec} at the time its data was written
        self.not_remapped: dict = {}
        self.optout: dict = {}          # node -> reason
        self.compute(engine)

    def schema_ready(self, engine):
        self.compute(engine)
        self.schema_tables = None
        self.data_seen: dict = {}
        if not self.enabled:
            return  # `key` rules alone: those columns are remapped on their own
        if engine.dialect.name == "postgres" and not engine.schema_complete:
            # pg_dump writes primary and foreign keys after all the data: on a pipe nothing of it
            # is known before the rows go out, so no id could be remapped consistently
            raise MaskingError(
                "identifier remapping of a PostgreSQL dump on a pipe needs its keys before the data, and pg_dump "
                "writes them after it: pass --schema FILE with `pg_dump --schema-only` of the same database, or "
                "give the dump as a file (dumpmask then reads the schema first)")
        if not engine.schema_complete:
            return  # a MySQL dump on a pipe: every table is checked when its data arrives (problems at the end)
        known = {k for k, state in engine.tables.items() if state.schema is not None and state.schema.columns}
        if engine.schema_path:
            self.schema_tables = known
        unknown = sorted((k for k in engine.data_tables if k not in known), key=repr)
        if unknown:
            raise MaskingError(self._unknown_msg(engine, unknown))
        # keys declared for a table no CREATE TABLE describes: their columns cannot be placed
        # (an ALTER TABLE whose table name was not read right must never pass as "no key")
        ghosts = sorted((k for k, state in engine.tables.items() if state.schema is not None and not state.schema.columns
                         and (state.schema.primary_key or state.schema.foreign_keys)), key=repr)
        if ghosts:
            raise MaskingError(
                f"identifier remapping: keys are declared (ALTER TABLE ... ADD CONSTRAINT) for {_names(_qual(k) for k in ghosts)}, "
                "which no CREATE TABLE of the schema describes: the key columns cannot be told apart, so no id "
                "could be remapped consistently")
        if not self.node_spec and not self.not_remapped and (engine.data_tables or engine.schema_path):
            names = sorted(_qual(k) for k in (engine.data_tables or known))
            where = f"the --schema file {engine.schema_path}" if engine.schema_path else "the dump"
            if not engine.rules.remapping.get("enabled") and not engine.schema_path:
                # only a template asked: every table is described and none declares a key
                engine.warn(f"--template {engine.template} turns identifier remapping on, but {where} declares no primary "
                         f"or foreign key (tables: {_names(names)}): no id is remapped")
                self.report_problems(engine)
                return
            raise MaskingError(
                f"identifier remapping is on but {where} declares no primary or foreign key that can be remapped "
                f"(tables: {_names(names)}): with a data-only dump pass --schema FILE with a schema-only dump of the "
                "same database; undeclared keys need a rule {\"column\": \"...\", \"mutation\": \"key\"}; "
                "or turn identifierRemapping off")
        self.report_problems(engine)

    @staticmethod
    def _unknown_msg(engine, keys, line=None) -> str:
        names = _names([_qual(k) for k in keys])
        if engine.schema_path:
            return (f"identifier remapping: the dump has data for {names}, which the --schema file {engine.schema_path} "
                    "does not describe: its keys are unknown. Pass a schema-only dump of the same database "
                    "(pg_dump --schema-only, mariadb-dump --no-data)")
        return (f"identifier remapping: the dump has data for {names} but no CREATE TABLE, so the keys are "
                "unknown (a data-only dump: pg_dump --data-only, mariadb-dump --no-create-info): pass --schema FILE "
                "with a schema-only dump of the same database (pg_dump --schema-only, mariadb-dump --no-data), or "
                "name its key columns with {\"column\": \"...\", \"mutation\": \"key\"} rules")

    def table_redeclared(self, engine, state, tschema, line):
        """The dump's own CREATE TABLE of a table the --schema file described: it must say the same
        about what remapping depends on (columns and their types; keys where the dump has them)."""
        if not self.enabled or not engine.schema_path or self.schema_tables is None or state.key not in self.schema_tables:
            return
        old = state.schema

        def cols(t):
            return [(c.name, c.type) for c in t.columns]
        diff = None
        if cols(old) != cols(tschema):
            a, b = dict(cols(old)), dict(cols(tschema))
            names = [n for n in dict.fromkeys(list(a) + list(b)) if a.get(n) != b.get(n)]
            diff = "columns " + ", ".join(names[:5])
        elif tschema.primary_key and tuple(tschema.primary_key) != tuple(old.primary_key):
            diff = "primary key"
        elif [f for f in tschema.foreign_keys if f not in old.foreign_keys]:
            diff = "foreign keys"
        if diff:
            raise MaskingError(
                f"{engine.source}:{line}: CREATE TABLE {_qual(state.key)} differs from the --schema file {engine.schema_path} "
                f"({diff}): the schema file is not of this dump's database; remapping with it would break joins")

    # ---------------------------------------------------------------- components
    def _resolve_table(self, engine, ref: str, child_key):
        fold = engine.dialect.name == "postgres"
        schema, name = _split_qual(ref, fold)
        if schema is None and engine.dialect.name == "postgres":
            schema = child_key[0]
        if engine.dialect.name == "mysql" and schema is None:
            schema = child_key[0]
        return engine.table_state((schema, name))

    def compute(self, engine):
        """The key domains: the columns PRIMARY KEYs, FOREIGN KEYs, `key` rules (and loose keys
        with inferKeys) link, grouped into components (union-find), each remapped with one
        permutation (node_spec) or, with the reason, not at all (not_remapped)."""
        uf = _UF()
        self.optout = {}
        nodes, seeds, explicit = self._declared_keys(engine, uf)
        self._explicit_rules(engine, nodes, seeds, explicit, uf)
        self._link_children(engine, nodes, uf)
        # loose keys: `<table>_id` columns of the type of that table's key, no constraint declaring them
        fk_children = {(state.key, a) for state in engine.tables.values() if state.schema is not None
                       for fk in state.schema.foreign_keys for a in fk.columns}
        # (without inferKeys they change nothing here: looked for once, when problems are reported)
        self.loose = self._loose_keys(engine, nodes, uf, explicit, fk_children) if self.enabled and self.infer else None
        self._graph = (nodes, uf, explicit, fk_children)
        self.inferred = {}
        if self.loose:
            for n, t, ev in self.loose:
                if n in self.optout or t in self.optout:
                    continue
                nodes[n] = engine.tables[n[0]].schema.column(n[1])
                uf.union(n, t)
                seeds.add(n)
                self.inferred[n] = (t, ev)
        self._link_children(engine, nodes, uf)
        self._block_partition_keys(engine, nodes)
        comps: dict = {}
        for n in nodes:
            comps.setdefault(uf.find(n), []).append(n)
        node_spec = {}
        not_remapped = {}
        partition_comps = []
        for members in comps.values():
            if not any(m in seeds for m in members):
                continue
            blocked = [m for m in members if m in self.optout]
            if blocked:
                pblocked = [m for m in blocked if m in self.partition_blocked]
                if pblocked:
                    partition_comps.append((pblocked[0], sorted(members, key=repr)))
                for m in members:
                    not_remapped[m] = self.optout.get(m) or f"joined by a foreign key to {_qual(blocked[0][0])}.{blocked[0][1]} ({self.optout[blocked[0]]})"
                continue
            spec, why = self._component_spec(engine, members, nodes)
            for m in members:
                if spec is not None:
                    node_spec[m] = spec
                else:
                    not_remapped[m] = why
        self.node_spec = node_spec
        self.partition_comps = partition_comps
        self.not_remapped = not_remapped
        # plans built before this (a CREATE TABLE's early rule check on a pipe) may predate the keys
        # learnt now: rebuild them, except for tables whose data is written (checked just below)
        for state in engine.tables.values():
            if state.key not in self.used:
                state.plans.clear()
        self._check_written_tables(engine, node_spec)

    def _declared_keys(self, engine, uf):
        """(nodes: (table key, column) -> Column or None, seeds: the nodes that make their
        component remapped, explicit: node -> the rules file's rule for it) from every table's
        PRIMARY KEY and FOREIGN KEYs; tables with identifierRemapping: false opt out."""
        nodes: dict = {}
        seeds = set()
        explicit = {}
        unresolved: list = []
        for state in list(engine.tables.values()):
            s = state.schema
            if s is None:
                continue
            rules = engine.table_rules(state)
            table_off = any(r.remapping is False for r in rules)
            for r in rules:
                for cr in r.columns:
                    col = s.column(cr.column.name) if engine.dialect.name == "postgres" else next((c for c in s.columns if c.name.lower() == cr.column.name.lower()), None)
                    if col is not None:
                        explicit[(state.key, col.name)] = cr
            for c in s.primary_key:
                col = s.column(c)
                n = (state.key, c)
                nodes[n] = col
                uf.find(n)
                if self.enabled and col is not None and _strategy_for(col) and col.kind not in ("timestamp", "date"):
                    seeds.add(n)
                if table_off:
                    self.optout[n] = f"table {_qual(state.key)} has identifierRemapping: false"
            for fk in s.foreign_keys:
                parent = self._resolve_table(engine, fk.ref_table, state.key)
                try:
                    ref_columns = fk.ref_columns_of(parent.schema, f"table {_qual(state.key)}")
                except DumpmaskError as e:   # REFERENCES t, t's key unknown: only an error if keys move
                    unresolved.append(e)
                    continue
                for a, b in zip(fk.columns, ref_columns):
                    na, nb = (state.key, a), (parent.key, b)
                    nodes.setdefault(na, s.column(a))
                    pcol = parent.schema.column(b) if parent.schema is not None else None
                    if nb not in nodes or nodes[nb] is None:
                        nodes[nb] = pcol
                    uf.union(na, nb)
                    if self.enabled:
                        seeds.add(na)
                    if table_off:
                        self.optout[na] = f"table {_qual(state.key)} has identifierRemapping: false"
                    if parent.schema is not None and any(r.remapping is False for r in engine.table_rules(parent)):
                        self.optout[nb] = f"table {_qual(parent.key)} has identifierRemapping: false"
        if unresolved and (self.enabled or any(cr.mutation == "key" for cr in explicit.values())):
            raise unresolved[0]
        return nodes, seeds, explicit

    def _explicit_rules(self, engine, nodes, seeds, explicit, uf) -> None:
        """Explicit `key` rules join a domain; explicit `keep` opts out; other explicit rules win."""
        for n, cr in explicit.items():
            if cr.mutation == "key":
                state = engine.tables[n[0]]
                nodes[n] = state.schema.column(n[1])
                seeds.add(n)
                dom = cr.options.get("domain")
                if dom:
                    tname, _, cname = dom.rpartition(".")
                    if not tname:
                        raise RulesError(f"key domain {dom!r} must be table.column", engine.rules.path, cr.where)
                    target = self._resolve_table(engine, tname, n[0])
                    tn = (target.key, cname if engine.dialect.name == "mysql" or target.schema is None else (cname if target.schema.column(cname) else cname.lower()))
                    nodes.setdefault(tn, target.schema.column(tn[1]) if target.schema else None)
                    uf.union(n, tn)
                    seeds.add(tn)
                else:
                    uf.find(n)
            elif n in nodes:
                self.optout[n] = "explicit keep rule" if cr.mutation == "keep" else f"explicit rule {cr.mutation}"

    def _block_partition_keys(self, engine, nodes) -> None:
        """A column of a partition key cannot be remapped: the row would no longer fit its partition."""
        self.partition_blocked = {}
        for state in engine.tables.values():
            pb = state.schema.partition_by if state.schema is not None else None
            if not pb:
                continue
            for c in pb[1]:
                n = (state.key, c)
                if n in nodes and n not in self.optout:
                    self.optout[n] = (f"in the partition key of {_qual(state.key)} (PARTITION BY {pb[0]}): a remapped value "
                                      "would no longer fit its partition")
                    self.partition_blocked[n] = pb[0]

    def _component_spec(self, engine, members, nodes):
        """(spec, None) for a component of linked key columns: (strategy, lo, hi[, split]) of the
        one permutation they all get; or (None, why not)."""
        strategies = set()
        his = []
        for m in members:
            col = nodes.get(m)
            if col is None:
                continue
            strategy = _strategy_for(col)
            strategies.add(strategy)
            if strategy == "randomInteger":
                his.append(_int_hi(col))
        # members whose table is not known yet (a MySQL dump on a pipe): assume same type with a sequence
        for m in members:
            if nodes.get(m) is None:
                for other in members:
                    oc = nodes.get(other)
                    if oc is not None and _strategy_for(oc) == "randomInteger":
                        his.append(_int_hi(oc, assume_sequence=True))
                        break
        if self.strategy != "auto":
            strategies, his = self._configured_strategy(engine, members, nodes)
        if None in strategies or len(strategies) != 1:
            return None, f"key columns of different kinds joined ({', '.join(sorted(str(s) for s in strategies))})"
        strategy = strategies.pop()
        if strategy != "randomInteger":
            return (strategy, None, None), None
        if self.range:
            lo, hi = self._range_within_types(members, nodes)
        else:
            lo, hi = 0, min(h for h in his if h is not None)
        # the halves of a default range swap (see Remapper): decided by the types alone, never by
        # the data (setval, AUTO_INCREMENT), so every way the dump can arrive gives the same bytes
        return (strategy, lo, hi, not self.range), None

    def _range_within_types(self, members, nodes) -> tuple[int, int]:
        """options.identifierRemapping.range for one component, narrowed to what every one of its
        columns' types can hold: a range wider than a column's type would write values that do
        not fit it (MySQL clamps them to the type's maximum: duplicate keys at the restore). The
        audit's per-column range says what was used."""
        lo, hi = self.range
        for m in members:
            col = nodes.get(m)
            if col is None:
                continue
            if col.kind == "numeric":
                top = 10 ** ((col.precision or 18) - (col.scale or 0)) - 1
                tmin, tmax = -top, top
            else:
                tmin, tmax = col.int_min, col.int_max
            if tmin is not None:
                lo = max(lo, tmin)
            if tmax is not None:
                hi = min(hi, tmax)
        if lo > hi:
            cols = ", ".join(f"{_qual(m[0])}.{m[1]} ({nodes[m].type or nodes[m].kind})" for m in members if nodes.get(m) is not None)
            raise RulesError(f"options.identifierRemapping.range {self.range} holds no value that the key columns {cols} "
                             "can store", None, "$.options.identifierRemapping.range")
        return lo, hi

    def _configured_strategy(self, engine, members, nodes):
        """The configured strategy, for every member, or a rules error (never ignored)."""
        known_cols = [(m, nodes[m]) for m in members if nodes.get(m) is not None]
        bad = [(m, c) for m, c in known_cols if not _can_take(c, self.strategy)]
        if bad:
            cols = ", ".join(f"{_qual(m[0])}.{m[1]} ({c.type or c.kind})" for m, c in bad[:5])
            raise RulesError(
                f"strategy {self.strategy!r} cannot remap the key column{'s' if len(bad) > 1 else ''} {cols}"
                f"{' and more' if len(bad) > 5 else ''} ({_CAN_TAKE_HELP[self.strategy]}): use \"auto\" (each "
                "key column gets the strategy its type calls for), or opt the column out with "
                "{\"mutation\": \"keep\"}", engine.rules.path, "$.options.identifierRemapping.strategy")
        his = []
        if self.strategy == "randomInteger":
            his = [_int_hi(c) for _, c in known_cols]
            if any(nodes.get(m) is None for m in members) and known_cols:
                his.append(_int_hi(known_cols[0][1], assume_sequence=True))
        return {self.strategy}, his

    def _check_written_tables(self, engine, node_spec) -> None:
        """Columns of a table whose data is already written must not change (a pipe without --schema)."""
        for tkey, used in self.used.items():
            now = {n: s for n, s in node_spec.items() if n[0] == tkey}
            if now != used:
                changed = sorted(set(now) ^ set(used) | {n for n in now if n in used and now[n] != used[n]})
                cols = ", ".join(f"{_qual(n[0])}.{n[1]}" for n in changed[:8]) + (" and more" if len(changed) > 8 else "")
                how = ("becomes a remapped key only now" if any(n not in used for n in changed) else
                       "gets another key range now (linked to a key of a smaller type)") if not all(n in used and n not in now for n in changed) \
                    else "cannot be remapped after all (linked to a key of another kind, or opted out)"
                st = getattr(self, "_statement", None)
                where = f"{engine.source}:{st.line}: " if st is not None and st.line else ""
                raise MaskingError(
                    f"{where}identifier remapping on a pipe: {cols} {how}, but the data of {_qual(tkey)} was already "
                    f"written {'with its original ids' if not used else 'with other ids'} (a later table's key or foreign "
                    "key links it; a dump on a pipe fixes a table's key ranges when its data arrives). This dump needs its "
                    "schema first: give it as a file (dumpmask reads the schema before the data) or pass --schema FILE with "
                    "a schema-only dump of the same database (mariadb-dump --no-data, pg_dump --schema-only)")

    def _link_children(self, engine, nodes, uf):
        """Partitions and inheritance children share their parent's keys: a key column in one is
        one in all (the same domain)."""
        children: dict = {}
        for state in engine.tables.values():
            if state.schema is None:
                continue
            parents = ([state.schema.partition_of] if state.schema.partition_of else []) + list(state.schema.inherits or [])
            for pk in parents:
                parent = engine.table_state(pk if pk[0] is not None else (state.key[0], pk[1]))
                if parent.key != state.key:
                    children.setdefault(parent.key, []).append(state)
        size = -1
        while size != len(nodes):  # until stable: a grandchild's column reaches its grandparent through its parent
            size = len(nodes)
            for pkey, kids in children.items():
                parent = engine.tables[pkey]
                keycols = {n[1] for k in kids for n in nodes if n[0] == k.key} | {n[1] for n in nodes if n[0] == pkey}
                for c in keycols:
                    pn = (pkey, c)
                    if parent.schema is not None and parent.schema.columns and parent.schema.column(c) is None:
                        continue  # a column of the child's own
                    nodes.setdefault(pn, parent.schema.column(c) if parent.schema else None)
                    for k in kids:
                        kn = (k.key, c)
                        if k.schema is not None and k.schema.column(c) is not None:
                            nodes.setdefault(kn, k.schema.column(c))
                            uf.union(pn, kn)
                            if pn in self.optout and kn not in self.optout:
                                self.optout[kn] = self.optout[pn]

    def _loose_keys(self, engine, nodes, uf, explicit, fk_children):
        """[(column node, key node, evidence)]: loose_key_candidates of the dump's tables that no
        foreign key declares and no rule names (tables with identifierRemapping false left out)."""
        schemas = [(state.key, state.schema) for state in engine.tables.values() if state.schema is not None]
        off = {state.key for state in engine.tables.values() if any(r.remapping is False for r in engine.table_rules(state))}
        out = []
        for n, tkey, pk, stem in loose_key_candidates(
                schemas, skip=lambda k, c: k in off or (k, c) in explicit or (k, c) in fk_children):
            t = (tkey, pk.name)
            if n in nodes and uf.find(n) == uf.find(t):
                continue
            col = engine.tables[n[0]].schema.column(n[1])
            ev = (f"name {col.name} refers to table {_qual(tkey)}" + (f" (singular {stem})" if stem != tkey[1].lower() else "")
                  + f"; {col.type or col.kind} like {_qual(tkey)}.{pk.name} ({pk.type or pk.kind}); no foreign key declares it")
            out.append((n, t, ev))
        return out

    @staticmethod
    def _link_hint(n, t) -> str:
        return ('link it with {"column": "%s", "mutation": "key", "options": {"domain": "%s.%s"}} in the rules of '
                "table %s, or set options.identifierRemapping.inferKeys: true" % (n[1], t[0][1], t[1], _qual(n[0])))

    def _loose_eval(self, engine) -> None:
        """self.loose_broken: loose keys whose join breaks (the key is remapped, the column is not,
        or not in the same way), each also listed in not_remapped."""
        if not self.enabled:
            self.loose_broken = []
            return
        if self.loose is None:
            nodes, uf, explicit, fk_children = self._graph
            self.loose = self._loose_keys(engine, nodes, uf, explicit, fk_children)
        spec = self.node_spec
        self.loose_broken = [(n, t, ev) for n, t, ev in self.loose if spec.get(t) is not None and spec.get(n) != spec.get(t)]
        for n, t, ev in self.loose_broken:
            if n not in spec and n not in self.not_remapped:
                self.not_remapped[n] = (f"looks like a reference to {_qual(t[0])}.{t[1]} ({ev}) but stays unremapped, "
                                        f"so its join breaks: {self._link_hint(n, t)}")

    def problems(self, engine) -> list[str]:
        """What remapping leaves undone that the user must hear about (stderr; --strict fails)."""
        self._loose_eval(engine)
        out = []
        if self.loose_broken:
            k = len(self.loose_broken)
            joins = "; ".join(f"{_qual(n[0])}.{n[1]} -> {_qual(t[0])}.{t[1]}" for n, t, _ in self.loose_broken[:10])
            n, t, _ = self.loose_broken[0]
            out.append(
                f"identifier remapping: {k} column{'s' if k > 1 else ''} named like a reference to a remapped key "
                f"but declared by no foreign key stay{'s' if k == 1 else ''} unremapped, so {'these joins break' if k > 1 else 'this join breaks'} "
                f"after the restore: {joins}{' and more' if k > 10 else ''}. Link each with a `key` rule, e.g. "
                f'{{"column": "{n[1]}", "mutation": "key", "options": {{"domain": "{t[0][1]}.{t[1]}"}}}} in the rules of '
                f"table {_qual(n[0])}, or set options.identifierRemapping.inferKeys: true to link them all; "
                '{"mutation": "keep"} records that a column is not a reference')
        for pn, members in self.partition_comps:
            cols = ", ".join(f"{_qual(m[0])}.{m[1]}" for m in members[:8])
            out.append(
                f"identifier remapping: {_qual(pn[0])}.{pn[1]} is in a partition key (PARTITION BY "
                f"{self.partition_blocked[pn]}): a remapped value would no longer fit its partition, so it and every "
                f"column linked to it by foreign keys keep their original ids ({len(members)} column"
                f"{'s' if len(members) > 1 else ''}: {cols}{' and more' if len(members) > 8 else ''}); mark them "
                '{"mutation": "keep"} to accept that')
        return out

    def report_problems(self, engine) -> None:
        if getattr(self, "_reported", False):
            return
        self._reported = True
        msgs = self.problems(engine)
        if msgs and engine.strict:
            raise StrictError(msgs[0] + " (--strict)")
        for m in msgs:
            engine.warn(m)

    # ---------------------------------------------------------------- engine hooks
    def wants_table(self, engine, state) -> bool:
        self.last_data_table = state
        if self.enabled and state.key not in getattr(self, "data_seen", {}):
            self.data_seen = getattr(self, "data_seen", {})
            self.data_seen[state.key] = True
            st = getattr(self, "schema_tables", None)
            if st is not None and state.key not in st:
                raise MaskingError(self._unknown_msg(engine, [state.key]))
            if state.schema is None or not state.schema.columns:
                raise MaskingError(self._unknown_msg(engine, [state.key]))
        if state.key not in self.used:
            self.used[state.key] = {n: s for n, s in self.node_spec.items() if n[0] == state.key}
        return any(n[0] == state.key for n in self.node_spec)

    def remapper(self, engine, spec) -> Remapper:
        r = self.remappers.get(spec)
        if r is None:
            from dumpmask.remap import Remapper   # imported when a run remaps (start-up of the others)

            st, lo, hi = spec[:3]
            split = bool(spec[3]) if len(spec) > 3 else False
            dom = {"randomInteger": f"int[{lo},{hi}]{'/swap' if split else ''}", "uuid": "uuid", "text": "text"}[st]
            r = self.remappers[spec] = Remapper(engine.key, st, lo, hi, dom, split=split)
        return r

    def extend_plan(self, engine, state, columns, plan):
        have = {p.index for p in plan}
        out = list(plan)
        q = _qual(state.key)
        for i, c in enumerate(columns):
            node = (state.key, c)
            spec = self.node_spec.get(node)
            if spec is None:
                continue
            if i in have:
                # an explicit `key` rule: replace its placeholder plan
                out = [p for p in out if p.index != i or p.spec.mutation != "key"]
                if any(p.index == i for p in out):
                    continue
            col = state.schema.column(c) if state.schema else None
            col = col or Column(name=c, kind="int" if spec[0] == "randomInteger" else "text")
            r = self.remapper(engine, spec)
            tstats = engine.audit.table(q)
            stats = ColumnStats("key", CATEGORY, {"strategy": spec[0], "domain": r.domain}, protection="reversible")
            tstats.columns[c] = stats
            column_spec = ColumnSpec(i, c, col.kind, "key", RemapFactory(r, col, f"{q}.{c}"))
            out.append(engine.column_plan(column_spec, stats))
            ent = engine.audit.data["remapped"][f"{q}.{c}"] = {"strategy": spec[0], "domain": r.domain,
                                                              "range": [spec[1], spec[2]] if spec[0] == "randomInteger" else None,
                                                              "collision_bound": 0.0, "values": 0}
            inf = getattr(self, "inferred", {}).get(node)
            if inf is not None:
                ent["inferred"] = {"key": f"{_qual(inf[0][0])}.{inf[0][1]}", "evidence": inf[1]}
            self._stats_refs = getattr(self, "_stats_refs", [])
            self._stats_refs.append((f"{q}.{c}", stats))
        return out

    def rewrite_statement(self, engine, st):
        if st.kind in ("alter_table", "create_table") and not engine.schema_complete:
            self._statement = st
            self.compute(engine)
            self._statement = None
            return None
        if engine.dialect.name == "mysql" and st.kind == "other" and _UNLOCK.match(st.raw):
            return self._auto_increment_after(engine, st)
        if st.kind != "setval":
            return None
        parse_qualname = engine.dialect.parse_qualname
        p = engine.dialect.parse_setval(st.raw)
        if p is None:
            return None
        (sschema, sname), _val, m = p
        best = None
        cols = []
        for state in engine.tables.values():
            if state.schema is None:
                continue
            for c in state.schema.columns:
                if not c.has_default_sequence:
                    continue
                qs, qn = parse_qualname(c.has_default_sequence.encode())
                if qn != sname or (qs and sschema and qs != sschema):
                    continue
                found = self._integer_max(state, c)
                if found is None:
                    continue
                where, top = found
                cols.append(where)
                if top is not None:
                    best = top if best is None else max(best, top)
        if best is None:
            return None
        # the largest remapped value written in any column of the domain that owns this sequence
        raw = st.raw
        new = raw[:m.start("val")] + str(best).encode() + raw[m.end("val"):]
        if m.group("called") and m.group("called").lower() == b"false":
            new = new[:m.start("called") + (len(new) - len(raw))] + b"true" + new[m.end("called") + (len(new) - len(raw)):]
        engine.audit.data["sequences"].append({"sequence": f"{sschema + '.' if sschema else ''}{sname}", "columns": cols,
                                            "original": _val, "value": best})
        return new

    def _integer_max(self, state, c):
        """(table.column, the largest remapped value written in it or None) for a column remapped
        by the integer permutation; None for any other column."""
        spec = self.node_spec.get((state.key, c.name))
        if spec is None or spec[0] != "randomInteger":
            return None
        r = self.remappers.get(spec)
        where = f"{_qual(state.key)}.{c.name}"
        return where, (r.col_max.get(where) if r is not None else None)

    def _auto_increment_after(self, engine, st):
        """MySQL: after a table's data (at its UNLOCK TABLES), set AUTO_INCREMENT past the
        largest remapped id written (the servers would also move it past the largest id
        inserted; saying it explicitly keeps the guarantee for every engine)."""
        state = getattr(self, "last_data_table", None)
        self.last_data_table = None
        if state is None or state.schema is None:
            return None
        for c in state.schema.columns:
            if not c.auto_increment:
                continue
            found = self._integer_max(state, c)
            if found is None or found[1] is None:
                continue
            where, nxt = found[0], found[1] + 1
            quote_ident = engine.dialect.quote_ident
            name = (quote_ident(state.key[0]) + "." if state.key[0] else "") + quote_ident(state.key[1])
            eol = b"\r\n" if st.raw.endswith(b"\r\n") else b"\n"
            engine.audit.data["sequences"].append({"sequence": f"{_qual(state.key)} AUTO_INCREMENT", "columns": [where],
                                                "original": state.schema.auto_increment_next, "value": nxt})
            return st.raw + f"ALTER TABLE {name} AUTO_INCREMENT={nxt};".encode() + eol
        return None

    def finish_audit(self, engine):
        """The audit says what the run did: options.identifierRemapping.enabled is true only when
        key columns were remapped; the identifierRemapping block tells how and what was left."""
        if not hasattr(self, "strategy"):
            return   # the run failed before the stage started: the engine's "nothing remapped" block stays
        a = engine.audit.data
        for q, stats in getattr(self, "_stats_refs", []):
            ent = a["remapped"].get(q)
            if ent is not None:
                ent["values"] = stats.changed
        did = any(e.get("values") for e in a["remapped"].values())
        configured = dict(engine.rules.remapping)
        source = ("rules" if configured.get("enabled") else
                  f"template:{engine.template}" if template_remaps(engine.template) else "key rules")
        a.setdefault("options", {})["identifierRemapping"] = {**configured, "enabled": did}
        a["identifierRemapping"] = {
            "enabled": did,
            "requested_by": source,
            "strategy": self.strategy,
            "inferKeys": self.infer,
            "columns": sum(1 for e in a["remapped"].values() if e.get("values")),
            "inferred": [{"column": f"{_qual(n[0])}.{n[1]}", "key": f"{_qual(t[0])}.{t[1]}", "evidence": ev}
                         for n, (t, ev) in sorted(getattr(self, "inferred", {}).items(), key=lambda x: repr(x[0]))],
            "unlinked": [{"column": f"{_qual(n[0])}.{n[1]}", "key": f"{_qual(t[0])}.{t[1]}", "evidence": ev}
                         for n, t, ev in getattr(self, "loose_broken", [])],
            "partition_keys": [{"column": f"{_qual(pn[0])}.{pn[1]}", "partition_by": self.partition_blocked.get(pn),
                                "columns": [f"{_qual(m[0])}.{m[1]}" for m in members]}
                               for pn, members in getattr(self, "partition_comps", [])],
        }

    def finish(self, engine):
        if self.enabled:
            self.report_problems(engine)
        for q, stats in getattr(self, "_stats_refs", []):
            ent = engine.audit.data["remapped"].get(q)
            if ent is not None:
                ent["values"] = stats.changed
        nr = []
        for (tkey, c), why in sorted(self.not_remapped.items(), key=lambda x: repr(x[0])):
            nr.append({"column": f"{_qual(tkey)}.{c}", "reason": why})
        # columns that look like identifiers but are in no key domain
        parents = {state.schema.partition_of for state in engine.tables.values() if state.schema is not None and state.schema.partition_of}
        for state in engine.tables.values():
            if state.schema is None or state.key in parents:
                continue
            for c in state.schema.columns:
                n = (state.key, c.name)
                if n in self.node_spec or n in self.not_remapped:
                    continue
                if _ID_NAME.search(c.name) and c.kind in ("int", "uuid", "text"):
                    nr.append({"column": f"{_qual(state.key)}.{c.name}",
                               "reason": "looks like an identifier but no key constraint declares it: add a rule "
                                         "{\"mutation\": \"key\", \"options\": {\"domain\": \"table.column\"}} to remap it"})
        engine.audit.data["not_remapped"] = nr
