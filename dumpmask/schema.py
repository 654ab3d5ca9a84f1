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
