"""Partial transfer (minimum necessary): keep the first or last N rows of each table, and cut
every child row whose parent row was cut, transitively, so the result restores with every
foreign key validated.

How: with a regular INPUT file, a first pass reads each table's candidate rows (the first N,
or the last N through a ring buffer: memory bounded by N rows per table, only their key
columns) and settles which survive referential integrity (a fixed point over the foreign
keys); the writing pass then keeps rows by their position in the table. A partitioned table
counts as one table: its partitions share the N rows. On a pipe the kept parent keys cannot
be known before children are written, so the run fails unless referentialIntegrity is false;
then --last N of a partitioned table holds its partitions' COPY blocks back (_LastAcross: one
ring of N rows for all of them) and the engine writes them when their data is over.
With --max-memory the first pass's rows (closure.Marks, and the --last rings) count against
the budget's "keys" share: past it the run stops (exit 1) naming the table.
"""
from __future__ import annotations

import collections
import sys

from dumpmask.errors import MaskingError
from dumpmask.features import closure
from dumpmask.features.base import Stage
from dumpmask.idents import display_name


_qual = display_name   # (schema.name for messages and the audit)
RING_COST = 200        # bytes, about, of one row in a --last ring beyond its fields (tests/test_memory.py)


class Subset(Stage):
    memory_structures = ("keys",)     # --max-memory (memory.Budget.for_structures)
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
        self._conditions: dict = {}         # (table key, columns) -> transfer.where compiled
        self.tallies: dict = {}             # table key -> Counter(selected=, parents=) of the rows written
        self.whole: set = set()
        self.logical: dict = {}             # table key -> its logical table (a partition's partitioned table)
        self.partitions: dict = {}          # lk -> _LastAcross (--last on a pipe, a partitioned table)
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
        """The rows each logical table keeps (by ordinal): the first / last N rows (the cut),
        then, with referential integrity, every row they reference, transitively (closure.Marks:
        one more pass over the file per step of a chain that goes back in the dump), then, where
        a referenced row is not in the dump at all, the rows that need it are cut (a fixed point).
        Memory: the ordinals and key-column values of the kept rows (and of every row of a table
        kept whole that references a cut table), and the last N rows' key columns per table."""
        graph = closure.Graph(engine)
        removed = getattr(engine, "rows_removed", None) or {}   # rows a stage before this one removes (subjects.py)
        marks = closure.Marks(graph, up=self.ri, down=False, excluded=removed, what="partial transfer")
        modes: dict = {}
        for key in list(engine.data_tables) + list(engine.tables):
            state = engine.table_state(key)
            lk = graph.root(state).key
            if lk not in modes:
                modes[lk] = self.mode_for(engine, state)
        whole = {lk for lk, mode in modes.items() if mode.get("mode", "full") == "full"}
        # a whole table's rows are marked when a parent of it is cut: they need their parents too
        marked_whole = {lk for lk in whole if self.ri and any(p not in whole for _c, p, _pc in graph.up.get(lk, ()))}
        counted: dict = collections.Counter()   # lk -> rows the cut has taken (removed rows do not count)
        rings: dict = {}                         # lk -> the last N (ordinal, names, raw fields, decode)
        ring_bytes = [0]                         # what the rings hold, counted (--max-memory)
        selected = collections.defaultdict(set)  # lk -> ordinals chosen by the cut

        def first_pass(lk, tkey, columns, n0, nrows, raw_fields, decode, names):
            mode = modes.get(lk) or modes.setdefault(lk, self.mode_for(engine, engine.table_state(tkey)))
            m = mode.get("mode", "full")
            gone = removed.get(lk, ())
            if m == "last":
                ring = rings.get(lk)
                if ring is None:
                    ring = rings[lk] = collections.deque(maxlen=mode["rows"])
                if mode["rows"]:
                    for r in range(0 if gone else max(0, nrows - mode["rows"]), nrows):
                        if n0 + r not in gone:
                            raws = raw_fields(r)
                            if marks.cap is not None and len(ring) < mode["rows"]:   # (--max-memory: the ring counts)
                                cost = RING_COST + sum(sys.getsizeof(f) for f in raws if f is not None)
                                ring_bytes[0] += cost
                                marks.held += 1
                                marks.charge(lk, cost)
                            ring.append((n0 + r, names, raws, decode))
                return
            if m == "full" and lk not in marked_whole:
                return
            if m == "where":
                cond = self.condition(engine, engine.table_state(tkey), columns)
                for r in range(nrows):
                    if n0 + r in gone:
                        continue
                    values = {c: (None if f is None else decode(f)) for c, f in zip(names, raw_fields(r), strict=False)}
                    if cond(values):
                        selected[lk].add(n0 + r)
                        marks.mark(lk, n0 + r, values, closure.UP)
                return
            for r in range(nrows):
                if m == "first" and counted[lk] >= mode["rows"]:
                    return
                if n0 + r in gone:
                    continue
                counted[lk] += 1
                if m == "first":
                    selected[lk].add(n0 + r)
                marks.mark(lk, n0 + r, {c: (None if f is None else decode(f)) for c, f in zip(names, raw_fields(r))},
                           closure.UP)

        def after_first():
            for lk, ring in rings.items():
                for o, names, raws, decode in ring:
                    selected[lk].add(o)
                    marks.mark(lk, o, {c: (None if f is None else decode(f)) for c, f in zip(names, raws)}, closure.UP)
            rings.clear()
            marks.used -= ring_bytes[0]   # (the marks just made hold what the rings held)
            marks.held = 0
            marks.whole = frozenset(whole)

        def columns_of(tkey, columns):
            state = engine.table_state(tkey)
            if self.mode_for(engine, state).get("mode") != "where":
                return ()
            return self.condition(engine, state, columns).columns

        marks.whole = frozenset(whole)
        marks.run(engine, engine.input_path, first_pass=first_pass, after_first=after_first, columns_of=columns_of)
        self.passes = marks.passes
        kept = {lk: dict(marks.rows.get(lk, {})) for lk in marks.totals}
        self.orphans = closure.cut_orphans(graph, kept, marks.totals, whole) if self.ri else {}
        self.parents = closure.parents_added(       # why: the foreign keys that reached them (audit, PDF)
            graph, kept, lambda lk, o, _r: lk not in whole and o not in selected.get(lk, ()) and o not in removed.get(lk, ()))
        self.whole = whole
        self.kept = {lk: set(rows) for lk, rows in kept.items() if lk not in whole}
        self.dropped = {lk: set(marks.rows.get(lk, {})) - set(kept[lk]) for lk in whole if lk in kept}
        self.selected = selected
        for lk, gone in removed.items():   # rows removed before: not kept, whatever else asked for them
            if lk in whole:
                self.dropped[lk] = self.dropped.get(lk, set()) | set(gone)
            elif lk in self.kept:
                self.kept[lk] -= set(gone)

    def condition(self, engine, state, columns):
        """The compiled `transfer.where` of a table's rule, for its data columns."""
        key = (state.key, tuple(columns))
        got = self._conditions.get(key)
        if got is None:
            from dumpmask.conditions import compile_condition

            mode, where = self.mode_for(engine, state), None
            for tr in engine.table_rules(state) + (engine.table_rules(self.root(engine, state)) if self.root(engine, state) is not state else []):
                if tr.transfer is mode:
                    where = f"{tr.where}.transfer.where"
                    break
            got = self._conditions[key] = compile_condition(mode["where"], state.schema, engine.dialect.name,
                                                            where or "$.transfer.where", engine.rules.path,
                                                            columns=list(columns))
        return got

    # ---------------------------------------------------------------- writing pass
    def wants_table(self, engine, state) -> bool:
        return True

    def row_filter(self, engine, state, columns, line, sql=False):
        root = self.root(engine, state)
        lk = root.key
        stats = engine.audit.table(_qual(state.key))
        mode = self.mode_for(engine, state)
        m = mode.get("mode", "full")
        stats.transfer = m if m in ("full", "where") else f"{m} {mode['rows']}"
        counters = self.counters
        self.logical[state.key] = lk
        if self.kept is not None:
            if lk in self.whole:
                gone = self.dropped.get(lk)
                return closure.PositionFilter(counters, lk, gone, complement=True) if gone else None
            kept = self.kept.get(lk, set())
            selected = self.selected.get(lk, set())
            tally = self.tallies.setdefault(state.key, collections.Counter())

            def count(o):
                tally["selected" if o in selected else "parents"] += 1
            return closure.PositionFilter(counters, lk, kept, tally=count)
        # a pipe without referential integrity
        if m == "where":
            cond = self.condition(engine, state, columns)
            idx = [(i, c) for i, c in enumerate(columns) if c in cond.columns]
            decode = engine.dialect.decode_sql_field if sql else engine.dialect.decode_copy_field

            def matching(fields):
                return fields if cond({c: (None if fields[i] is None else decode(fields[i])) for i, c in idx}) else None
            return matching
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
            meter = _RingMeter(engine, lk) if engine.memory else None   # --max-memory: the held rows count
            if root is state:
                return _LastFilter(mode["rows"], meter)
            # a partition: the last N rows of the partitioned table, across its partitions' blocks
            holder = self.partitions.get(lk)
            if holder is None:
                holder = self.partitions[lk] = _LastAcross(mode["rows"], meter)
            elif holder.released:
                raise MaskingError(f"{engine.source}:{line}: --last on a pipe: the data of partition {_qual(state.key)} "
                                   f"of {_qual(lk)} is apart from its other partitions' data (other statements come "
                                   "between), so the last rows of the partitioned table cannot be picked in one pass: "
                                   "give INPUT as a regular file")
            return holder.filter()
        return None

    # ---------------------------------------------------------------- the audit
    def finish_audit(self, engine) -> None:
        """Per table: rows_selected (by the cut) and rows_added_as_parents (kept because a kept
        row references them); rows_orphaned (cut: a row they need is not in the dump); and the
        tables that had rows and were left with none (a warning too, once the run is over).
        `parents_added`: per table, the foreign keys through which kept rows reached the rows
        added (closure.parents_added)."""
        if getattr(self, "kept", None) is None:
            return   # (also: a run that failed before this stage started)
        for key, tally in self.tallies.items():
            stats = engine.audit.table(_qual(key))
            stats.selection["rows_selected"] = tally["selected"]
            stats.selection["rows_added_as_parents"] = tally["parents"]
        for key, n in self.orphans.items():
            engine.audit.table(_qual(key)).selection["rows_orphaned"] = n
        engine.audit.data["parents_added"] = closure.parents_record(getattr(self, "parents", {}))

    def finish(self, engine) -> None:
        if self.kept is None:
            return
        read, written, zero = collections.Counter(), collections.Counter(), set()
        for key, lk in self.logical.items():
            stats = engine.audit.table(_qual(key))
            read[lk] += stats.rows_read
            written[lk] += stats.rows_written
            if stats.transfer.endswith(" 0"):
                zero.add(lk)   # (asked for no rows)
        empty = [_qual(lk) for lk in read if read[lk] and not written[lk] and lk not in zero]
        engine.audit.data["options"]["transfer"]["passes"] = self.passes
        engine.audit.data["transfer_empty_tables"] = empty
        for name in empty:
            engine.warn(f"partial transfer: table {name} had rows and has none in the output "
                        "(every row it kept needed a row the dump does not hold, or it was removed)")


