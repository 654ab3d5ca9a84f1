"""`dumpmask preview`: what the rules will do, before a long run.

For each table with rules, the first n rows as a before/after table (masked columns and
remapped keys only), then a summary of tables and columns no rule covers. The after values
come from the same functions a real run uses, with the same key. Reading stops as soon as
every ruled table has shown its rows.
"""
from __future__ import annotations

import io
import os
import shutil
import stat

from dumpmask.dialects import detect_dialect, get_adapter
from dumpmask.dialects.base import LineReader
from dumpmask.errors import DumpSyntaxError


def _qual(key) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


def _cell(v, width: int) -> str:
    s = "NULL" if v is None else str(v).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    s = s.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return s if len(s) <= width else s[:max(1, width - 1)] + "…"


def preview(path: str, rules, key, n: int = 5, dialect: str | None = None, echo=print, width: int | None = None) -> dict:
    """Print the preview through `echo`; returns {table: [(before, after) rows]} for tests."""
    from dumpmask.engine import build_engine

    width = width or shutil.get_terminal_size((120, 24)).columns
    is_file = path not in ("-", None) and stat.S_ISREG(os.stat(path).st_mode)
    eng = build_engine(rules, key, dialect=dialect, source=path if path not in ("-", None) else "<stdin>",
                       input_path=path if is_file else None)
    eng.prepass_for_constraints = False  # a preview writes no dump: unique constraints cannot break a restore
    # the values shown are those of a run's masking and key remapping (row selection and
    # detection decide which rows and columns, not their values)
    eng.extensions = [e for e in eng.extensions if type(e).__name__ == "KeyRemapping"]
    from dumpmask.inputs import check_path, checked

    if path in ("-", None):
        import sys

        fh = sys.stdin.buffer
    else:
        check_path(path)
        fh = open(path, "rb")
    reader = io.BufferedReader(checked(fh, eng.source), 1 << 20)
    name = dialect or detect_dialect(reader.peek(65536)[:65536])
    if name is None:
        raise DumpSyntaxError("cannot tell whether this is a PostgreSQL or a MySQL/MariaDB dump: pass --dialect", 1, eng.source)
    eng.adapter = get_adapter(name)(eng)
    for ext in eng.extensions:
        ext.start(eng)
    if eng.needs_schema_pass():
        eng.schema_prepass()
    for ext in eng.extensions:
        ext.schema_ready(eng)

    shown: dict = {}
    plans: dict = {}
    pending_rules = list(rules.tables)

    def ruled(ts) -> bool:
        return bool(eng.table_rules(ts)) or any(e.wants_table(eng, ts) for e in eng.extensions)

    try:
        for tkey, columns, values, line in eng.adapter.iter_rows(LineReader(reader, eng.source)):
            ts = eng.table_state(tkey)
            if not ruled(ts):
                continue
            rows = shown.setdefault(ts.key, [])
            if len(rows) >= n:
                if _all_done(eng, shown, n, pending_rules):
                    break
                continue
            pk = (ts.key, tuple(columns))
            plan = plans.get(pk)
            if plan is None:
                plan = plans[pk] = eng.build_plan(ts, columns, line)
            if not plan:
                continue
            before = [(columns[p.index], values[p.index]) for p in plan]
            after = [(columns[p.index], p.value_fn(values[p.index])) for p in plan]
            rows.append((before, after))
            if len(rows) >= n and _all_done(eng, shown, n, pending_rules):
                break
    finally:
        if fh is not getattr(__import__("sys").stdin, "buffer", None):
            fh.close()

    for tkey, rows in shown.items():
        if not rows:
            continue
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

    # what no rule covers
    from dumpmask.detect import detect_by_name

    unruled_tables = []
    uncovered = []
    for ts in eng.tables.values():
        if ts.schema is None or not ts.schema.columns:
            continue
        covered = set()
        for plan in (p for (k, _), p in plans.items() if k == ts.key):
            covered |= {p.name for p in plan}
        if not ruled(ts):
            unruled_tables.append(_qual(ts.key))
        for c in ts.schema.columns:
            if c.name in covered:
                continue
            f = detect_by_name(c.name, c, ts.key[1])
            if f is not None:
                uncovered.append(f"{_qual(ts.key)}.{c.name} ({f.category}; suggested {f.suggested})")
    echo(f"Tables no rule covers ({len(unruled_tables)}): {', '.join(sorted(unruled_tables)) or 'none'}")
    echo(f"Columns that look like personal data and no rule covers ({len(uncovered)}):")
    for u in sorted(uncovered):
        echo(f"  {u}")
    return shown


def _all_done(eng, shown, n, rule_tables) -> bool:
    for tr in rule_tables:
        hits = [k for k in shown if tr.table.matches(k[0], k[1], eng.adapter.name)]
        if not hits or any(len(shown[k]) < n for k in hits):
            return False
    return all(len(v) >= n for v in shown.values())
