"""What a dump says about its tables: columns (order, type, NOT NULL, generated), primary,
unique and foreign keys, partitions. Read from CREATE TABLE / ALTER TABLE / CREATE TYPE /
ALTER SEQUENCE by a token reader (one pass over each statement's tokens; a statement it cannot
read gives None, which the caller reports: never a crash, never a silent skip). sqlglot is not
used: docs/sqlglot.md says why (it misreads statements it accepts), measured by
bench/sqlglot_compare.py."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import dumpmask.idents as _idents
from dumpmask.errors import DumpmaskError
from dumpmask.lazy import lazy_pattern

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
    ref_columns: tuple[str, ...]  # () when written without a list: the referenced table's primary key
    name: str | None = None

    def ref_columns_of(self, parent: "TableSchema | None", where: str = "") -> tuple[str, ...]:
        """The referenced columns: as written, or, for `REFERENCES t` without a column list, t's
        primary key. Fails closed when that key is unknown or does not match the columns, so a
        foreign key is never silently left out of remapping or subsetting."""
        if self.ref_columns:
            return self.ref_columns
        pk = parent.primary_key if parent is not None else ()
        if not pk or len(pk) != len(self.columns):
            what = f"foreign key ({', '.join(self.columns)}) REFERENCES {self.ref_table}"
            raise DumpmaskError(f"{where + ': ' if where else ''}{what} names no columns, and "
                                + (f"{self.ref_table} has no primary key in the schema read" if not pk
                                   else f"{self.ref_table}'s primary key has {len(pk)} columns")
                                + "; write the referenced columns (REFERENCES t(col))")
        return pk


@dataclass
class TableSchema:
    schema: str | None           # PostgreSQL schema or MySQL database; None when unknown
    name: str
    columns: list[Column] = field(default_factory=list)
    primary_key: tuple[str, ...] = ()
    unique: list[tuple[str, ...]] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    partition_of: tuple | None = None  # PostgreSQL partition: the parent table's (schema, name) key
    partition_bound: str | None = None  # its bound as written: "FOR VALUES IN (100)", "DEFAULT"
    partition_by: tuple | None = None   # a partitioned table: (strategy, the columns its key uses), e.g.
                                        # ("LIST", ("partition_id",)); PostgreSQL and MySQL/MariaDB
    inherits: list = field(default_factory=list)  # INHERITS parents: [(schema, name), ...]
    auto_increment_next: int | None = None  # MySQL AUTO_INCREMENT=N table option
    line: int | None = None           # where CREATE TABLE was seen

    @property
    def qualname(self) -> str:
        """`schema.name` or `name`, for messages (idents.display_name)."""
        return _idents.display_name((self.schema, self.name))

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def data_columns(self) -> list[str]:
        """Columns a dump writes for this table when it gives no column list."""
        return [c.name for c in self.columns if not c.generated]


_LEN_RE = lazy_pattern(globals(), "_LEN_RE", r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


_QUOTED_TYPE_PART = lazy_pattern(globals(), "_QUOTED_TYPE_PART", r'"((?:[^"]|"")*)"')


def unquote_type(type_text: str) -> str:
    """A type as written with its double-quoted parts unquoted: `pg_dump --quote-all-identifiers`
    writes `"uuid"`, `"text"`, `"jsonb"`, `"public"."citext"`; they are the same types."""
    if '"' not in type_text:
        return type_text
    return _QUOTED_TYPE_PART.sub(lambda m: m.group(1).replace('""', '"'), type_text)


def classify(type_text: str) -> Column:
    """A Column with kind/length/range filled from a SQL type (PostgreSQL or MySQL spelling)."""
    t = " ".join(unquote_type(type_text).lower().split())
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

def parse_create_table(raw: bytes, dialect: str, domains: dict | None = None) -> TableSchema | None:
    """CREATE TABLE -> TableSchema, from the statement's tokens; None for a form the reader does
    not take (AS SELECT, OF type, LIKE in MySQL) or an unterminated string or name."""
    text = raw.decode("utf-8", "surrogateescape")
    t = _create_tolerant(text, dialect, domains or {})
    if t is not None and dialect == "mysql":
        mark_json_checks(text, t)
    return t


# ---------------------------------------------------------------- the DDL token reader
# pg_dump and mariadb-dump write DDL in a regular layout, but names can hold anything: the
# statement is cut into tokens (names through dumpmask.idents, strings, words, punctuation;
# comments dropped) and read from those, so a quoted name holding `PRIMARY KEY (`, a comma,
# a newline or a dot is one name, and a column named like a keyword is a column.
_TOK_SRC = {
    "postgres": (r"(?P<ws>\s+|--[^\n]*)|(?P<bc>/\*)"
                 r"|(?P<s>[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|(?P<dt>\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$))"
                 r"|(?P<q>\"|[Uu]&\")"
                 r"|(?P<w>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
                 r"|(?P<p>::|.)"),
    "mysql": (r"(?P<ws>\s+|--(?:\s[^\n]*|$)|\#[^\n]*)|(?P<bc>/\*)"
              r"|(?P<s>'(?:[^'\\]|\\.|'')*')"
              r"|(?P<q>\"|`)"
              r"|(?P<w>[A-Za-z0-9_$\x80-\U0010ffff]+)"
              r"|(?P<p>.)"),
}
# the name classes as complements of the other ASCII characters: the same sets, compiled in
# ~1 ms instead of ~25 ms each (start-up time)
_CHEAP_CLASSES = {r"[A-Za-z_\x80-\U0010ffff]": r"[^\x00-\x40\x5b-\x5e\x60\x7b-\x7f]",
                  r"[A-Za-z0-9_\x80-\U0010ffff]": r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]",
                  r"[A-Za-z0-9_$\x80-\U0010ffff]": r"[^\x00-\x23\x25-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"}


def _cheap(src: str) -> str:
    for cls, same in _CHEAP_CLASSES.items():
        src = src.replace(cls, same)
    return src


class _PerDialect(dict):
    """dialect -> its compiled pattern, compiled on first use (a run reads one dialect)."""

    def __init__(self, sources: dict, flags: int) -> None:
        super().__init__()
        self._sources, self._flags = sources, flags

    def __missing__(self, d: str) -> re.Pattern:
        rx = self[d] = re.compile(_cheap(self._sources[d]), self._flags)
        return rx


_TOK_RE = _PerDialect(_TOK_SRC, re.S | re.M)
_BLOCK_PARTS = lazy_pattern(globals(), "_BLOCK_PARTS", r"/\*|\*/")
_MY_CONDITIONAL = lazy_pattern(globals(), "_MY_CONDITIONAL", r"/\*M?!\d*")   # /*!50100 PARTITION BY ... */, MariaDB /*M!100100 ... */


_FAST_SRC = {
    # one pass with finditer when the text has no /* (PostgreSQL nests them) and no $ quote
    "postgres": (r"\s*(?:--[^\n]*|(?P<s>[Ee]'(?:[^'\\]|\\.|'')*'|'[^']*(?:''[^']*)*')"
                 r"|(?P<q>\"[^\"]*(?:\"\"[^\"]*)*\")|(?P<u>[Uu]&\"(?:[^\"]|\"\")*\"(?:\s*UESCAPE\s*'[^']')?)"
                 r"|(?P<w>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
                 r"|(?P<p>::|\S))"),
    "mysql": (r"\s*(?:(?:--\s|\#)[^\n]*|(?P<s>'(?:[^'\\]|\\.|'')*')"
              r"|(?P<q>\"[^\"]*(?:\"\"[^\"]*)*\"|`[^`]*(?:``[^`]*)*`)(?P<u>(?!))?"
              r"|(?P<w>[A-Za-z0-9_$\x80-\U0010ffff]+)"
              r"|(?P<p>\S))"),
}
_FAST_RE = _PerDialect(_FAST_SRC, re.S)


def _tokens_fast(text: str, d: str) -> list:
    out = []
    append = out.append
    for m in _FAST_RE[d].finditer(text):
        k = m.lastgroup
        if k is None:
            continue            # a -- comment or trailing blanks
        if k == "q":
            v = m.group(k)
            q = v[0]
            append(("q", v[1:-1].replace(q + q, q), m.start(k), m.end()))
        elif k == "u":
            r = _idents.read_ident(text, m.start(k), d)
            append(("q", r[0], m.start(k), m.end()))
        else:
            append((k, m.group(k), m.start(k), m.end()))
    return out


def _tokens(text: str, dialect: str, fast: bool = True, conditional: bool = False) -> list | None:
    """The statement's tokens; None when it cannot be read (an unterminated string or name).
    With `conditional` (MySQL), the text of /*!NNNNN ... */ comments is read as code, as the
    server runs it (used for the table options after a column list: mysqldump writes
    `/*!50100 PARTITION BY ... */` there)."""
    d = "postgres" if dialect == "postgres" else "mysql"
    if fast and "/*" not in text and "$" not in text and "--" not in text and "#" not in text:
        toks = _tokens_fast(text, d)
        # an unterminated quote shows as a lone ' " ` token: let the exact reader decide
        if not any(t[0] == "p" and t[1] in ("'", '"', "`") for t in toks):
            return toks
    rx = _TOK_RE[d]
    out = []
    pos, n = 0, len(text)
    in_conditional = False      # inside a MySQL /*!NNNNN ... */ comment, which the server runs as code
    while pos < n:
        if in_conditional and text.startswith("*/", pos):
            in_conditional, pos = False, pos + 2
            continue
        m = rx.match(text, pos)
        if m is None:
            return None
        k = m.lastgroup
        if k == "ws":
            pos = m.end()
        elif k == "bc" and conditional and d == "mysql" and not in_conditional and _MY_CONDITIONAL.match(text, m.start()):
            in_conditional, pos = True, _MY_CONDITIONAL.match(text, m.start()).end()
        elif k == "bc":
            depth, p = 1, m.end()
            while depth:
                b = _BLOCK_PARTS.search(text, p)
                if b is None:
                    return None
                if b.group() == "/*":
                    if d == "postgres":
                        depth += 1
                else:
                    depth -= 1
                p = b.end()
            pos = p
        elif k == "s" or k == "dt":
            tag = m.groupdict().get("dt")
            if tag is not None:
                e = text.find(tag, m.end())
                if e < 0:
                    return None
                out.append(("s", text[m.start():e + len(tag)], m.start(), e + len(tag)))
                pos = e + len(tag)
            else:
                out.append(("s", m.group(), m.start(), m.end()))
                pos = m.end()
        elif k == "q":
            r = _idents.read_ident(text, m.start(), d)
            if r is None:
                return None
            out.append(("q", r[0], m.start(), r[1]))
            pos = r[1]
        else:
            out.append((k, m.group(), m.start(), m.end()))
            pos = m.end()
    return out


def _string_value(tok, dialect: str) -> str:
    """A string token's content ('' and, for E'' and MySQL, backslash escapes undone)."""
    s = tok[1]
    if s[:1] == "$":
        i = s.index("$", 1) + 1
        return s[i:len(s) - i]
    if s[:1] in "Ee":
        return re.sub(r"\\(.)", r"\1", s[2:-1].replace("''", "'"))
    body = s[1:-1].replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body) if dialect != "postgres" else body


