"""Identifier readers: one per dialect, for every place a dump names a table, column or sequence.

PostgreSQL: "..." with "" inside (may hold newlines, dots, spaces, commas, parentheses,
keywords, any character), U&"..." with \\XXXX / \\+XXXXXX escapes (and UESCAPE 'c'), and
unquoted names, which the server folds to lower case (ASCII letters only, as it does for a
UTF-8 database).
MySQL / MariaDB: `...` with `` inside, "..." with "" inside (ANSI_QUOTES, mariadb-dump
--compatible=ansi; a double-quoted string never stands where a name is expected), and
unquoted names, kept as written (the adapters compare case-insensitively where MySQL does).

Every reader works on str or bytes (names come back as str; undecodable bytes are kept with
surrogateescape) and returns the names with the position just after what it consumed, so the
caller carries on from there: read_ident -> (name, end), read_qualname -> (parts, end),
read_ident_list -> (names, end). None when there is no identifier at that position.
"""
from __future__ import annotations

import re
from dumpmask.lazy import lazy_pattern

PG = "postgres"
MY = "mysql"

# one pattern per (dialect, text type): group 1 = "..." body, 2 = `...` body, 3 = U&"..." body
# (+ 4 = its UESCAPE char), 5 = bare name
# (a name's letters: [A-Za-z_\x80-\U0010ffff] written as the complement of the other ASCII
# characters, the same set, compiled in ~1 ms instead of ~50 ms with re.I: start-up time)
_NAME_START = r"[^\x00-\x40\x5b-\x5e\x60\x7b-\x7f]"               # A-Z a-z _ and non-ASCII
_NAME_PART = r"[^\x00-\x23\x25-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"  # ... and 0-9 $
_SRC = {
    PG: (r'\s*(?:"((?:[^"]|"")*)"|(?!)(.)|[Uu]&"((?:[^"]|"")*)"(?:\s*UESCAPE\s*\'([^\'])\')?'
         r'|(' + _NAME_START + _NAME_PART + r'*))'),
    MY: (r'\s*(?:"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|(?!)(.)(.)'
         r'|(' + _NAME_PART + r'+))'),
}
_STR_RE = {d: re.compile(s, re.S | re.I) for d, s in _SRC.items()}
_BYTES_RE = {d: re.compile(s.replace(r"\U0010ffff", r"\xff").encode("latin-1"), re.S | re.I) for d, s in _SRC.items()}
_WS_STR = lazy_pattern(globals(), "_WS_STR", r"\s*")
_WS_BYTES = lazy_pattern(globals(), "_WS_BYTES", rb"\s*")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _dialect(d: str) -> str:
    return PG if d in (PG, "pg") else MY


def _as_str(text) -> str:
    """bytes (a name read from the dump) -> str, undecodable bytes kept as surrogate escapes."""
    return text.decode("utf-8", "surrogateescape") if isinstance(text, (bytes, bytearray)) else text


def _uescape(body: str, esc: str) -> str:
    out = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c == esc:
            if body[i + 1:i + 2] == esc:
                out.append(esc)
                i += 2
                continue
            if body[i + 1:i + 2] == "+" and re.fullmatch(r"[0-9A-Fa-f]{6}", body[i + 2:i + 8]):
                out.append(chr(int(body[i + 2:i + 8], 16)))
                i += 8
                continue
            if re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 1:i + 5]):
                out.append(chr(int(body[i + 1:i + 5], 16)))
                i += 5
                continue
        out.append(c)
        i += 1
    return "".join(out)


def read_ident(text, pos: int = 0, dialect: str = PG):
    """The identifier at text[pos:] (leading blanks skipped) -> (name, end) or None."""
    d = _dialect(dialect)
    m = (_BYTES_RE if isinstance(text, (bytes, bytearray)) else _STR_RE)[d].match(text, pos)
    if m is None:
        return None
    g = m.groups()
    if g[0] is not None:
        q = '"' if isinstance(text, str) else b'"'
        return _as_str(g[0].replace(q + q, q)), m.end()
    if g[1] is not None:
        q = "`" if isinstance(text, str) else b"`"
        return _as_str(g[1].replace(q + q, q)), m.end()
    if g[2] is not None:
        body = _as_str(g[2]).replace('""', '"')
        return _uescape(body, _as_str(g[3]) if g[3] is not None else "\\"), m.end()
    return fold(_as_str(g[4]), d), m.end()


def is_quoted_at(text, pos: int = 0) -> bool:
    """Whether the identifier at text[pos:] (after blanks) is written quoted."""
    ws = _WS_BYTES if isinstance(text, (bytes, bytearray)) else _WS_STR
    p = ws.match(text, pos).end()
    c = text[p:p + 1]
    if isinstance(c, (bytes, bytearray)):
        c = c.decode("latin-1")
    if c in ('"', "`"):
        return True
    return c in ("U", "u") and text[p + 1:p + 3] in ('&"', b'&"')


