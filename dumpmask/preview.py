"""`dumpmask preview`: what the rules will do, before a long run.

For each table with rules, the first n rows as a before/after table (masked columns and
remapped keys only), then a summary of tables and columns no rule covers. The after values
come from the same functions a real run uses, with the same key. Reading stops as soon as
every ruled table has shown its rows.
"""
from __future__ import annotations

import os
import shutil
import stat

from dumpmask.dialects import peek_dialect
from dumpmask.dialects.base import LineReader
from dumpmask.idents import display_name as _qual


def _cell(v, width: int) -> str:
    s = "NULL" if v is None else str(v).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    s = s.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return s if len(s) <= width else s[:max(1, width - 1)] + "…"


def preview(path: str, rules, key, n: int = 5, dialect: str | None = None, echo=print, width: int | None = None) -> dict:
    """Print the preview through `echo`; returns {table: [(before, after) rows]} for tests."""
    from dumpmask.inputs import OpenedDump

    width = width or shutil.get_terminal_size((120, 24)).columns
    engine = _preview_engine(path, rules, key, dialect)
    opened = OpenedDump(path, engine.source)
    try:
        engine.set_dialect(peek_dialect(opened.reader, engine.source, dialect))
        for stage in engine.stages:
            stage.start(engine)
        if engine.needs_schema_pass():
            engine.schema_prepass()
        for stage in engine.stages:
            stage.schema_ready(engine)
        shown, plans = _first_rows(engine, LineReader(opened.reader, engine.source), n, list(rules.tables))
    finally:
        opened.close()
    for tkey, rows in shown.items():
        if rows:
            _print_table(tkey, rows, width, echo)
    _print_uncovered(engine, plans, echo)
    return shown


def _preview_engine(path, rules, key, dialect):
    """The run a real mask would build (same rules, key, remapping), minus what writes or
    selects: row selection and detection decide which rows and columns, not their values."""
    from dumpmask.engine import build_engine

    is_file = path not in ("-", None) and stat.S_ISREG(os.stat(path).st_mode)
    engine = build_engine(rules, key, dialect=dialect, source=path if path not in ("-", None) else "<stdin>",
                          input_path=path if is_file else None)
    engine.prepass_for_constraints = False  # a preview writes no dump: unique constraints cannot break a restore
    engine.stages = [stage for stage in engine.stages if type(stage).__name__ == "KeyRemapping"]
    return engine


def _ruled(engine, state) -> bool:
    return bool(engine.table_rules(state)) or any(stage.wants_table(engine, state) for stage in engine.stages)


def _first_rows(engine, lines, n: int, pending_rules):
    """({table key: [(before, after)]}, {(table key, columns): plan}) for the first n rows of
    every ruled table; reading stops when every ruled table has shown them."""
    shown: dict = {}
    plans: dict = {}
    for tkey, columns, values, line in engine.rows(lines):
        state = engine.table_state(tkey)
        if not _ruled(engine, state):
            continue
        rows = shown.setdefault(state.key, [])
        if len(rows) >= n:
            if _all_done(engine, shown, n, pending_rules):
                break
            continue
        plan_key = (state.key, tuple(columns))
        plan = plans.get(plan_key)
        if plan is None:
            plan = plans[plan_key] = engine.build_plan(state, columns, line)
        if not plan:
            continue
        before = [(columns[p.index], values[p.index]) for p in plan]
        after = _masked_row(plan, columns, values)
        rows.append((before, after))
        if len(rows) >= n and _all_done(engine, shown, n, pending_rules):
            break
    return shown, plans


def _masked_row(plan, columns, values) -> list:
    """[(column, new value)] of a row: each masked column's value function, then the
    templates (which read the row's new values) in their order (work.template_order)."""
    from dumpmask.work import template_order

    new = {p.index: p.value_fn(values[p.index]) for p in plan if getattr(p.spec, "template", None) is None}
    for spec in template_order([p.spec for p in plan]):
        row = {name: new[i] if i in new else values[i] for name, i in spec.template}
        new[spec.index] = spec.factory.build().render(values[spec.index], row)
    return [(columns[p.index], new[p.index]) for p in plan]


def _print_table(tkey, rows, width: int, echo) -> None:
    echo(f"== {_qual(tkey)} (first {len(rows)} rows: before -> after)")
    cols = [c for c, _ in rows[0][0]]
    ncol = len(cols)
    # per column: the widest before and after value, capped so the row fits the terminal
    cap = max(6, (max(20, width - 2) - 7 * ncol) // max(1, 2 * ncol))
    bw = [min(cap, max(len(_cell(b[i][1], 999)) for b, _ in rows)) for i in range(ncol)]
    aw = [min(cap, max(len(_cell(a[i][1], 999)) for _, a in rows)) for i in range(ncol)]
    for i, c in enumerate(cols):  # room for the column name too, when the terminal has it
        short = len(c) - (bw[i] + aw[i] + 4)
        if short > 0:
            grow = min(short, max(0, cap - aw[i]))
            aw[i] += grow
    head = " | ".join(f"{_cell(c, bw[i] + aw[i] + 4):<{bw[i] + aw[i] + 4}}" for i, c in enumerate(cols))
    echo(head[:width])
    echo("-" * min(width, len(head)))
    for before, after in rows:
        cells = [f"{_cell(b, bw[i]):>{bw[i]}} -> {_cell(a, aw[i]):<{aw[i]}}" for i, ((_, b), (_, a)) in enumerate(zip(before, after))]
        echo(" | ".join(cells)[:width])
    echo("")


def _print_uncovered(engine, plans, echo) -> None:
    """The tables no rule covers, and the columns that look like personal data that none does."""
    from dumpmask.detect import detect_by_name

    unruled_tables = []
    uncovered = []
    for state in engine.tables.values():
        if state.schema is None or not state.schema.columns:
            continue
        covered = set()
        for plan in (p for (k, _), p in plans.items() if k == state.key):
            covered |= {p.name for p in plan}
        if not _ruled(engine, state):
            unruled_tables.append(_qual(state.key))
        for c in state.schema.columns:
            if c.name in covered:
                continue
            f = detect_by_name(c.name, c, state.key[1])
            if f is not None:
                uncovered.append(f"{_qual(state.key)}.{c.name} ({f.category}; suggested {f.suggested})")
    echo(f"Tables no rule covers ({len(unruled_tables)}): {', '.join(sorted(unruled_tables)) or 'none'}")
    echo(f"Columns that look like personal data and no rule covers ({len(uncovered)}):")
    for u in sorted(uncovered):
        echo(f"  {u}")


def _all_done(engine, shown, n, rule_tables) -> bool:
    for tr in rule_tables:
        hits = [k for k in shown if tr.table.matches(k[0], k[1], engine.dialect.name)]
        if not hits or any(len(shown[k]) < n for k in hits):
            return False
    return all(len(v) >= n for v in shown.values())
