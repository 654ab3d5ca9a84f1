"""`dumpmask scan`: every column of a dump that holds personal data, by name and by content.

* by name: every column of every CREATE TABLE (detect.detect_by_name);
* by content: the first N rows of each table (bounded: once a table has N rows sampled, its
  later data statements are skipped without decoding them; see coverage.sample_rows).

The findings come from the library the `Detection` stage (features/detection.py) uses for
--template and --strict (dumpmask.coverage), so `scan` shows exactly what a masking run would
do. This module adds the scan's own output: finding rows, rules files, the human table.
"""
from __future__ import annotations

import copy

from dumpmask.coverage import (DEFAULT_SAMPLE, Sample, explicit_rules, lookup_in, row_key, rule_name, snippet_tables,
                               table_findings, unique_column)
from dumpmask.detect import REMAPPING_TEMPLATES, fit_rule, in_template
from dumpmask.features.keys import _strategy_for
from dumpmask.rows import sample_dump
from dumpmask.idents import display_name, read_table_name
from dumpmask.rules import _REMAP_KEYS, RuleSet
from dumpmask.schema import unique_columns


def _partition_root(tables: dict, key):
    """The partitioned table at the top of a partition's chain (the key itself otherwise)."""
    seen = set()
    while key not in seen:
        seen.add(key)
        schema = tables.get(key)
        parent = getattr(schema, "partition_of", None) if schema is not None else None
        if not parent:
            return key
        parent = tuple(parent) if not isinstance(parent, str) else (key[0], parent)
        hit = parent if parent in tables else next((k for k in tables if k[1] == parent[1] and
                                                     (k[0] is None or parent[0] is None)), None)
        if hit is None:
            return key
        key = hit
    return key


def scan(inp, dialect: str | None = None, sample: int = DEFAULT_SAMPLE, rules: RuleSet | None = None,
         template: str | None = None, source: str | None = None) -> tuple[list[dict], Sample]:
    """Scan a dump: a list of finding rows (dicts, see `dumpmask scan --json`) and the Sample."""
    sampled = sample_dump(inp, dialect, sample, source)
    rules = rules or RuleSet()
    tables = sampled.tables
    out = []
    lookup = lookup_in(tables)
    seen: set = set()
    for key in sorted(tables, key=lambda k: (_partition_root(tables, k) != k, k[0] or "", k[1])):
        schema = tables[key]
        found = table_findings(key, schema, sampled.content_findings(key), sampled.columns.get(key), lookup)
        if not found:
            continue
        # a partition's rows are masked by its partitioned table's rules (pg_dump writes the data
        # per partition): report and suggest every finding once, on the root table
        root = _partition_root(tables, key)
        root_schema = tables.get(root) or schema
        explicit = explicit_rules(rules, root, list(found), sampled.dialect)
        if root != key:
            for column_name, column_rule in explicit_rules(rules, key, list(found), sampled.dialect).items():
                explicit.setdefault(column_name, column_rule)
        for column_name, (column, finding) in found.items():
            if (root, column_name) in seen:
                continue
            seen.add((root, column_name))
            if template and not in_template(finding, template):
                continue
            unique = unique_column(root_schema, column_name) or unique_column(schema, column_name)
            out.append(_finding_row(root, column, finding, explicit.get(column_name), unique, sampled.dialect))
    return out, sampled


def _finding_row(root, column, finding, column_rule, unique: bool, dialect: str) -> dict:
    """One row of `dumpmask scan --json`: a finding on a column of table `root`, the rule that
    covers it (None) and the rule suggested for it."""
    suggested = fit_rule(finding, column, unique, dialect)
    return {
        "table": display_name(root),
        "table_key": [root[0], root[1]],
        "column": column.name,
        "type": column.type or column.kind,
        "category": finding.category,
        "also": list(finding.also),
        "evidence": finding.evidence,
        "share": round(finding.share, 3) if finding.share is not None else None,
        "review": finding.review,
        "covered_by": ({"mutation": column_rule.mutation, "where": column_rule.where} if column_rule is not None else None),
        "suggested": suggested["mutation"],
        "suggested_options": suggested.get("options", {}),
        "key": finding.key,
        "unique": unique,
        "no_fit": bool(suggested.get("review")) and suggested["mutation"] == "keep",
    }


# --------------------------------------------------------------------------- rules files


