"""Stages: what the engine runs beside plain column masking, composed in a declared order.

A stage is an object with any of these hooks (all optional; see Stage). The engine calls
each hook on every stage in STAGE_ORDER's order:
    needs_schema                 True when the whole schema must be known before data (a pre-pass)
    start(engine)                before reading; engine.dialect is set
    schema_ready(engine)         after a --schema file or the pre-pass (or at once on a pipe)
    wants_table(engine, state)   True when the table's data must be parsed even without column rules
    extend_plan(engine, state, columns, plan) -> plan   add/replace ColumnPlans of a data column list
                                 (engine.make_column_plan / engine.column_plan build them)
    row_filter(engine, state, columns, line, sql=False) -> filter or None; a filter is
                                 fn(fields) -> fields | None (None drops the row), optionally with
                                 flush() -> rows it held back; the engine composes the stages'
                                 filters (engine.RowFilters): a row is kept when every one keeps it
    wants_sample(engine, state) / sample(engine, state, columns, rows)   the first rows of a table,
                                 decoded, before any of its data is written (content detection on a pipe)
    rewrite_statement(engine, stmt) -> bytes | None   replace a passed-through statement (setval ...)
    finish(engine)               after the last statement
    checked_plan(engine, state, planned)   a data column list's plan was built (--verify's sample)
    output_written(engine)       the whole output is written, not yet renamed into place (--verify)
A stage never reaches into a dialect: the engine's dialect object describes names and values.
"""
from __future__ import annotations

from dumpmask.features.base import Stage  # noqa: F401 (the hooks' defaults)


def stage_order():
    """The stages in the order the engine runs them: content detection first (its template
    rules join the plan before keys are added), then key remapping, then subject erasure /
    extraction (the rows it removes are settled before partial transfer picks its first / last
    N among the others), then partial transfer (its row filter sees rows as the input has
    them), then the complete-schema policy (it sees every column the others left unnamed),
    then k-anonymity (it counts the values as the final plan writes them), then the in-job leak
    check of --verify (it checks what every other stage wrote). Top-coding by percentile comes
    before them all: its first pass gives the threshold that every plan built after it
    (detection's, k-anonymity's counting) writes."""
    from dumpmask.features.detection import Detection
    from dumpmask.features.keys import KeyRemapping
    from dumpmask.features.subjects import Subjects
    from dumpmask.features.subset import Subset
    from dumpmask.features.kanon import KAnonymity
    from dumpmask.features.topcode import Percentiles
    from dumpmask.features.unlisted import Unlisted
    from dumpmask.features.verification import Verification

    return (Percentiles, Detection, KeyRemapping, Subjects, Subset, Unlisted, KAnonymity, Verification)


def install(engine) -> None:
    """The stages a run asks for (rules options and CLI flags), in stage_order()."""
    for stage_class in stage_order():
        if stage_class.wanted(engine):
            engine.stages.append(stage_class())
    for tr in engine.rules.tables:
        if tr.action == "drop" and not any(getattr(s, "drops_rows", False) for s in engine.stages):
            from dumpmask.errors import RulesError

            raise RulesError('"action": "drop" is not supported by this version: remove the rule (nothing '
                             "would be dropped)", engine.rules.path, f"{tr.where}.action")
