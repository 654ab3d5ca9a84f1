"""`dumpmask scan`: every column of a dump that holds personal data, by name and by content.

* by name: every column of every CREATE TABLE (detect.detect_by_name);
* by content: the first N rows of each table (bounded: once a table has N rows sampled, its
  later data statements are skipped without decoding them; see `sample_dump`).

The same functions serve the `Detection` extension (features/detection.py) for --template and
--strict, so `scan` shows exactly what a masking run would do.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from dumpmask.detect import (REMAPPING_TEMPLATES, ContentSampler, Finding, combine, detect_by_name, fit_rule,
                             in_template, normalise, suggest_rule)
from dumpmask.rules import ColumnRule, NamePattern, RuleSet
from dumpmask.schema import Column, TableSchema, _split_qual, unique_columns

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


def explicit_rules(rules: RuleSet, key, columns, dialect: str, table_rules=None) -> dict[str, ColumnRule]:
    """{column: the rule of the rules file that names it} for one table's columns.
    `table_rules`: the table's rules when the caller knows them better (a partition inherits
    its partitioned parent's rules: engine.table_rules)."""
    out: dict[str, ColumnRule] = {}
    for tr in (table_rules if table_rules is not None else rules.for_table(key[0], key[1], dialect)):
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
                   data_columns=None, lookup=None) -> dict[str, tuple[Column, Finding]]:
    """{column: (Column, Finding)} from the name (with the type) and the sampled content.

    A finding on a key column (PRIMARY KEY or FOREIGN KEY member; or a loose key: `<table>_id`
    with no FK, of the type of that table's one-column primary key, found through
    `lookup(schema, table_name) -> TableSchema | None`) resolves to remapping: suggested "key"
    (with a `domain` for a loose key), `Finding.key` says why. Never a value mutation: it
    would break the joins, the FKs and the restore."""
    out = {}
    content = content or {}
    tname = key[1] if schema is None else schema.name
    for c in table_columns(schema, data_columns):
        nf = detect_by_name(c.name, c, tname)
        cf = content.get(c.name)
        f = combine(nf, cf)
        if f is not None:
            role = key_role(key, schema, c, lookup)
            if role is not None:
                why, domain = role
                f = replace(f, suggested="key", suggested_options={"domain": domain} if domain else {}, key=why)
            out[c.name] = (c, f)
    return out


def _partition_root(tables: dict, key):
    """The partitioned table at the top of a partition's chain (the key itself otherwise)."""
    seen = set()
    while key not in seen:
        seen.add(key)
        s = tables.get(key)
        parent = getattr(s, "partition_of", None) if s is not None else None
        if not parent:
            return key
        parent = tuple(parent) if not isinstance(parent, str) else (key[0], parent)
        hit = parent if parent in tables else next((k for k in tables if k[1] == parent[1] and
                                                     (k[0] is None or parent[0] is None)), None)
        if hit is None:
            return key
        key = hit
    return key


def key_role(key, schema: TableSchema | None, col: Column, lookup=None) -> tuple[str, str | None] | None:
    """(why, domain) when the column is a key: ("primary key", None), ("foreign key to t(c)",
    None), ("loose key to t.c", "t.c"); else None."""
    if schema is None:
        return None
    for fk in schema.foreign_keys:
        if col.name in fk.columns:
            return f"foreign key to {fk.ref_table}({', '.join(fk.ref_columns)})", None
    if col.name in schema.primary_key:
        return "primary key", None
    if lookup is None:
        return None
    toks = normalise(col.name)
    if len(toks) < 2 or toks[-1] != "id":
        return None
    stem = "_".join(toks[:-1])
    for cand in dict.fromkeys((stem, stem + "s", stem + "es", stem[:-1] + "ies" if stem.endswith("y") else stem)):
        parent = lookup(key[0], cand)
        if parent is None or len(parent.primary_key) != 1:
            continue
        pk = parent.column(parent.primary_key[0])
        if pk is None or not _same_key_kind(pk, col):
            continue
        return f"loose key to {parent.name}.{pk.name} (no FOREIGN KEY; same type as its primary key)", \
            f"{parent.name}.{pk.name}"
    return None


