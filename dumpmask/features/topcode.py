"""Top-coding by percentile: `generalize.topcode` with {"percentile": p} caps a column's values
at its p-th percentile, a statistic of the data, so a first pass over INPUT (a regular file)
reads the column before anything is written; on a pipe (or a pg_dump archive) the run stops
first (exit 2) saying a file is needed.

The threshold, per table and column (a partition on its own), is the nearest-rank percentile of
the column's non-NULL numbers in the dump, NaN left out: the smallest value v such that at
least p% of the values are <= v (ceil(p/100 * n)-th of them in ascending order), compared as
exact decimals: the same dump gives the same threshold. It is taken over every row the dump
holds, before `where` conditions, drop rules, erasure or partial transfer choose rows.

It is an original value of some row, and it is written into the copy as the value of every
capped row, so the audit may record it only when it hides one row among others: at least
`minRows` (default 5) rows must be at or above it. When fewer are, the threshold is lowered to
the minRows-th largest value (a warning, and the audit says so); a column with fewer than
minRows values stops the run (exit 1, before any output). With "max" as well the lower of the
two caps. The audit's column entry gets `topcode`: {"percentile", "min_rows", "values",
"threshold", "rows_at_or_above", "lowered_for_min_rows", "source": "percentile" | "max"}.

Memory: one counter entry per distinct value of each such column; past MAX_DISTINCT the run
stops (exit 1) rather than guess (generalize.bucket would be the column's mutation instead).
"""
from __future__ import annotations

import collections
import math
from decimal import Decimal, InvalidOperation

from dumpmask.errors import MaskingError, RulesError
from dumpmask.features.base import Stage
from dumpmask.idents import display_name

MAX_DISTINCT = 1_000_000


def _is_percentile(cls, options) -> bool:
    return getattr(cls, "name", None) == "generalize.topcode" and (options or {}).get("percentile") is not None


def nearest_rank(counts: dict, p, min_rows: int):
    """(threshold, rows at or above it, lowered) of the values counted in `counts` (Decimal ->
    rows), for percentile `p`; None when there are fewer than min_rows values."""
    values = sorted(counts)
    n = sum(counts.values())
    if n < min_rows or n == 0:
        return None
    from fractions import Fraction   # here: only a percentile rule needs it (start-up time)

    rank = max(1, math.ceil(Fraction(str(p)) * n / 100))
    seen, threshold = 0, values[-1]
    for v in values:
        seen += counts[v]
        if seen >= rank:
            threshold = v
            break
    at_or_above = sum(c for v, c in counts.items() if v >= threshold)
    lowered = False
    if at_or_above < min_rows:
        # the minRows-th largest value: walk down from the top
        seen = 0
        for v in reversed(values):
            seen += counts[v]
            if seen >= min_rows:
                threshold, at_or_above, lowered = v, seen, True
                break
    return threshold, at_or_above, lowered