def _loose_links(tables: dict, declared: set) -> list:
    """[(column node, key node)] the way identifier remapping's inferKeys links them."""
    from dumpmask.features.keys import loose_key_candidates

    schemas = [(k, s) for k, s in tables.items() if s is not None]
    return [(node, (table_key, pk.name)) for node, table_key, pk, _ in
            loose_key_candidates(schemas, skip=lambda k, c: (k, c) in declared)]


def _key_graph(tables: dict, dialect: str) -> tuple[dict, set]:
    """({(table key, column): {linked nodes}}, FOREIGN KEY column nodes): every FOREIGN KEY of
    the schemas (TableSchema.foreign_keys, the referenced table found by name as remapping
    finds it), both ways, plus the loose keys remapping's inferKeys links."""
    lookup = lookup_in(tables)
    links: dict = {}

    def link(a, b):
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)

    fk_columns = set()
    for key, schema in tables.items():
        if schema is None:
            continue
        for fk in schema.foreign_keys:
            ref = read_table_name(fk.ref_table, 0, dialect)
            ref_schema, ref_name = ref[0] if ref is not None else (None, "")
            parent = lookup(ref_schema or key[0], ref_name)
            if parent is not None:
                for column, ref_column in zip(fk.columns, fk.ref_columns or parent.primary_key, strict=False):
                    link((key, column), ((parent.schema, parent.name), ref_column))
                    fk_columns.add((key, column))
    # loose keys: the rules written turn inferKeys on, so remapping links them too
    for child, parent in _loose_links(tables, fk_columns):
        link(child, parent)
    return links, fk_columns


def _partition_key_seeds(tables: dict, links: dict) -> list:
    """[(node, strategy, partitioned table key)]: the columns of a PARTITION BY key that are
    keys (PRIMARY KEY / UNIQUE members, or linked by a foreign key)."""
    seeds = []
    for key, schema in tables.items():
        partition_by = getattr(schema, "partition_by", None) if schema is not None else None
        if not partition_by or schema.partition_of:
            continue
        keyish = set(unique_columns(schema))
        for column in partition_by[1]:
            if column in keyish or (key, column) in links:
                seeds.append(((key, column), partition_by[0], key))
    return seeds


def partition_key_keeps(tables: dict, rows: list[dict], dialect: str = "postgres") -> list[dict]:
    """Rows for `keep` rules on the key columns identifier remapping must leave alone: a column
    in a PARTITION BY key that is a key (in the PRIMARY KEY or a UNIQUE constraint, referenced
    by a FOREIGN KEY, or itself a FOREIGN KEY column), and every column linked to it by foreign
    keys, in either direction (remapping keeps a whole key domain together, so it leaves the
    whole domain alone; --strict wants that acknowledged). A column with a finding keeps its
    own rule, unless that rule is remapping (which will not happen here): then it gets the keep."""
    rows_of_node = {}
    for row in rows:
        rows_of_node.setdefault((tuple(row.get("table_key") or ()), row["column"]), []).append(row)
    links, _fk_columns = _key_graph(tables, dialect)
    out, seen = [], set()
    for seed, strategy, partitioned in _partition_key_seeds(tables, links):
        stack = [seed]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(links.get(node, ()))
            table_key, column = node
            schema = tables.get(table_key)
            if schema is not None and schema.partition_of:
                continue  # a partition: the keep on its partitioned table covers it
            found = rows_of_node.get(node)
            if found and not all(r["suggested"] == "key" and r["covered_by"] is None
                                 and not (r.get("suggested_options") or {}).get("domain") for r in found):
                continue
            out.append({"table": display_name(table_key), "table_key": [table_key[0], table_key[1]], "column": column,
                        "suggested": "keep", "suggested_options": {}, "covered_by": None, "review": False,
                        "category": "partition key", "evidence": f"PARTITION BY {strategy} of {display_name(partitioned)}",
                        "note": "kept: in (or linked by foreign keys to) a partition key; a remapped value "
                                "would no longer fit its partition"})
    return out


def _remapping_off(rules_doc) -> bool:
    """The given rules document turns identifier remapping off explicitly."""
    options = rules_doc.get("options") if isinstance(rules_doc, dict) else None
    remapping = (options or {}).get("identifierRemapping") if isinstance(options, dict) else None
    return isinstance(remapping, dict) and remapping.get("enabled") is False


def _start_document(rules_doc) -> dict:
    """A copy of the given rules document (a list of tables, a document, or nothing)."""
    if isinstance(rules_doc, list):
        return {"tables": copy.deepcopy(rules_doc)}
    if isinstance(rules_doc, dict):
        doc = copy.deepcopy(rules_doc)
        doc.setdefault("tables", [])
        return doc
    return {"tables": []}