def _same_key_kind(a: Column, b: Column) -> bool:
    if a.kind == "int" and b.kind == "int":
        return True
    return a.kind == b.kind and a.kind in ("uuid", "text", "numeric")


def unique_column(schema: TableSchema | None, name: str) -> bool:
    return schema is not None and name in unique_columns(schema)


def suggestion(f: Finding, col: Column, schema: TableSchema | None = None, dialect: str | None = None) -> dict:
    """The rule a finding gets: a type-fitted mutation that restores (detect.fit_rule), injective
    when the column is in a PRIMARY KEY / UNIQUE constraint / unique index."""
    return fit_rule(f, col, unique_column(schema, col.name), dialect)


def lookup_in(tables: dict):
    """A `lookup(schema, name)` over {key: TableSchema | None}: the table of that name in the
    same schema, else the only one of that name."""
    by_name: dict = {}
    for k, v in tables.items():
        if v is not None:
            by_name.setdefault(k[1].lower(), []).append((k, v))

    def lookup(schema, name):
        hits = by_name.get(name.lower(), [])
        same = [v for k, v in hits if k[0] == schema]
        if same:
            return same[0]
        return hits[0][1] if len(hits) == 1 else None

    return lookup


def scan(inp, dialect: str | None = None, sample: int = DEFAULT_SAMPLE, rules: RuleSet | None = None,
         template: str | None = None, source: str | None = None) -> tuple[list[dict], Sample]:
    """Scan a dump: a list of finding rows (dicts, see `dumpmask scan --json`) and the Sample."""
    smp = sample_dump(inp, dialect, sample, source)
    rules = rules or RuleSet()
    out = []
    lookup = lookup_in(smp.tables)
    seen: set = set()
    for key in sorted(smp.tables, key=lambda k: (_partition_root(smp.tables, k) != k, k[0] or "", k[1])):
        schema = smp.tables[key]
        found = table_findings(key, schema, smp.content_findings(key), smp.columns.get(key), lookup)
        if not found:
            continue
        # a partition's rows are masked by its partitioned table's rules (pg_dump writes the data
        # per partition): report and suggest every finding once, on the root table
        root = _partition_root(smp.tables, key)
        rschema = smp.tables.get(root) or schema
        explicit = explicit_rules(rules, root, list(found), smp.dialect)
        if root != key:
            for c, cr in explicit_rules(rules, key, list(found), smp.dialect).items():
                explicit.setdefault(c, cr)
        for cname, (col, f) in found.items():
            if (root, cname) in seen:
                continue
            seen.add((root, cname))
            if template and not in_template(f, template):
                continue
            cr = explicit.get(cname)
            uniq = unique_column(rschema, cname) or unique_column(schema, cname)
            sug = fit_rule(f, col, uniq, smp.dialect)
            out.append({
                "table": qualname(root),
                "table_key": [root[0], root[1]],
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
                "key": f.key,
                "unique": uniq,
                "no_fit": bool(sug.get("review")) and sug["mutation"] == "keep",
            })
    return out, smp


# --------------------------------------------------------------------------- rules files


_PLAIN_PG = re.compile(r"[a-z_][a-z0-9_$]*\Z")
_PLAIN_MY = re.compile(r"[^.\"`]+\Z")


def rule_name(name: str, dialect: str = "postgres") -> str:
    """A name as a rules file must spell it to match exactly this table or column: bare when
    the server would fold it to itself (PostgreSQL: lower-case ASCII letters, digits, _ and $;
    MySQL compares names case-insensitively, so only a dot or a quote needs quoting), else
    double-quoted with "" inside (backquoted for MySQL)."""
    if dialect == "mysql":
        return name if _PLAIN_MY.match(name) else "`" + name.replace("`", "``") + "`"
    return name if _PLAIN_PG.match(name) else '"' + name.replace('"', '""') + '"'


def _row_key(r: dict):
    k = r.get("table_key")
    if k:
        return (k[0], k[1])
    schema, _, name = r["table"].rpartition(".")
    return (schema or None, name)