class _RingMeter:
    """--max-memory on a pipe: the rows a --last ring holds (whole rows, until it is full)
    counted against the budget's "keys" share; past it the run stops naming the table."""

    def __init__(self, engine, lk):
        self.engine, self.lk = engine, lk
        self.cap = engine.memory.share("keys")
        self.used = 0
        self.rows = 0

    def add(self, fields) -> None:
        self.used += RING_COST + sum(sys.getsizeof(f) for f in fields if f is not None)
        self.rows += 1
        if self.used > self.cap:
            self.engine.memory.fail("keys", self.used, f"{self.engine.source}: partial transfer: table {_qual(self.lk)}",
                                    f"--last holds {self.rows:,} whole rows so far on a pipe", at_least=True)


class _LastFilter:
    """Holds back the last N rows of one COPY block (a ring buffer) and releases them at its end."""

    def __init__(self, n: int, meter: _RingMeter | None = None):
        self.buf = collections.deque(maxlen=n) if n else None
        self.meter = meter

    def __call__(self, fields):
        buf = self.buf
        if buf is not None:
            if self.meter is not None and len(buf) < buf.maxlen:
                self.meter.add(fields)
            buf.append(fields)
        return None

    def flush(self):
        return list(self.buf or ())


class _HeldBlock:
    __slots__ = ("header", "end", "planned", "first_line", "tstats")

    def __init__(self, header, end, planned, first_line, tstats):
        self.header, self.end, self.planned, self.first_line, self.tstats = header, end, planned, first_line, tstats


