"""Identifier remapping: primary and foreign keys through a keyed permutation, no mapping table.

Every primary-key column of an integer, UUID or text type, and every column linked to one by
a foreign key, is remapped. Columns joined by foreign keys form a *component* (union-find) and
share one permutation, so parent and child values agree. The permutation depends only on the
run's key and the component's (strategy, range), so the same value maps to the same output in
every key column of the same type, linked or not (an implicit copy of an id still matches).

Integer range of a column (lo = 0): S = the largest value of the column's storage size read as
signed (for unsigned types half of the unsigned maximum); hi = S // 2 for signed columns that own
a sequence / AUTO_INCREMENT (so half of the type's range stays free for new rows), else S.
A component takes the smallest hi of its columns. The keyed permutation takes the lower half
of [0, hi] (the original ids) onto the upper half, so a remapped id never equals any original
id below the midpoint (0 % unchanged, and no accidental join with an unremapped copy); an id in
the upper half is a clear error naming the range. `range: [lo, hi]` overrides: then a keyed
bijection of [lo, hi] onto itself.
"""
from __future__ import annotations

import re

from dumpmask.audit import ColumnStats
from dumpmask.errors import MaskingError, RulesError
from dumpmask.features import Extension
from dumpmask.remap import IntPermutation, RemapError, TextKeyPermutation, UuidPermutation
from dumpmask.schema import Column, _split_qual

CATEGORY = "HIPAA-18 unique identifier"
_UNLOCK = re.compile(rb"\s*UNLOCK\s+TABLES\s*;", re.I)
_ID_NAME = re.compile(r"(?i)(?:^id$|_id$|Id$|^uuid$|_uuid$|_key$|_ref$|_no$|_number$)")


def _qual(key) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


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


def _int_hi(col: Column | None, assume_sequence: bool = False) -> int | None:
    if col is None:
        return None
    if col.kind == "numeric":
        return 10 ** ((col.precision or 18) - (col.scale or 0)) - 1
    if col.int_max is None:
        return None
    unsigned = col.int_min == 0
    s = col.int_max // 2 if unsigned else col.int_max
    owns = bool(col.has_default_sequence or col.auto_increment or assume_sequence)
    return s // 2 if (owns and not unsigned) else s


