"""k-anonymity on quasi-identifiers: after masking, every combination of a table's
quasi-identifier values must occur at least k times.

    "options": {"kAnonymity": {"quasiIdentifiers": {"patient": ["zip", "birth_year", "sex"]},
                               "k": 5, "action": "fail" | "suppress" | "report"}}

Classes are counted on the values as they are written (each quasi-identifier through its
column's mutation: a generalization, a fake, or unchanged). With a regular file a counting pass
reads the quasi-identifier columns of those tables first (engine.key_blocks: the raw fields
only), so `fail` stops the run before any output and `suppress` knows, before a row is
written, whether its class is too small: its quasi-identifiers are then written as NULL (the
work unit's row-by-row path; a NOT NULL quasi-identifier is refused at load). On a pipe the
counts are only known at the end: `report` (or --k-report-only, which turns any action into a
report) counts as rows pass and records the result; `fail` and `suppress` need a file (exit 2).

Memory: one counter entry per distinct class of each table (not per row). Without
--max-memory, past MAX_CLASSES the run stops (exit 1) rather than count less than it says.
With --max-memory each table's counts hold at most its part of the budget's "kanon" share
in memory (memory.SpillCounter): past it they are hash-partitioned into temporary files and
counted per partition at the end, with the same results.
"""
from __future__ import annotations

import heapq

from dumpmask.errors import MaskingError, RulesError
from dumpmask.features.base import Stage
from dumpmask.idents import display_name
from dumpmask.memory import SpillCounter, entry_size

MAX_CLASSES = 5_000_000


class SmallClass:
    """ColumnSpec.suppress: does a row's class (its quasi-identifiers as written) hold fewer
    than k rows? Called by the work unit with the row's decoded original values."""

    def __init__(self, columns: tuple, fns: list, small: set):
        self.columns, self.fns, self.small = columns, fns, small

    def __call__(self, values) -> bool:
        return tuple(f(values.get(c)) for f, c in zip(self.fns, self.columns, strict=True)) in self.small


