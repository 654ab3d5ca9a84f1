"""Which columns of a dump hold personal data, and which rules cover them.

The library half of `dumpmask scan`, shared with the Detection stage (features/detection.py,
for --template and --strict), so `scan` shows exactly what a masking run would do:

* `explicit_rules`: the rules of a rules file that name a table's columns (the engine's own
  column matching, idents.column_named);
* `sample_rows`: a bounded content sample of the rows of a dump (the first N rows of each
  table; a table already full is skipped without decoding its data);
* `table_findings`: the findings of a table, by name (detect.detect_by_name) and by content,
  with key columns resolved to remapping (never a value mutation);
* `suggestion`: the rule a finding gets (detect.fit_rule, injective on a unique column);
* `rules_snippet`: rules-file table objects for a list of finding rows.

Nothing here reads a file: the dump is opened by the caller (rows.sample_dump, engine.sample_input).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from dumpmask.detect import ContentSampler, Finding, combine, detect_by_name, fit_rule, normalise
from dumpmask.idents import column_named
from dumpmask.rules import ColumnRule, RuleSet
from dumpmask.schema import Column, TableSchema, unique_columns
from dumpmask.lazy import lazy_pattern

DEFAULT_SAMPLE = 100


# --------------------------------------------------------------------------- rules matching


def explicit_rules(rules: RuleSet, key, columns, dialect: str, table_rules=None) -> dict[str, ColumnRule]:
    """{column: the rule of the rules file that names it} for one table's columns.
    `table_rules`: the table's rules when the caller knows them better (a partition inherits
    its partitioned parent's rules: engine.table_rules)."""
    out: dict[str, ColumnRule] = {}
    for table_rule in (table_rules if table_rules is not None else rules.for_table(key[0], key[1], dialect)):
        for column_rule in table_rule.columns:
            for column in columns:
                if column not in out and column_named(column_rule.column.name, column_rule.column.name_quoted,
                                                      column, dialect):
                    out[column] = column_rule
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
        sampler = self.samplers.get(key)
        return sampler.findings() if sampler is not None else {}


def sample_rows(dump_rows, limit: int = DEFAULT_SAMPLE) -> Sample:
    """Read an open dump (a rows.DumpRows: `.dialect`, `.rows(want)`, `.table(key)`, `.tables`)
    once, keeping the first `limit` rows of each table in a ContentSampler. Tables already
    sampled are skipped through `want` (their data is split into lines but not decoded). The
    caller closes `dump_rows`."""
    sample = Sample(dialect=dump_rows.dialect)
    rows_seen = sample.rows

    def want(key) -> bool:
        return limit > 0 and rows_seen.get(key, 0) < limit

    for key, columns, values, _line in dump_rows.rows(want):
        seen = rows_seen.get(key, 0)
        if seen >= limit:
            continue  # the rest of a block that began before the table was full
        rows_seen[key] = seen + 1
        sampler = sample.samplers.get(key)
        if sampler is None:
            sampler = sample.samplers[key] = ContentSampler(limit=limit)
            sample.columns[key] = list(columns)
        schema = dump_rows.table(key)
        for column, value in zip(columns, values, strict=False):
            sampler.add(column, value, schema.column(column) if schema is not None else None)
    sample.tables = dict(dump_rows.tables)
    for key in sample.columns:
        sample.tables.setdefault(key, None)
    return sample


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
    table_name = key[1] if schema is None else schema.name
    for column in table_columns(schema, data_columns):
        finding = combine(detect_by_name(column.name, column, table_name), content.get(column.name))
        if finding is not None:
            role = key_role(key, schema, column, lookup)
            if role is not None:
                why, domain = role
                finding = replace(finding, suggested="key", suggested_options={"domain": domain} if domain else {},
                                  key=why)
            out[column.name] = (column, finding)
    return out


