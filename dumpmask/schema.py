"""What a dump says about its tables: columns (order, type, NOT NULL, generated), primary,
unique and foreign keys. Parsed from CREATE TABLE / ALTER TABLE with sqlglot, with a tolerant
line reader as fallback for the DDL sqlglot cannot parse (never a crash, never a silent skip)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# kinds a column can be: what a transformer needs to know to produce a value that fits
KINDS = ("text", "int", "numeric", "float", "bool", "date", "timestamp", "time", "uuid",
         "binary", "json", "array", "enum", "bit", "year", "interval", "other")

INT_RANGES = {
    "smallint": (-(1 << 15), (1 << 15) - 1),
    "int": (-(1 << 31), (1 << 31) - 1),
    "bigint": (-(1 << 63), (1 << 63) - 1),
    "tinyint": (-(1 << 7), (1 << 7) - 1),
    "mediumint": (-(1 << 23), (1 << 23) - 1),
}


@dataclass
class Column:
    name: str
    type: str = ""               # the SQL type as written, lower case: "character varying(45)", "int(10) unsigned"
    kind: str = "other"          # one of KINDS
    length: int | None = None    # max characters (char/varchar) or bytes (binary/varbinary)
    nullable: bool = True
    generated: bool = False      # generated/computed: absent from COPY/INSERT column lists
    int_min: int | None = None   # integer kinds: the type's range
    int_max: int | None = None
    precision: int | None = None  # numeric(p, s)
    scale: int | None = None
    enum_values: tuple[str, ...] = ()
    has_default_sequence: str | None = None  # nextval('seq') default: the sequence name
    auto_increment: bool = False
    domain_check: str | None = None  # a domain type's CHECK that dumpmask cannot evaluate


@dataclass
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str               # as written: maybe schema-qualified, normalised by the dialect
    ref_columns: tuple[str, ...]
    name: str | None = None


@dataclass
class TableSchema:
    schema: str | None           # PostgreSQL schema or MySQL database; None when unknown
    name: str
    columns: list[Column] = field(default_factory=list)
    primary_key: tuple[str, ...] = ()
    unique: list[tuple[str, ...]] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    partition_of: str | None = None   # PostgreSQL partition: the parent table
    auto_increment_next: int | None = None  # MySQL AUTO_INCREMENT=N table option
    line: int | None = None           # where CREATE TABLE was seen

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def data_columns(self) -> list[str]:
        """Columns a dump writes for this table when it gives no column list."""
        return [c.name for c in self.columns if not c.generated]


_LEN_RE = re.compile(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


def classify(type_text: str) -> Column:
    """A Column with kind/length/range filled from a SQL type (PostgreSQL or MySQL spelling)."""
    t = " ".join(type_text.lower().split())
    col = Column(name="", type=t)
    m = _LEN_RE.search(t)
    n1 = int(m.group(1)) if m else None
    n2 = int(m.group(2)) if m and m.group(2) else None
    base = t.split("(")[0].strip()
    unsigned = "unsigned" in t
    if t.endswith("[]") or base.startswith("_") or " array" in t:
        col.kind = "array"
    elif base in ("smallint", "int2", "smallserial", "serial2"):
        col.kind, (col.int_min, col.int_max) = "int", INT_RANGES["smallint"]
    elif base in ("integer", "int", "int4", "serial", "serial4"):
        col.kind, (col.int_min, col.int_max) = "int", INT_RANGES["int"]
    elif base in ("bigint", "int8", "bigserial", "serial8"):
        col.kind, (col.int_min, col.int_max) = "int", INT_RANGES["bigint"]
    elif base.startswith("tinyint"):
        col.kind, (col.int_min, col.int_max) = "int", INT_RANGES["tinyint"]
        if n1 == 1 and not unsigned:
            col.kind = "int"  # MySQL BOOLEAN is tinyint(1): still an integer on the wire
    elif base.startswith("mediumint"):
        col.kind, (col.int_min, col.int_max) = "int", INT_RANGES["mediumint"]
    elif base in ("numeric", "decimal", "dec", "fixed", "money"):
        col.kind, col.precision, col.scale = "numeric", n1, n2 if n2 is not None else (0 if n1 else None)
    elif base in ("real", "float4", "double precision", "float8", "float", "double", "double precision unsigned"):
        col.kind = "float"
    elif base in ("boolean", "bool"):
        col.kind = "bool"
    elif base == "date":
        col.kind = "date"
    elif base.startswith("timestamp") or base in ("datetime",):
        col.kind = "timestamp"
    elif base.startswith("time"):
        col.kind = "time"
    elif base == "year":
        col.kind = "year"
    elif base.startswith("interval"):
        col.kind = "interval"
    elif base == "uuid":
        col.kind = "uuid"
    elif base in ("bytea", "blob", "tinyblob", "mediumblob", "longblob", "binary", "varbinary"):
        col.kind = "binary"
        col.length = n1 if base in ("binary", "varbinary") else None
    elif base in ("json", "jsonb"):
        col.kind = "json"
    elif base.startswith("enum"):
        col.kind = "enum"
        col.enum_values = tuple(v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", type_text))
    elif base.startswith("set"):
        col.kind = "enum"
    elif base in ("bit", "bit varying", "varbit"):
        col.kind = "bit"
    elif base in ("text", "tinytext", "mediumtext", "longtext", "citext", "name", "string",
                  "character varying", "varchar", "character", "char", "bpchar", "nvarchar", "nchar",
                  "national character varying", "national char", "tsvector", "xml", "inet", "cidr",
                  "macaddr", "macaddr8", "inet6", "inet4"):
        col.kind = "text"
        if base in ("character varying", "varchar", "character", "char", "bpchar", "nvarchar", "nchar",
                    "national character varying", "national char"):
            col.length = n1 if n1 is not None else (1 if base in ("character", "char", "bpchar", "nchar") and "(" not in t else None)
        if base == "tinytext":
            col.length = 255
    else:
        col.kind = "other"  # domains, user enums, geometry...: only type-agnostic mutations apply
    if unsigned and col.kind == "int" and col.int_min is not None:
        col.int_max = col.int_max - col.int_min
        col.int_min = 0
    return col


# ---------------------------------------------------------------- parsing DDL
import logging as _logging

_logging.getLogger("sqlglot").setLevel(_logging.CRITICAL)


def _ident(node, fold: bool) -> str:
    """sqlglot Identifier -> name as the server resolves it (PostgreSQL folds unquoted to lower)."""
    name = node.name if hasattr(node, "name") else str(node)
    if fold and not getattr(node, "quoted", False) and not (hasattr(node, "this") and getattr(node.this, "quoted", False)):
        return name.lower()
    return name


def parse_create_table(raw: bytes, dialect: str, domains: dict | None = None) -> TableSchema | None:
    """CREATE TABLE -> TableSchema, via sqlglot; the tolerant line reader when sqlglot fails."""
    text = raw.decode("utf-8", "surrogateescape")
    t = None
    try:
        t = _create_via_sqlglot(text, dialect, domains or {})
    except Exception:
        t = None
    if t is None or not t.columns:
        t = _create_tolerant(text, dialect, domains or {})
    if t is not None and dialect == "mysql":
        mark_json_checks(text, t)
        m = re.search(r"\)\s*(?:ENGINE|TYPE)?[^()]*?\bAUTO_INCREMENT\s*=\s*(\d+)", text[text.rfind(")") - 1:] if ")" in text else text, re.I)
        if m:
            t.auto_increment_next = int(m.group(1))
    return t


def _create_via_sqlglot(text: str, dialect: str, domains: dict) -> TableSchema | None:
    import sqlglot
    from sqlglot import exp

    read = "postgres" if dialect == "postgres" else "mysql"
    fold = dialect == "postgres"
    # sqlglot needs no trailing partition/options clauses to get the column list; keep them (it parses most)
    tree = sqlglot.parse_one(text.strip().rstrip(";"), read=read)
    if not isinstance(tree, exp.Create):
        return None
    schema_node = tree.this
    if not isinstance(schema_node, exp.Schema):
        return None
    tbl = schema_node.this
    name = _ident(tbl.this, fold)
    db = _ident(tbl.args["db"], fold) if tbl.args.get("db") else None
    ts = TableSchema(schema=db, name=name)
    for item in schema_node.expressions:
        if isinstance(item, exp.ColumnDef):
            kind = item.args.get("kind")
            type_text = _orig_type_text(text, item, kind, read)
            col = classify(domains.get(type_text.lower(), type_text))
            col.type = type_text.lower()
            col.name = _ident(item.this, fold)
            for c in item.constraints:
                k = c.args.get("kind")
                kn = type(k).__name__
                if kn == "NotNullColumnConstraint":
                    col.nullable = bool(k.args.get("allow_null"))
                elif kn == "PrimaryKeyColumnConstraint":
                    col.nullable = False
                    ts.primary_key = (col.name,)
                elif kn == "UniqueColumnConstraint":
                    ts.unique.append((col.name,))
                elif kn == "ComputedColumnConstraint":
                    col.generated = True
                elif kn == "GeneratedAsIdentityColumnConstraint":
                    # GENERATED ALWAYS AS IDENTITY: a value in the dump; GENERATED ALWAYS AS (expr): computed
                    if k.args.get("expression") is not None and k.args.get("this") is not None and not _is_identity(k):
                        col.generated = True
                elif kn == "AutoIncrementColumnConstraint":
                    col.auto_increment = True
                elif kn == "DefaultColumnConstraint":
                    m = re.search(r"nextval\((?:CAST\()?'((?:[^']|'')*)'", c.sql(read), re.I)
                    if m:
                        col.has_default_sequence = m.group(1)
            ts.columns.append(col)
        elif isinstance(item, exp.PrimaryKey):
            ts.primary_key = tuple(_ident(e.this if isinstance(e, exp.Ordered) else e, fold) for e in item.expressions)
        elif isinstance(item, (exp.UniqueColumnConstraint,)) or type(item).__name__ in ("UniqueKeyProperty",):
            cols = tuple(_ident(e.this if isinstance(e, exp.Ordered) else e, fold) for e in item.this.expressions) if isinstance(item.this, exp.Schema) else ()
            if cols:
                ts.unique.append(cols)
        elif isinstance(item, (exp.Constraint, exp.ForeignKey)):
            pass  # handled by the tolerant pass below for robustness
    _constraints_from_text(text, ts, dialect)
    return ts


def _is_identity(k) -> bool:
    s = k.sql()
    return "IDENTITY" in s.upper()


_TYPE_END = re.compile(r"\s+(?:NOT\s+NULL|NULL|DEFAULT|GENERATED|PRIMARY|UNIQUE|CHECK|REFERENCES|COLLATE|CONSTRAINT|AUTO_INCREMENT|COMMENT|CHARACTER\s+SET|CHARSET|ON\s+UPDATE|AS\s*\(|INVISIBLE|VIRTUAL|STORED|PERSISTENT)\b.*$", re.I | re.S)


def _orig_type_text(text: str, item, kind, read) -> str:
    return kind.sql(read) if kind is not None else ""


_COL_LINE = re.compile(r'^\s*("(?:[^"]|"")*"|`(?:[^`]|``)*`|[^\s,()]+)\s+(.+?),?\s*$')
_CONSTRAINT_WORDS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "KEY", "INDEX", "FOREIGN", "CHECK", "FULLTEXT", "SPATIAL", "EXCLUDE", "LIKE", "PERIOD"}


def _unq(name: str, fold: bool) -> str:
    if name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    if name.startswith("`") and name.endswith("`"):
        return name[1:-1].replace("``", "`")
    return name.lower() if fold else name


def _split_qual(name: str, fold: bool) -> tuple[str | None, str]:
    parts = re.findall(r'"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^.\s"`]+', name)
    parts = [_unq(p, fold) for p in parts]
    if not parts:
        return None, ""
    return (parts[-2] if len(parts) > 1 else None), parts[-1]


def _create_tolerant(text: str, dialect: str, domains: dict) -> TableSchema | None:
    """pg_dump and mariadb-dump write one column per line: read those lines."""
    fold = dialect == "postgres"
    m = re.match(r'\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:GLOBAL|LOCAL)\s+)?(?:TEMPORARY\s+|TEMP\s+|UNLOGGED\s+|FOREIGN\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?'
                 r'((?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^\s(."`]+)(?:\s*\.\s*(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^\s(."`]+))*)\s*\(', text, re.I | re.S)
    if not m:
        return None
    schema, name = _split_qual(m.group(1), fold)
    ts = TableSchema(schema=schema, name=name)
    body_start = m.end()
    depth, i = 1, body_start
    in_q = None
    while i < len(text) and depth:
        ch = text[i]
        if in_q:
            if ch == in_q:
                in_q = None
            elif ch == "\\" and in_q == "'" and dialect == "mysql":
                i += 1
        elif ch in "'\"`":
            in_q = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        i += 1
    body = text[body_start:i - 1]
    # split the body on top-level commas
    items, cur, depth, in_q = [], [], 0, None
    j = 0
    while j < len(body):
        ch = body[j]
        if in_q:
            if ch == in_q:
                in_q = None
            elif ch == "\\" and in_q == "'" and dialect == "mysql":
                cur.append(ch)
                j += 1
                ch = body[j] if j < len(body) else ""
        elif ch in "'\"`":
            in_q = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(cur))
            cur = []
            j += 1
            continue
        cur.append(ch)
        j += 1
    if "".join(cur).strip():
        items.append("".join(cur))
    for it in items:
        it = it.strip()
        if not it:
            continue
        first = it.split(None, 1)[0].upper()
        if first in _CONSTRAINT_WORDS:
            continue
        cm = re.match(r'("(?:[^"]|"")*"|`(?:[^`]|``)*`|[^\s]+)\s*(.*)$', it, re.S)
        if not cm:
            continue
        cname = _unq(cm.group(1), fold)
        rest = cm.group(2)
        type_text = _TYPE_END.sub("", rest).strip()
        col = classify(domains.get(type_text.lower(), type_text))
        col.type = type_text.lower()
        col.name = cname
        up = rest.upper()
        if re.search(r"\bNOT\s+NULL\b", up) or re.search(r"\bPRIMARY\s+KEY\b", up):
            col.nullable = False
        if re.search(r"\bGENERATED\s+ALWAYS\s+AS\s*\(|\bAS\s*\(.*\)\s*(VIRTUAL|STORED|PERSISTENT)\b", up, re.S):
            col.generated = True
        if "AUTO_INCREMENT" in up:
            col.auto_increment = True
        if re.search(r"\bPRIMARY\s+KEY\b", up):
            ts.primary_key = (cname,)
        dm = re.search(r"nextval\('((?:[^']|'')*)'", rest)
        if dm:
            col.has_default_sequence = dm.group(1)
        ts.columns.append(col)
    _constraints_from_text(text, ts, dialect)
    return ts


_IDL = r'(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^\s,()"`]+)'
_QUAL = rf'{_IDL}(?:\s*\.\s*{_IDL})*'


def _idlist(s: str, fold: bool) -> tuple[str, ...]:
    return tuple(_unq(p, fold) for p in re.findall(_IDL, s) if p.upper() not in ("ASC", "DESC"))


def _constraints_from_text(text: str, ts: TableSchema, dialect: str, inline: bool = True) -> None:
    """Table-level PRIMARY KEY / UNIQUE / FOREIGN KEY clauses, from the statement text (both
    CREATE TABLE bodies and ALTER TABLE ... ADD CONSTRAINT use the same words)."""
    fold = dialect == "postgres"
    body = re.sub(r"'(?:[^'\\]|\\.|'')*'", "''", text)  # strings can't hold constraints
    for m in re.finditer(r"(?:CONSTRAINT\s+(" + _IDL + r")\s+)?PRIMARY\s+KEY\s*(?:USING\s+\w+\s*)?\(([^)]*)\)", body, re.I):
        ts.primary_key = _idlist(m.group(2), fold)
    for m in re.finditer(r"\bUNIQUE\s+(?:KEY|INDEX)?\s*(?:" + _IDL + r"\s*)?(?:USING\s+\w+\s*)?\(([^)]*)\)", body, re.I):
        cols = _idlist(m.group(1), fold)
        if cols and cols not in ts.unique:
            ts.unique.append(cols)
    for m in re.finditer(r"(?:CONSTRAINT\s+(" + _IDL + r")\s+)?FOREIGN\s+KEY\s*(?:" + _IDL + r"\s*)?\(([^)]*)\)\s*REFERENCES\s+(" + _QUAL + r")\s*\(([^)]*)\)", body, re.I):
        fk = ForeignKey(columns=_idlist(m.group(2), fold), ref_table=m.group(3), ref_columns=_idlist(m.group(4), fold),
                        name=_unq(m.group(1), fold) if m.group(1) else None)
        if fk not in ts.foreign_keys:
            ts.foreign_keys.append(fk)
    # inline column REFERENCES (PostgreSQL CREATE TABLE written by hand)
    for m in () if not inline else re.finditer(r"^\s*(" + _IDL + r")\s+[^,\n]*?\bREFERENCES\s+(" + _QUAL + r")\s*\(([^)]*)\)", body, re.I | re.M):
        first = m.group(1).upper()
        if first in _CONSTRAINT_WORDS or first in ("ADD", "ALTER", "CREATE"):
            continue
        fk = ForeignKey(columns=(_unq(m.group(1), fold),), ref_table=m.group(2), ref_columns=_idlist(m.group(3), fold))
        if fk not in ts.foreign_keys:
            ts.foreign_keys.append(fk)


_ALTER_HEAD = re.compile(r"\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(" + _QUAL + r")\s*", re.I | re.S)


def parse_alter_table(raw: bytes, dialect: str) -> dict | None:
    """ALTER TABLE -> {"table": (schema, name), "pk", "unique", "fks", "attach", "seq_default", "identity"}."""
    text = raw.decode("utf-8", "surrogateescape")
    m = _ALTER_HEAD.match(text)
    if not m:
        return None
    fold = dialect == "postgres"
    table = _split_qual(m.group(1), fold)
    tmp = TableSchema(schema=table[0], name=table[1])
    _constraints_from_text(text, tmp, dialect, inline=False)
    out = {"table": table, "pk": tmp.primary_key, "unique": tmp.unique, "fks": tmp.foreign_keys, "attach": None,
           "seq_default": None, "identity": None}
    am = re.search(r"ATTACH\s+PARTITION\s+(" + _QUAL + r")", text, re.I)
    if am:
        out["attach"] = _split_qual(am.group(1), fold)
    dm = re.search(r"ALTER\s+COLUMN\s+(" + _IDL + r")\s+SET\s+DEFAULT\s+nextval\('((?:[^']|'')*)'", text, re.I)
    if dm:
        out["seq_default"] = (_unq(dm.group(1), fold), dm.group(2).replace("''", "'"))
    im = re.search(r"ALTER\s+COLUMN\s+(" + _IDL + r")\s+ADD\s+GENERATED\s+(?:ALWAYS|BY\s+DEFAULT)\s+AS\s+IDENTITY\s*\(\s*SEQUENCE\s+NAME\s+(" + _QUAL + r")", text, re.I)
    if im:
        out["identity"] = (_unq(im.group(1), fold), im.group(2))
    return out


def parse_owned_by(raw: bytes, dialect: str = "postgres"):
    """ALTER SEQUENCE s OWNED BY t.c -> (seq qualname parts, (schema, table), column)."""
    text = raw.decode("utf-8", "surrogateescape")
    m = re.match(r"\s*ALTER\s+SEQUENCE\s+(" + _QUAL + r")\s+OWNED\s+BY\s+(" + _QUAL + r")\s*;", text, re.I | re.S)
    if not m:
        return None
    parts = [_unq(p, True) for p in re.findall(_IDL + r"", m.group(2)) if p != "."]
    parts = [p for p in re.findall(r'"(?:[^"]|"")*"|[^.\s"]+', m.group(2))]
    parts = [_unq(p, True) for p in parts]
    if len(parts) < 2:
        return None
    col = parts[-1]
    table = (parts[-3] if len(parts) > 2 else None, parts[-2])
    return _split_qual(m.group(1), True), table, col


def parse_create_domain(raw: bytes) -> tuple[str, str] | None:
    text = raw.decode("utf-8", "surrogateescape")
    m = re.match(r"\s*CREATE\s+DOMAIN\s+(" + _QUAL + r")\s+AS\s+([^\n;]+?)(?:\s+(?:CONSTRAINT|CHECK|DEFAULT|NOT\s+NULL|NULL|COLLATE)\b|\s*;|\s*$)", text, re.I | re.S)
    if not m:
        return None
    return m.group(1), m.group(2).strip()


# ---------------------------------------------------------------- enums, unique indexes, domain checks

def parse_create_type_enum(raw: bytes) -> tuple[str, tuple[str, ...]] | None:
    """CREATE TYPE name AS ENUM ('a', 'b') -> (name as written, labels); None for other
    CREATE TYPE forms (composite, range, base types)."""
    text = raw.decode("utf-8", "surrogateescape")
    m = re.match(r"\s*CREATE\s+TYPE\s+(" + _QUAL + r")\s+AS\s+ENUM\s*\(", text, re.I | re.S)
    if not m:
        return None
    labels, i = [], m.end()
    body = text[i:]
    for lm in re.finditer(r"\s*(?:E)?'((?:[^']|'')*)'\s*(,|\))", body):
        labels.append(lm.group(1).replace("''", "'"))
        if lm.group(2) == ")":
            break
    return m.group(1), tuple(labels)


def enum_type_text(labels: tuple[str, ...]) -> str:
    """The labels as an `enum('a','b')` type text, which classify() reads as an enum column."""
    return "enum(" + ",".join("'" + v.replace("'", "''") + "'" for v in labels) + ")"


def _balanced(text: str, i: int) -> int:
    """Index just after the parenthesis that closes the one at text[i] (quotes respected)."""
    depth, q = 0, None
    while i < len(text):
        ch = text[i]
        if q:
            if ch == q:
                q = None
        elif ch in "'\"":
            q = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _top_level_split(s: str) -> list[str]:
    out, cur, depth, q = [], [], 0, None
    for ch in s:
        if q:
            if ch == q:
                q = None
        elif ch in "'\"":
            q = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur))
    return out


_INDEX_HEAD = re.compile(r"\s*CREATE\s+UNIQUE\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:(?!ON\b)" + _IDL + r"\s+)?"
                         r"ON\s+(?:ONLY\s+)?(" + _QUAL + r")\s*(?:USING\s+\w+\s*)?\(", re.I | re.S)
_ELEM_WORDS = {"ASC", "DESC", "NULLS", "FIRST", "LAST", "COLLATE"}


def parse_create_unique_index(raw: bytes, dialect: str = "postgres") -> dict | None:
    """CREATE UNIQUE INDEX [name] ON [ONLY] t [USING m] (a, lower(b), ...) [INCLUDE (...)]
    [WHERE ...] -> {"table": (schema, name), "columns": (...), "expression": bool}. `columns`
    are the plain key columns plus every identifier inside expression keys (the caller keeps
    those that are columns of the table): a mutation of any of them can make two keys equal.
    INCLUDE columns are not part of the key. None for anything else."""
    text = raw.decode("utf-8", "surrogateescape")
    m = _INDEX_HEAD.match(text)
    if not m:
        return None
    fold = dialect == "postgres"
    table = _split_qual(m.group(1), fold)
    start = m.end() - 1
    end = _balanced(text, start)
    if end < 0:
        return None
    cols: list[str] = []
    expression = False
    for item in _top_level_split(text[start + 1:end - 1]):
        it = item.strip()
        em = re.match(r"(" + _IDL + r")(\s+.*)?\Z", it, re.S)
        if em and not it.startswith("("):
            cols.append(_unq(em.group(1), fold))
            continue
        expression = True
        stripped = re.sub(r"'(?:[^']|'')*'", "''", it)
        stripped = re.sub(r"::\s*" + _QUAL + r"(\s*\[\])?", "", stripped)
        for p in re.findall(r'"(?:[^"]|"")*"|[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*', stripped):
            name = _unq(p, fold)
            if p.upper() not in _ELEM_WORDS and name not in cols:
                cols.append(name)
    return {"table": table, "columns": tuple(cols), "expression": expression}


def unique_constraint_of(ts: "TableSchema", column: str) -> str | None:
    """How `column` of `ts` is constrained to be unique: 'PRIMARY KEY (a, b)' /
    'UNIQUE (a)' (constraints and unique indexes), or None. Every column of a composite
    constraint counts (dumpmask does not rely on the other columns to keep rows apart)."""
    if column in ts.primary_key:
        return f"PRIMARY KEY ({', '.join(ts.primary_key)}) of {ts.qualname}"
    for u in ts.unique:
        if column in u:
            return f"UNIQUE ({', '.join(u)}) of {ts.qualname}"
    return None


def parse_domain_check(raw: bytes) -> str | None:
    """The CHECK expressions of CREATE DOMAIN (joined with AND), or None when it has none."""
    text = raw.decode("utf-8", "surrogateescape")
    checks = []
    for m in re.finditer(r"\bCHECK\s*\(", text, re.I):
        end = _balanced(text, m.end() - 1)
        if end > 0:
            checks.append(text[m.end() - 1:end])
    return " AND ".join(checks) if checks else None


_RANGE_TERM = re.compile(r"\(*\s*VALUE\s*(>=|<=|>|<)\s*\(?\s*'?(-?\d+)'?\s*\)?(?:::\w+)?\s*\)*\Z", re.I)


def domain_int_range(check: str) -> tuple[int | None, int | None] | None:
    """A CHECK that is only comparisons of VALUE with integers joined by AND -> (lo, hi);
    None when the CHECK says anything else."""
    body = check.strip()
    while body.startswith("(") and _balanced(body, 0) == len(body):
        body = body[1:-1].strip()
    lo = hi = None
    for term in re.split(r"\s+AND\s+", body, flags=re.I):
        t = term.strip()
        m = _RANGE_TERM.match(t)
        if not m:
            return None
        op, v = m.group(1), int(m.group(2))
        if op == ">":
            v, op = v + 1, ">="
        if op == "<":
            v, op = v - 1, "<="
        if op == ">=":
            lo = v if lo is None else max(lo, v)
        else:
            hi = v if hi is None else min(hi, v)
    return lo, hi


def unique_columns(schema: TableSchema) -> set[str]:
    """Columns of a table in a PRIMARY KEY, a UNIQUE constraint or a unique index (alone or with
    others: a conservative reading, since a mutation that merges two values of one column of a
    composite key may still make two rows collide)."""
    out = set(schema.primary_key)
    for u in schema.unique:
        out.update(u)
    return out


def mark_json_checks(text: str, ts: "TableSchema") -> None:
    """MariaDB's JSON is longtext with CHECK (json_valid(`col`)): such a column takes only JSON."""
    for m in re.finditer(r"\bjson_valid\s*\(\s*(`(?:[^`]|``)*`|\w+)\s*\)", text, re.I):
        name = _unq(m.group(1), False)
        for c in ts.columns:
            if c.name.lower() == name.lower() and c.kind == "text":
                c.kind = "json"


def domain_enum_values(check: str) -> tuple[str, ...] | None:
    """A CHECK that only says VALUE is one of some strings (pg_dump spells it
    `(VALUE = ANY (ARRAY['a'::text, 'b'::text]))`, or `VALUE IN ('a', 'b')`) -> the strings."""
    body = re.sub(r"::\s*[\w .\"]+(\[\])?", "", check)
    body = re.sub(r"\s+", " ", body).strip()
    m = re.fullmatch(r"\(*\s*\(*VALUE\)*\s*(?:=\s*ANY\s*\(\s*\(*\s*ARRAY\s*\[(.*)\]\s*\)*\s*\)|IN\s*\((.*)\))\s*\)*", body, re.I | re.S)
    if not m:
        return None
    inner = m.group(1) if m.group(1) is not None else m.group(2)
    items = [x.strip() for x in _top_level_split(inner)]
    out = []
    for it in items:
        sm = re.fullmatch(r"\(*\s*'((?:[^']|'')*)'\s*\)*", it)
        if not sm:
            return None
        out.append(sm.group(1).replace("''", "'"))
    return tuple(out) or None