def _snippet_tables(rows: list[dict], dialect: str = "postgres") -> list[tuple[str, dict]]:
    """[(qualified table, {"tableName", "columnMutations"})] for finding rows (dicts with table,
    column, suggested, suggested_options, category, evidence; table_key [schema, name] when
    known). tableName is the bare name unless two schemas hold a table of that name; names are
    quoted where the rules file needs it (rule_name)."""
    schemas: dict[str, set] = {}
    for r in rows:
        k = _row_key(r)
        schemas.setdefault(k[1], set()).add(k)
    by_table: dict[str, list] = {}
    keys: dict[str, tuple] = {}
    for r in rows:
        keys[r["table"]] = _row_key(r)
        cm = {"column": rule_name(r["column"], dialect), "mutation": r["suggested"]}
        if r.get("suggested_options"):
            cm["options"] = r["suggested_options"]
        desc = f"{r['category']} ({r['evidence']})" + (f"; {r['note']}" if r.get("note") else "")
        if r.get("key"):
            desc += f"; a key ({r['key']}): remapped"
        if r.get("no_fit"):
            desc += f"; no mutation restores into {r.get('type') or 'this type'}: kept in clear, review"
        cm["description"] = desc + ("; review" if r.get("review") else "")
        by_table.setdefault(r["table"], []).append(cm)
    out = []
    for qual, cms in by_table.items():
        sch, bare = keys[qual]
        name = rule_name(bare, dialect)
        if len(schemas[bare]) > 1 and sch:
            name = rule_name(sch, dialect) + "." + name
        out.append((qual, {"tableName": name, "columnMutations": cms}))
    return out


def rules_snippet(rows: list[dict], dialect: str = "postgres") -> list[dict]:
    """Table objects of our rules format to paste into a rules file's "tables" list."""
    return [t for _, t in _snippet_tables(rows, dialect)]


def _loose_links(tables: dict, declared: set) -> list:
    """[(column node, key node)] the way identifier remapping's inferKeys links them."""
    from dumpmask.features.keys import loose_key_candidates

    schemas = [(k, s) for k, s in tables.items() if s is not None]
    return [(n, (tkey, pk.name)) for n, tkey, pk, _ in
            loose_key_candidates(schemas, skip=lambda k, c: (k, c) in declared)]


def partition_key_keeps(tables: dict, rows: list[dict]) -> list[dict]:
    """Rows for `keep` rules on the key columns identifier remapping must leave alone: a column
    in a PARTITION BY key that is a key (in the PRIMARY KEY or a UNIQUE constraint, referenced
    by a FOREIGN KEY, or itself a FOREIGN KEY column), and every column linked to it by foreign
    keys, in either direction (remapping keeps a whole key domain together, so it leaves the
    whole domain alone; --strict wants that acknowledged). A column with a finding keeps its
    own rule, unless that rule is remapping (which will not happen here): then it gets the keep."""
    by_node = {}
    for r in rows:
        by_node.setdefault((tuple(r.get("table_key") or ()), r["column"]), []).append(r)
    lookup = lookup_in(tables)
    adj: dict = {}

    def link(a, b):
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)

    fk_cols = set()
    for k, s in tables.items():
        if s is None:
            continue
        for fk in s.foreign_keys:
            sch, name = _split_qual(fk.ref_table, True)
            parent = lookup(sch or k[0], name)
            if parent is not None:
                for a, b in zip(fk.columns, fk.ref_columns):
                    link((k, a), ((parent.schema, parent.name), b))
                    fk_cols.add((k, a))
    # loose keys: the rules written turn inferKeys on, so remapping links them too
    for child, key in _loose_links(tables, fk_cols):
        link(child, key)
    seeds = []
    for k, s in tables.items():
        pb = getattr(s, "partition_by", None) if s is not None else None
        if not pb or s.partition_of:
            continue
        keyish = set(unique_columns(s))
        for c in pb[1]:
            if c in keyish or (k, c) in adj:
                seeds.append(((k, c), pb[0], k))
    out, seen = [], set()
    for seed, strategy, pk in seeds:
        stack = [seed]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(adj.get(node, ()))
            tk, tc = node
            s = tables.get(tk)
            if s is not None and s.partition_of:
                continue  # a partition: the keep on its partitioned table covers it
            found = by_node.get(node)
            if found and not all(r["suggested"] == "key" and r["covered_by"] is None
                                 and not (r.get("suggested_options") or {}).get("domain") for r in found):
                continue
            out.append({"table": qualname(tk), "table_key": [tk[0], tk[1]], "column": tc, "suggested": "keep",
                        "suggested_options": {}, "covered_by": None, "review": False,
                        "category": "partition key", "evidence": f"PARTITION BY {strategy} of {qualname(pk)}",
                        "note": "kept: in (or linked by foreign keys to) a partition key; a remapped value "
                                "would no longer fit its partition"})
    return out


