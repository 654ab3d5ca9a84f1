"""Partial transfer (minimum necessary): keep the first or last N rows of each table, and cut
every child row whose parent row was cut, transitively, so the result restores with every
foreign key validated.

How: with a regular INPUT file, a first pass reads each table's candidate rows (the first N,
or the last N through a ring buffer: memory bounded by N rows per table, only their key
columns) and settles which survive referential integrity (a fixed point over the foreign
keys); the writing pass then keeps rows by their position in the table. A partitioned table
counts as one table: its partitions share the N rows. On a pipe the kept parent keys cannot
be known before children are written, so the run fails unless referentialIntegrity is false.
"""
from __future__ import annotations

import bisect
import collections

from dumpmask.errors import MaskingError
from dumpmask.features.base import Stage
from dumpmask.idents import display_name


_qual = display_name   # (schema.name for messages and the audit)


class Subset(Stage):
    @staticmethod
    def wanted(engine) -> bool:
        """A transfer mode other than full, in the options or on a table rule."""
        transfer = engine.transfer or engine.rules.transfer
        return transfer.get("mode", "full") != "full" or any(t.transfer for t in engine.rules.tables)

    needs_schema = True

    def start(self, engine):
        self.default = dict(engine.transfer or engine.rules.transfer)
        if engine.transfer and "referentialIntegrity" in (engine.rules.transfer or {}):
            self.default["referentialIntegrity"] = engine.rules.transfer["referentialIntegrity"]
        self.ri = self.default.get("referentialIntegrity", True)
        self.kept: dict | None = None       # logical table key -> set of kept row ordinals
        self.counters: dict = {}
        engine.audit.data["options"]["transfer"] = {**self.default, "referentialIntegrity": self.ri}

    # ---------------------------------------------------------------- configuration
    def root(self, engine, state):
        seen = set()
        while state.schema is not None and state.schema.partition_of and state.key not in seen:
            seen.add(state.key)
            state = engine.table_state(state.schema.partition_of)
        return state

    def mode_for(self, engine, state) -> dict:
        for tr in engine.table_rules(state):
            if tr.transfer:
                return tr.transfer
        root = self.root(engine, state)
        if root is not state:
            for tr in engine.table_rules(root):
                if tr.transfer:
                    return tr.transfer
        return self.default

    def schema_ready(self, engine):
        if not engine.schema_complete or not engine.input_is_file():   # (a --schema file on a pipe: one pass)
            if self.ri:
                raise MaskingError(
                    "partial transfer keeps foreign keys valid by reading the dump twice: give INPUT as a regular "
                    "file (not a pipe), or set \"referentialIntegrity\": false in the rules' transfer options "
                    "(then the result may not restore)")
            engine.warn("partial transfer on a pipe without referential integrity: child rows whose parent rows were cut "
                     "are kept, so the result may not restore with its foreign keys")
            engine.audit.data["options"]["transfer"]["may_not_restore"] = True
            return
        self.plan_rows(engine)

    # ---------------------------------------------------------------- first pass
    def plan_rows(self, engine):
        fks = {}          # child key -> [(child cols, parent TableState, parent cols)]
        needed = collections.defaultdict(set)   # table key -> columns whose values we must remember
        # a partitioned table and its partitions are one logical table: a foreign key declared on
        # the parent or on any partition applies to the rows of all of them, on both sides
        for state in list(engine.tables.values()):
            if state.schema is None:
                continue
            lk = self.root(engine, state).key
            for fk in state.schema.foreign_keys:
                parent = self.root(engine, engine.resolve_ref(fk.ref_table, state.key))
                ref_columns = fk.ref_columns_of(parent.schema, f"table {_qual(state.key)}")
                rel = (fk.columns, parent, ref_columns)
                if rel not in fks.setdefault(lk, []):
                    fks[lk].append(rel)
                needed[lk].update(fk.columns)
                needed[parent.key].update(ref_columns)
        cand: dict = {}      # logical key -> list/deque of (ordinal, {col: value})
        totals = collections.Counter()
        modes = {}

        def needed_of(tkey, columns):
            """The positions of the columns whose values the fixed point needs."""
            keep_cols = needed.get(self.root(engine, engine.table_state(tkey)).key, ())
            return [i for i, c in enumerate(columns) if c in keep_cols]

        # candidates hold the raw fields of their key columns, decoded once the pass is over
        for tkey, columns, nrows, raw_fields, decode in engine.key_blocks(engine.input_path, needed_of):
            if not nrows:
                continue
            state = engine.table_state(tkey)
            lk = self.root(engine, state).key
            if lk not in modes:
                modes[lk] = self.mode_for(engine, state)
            mode = modes[lk]
            n0 = totals[lk]
            totals[lk] = n0 + nrows
            names = [columns[i] for i in needed_of(tkey, columns)]
            m = mode.get("mode", "full")
            if m == "first":
                rows = range(min(nrows, max(0, mode["rows"] - n0)))
                bucket = cand.setdefault(lk, []) if rows else None
            elif m == "last":
                dq = cand.get(lk)
                if dq is None:
                    dq = cand[lk] = collections.deque(maxlen=mode["rows"])
                rows = range(max(0, nrows - mode["rows"]), nrows) if mode["rows"] else range(0)
                bucket = dq
            else:
                rows = range(nrows)
                bucket = cand.setdefault(lk, [])
            for r in rows:
                bucket.append((n0 + r, lk, (names, raw_fields(r), decode)))
        for rows in cand.values():
            for k, (o, lk, (names, raws, decode)) in enumerate(rows):
                rows[k] = (o, lk, {c: (None if f is None else decode(f)) for c, f in zip(names, raws)})
        self.totals = totals
        self.modes = modes
        kept = {lk: {r[0]: r for r in rows} for lk, rows in cand.items()}
        for lk in totals:
            kept.setdefault(lk, {})
        if self.ri:
            # fixed point: drop rows whose parent row is not kept, until nothing changes
            changed = True
            while changed:
                changed = False
                keysets = {}
                for lk, rels in fks.items():
                    for ccols, parent, pcols in rels:
                        pl = parent.key
                        if pl not in totals:
                            continue  # the parent's data is not in this dump: nothing to check against
                        ks = keysets.get((pl, pcols))
                        if ks is None:
                            ks = keysets[(pl, pcols)] = {tuple(r[2].get(c) for c in pcols) for r in kept[pl].values()}
                        rows = kept.get(lk, {})
                        drop = []
                        for o, r in rows.items():
                            val = tuple(r[2].get(c) for c in ccols)
                            if any(v is None for v in val):
                                continue
                            if val not in ks:
                                drop.append(o)
                        if drop:
                            changed = True
                            for o in drop:
                                del rows[o]
                            keysets.clear()
        self.kept = {lk: set(rows) for lk, rows in kept.items()}

    # ---------------------------------------------------------------- writing pass
    def wants_table(self, engine, state) -> bool:
        return True

    def row_filter(self, engine, state, columns, line, sql=False):
        root = self.root(engine, state)
        lk = root.key
        stats = engine.audit.table(_qual(state.key))
        mode = self.mode_for(engine, state)
        m = mode.get("mode", "full")
        stats.transfer = m if m == "full" else f"{m} {mode['rows']}"
        counters = self.counters
        if self.kept is not None:
            kept = self.kept.get(lk, set())

            def keep(fields):
                n = counters.get(lk, 0)
                counters[lk] = n + 1
                return fields if n in kept else None
            ordered = sorted(kept)

            def take(nrows: int) -> list:
                """keep() over the next nrows rows at once, without their fields: the offsets kept."""
                n = counters.get(lk, 0)
                counters[lk] = n + nrows
                return [o - n for o in ordered[bisect.bisect_left(ordered, n):bisect.bisect_left(ordered, n + nrows)]]
            keep.take = take
            return keep
        # a pipe without referential integrity
        if m == "first":
            limit = mode["rows"]

            def first(fields):
                n = counters.get(lk, 0)
                counters[lk] = n + 1
                return fields if n < limit else None
            return first
        if m == "last":
            if sql:
                raise MaskingError(f"{engine.source}:{line}: --last on a pipe works for COPY data only (rows of INSERT statements "
                                   "cannot be held back across statements): give INPUT as a regular file")
            return _LastFilter(mode["rows"])
        return None


class _LastFilter:
    """Holds back the last N rows of one COPY block (a ring buffer) and releases them at its end."""

    def __init__(self, n: int):
        self.buf = collections.deque(maxlen=n) if n else None

    def __call__(self, fields):
        if self.buf is not None:
            self.buf.append(fields)
        return None

    def flush(self):
        return list(self.buf or ())
