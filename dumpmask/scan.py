"""`dumpmask scan`: every column of a dump that holds personal data, by name and by content.

* by name: every column of every CREATE TABLE (detect.detect_by_name);
* by content: the first N rows of each table (bounded: once a table has N rows sampled, its
  later data statements are skipped without decoding them; see `sample_dump`).

The same functions serve the `Detection` extension (features/detection.py) for --template and
--strict, so `scan` shows exactly what a masking run would do.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dumpmask.detect import ContentSampler, Finding, combine, detect_by_name, in_template, suggest_rule
from dumpmask.rules import ColumnRule, NamePattern, RuleSet
from dumpmask.schema import Column, TableSchema

DEFAULT_SAMPLE = 100


def qualname(key) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


# --------------------------------------------------------------------------- rules matching


def column_rule_matches(cr: ColumnRule, column: str, dialect: str) -> bool:
    """The engine's column matching (engine.build_plan): quoted names are exact in PostgreSQL,
    MySQL compares case-insensitively, unquoted PostgreSQL names fold to lower case."""
    p = cr.column.name
    if dialect == "mysql":
        return p.lower() == column.lower()
    if cr.column.name_quoted:
        return p == column
    return p.lower() == column or p == column


def explicit_rules(rules: RuleSet, key, columns, dialect: str) -> dict[str, ColumnRule]:
    """{column: the rule of the rules file that names it} for one table's columns."""
    out: dict[str, ColumnRule] = {}
    for tr in rules.for_table(key[0], key[1], dialect):
        for cr in tr.columns:
            for c in columns:
                if c not in out and column_rule_matches(cr, c, dialect):
                    out[c] = cr
                    break
    return out


# --------------------------------------------------------------------------- sampling


@dataclass
class Sample:
    """What a bounded pass over a dump learnt: schemas, data column lists, content samples."""

    dialect: str
    tables: dict = field(default_factory=dict)     # key -> TableSchema | None
    columns: dict = field(default_factory=dict)    # key -> data column list (first seen)
    samplers: dict = field(default_factory=dict)   # key -> ContentSampler
    rows: dict = field(default_factory=dict)       # key -> rows sampled

    def content_findings(self, key) -> dict[str, Finding]:
        s = self.samplers.get(key)
        return s.findings() if s is not None else {}


def sample_dump(inp, dialect: str | None = None, limit: int = DEFAULT_SAMPLE, source: str | None = None) -> Sample:
    """Read a dump (path, "-" or a binary stream) once, keeping the first `limit` rows of each
    table in a ContentSampler. Tables already sampled are skipped through `want` (their data is
    split into lines but not decoded)."""
    from dumpmask.rows import DumpRows

    d = DumpRows(inp, dialect, source)
    smp = Sample(dialect=d.dialect)
    rows = smp.rows

    def want(key) -> bool:
        return limit > 0 and rows.get(key, 0) < limit

    try:
        for key, cols, vals, _line in d.rows(want):
            n = rows.get(key, 0)
            if n >= limit:
                continue  # the rest of a block that began before the table was full
            rows[key] = n + 1
            s = smp.samplers.get(key)
            if s is None:
                s = smp.samplers[key] = ContentSampler(limit=limit)
                smp.columns[key] = list(cols)
            schema = d.table(key)
            for c, v in zip(cols, vals):
                col = schema.column(c) if schema is not None else None
                s.add(c, v, col)
        smp.tables = {k: v for k, v in d.tables.items()}
    finally:
        d.close()
    for key in smp.columns:
        smp.tables.setdefault(key, None)
    return smp


# --------------------------------------------------------------------------- findings


def table_columns(schema: TableSchema | None, data_columns=None) -> list[Column]:
    """The columns to judge: the schema's (all of them, generated ones included), else the
    data statement's column list as untyped columns."""
    if schema is not None and schema.columns:
        return list(schema.columns)
    return [Column(name=c, kind="other") for c in (data_columns or ())]


def table_findings(key, schema: TableSchema | None, content: dict | None = None,
                   data_columns=None) -> dict[str, tuple[Column, Finding]]:
    """{column: (Column, Finding)} from the name (with the type) and the sampled content."""
    out = {}
    content = content or {}
    tname = key[1] if schema is None else schema.name
    for c in table_columns(schema, data_columns):
        nf = detect_by_name(c.name, c, tname)
        cf = content.get(c.name)
        f = combine(nf, cf)
        if f is not None:
            out[c.name] = (c, f)
    return out


def suggestion(f: Finding, col: Column) -> dict:
    return suggest_rule(f, col)