def read_qualname(text, pos: int = 0, dialect: str = PG):
    """a.b.c (blanks allowed around the dots) -> ([a, b, c], end) or None."""
    r = read_ident(text, pos, dialect)
    if r is None:
        return None
    parts = [r[0]]
    end = r[1]
    dot = "." if isinstance(text, str) else b"."
    ws = _WS_BYTES if isinstance(text, (bytes, bytearray)) else _WS_STR
    while True:
        p = ws.match(text, end).end()
        if text[p:p + 1] != dot:
            return parts, end
        r = read_ident(text, p + 1, dialect)
        if r is None:
            return parts, end
        parts.append(r[0])
        end = r[1]


def split_qual(parts, dialect: str = PG) -> tuple[str | None, str]:
    """[schema, name] or [db, schema, name] or [name] -> (schema or None, name). A qualified
    name given as SQL text (`public."a.b"`) is read first with the dialect's identifier reader."""
    if isinstance(parts, (str, bytes, bytearray)):
        r = read_qualname(parts, 0, dialect)
        parts = r[0] if r is not None else None
    if not parts:
        return None, ""
    return (parts[-2] if len(parts) > 1 else None), parts[-1]


def read_table_name(text, pos: int = 0, dialect: str = PG):
    """A (schema-)qualified table name -> ((schema or None, name), end) or None."""
    r = read_qualname(text, pos, dialect)
    if r is None:
        return None
    return split_qual(r[0]), r[1]


_LIST_ITEM_TAIL_STR = lazy_pattern(globals(), "_LIST_ITEM_TAIL_STR", r"\s*(?:\(\s*\d+\s*\))?\s*(?:(?:ASC|DESC)\b)?\s*", re.I)
_LIST_ITEM_TAIL_BYTES = lazy_pattern(globals(), "_LIST_ITEM_TAIL_BYTES", rb"\s*(?:\(\s*\d+\s*\))?\s*(?:(?:ASC|DESC)\b)?\s*", re.I)


def read_ident_list(text, pos: int = 0, dialect: str = PG, *, key_parts: bool = False):
    """( a, "b", c ) -> ([a, b, c], end after the ')') or None. With key_parts, each name may
    be followed by a prefix length (10) and ASC/DESC, as in index and key definitions."""
    b = isinstance(text, (bytes, bytearray))
    ws = _WS_BYTES if b else _WS_STR
    p = ws.match(text, pos).end()
    op, cp, comma = (b"(", b")", b",") if b else ("(", ")", ",")
    if text[p:p + 1] != op:
        return None
    p += 1
    names: list[str] = []
    p = ws.match(text, p).end()
    if text[p:p + 1] == cp:
        return names, p + 1
    tail = (_LIST_ITEM_TAIL_BYTES if b else _LIST_ITEM_TAIL_STR)
    while True:
        r = read_ident(text, p, dialect)
        if r is None:
            return None
        names.append(r[0])
        p = r[1]
        p = tail.match(text, p).end() if key_parts else ws.match(text, p).end()
        c = text[p:p + 1]
        if c == comma:
            p += 1
            continue
        if c == cp:
            return names, p + 1
        return None


def quote(name: str, dialect: str = PG) -> str:
    """A name written so that read_ident gives it back."""
    if _dialect(dialect) == PG:
        return '"' + name.replace('"', '""') + '"'
    return "`" + name.replace("`", "``") + "`"


def qualname_text(schema: str | None, name: str, dialect: str = PG) -> str:
    """(schema, name) -> the quoted qualified name as SQL text."""
    q = quote(name, dialect)
    return f"{quote(schema, dialect)}.{q}" if schema else q


# --------------------------------------------------------------------------- one place for names


# How a dialect folds the names it reads (sqlglot's normalize_identifier is the model: the dialect
# says what happens to an unquoted name; a quoted one is always kept as written).
#   fold(name, dialect):     an unquoted name as the server stores it (PostgreSQL lower-cases
#                            ASCII letters only, as it does in a UTF-8 database; MySQL keeps it)
#   name_key(name, dialect): the key under which two stored names are the same column
#                            (PostgreSQL compares exactly; MySQL column names case-insensitively)
_FOLD = {PG: lambda name: name.translate(_ASCII_LOWER), MY: lambda name: name}
_NAME_KEY = {PG: lambda name: name, MY: str.lower}


def fold(name: str, dialect: str = PG) -> str:
    """An unquoted name as the dialect stores it (PostgreSQL: ASCII letters lower-cased)."""
    return _FOLD[_dialect(dialect)](name)


def name_key(name: str, dialect: str = PG) -> str:
    """The key two resolved names share when the dialect takes them for the same column."""
    return _NAME_KEY[_dialect(dialect)](name)


def display_name(key) -> str:
    """A table key (schema or None, name) as messages, the audit and the report show it:
    `schema.name`, or `name` alone (unquoted, for people; qualname_text gives SQL)."""
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


def column_named(pattern: str, quoted: bool, actual: str, dialect: str = PG) -> bool:
    """Does a rule's column name `pattern` (`quoted`: written in double quotes in the rules
    file) name the dump's column `actual`? MySQL compares case-insensitively; PostgreSQL
    folds an unquoted name to lower case (and also takes it as written), a quoted one is exact."""
    if _dialect(dialect) != PG:
        return name_key(pattern, dialect) == name_key(actual, dialect)
    if quoted:
        return pattern == actual
    return fold(pattern, dialect) == actual or pattern == actual