def _add_suggestions(doc: dict, rows: list[dict], rules: RuleSet | None, dialect: str) -> None:
    """The suggested rules of `rows`, added to the document's table entry of their table when
    exactly one names it, else as a new table entry."""
    tables = doc["tables"]
    table_keys = {r["table"]: row_key(r) for r in rows}
    for qual, snippet in snippet_tables(rows, dialect):
        schema, name = table_keys[qual]
        target = None
        if rules is not None:
            hits = [i for i, tr in enumerate(rules.tables) if tr.table.matches(schema or None, name, dialect)]
            if len(hits) == 1 and hits[0] < len(tables) and isinstance(tables[hits[0]], dict):
                target = tables[hits[0]]
        if target is not None:
            target.setdefault("columnMutations", []).extend(snippet["columnMutations"])
        else:
            tables.append(snippet)


def _turn_remapping_on(doc: dict) -> None:
    options = doc.setdefault("options", {})
    remapping = options.get("identifierRemapping")
    if not isinstance(remapping, dict):
        remapping = options["identifierRemapping"] = {"enabled": True, "strategy": "auto"}
    elif not remapping.get("enabled"):
        remapping["enabled"] = True
    # loose keys (<table>_id columns no FK declares) joined to the key they name, so their
    # joins survive (and --strict, which refuses them unlinked, passes)
    if "inferKeys" in _REMAP_KEYS:
        remapping.setdefault("inferKeys", True)


def build_rules_document(rows: list[dict], rules: RuleSet | None, rules_doc, template: str | None,
                         dialect: str = "postgres", tables: dict | None = None) -> dict:
    """A ready rules file: the given rules (if any) plus a suggested rule for every finding
    they do not cover (rules that restore: detect.fit_rule). Findings on declared keys are
    covered by identifier remapping, which the document turns on (as do the templates that
    cover identifiers, detect.REMAPPING_TEMPLATES); a loose key gets a `key` rule with the
    domain it joins; with `identifierRemapping.enabled: false` in the given rules every key
    finding gets a `key` rule instead."""
    uncovered = [r for r in rows if r["covered_by"] is None]
    remap_off = _remapping_off(rules_doc)
    # declared keys (PK/FK) are covered by turning remapping on; a loose key needs its `key`
    # rule (with the domain it joins); with remapping explicitly off, every key gets one
    keys = [r for r in uncovered if r["suggested"] == "key"]
    uncovered = [r for r in uncovered if r["suggested"] != "key"
                 or remap_off or r.get("suggested_options", {}).get("domain")]
    remapping = (template in REMAPPING_TEMPLATES or keys) and not remap_off
    if tables and remapping:
        have = set()
        if rules is not None:
            for r in partition_key_keeps(tables, [], dialect):
                key = tuple(r["table_key"])
                if explicit_rules(rules, key, [r["column"]], dialect):
                    have.add((key, r["column"]))
        uncovered += [r for r in partition_key_keeps(tables, rows, dialect)
                      if (tuple(r["table_key"]), r["column"]) not in have]
    doc = _start_document(rules_doc)
    _add_suggestions(doc, uncovered, rules, dialect)
    if remapping:
        _turn_remapping_on(doc)
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
        out.append("  ".join(str(v).ljust(w) for v, w in zip(row[:-1], widths, strict=True)) + "  " + str(row[-1]))
    n_unc = sum(1 for r in rows if r["covered_by"] is None)
    out.append("")
    out.append(f"{len(rows)} column(s) with personal data" + (f", {n_unc} not covered by the rules" if with_rules else ""))
    return "\n".join(out)


# --------------------------------------------------------------------------- rules init / diff
# `dumpmask rules init`: every table with a CREATE TABLE in the dump and every one of its data
# columns, each named: detected personal data with the rule scan suggests (one that restores),
# declared keys through identifier remapping, everything else `keep`; and "unlisted": "fail", so
# a column added later stops the run instead of flowing in clear. `dumpmask rules diff`: the
# columns of the dump no rule names (added since the rules were written; exit 1 when there are
# any) and the rules that name a table or column the dump does not have (removed).

