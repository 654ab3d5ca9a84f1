"""PDF sections of issue #14's audit fields that report.py's "Rules that follow the data" does
not render itself: rows removed by drop rules, --erase and --only (the audit's `subjects`), the
parent rows partial transfer and --only added to keep foreign keys valid (`tables[T]`'s
rows_selected / rows_added_as_parents / rows_orphaned and `parents_added`), and
generalize.topcode caps (a column entry's `topcode`). Functions take the report's fpdf object
(report._Report: subsection, grid, para) and the audit dict; each returns whether it drew
anything. Kept apart from report.py so that report.py's other sections change independently."""
from __future__ import annotations

NA = "n/a"


def _d(x) -> dict:
    return x if isinstance(x, dict) else {}


def _l(x) -> list:
    return x if isinstance(x, list) else []


def _t(x) -> str:
    return NA if x is None or x == "" else str(x)


def _n(x) -> str:
    return f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else _t(x)


def subjects(pdf, audit) -> bool:
    """Drop rules (rows matched), --erase / --only (subjects) and the rows removed or kept per table."""
    s = _d(audit.get("subjects"))
    if not s:
        return False
    pdf.subsection(f"Rows removed or kept by row rules (mode {_t(s.get('mode'))}, {_n(s.get('passes'))} pass(es))")
    drops = [_d(r) for r in _l(s.get("drop_rules"))]
    if drops:
        pdf.grid(("Drop rule", "Table", "Condition", "Rows matched"),
                 [(_t(r.get("rule")), _t(r.get("table")), _t(r.get("where")), _n(r.get("rows_matched"))) for r in drops],
                 (30, 40, 80, 30), align=("LEFT", "LEFT", "LEFT", "RIGHT"), size=7.5)
    subj = _l(s.get("subjects"))
    if subj:
        pdf.para("Subjects (--erase / --only / rules subjects): "
                 + "; ".join(_t(x) if not isinstance(x, dict) else ", ".join(f"{k} {_t(v)}" for k, v in sorted(x.items()))
                             for x in subj[:50]) + (" ..." if len(subj) > 50 else ""), size=7.5)
    per = sorted(_d(s.get("tables")).items())
    if per:
        keys = sorted({k for _t_, e in per for k in _d(e)})
        pdf.grid(("Table", *[k.replace("_", " ").capitalize() for k in keys]),
                 [(t, *[_n(_d(e).get(k)) for k in keys]) for t, e in per],
                 (60, *[max(20, 120 // max(len(keys), 1))] * len(keys)),
                 align=("LEFT", *["RIGHT"] * len(keys)), size=7.5)
        pdf.para("Rows that reference a removed row are removed too (foreign keys, transitively): the counts "
                 "include them.", size=7.5)
    return True


def closure(pdf, audit, tables) -> bool:
    """Partial transfer's rows per table (selected by the cut, added as parents, orphaned) and,
    for partial transfer and --only, why parent rows were added: the foreign keys through which
    kept rows reached them (`parents_added`)."""
    cut = [(str(t), _d(tv)) for t, tv in sorted(_d(tables).items()) if "rows_selected" in _d(tv)]
    why = _d(audit.get("parents_added"))
    if not cut and not why:
        return False
    if cut:
        opts = _d(_d(audit.get("options")).get("transfer"))
        added = sum(tv.get("rows_added_as_parents") or 0 for _t_, tv in cut if isinstance(tv.get("rows_added_as_parents"), int))
        pdf.subsection(f"Partial transfer: rows kept per table ({_n(added)} added as parents)")
        pdf.para("Each table kept the rows its cut selected (" + _t(opts.get("mode")) + (f" {_n(opts.get('rows'))}"
                 if opts.get("rows") is not None else "") + " rows, or the table's own transfer rule); with "
                 "referential integrity " + ("on" if opts.get("referentialIntegrity", True) else "OFF")
                 + ", every row a kept row references (foreign keys, transitively) was kept too, so the copy "
                 "restores with its constraints; a row referencing a row the dump does not hold was cut (orphaned).",
                 size=7.5)
        pdf.grid(("Table", "Transfer", "Rows read", "Selected", "Added as parents", "Orphaned", "Written"),
                 [(t, _t(tv.get("transfer")), _n(tv.get("rows_read")), _n(tv.get("rows_selected")),
                   _n(tv.get("rows_added_as_parents")), _n(tv.get("rows_orphaned", 0)), _n(tv.get("rows_written")))
                  for t, tv in cut],
                 (60, 20, 18, 18, 24, 18, 22), align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
                 size=7.5)
        empty = [str(x) for x in _l(audit.get("transfer_empty_tables"))]
        if empty:
            pdf.para("Tables that had rows and have none in the output: " + ", ".join(empty) + ".", size=7.5,
                     color=(180, 95, 6), bold=True)
    if why:
        rows = []
        for t, rels in why.items():
            for r in map(_d, _l(rels)):
                rows.append((str(t), _t(r.get("referenced_by")),
                             f"({', '.join(map(str, _l(r.get('columns'))))}) -> ({', '.join(map(str, _l(r.get('references'))))})",
                             _n(r.get("rows"))))
        pdf.subsection(f"Why parent rows were added ({len(why)} tables)")
        pdf.para("Each parent table's added rows, by the foreign key through which kept rows reference them (a "
                 "row referenced through two foreign keys counts in both).", size=7.5)
        pdf.grid(("Parent table", "Referenced by kept rows of", "Foreign key", "Rows added"), rows,
                 (50, 50, 55, 25), align=("LEFT", "LEFT", "LEFT", "RIGHT"), size=7.5)
    return True


def topcode_caps(pdf, tables) -> bool:
    """generalize.topcode caps: the threshold used, where it came from, how many rows share it."""
    rows = []
    for t, tv in sorted(_d(tables).items()):
        for c, e in sorted(_d(_d(tv).get("columns")).items()):
            tc = _d(_d(e).get("topcode"))
            if tc:
                rows.append((t, c, _t(tc.get("percentile")), _t(tc.get("threshold")), _t(tc.get("source")),
                             _n(tc.get("values")), _n(tc.get("rows_at_or_above")), _n(tc.get("min_rows")),
                             "yes" if tc.get("lowered_for_min_rows") else "no"))
    if not rows:
        return False
    pdf.subsection(f"Top-coding caps ({len(rows)})")
    pdf.para("generalize.topcode: values above the cap were written as the cap. A percentile cap is computed "
             "from the column's values (nearest rank) and lowered until at least minRows rows share it.", size=7.5)
    pdf.grid(("Table", "Column", "Percentile", "Cap", "Source", "Values", "Rows >= cap", "minRows", "Lowered"),
             rows, (35, 25, 17, 25, 17, 17, 18, 14, 12),
             align=("LEFT", "LEFT", "RIGHT", "RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"), size=7)
    return True