def scan(inp, dialect: str | None = None, sample: int = DEFAULT_SAMPLE, rules: RuleSet | None = None,
         template: str | None = None, source: str | None = None) -> tuple[list[dict], Sample]:
    """Scan a dump: a list of finding rows (dicts, see `dumpmask scan --json`) and the Sample."""
    smp = sample_dump(inp, dialect, sample, source)
    rules = rules or RuleSet()
    out = []
    for key in sorted(smp.tables, key=lambda k: (k[0] or "", k[1])):
        schema = smp.tables[key]
        found = table_findings(key, schema, smp.content_findings(key), smp.columns.get(key))
        if not found:
            continue
        explicit = explicit_rules(rules, key, list(found), smp.dialect)
        for cname, (col, f) in found.items():
            if template and not in_template(f, template):
                continue
            cr = explicit.get(cname)
            sug = suggestion(f, col)
            out.append({
                "table": qualname(key),
                "column": cname,
                "type": col.type or col.kind,
                "category": f.category,
                "also": list(f.also),
                "evidence": f.evidence,
                "share": round(f.share, 3) if f.share is not None else None,
                "review": f.review,
                "covered_by": ({"mutation": cr.mutation, "where": cr.where} if cr is not None else None),
                "suggested": sug["mutation"],
                "suggested_options": sug.get("options", {}),
            })
    return out, smp


# --------------------------------------------------------------------------- rules files


def _snippet_tables(rows: list[dict]) -> list[tuple[str, dict]]:
    """[(qualified table, {"tableName", "columnMutations"})] for finding rows (dicts with table,
    column, suggested, suggested_options, category, evidence). tableName is the bare name unless
    two schemas hold a table of that name."""
    schemas: dict[str, set] = {}
    for r in rows:
        schemas.setdefault(r["table"].split(".")[-1], set()).add(r["table"])
    by_table: dict[str, list] = {}
    for r in rows:
        cm = {"column": r["column"], "mutation": r["suggested"]}
        if r.get("suggested_options"):
            cm["options"] = r["suggested_options"]
        cm["description"] = f"{r['category']} ({r['evidence']})" + ("; review" if r.get("review") else "")
        by_table.setdefault(r["table"], []).append(cm)
    out = []
    for qual, cms in by_table.items():
        bare = qual.split(".")[-1]
        out.append((qual, {"tableName": bare if len(schemas[bare]) == 1 else qual, "columnMutations": cms}))
    return out


def rules_snippet(rows: list[dict]) -> list[dict]:
    """Table objects of our rules format to paste into a rules file's "tables" list."""
    return [t for _, t in _snippet_tables(rows)]


def build_rules_document(rows: list[dict], rules: RuleSet | None, rules_doc, template: str | None,
                         dialect: str = "postgres") -> dict:
    """A ready rules file: the given rules (if any) plus a suggested rule for every finding
    they do not cover. A template that covers identifiers (hipaa, gdpr, all) turns identifier
    remapping on, with inferKeys."""
    import copy

    uncovered = [r for r in rows if r["covered_by"] is None]
    if isinstance(rules_doc, list):
        doc = {"tables": copy.deepcopy(rules_doc)}
    elif isinstance(rules_doc, dict):
        doc = copy.deepcopy(rules_doc)
        doc.setdefault("tables", [])
    else:
        doc = {"tables": []}
    tables = doc["tables"]
    for qual, snip in _snippet_tables(uncovered):
        schema, _, name = qual.rpartition(".")
        target = None
        if rules is not None:
            hits = [i for i, tr in enumerate(rules.tables) if tr.table.matches(schema or None, name, dialect)]
            if len(hits) == 1 and hits[0] < len(tables) and isinstance(tables[hits[0]], dict):
                target = tables[hits[0]]
        if target is not None:
            target.setdefault("columnMutations", []).extend(snip["columnMutations"])
        else:
            tables.append(snip)
    from dumpmask.detect import TEMPLATES

    if template and "HIPAA-18 unique identifier" in TEMPLATES.get(template, ()):
        # the template covers identifiers: remap every declared key, and link the columns that
        # are named like a reference to one but no foreign key declares (inferKeys)
        opts = doc.setdefault("options", {})
        if not opts.get("identifierRemapping"):
            opts["identifierRemapping"] = {"enabled": True, "strategy": "auto", "inferKeys": True}
    return doc


def format_table(rows: list[dict], with_rules: bool) -> str:
    """The human table printed by `dumpmask scan`."""
    head = ["TABLE", "COLUMN", "TYPE", "CATEGORY", "EVIDENCE", "COVERED BY" if with_rules else "SUGGESTED"]
    lines = []
    for r in rows:
        if r["covered_by"] is not None:
            rule = f"{r['covered_by']['mutation']} ({r['covered_by']['where']})"
        else:
            opts = r.get("suggested_options") or {}
            o = " " + ",".join(f"{k}={v}" for k, v in opts.items()) if opts else ""
            rule = ("NOT COVERED, suggest " if with_rules else "") + r["suggested"] + o
        if r.get("review"):
            rule += "  [review]"
        cat = r["category"] + (f" (+{', '.join(r['also'])})" if r.get("also") else "")
        lines.append([r["table"], r["column"], r["type"], cat, r["evidence"], rule])
    if not lines:
        return "no personal data detected"
    widths = [max(len(str(x[i])) for x in [head] + lines) for i in range(len(head) - 1)]
    out = []
    for row in [head] + lines:
        out.append("  ".join(str(v).ljust(w) for v, w in zip(row[:-1], widths)) + "  " + str(row[-1]))
    n_unc = sum(1 for r in rows if r["covered_by"] is None)
    out.append("")
    out.append(f"{len(rows)} column(s) with personal data" + (f", {n_unc} not covered by the rules" if with_rules else ""))
    return "\n".join(out)