def _data_columns(sampled) -> list[tuple[tuple, object, list[str]]]:
    """[(table key, TableSchema, its data columns)] of every non-partition table with a schema,
    in the order scan reports them (partitions are masked by their partitioned table's rules)."""
    tables = sampled.tables
    out = []
    for key in sorted(tables, key=lambda k: (k[0] or "", k[1])):
        schema = tables[key]
        if schema is None or not schema.columns or _partition_root(tables, key) != key:
            continue
        out.append((key, schema, schema.data_columns()))
    return out


def rules_init_document(inp, dialect: str | None = None, sample: int = 100, source: str | None = None) -> tuple[dict, dict]:
    """(rules document, summary) for `rules init`: summary counts tables, columns, detected,
    keys and kept columns."""
    findings, sampled = scan(inp, dialect, sample, None, None, source)
    found = {(tuple(r["table_key"]), r["column"]) for r in findings}
    rows = list(findings)
    kept = 0
    order = {}
    # with keys among the findings the file turns identifier remapping on: a `keep` on a key
    # column would opt its whole domain out, so remappable key columns get no rule (remapping
    # names them); without it, they are kept like any other column
    remapping = any(r["suggested"] == "key" for r in findings)
    links, _ = _key_graph(sampled.tables, sampled.dialect)
    for key, schema, columns in _data_columns(sampled):
        keys = set(schema.primary_key) | {c for fk in schema.foreign_keys for c in fk.columns} | {
            c for c in columns if (key, c) in links}
        for c in columns:
            order[(key, c)] = len(order)
            if (key, c) in found:
                continue
            col = schema.column(c)
            if remapping and c in keys and col is not None and _strategy_for(col) and col.kind not in ("timestamp", "date"):
                continue
            kept += 1
            row = {"table": display_name(key), "table_key": [key[0], key[1]], "column": c,
                   "type": schema.column(c).type if schema.column(c) else None, "suggested": "keep",
                   "category": "no personal data detected", "evidence": "name and sampled content",
                   "covered_by": None}
            if c in keys:
                row["note"] = ("a key: kept; to remap keys instead, set options.identifierRemapping.enabled "
                               "and delete this rule")
            rows.append(row)
    # the rules in the order of the tables and their columns
    rows.sort(key=lambda r: order.get((tuple(r["table_key"]), r["column"]), len(order)))
    doc = build_rules_document(rows, None, None, None, sampled.dialect, sampled.tables)
    doc.setdefault("options", {})["unlisted"] = "fail"
    doc = {"description": "Written by dumpmask rules init: every column of every table is named. "
                          "Review each rule; columns added later fail the run (options.unlisted).", **doc}
    summary = {"tables": len(_data_columns(sampled)), "detected": len(findings),
               "keys": sum(1 for r in findings if r["suggested"] == "key"), "kept": kept,
               "dialect": sampled.dialect}
    return doc, summary


def rules_diff(rules: RuleSet, inp, dialect: str | None = None, source: str | None = None) -> dict:
    """{"added": [{table, column, type}], "removed": [{table, column, rule}], "dialect"}:
    columns of the dump no rule names (a key column counts as named when the rules turn
    identifier remapping on), and rules whose table or column the dump does not have."""
    _, sampled = scan(inp, dialect, 0, rules, None, source)
    d = sampled.dialect
    remapping = bool(rules.remapping.get("enabled"))
    links, fk_columns = _key_graph(sampled.tables, d)
    if rules.remapping.get("inferKeys"):
        linked = set(links)      # loose keys (<table>_id columns) are remapped too
    else:
        linked = set(fk_columns) | {p for n in fk_columns for p in links.get(n, ())}
    added, matched = [], set()
    tables = _data_columns(sampled)
    for key, schema, columns in tables:
        explicit = explicit_rules(rules, key, columns, d)
        matched.update(id(cr) for cr in explicit.values())
        keys = set(schema.primary_key) | {c for c in columns if (key, c) in linked}
        for c in columns:
            if c in explicit or (remapping and c in keys):
                continue
            col = schema.column(c)
            added.append({"table": display_name(key), "column": c, "type": col.type if col else None})
    removed = []
    for tr in rules.tables:
        if not any(tr.table.matches(k[0], k[1], d) for k, _, _ in tables):
            removed.append({"table": tr.table.text or tr.table.name, "column": None, "rule": tr.where})
            continue
        for cr in tr.columns:
            if id(cr) not in matched:
                removed.append({"table": tr.table.text or tr.table.name,
                                "column": cr.column.text or rule_name(cr.column.name, d), "rule": cr.where})
    return {"dialect": d, "added": added, "removed": removed}
