"""Is a literal a valid value of a column's type? Used by `static:VALUE`, `redact` (its default
and its `value` option) and by valid_for() (scan --write-rules), so that a rule that cannot
restore is refused before any data flows (exit 2) instead of failing the restore.

The checks are deliberately conservative: a literal is accepted only in spellings dumpmask
knows the server accepts (ISO dates, canonical UUIDs, JSON, ...). Every function returns an
error message (never quoting data values of the dump: only the rule's own literal) or None.
"""
from __future__ import annotations

import json
import re
from datetime import date

from dumpmask.schema import Column
from dumpmask.lazy import lazy_pattern

_INT_RE = lazy_pattern(globals(), "_INT_RE", r"\s*[+-]?\d+\s*\Z")
_NUM_RE = lazy_pattern(globals(), "_NUM_RE", r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*\Z")
_MONEY_RE = lazy_pattern(globals(), "_MONEY_RE", r"\s*-?\$?\s*-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\s*\Z")
_DATE_RE = lazy_pattern(globals(), "_DATE_RE", r"\s*(\d{4})-(\d{2})-(\d{2})")
_TIME_RE = lazy_pattern(globals(), "_TIME_RE", r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?")
_TZ_RE = lazy_pattern(globals(), "_TZ_RE", r"\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)?\s*\Z", re.I)
_UUID_RE = lazy_pattern(globals(), "_UUID_RE", r"\s*\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?\s*\Z")
_PG_BOOL = {"t", "f", "true", "false", "y", "n", "yes", "no", "on", "off", "1", "0"}
_IV_UNITS = (r"(?:microseconds?|us|usecs?|milliseconds?|ms|msecs?|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|"
             r"days?|d|weeks?|w|months?|mons?|years?|yrs?|y|decades?|centuries|century|millenni(?:um|a))")
_IV_NUM = lazy_pattern(globals(), "_IV_NUM", r"[+-]?\d+(?:\.\d+)?\Z")
_IV_UNIT = lazy_pattern(globals(), "_IV_UNIT", _IV_UNITS + r"\Z", re.I)
_IV_GLUED = lazy_pattern(globals(), "_IV_GLUED", r"[+-]?\d+(?:\.\d+)?" + _IV_UNITS + r"\Z", re.I)
_IV_CLOCK = lazy_pattern(globals(), "_IV_CLOCK", r"[+-]?\d+:[0-5]\d(?::[0-5]\d(?:\.\d+)?)?\Z")
_IV_ISO = lazy_pattern(globals(), "_IV_ISO",
                       r"P(?=\d|T\d)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?\Z")


def _interval_ok(s: str) -> bool:
    """PostgreSQL's interval input, the forms checked here: ['@'] (N unit)... [H:MM[:SS]] ['ago'],
    tokens separated by blanks; or ISO 8601 'P1Y2M3DT4H5M6S'."""
    if _IV_ISO.match(s):
        return True
    toks = s.split()
    if toks and toks[0].startswith("@"):
        toks[0] = toks[0][1:]
        if not toks[0]:
            toks = toks[1:]
    if toks and toks[-1].lower() == "ago":
        toks = toks[:-1]
    if not toks:
        return False
    i = 0
    seen: set[str] = set()

    def unit(u: str) -> set[str]:
        u = u.lower()
        for pre, cat in (("mic", "us"), ("us", "us"), ("mil", "ms"), ("ms", "ms"), ("s", "s"), ("min", "min"),
                         ("m", "min" if u == "m" else "mon"), ("h", "h"), ("d", "d" if not u.startswith("dec") else "dec"),
                         ("w", "d"), ("y", "y"), ("c", "c")):
            if u.startswith(pre):
                return {cat}
        return {u}
    while i < len(toks):
        t = toks[i]
        if _IV_NUM.match(t) and i + 1 < len(toks) and _IV_UNIT.match(toks[i + 1]):
            cats = unit(toks[i + 1])
            i += 2
        elif _IV_GLUED.match(t):
            cats = unit(re.sub(r"^[+-]?[\d.]+", "", t))
            i += 1
        elif _IV_CLOCK.match(t) and i == len(toks) - 1:
            cats = {"h", "min", "s"}
            i += 1
        else:
            return False
        if cats & seen:
            return False
        seen |= cats
    return True
_MAC_RE = lazy_pattern(globals(), "_MAC_RE", r"\s*[0-9a-fA-F]{2}([:-]?)[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}\s*\Z")
_MAC8_RE = lazy_pattern(globals(), "_MAC8_RE", r"\s*[0-9a-fA-F]{2}([:-]?)[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){6}\s*\Z")

#: spatial / geometric types: no fixed value dumpmask could write is meaningful or portable
SPATIAL = {"geometry", "geography", "point", "linestring", "polygon", "multipoint", "multilinestring",
           "multipolygon", "geometrycollection", "geomcollection", "line", "lseg", "box", "path", "circle",
           "box2d", "box3d", "raster"}
#: text-like types with a syntax of their own: only mutations that produce that syntax fit
NETWORK = {"inet", "cidr", "macaddr", "macaddr8", "inet4", "inet6"}


def base_type(column: Column) -> str:
    """The type's name without schema, length, modifiers or array brackets: 'geometry',
    'inet', 'character varying', 'bit varying'."""
    t = (column.type or "").strip().lower()
    t = t.split("(")[0].strip()
    while t.endswith("[]"):
        t = t[:-2].strip()
    if "." in t and not t.startswith('"'):
        t = t.rsplit(".", 1)[-1]
    t = t.strip('"')
    for suffix in (" unsigned", " zerofill", " with time zone", " without time zone"):
        t = t.replace(suffix, "")
    return t.strip()


def is_spatial(column: Column) -> bool:
    return column.kind == "other" and base_type(column) in SPATIAL or base_type(column) in SPATIAL


def is_network(column: Column) -> bool:
    return base_type(column) in NETWORK


def is_unknown_type(column: Column) -> bool:
    """A type dumpmask has read but does not know how to write (composite, range, hstore,
    ltree, ...). Not the same as no type at all (a data-only dump: column.type == '')."""
    return column.kind == "other" and bool(column.type) and not is_spatial(column)


def _valid_date(y: int, m: int, d: int) -> bool:
    try:
        date(y, m, d)
        return True
    except ValueError:
        return False


def _date_error(s: str, mysql: bool) -> str | None:
    if s.strip().lower() in ("infinity", "-infinity") and not mysql:
        return None
    m = _DATE_RE.match(s)
    if not m or m.end() != len(s.rstrip()):
        return "is not a date in YYYY-MM-DD form"
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if mysql and (y, mo, d) == (0, 0, 0):
        return None
    if not _valid_date(y, mo, d):
        return "is not a valid calendar date"
    return None


def _timestamp_error(s: str, column: Column, mysql: bool) -> str | None:
    if s.strip().lower() in ("infinity", "-infinity") and not mysql:
        return None
    m = _DATE_RE.match(s)
    if not m:
        return "is not a timestamp in 'YYYY-MM-DD HH:MM:SS' form"
    rest = s[m.end():]
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (mysql and (y, mo, d) == (0, 0, 0)) and not _valid_date(y, mo, d):
        return "is not a valid calendar date"
    hh = 0
    if rest.strip():
        if rest[:1] not in (" ", "T", "t"):
            return "is not a timestamp in 'YYYY-MM-DD HH:MM:SS' form"
        tm = _TIME_RE.match(rest[1:].lstrip())
        if not tm:
            return "is not a timestamp in 'YYYY-MM-DD HH:MM:SS' form"
        hh, mi, ss = int(tm.group(1)), int(tm.group(2)), int(tm.group(3) or 0)
        if hh > 23 or mi > 59 or ss > 59:
            return "has an invalid time of day"
        tail = rest[1:].lstrip()[tm.end():]
        if not _TZ_RE.match(tail) or (mysql and tail.strip()):
            return "has a time zone the column does not take" if mysql else "has an unreadable time zone"
    if is_mysql_timestamp(column) or (mysql and base_type(column) == "timestamp"):
        if (y, mo, d) != (0, 0, 0) and not ("1970-01-01 00:00:01" <= s.strip()[:19].replace("T", " ").ljust(19, "0")[:19] <= "2038-01-19 03:14:07"):
            return "is outside MySQL TIMESTAMP's range 1970-01-01 00:00:01 .. 2038-01-19 03:14:07"
    return None


def _time_error(s: str, mysql: bool) -> str | None:
    if mysql:
        if re.match(r"\s*-?\d{1,3}:\d{2}(:\d{2}(\.\d{1,6})?)?\s*\Z", s):
            h = int(s.strip().lstrip("-").split(":")[0])
            return None if h <= 838 else "is outside MySQL TIME's range -838:59:59 .. 838:59:59"
        return "is not a time in HH:MM:SS form"
    tm = _TIME_RE.match(s.strip())
    if not tm or not _TZ_RE.match(s.strip()[tm.end():]):
        return "is not a time in HH:MM:SS form"
    hh, mi, ss = int(tm.group(1)), int(tm.group(2)), int(tm.group(3) or 0)
    if hh > 24 or mi > 59 or ss > 59 or (hh == 24 and (mi or ss)):
        return "has an invalid time of day"
    return None


def _bit_error(s: str, column: Column, mysql: bool) -> str | None:
    if not re.fullmatch(r"[01]*", s):
        return "is not a bit string (only 0 and 1)"
    n = bit_length(column)
    varying = base_type(column) in ("bit varying", "varbit")
    if n is None:
        return None
    if varying or mysql:
        if mysql and not s:
            return "is empty (a BIT value needs at least one bit)"
        return None if len(s) <= n else f"has {len(s)} bits, the column holds at most {n}"
    return None if len(s) == n else f"has {len(s)} bits, the column holds exactly {n}"


def bit_length(column: Column) -> int | None:
    m = re.search(r"\(\s*(\d+)\s*\)", column.type or "")
    if m:
        return int(m.group(1))
    if base_type(column) == "bit":
        return 1
    return None


def _bytea_error(s: str) -> str | None:
    if s.startswith("\\x"):
        h = re.sub(r"\s", "", s[2:])
        if len(h) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", h):
            return "is not bytea hex input (\\x followed by pairs of hex digits)"
        return None
    i = 0
    while i < len(s):
        if s[i] == "\\":
            if s[i + 1:i + 2] == "\\":
                i += 2
                continue
            if re.match(r"[0-3][0-7]{2}", s[i + 1:i + 4]):
                i += 4
                continue
            return "is not bytea input (a backslash must start \\\\ or \\ooo)"
        i += 1
    return None


def _inet_error(s: str, column: Column) -> str | None:
    import ipaddress

    bt = base_type(column)
    v = s
    if v != v.strip():
        return f"has blanks around it, which {bt} does not take"
    try:
        if bt in ("inet", "cidr"):
            if bt == "cidr":
                ipaddress.ip_network(v, strict=True)
            elif "/" in v:
                ipaddress.ip_interface(v)
            else:
                ipaddress.ip_address(v)
        elif bt == "inet4":
            ipaddress.IPv4Address(v)
        elif bt == "inet6":
            ipaddress.ip_address(v)
        elif bt == "macaddr":
            if not _MAC_RE.match(v):
                return "is not a MAC address (6 hex bytes, e.g. 00:00:00:00:00:00)"
        elif bt == "macaddr8":
            if not (_MAC8_RE.match(v) or _MAC_RE.match(v)):
                return "is not a macaddr8 (8 hex bytes)"
    except ValueError:
        return f"is not a valid {bt} value"
    return None


def _set_members(column: Column) -> tuple[str, ...]:
    if column.enum_values:
        return column.enum_values
    return tuple(v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", column.type or ""))


def domain_check_error(name: str, column: Column) -> str | None:
    """A column whose domain type has a CHECK dumpmask cannot evaluate takes no generated or
    fixed value (only keep, null, key): the CHECK could reject it at restore."""
    if column.domain_check and name not in ("keep", "null", "key"):
        alt = "null or keep" if column.nullable else "keep"
        return (f"{name} cannot be checked against the CHECK {column.domain_check.strip()} of the domain type "
                f"{column.type} of column {column.name!r} (dumpmask evaluates only integer range checks): use {alt}")
    return None


def _array_error(s: str, column: Column, bt: str, mysql: bool, dialect: str | None) -> str | None:
    from dumpmask.schema import classify

    from .arrays import element_type, map_array, parse_array

    try:
        _, tree = parse_array(s)
    except ValueError as e:
        return f"is not an array literal ({e}): write it like {{}} or {{a,b}}"
    elem = classify(element_type(column.type or ""))
    elem.name = column.name
    errors: list[str] = []
    map_array(tree, lambda v: errors.append(literal_error(v, elem, dialect) or ""))
    bad = next((e for e in errors if e), None)
    return f"has an element that {bad}" if bad else None


def _int_error(s: str, column: Column, bt: str, mysql: bool, dialect: str | None) -> str | None:
    if not _INT_RE.match(s):
        return "is not an integer"
    v = int(s)
    if (column.int_min is not None and v < column.int_min) or (column.int_max is not None and v > column.int_max):
        return f"is out of range ({column.int_min} .. {column.int_max})"
    return None


def _numeric_error(s: str, column: Column, bt: str, mysql: bool, dialect: str | None) -> str | None:
    if bt == "money":
        return None if (_MONEY_RE.match(s) and s.count("-") <= 1) else "is not an amount of money (like 12.34 or $1,000.00)"
    if not mysql and s.strip().lower() == "nan":
        return None
    if not _NUM_RE.match(s):
        return "is not a number"
    if column.precision is not None:
        intpart = s.strip().lstrip("+-").split(".")[0].split("e")[0].split("E")[0].lstrip("0")
        if "e" in s.lower():
            try:
                from decimal import Decimal

                intpart = str(abs(int(Decimal(s.strip())))).lstrip("0")
            except Exception:
                return "is not a number"
        room = column.precision - (column.scale or 0)
        if len(intpart) > room:
            return f"does not fit numeric({column.precision},{column.scale or 0}) ({room} digits before the point)"
    return None


def _float_error(s: str, column: Column, bt: str, mysql: bool, dialect: str | None) -> str | None:
    if not mysql and s.strip().lower() in ("nan", "infinity", "-infinity", "inf", "-inf", "+infinity"):
        return None
    if not _NUM_RE.match(s):
        return "is not a number"
    f = abs(float(s))
    from decimal import Decimal

    if f == 0 and Decimal(s.strip()) != 0:
        return "is out of the type's range"
    single = bt in ("real", "float4") or (mysql and bt == "float")
    hi, lo = (3.4028234e38, 1.1754944e-38) if single else (1.7976931348623157e308, 2.2250738585072014e-308)
    if f > hi or (f != 0 and f < lo):
        return "is out of the type's range"
    return None


def _interval_error(s: str, column: Column, bt: str, mysql: bool, dialect: str | None) -> str | None:
    if _interval_ok(s):
        return None
    return "is not an interval (e.g. '00:00:00', '1 day', 'P1D')"


def _year_error(s: str, column: Column, bt: str, mysql: bool, dialect: str | None) -> str | None:
    if not re.fullmatch(r"\s*\d{1,4}\s*", s):
        return "is not a year"
    y = int(s)
    return None if y == 0 or 1901 <= y <= 2155 else "is outside YEAR's range 1901 .. 2155 (or 0)"


def _json_error(s: str, column: Column, bt: str, mysql: bool, dialect: str | None) -> str | None:
    def _no_constant(c):
        raise ValueError(c)
    try:
        json.loads(s, parse_constant=_no_constant)
    except ValueError:
        return "is not valid JSON (write a JSON literal such as {} or \"text\" or null)"
    if bt == "jsonb" and "\\u0000" in s:
        return "holds \\u0000, which jsonb does not accept"
    return None


def _enum_error(s: str, column: Column, bt: str, mysql: bool, dialect: str | None) -> str | None:
    if bt == "set" or (column.type or "").startswith("set"):
        members = _set_members(column)
        if s == "":
            return None
        low = {m.lower() for m in members}
        bad = [p for p in s.split(",") if p.lower() not in low]
        return None if not bad or not members else f"is not a set of the members {', '.join(repr(m) for m in members)}"
    if column.enum_values and s not in column.enum_values:
        if mysql and s.lower() in {v.lower() for v in column.enum_values}:
            return None
        return f"is not one of the enum's labels {', '.join(repr(v) for v in column.enum_values)}"
    return None


def _binary_error(s: str, column: Column, bt: str, mysql: bool, dialect: str | None) -> str | None:
    if not mysql and bt == "bytea":
        return _bytea_error(s)
    if column.length is not None and len(s.encode("utf-8", "surrogateescape")) > column.length:
        return f"is {len(s.encode('utf-8', 'surrogateescape'))} bytes, the column holds {column.length}"
    return None


# the literal check of each column kind: (literal, column, base type, mysql?, dialect) -> error or None
_KIND_CHECKS = {
    "array": _array_error,
    "int": _int_error,
    "numeric": _numeric_error,
    "float": _float_error,
    "bool": lambda s, column, bt, mysql, dialect: None if s.strip().lower() in _PG_BOOL else "is not a boolean (true or false)",
    "date": lambda s, column, bt, mysql, dialect: _date_error(s, mysql),
    "timestamp": lambda s, column, bt, mysql, dialect: _timestamp_error(s, column, mysql),
    "time": lambda s, column, bt, mysql, dialect: _time_error(s, mysql),
    "interval": _interval_error,
    "year": _year_error,
    "uuid": lambda s, column, bt, mysql, dialect: None if _UUID_RE.match(s) else "is not a UUID (8-4-4-4-12 hex digits)",
    "json": _json_error,
    "enum": _enum_error,
    "bit": lambda s, column, bt, mysql, dialect: _bit_error(s, column, mysql),
    "binary": _binary_error,
}


def literal_error(value: str, column: Column, dialect: str | None = None) -> str | None:
    """Why `value` (a literal of a rule: static's, redact's) cannot be written into `column`,
    or None when it is valid (or the type is one dumpmask cannot judge: then the caller
    decides). `dialect` is 'postgres', 'mysql' or None (unknown: PostgreSQL rules are used
    where the two differ, except for types only MySQL has)."""
    mysql = dialect == "mysql"
    bt = base_type(column)
    if is_spatial(column):
        return f"no literal is checked for a {bt} column"
    check = _KIND_CHECKS.get(column.kind)
    if check is not None:
        return check(value, column, bt, mysql, dialect)
    if bt in NETWORK:
        return _inet_error(value, column)
    if column.kind == "text":
        if column.length is not None and len(value) > column.length:
            return f"is {len(value)} characters, the column holds {column.length}"
        if "\x00" in value and not mysql:
            return "holds a NUL character, which PostgreSQL text does not accept"
    return None


def redact_default(column: Column, dialect: str | None = None) -> str | None:
    """The fixed value `redact` writes into `column`, or None when the type has none that
    dumpmask can stand behind (spatial and unknown types: the rule is refused)."""
    if is_spatial(column) or is_unknown_type(column):
        return None
    bt = base_type(column)
    if column.kind == "bit" and dialect == "mysql":
        return "\x00" * (((bit_length(column) or 1) + 7) // 8)   # the dump holds BIT values as raw bytes
    if bt in NETWORK:
        return {"inet": "0.0.0.0", "cidr": "0.0.0.0/32", "macaddr": "00:00:00:00:00:00",
                "macaddr8": "00:00:00:00:00:00:00:00", "inet4": "0.0.0.0", "inet6": "::"}[bt]
    return redact_value(column)


def is_mysql_timestamp(column: Column) -> bool:
    """MySQL TIMESTAMP holds 1970-01-01 00:00:01 .. 2038-01-19 only (PostgreSQL spells its
    type 'timestamp with/without time zone')."""
    t = column.type or ""
    return column.kind == "timestamp" and t.startswith("timestamp") and "zone" not in t


def redact_value(column: Column) -> str:
    """The fixed value `redact` writes into a column of this type."""
    k = column.kind
    if k == "int":
        return str(column.int_min) if column.int_min is not None else "0"
    if k in ("numeric", "float"):
        return "0"
    if k == "bit":
        n = bit_length(column)
        return "0" if base_type(column) in ("bit varying", "varbit") or n is None or "unsigned" in (column.type or "") else "0" * n
    if k == "date":
        return "1900-01-01"
    if k == "timestamp":
        return "1970-01-01 00:00:01" if is_mysql_timestamp(column) else "1900-01-01 00:00:00"
    if k in ("time", "interval"):
        return "00:00:00"
    if k == "bool":
        return "false"
    if k == "uuid":
        return "00000000-0000-0000-0000-000000000000"
    if k == "year":
        return "1901"
    if k == "json":
        return "{}"
    if k == "array":
        return "{}"
    if k == "binary":
        return ""
    if k == "enum" and (column.type or "").split("(")[0].strip() == "set":
        return ""   # the empty set
    if k == "enum" and column.enum_values:
        return column.enum_values[0]
    s = "*****"
    if column.length is not None:
        s = s[: column.length]
    return s
