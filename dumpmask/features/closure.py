"""Rows that follow the foreign keys: the passes over an INPUT file that partial transfer
(features/subset.py) and subject erasure / extraction (features/subjects.py) share.

A *logical table* is a table with its partitions (pg_dump writes a partitioned table's data
per partition; its rows are numbered in the order the dump gives them, across partitions).
A row is known by its ordinal in its logical table; the writing pass keeps or drops rows by
that ordinal, so the passes here and the writing pass must count the same rows (they read
the same file through Engine.key_blocks).

Marks: a row is marked UP (it is kept; every parent row it references must be kept too) or
DOWN (also: every row that references it follows it; a subject and its descendants). A mark
asks for rows of another table: a *need* (table, columns, values) -> every row of that table
whose columns hold those values gets the need's mark. A need on a table whose data has not
yet started in the current pass is looked for in this pass; else in the next one. The
passes end when no need is pending; a need looked for during a pass that read all of its
table's data and not found is a row the dump does not hold (a dangling reference).

Memory: only marked rows are held, each as its ordinal and the decoded values of its key
columns (the columns of foreign keys and the columns they reference), plus one entry per
distinct value asked for; never whole rows, never unmarked rows. With --max-memory they are
counted (an estimate of their Python objects, calibrated in tests/test_memory.py) against the
budget's "keys" share; past it the run stops (memory.MemoryCeiling, exit 1) naming the table
whose rows were being marked and the figure to give, before the structures pass the ceiling.
"""
from __future__ import annotations

import bisect
import collections
import sys

from dumpmask.idents import display_name

# bytes, about, that marks hold beyond the values' own objects (tests/test_memory.py measures them)
MARK_COST = 520     # a marked row: its ordinal in rows[lk], [kind, values], the values dict; its
                    # entries in have[]; the sets built from it after the passes (kept, PositionFilter)
NEED_COST = 300     # a value asked for: its tuple, its entries in asked[] and looking[] / pending[]

UP = 1      # kept, with the parents it references
DOWN = 2    # kept or removed with every row that references it (and, kept, its parents)

_qual = display_name


class Graph:
    """The foreign keys of the dump between logical tables."""

    def __init__(self, engine):
        self.engine = engine
        self.up = collections.defaultdict(list)     # child lk -> [(child cols, parent lk, parent cols)]
        self.down = collections.defaultdict(list)   # parent lk -> [(parent cols, child lk, child cols)]
        self.columns = collections.defaultdict(set)  # lk -> the columns whose values a mark holds
        for state in list(engine.tables.values()):
            if state.schema is None:
                continue
            lk = self.root(state).key
            for fk in state.schema.foreign_keys:
                parent = self.root(engine.resolve_ref(fk.ref_table, state.key))
                ref_columns = tuple(fk.ref_columns_of(parent.schema, f"table {_qual(state.key)}"))
                rel = (tuple(fk.columns), parent.key, ref_columns)
                if rel not in self.up[lk]:
                    self.up[lk].append(rel)
                    self.down[parent.key].append((ref_columns, lk, tuple(fk.columns)))
                self.columns[lk].update(fk.columns)
                self.columns[parent.key].update(ref_columns)

    def root(self, state):
        """The partitioned table a partition belongs to (itself when it is none)."""
        engine = self.engine
        seen = set()
        while state.schema is not None and state.schema.partition_of and state.key not in seen:
            seen.add(state.key)
            state = engine.table_state(state.schema.partition_of)
        return state

    def lk(self, table_key):
        return self.root(self.engine.table_state(table_key)).key