def key_role(key, schema: TableSchema | None, col: Column, lookup=None) -> tuple[str, str | None] | None:
    """(why, domain) when the column is a key: ("primary key", None), ("foreign key to t(c)",
    None), ("loose key to t.c", "t.c"); else None."""
    if schema is None:
        return None
    for fk in schema.foreign_keys:
        if col.name in fk.columns:
            if not fk.ref_columns:
                return f"foreign key to {fk.ref_table} (its primary key)", None
            return f"foreign key to {fk.ref_table}({', '.join(fk.ref_columns)})", None
    if col.name in schema.primary_key:
        return "primary key", None
    if lookup is None:
        return None
    words = normalise(col.name)
    if len(words) < 2 or words[-1] != "id":
        return None
    stem = "_".join(words[:-1])
    for candidate in dict.fromkeys((stem, stem + "s", stem + "es", stem[:-1] + "ies" if stem.endswith("y") else stem)):
        parent = lookup(key[0], candidate)
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
    for key, schema in tables.items():
        if schema is not None:
            by_name.setdefault(key[1].lower(), []).append((key, schema))

    def lookup(schema_name, name):
        hits = by_name.get(name.lower(), [])
        same = [schema for key, schema in hits if key[0] == schema_name]
        if same:
            return same[0]
        return hits[0][1] if len(hits) == 1 else None

    return lookup


# --------------------------------------------------------------------------- rules snippets


_PLAIN_PG = lazy_pattern(globals(), "_PLAIN_PG", r"[a-z_][a-z0-9_$]*\Z")
_PLAIN_MY = lazy_pattern(globals(), "_PLAIN_MY", r"[^.\"`]+\Z")


def rule_name(name: str, dialect: str = "postgres") -> str:
    """A name as a rules file must spell it to match exactly this table or column: bare when
    the server would fold it to itself (PostgreSQL: lower-case ASCII letters, digits, _ and $;
    MySQL compares names case-insensitively, so only a dot or a quote needs quoting), else
    double-quoted with "" inside (backquoted for MySQL)."""
    if dialect == "mysql":
        return name if _PLAIN_MY.match(name) else "`" + name.replace("`", "``") + "`"
    return name if _PLAIN_PG.match(name) else '"' + name.replace('"', '""') + '"'


def row_key(row: dict):
    """The table key (schema or None, name) of a finding row."""
    key = row.get("table_key")
    if key:
        return (key[0], key[1])
    schema, _, name = row["table"].rpartition(".")
    return (schema or None, name)


def _column_mutation(row: dict, dialect: str) -> dict:
    """The rules-file column object of one finding row, its description saying why."""
    column_mutation = {"column": rule_name(row["column"], dialect), "mutation": row["suggested"]}
    if row.get("suggested_options"):
        column_mutation["options"] = row["suggested_options"]
    description = f"{row['category']} ({row['evidence']})" + (f"; {row['note']}" if row.get("note") else "")
    if row.get("key"):
        description += f"; a key ({row['key']}): remapped"
    if row.get("no_fit"):
        description += f"; no mutation restores into {row.get('type') or 'this type'}: kept in clear, review"
    column_mutation["description"] = description + ("; review" if row.get("review") else "")
    return column_mutation


def snippet_tables(rows: list[dict], dialect: str = "postgres") -> list[tuple[str, dict]]:
    """[(qualified table, {"tableName", "columnMutations"})] for finding rows (dicts with table,
    column, suggested, suggested_options, category, evidence; table_key [schema, name] when
    known). tableName is the bare name unless two schemas hold a table of that name; names are
    quoted where the rules file needs it (rule_name)."""
    schemas_of_name: dict[str, set] = {}
    for row in rows:
        key = row_key(row)
        schemas_of_name.setdefault(key[1], set()).add(key)
    by_table: dict[str, list] = {}
    keys: dict[str, tuple] = {}
    for row in rows:
        keys[row["table"]] = row_key(row)
        by_table.setdefault(row["table"], []).append(_column_mutation(row, dialect))
    out = []
    for qual, column_mutations in by_table.items():
        schema, bare = keys[qual]
        name = rule_name(bare, dialect)
        if len(schemas_of_name[bare]) > 1 and schema:
            name = rule_name(schema, dialect) + "." + name
        out.append((qual, {"tableName": name, "columnMutations": column_mutations}))
    return out


def rules_snippet(rows: list[dict], dialect: str = "postgres") -> list[dict]:
    """Table objects of our rules format to paste into a rules file's "tables" list."""
    return [table for _, table in snippet_tables(rows, dialect)]