class KAnonymity(Stage):
    memory_structures = ("kanon",)     # --max-memory (memory.Budget.for_structures)
    needs_schema = True

    @staticmethod
    def wanted(engine) -> bool:
        return bool(engine.rules.options.get("kAnonymity"))

    def start(self, engine) -> None:
        opts = engine.rules.options["kAnonymity"]
        self.k = opts["k"]
        self.action = "report" if getattr(engine, "k_report_only", False) else opts["action"]
        self.wanted_tables = opts["quasiIdentifiers"]   # rules table name -> [column names]
        self.qi: dict = {}          # table key -> tuple of columns, or None (not a quasi-identifier table)
        self.counts: dict = {}      # table key -> SpillCounter(class -> rows)
        self.small: dict = {}       # table key -> set of classes below k (suppress)
        self.counted_first = False
        self.record = {"k": self.k, "action": self.action, "requested_action": opts["action"], "tables": {}}
        engine.audit.data["kAnonymity"] = self.record
        if self.action != "report" and not engine.input_is_file():
            raise RulesError(f'kAnonymity action "{self.action}" needs a regular file (a counting pass before any '
                             'output); on a pipe give --k-report-only (or "action": "report") to have the achieved '
                             "k recorded in the audit", engine.rules.path, "$.options.kAnonymity.action")

    # ------------------------------------------------------------------ configuration
    def schema_ready(self, engine) -> None:
        if not engine.schema_complete:
            return     # a pipe: each table is looked up when its data comes (_qi_of)
        for name in self.wanted_tables:
            if not any(self._qi_of(engine, s) is not None and self._names(engine, s) == name
                       for s in list(engine.tables.values())):
                raise RulesError(f"no table {name} in the dump", engine.rules.path,
                                 f"$.options.kAnonymity.quasiIdentifiers[{name!r}]")
        if self.action != "report":
            self._count_first(engine)

    def _names(self, engine, state):
        """The quasiIdentifiers entry (its table name as written) that names this table, or None."""
        from dumpmask.rules import NamePattern

        if state.schema is None or not state.schema.columns:
            return None
        for name in self.wanted_tables:
            if NamePattern.parse(name).matches(state.key[0], state.key[1], engine.dialect.name):
                return name
        return None

    def _qi_of(self, engine, state):
        """The table's quasi-identifier columns (resolved once), or None when it has none."""
        if state.key not in self.qi:
            name = self._names(engine, state)
            where = f"$.options.kAnonymity.quasiIdentifiers[{name!r}]"
            self.qi[state.key] = None if name is None else tuple(
                self._column(engine, state, c, where) for c in self.wanted_tables[name])
        return self.qi[state.key]

    def _column(self, engine, state, name: str, where: str) -> str:
        from dumpmask.rules import NamePattern

        pat = NamePattern.parse(name, qualified=False)
        for c in state.schema.columns:
            if (c.name == pat.name) if pat.name_quoted and engine.dialect.name == "postgres" else \
                    engine.dialect.col_eq(pat.name, c.name):
                if self.action == "suppress" and not c.nullable:
                    raise RulesError(f"{display_name(state.key)}.{c.name} is NOT NULL: suppress writes NULL into a "
                                     'quasi-identifier of a small class; use "action": "fail" or generalize it',
                                     engine.rules.path, where)
                return c.name
        raise RulesError(f"{display_name(state.key)} has no column {name!r}", engine.rules.path, where)

    def wants_table(self, engine, state) -> bool:
        return self._qi_of(engine, state) is not None

    def _value_fns(self, engine, state, columns) -> list:
        """Each quasi-identifier's value as written: its plan's value function, or unchanged."""
        planned = engine.build_plan(state, list(columns), None)
        by_name = {p.name: p for p in planned}
        return [by_name[c].transformer if c in by_name else _same for c in self.qi[state.key]]

    # ------------------------------------------------------------------ counting
    def _count_first(self, engine) -> None:
        """The counting pass over the file: the quasi-identifier fields of each of their tables."""
        fns_of: dict = {}

        def needed_of(tkey, columns):
            if self.qi.get(tkey) is None:
                return []
            return [list(columns).index(c) for c in self.qi[tkey] if c in columns]

        for tkey, columns, nrows, fields, decode in engine.key_blocks(engine.input_path, needed_of):
            if self.qi.get(tkey) is None:
                continue
            key = (tkey, tuple(columns))
            if key not in fns_of:
                missing = [c for c in self.qi[tkey] if c not in columns]
                if missing:
                    raise RulesError(f"{display_name(tkey)}: quasi-identifier {', '.join(missing)} is not in the "
                                     "dump's data (a generated column)", engine.rules.path, "$.options.kAnonymity")
                state = engine.table_state(tkey)
                used = state.plans_used
                fns_of[key] = self._value_fns(engine, state, columns)
                state.plans_used = used
            fns = fns_of[key]
            counter = self._counter(engine, tkey)
            add = counter.add
            for r in range(nrows):
                raw = fields(r)
                add(tuple(f(decode(x)) for f, x in zip(fns, raw, strict=True)))
            if counter.cap is None and len(counter) > MAX_CLASSES:
                raise MaskingError(f"{display_name(tkey)}: more than {MAX_CLASSES:,} distinct quasi-identifier "
                                   "combinations: too many to count in memory; generalize a quasi-identifier first")
        self.counted_first = True
        for tkey, qi in self.qi.items():
            if qi is None:
                continue
            counter = self._counter(engine, tkey)
            # filled in place: the plans built so far hold this very set
            small = self.small.setdefault(tkey, set())
            small.update(c for c, n in counter.items() if n < self.k)
            self._check_small(engine, tkey, small)
            if self.small[tkey] and self.action == "fail":
                self._summarise(engine)
                t = self.record["tables"][display_name(tkey)]
                raise MaskingError(f"{display_name(tkey)} is not {self.k}-anonymous on ({', '.join(self.qi[tkey])}): "
                                   f"achieved k = {t['achieved_k']}, {t['rows_below_k']} row(s) in "
                                   f"{t['classes_below_k']} class(es) below k; generalize {t['generalize_next']} "
                                   f"next (dumpmask kanon shows the classes)")

    def extend_plan(self, engine, state, columns, plan):
        """With suppress: every quasi-identifier of the table decides, row by row, whether it is
        written as NULL (the row's class is below k) or through its own plan."""
        qi = self._qi_of(engine, state)
        if self.action != "suppress" or qi is None:
            return plan
        if any(c not in columns for c in qi):
            return plan
        by_index = {p.index: p for p in plan}
        fns = []
        for c in qi:
            p = by_index.get(columns.index(c))
            fns.append(p.transformer if p is not None else _same)
        small = self.small.setdefault(state.key, set())
        for c in qi:
            idx = columns.index(c)
            p = by_index.get(idx)
            if p is None:
                p = engine.make_column_plan(state, idx, state.schema.column(c), _keep_rule(c))
                plan.append(p)
            p.spec.suppress = SmallClass(qi, fns, small)
        return plan

    def row_filter(self, engine, state, columns, line, sql=False):
        """On a pipe (report): count each row's class as it passes (the row is kept as it is)."""
        qi = self._qi_of(engine, state)
        if self.counted_first or qi is None:
            return None
        if any(c not in columns for c in qi):
            return None
        idxs = [list(columns).index(c) for c in qi]
        fns = self._value_fns(engine, state, columns)
        decode = engine.dialect.decode_sql_field if sql else engine.dialect.decode_copy_field
        counter = self._counter(engine, state.key)
        add = counter.add
        bounded = counter.cap is None

        def count(fields):
            add(tuple(f(decode(fields[i])) for f, i in zip(fns, idxs, strict=True)))
            if bounded and len(counter.d) > MAX_CLASSES:
                raise MaskingError(f"{display_name(state.key)}: more than {MAX_CLASSES:,} distinct quasi-identifier "
                                   "combinations: too many to count in memory")
            return fields
        return count

    def _counter(self, engine, tkey) -> SpillCounter:
        """The table's class counter: in memory, or within its part of --max-memory's share."""
        c = self.counts.get(tkey)
        if c is None:
            c = self.counts[tkey] = self._new_counter(engine, tkey)
        return c

    def _new_counter(self, engine, tkey, parts: int = 1) -> SpillCounter:
        budget = engine.memory
        share = budget.share("kanon")
        cap = None if share is None else share // max(1, len(self.wanted_tables)) // parts
        return SpillCounter(cap, budget, f"k-anonymity classes of {display_name(tkey)}", display_name(tkey))

    def _check_small(self, engine, tkey, small: set) -> None:
        """suppress: the classes below k are held in memory (every plan of the table asks them)."""
        share = engine.memory.share("kanon")
        if share is not None and small:
            need = len(small) * entry_size(next(iter(small)))
            if need > share:
                engine.memory.fail("kanon", need, display_name(tkey),
                                   f"{len(small):,} classes are below k: generalize a quasi-identifier first")

    def finish(self, engine) -> None:
        self._summarise(engine)

    def _summarise(self, engine) -> None:
        for tkey, qi in self.qi.items():
            if qi is None:
                continue
            counter = self.counts.get(tkey) or self._new_counter(engine, tkey)
            rows = classes = below_classes = below_rows = 0
            smallest: list = []     # the 5 smallest sizes (a max-heap of negatives)
            columns = [self._new_counter(engine, tkey, 2 * len(qi)) for _ in qi]   # half the table's part, together
            for c, n in counter.items():
                rows += n
                classes += 1
                if n < self.k:
                    below_classes += 1
                    below_rows += n
                if len(smallest) < 5:
                    heapq.heappush(smallest, -n)
                elif n < -smallest[0]:
                    heapq.heapreplace(smallest, -n)
                for i, col in enumerate(columns):
                    col.add(c[i])
            sizes = sorted(-x for x in smallest)
            distinct = [len(col) for col in columns]
            for col in columns:
                col.close()
            entry = {
                "quasiIdentifiers": list(qi), "rows": rows, "classes": classes,
                "achieved_k": sizes[0] if sizes else None,
                "classes_below_k": below_classes, "rows_below_k": below_rows,
                "smallest_classes": sizes,
                "distinct_values": dict(zip(qi, distinct, strict=True)),
                "generalize_next": qi[max(range(len(qi)), key=lambda i: distinct[i])] if qi else None,
                "counted": "before writing" if self.counted_first else "while writing",
            }
            if self.action == "suppress":
                entry["rows_suppressed"] = below_rows
            if counter.spilled:
                entry["spilled"] = True     # counted through temporary files (--max-memory)
            self.record["tables"][display_name(tkey)] = entry


def _same(v):
    return v


def _keep_rule(column: str):
    from dumpmask.rules import ColumnRule, NamePattern
    from dumpmask.transformers import parse_mutation

    cls, arg = parse_mutation("keep")
    return ColumnRule(NamePattern(None, column, text=column), "keep", cls, arg, {}, "$.options.kAnonymity",
                      source="kAnonymity", matched=True)
