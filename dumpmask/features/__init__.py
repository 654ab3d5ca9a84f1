"""Features that hook into the engine's loop beyond plain column masking.

An extension is an object with any of these hooks (all optional; see Extension):
    needs_schema            True when the whole schema must be known before data (a pre-pass)
    start(eng)              before reading; eng.adapter is set
    schema_ready(eng)       after a --schema file or the pre-pass (or at once on a pipe)
    wants_table(eng, ts)    True when the table's data must be parsed even without column rules
    extend_plan(eng, ts, columns, plan) -> plan    add/replace ColumnPlans for a data column list
    row_filter(eng, ts, columns, line, sql=False) -> fn(fields)->fields|None (None drops the row), or None
    wants_sample(eng, ts) / sample(eng, ts, columns, rows)  the first rows of a table, decoded, before
                            any of its data is written (content detection on a pipe)
    rewrite_statement(eng, stmt) -> bytes|None     replace a passed-through statement (setval ...)
    finish(eng)             after the last statement
"""
from __future__ import annotations


class Extension:
    needs_schema = False

    def start(self, eng) -> None:
        pass

    def schema_ready(self, eng) -> None:
        pass

    def wants_table(self, eng, ts) -> bool:
        return False

    def extend_plan(self, eng, ts, columns, plan):
        return plan

    def row_filter(self, eng, ts, columns, line, sql=False):
        return None

    def wants_sample(self, eng, ts) -> bool:
        """True when the adapter should hold back the first rows of this table's data and pass
        them (decoded) to sample() before anything of that data is written."""
        return False

    def sample(self, eng, ts, columns, rows) -> None:
        pass

    def finish(self, eng) -> None:
        pass


def install(eng) -> None:
    """Add the extensions a run asks for (rules options and CLI flags)."""
    from dumpmask.features.detection import Detection
    from dumpmask.features.keys import KeyRemapping, remapping_wanted
    from dumpmask.features.subset import Subset

    if remapping_wanted(eng) or _any_key_rule(eng):
        eng.extensions.append(KeyRemapping())
    if eng.strict or eng.template:
        eng.extensions.insert(0, Detection())
    transfer = eng.transfer or eng.rules.transfer
    if transfer.get("mode", "full") != "full" or any(t.transfer for t in eng.rules.tables):
        eng.extensions.append(Subset())


def _any_key_rule(eng) -> bool:
    return any(cr.mutation == "key" for t in eng.rules.tables for cr in t.columns)