class Percentiles(Stage):
    needs_schema = True

    @staticmethod
    def wanted(engine) -> bool:
        return any(_is_percentile(cr.cls, cr.options) for tr in engine.rules.tables for cr in tr.columns)

    def start(self, engine) -> None:
        self.thresholds: dict = {}   # (table key, column) -> (Decimal threshold, record)
        if not engine.input_is_file():
            where = next(cr.where for tr in engine.rules.tables for cr in tr.columns if _is_percentile(cr.cls, cr.options))
            raise RulesError('generalize.topcode with "percentile" needs INPUT as a regular file: the threshold is a '
                             "statistic of the column, read in a first pass before any output (a pipe or a pg_dump "
                             'archive cannot be read twice); give a file, or a fixed "max"',
                             engine.rules.path, f"{where}.options.percentile")

    def _rules_of(self, engine, state, columns) -> dict:
        """{data position: column rule} of the table's percentile rules."""
        pg = engine.dialect.name == "postgres"
        out = {}
        for tr in engine.table_rules(state):
            for cr in tr.columns:
                if not _is_percentile(cr.cls, cr.options):
                    continue
                for i, c in enumerate(columns):
                    if cr.column.name == c if (cr.column.name_quoted and pg) else engine.dialect.col_eq(cr.column.name, c):
                        out[i] = cr
                        break
        return out

    def schema_ready(self, engine) -> None:
        """The first pass: every percentile column's values, counted per distinct value."""
        wanted: dict = {}
        counts: dict = {}

        def needed_of(tkey, columns):
            key = (tkey, tuple(columns))
            if key not in wanted:
                state = engine.table_state(tkey)
                wanted[key] = self._rules_of(engine, state, columns) if state.schema is not None else {}
                for i, cr in wanted[key].items():
                    # the column's type is checked here, before the first pass reads its values (a
                    # date or text column is a rules error, exit 2, not a value "not a number")
                    err = engine.rule_error(state, columns[i], cr.cls.name, cr.options)
                    if err:
                        raise RulesError(err, engine.rules.path, cr.where)
            return sorted(wanted[key])

        for tkey, columns, nrows, fields, decode in engine.key_blocks(engine.input_path, needed_of):
            rules = wanted.get((tkey, tuple(columns)))
            if not rules:
                continue
            idxs = sorted(rules)
            tallies = [counts.setdefault((tkey, columns[i]), (rules[i], collections.Counter())) for i in idxs]
            for r in range(nrows):
                raw = fields(r)
                for (cr, tally), field in zip(tallies, raw, strict=True):
                    v = None if field is None else decode(field)
                    if v is None:
                        continue
                    try:
                        d = Decimal(v.strip())
                    except InvalidOperation:
                        raise MaskingError(f"{engine.source}: {display_name(tkey)}: a value of column {cr.column.name!r} "
                                           "is not a number (generalize.topcode)") from None
                    if not d.is_nan():
                        tally[d] += 1
                if any(len(t) > MAX_DISTINCT for _cr, t in tallies):
                    raise MaskingError(f"{display_name(tkey)}: more than {MAX_DISTINCT:,} distinct values in a "
                                       "generalize.topcode percentile column: too many to hold in memory; use a "
                                       'fixed "max" or generalize.bucket')
        for (tkey, column), (cr, tally) in counts.items():
            self.thresholds[(tkey, column)] = self._threshold(engine, tkey, column, cr, tally)

    def _threshold(self, engine, tkey, column, cr, tally):
        p, min_rows, fixed = cr.options["percentile"], cr.options["minRows"], cr.options.get("max")
        qual = f"{display_name(tkey)}.{column}"
        got = nearest_rank(tally, p, min_rows)
        if got is None:
            raise MaskingError(f"{qual}: generalize.topcode percentile {p}: the column has {sum(tally.values())} "
                               f"value(s), fewer than minRows ({min_rows}): no threshold hides a row among "
                               f"{min_rows}; lower minRows or use a fixed \"max\"")
        threshold, at_or_above, lowered = got
        if not threshold.is_finite():
            raise MaskingError(f"{qual}: generalize.topcode percentile {p}: the threshold is not a finite number "
                               "(infinite values above the percentile); use a fixed \"max\"")
        if lowered:
            engine.warn(f"{qual}: generalize.topcode percentile {p}: fewer than {min_rows} rows at or above it; "
                        f"the threshold is lowered to the {min_rows}-th largest value")
        source = "percentile"
        if fixed is not None:
            top = Decimal(fixed.strip()) if isinstance(fixed, str) else Decimal(str(fixed))   # checked at load
            if top < threshold:
                threshold, source = top, "max"
                at_or_above = sum(c for v, c in tally.items() if v >= top)
        record = {"percentile": p, "min_rows": min_rows, "values": sum(tally.values()), "threshold": str(threshold),
                  "rows_at_or_above": at_or_above, "lowered_for_min_rows": lowered, "source": source}
        return threshold, record

    def extend_plan(self, engine, state, columns, plan):
        """Each percentile column's mutation gets the threshold as its "max" (the plan pickles it)."""
        from dumpmask.work import MutationFactory

        for p in plan:
            f = p.spec.factory
            if not isinstance(f, MutationFactory) or not _is_percentile(f.cls, f.options):
                continue
            got = self.thresholds.get((state.key, p.name))
            if got is None:
                continue   # no value was read (an empty table): the mutation fails on a value it meets
            threshold, record = got
            options = {**f.options, "max": str(threshold), "percentile": None}
            p.spec.factory = MutationFactory(f.cls, f.key, options, f.column, f.argument, f.dialect, f.delimiter, f.where)
            p.stats.extra["topcode"] = record
        return plan