class _LastAcross:
    """--last N of a partitioned table on a pipe: one ring buffer of N rows for all its
    partitions' COPY blocks (as from a file, the partitions share the N rows). The blocks are
    not written in place: the engine hands each to hold_block() and, when the first statement
    after them comes (or the input ends: the data of the table is over), writes them in their
    order with the rows of each that the ring kept (release(); Engine.release_held). A
    partition's block after that is refused (its rows could no longer be picked)."""

    def __init__(self, n: int, meter: _RingMeter | None = None):
        self.ring = collections.deque(maxlen=n) if n else None
        self.blocks: list = []
        self.released = False
        self.meter = meter

    def filter(self):
        return _LastAcrossFilter(self, len(self.blocks))

    def hold_block(self, header, end, planned, first_line, tstats) -> None:
        self.blocks.append(_HeldBlock(header, end, planned, first_line, tstats))

    def release(self):
        """[(block, [(row ordinal in its block, fields)])] in the blocks' order."""
        self.released = True
        mine: dict = collections.defaultdict(list)
        for b, r, fields in self.ring or ():
            mine[b].append((r, fields))
        out = [(block, mine.get(i, [])) for i, block in enumerate(self.blocks)]
        self.blocks, self.ring = [], None
        return out


class _LastAcrossFilter:
    """One partition block's filter of a _LastAcross: every row goes to the shared ring."""

    def __init__(self, holder: _LastAcross, block: int):
        self.across = holder
        self.block = block
        self.n = 0

    def __call__(self, fields):
        ring = self.across.ring
        if ring is not None:
            if self.across.meter is not None and len(ring) < ring.maxlen:
                self.across.meter.add(fields)
            ring.append((self.block, self.n, fields))
        self.n += 1
        return None