class Marks:
    """The marked rows of every logical table and the needs still to look for."""

    def __init__(self, graph: Graph, *, up: bool, down: bool, excluded: dict | None = None,
                 what: str = "the rows that follow the foreign keys"):
        self.graph = graph
        self.follow_up, self.follow_down = up, down
        self.rows: dict = collections.defaultdict(dict)      # lk -> {ordinal: [kind, {col: value}]}
        self.have: dict = collections.defaultdict(dict)      # (lk, cols) -> {values: kind} of marked rows
        self.asked: dict = collections.defaultdict(dict)     # (lk, cols) -> {values: kind} ever asked for
        self.looking: dict = collections.defaultdict(lambda: collections.defaultdict(dict))   # lk -> cols -> {values: kind}
        self.pending: dict = collections.defaultdict(lambda: collections.defaultdict(dict))
        self.started: set = set()        # logical tables whose data the current pass has begun
        self.data: set | None = None     # logical tables with data in the dump (after the first pass)
        self.excluded = excluded or {}   # lk -> ordinals no mark may take (rows removed before)
        self.passes = 0
        self.dangling: dict = collections.Counter()   # lk -> parent rows asked for and not in the dump
        self._index: dict = {}
        budget = getattr(graph.engine, "memory", None)
        self.budget = budget
        self.cap = budget.share("keys") if budget is not None else None   # --max-memory: bytes (None: no limit)
        self.used = 0
        self.held = 0      # rows held by a caller beside the marks, counted with charge() (subset's rings)
        self.what = what

    def charge(self, lk, nbytes: int) -> None:
        """Count `nbytes` more held for logical table lk; past the budget's share: stop the run."""
        self.used += nbytes
        if self.used > self.cap:
            marked = sum(len(r) for r in self.rows.values()) + self.held
            self.budget.fail("keys", self.used, f"{self.what}: table {_qual(lk)}",
                             f"{marked:,} rows held so far", at_least=True)

    def mark(self, lk, ordinal: int, values: dict, kind: int) -> None:
        row = self.rows[lk].get(ordinal)
        if row is not None and row[0] >= kind:
            return
        if row is None:
            self.rows[lk][ordinal] = row = [kind, values]
            if self.cap is not None:
                self.charge(lk, MARK_COST + sum(sys.getsizeof(v) for v in values.values() if v is not None))
        else:
            row[0] = kind
        g = self.graph
        if self.follow_up:
            for ccols, plk, pcols in g.up.get(lk, ()):
                val = tuple(values.get(c) for c in ccols)
                if None not in val:
                    self.need(plk, pcols, val, UP)
        if kind == DOWN and self.follow_down:
            for pcols, clk, ccols in g.down.get(lk, ()):
                val = tuple(values.get(c) for c in pcols)
                if None not in val:
                    self.need(clk, ccols, val, DOWN)
        for cols in self.index_cols(lk):
            val = tuple(values.get(c) for c in cols)
            h = self.have[(lk, cols)]
            if kind > h.get(val, 0):
                h[val] = kind

    def index_cols(self, lk) -> set:
        """The column tuples of lk by which needs find rows that are already marked: those
        foreign keys reference, and a subject's key."""
        got = self._index.get(lk)
        if got is None:
            got = self._index[lk] = {p for p, _clk, _cc in self.graph.down.get(lk, ())}
        return got

    whole: frozenset = frozenset()   # logical tables kept whole: nothing to look for in them

    def need(self, lk, cols: tuple, val: tuple, kind: int) -> None:
        if (self.data is not None and lk not in self.data) or (kind == UP and lk in self.whole):
            return   # the table's data is not in this dump, or all of it is kept: nothing to look for
        asked = self.asked[(lk, cols)]
        if asked.get(val, 0) >= kind:
            return
        if kind == UP and self.have[(lk, cols)].get(val, 0) >= UP:
            return   # a marked row already holds it
        if self.cap is not None and val not in asked:
            self.charge(lk, NEED_COST + sum(sys.getsizeof(v) for v in val))
        asked[val] = kind
        target = self.pending if lk in self.started else self.looking
        d = target[lk][cols]
        if d.get(val, 0) < kind:
            d[val] = kind

    def seed(self, lk, cols: tuple, val: tuple, kind: int) -> None:
        """A need before any pass (a subject's key)."""
        self.asked[(lk, cols)][val] = kind
        self.looking[lk][cols][val] = kind
        self.index_cols(lk).add(cols)

    # ------------------------------------------------------------------ the passes
    def run(self, engine, path: str, *, first_pass=None, after_first=None, columns_of=None) -> None:
        """Read `path` until no need is pending. first_pass(lk, tkey, columns, n0, nrows, raw,
        decode, names) is called for every piece of the first pass (before its needs are
        looked for); after_first() once that pass is over. columns_of(table key, columns) -> more
        columns whose values the passes read (a row condition's)."""
        g = self.graph
        extra = columns_of or (lambda tkey, columns: ())
        idx_cache: dict = {}

        def needed_of(tkey, columns):
            key = (tkey, tuple(columns))
            got = idx_cache.get(key)
            if got is None:
                lk = g.lk(tkey)
                want = g.columns.get(lk, set()) | set(extra(tkey, columns))
                got = idx_cache[key] = [i for i, c in enumerate(columns) if c in want]
            return got

        first = True
        totals: dict = collections.Counter()

        def skip(tkey) -> bool:
            """A later pass reads only the tables something is looked for in (a table passed
            over counts as begun: what is asked of it afterwards waits for the next pass)."""
            lk = g.lk(tkey)
            if lk in skipped:
                return True    # (all of a table's statements, or none: its rows are counted from its first)
            if lk in self.started:
                return False
            looking = self.looking.get(lk)
            if looking and any(looking.values()):
                return False
            self.started.add(lk)
            skipped.add(lk)
            return True

        while True:
            self.passes += 1
            self.started = set()
            skipped: set = set()
            offsets: dict = collections.Counter()
            for tkey, columns, nrows, raw_fields, decode in engine.key_blocks(path, needed_of, None if first else skip):
                if not nrows:
                    continue
                lk = g.lk(tkey)
                self.started.add(lk)
                n0 = offsets[lk]
                offsets[lk] = n0 + nrows
                names = [columns[i] for i in needed_of(tkey, columns)]
                if first:
                    totals[lk] += nrows
                    if first_pass is not None:
                        first_pass(lk, tkey, columns, n0, nrows, raw_fields, decode, names)
                looking = self.looking.get(lk)
                if looking:
                    self._look(lk, looking, n0, nrows, raw_fields, decode, names)
            if first:
                self.data = set(totals)
                self.totals = totals
                first = False
                if after_first is not None:
                    after_first()
            # what was looked for in this pass and not found is not in the dump
            for lk, by_cols in self.looking.items():
                if lk not in self.data:
                    continue
                for cols, vals in by_cols.items():
                    have = self.have[(lk, cols)]
                    self.dangling[lk] += sum(1 for v, k in vals.items() if k == UP and v not in have)
            self.looking = self.pending
            self.pending = collections.defaultdict(lambda: collections.defaultdict(dict))
            if not any(any(v for v in by.values()) for lk, by in self.looking.items() if lk in self.data):
                break

    def _look(self, lk, looking, n0, nrows, raw_fields, decode, names) -> None:
        """Mark the rows of a piece that a need asks for. A one-column need compares a field of
        ASCII digits as it is (such a field decodes to itself in both dialects: a number
        literal, a COPY field), others decoded."""
        excluded = self.excluded.get(lk, ())
        wanted = []
        for cols, vals in looking.items():
            if vals:
                pos = [names.index(c) for c in cols]
                digits = {v[0].encode(): k for v, k in vals.items()
                          if len(v) == 1 and v[0] is not None and v[0].isascii() and v[0].isdigit()}
                wanted.append((pos, vals, digits if len(pos) == 1 else None))
        if not wanted:
            return
        column = getattr(raw_fields, "column", None)
        if column is not None and all(d is not None for _p, _v, d in wanted):
            # one-column needs only: each wanted column read once, the rows that match marked in
            # the order of the row loop below (row by row, needs in order): the same marks
            hits = []
            for w, (pos, vals, digits) in enumerate(wanted):
                for r, f in enumerate(column(pos[0])):
                    if f is None:
                        continue
                    kind = digits.get(f) if f.isdigit() else vals.get((decode(f),))
                    if kind:
                        hits.append((r, w, kind))
            hits.sort()
            values_of: dict = {}
            for r, _w, kind in hits:
                o = n0 + r
                if o in excluded:
                    continue
                values = values_of.get(r)
                if values is None:
                    values = values_of[r] = {c: (None if f is None else decode(f))
                                             for c, f in zip(names, raw_fields(r), strict=False)}
                self.mark(lk, o, values, kind)
            return
        for r in range(nrows):
            o = n0 + r
            if o in excluded:
                continue
            raws = raw_fields(r)
            values = None
            for pos, vals, digits in wanted:
                if digits is not None:
                    f = raws[pos[0]]
                    if f is None:
                        continue
                    kind = digits.get(f) if f.isdigit() else vals.get((decode(f),))
                else:
                    kind = vals.get(tuple(None if raws[p] is None else decode(raws[p]) for p in pos))
                if kind:
                    if values is None:
                        values = {c: (None if f is None else decode(f)) for c, f in zip(names, raws, strict=False)}
                    self.mark(lk, o, values, kind)


