"""`dumpmask preview`: what the rules will do, before a long run.

For each table with rules, the first n rows as a before/after table (masked columns and
remapped keys only), then a summary of tables and columns no rule covers. The after values
come from the same functions a real run uses, with the same key. Reading stops as soon as
every ruled table has shown its rows.

Row rules are shown as a run applies them, each row on its own: a column rule's `where` masks
the rows it holds for (the others show their value unchanged, and a line under the table says
which rows matched), a drop rule's rows show `(dropped)`, unlisted columns their default
(`options.unlisted: "mask"`), and with INPUT as a regular file k-anonymity's `suppress` (its
counting pass runs first) and top-coding by percentile (its first pass) give their real values.
What a sample cannot show is said instead of guessed: rows dropped because they reference a
dropped row (that follows foreign keys over the whole dump), and on a pipe suppression and
percentiles (they need a pass over the whole table first).
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
        notes: dict = {}
        shown, plans = _first_rows(engine, LineReader(opened.reader, engine.source), n, list(rules.tables), notes)
    finally:
        opened.close()
    for tkey, rows in shown.items():
        if rows:
            _print_table(tkey, rows, width, echo)
            for line in notes.get(tkey, ()):
                echo(line)
            if notes.get(tkey):
                echo("")
    for line in engine.preview_notes:
        echo(line)
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
    engine.preview_notes = []
    kanon = rules.options.get("kAnonymity") or {}
    kept = []
    for stage in engine.stages:
        name = type(stage).__name__
        if name in ("KeyRemapping", "Unlisted"):
            kept.append(stage)
        elif name == "Percentiles":
            if is_file:
                kept.append(stage)      # its first pass: the thresholds a run uses
            else:
                engine.preview_notes.append(
                    'generalize.topcode with "percentile": not previewed on a pipe (the threshold needs a first pass '
                    'over the whole column): those columns show "(needs a file)"')
        elif name == "KAnonymity":
            if kanon.get("action") == "suppress" and is_file:
                kept.append(stage)      # its counting pass: the rows a run suppresses
            else:
                engine.preview_notes.append(
                    f"k-anonymity (k = {kanon.get('k')}, {kanon.get('action')}): "
                    + ("not previewed on a pipe (it counts the whole table first)" if kanon.get("action") == "suppress"
                       else "decided over the whole table, not row by row")
                    + ": dumpmask kanon DUMP -c RULES shows the classes")
    if any(tr.action == "drop" for tr in rules.tables):
        engine.preview_notes.append(
            'action "drop": rows a drop rule matches show "(dropped)"; rows that reference a dropped row are dropped '
            "too in a run (with referential integrity), which a preview does not show: that follows the foreign keys "
            "over the whole dump")
    engine.stages = kept
    return engine


def _ruled(engine, state) -> bool:
    return bool(engine.table_rules(state)) or any(stage.wants_table(engine, state) for stage in engine.stages)


def _first_rows(engine, lines, n: int, pending_rules, notes: dict):
    """({table key: [(before, after)]}, {(table key, columns): plan}) for the first n rows of
    every ruled table; reading stops when every ruled table has shown them. `notes` gets, per
    table, the lines saying which shown rows the row rules matched."""
    shown: dict = {}
    plans: dict = {}
    drops: dict = {}
    hits: dict = {}     # table key -> {label: [row numbers]}
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
            drops[plan_key] = _drop_conditions(engine, state, columns)
        dropping = drops[plan_key]
        if not plan and not dropping:
            continue
        named = {c: v for c, v in zip(columns, values, strict=False)}
        row_no = len(rows) + 1
        table_hits = hits.setdefault(state.key, {})
        dropped = [tr for tr, cond in dropping if cond(named)]
        for tr, cond in dropping:
            table_hits.setdefault(f"action drop {tr.where} where {cond.text} (dropped)", [])
        for tr, cond in dropping:
            if tr in dropped:
                table_hits[f"action drop {tr.where} where {cond.text} (dropped)"].append(row_no)
        shown_idx = [p.index for p in plan] + [i for i, c in enumerate(columns) if c in
                                                {x for _tr, cond in dropping for x in cond.columns}
                                                and i not in {p.index for p in plan}]
        before = [(columns[i], values[i]) for i in shown_idx]
        if dropped:
            after = [(columns[i], _DROPPED) for i in shown_idx]
        else:
            new = _masked_row(plan, columns, values, named, table_hits, row_no)
            after = [(columns[i], new.get(i, values[i])) for i in shown_idx]
        rows.append((before, after))
        if len(rows) >= n and _all_done(engine, shown, n, pending_rules):
            break
    for tkey, table_hits in hits.items():
        for label, got in table_hits.items():
            count = len(shown.get(tkey, ()))
            which = ", ".join(map(str, got)) if got else "none"
            notes.setdefault(tkey, []).append(f"  {label}: rows {which} of the {count} shown")
    return shown, plans


_DROPPED = "(dropped)"


def _drop_conditions(engine, state, columns) -> list:
    """[(table rule, Condition)] of the drop rules of a table, for its data columns."""
    from dumpmask.conditions import compile_condition

    return [(tr, compile_condition(tr.where_spec, state.schema if state.schema is not None and state.schema.columns
                                   else None, engine.dialect.name, f"{tr.where}.where", engine.rules.path,
                                   columns=list(columns)))
            for tr in engine.table_rules(state) if tr.action == "drop"]


def _unresolved_percentile(spec) -> bool:
    f = spec.factory
    return getattr(f, "cls", None) is not None and f.cls.name == "generalize.topcode" and \
        (f.options or {}).get("percentile") is not None


def _masked_row(plan, columns, values, named=None, hits=None, row_no=0) -> dict:
    """{data position: new value} of a row, as the work unit writes it: a field whose rule's
    `where` does not hold stays as it is, a suppressed quasi-identifier (k-anonymity) is NULL,
    each masked column's value function, then the templates (which read the row's new values)
    in their order (work.template_order). `hits` gets the shown row numbers each row rule held for."""
    from dumpmask.work import template_order

    named = named if named is not None else dict(zip(columns, values, strict=False))
    hits = hits if hits is not None else {}
    new = {}

    def applies(spec) -> bool | None:
        """True: masked; False: kept as it is; None: suppressed (NULL)."""
        if spec.suppress is not None:
            label = "k-anonymity suppress (a class below k: its quasi-identifiers written as NULL)"
            hits.setdefault(label, [])
            if spec.suppress(named):
                if row_no not in hits[label]:
                    hits[label].append(row_no)
                return None
        if spec.condition is None:
            return True
        label = f"{spec.name} where {spec.condition.text} (masked; the other rows unchanged)"
        hits.setdefault(label, [])
        if spec.condition(named):
            hits[label].append(row_no)
            return True
        return False

    for p in plan:
        if getattr(p.spec, "template", None) is not None:
            continue
        how = applies(p.spec)
        if how is None:
            new[p.index] = None
        elif not how:
            new[p.index] = values[p.index]
        elif _unresolved_percentile(p.spec):
            new[p.index] = "(needs a file)"
        else:
            new[p.index] = p.value_fn(values[p.index])
    for spec in template_order([p.spec for p in plan]):
        how = applies(spec)
        if how is None:
            new[spec.index] = None
        elif not how:
            new[spec.index] = values[spec.index]
        else:
            row = {name: new[i] if i in new else values[i] for name, i in spec.template}
            new[spec.index] = spec.factory.build().render(values[spec.index], row)
    return new


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