class Remapper:
    """A callable str -> str for one component, plus the figures the audit and setval need."""

    def __init__(self, eng, strategy: str, lo: int | None, hi: int | None, domain: str, split: bool = True):
        self.strategy = strategy
        self.lo, self.hi = lo, hi
        self.domain = domain
        self.values = 0
        self.col_max: dict[str, int] = {}   # "schema.table.column" -> largest value written
        key = eng.key
        self.offset = 0
        if strategy == "randomInteger":
            if split:
                # inputs [lo, mid] go to outputs [mid+1+lo', hi]: never onto an original id below mid
                mid = lo + (hi - lo + 1) // 2 - 1
                self.perm = IntPermutation(key, lo, mid, domain="int")
                self.offset = hi - mid
            else:
                self.perm = IntPermutation(key, lo, hi, domain="int")
        elif strategy == "uuid":
            self.perm = UuidPermutation(key)
        else:
            self.perm = TextKeyPermutation(key)

    def spec(self):
        return (self.strategy, self.lo, self.hi)

    def for_column(self, col: Column, where: str):
        strategy = self.strategy
        perm = self.perm
        binary = col.kind == "binary"
        col_max = self.col_max
        offset = self.offset

        def fn(v):
            if v is None:
                return None
            self.values += 1
            try:
                if strategy == "randomInteger":
                    try:
                        x = int(v)
                    except ValueError:
                        raise MaskingError(f"{where}: a key value is not an integer") from None
                    y = perm.map(x) + offset
                    if y > col_max.get(where, -1):
                        col_max[where] = y
                    return str(y)
                if strategy == "uuid":
                    if binary:
                        return perm.map_bytes(v.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")
                    return perm.map(v)
                return perm.map(v)
            except RemapError as e:
                raise MaskingError(f"{where}: {e}") from None

        if strategy == "randomInteger":
            enc = perm.map_uncached  # the caller caches raw fields itself

            def raw_int(raw: bytes) -> bytes:
                """The fast path for integer keys written as plain digits: bytes -> bytes."""
                try:
                    y = enc(int(raw)) + offset
                except ValueError:
                    raise MaskingError(f"{where}: a key value is not an integer") from None
                except RemapError as e:
                    raise MaskingError(f"{where}: {e}") from None
                if y > col_max.get(where, -1):
                    col_max[where] = y
                return b"%d" % y
            fn.raw_int = raw_int
        return fn


class KeyRemapping(Extension):
    needs_schema = True

    def start(self, eng):
        opts = eng.rules.remapping
        self.enabled = bool(opts.get("enabled")) or eng.template == "hipaa"
        self.strategy = opts.get("strategy", "auto")
        self.range = opts.get("range")
        self.components: dict = {}      # node -> component root
        self.remappers: dict = {}       # root -> Remapper (created when first used)
        self.node_spec: dict = {}       # node -> (strategy, lo, hi) decided for it
        self.used: dict = {}            # table key -> {node: spec} at the time its data was written
        self.not_remapped: dict = {}
        self.optout: dict = {}          # node -> reason
        self.compute(eng)

    def schema_ready(self, eng):
        self.compute(eng)

    # ---------------------------------------------------------------- components
    def _resolve_table(self, eng, ref: str, child_key):
        fold = eng.adapter.name == "postgres"
        schema, name = _split_qual(ref, fold)
        if schema is None and eng.adapter.name == "postgres":
            schema = child_key[0]
        if eng.adapter.name == "mysql" and schema is None:
            schema = child_key[0]
        return eng.table_state((schema, name))

    def compute(self, eng):
        uf = _UF()
        nodes: dict = {}          # node -> Column or None (unknown)
        seeds = set()             # nodes that make their component remapped
        explicit = {}             # node -> ColumnRule for columns that have an explicit rule
        self.optout = {}
        for ts in list(eng.tables.values()):
            s = ts.schema
            if s is None:
                continue
            rules = eng.table_rules(ts)
            table_off = any(r.remapping is False for r in rules)
            for r in rules:
                for cr in r.columns:
                    col = s.column(cr.column.name) if eng.adapter.name == "postgres" else next((c for c in s.columns if c.name.lower() == cr.column.name.lower()), None)
                    if col is not None:
                        explicit[(ts.key, col.name)] = cr
            for c in s.primary_key:
                col = s.column(c)
                n = (ts.key, c)
                nodes[n] = col
                uf.find(n)
                if self.enabled and col is not None and _strategy_for(col) and col.kind not in ("timestamp", "date"):
                    seeds.add(n)
                if table_off:
                    self.optout[n] = f"table {_qual(ts.key)} has identifierRemapping: false"
            for fk in s.foreign_keys:
                parent = self._resolve_table(eng, fk.ref_table, ts.key)
                for a, b in zip(fk.columns, fk.ref_columns):
                    na, nb = (ts.key, a), (parent.key, b)
                    nodes.setdefault(na, s.column(a))
                    pcol = parent.schema.column(b) if parent.schema is not None else None
                    if nb not in nodes or nodes[nb] is None:
                        nodes[nb] = pcol
                    uf.union(na, nb)
                    if self.enabled:
                        seeds.add(na)
                    if table_off:
                        self.optout[na] = f"table {_qual(ts.key)} has identifierRemapping: false"
                    if parent.schema is not None and any(r.remapping is False for r in eng.table_rules(parent)):
                        self.optout[nb] = f"table {_qual(parent.key)} has identifierRemapping: false"
        # partitions of one table share its keys: a key column in one partition is one in all
        children: dict = {}
        for ts in eng.tables.values():
            if ts.schema is not None and ts.schema.partition_of:
                parent = eng.table_state(ts.schema.partition_of)
                children.setdefault(parent.key, []).append(ts)
        for pkey, kids in children.items():
            parent = eng.tables[pkey]
            keycols = {n[1] for k in kids for n in nodes if n[0] == k.key} | {n[1] for n in nodes if n[0] == pkey}
            for c in keycols:
                pn = (pkey, c)
                nodes.setdefault(pn, parent.schema.column(c) if parent.schema else None)
                for k in kids:
                    kn = (k.key, c)
                    if k.schema is not None and k.schema.column(c) is not None:
                        nodes.setdefault(kn, k.schema.column(c))
                        uf.union(pn, kn)
        # explicit `key` rules join a domain; explicit `keep` opts out; other explicit rules win
        for n, cr in explicit.items():
            if cr.mutation == "key":
                ts = eng.tables[n[0]]
                nodes[n] = ts.schema.column(n[1])
                seeds.add(n)
                dom = cr.options.get("domain")
                if dom:
                    tname, _, cname = dom.rpartition(".")
                    if not tname:
                        raise RulesError(f"key domain {dom!r} must be table.column", eng.rules.path, cr.where)
                    target = self._resolve_table(eng, tname, n[0])
                    tn = (target.key, cname if eng.adapter.name == "mysql" or target.schema is None else (cname if target.schema.column(cname) else cname.lower()))
                    nodes.setdefault(tn, target.schema.column(tn[1]) if target.schema else None)
                    uf.union(n, tn)
                    seeds.add(tn)
                else:
                    uf.find(n)
            elif n in nodes:
                self.optout[n] = "explicit keep rule" if cr.mutation == "keep" else f"explicit rule {cr.mutation}"
        # group
        bounds: dict = {}
        comps: dict = {}
        for n in nodes:
            comps.setdefault(uf.find(n), []).append(n)
        node_spec = {}
        not_remapped = {}
        for root, members in comps.items():
            if not any(m in seeds for m in members):
                continue
            blocked = [m for m in members if m in self.optout]
            if blocked:
                for m in members:
                    not_remapped[m] = self.optout.get(m) or f"joined by a foreign key to {_qual(blocked[0][0])}.{blocked[0][1]} ({self.optout[blocked[0]]})"
                continue
            strategies = set()
            his = []
            for m in members:
                col = nodes.get(m)
                if col is None:
                    continue
                st = _strategy_for(col)
                if st is None:
                    strategies.add(None)
                    continue
                strategies.add(st)
                if st == "randomInteger":
                    his.append(_int_hi(col))
            # members whose table is not known yet (a MySQL dump on a pipe): assume same type with a sequence
            for m in members:
                if nodes.get(m) is None:
                    for other in members:
                        oc = nodes.get(other)
                        if oc is not None and _strategy_for(oc) == "randomInteger":
                            his.append(_int_hi(oc, assume_sequence=True))
                            break
            if None in strategies or len(strategies) != 1:
                for m in members:
                    not_remapped[m] = f"key columns of different kinds joined ({', '.join(sorted(str(s) for s in strategies))})"
                continue
            st = strategies.pop()
            if st == "randomInteger":
                if self.range:
                    lo, hi = self.range
                else:
                    lo, hi = 0, min(h for h in his if h is not None)
                spec = (st, lo, hi)
                known = [b for b in (self._known_max(eng, m, nodes.get(m)) for m in members) if b is not None]
                if known:
                    bounds[(lo, hi)] = max([bounds.get((lo, hi), 0)] + known)
            else:
                spec = (st, None, None)
            for m in members:
                node_spec[m] = spec
        # split (lower half onto upper half, so no remapped id equals an original one) where the
        # dump tells the largest ids (setval, AUTO_INCREMENT) and every one of that range fits the lower half; the same decision for the whole range
        # keeps "same value, same output" across columns of the same type
        for m, spec in list(node_spec.items()):
            if spec[0] == "randomInteger":
                lo, hi = spec[1], spec[2]
                mid = lo + (hi - lo + 1) // 2 - 1
                b = bounds.get((lo, hi))
                node_spec[m] = (*spec, not self.range and b is not None and b <= mid)
        self.node_spec = node_spec
        self.not_remapped = not_remapped
        # plans built before this (a CREATE TABLE's early rule check on a pipe) may predate the keys
        # learnt now: rebuild them, except for tables whose data is written (checked just below)
        for ts in eng.tables.values():
            if ts.key not in self.used:
                ts.plans.clear()
        # columns of a table whose data is already written must not change (a pipe without --schema)
        for tkey, used in self.used.items():
            now = {n: s for n, s in node_spec.items() if n[0] == tkey}
            if now != used:
                changed = sorted(set(now) ^ set(used) | {n for n in now if n in used and now[n] != used[n]})
                cols = ", ".join(f"{_qual(n[0])}.{n[1]}" for n in changed)
                raise MaskingError(
                    f"a key constraint on {cols} appears after that table's data was already written "
                    f"{'unmasked' if not used else 'with another key range'}: give the dump as a file (dumpmask reads the "
                    "schema first) or pass --schema FILE with a schema-only dump (pg_dump --schema-only, mariadb-dump --no-data)")

    @staticmethod
    def _known_max(eng, node, col):
        """The largest id a column can hold according to the dump: its sequence's setval or its
        table's AUTO_INCREMENT (known before the data only for MySQL or after a pre-pass)."""
        if col is None:
            return None
        if col.auto_increment:
            ts = eng.tables.get(node[0])
            if ts is not None and ts.schema is not None and ts.schema.auto_increment_next:
                return ts.schema.auto_increment_next - 1
        if col.has_default_sequence:
            name = col.has_default_sequence.split(".")[-1].strip('"')
            return eng.sequence_values.get(name)
        return None

    # ---------------------------------------------------------------- engine hooks
    def wants_table(self, eng, ts) -> bool:
        self.last_data_table = ts
        if ts.key not in self.used:
            self.used[ts.key] = {n: s for n, s in self.node_spec.items() if n[0] == ts.key}
        return any(n[0] == ts.key for n in self.node_spec)

    def remapper(self, eng, spec) -> Remapper:
        r = self.remappers.get(spec)
        if r is None:
            st, lo, hi = spec[:3]
            split = bool(spec[3]) if len(spec) > 3 else False
            dom = {"randomInteger": f"int[{lo},{hi}]{'/split' if split else ''}", "uuid": "uuid", "text": "text"}[st]
            r = self.remappers[spec] = Remapper(eng, st, lo, hi, dom, split=split)
        return r

    def extend_plan(self, eng, ts, columns, plan):
        have = {p.index for p in plan}
        out = list(plan)
        q = _qual(ts.key)
        for i, c in enumerate(columns):
            node = (ts.key, c)
            spec = self.node_spec.get(node)
            if spec is None:
                continue
            if i in have:
                # an explicit `key` rule: replace its placeholder plan
                out = [p for p in out if p.index != i or p.stats.mutation != "key"]
                if any(p.index == i for p in out):
                    continue
            col = ts.schema.column(c) if ts.schema else None
            col = col or Column(name=c, kind="int" if spec[0] == "randomInteger" else "text")
            r = self.remapper(eng, spec)
            tstats = eng.audit.table(q)
            stats = ColumnStats("key", CATEGORY, {"strategy": spec[0], "domain": r.domain})
            tstats.columns[c] = stats
            vfn = r.for_column(col, f"{q}.{c}")
            fn = eng.adapter.make_field_fn(vfn, col, stats)
            from dumpmask.engine import ColumnPlan

            out.append(ColumnPlan(i, c, fn, stats, r, vfn))
            eng.audit.data["remapped"][f"{q}.{c}"] = {"strategy": spec[0], "domain": r.domain,
                                                        "range": [spec[1], spec[2]] if spec[0] == "randomInteger" else None,
                                                        "collision_bound": 0.0, "values": 0}
            self._stats_refs = getattr(self, "_stats_refs", [])
            self._stats_refs.append((f"{q}.{c}", stats))
        return out

    def rewrite_statement(self, eng, st):
        if st.kind == "alter_table" and not eng.schema_complete:
            self.compute(eng)
            return None
        if st.kind == "create_table" and not eng.schema_complete:
            self.compute(eng)
            return None
        if eng.adapter.name == "mysql" and st.kind == "other" and _UNLOCK.match(st.raw):
            return self._auto_increment_after(eng, st)
        if st.kind != "setval":
            return None
        from dumpmask.dialects.postgres import parse_qualname, parse_setval

        p = parse_setval(st.raw)
        if p is None:
            return None
        (sschema, sname), _val, m = p
        best = None
        cols = []
        for ts in eng.tables.values():
            if ts.schema is None:
                continue
            for c in ts.schema.columns:
                if not c.has_default_sequence:
                    continue
                qs, qn = parse_qualname(c.has_default_sequence.encode())
                if qn != sname or (qs and sschema and qs != sschema):
                    continue
                found = self._integer_max(ts, c)
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
        eng.audit.data["sequences"].append({"sequence": f"{sschema + '.' if sschema else ''}{sname}", "columns": cols,
                                            "original": _val, "value": best})
        return new

    def _integer_max(self, ts, c):
        """(table.column, the largest remapped value written in it or None) for a column remapped
        by the integer permutation; None for any other column."""
        spec = self.node_spec.get((ts.key, c.name))
        if spec is None or spec[0] != "randomInteger":
            return None
        r = self.remappers.get(spec)
        where = f"{_qual(ts.key)}.{c.name}"
        return where, (r.col_max.get(where) if r is not None else None)

    def _auto_increment_after(self, eng, st):
        """MySQL: after a table's data (at its UNLOCK TABLES), set AUTO_INCREMENT past the
        largest remapped id written (the servers would also move it past the largest id
        inserted; saying it explicitly keeps the guarantee for every engine)."""
        ts = getattr(self, "last_data_table", None)
        self.last_data_table = None
        if ts is None or ts.schema is None:
            return None
        for c in ts.schema.columns:
            if not c.auto_increment:
                continue
            found = self._integer_max(ts, c)
            if found is None or found[1] is None:
                continue
            where, nxt = found[0], found[1] + 1
            from dumpmask.dialects.mysql_lex import quote_ident

            name = (quote_ident(ts.key[0]) + "." if ts.key[0] else "") + quote_ident(ts.key[1])
            eol = b"\r\n" if st.raw.endswith(b"\r\n") else b"\n"
            eng.audit.data["sequences"].append({"sequence": f"{_qual(ts.key)} AUTO_INCREMENT", "columns": [where],
                                                "original": ts.schema.auto_increment_next, "value": nxt})
            return st.raw + f"ALTER TABLE {name} AUTO_INCREMENT={nxt};".encode() + eol
        return None

    def finish(self, eng):
        for q, stats in getattr(self, "_stats_refs", []):
            ent = eng.audit.data["remapped"].get(q)
            if ent is not None:
                ent["values"] = stats.changed
        nr = []
        for (tkey, c), why in sorted(self.not_remapped.items(), key=lambda x: repr(x[0])):
            nr.append({"column": f"{_qual(tkey)}.{c}", "reason": why})
        # columns that look like identifiers but are in no key domain
        parents = {ts.schema.partition_of for ts in eng.tables.values() if ts.schema is not None and ts.schema.partition_of}
        for ts in eng.tables.values():
            if ts.schema is None or ts.key in parents:
                continue
            for c in ts.schema.columns:
                n = (ts.key, c.name)
                if n in self.node_spec or n in self.not_remapped:
                    continue
                if _ID_NAME.search(c.name) and c.kind in ("int", "uuid", "text"):
                    nr.append({"column": f"{_qual(ts.key)}.{c.name}",
                               "reason": "looks like an identifier but no key constraint declares it: add a rule "
                                         "{\"mutation\": \"key\", \"options\": {\"domain\": \"table.column\"}} to remap it"})
        eng.audit.data["not_remapped"] = nr