class PositionFilter:
    """The writing pass's row filter of one data statement: a row is kept by its ordinal in
    its logical table (`counters[lk]` counts the rows seen so far, shared by the table's
    statements and partitions). `ordinals`: the rows kept, or with complement=True the rows
    dropped. `tally(ordinal)` is called for every kept row (the audit's counts), or None."""

    def __init__(self, counters: dict, lk, ordinals: set, complement: bool = False, tally=None):
        self.counters, self.lk, self.ordinals, self.complement, self.tally = counters, lk, ordinals, complement, tally
        self.ordered = sorted(ordinals)

    def __call__(self, fields):
        counters, lk = self.counters, self.lk
        n = counters.get(lk, 0)
        counters[lk] = n + 1
        if (n in self.ordinals) != self.complement:
            if self.tally is not None:
                self.tally(n)
            return fields
        return None

    def take(self, nrows: int) -> list:
        """The filter over the next nrows rows at once, without their fields: the offsets kept."""
        counters, lk = self.counters, self.lk
        n = counters.get(lk, 0)
        counters[lk] = n + nrows
        lo, hi = bisect.bisect_left(self.ordered, n), bisect.bisect_left(self.ordered, n + nrows)
        if self.complement:
            gone = {o - n for o in self.ordered[lo:hi]}
            got = [k for k in range(nrows) if k not in gone]
        else:
            got = [o - n for o in self.ordered[lo:hi]]
        if self.tally is not None:
            for k in got:
                self.tally(n + k)
        return got