def _W(tok) -> str:
    """A word token in upper case ('' for anything else)."""
    return tok[1].upper() if tok is not None and tok[0] == "w" else ""


def _is_name(tok) -> bool:
    return tok is not None and tok[0] in ("w", "q")


def _name(tok, fold: bool) -> str:
    """A name token as the server stores it (`fold`: PostgreSQL's folding of an unquoted name)."""
    if tok[0] == "q":
        return tok[1]
    return _idents.fold(tok[1], _idents.PG) if fold else tok[1]


def _at(toks, i):
    return toks[i] if 0 <= i < len(toks) else None


def _qual_at(toks, i, fold: bool):
    """A dotted name starting at toks[i] -> (parts, next index) or (None, i)."""
    if not _is_name(_at(toks, i)):
        return None, i
    parts = [_name(toks[i], fold)]
    i += 1
    while _at(toks, i) is not None and toks[i][0] == "p" and toks[i][1] == "." and _is_name(_at(toks, i + 1)):
        parts.append(_name(toks[i + 1], fold))
        i += 2
    return parts, i


def _close(toks, i) -> int:
    """Index of the ')' matching the '(' at toks[i]."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if t[0] == "p":
            if t[1] == "(":
                depth += 1
            elif t[1] == ")":
                depth -= 1
                if depth == 0:
                    return j
    return -1


def _split_commas(toks, a: int, b: int) -> list:
    """toks[a:b] cut at top-level commas."""
    out, cur, depth = [], [], 0
    for t in toks[a:b]:
        if t[0] == "p":
            if t[1] == "(":
                depth += 1
            elif t[1] == ")":
                depth -= 1
            elif t[1] == "," and depth == 0:
                out.append(cur)
                cur = []
                continue
        cur.append(t)
    if cur:
        out.append(cur)
    return out


def _name_list(toks, i, fold: bool, key_parts: bool = True):
    """The names of the parenthesised list at toks[i] -> (names or None if one item is not a
    plain name (an expression), index after ')')."""
    if not (_at(toks, i) is not None and toks[i][0] == "p" and toks[i][1] == "("):
        return None, i
    j = _close(toks, i)
    if j < 0:
        return None, len(toks)
    names = []
    for item in _split_commas(toks, i + 1, j):
        if not item or not _is_name(item[0]):
            return None, j + 1
        rest = item[1:]
        if key_parts:
            if len(rest) >= 3 and rest[0][1] == "(" and rest[2][1] == ")" and rest[1][1].isdigit():
                rest = rest[3:]       # MySQL prefix length: `name`(10)
            while rest and _W(rest[0]) in ("ASC", "DESC", "NULLS", "FIRST", "LAST"):
                rest = rest[1:]
        if rest:
            return None, j + 1
        names.append(_name(item[0], fold))
    return names, j + 1


def _qual_text(parts, dialect: str) -> str:
    s, n = _idents.split_qual(parts)
    return _idents.qualname_text(s, n, dialect)


def _unq(name: str, fold: bool) -> str:
    if name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    if name.startswith("`") and name.endswith("`"):
        return name[1:-1].replace("``", "`")
    return _idents.fold(name, _idents.PG) if fold else name


def _split_qual(name: str, fold: bool) -> tuple[str | None, str]:
    """Kept as an alias for the modules that still import it (features/keys.py, engine.py,
    scan.py, tests/test_idents.py): new code calls idents.split_qual(text, dialect)."""
    return _idents.split_qual(name, _idents.PG if fold else _idents.MY)


# ---------------------------------------------------------------- table elements
_RESERVED_MY = {"PRIMARY", "UNIQUE", "KEY", "INDEX", "FULLTEXT", "SPATIAL", "CONSTRAINT", "FOREIGN", "CHECK", "LIKE"}
_CONSTRAINT_WORDS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "KEY", "INDEX", "FOREIGN", "CHECK", "FULLTEXT", "SPATIAL", "EXCLUDE", "LIKE", "PERIOD"}


def _is_table_constraint(el, dialect: str) -> bool:
    """Whether a table element is a constraint/index/LIKE (not a column definition). A quoted
    first word is a column; an unquoted keyword is a constraint only where the dialect makes it
    one and what follows fits (PostgreSQL `fulltext tsvector`, `key integer` are columns)."""
    first = el[0]
    if first[0] != "w":
        return False
    w = _W(first)
    if w not in _CONSTRAINT_WORDS:
        return False
    nxt = _at(el, 1)
    nw = _W(nxt)
    paren = nxt is not None and nxt[0] == "p" and nxt[1] == "("
    if dialect != "postgres" and w in _RESERVED_MY:
        return True            # reserved in MySQL: a column of that name is always quoted
    if w in ("PRIMARY", "FOREIGN"):
        return nw == "KEY"
    if w == "CONSTRAINT":
        return _is_name(nxt)
    if w == "UNIQUE":
        return paren or nw in ("NULLS", "USING", "KEY", "INDEX")
    if w == "CHECK":
        return paren
    if w == "EXCLUDE":
        return dialect == "postgres" and (paren or nw == "USING")
    if w == "LIKE":
        return dialect == "postgres" and _is_name(nxt) and (len(el) == 2 or _W(_at(el, 2)) in ("INCLUDING", "EXCLUDING") or _at(el, 2)[1] == ".")
    if w == "PERIOD":
        return nw == "FOR"
    return False                # KEY, INDEX, FULLTEXT, SPATIAL in PostgreSQL: column names


def _table_constraint(el, table: TableSchema, dialect: str) -> None:
    """PRIMARY KEY / UNIQUE / FOREIGN KEY of a table element or ALTER TABLE ... ADD."""
    fold = dialect == "postgres"
    i = 0
    cname = None
    if _W(el[0]) == "CONSTRAINT":
        i = 1
        if _is_name(_at(el, 1)) and _W(el[1]) not in ("PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "EXCLUDE"):
            cname = _name(el[1], fold)
            i = 2
    w = _W(_at(el, i))

    def first_paren(k):
        while k < len(el) and not (el[k][0] == "p" and el[k][1] == "("):
            if el[k][0] == "w" and _W(el[k]) == "REFERENCES":
                return -1
            k += 1
        return k if k < len(el) else -1

    if w == "PRIMARY" and _W(_at(el, i + 1)) == "KEY":
        k = first_paren(i + 2)
        if k >= 0:
            cols, _ = _name_list(el, k, fold)
            if cols:
                table.primary_key = tuple(cols)
    elif w == "UNIQUE":
        k = first_paren(i + 1)
        if k >= 0:
            cols, _ = _name_list(el, k, fold)
            if cols and tuple(cols) not in table.unique:
                table.unique.append(tuple(cols))
    elif w == "FOREIGN" and _W(_at(el, i + 1)) == "KEY":
        k = first_paren(i + 2)
        if k < 0:
            return
        cols, k = _name_list(el, k, fold)
        if not cols or _W(_at(el, k)) != "REFERENCES":
            return
        parts, k = _qual_at(el, k + 1, fold)
        if not parts:
            return
        nt = _at(el, k)
        rcols = _name_list(el, k, fold)[0] if nt is not None and nt[0] == "p" and nt[1] == "(" else []
        # no list: the referenced table's primary key (ForeignKey.ref_columns_of)
        fk = ForeignKey(columns=tuple(cols), ref_table=_qual_text(parts, dialect), ref_columns=tuple(rcols), name=cname)
        if fk not in table.foreign_keys:
            table.foreign_keys.append(fk)


_COL_STOP = {"NOT", "NULL", "DEFAULT", "GENERATED", "PRIMARY", "UNIQUE", "CHECK", "REFERENCES", "COLLATE",
             "CONSTRAINT", "AUTO_INCREMENT", "COMMENT", "CHARSET", "ON", "AS", "INVISIBLE", "VIRTUAL", "STORED",
             "PERSISTENT", "COMPRESSION", "STORAGE", "KEY", "SRID", "COMPRESSED", "ENCRYPTED"}


def _column(el, text: str, table: TableSchema, dialect: str, domains: dict, inline_fk: bool = True) -> Column:
    fold = dialect == "postgres"
    cname = _name(el[0], fold)
    j, depth, n = 1, 0, len(el)
    while j < n:
        t = el[j]
        if t[0] == "p":
            if t[1] == "(":
                depth += 1
            elif t[1] == ")":
                depth -= 1
        elif depth == 0 and t[0] == "w":
            w = t[1].upper()
            if w in _COL_STOP:
                break
            if w == "CHARACTER" and _W(_at(el, j + 1)) == "SET":
                break
            if w == "WITH" and _W(_at(el, j + 1)) == "OPTIONS":
                break
        j += 1
    type_text = text[el[1][2]:el[j - 1][3]] if j > 1 else ""
    col = classify(domains.get(type_text.lower(), type_text))
    col.type = unquote_type(type_text).lower()
    col.name = cname
    depth = 0
    k = j
    while k < n:
        t = el[k]
        if t[0] == "p":
            if t[1] == "(":
                depth += 1
            elif t[1] == ")":
                depth -= 1
            k += 1
            continue
        if depth or t[0] != "w":
            k += 1
            continue
        w = t[1].upper()
        nw = _W(_at(el, k + 1))
        if w == "NOT" and nw == "NULL":
            col.nullable = False
        elif w == "PRIMARY" and nw == "KEY":
            col.nullable = False
            table.primary_key = (cname,)
        elif w == "UNIQUE":
            if (cname,) not in table.unique:
                table.unique.append((cname,))
        elif w == "AS":
            nt = _at(el, k + 1)
            if nt is not None and nt[0] == "p" and nt[1] == "(":
                col.generated = True      # GENERATED ALWAYS AS (expr) STORED, MySQL AS (expr) VIRTUAL
        elif w == "AUTO_INCREMENT":
            col.auto_increment = True
        elif w == "NEXTVAL" and col.has_default_sequence is None:
            for t2 in el[k + 1:k + 8]:
                if t2[0] == "s":
                    col.has_default_sequence = _string_value(t2, dialect)
                    break
        elif w == "REFERENCES" and inline_fk:
            parts, k2 = _qual_at(el, k + 1, fold)
            if parts:
                nt = _at(el, k2)
                rcols = []
                if nt is not None and nt[0] == "p" and nt[1] == "(":
                    rcols, k2 = _name_list(el, k2, fold)
                # no list: the referenced table's primary key (ForeignKey.ref_columns_of)
                fk = ForeignKey(columns=(cname,), ref_table=_qual_text(parts, dialect), ref_columns=tuple(rcols))
                if fk not in table.foreign_keys:
                    table.foreign_keys.append(fk)
                k = k2
                continue
        k += 1
    return col


_CREATE_PREFIX = {"OR", "REPLACE", "GLOBAL", "LOCAL", "TEMPORARY", "TEMP", "UNLOGGED", "FOREIGN"}


def _create_head(toks, dialect: str):
    """CREATE ... TABLE [IF NOT EXISTS] name -> (parts, index after the name) or (None, 0)."""
    if _W(_at(toks, 0)) != "CREATE":
        return None, 0
    i = 1
    while _W(_at(toks, i)) in _CREATE_PREFIX:
        i += 1
    if _W(_at(toks, i)) != "TABLE":
        return None, 0
    i += 1
    if _W(_at(toks, i)) == "IF" and _W(_at(toks, i + 1)) == "NOT" and _W(_at(toks, i + 2)) == "EXISTS":
        i += 3
    return _qual_at(toks, i, dialect == "postgres")


def _raw_until(text: str, toks, i: int, stop_words=()) -> tuple[str, int]:
    """The statement text from toks[i] up to a top-level stop word (or the end, ';' dropped)."""
    j, depth = i, 0
    while j < len(toks):
        t = toks[j]
        if t[0] == "p":
            if t[1] == "(":
                depth += 1
            elif t[1] == ")":
                depth -= 1
            elif t[1] == ";" and depth == 0:
                break
        elif depth == 0 and _W(t) in stop_words:
            break
        j += 1
    if j == i:
        return "", j
    return text[toks[i][2]:toks[j - 1][3]], j


_PART_STRATEGIES = {"RANGE", "LIST", "HASH", "KEY"}
_PART_KW = {"COLLATE", "ASC", "DESC", "NULLS", "FIRST", "LAST", "USING", "COLUMNS", "LINEAR", "ALGORITHM"}


def _key_columns(toks, open_at: int, table: TableSchema, dialect: str, cols: list) -> int:
    """The table's columns named inside the parenthesised key expression at toks[open_at]
    (function names, strings, keywords, ::type names skipped) appended to `cols` in the table's
    spelling; returns the index of the closing ')'."""
    close = _close(toks, open_at)
    if close < 0:
        return len(toks)
    names = {_idents.name_key(c.name, dialect): c.name for c in table.columns}
    for k in range(open_at + 1, close):
        tok = toks[k]
        if not _is_name(tok) or (tok[0] == "w" and (tok[1][:1].isdigit() or tok[1].upper() in _PART_KW)):
            continue
        nxt, prev = _at(toks, k + 1), _at(toks, k - 1)
        if tok[0] == "w" and nxt is not None and nxt[0] == "p" and nxt[1] == "(":
            continue                       # a function name
        if prev is not None and prev[0] == "p" and prev[1] in ("::", "."):
            continue                       # a cast's type, or a qualified name's later part
        col = names.get(_idents.name_key(_name(tok, dialect == "postgres"), dialect))
        if col is not None and col not in cols:
            cols.append(col)
    return close


def _partition_by(toks, i: int, table: TableSchema, dialect: str) -> int:
    """PARTITION BY [LINEAR] strategy [COLUMNS] [ALGORITHM=n] (key) [SUBPARTITION BY ... (key)]
    at toks[i] -> table.partition_by = (strategy, the table columns the keys use), MySQL
    PARTITION BY KEY () = the primary key; returns the index after what it read."""
    k = i + 2
    if _W(_at(toks, k)) == "LINEAR":
        k += 1
    strategy = _W(_at(toks, k))
    if strategy not in _PART_STRATEGIES:
        return k
    k += 1
    if _W(_at(toks, k)) == "COLUMNS":
        k += 1
    if _W(_at(toks, k)) == "ALGORITHM" and _at(toks, k + 1) is not None and toks[k + 1][1] == "=":
        k += 3
    if not (_at(toks, k) is not None and toks[k][0] == "p" and toks[k][1] == "("):
        return k
    cols: list[str] = []
    close = _key_columns(toks, k, table, dialect, cols)
    if not cols and strategy == "KEY" and close == k + 1:
        cols = list(table.primary_key)        # MySQL PARTITION BY KEY (): the primary key
    k = close + 1
    while k < len(toks) and not (_W(toks[k]) == "SUBPARTITION" and _W(_at(toks, k + 1)) == "BY"):
        if toks[k][0] == "p" and toks[k][1] == "(":
            break                          # the partition definitions: no SUBPARTITION BY after them
        k += 1
    if _W(_at(toks, k)) == "SUBPARTITION":
        k += 2
        if _W(_at(toks, k)) == "LINEAR":
            k += 1
        if _W(_at(toks, k)) in ("HASH", "KEY") and _at(toks, k + 1) is not None and toks[k + 1][1] == "(":
            k = _key_columns(toks, k + 1, table, dialect, cols) + 1
    table.partition_by = (strategy, tuple(cols))
    return k


def _create_tolerant(text: str, dialect: str, domains: dict) -> TableSchema | None:
    """CREATE TABLE read from its tokens (any layout; pg_dump and mariadb-dump write one column
    per line). None for the forms it does not read (AS SELECT, LIKE, OF type)."""
    toks = _tokens(text, dialect)
    if not toks:
        return None
    fold = dialect == "postgres"
    parts, i = _create_head(toks, dialect)
    if not parts:
        return None
    schema, name = _idents.split_qual(parts)
    table = TableSchema(schema=schema, name=name)
    if _W(_at(toks, i)) == "PARTITION" and _W(_at(toks, i + 1)) == "OF":
        pparts, i = _qual_at(toks, i + 2, fold)
        if not pparts:
            return None
        table.partition_of = _idents.split_qual(pparts)
        if _at(toks, i) is not None and toks[i][1] == "(":
            j = _close(toks, i)
            for el in _split_commas(toks, i + 1, j):
                if el and _is_table_constraint(el, dialect):
                    _table_constraint(el, table, dialect)
            i = j + 1
        table.partition_bound, i = _raw_until(text, toks, i, ("PARTITION", "USING", "WITH", "TABLESPACE", "SERVER"))
    elif _at(toks, i) is not None and toks[i][0] == "p" and toks[i][1] == "(":
        j = _close(toks, i)
        if j < 0:
            return None
        for el in _split_commas(toks, i + 1, j):
            if not el:
                continue
            if _is_table_constraint(el, dialect):
                _table_constraint(el, table, dialect)
                continue
            if not _is_name(el[0]):
                continue
            table.columns.append(_column(el, text, table, dialect, domains))
        i = j + 1
    else:
        return None
    # trailing clauses: INHERITS (...) (PostgreSQL), AUTO_INCREMENT=N (MySQL), PARTITION BY ... (both)
    if dialect != "postgres" and i < len(toks) and "/*" in text[toks[i][2]:]:
        toks, i = _tokens(text[toks[i][2]:], dialect, conditional=True) or [], 0
    while i < len(toks):
        t = toks[i]
        w = _W(t)
        if w == "INHERITS" and _at(toks, i + 1) is not None and toks[i + 1][1] == "(":
            j = _close(toks, i + 1)
            for item in _split_commas(toks, i + 2, j):
                p, _ = _qual_at(item, 0, fold)
                if p:
                    table.inherits.append(_idents.split_qual(p))
            i = j + 1
            continue
        if w == "AUTO_INCREMENT" and dialect != "postgres" and table.auto_increment_next is None:
            k = i + 2 if _at(toks, i + 1) is not None and toks[i + 1][1] == "=" else i + 1
            if _at(toks, k) is not None and toks[k][0] == "w" and toks[k][1].isdigit():
                table.auto_increment_next = int(toks[k][1])     # the table option AUTO_INCREMENT=N
                i = k + 1
                continue
        if w == "PARTITION" and _W(_at(toks, i + 1)) == "BY" and table.partition_by is None:
            i = _partition_by(toks, i, table, dialect)
            continue
        i += 1
    return table


# a name as SQL text (bare part without dots), for the CREATE UNIQUE INDEX reader
_IDL = r'(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^\s,().\"`]+)'
_QUAL = rf'{_IDL}(?:\s*\.\s*{_IDL})*'


def parse_alter_table(raw: bytes, dialect: str) -> dict | None:
    """ALTER TABLE -> {"table": (schema, name), "pk", "unique", "fks", "attach", "bound",
    "seq_default", "identity", "inherit"}."""
    text = raw.decode("utf-8", "surrogateescape")
    toks = _tokens(text, dialect)
    if not toks or _W(toks[0]) != "ALTER" or _W(_at(toks, 1)) != "TABLE":
        return None
    fold = dialect == "postgres"
    i = 2
    if _W(_at(toks, i)) == "IF" and _W(_at(toks, i + 1)) == "EXISTS":
        i += 2
    if _W(_at(toks, i)) == "ONLY" and _is_name(_at(toks, i + 1)):
        i += 1
    parts, i = _qual_at(toks, i, fold)
    if not parts:
        return None
    table = _idents.split_qual(parts)
    if _at(toks, i) is not None and toks[i][1] == "*":
        i += 1
    tmp = TableSchema(schema=table[0], name=table[1])
    out = {"table": table, "pk": (), "unique": tmp.unique, "fks": tmp.foreign_keys, "attach": None, "bound": None,
           "seq_default": None, "identity": None, "inherit": None}
    end = len(toks) - 1 if toks[-1][1] == ";" else len(toks)
    for act in _split_commas(toks, i, end):
        w = _W(_at(act, 0))
        if w == "ADD" and act[1:] and (_is_table_constraint(act[1:], dialect) or _W(act[1]) == "CONSTRAINT"):
            _table_constraint(act[1:], tmp, dialect)
        elif w == "ATTACH" and _W(_at(act, 1)) == "PARTITION":
            p, k = _qual_at(act, 2, fold)
            if p:
                out["attach"] = _idents.split_qual(p)
                out["bound"] = text[act[k][2]:act[-1][3]] if k < len(act) else None
        elif w == "INHERIT":
            p, k = _qual_at(act, 1, fold)
            if p:
                out["inherit"] = _idents.split_qual(p)
        elif w == "ALTER":
            k = 2 if _W(_at(act, 1)) == "COLUMN" else 1
            if not _is_name(_at(act, k)):
                continue
            col = _name(act[k], fold)
            rest = act[k + 1:]
            ws = [_W(t) for t in rest]
            if ws[:2] == ["SET", "DEFAULT"] and "NEXTVAL" in ws:
                s = next((t for t in rest if t[0] == "s"), None)
                if s is not None:
                    out["seq_default"] = (col, _string_value(s, dialect))
            elif ws[:1] == ["ADD"] and "IDENTITY" in ws:
                for q in range(len(rest) - 2):
                    if ws[q] == "SEQUENCE" and ws[q + 1] == "NAME":
                        p, e = _qual_at(rest, q + 2, fold)
                        if p:
                            out["identity"] = (col, text[rest[q + 2][2]:rest[e - 1][3]])
                        break
    out["pk"] = tmp.primary_key
    return out


def parse_owned_by(raw: bytes, dialect: str = "postgres"):
    """ALTER SEQUENCE s OWNED BY t.c -> (seq (schema, name), (schema, table), column)."""
    text = raw.decode("utf-8", "surrogateescape")
    toks = _tokens(text, "postgres")
    if not toks or _W(toks[0]) != "ALTER" or _W(_at(toks, 1)) != "SEQUENCE":
        return None
    i = 2
    if _W(_at(toks, i)) == "IF" and _W(_at(toks, i + 1)) == "EXISTS":
        i += 2
    seq, i = _qual_at(toks, i, True)
    if not seq or _W(_at(toks, i)) != "OWNED" or _W(_at(toks, i + 1)) != "BY":
        return None
    parts, i = _qual_at(toks, i + 2, True)
    if not parts or len(parts) < 2 or not (i == len(toks) or toks[i][1] == ";"):
        return None
    col = parts[-1]
    table = (parts[-3] if len(parts) > 2 else None, parts[-2])
    return _idents.split_qual(seq), table, col


def parse_create_domain(raw: bytes) -> tuple[str, str] | None:
    """CREATE DOMAIN name AS type ... -> (name as written, base type as written)."""
    text = raw.decode("utf-8", "surrogateescape")
    toks = _tokens(text, "postgres")
    if not toks or _W(toks[0]) != "CREATE" or _W(_at(toks, 1)) != "DOMAIN":
        return None
    parts, i = _qual_at(toks, 2, True)
    if not parts:
        return None
    name = text[toks[2][2]:toks[i - 1][3]]
    if _W(_at(toks, i)) == "AS":
        i += 1
    base, _ = _raw_until(text, toks, i, ("CONSTRAINT", "CHECK", "DEFAULT", "NOT", "NULL", "COLLATE"))
    if not base:
        return None
    return name, base.strip()


# ---------------------------------------------------------------- enums, unique indexes, domain checks

def parse_create_type_enum(raw: bytes) -> tuple[str, tuple[str, ...]] | None:
    """CREATE TYPE name AS ENUM ('a', 'b') -> (name as written, labels); None for other
    CREATE TYPE forms (composite, range, base types)."""
    text = raw.decode("utf-8", "surrogateescape")
    toks = _tokens(text, "postgres")
    if not toks or _W(toks[0]) != "CREATE" or _W(_at(toks, 1)) != "TYPE":
        return None
    parts, i = _qual_at(toks, 2, True)
    if not parts or _W(_at(toks, i)) != "AS" or _W(_at(toks, i + 1)) != "ENUM" or _at(toks, i + 2) is None \
            or toks[i + 2][1] != "(":
        return None
    name = text[toks[2][2]:toks[i - 1][3]]
    close = _close(toks, i + 2)
    labels = tuple(_string_value(tok, "postgres") for tok in toks[i + 3:close if close > 0 else len(toks)] if tok[0] == "s")
    return name, labels


def enum_type_text(labels: tuple[str, ...]) -> str:
    """The labels as an `enum('a','b')` type text, which classify() reads as an enum column."""
    return "enum(" + ",".join("'" + v.replace("'", "''") + "'" for v in labels) + ")"


def _balanced(text: str, i: int) -> int:
    """Index just after the parenthesis that closes the one at text[i] (quotes and quoted
    identifiers respected), or -1."""
    depth, q = 0, None
    while i < len(text):
        ch = text[i]
        if q:
            if ch == q:
                q = None
        elif ch in "'\"`":
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


_INDEX_HEAD = lazy_pattern(globals(), "_INDEX_HEAD", r"\s*CREATE\s+UNIQUE\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:(?!ON\b)" + _IDL + r"\s+)?"
                         r"ON\s+(?:ONLY\s+)?(" + _QUAL + r")\s*(?:USING\s+(?:\w+|\"\w+\")\s*)?\(", re.I | re.S)
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


def unique_constraint_of(table: "TableSchema", column: str) -> str | None:
    """How `column` of `table` is constrained to be unique: 'PRIMARY KEY (a, b)' /
    'UNIQUE (a)' (constraints and unique indexes), or None. Every column of a composite
    constraint counts (dumpmask does not rely on the other columns to keep rows apart)."""
    if column in table.primary_key:
        return f"PRIMARY KEY ({', '.join(table.primary_key)}) of {table.qualname}"
    for u in table.unique:
        if column in u:
            return f"UNIQUE ({', '.join(u)}) of {table.qualname}"
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


_RANGE_TERM = lazy_pattern(globals(), "_RANGE_TERM", r"\(*\s*VALUE\s*(>=|<=|>|<)\s*\(?\s*'?(-?\d+)'?\s*\)?(?:::\w+)?\s*\)*\Z", re.I)


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


def mark_json_checks(text: str, table: "TableSchema") -> None:
    """MariaDB's JSON is longtext with CHECK (json_valid(`col`)): such a column takes only JSON."""
    for m in re.finditer(r'\bjson_valid\s*\(\s*(`(?:[^`]|``)*`|"(?:[^"]|"")*"|\w+)\s*\)', text, re.I):
        key = _idents.name_key(_unq(m.group(1), False), "mysql")   # "..." under ANSI_QUOTES
        for c in table.columns:
            if _idents.name_key(c.name, "mysql") == key and c.kind == "text":
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