def build_rules_document(rows: list[dict], rules: RuleSet | None, rules_doc, template: str | None,
                         dialect: str = "postgres", tables: dict | None = None) -> dict:
    """A ready rules file: the given rules (if any) plus a suggested rule for every finding
    they do not cover (rules that restore: detect.fit_rule). Findings on declared keys are
    covered by identifier remapping, which the document turns on (as do the templates that
    cover identifiers, detect.REMAPPING_TEMPLATES); a loose key gets a `key` rule with the
    domain it joins; with `identifierRemapping.enabled: false` in the given rules every key
    finding gets a `key` rule instead."""
    import copy

    uncovered = [r for r in rows if r["covered_by"] is None]
    opts0 = rules_doc.get("options") if isinstance(rules_doc, dict) else None
    rem0 = (opts0 or {}).get("identifierRemapping") if isinstance(opts0, dict) else None
    remap_off = isinstance(rem0, dict) and rem0.get("enabled") is False
    # declared keys (PK/FK) are covered by turning remapping on; a loose key needs its `key`
    # rule (with the domain it joins); with remapping explicitly off, every key gets one
    keys = [r for r in uncovered if r["suggested"] == "key"]
    uncovered = [r for r in uncovered if r["suggested"] != "key"
                 or remap_off or r.get("suggested_options", {}).get("domain")]
    if tables and (template in REMAPPING_TEMPLATES or keys) and not remap_off:
        have = set()
        if rules is not None:
            for r in partition_key_keeps(tables, []):
                k = tuple(r["table_key"])
                if explicit_rules(rules, k, [r["column"]], dialect):
                    have.add((k, r["column"]))
        uncovered += [r for r in partition_key_keeps(tables, rows) if (tuple(r["table_key"]), r["column"]) not in have]
    if isinstance(rules_doc, list):
        doc = {"tables": copy.deepcopy(rules_doc)}
    elif isinstance(rules_doc, dict):
        doc = copy.deepcopy(rules_doc)
        doc.setdefault("tables", [])
    else:
        doc = {"tables": []}
    tables = doc["tables"]
    tkeys = {r["table"]: _row_key(r) for r in uncovered}
    for qual, snip in _snippet_tables(uncovered, dialect):
        schema, name = tkeys[qual]
        target = None
        if rules is not None:
            hits = [i for i, tr in enumerate(rules.tables) if tr.table.matches(schema or None, name, dialect)]
            if len(hits) == 1 and hits[0] < len(tables) and isinstance(tables[hits[0]], dict):
                target = tables[hits[0]]
        if target is not None:
            target.setdefault("columnMutations", []).extend(snip["columnMutations"])
        else:
            tables.append(snip)
    if (template in REMAPPING_TEMPLATES or keys) and not remap_off:
        opts = doc.setdefault("options", {})
        rem = opts.get("identifierRemapping")
        if not isinstance(rem, dict):
            rem = opts["identifierRemapping"] = {"enabled": True, "strategy": "auto"}
        elif not rem.get("enabled"):
            rem["enabled"] = True
        # loose keys (<table>_id columns no FK declares) joined to the key they name, so their
        # joins survive (and --strict, which refuses them unlinked, passes)
        from dumpmask.rules import _REMAP_KEYS

        if "inferKeys" in _REMAP_KEYS:
            rem.setdefault("inferKeys", True)
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