def cut_orphans(graph: Graph, kept: dict, totals, whole) -> collections.Counter:
    """Rows that reference a row the dump does not hold (the parent table's data is in the
    dump, the value is not: a dangling reference, a NOT VALID constraint) are cut from `kept`
    (lk -> {ordinal: [kind, values]}), and the rows that need them, until nothing changes. A
    table in `whole` is not looked into: all of it is kept. Returns lk -> rows cut."""
    cut: collections.Counter = collections.Counter()
    changed = True
    while changed:
        changed = False
        keysets: dict = {}
        for lk, rels in graph.up.items():
            rows = kept.get(lk)
            if not rows:
                continue
            for ccols, pl, pcols in rels:
                if pl not in totals or pl in whole:
                    continue
                ks = keysets.get((pl, pcols))
                if ks is None:
                    ks = keysets[(pl, pcols)] = {tuple(r[1].get(c) for c in pcols) for r in kept.get(pl, {}).values()}
                drop = [o for o, r in rows.items()
                        if None not in (val := tuple(r[1].get(c) for c in ccols)) and val not in ks]
                if drop:
                    changed = True
                    cut[lk] += len(drop)
                    for o in drop:
                        del rows[o]
                    keysets.clear()
    return cut


def parents_added(graph: Graph, kept: dict, added) -> dict:
    """Why rows were added as parents: for each logical table, every foreign key through which
    kept rows of a table reference its added rows, and how many of those rows each reaches
    (a row referenced through two foreign keys counts in both). kept: lk -> {ordinal: [kind,
    values]} (after cut_orphans); added(lk, ordinal, row) -> whether the row was kept only as
    a parent. Returns {lk: [(child lk, child columns, parent columns, rows)]}, rows > 0, in the
    graph's order. Computed from the kept rows' key values alone (no pass over the dump)."""
    out: dict = {}
    for clk, rels in graph.up.items():
        rows = kept.get(clk)
        if not rows:
            continue
        for ccols, plk, pcols in rels:
            parents = kept.get(plk)
            if not parents:
                continue
            wanted = {val for r in rows.values() if None not in (val := tuple(r[1].get(c) for c in ccols))}
            n = sum(1 for o, r in parents.items() if added(plk, o, r) and tuple(r[1].get(c) for c in pcols) in wanted)
            if n:
                out.setdefault(plk, []).append((clk, ccols, pcols, n))
    return out


def parents_record(reasons: dict) -> dict:
    """parents_added's result for the audit: {"schema.table": [{"referenced_by", "columns",
    "references", "rows"}]}, sorted by table."""
    return {_qual(plk): [{"referenced_by": _qual(clk), "columns": list(ccols), "references": list(pcols), "rows": n}
                         for clk, ccols, pcols, n in rels]
            for plk, rels in sorted(reasons.items(), key=lambda kv: _qual(kv[0]))}
