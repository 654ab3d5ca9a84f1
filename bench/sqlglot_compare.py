#!/usr/bin/env python3
"""Does sqlglot's AST read the DDL dumpmask reads the way dumpmask's token reader does?

    pip install 'sqlglot>=30,<31' 'sqlglotc>=30,<31'     # no longer a dependency of dumpmask
    python bench/sqlglot_compare.py FILE.sql[:pg|:mysql] ...   [--time]

For every CREATE TABLE, ALTER TABLE, CREATE TYPE ... AS ENUM and ALTER SEQUENCE ... OWNED BY
in the files, a reader built on sqlglot's AST alone (below: names from its Identifier nodes,
folded the way the dialect folds unquoted names, types from its DataType nodes, keys from its
PrimaryKey / UniqueColumnConstraint / ForeignKey / Reference nodes, partitions from its
PartitionedByProperty / PartitionedOfProperty / InheritsProperty) is held against
dumpmask.schema. Each statement counts as one of
  same       - both give the same TableSchema (columns, kinds, lengths, ranges, NOT NULL,
               generated, sequences, PK, UNIQUE, FKs with canonical ref_table, partitions)
  unparsed   - sqlglot raises or gives back an opaque Command (a fallback would take it)
  DIFFERENT  - sqlglot parses it and gives another answer (a wrong answer, not a failure)
and, apart from those, `type text` counts the columns whose type sqlglot respells (the
type as written is what dumpmask's type checks read). Results and reasons: docs/sqlglot.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlglot  # noqa: E402
from sqlglot import exp  # noqa: E402

from dumpmask import idents, schema  # noqa: E402

logging.getLogger("sqlglot").setLevel(logging.CRITICAL)


# ------------------------------------------------------------------ the sqlglot AST reader

def _name(node, dialect: str) -> str:
    """An identifier node -> the name the server resolves (the dialect's folding of an unquoted name)."""
    if isinstance(node, (exp.Column, exp.Ordered)):
        node = node.this
    quoted = bool(getattr(node, "quoted", False)) or (isinstance(node, exp.Literal) and node.is_string)
    return node.name if quoted else idents.fold(node.name, dialect)


def _table_key(tbl, dialect: str):
    db = tbl.args.get("db")
    return (_name(db, dialect) if db is not None else None), _name(tbl.this, dialect)


def _names(nodes, dialect: str) -> tuple:
    return tuple(_name(n, dialect) for n in nodes)


def _fk(cols, ref, dialect, cname=None) -> schema.ForeignKey:
    target = ref.this
    tbl = target.this if isinstance(target, exp.Schema) else target
    rcols = _names(target.expressions, dialect) if isinstance(target, exp.Schema) else ()
    s, n = _table_key(tbl, dialect)
    return schema.ForeignKey(columns=tuple(cols), ref_table=idents.qualname_text(s, n, dialect),
                             ref_columns=rcols, name=cname)


def _column_def(item, ts, dialect, read):
    kind = item.args.get("kind")
    type_text = kind.sql(read) if kind is not None else ""
    col = schema.classify(type_text)
    col.type = type_text.lower()
    col.name = _name(item.this, dialect)
    for c in item.constraints:
        k = c.args.get("kind")
        if isinstance(k, exp.NotNullColumnConstraint):
            col.nullable = bool(k.args.get("allow_null"))
        elif isinstance(k, exp.PrimaryKeyColumnConstraint):
            col.nullable = False
            ts.primary_key = (col.name,)
        elif isinstance(k, exp.UniqueColumnConstraint):
            if (col.name,) not in ts.unique:
                ts.unique.append((col.name,))
        elif isinstance(k, exp.ComputedColumnConstraint):
            col.generated = True
        elif isinstance(k, exp.GeneratedAsIdentityColumnConstraint):
            if k.args.get("expression") is not None and "IDENTITY" not in k.sql(read).upper():
                col.generated = True
        elif isinstance(k, exp.AutoIncrementColumnConstraint):
            col.auto_increment = True
        elif isinstance(k, exp.DefaultColumnConstraint):
            call = k.this
            if isinstance(call, exp.Anonymous) and call.name.lower() == "nextval" and call.expressions:
                arg = call.expressions[0]
                arg = arg.this if isinstance(arg, exp.Cast) else arg
                if isinstance(arg, exp.Literal):
                    col.has_default_sequence = arg.this
        elif isinstance(k, exp.CheckColumnConstraint) and read == "mysql" and col.kind == "text":
            for call in k.find_all(exp.Func):           # MariaDB JSON: longtext CHECK (json_valid(`c`))
                if (call.sql_name() if not isinstance(call, exp.Anonymous) else call.name).lower() in ("json_valid", "is_json"):
                    col.kind = "json"
        elif isinstance(k, exp.Reference):
            fk = _fk((col.name,), k, dialect)
            if fk not in ts.foreign_keys:
                ts.foreign_keys.append(fk)
    return col


def _constraint(item, ts, dialect, cname=None):
    if isinstance(item, exp.Constraint):
        for sub in item.expressions:
            _constraint(sub, ts, dialect, _name(item.this, dialect))
    elif isinstance(item, exp.PrimaryKey):
        ts.primary_key = _names(item.expressions, dialect)
    elif isinstance(item, exp.UniqueColumnConstraint):
        cols = _names(item.this.expressions, dialect) if isinstance(item.this, exp.Schema) else ()
        if cols and cols not in ts.unique:
            ts.unique.append(cols)
    elif isinstance(item, exp.ForeignKey):
        fk = _fk(_names(item.expressions, dialect), item.args["reference"], dialect, cname)
        if fk not in ts.foreign_keys:
            ts.foreign_keys.append(fk)


def _partition_by(prop, ts, dialect):
    node = prop.this
    strategy = node.name.upper() if isinstance(node, exp.Anonymous) else type(node).__name__.upper()
    names = {c.name: c.name for c in ts.columns}
    cols = []
    for col in node.find_all(exp.Column):
        n = _name(col, dialect)
        if n in names and n not in cols:
            cols.append(n)
    ts.partition_by = (strategy, tuple(cols))


def sqlglot_create_table(text: str, dialect: str) -> schema.TableSchema | None:
    """CREATE TABLE -> TableSchema from sqlglot's AST alone; None when sqlglot does not parse it."""
    read = "postgres" if dialect == "postgres" else "mysql"
    tree = sqlglot.parse_one(text.strip().rstrip(";"), read=read)
    if not isinstance(tree, exp.Create) or (tree.args.get("kind") or "").upper() != "TABLE":
        return None
    target = tree.this
    tbl = target.this if isinstance(target, exp.Schema) else target
    s, n = _table_key(tbl, dialect)
    ts = schema.TableSchema(schema=s, name=n)
    if isinstance(target, exp.Schema):
        for item in target.expressions:
            if isinstance(item, exp.ColumnDef):
                ts.columns.append(_column_def(item, ts, dialect, read))
            else:
                _constraint(item, ts, dialect)
    props = tree.args.get("properties")
    for prop in (props.expressions if props is not None else ()):
        if isinstance(prop, exp.PartitionedOfProperty):
            parent = prop.this
            if isinstance(parent, exp.Schema):       # PARTITION OF p (constraints) FOR VALUES ...
                for item in parent.expressions:
                    _constraint(item, ts, dialect)
                parent = parent.this
            ts.partition_of = _table_key(parent, dialect)
        elif isinstance(prop, exp.InheritsProperty):
            ts.inherits = [_table_key(t, dialect) for t in prop.expressions]
        elif isinstance(prop, exp.PartitionedByProperty):
            _partition_by(prop, ts, dialect)
        elif isinstance(prop, (exp.PartitionByListProperty, exp.PartitionByRangeProperty)):
            strategy = "LIST" if isinstance(prop, exp.PartitionByListProperty) else "RANGE"
            cols = []
            for e in prop.args.get("partition_expressions") or ():
                for col in ([e] if isinstance(e, exp.Column) else list(e.find_all(exp.Column))):
                    if _name(col, dialect) not in cols:
                        cols.append(_name(col, dialect))
            ts.partition_by = (strategy, tuple(cols))
    return ts


def sqlglot_alter_table(text: str, dialect: str) -> dict | None:
    read = "postgres" if dialect == "postgres" else "mysql"
    tree = sqlglot.parse_one(text.strip().rstrip(";"), read=read)
    if not isinstance(tree, exp.Alter):
        return None
    key = _table_key(tree.this, dialect)
    ts = schema.TableSchema(schema=key[0], name=key[1])
    out = {"table": key, "attach": None}
    for act in tree.args.get("actions") or ():
        if isinstance(act, exp.AddConstraint):
            for c in act.expressions:
                _constraint(c, ts, dialect)
        elif type(act).__name__ == "AttachPartition":
            out["attach"] = _table_key(act.this.this if isinstance(act.this, exp.Schema) else act.this, dialect)
    out.update(pk=ts.primary_key, unique=ts.unique, fks=ts.foreign_keys)
    return out


def sqlglot_create_enum(text: str):
    tree = sqlglot.parse_one(text.strip().rstrip(";"), read="postgres")
    if not isinstance(tree, exp.Create) or not isinstance(tree.args.get("expression"), exp.DataType):
        return None
    return _table_key(tree.this, "postgres"), tuple(lit.this for lit in tree.expression.expressions)


# ------------------------------------------------------------------ the comparison

def statements(path: Path, dialect: str):
    """(kind, raw bytes, line) of the DDL statements of a dump or a plain SQL script."""
    from dumpmask.dialects.base import LineReader
    from dumpmask.dialects.mysql import fast_lines
    from dumpmask.dialects.mysql_lex import split_statements
    from dumpmask.dialects.postgres import PgReader

    with open(path, "rb") as fh:
        if dialect == "postgres":
            reader = PgReader(LineReader(fh, str(path)))
            for st in reader.statements():
                if st.kind == "copy":
                    for _ in reader.copy_rows():
                        pass
                else:
                    yield st.kind, st.raw, getattr(st, "line", None)
        else:
            for st in split_statements(fast_lines(fh), str(path)):
                yield st.kind, st.raw, getattr(st, "line", None)


def _strip(col) -> dict:
    return {k: v for k, v in dataclasses.asdict(col).items() if k != "type"}


_TABLE_FIELDS = ("schema", "name", "primary_key", "unique", "foreign_keys", "partition_of", "partition_by", "inherits")


def compare_create(raw: bytes, dialect: str, tally: Counter, diffs: list, where: str) -> None:
    text = raw.decode("utf-8", "surrogateescape")
    ours = schema.parse_create_table(raw, dialect)
    try:
        theirs = sqlglot_create_table(text, dialect)
    except Exception:
        theirs = None
    if theirs is None:
        tally["create_table unparsed"] += 1
        diffs.append((where, ["unparsed"], text, {}))
        return
    found = [f for f in _TABLE_FIELDS if getattr(ours, f) != getattr(theirs, f)]
    if [c.name for c in ours.columns] != [c.name for c in theirs.columns]:
        found.append("column names")
    else:
        found += [f"column {a.name!r}: {k}" for a, b in zip(ours.columns, theirs.columns)
                  for k, v in _strip(a).items() if _strip(b)[k] != v]
        tally["type text respelled"] += sum(a.type != b.type for a, b in zip(ours.columns, theirs.columns))
        tally["columns"] += len(ours.columns)
    if found:
        tally["create_table DIFFERENT"] += 1
        diffs.append((where, found, text,
                      {**{f: (getattr(ours, f), getattr(theirs, f)) for f in _TABLE_FIELDS if f in found},
                       **({"column names": ([c.name for c in ours.columns], [c.name for c in theirs.columns])}
                          if "column names" in found else {})}))
    else:
        tally["create_table same"] += 1


def compare_alter(raw: bytes, dialect: str, tally: Counter, diffs: list, where: str) -> None:
    text = raw.decode("utf-8", "surrogateescape")
    ours = schema.parse_alter_table(raw, dialect)
    try:
        theirs = sqlglot_alter_table(text, dialect)
    except Exception:
        theirs = None
    if ours is None or not (ours["pk"] or ours["unique"] or ours["fks"] or ours["attach"]):
        return          # OWNER TO, SET DEFAULT, ...: nothing of what dumpmask reads here
    if theirs is None:
        tally["alter_table unparsed"] += 1
        diffs.append((where, ["unparsed"], text, {}))
        return
    found = [k for k in ("table", "pk", "unique", "fks", "attach") if ours[k] != theirs[k]]
    if found:
        tally["alter_table DIFFERENT"] += 1
        diffs.append((where, found, text, {k: (ours[k], theirs[k]) for k in found}))
    else:
        tally["alter_table same"] += 1


def compare_enum(raw: bytes, tally: Counter, diffs: list, where: str) -> None:
    ours = schema.parse_create_type_enum(raw)
    if ours is None:
        return
    text = raw.decode("utf-8", "surrogateescape")
    try:
        theirs = sqlglot_create_enum(text)
    except Exception:
        theirs = None
    if theirs is None:
        tally["enum unparsed"] += 1
        return
    ours_key = idents.split_qual(ours[0], "postgres")
    if (ours_key, ours[1]) != theirs:
        tally["enum DIFFERENT"] += 1
        diffs.append((where, ["enum"], text, {"enum": ((ours_key, ours[1]), theirs)}))
    else:
        tally["enum same"] += 1


def run(paths, show: int) -> int:
    tally: Counter = Counter()
    diffs: list = []
    for spec in paths:
        path, _, d = spec.partition(":")
        dialect = "mysql" if d in ("my", "mysql") else "postgres"
        for kind, raw, line in statements(Path(path), dialect):
            where = f"{Path(path).name}:{line}"
            if kind == "create_table":
                compare_create(raw, dialect, tally, diffs, where)
            elif kind == "alter_table" and dialect == "postgres":
                compare_alter(raw, dialect, tally, diffs, where)
            elif kind == "create" and b"ENUM" in raw.upper():
                compare_enum(raw, tally, diffs, where)
    for k in sorted(tally):
        print(f"{tally[k]:7d}  {k}")
    wrong = [d for d in diffs if d[1] != ["unparsed"]]
    unparsed = [d for d in diffs if d[1] == ["unparsed"]]
    print(f"\n{len(wrong)} statements read differently (first {show}); {len(unparsed)} not parsed (first {show})")
    for where, found, text, detail in wrong[:show] + unparsed[:show]:
        print(f"\n--- {where}: {', '.join(found[:6])}\n{text[:400]}")
        for k, (a, b) in detail.items():
            print(f"  {k}: dumpmask {a!r}\n  {' ' * len(k)}  sqlglot  {b!r}")
    return 0


def timing(paths) -> None:
    """CPU seconds to read every CREATE TABLE: dumpmask's reader, then sqlglot's parse alone."""
    for spec in paths:
        path, _, d = spec.partition(":")
        dialect = "mysql" if d in ("my", "mysql") else "postgres"
        raws = [raw for kind, raw, _ in statements(Path(path), dialect) if kind == "create_table"]
        texts = [r.decode("utf-8", "surrogateescape") for r in raws]
        read = "postgres" if dialect == "postgres" else "mysql"
        t0 = time.process_time()
        for r in raws:
            schema.parse_create_table(r, dialect)
        t1 = time.process_time()
        for t in texts:
            try:
                sqlglot.parse_one(t.strip().rstrip(";"), read=read)
            except Exception:
                pass
        t2 = time.process_time()
        print(f"{Path(path).name}: {len(raws)} CREATE TABLE, token reader {t1 - t0:.3f} s, sqlglot parse {t2 - t1:.3f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="FILE[:pg|:mysql] (default pg)")
    ap.add_argument("--show", type=int, default=20, help="how many differences to print")
    ap.add_argument("--time", action="store_true", help="time the two readers instead")
    a = ap.parse_args()
    if a.time:
        timing(a.files)
    else:
        sys.exit(run(a.files, a.show))
