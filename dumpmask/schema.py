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
    partition_by: tuple | None = None  # (strategy, columns): PARTITION BY RANGE/LIST/HASH/KEY and the columns its key uses
    partition_bound: str | None = None  # a partition's FOR VALUES ... text (PostgreSQL)
    inherits: list = field(default_factory=list)  # PostgreSQL INHERITS (parent, ...): [(schema, name)]

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
    if t is not None:
        _partition_info(text, t, dialect)
    if t is not None and dialect == "mysql":
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


_PART_OR_INHERITS = re.compile(r"PARTITION\s+BY|INHERITS", re.I)
_PART_KW = {"COLLATE", "ASC", "DESC", "NULLS", "FIRST", "LAST", "USING", "COLUMNS", "LINEAR", "ALGORITHM"}


def _table_tail(text: str) -> str | None:
    """What follows the column list of a CREATE TABLE (table options, INHERITS, PARTITION BY),
    with string literals blanked."""
    m = re.match(r'\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:GLOBAL|LOCAL)\s+)?(?:TEMPORARY\s+|TEMP\s+|UNLOGGED\s+|FOREIGN\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?'
                 r'((?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^\s(."`]+)(?:\s*\.\s*(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^\s(."`]+))*)\s*\(', text, re.I | re.S)
    if not m:
        return None
    depth, i, in_q = 1, m.end(), None
    while i < len(text) and depth:
        ch = text[i]
        if in_q:
            if ch == in_q:
                in_q = None
            elif ch == "\\" and in_q == "'":
                i += 1
        elif ch in "'\"`":
            in_q = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        i += 1
    return text[i:]


def _balanced(text: str, start: int) -> str:
    """The text inside the parentheses opening at text[start] ('(')."""
    depth, i, in_q = 0, start, None
    while i < len(text):
        ch = text[i]
        if in_q:
            if ch == in_q:
                in_q = None
        elif ch in "'\"`":
            in_q = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1:i]
        i += 1
    return text[start + 1:]


def _partition_info(text: str, ts: TableSchema, dialect: str) -> None:
    """PARTITION BY (its strategy and the table columns its key expression uses) and INHERITS."""
    if not _PART_OR_INHERITS.search(text):
        return
    tail = _table_tail(text)
    if tail is None:
        return
    fold = dialect == "postgres"
    if fold:
        im = re.match(r"\s*INHERITS\s*\(", tail, re.I)
        if im:
            inner = _balanced(tail, im.end() - 1)
            ts.inherits = [_split_qual(q, fold) for q in re.findall(_QUAL, inner)]
    partition_by_from(tail, ts, dialect)


def partition_by_from(tail: str, ts: TableSchema, dialect: str) -> None:
    """ts.partition_by from a PARTITION BY clause in `tail` (text after the column list)."""
    fold = dialect == "postgres"
    pm = re.search(r"\bPARTITION\s+BY\s+(?:LINEAR\s+)?(RANGE|LIST|HASH|KEY)\s*(?:COLUMNS\s*)?(?:ALGORITHM\s*=\s*\d+\s*)?\(", tail, re.I)
    if not pm:
        return
    expr = _balanced(tail, pm.end() - 1)
    names = {c.name if fold else c.name.lower(): c.name for c in ts.columns}
    cols = []
    for tok in re.finditer(r'"(?:[^"]|"")*"|`(?:[^`]|``)*`|[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*', expr):
        after = expr[tok.end():tok.end() + 2].lstrip()
        if after.startswith("("):
            continue  # a function name
        raw = tok.group(0)
        if raw.upper() in _PART_KW:
            continue
        n = _unq(raw, fold)
        c = names.get(n if fold else n.lower())
        if c is not None and c not in cols:
            cols.append(c)
    strategy = pm.group(1).upper()
    if not cols and strategy == "KEY" and not expr.strip():
        cols = list(ts.primary_key)  # MySQL PARTITION BY KEY (): the primary key
    ts.partition_by = (strategy, tuple(cols))
    sm = re.search(r"\bSUBPARTITION\s+BY\s+(?:LINEAR\s+)?(?:HASH|KEY)\s*\(", tail[pm.end():], re.I)
    if sm:
        sub = tail[pm.end():]
        for tok in re.findall(r'`(?:[^`]|``)*`|[A-Za-z_]\w*', _balanced(sub, sm.end() - 1)):
            c = names.get(_unq(tok, fold) if fold else _unq(tok, fold).lower())
            if c is not None and c not in ts.partition_by[1]:
                ts.partition_by = (strategy, ts.partition_by[1] + (c,))
