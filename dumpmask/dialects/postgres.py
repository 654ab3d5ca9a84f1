"""PostgreSQL plain dumps (pg_dump -Fp): statements, COPY text blocks, INSERT literals.

Lexical rules followed: '...' strings with doubled quotes (standard_conforming_strings on),
E'...' strings with backslash escapes, "..." identifiers, $tag$...$tag$ dollar quotes, -- and
nested /* */ comments, psql meta-commands (a line starting with a backslash, such as
\\restrict or \\connect) outside statements, and COPY ... FROM stdin blocks ended by \\.
"""
from __future__ import annotations

import copy
import functools
import itertools
import re

from dumpmask.dialects.base import (HUGE_FIELD, UNCHANGED, FieldFns, InsertStmt, LineReader, Stmt, counting,
                                    has_huge_span, mask_spans_huge, remember, row_masker, span_masker, statement_kind_words)
from dumpmask.dialects.fast import c_copy_spans, copy_spans, splice
from dumpmask.errors import DumpSyntaxError

NAME = "postgres"
SAMPLE_ROWS = 100   # rows held back per table for content detection on a pipe (--strict, --template)

# ---------------------------------------------------------------- lexing statements
_SPECIAL = re.compile(rb"['\"$;/\-]")
_DOLLAR_TAG = re.compile(rb"\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$")
_SQUOTE_END = re.compile(rb"'")
_ESTR_END = re.compile(rb"\\.|'", re.S)
_IDENT_BEFORE = re.compile(rb"[A-Za-z0-9_\x80-\xff]")

# lexer states
NORMAL, SQUOTE, ESTRING, DQUOTE, DOLLAR, BLOCK = range(6)


class PgLexState:
    __slots__ = ("state", "tag", "depth")

    def __init__(self):
        self.state = NORMAL
        self.tag = b""
        self.depth = 0


def scan(buf: bytes, pos: int, st: PgLexState, semis: list[int]) -> int:
    """Advance the lexer over buf[pos:], appending offsets of top-level ';' to `semis`.
    Returns the position reached (len(buf) unless the buffer ends inside a line comment,
    which cannot happen with whole lines)."""
    n = len(buf)
    while pos < n:
        s = st.state
        if s == NORMAL:
            m = _SPECIAL.search(buf, pos)
            if not m:
                return n
            i = m.start()
            c = buf[i]
            if c == 0x27:  # '
                if i > 0 and buf[i - 1] in b"eE" and (i < 2 or not _IDENT_BEFORE.match(buf, i - 2)):
                    st.state = ESTRING
                else:
                    st.state = SQUOTE
                pos = i + 1
            elif c == 0x22:  # "
                st.state = DQUOTE
                pos = i + 1
            elif c == 0x24:  # $
                mt = _DOLLAR_TAG.match(buf, i)
                if mt and (i == 0 or not _IDENT_BEFORE.match(buf, i - 1)):
                    st.state = DOLLAR
                    st.tag = mt.group()
                    pos = mt.end()
                else:
                    pos = i + 1
            elif c == 0x3B:  # ;
                semis.append(i)
                pos = i + 1
            elif c == 0x2F:  # /
                if buf[i + 1:i + 2] == b"*":
                    st.state = BLOCK
                    st.depth = 1
                    pos = i + 2
                else:
                    pos = i + 1
            else:  # -
                if buf[i + 1:i + 2] == b"-":
                    j = buf.find(b"\n", i)
                    pos = n if j < 0 else j + 1
                else:
                    pos = i + 1
        elif s == SQUOTE:
            j = buf.find(b"'", pos)
            if j < 0:
                return n
            st.state = NORMAL  # a doubled '' simply reopens a string on the next char
            pos = j + 1
        elif s == ESTRING:
            while True:
                m = _ESTR_END.search(buf, pos)
                if not m:
                    return n
                pos = m.end()
                if m.group() == b"'":
                    if buf[pos:pos + 1] == b"'":
                        pos += 1
                        continue
                    st.state = NORMAL
                    break
        elif s == DQUOTE:
            j = buf.find(b'"', pos)
            if j < 0:
                return n
            st.state = NORMAL
            pos = j + 1
        elif s == DOLLAR:
            j = buf.find(st.tag, pos)
            if j < 0:
                return n
            st.state = NORMAL
            pos = j + len(st.tag)
        else:  # BLOCK comment, nested
            m = re.compile(rb"/\*|\*/").search(buf, pos)
            if not m:
                return n
            st.depth += 1 if m.group() == b"/*" else -1
            pos = m.end()
            if st.depth == 0:
                st.state = NORMAL
    return n


_STATE_NAMES = {SQUOTE: "unterminated string", ESTRING: "unterminated string", DQUOTE: "unterminated quoted identifier",
                DOLLAR: "unterminated dollar-quoted string", BLOCK: "unterminated comment"}

_SETVAL_RE = re.compile(rb"\s*SELECT\s+(?:pg_catalog\s*\.\s*)?setval\(\s*'(?P<seq>(?:[^']|'')*)'(?:\s*::\s*regclass)?\s*,\s*(?P<val>-?\d+)\s*(?:,\s*(?P<called>true|false)\s*)?\)\s*;", re.I)


def _kind(raw: bytes) -> str:
    w = statement_kind_words(raw)
    if not w:
        return "other"
    a = w[0]
    if a == "COPY":
        return "copy"
    if a == "INSERT":
        return "insert"
    if a == "CREATE":
        rest = w[1:]
        if rest[:1] == ("TABLE",) or rest[:2] in (("UNLOGGED", "TABLE"), ("TEMPORARY", "TABLE"), ("TEMP", "TABLE"),
                                                   ("FOREIGN", "TABLE")):
            return "create_table"
        if rest[:1] == ("DOMAIN",):
            return "create_domain"
        return "create"
    if a == "ALTER" and w[1:2] == ("TABLE",):
        return "alter_table"
    if a == "ALTER" and w[1:2] == ("SEQUENCE",):
        return "alter_sequence"
    if a == "SELECT" and b"setval" in raw[:80].lower():
        return "setval"
    return a.lower()


class PgReader:
    """Splits a pg_dump plain-format byte stream into Stmt objects. After a "copy" statement the
    caller must consume that block with copy_rows() before asking for the next statement."""

    dialect = NAME

    def __init__(self, lines: LineReader):
        self.lines = lines
        self.in_copy = False

    def statements(self):
        lines = self.lines
        buf: list[bytes] = []
        start = 0
        st = PgLexState()
        for line in lines:
            if not buf:
                stripped = line.lstrip(b" \t")
                if not stripped.strip():
                    yield Stmt(line, lines.lineno, "blank")
                    continue
                if stripped.startswith(b"--"):
                    yield Stmt(line, lines.lineno, "blank")
                    continue
                if stripped.startswith(b"\\"):
                    yield Stmt(line, lines.lineno, "meta")
                    continue
                start = lines.lineno
            semis: list[int] = []
            scan(line, 0, st, semis)
            if not semis:
                buf.append(line)
                continue
            # one or more statements end on this line: split on the top-level semicolons
            head = b"".join(buf)
            buf = []
            last = 0
            nsemi = len(semis)
            for k, si in enumerate(semis):
                if k == nsemi - 1 and st.state == NORMAL:
                    rest = line[si + 1:].lstrip()
                    if not rest or rest.startswith(b"--"):
                        piece = head + line[last:]
                        last = len(line)
                        yield Stmt(piece, start, _kind(piece))
                        break
                piece = head + line[last:si + 1]
                head = b""
                last = si + 1
                yield Stmt(piece, start, _kind(piece))
                start = lines.lineno
            remainder = line[last:]
            if remainder:
                if remainder.strip() or st.state != NORMAL:
                    buf = [remainder]   # the next statement begins on this line
                    start = lines.lineno
                else:
                    yield Stmt(remainder, lines.lineno, "blank")
        if buf:
            what = _STATE_NAMES.get(st.state, "unterminated statement (no ';' before end of input)")
            raise DumpSyntaxError(what, start, lines.source, b"".join(buf)[:60])

    def copy_rows(self):
        """Yields the raw data lines of the current COPY block; the terminator line is returned
        through self.copy_end (or a DumpSyntaxError at EOF)."""
        self.copy_end = None
        lines = self.lines
        yield from self._pending_rows()     # lines handed back by a block read: counted by LineReader
        if self.copy_end is not None:
            return
        n = 0
        try:
            for line in lines.raw_lines():
                n += 1
                if line[:2] == b"\\." and line.rstrip(b"\r\n") == b"\\.":
                    self.copy_end = line
                    return
                yield line
        finally:
            lines.lineno += n
        raise DumpSyntaxError("unterminated COPY block (no \\. before end of input)", lines.lineno, lines.source)

    def _pending_rows(self):
        """The data lines among those handed back to the line reader (copy_end is set if the
        terminator is among them)."""
        lines = self.lines
        while lines.has_pending:
            line = next(lines, None)
            if line is None:
                return
            if line[:2] == b"\\." and line.rstrip(b"\r\n") == b"\\.":
                self.copy_end = line
                return
            yield line

    def copy_passthrough(self, write) -> int:
        """Copies the current COPY block's data to `write` unchanged, block by block (no per-line
        Python work); returns the row count."""
        rows = 0
        for chunk in self.copy_chunks():
            write(chunk)
            rows += chunk.count(b"\n")
        return rows

    def copy_chunks(self):
        """The current COPY block's data as chunks of whole lines (each ending with a line break),
        read in ~1 MB blocks; self.lines.lineno counts them. At the terminator, self.copy_end is
        set and what was read past it is handed back to the line reader. A last line without a
        line break before EOF is yielded, then the block is an error (DumpSyntaxError)."""
        lines = self.lines
        self.copy_end = None
        read = getattr(lines.stream, "read1", None)
        if lines.has_pending or read is None:
            # lines handed back by an earlier block read (or a stream without read1): in chunks
            buf = []
            for line in (self.copy_rows() if read is None else self._pending_rows()):
                buf.append(line)
                if len(buf) >= 4096:
                    yield b"".join(buf)
                    buf = []
            if buf:
                yield b"".join(buf)
            if self.copy_end is not None or read is None:
                return
        # the line not yet complete is kept as a list of pieces and joined once, when its line
        # break arrives: a line of any length costs linear time (no carry + chunk per block),
        # and only the new block is searched for the terminator
        parts: list[bytes] = []
        plen = 0
        while True:
            chunk = read(1 << 20)
            if not chunk:
                if parts:
                    lines.lineno += 1
                    yield b"".join(parts)
                raise DumpSyntaxError("unterminated COPY block (no \\. before end of input)", lines.lineno, lines.source)
            # a terminator line may begin in the pieces only when they are all of a short line
            # ("\\", "\\.", "\\.\r"); b"\n" stands for the line break before them
            if not parts and chunk.startswith((b"\\.\n", b"\\.\r\n")):
                prev, idx = b"", 0
            else:
                prev = b"\n" + b"".join(parts) if 0 < plen <= 3 else b""
                window = prev + chunk if prev else chunk
                i1 = window.find(b"\n\\.\n")
                i2 = window.find(b"\n\\.\r\n")
                idx = min(i for i in (i1, i2) if i >= 0) + 1 if (i1 >= 0 or i2 >= 0) else -1
            if idx >= 0:
                k = idx - len(prev)          # where the terminator line begins in chunk (< 0: in the pieces)
                if k >= 0:
                    body = b"".join(parts + [chunk[:k]]) if parts else chunk[:k]
                    term_from = k
                else:
                    body = b""
                    term_from = 0
                end = chunk.index(b"\n", term_from) + 1
                self.copy_end = (b"".join(parts) if k < 0 else b"") + chunk[term_from:end]
                rest = chunk[end:]
                parts = chunk = None   # not held while the caller works on body
                if body:
                    lines.lineno += body.count(b"\n")
                    yield body
                lines.lineno += 1
                lines.unread(rest)
                return
            cut = chunk.rfind(b"\n") + 1
            if cut:
                if parts:
                    parts.append(chunk[:cut])
                    part = b"".join(parts)
                else:
                    part = chunk[:cut] if cut < len(chunk) else chunk
                parts = []
                lines.lineno += part.count(b"\n")
                yield part
                if cut < len(chunk):
                    parts.append(chunk[cut:])
                plen = len(chunk) - cut
            else:
                parts.append(chunk)
                plen += len(chunk)


# ---------------------------------------------------------------- names
import dumpmask.idents as _idents  # noqa: E402


@functools.lru_cache(maxsize=1 << 14)
def parse_qualname(text: bytes) -> tuple[str | None, str]:
    """b'public."Cust omer"' -> ("public", "Cust omer"); unquoted names fold to lower case."""
    r = _idents.read_qualname(text, 0, "postgres")
    if r is None:
        return None, ""
    return _idents.split_qual(r[0])


def parse_ident_list(text: bytes) -> list[str]:
    """The names of a column list's inside: b'a, "B c"' -> ["a", "B c"]."""
    r = _idents.read_ident_list(b"(" + text + b")", 0, "postgres")
    if r is None:
        raise DumpSyntaxError("cannot read a column list")
    return r[0]


_COPY_VERB = re.compile(rb"\s*COPY\s+", re.I)
_COPY_TAIL = re.compile(rb"\s*FROM\s+stdin\b(?P<opts>[^;]*);", re.I)
_INSERT_VERB = re.compile(rb"\s*INSERT\s+INTO\s+", re.I)
_INSERT_MID = re.compile(rb"\s*(?:AS\s+(?:\"(?:[^\"]|\"\")*\"|\w+)\s*)?", re.I)
_INSERT_VALUES = re.compile(rb"\s*(?:OVERRIDING\s+(?:SYSTEM|USER)\s+VALUE\s+)?VALUES\s*", re.I)


def _table_and_cols(raw: bytes, pos: int):
    """name [ (col, ...) ] at raw[pos:] -> ((schema, name), cols or None, end) or None."""
    r = _idents.read_table_name(raw, pos, "postgres")
    if r is None:
        return None
    table, p = r
    cols = None
    q = _idents._WS_BYTES.match(raw, p).end()
    if raw[q:q + 1] == b"(":
        lr = _idents.read_ident_list(raw, q, "postgres")
        if lr is None:
            return table, False, q
        cols, p = lr
    return table, cols, p


def insert_head(raw: bytes):
    """INSERT INTO name [(cols)] [OVERRIDING ...] VALUES -> ((schema, name), cols or None,
    offset of the first row) ; ((schema, name), False, -1) when the table is read but the rest is
    not a plain VALUES list; None when not even the table name can be read."""
    m = _INSERT_VERB.match(raw)
    if m is None:
        return None
    r = _table_and_cols(raw, m.end())
    if r is None:
        return None
    table, cols, p = r
    if cols is None:
        p = _INSERT_MID.match(raw, p).end()
        q = _idents._WS_BYTES.match(raw, p).end()
        if raw[q:q + 1] == b"(" and cols is None:
            lr = _idents.read_ident_list(raw, q, "postgres")
            if lr is not None:
                cols, p = lr
    if cols is False:
        return table, False, -1
    v = _INSERT_VALUES.match(raw, p)
    if v is None:
        return table, False, -1
    return table, cols, v.end()


def quote_ident(name: str) -> str:
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def parse_copy(raw: bytes):
    """COPY header -> (table, columns or None, is_text_format). None when not FROM stdin."""
    m = _COPY_VERB.match(raw)
    if not m:
        return None
    r = _table_and_cols(raw, m.end())
    if r is None or r[1] is False:
        return None
    table, cols, p = r
    t = _COPY_TAIL.match(raw, p)
    if t is None:
        return None
    opts = t.group("opts").lower()
    text_format = not re.search(rb"format\s*\(?\s*(csv|binary)|\bcsv\b|\bbinary\b|delimiter", opts)
    return table, cols, text_format


def parse_setval(raw: bytes):
    m = _SETVAL_RE.match(raw)
    if not m:
        return None
    seq = m.group("seq").replace(b"''", b"'")
    return parse_qualname(seq), int(m.group("val")), m


# ---------------------------------------------------------------- COPY text format values
_COPY_ESC = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
_COPY_UNESC_RE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.S)


def _copy_unesc(m: re.Match) -> bytes:
    if m.group(1):
        return bytes((int(m.group(1), 8) & 0xFF,))
    if m.group(2):
        return bytes((int(m.group(2), 16),))
    c = m.group(3)
    return _COPY_ESC.get(c, c)


def copy_decode(field: bytes) -> str | None:
    """One COPY text field -> str (None for \\N)."""
    if field == b"\\N":
        return None
    if b"\\" in field:
        field = _COPY_UNESC_RE.sub(_copy_unesc, field)
    return field.decode("utf-8", "surrogateescape")


_COPY_ENC_RE = re.compile(rb"[\\\b\f\n\r\t\v]")
_COPY_ENC = {b"\\": b"\\\\", b"\b": b"\\b", b"\f": b"\\f", b"\n": b"\\n", b"\r": b"\\r", b"\t": b"\\t", b"\v": b"\\v"}


def copy_encode(value: str | None) -> bytes:
    if value is None:
        return b"\\N"
    if value.isascii() and value.isprintable() and "\\" not in value:
        return value.encode()  # nothing to escape (the common case for generated values)
    b = value.encode("utf-8", "surrogateescape")
    if _COPY_ENC_RE.search(b):
        b = _COPY_ENC_RE.sub(lambda m: _COPY_ENC[m.group()], b)
    return b


# ---------------------------------------------------------------- INSERT statements
# a field: a string (plain or E''), optionally with a ::cast, or a bare token (possessive: a
# string of any length is matched in linear time, without the regex engine's backtracking stack)
_PG_FIELD = re.compile(
    rb"\s*(?:[Ee]'(?:[^'\\]++|\\.|'')*+'|[BbXx]'[0-9A-Fa-f]*+'|'(?:[^']++|'')*+'|[^,()'\s]+(?:\([^()]*\))?)(?:::[A-Za-z_][\w .\"\[\]]*(?:\(\d+(?:,\d+)?\))?(?:\[\])*)?\s*",
    re.S)


def parse_insert(raw: bytes, source: str = "<stdin>", line: int | None = None) -> InsertStmt:
    h = insert_head(raw)
    if h is None or h[2] < 0:
        raise DumpSyntaxError("cannot parse INSERT statement (expected INSERT INTO table [(columns)] VALUES ...)", line, source, raw[:60])
    table, cols, vstart = h
    ins = InsertStmt(raw=raw, table=table, columns=cols, values_start=vstart)
    pos = vstart
    n = len(raw)
    while True:
        if raw[pos:pos + 1] != b"(":
            raise DumpSyntaxError("expected '(' starting a row of VALUES", line, source, raw[pos:pos + 40])
        t0 = pos
        pos += 1
        fields = []
        while True:
            fm = _PG_FIELD.match(raw, pos)
            if not fm or fm.end() == pos:
                raise DumpSyntaxError("cannot parse a value in INSERT", line, source, raw[pos:pos + 40])
            fields.append((fm.start(), fm.end()))
            pos = fm.end()
            c = raw[pos:pos + 1]
            if c == b",":
                pos += 1
                continue
            if c == b")":
                pos += 1
                break
            raise DumpSyntaxError("unexpected text in INSERT values (expressions are not supported in masked tables)", line, source, raw[pos:pos + 40])
        ins.tuples.append((t0, pos, fields))
        while pos < n and raw[pos:pos + 1].isspace():
            pos += 1
        if raw[pos:pos + 1] == b",":
            pos += 1
            while pos < n and raw[pos:pos + 1].isspace():
                pos += 1
            continue
        break
    ins.tail_start = pos
    tail = raw[pos:].strip()
    if not tail.startswith(b";") and not re.match(rb"(?i)ON\s+CONFLICT", tail):
        raise DumpSyntaxError("unexpected text after INSERT values", line, source, raw[pos:pos + 40])
    return ins


_E_UNESC_RE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.S)


def _e_unesc(m: re.Match) -> bytes:
    if m.group(1):
        return bytes((int(m.group(1), 8) & 0xFF,))
    if m.group(2):
        return bytes((int(m.group(2), 16),))
    if m.group(3) or m.group(4):
        return chr(int(m.group(3) or m.group(4), 16)).encode("utf-8", "surrogatepass")
    c = m.group(5)
    return _COPY_ESC.get(c, c)


class Literal:
    __slots__ = ("value", "quoted", "cast")

    def __init__(self, value, quoted, cast):
        self.value, self.quoted, self.cast = value, quoted, cast


_CAST_RE = re.compile(rb"::[^']*$")


def literal_decode(field: bytes) -> Literal:
    """A SQL literal as pg_dump --inserts writes it -> Literal(value str|None, quoted, cast)."""
    f = field.strip()
    cast = b""
    if f.endswith((b"]", b")")) or b"::" in f[-60:]:
        q = f.rfind(b"'")
        tail = f[q + 1:] if q >= 0 else f
        i = tail.find(b"::")
        if i >= 0:
            cast = tail[i:]
            f = f[:len(f) - len(cast)]
    if f[:1] in (b"E", b"e") and f[1:2] == b"'":
        body = f[2:-1]
        body = _E_UNESC_RE.sub(_e_unesc, body.replace(b"''", b"'"))
        return Literal(body.decode("utf-8", "surrogateescape"), True, cast)
    if f[:1] == b"'":
        if f.find(b"''", 1, len(f) - 1) < 0:   # no doubled quote: decoded in place, no copy
            return Literal(str(memoryview(f)[1:-1], "utf-8", "surrogateescape"), True, cast)
        return Literal(f[1:-1].replace(b"''", b"'").decode("utf-8", "surrogateescape"), True, cast)
    if f[:2] in (b"B'", b"b'") and f[-1:] == b"'":   # pg_dump --inserts writes bit strings as B'0101'
        return Literal(f[2:-1].decode("ascii", "surrogateescape"), True, cast)
    if f.upper() == b"NULL":
        return Literal(None, False, cast)
    return Literal(f.decode("utf-8", "surrogateescape"), False, cast)


_NUMBER_RE = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def literal_encode(value: str | None, like: Literal | None = None, kind: str = "text") -> bytes:
    """A value -> SQL literal text. Numbers and booleans stay unquoted where the original was."""
    cast = like.cast if like else b""
    if value is None:
        return b"NULL" + cast
    if like is not None and not like.quoted:
        if kind in ("int", "numeric", "float") and _NUMBER_RE.fullmatch(value):
            return value.encode() + cast
        if kind == "bool" and value.lower() in ("true", "false"):
            return value.encode() + cast
    b = value.encode("utf-8", "surrogateescape")
    if b"\\" in b and False:  # standard_conforming_strings = on: backslashes are plain
        pass
    return b"'" + b.replace(b"'", b"''") + b"'" + cast


# ---------------------------------------------------------------- the engine's PostgreSQL adapter
from dumpmask.schema import parse_alter_table, parse_create_domain, parse_create_table, parse_owned_by  # noqa: E402
from dumpmask.schema import (enum_type_text, parse_create_type_enum, parse_create_unique_index,  # noqa: E402
                             parse_domain_check)

_TYPE_OR_UNIQUE = re.compile(rb"\s*CREATE\s+(?:TYPE|UNIQUE\s+INDEX)\b", re.I)

_PASS_LABEL = {"blank": None, "meta": "psql meta-command", "create_table": "CREATE TABLE", "alter_table": "ALTER TABLE",
               "create_domain": "CREATE DOMAIN", "alter_sequence": "ALTER SEQUENCE", "setval": "SELECT setval",
               "copy": "COPY (unmasked table)", "insert": "INSERT (unmasked table)"}


NULL_FIELD = b"\\N"


class PgAdapter:
    name = NAME

    def __init__(self, engine):
        self.engine = engine

    @staticmethod
    def same_name(a: str, b: str) -> bool:
        return a == b

    @staticmethod
    def col_eq(pattern: str, actual: str) -> bool:
        return pattern.lower() == actual or pattern == actual

    # -- values
    def make_field_fn(self, t, col, stats, cache_max: int = 32_768) -> FieldFns:
        kind = col.kind
        fast = getattr(t, "ascii_fast", None)   # bytes -> bytes for ASCII text, no escaping needed
        t = getattr(t, "uncached", t)  # this function caches raw fields itself
        ccache: dict = {}
        scache: dict = {}

        raw_int = getattr(t, "raw_int", None)

        def copy_miss(raw: bytes):
            """raw COPY field -> UNCHANGED, or the new raw field (NULL_FIELD for NULL); cached."""
            if raw_int is not None and raw.isdigit():
                return remember(ccache, raw, raw_int(raw), cache_max)
            if raw == b"\\N":
                v = None
            elif b"\\" in raw:
                v = copy_decode(raw)
            else:
                v = raw.decode("utf-8", "surrogateescape")
            nv = t(v)
            # an unchanged value keeps its original bytes (escapes as written: keep is byte for byte)
            r = UNCHANGED if nv == v else (NULL_FIELD if nv is None else copy_encode(nv))
            return remember(ccache, raw, r, cache_max)

        def sql_miss(raw: bytes):
            s = raw.strip()
            if s.upper() == b"DEFAULT":
                # a generated column's placeholder (pg_dump --inserts): nothing to mask
                return remember(scache, raw, UNCHANGED, cache_max)
            lit = literal_decode(s)
            nv = t(lit.value)
            if nv == lit.value:
                r = UNCHANGED
            else:
                lead = raw[:len(raw) - len(raw.lstrip())]
                trail = raw[len(raw.rstrip()):]
                r = lead + literal_encode(nv, lit, kind) + trail
            return remember(scache, raw, r, cache_max)

        if fast is not None:
            general = copy_miss

            def copy_miss(raw: bytes):
                """ASCII text without escapes straight through the transformer's bytes path."""
                if raw.isascii() and b"\\" not in raw:   # (\N has a backslash)
                    r = fast(raw)
                    return remember(ccache, raw, UNCHANGED if r == raw else r, cache_max)
                return general(raw)

        # INSERT fields keep the blanks around them: " NULL" is a NULL too
        count_sql = counting(scache, sql_miss, lambda f: f.strip().upper() == b"NULL", stats)
        return FieldFns(counting(ccache, copy_miss, NULL_FIELD, stats), count_sql, ccache, copy_miss)

    # -- schema
    def learn(self, st: Stmt):
        """Schema statements -> engine state; returns the TableState of a CREATE TABLE."""
        eng = self.engine
        k = st.kind
        if k == "create_table":
            seen = self.__dict__.setdefault("_seen_create", {})
            if eng.schema_complete:
                # read in the schema pre-pass already: the same statement is the same table
                ts = seen.get(st.raw)
                if ts is not None and ts.schema is not None and not ts.schema.partition_of:
                    return ts
            ts = self._learn_create(st)
            if ts is not None and not eng.schema_complete:
                seen[st.raw] = ts
            return ts
        return self._learn_other(st)

    def _learn_create(self, st: Stmt):
        eng = self.engine
        ts_schema = parse_create_table(st.raw, NAME, eng.domains)
        if ts_schema is None:
            msg = f"{eng.source}:{st.line}: could not read this CREATE TABLE; its data can only pass through unmasked"
            if eng.strict:
                raise MaskingError(msg + " (--strict)")
            eng.warn(msg)
            return
        if ts_schema.partition_of:
            # CREATE TABLE child PARTITION OF parent ...: the parent's columns, its rules apply
            child = (ts_schema.schema, ts_schema.name)
            parent = self.table_for(ts_schema.partition_of)
            ts = eng.table_state(child)
            cols = [copy.copy(c) for c in parent.schema.columns] if parent.schema is not None else []
            if ts.schema is None or not ts.schema.columns:
                ts_schema.columns = cols
                ts_schema.line = st.line
                ts.schema = ts_schema
            ts.schema.partition_of = parent.key
            ts.schema.partition_bound = ts_schema.partition_bound
            ts.schema.partition_by = ts_schema.partition_by
            for fk in ts_schema.foreign_keys:
                if fk not in ts.schema.foreign_keys:
                    ts.schema.foreign_keys.append(fk)
            ts.rules = None
            ts.plans.clear()
            return ts
        if ts_schema.inherits:
            self._inherit_columns(ts_schema)
        return eng.learn_table(ts_schema, st.line)

    def _learn_other(self, st: Stmt):
        eng = self.engine
        k = st.kind
        if k == "create_domain":
            d = parse_create_domain(st.raw)
            if d:
                name, base = d
                eng.domains[name.lower()] = base
                eng.domains[name.lower().split(".")[-1]] = base
                chk = parse_domain_check(st.raw)
                if chk:
                    eng.domain_checks[name.lower()] = chk
                    eng.domain_checks[name.lower().split(".")[-1]] = chk
        elif k == "create" and _TYPE_OR_UNIQUE.match(st.raw):
            en = parse_create_type_enum(st.raw)
            if en:
                name, labels = en
                eng.domains[name.lower()] = enum_type_text(labels)
                eng.domains[name.lower().split(".")[-1]] = enum_type_text(labels)
                return
            ui = parse_create_unique_index(st.raw, NAME)
            if ui:
                ts = eng.table_state(ui["table"])
                if ts.schema is None:
                    ts.schema = TableSchema(schema=ui["table"][0], name=ui["table"][1])
                names = {c.name for c in ts.schema.columns}
                cols = tuple(c for c in ui["columns"] if c in names) if names else ui["columns"]
                if cols and cols not in ts.schema.unique:
                    ts.schema.unique.append(cols)
                    eng.unique_learned(ts, cols, st.line)
        elif k == "alter_table":
            a = parse_alter_table(st.raw, NAME)
            if not a:
                return
            ts = eng.table_state(a["table"])
            if ts.schema is None:
                ts.schema = TableSchema(schema=a["table"][0], name=a["table"][1])
            s = ts.schema
            if a["pk"]:
                new_pk = a["pk"] != s.primary_key
                s.primary_key = a["pk"]
                if new_pk:
                    eng.unique_learned(ts, a["pk"], st.line)
            for u in a["unique"]:
                if u not in s.unique:
                    s.unique.append(u)
                    eng.unique_learned(ts, u, st.line)
            for fk in a["fks"]:
                if fk not in s.foreign_keys:
                    s.foreign_keys.append(fk)
            if a["attach"]:
                child = eng.table_state(a["attach"])
                if child.schema is None:
                    child.schema = TableSchema(schema=a["attach"][0], name=a["attach"][1])
                child.schema.partition_of = a["table"]
                child.schema.partition_bound = a["bound"]
                child.rules = None  # re-resolve with the parent's rules
                child.plans.clear()
            if a["inherit"] and a["inherit"] not in s.inherits:
                s.inherits.append(a["inherit"])
            if a["seq_default"]:
                c = s.column(a["seq_default"][0])
                if c is not None:
                    c.has_default_sequence = a["seq_default"][1]
            if a["identity"]:
                c = s.column(a["identity"][0])
                if c is not None:
                    c.has_default_sequence = a["identity"][1]
        elif k == "alter_sequence":
            o = parse_owned_by(st.raw)
            if o:
                seq, table, col = o
                ts = eng.table_state(table)
                if ts.schema is not None:
                    c = ts.schema.column(col)
                    if c is not None:
                        c.has_default_sequence = _idents.qualname_text(seq[0], seq[1])  # SQL text, as in nextval()

    def _inherit_columns(self, child: TableSchema) -> None:
        """CREATE TABLE ... INHERITS (p, ...) as pg_dump writes it lists only the child's own
        columns: the inherited ones come first, in the parents' order (as PostgreSQL stores them)."""
        own = {c.name for c in child.columns}
        inherited = []
        for pschema, pname in child.inherits:
            parent = self.engine.table_state((pschema if pschema is not None else child.schema, pname))
            for c in (parent.schema.columns if parent.schema is not None else []):
                if c.name not in own and all(c.name != x.name for x in inherited):
                    inherited.append(copy.copy(c))
        child.columns[:0] = inherited

    def learn_schema(self, lines: LineReader) -> None:
        """A quick pass over a whole dump (or a --schema-only file) that skips table data."""
        r = PgReader(lines)
        for st in r.statements():
            if st.kind == "copy":
                parsed = parse_copy(st.raw)
                if parsed is not None:
                    self.engine.note_data_table(parsed[0], st.line)
                for _ in r.copy_chunks():   # skipped in ~1 MB blocks, no per-line work
                    pass
            elif st.kind == "insert":
                h = insert_head(st.raw)
                if h is not None:
                    self.engine.note_data_table(h[0], st.line)
            elif st.kind in ("create_table", "alter_table", "create_domain", "alter_sequence"):
                self.learn(st)
            elif st.kind == "create" and _TYPE_OR_UNIQUE.match(st.raw):
                self.learn(st)
            elif st.kind == "setval":
                p = parse_setval(st.raw)
                if p is not None:
                    self.engine.sequence_values[p[0][1]] = p[1]

    # -- the loop
    def run(self, lines: LineReader, out) -> None:
        eng = self.engine
        from dumpmask.engine import Progress

        prog = Progress(eng.progress)
        r = PgReader(lines)
        w = out.write
        count = eng.audit.count_passthrough
        for st in r.statements():
            k = st.kind
            if k == "copy":
                self.do_copy(st, r, out, prog)
                continue
            if k == "insert":
                self.do_insert(st, out)
                continue
            if k in ("create_table", "alter_table", "create_domain", "alter_sequence"):
                if k == "create_table":
                    ts = self.learn(st)  # (a pre-pass already knows it: learn_table keeps that)
                    if ts is not None:
                        eng.check_table_rules_early(ts, st.line)  # rule errors before this table's data
                elif not eng.schema_complete:
                    self.learn(st)
            elif k == "create" and not eng.schema_complete and _TYPE_OR_UNIQUE.match(st.raw):
                self.learn(st)   # an enum before its tables; a unique index after the data (on a pipe)
            w(eng.rewritten(st))
            label = _PASS_LABEL.get(k, k.upper())
            if label:
                count(label)
            prog.update(lines_bytes(out), None)
        prog.done()

    def table_for(self, key):
        return self.engine.table_state(key)

    def do_copy(self, st: Stmt, r: PgReader, out, prog) -> None:
        eng = self.engine
        parsed = parse_copy(st.raw)
        w = out.write
        if parsed is None:
            raise DumpSyntaxError("cannot parse COPY statement", st.line, eng.source, st.raw[:60])
        key, cols, text_format = parsed
        ts = self.table_for(key)
        has_rules = any([bool(eng.table_rules(ts))] + [e.wants_table(eng, ts) for e in eng.extensions])  # every extension sees every table
        tstats = eng.audit.table(_qualname(ts.key))
        if not has_rules:
            w(st.raw)
            eng.audit.count_passthrough("COPY (unmasked table)")
            n = r.copy_passthrough(w)
            w(r.copy_end)
            tstats.rows_read += n
            tstats.rows_written += n
            return
        if not text_format:
            raise MaskingError(f"{eng.source}:{st.line}: COPY for masked table {_qualname(ts.key)} is not in text format")
        columns = eng.data_columns(ts, cols, st.line)
        rows_in = r.copy_rows()
        samplers = [e for e in eng.extensions if e.wants_sample(eng, ts)]
        if samplers:
            # hold back the first rows (nothing of this table is written yet) for content detection
            held = list(itertools.islice(rows_in, SAMPLE_ROWS))
            decoded = [[copy_decode(f) for f in ln.rstrip(b"\r\n").split(b"\t")] for ln in held]
            for e in samplers:
                e.sample(eng, ts, columns, decoded)
            rows_in = itertools.chain(held, rows_in)
        plan = eng.build_plan(ts, columns, st.line)
        ncols = len(columns)
        row_filter = None
        for e in eng.extensions:
            f = e.row_filter(eng, ts, columns, st.line)
            if f is not None:
                row_filter = f
        w(st.raw)
        eng._in_copy_cols = ncols
        fns = [(p.index, p.fn.copy) for p in plan]
        entries = [(p.index, p.fn.cache, p.fn.miss, [0, 0], p.stats) for p in plan]
        n_read = 0
        n_written = 0
        lines = r.lines
        first_line = lines.lineno + 1
        source = eng.source
        name = _qualname(ts.key)
        batch = []
        append = batch.append

        def mask_lines(rows_in) -> None:
            """Row by row (with a row filter, held-back sample rows, CRLF lines)."""
            nonlocal n_read, n_written
            for line in rows_in:
                n_read += 1
                if line[-1:] == b"\n":
                    if line[-2:-1] == b"\r":
                        body, eol = line[:-2], b"\r\n"
                    else:
                        body, eol = line[:-1], b"\n"
                else:
                    body, eol = line, b""
                fields = body.split(b"\t")
                if len(fields) != ncols:
                    raise DumpSyntaxError(f"COPY row for {name} has {len(fields)} fields, expected {ncols}",
                                          first_line + n_read - 1, source, line[:60])
                if row_filter is not None:
                    fields = row_filter(fields)
                    if fields is None:
                        continue
                for i, cache, miss, cnt, _ in entries:
                    raw = fields[i]
                    v = cache.get(raw)
                    if v is None:
                        v = miss(raw)
                    if v is UNCHANGED:
                        if raw == NULL_FIELD:
                            cnt[1] += 1
                    else:
                        fields[i] = v
                        cnt[0] += 1
                        if v is NULL_FIELD:
                            cnt[1] += 1
                append(b"\t".join(fields) + eol)
                n_written += 1
                if not n_read & 0xFFF:
                    w(b"".join(batch))
                    batch.clear()
                    prog.update(lines_bytes(out), name)
            w(b"".join(batch))
            batch.clear()

        cur = [None, 0]   # the chunk being masked and the rows read before it (to locate an error)
        try:
            if row_filter is not None or samplers or not entries:
                mask_lines(rows_in)
            else:
                # every row is kept: ~1 MB of lines at a time through a loop generated for this
                # table's shape (the same results and counts as mask_lines)
                idxs = tuple(e[0] for e in entries)
                masker = row_masker(ncols, idxs)
                smasker = span_masker(len(idxs))
                caches = [e[1] for e in entries]
                misses = [e[2] for e in entries]
                cnts = [e[3] for e in entries]
                for chunk in r.copy_chunks():
                    cur[0], cur[1] = chunk, n_read
                    if b"\r" in chunk or not chunk.endswith(b"\n"):
                        parts = chunk.split(b"\n")
                        tail = parts.pop()
                        mask_lines([ln + b"\n" for ln in parts] + ([tail] if tail else []))
                        continue
                    huge = len(chunk) > HUGE_FIELD
                    if huge or c_copy_spans is not None:
                        # C (or, for a very long line, its Python twin) finds the masked fields;
                        # Python runs per masked field only
                        spans = (c_copy_spans or copy_spans)(chunk, ncols, idxs)
                        if type(spans) is int:
                            rows = chunk.split(b"\n")
                            bad, done = spans, None
                        else:
                            if huge and has_huge_span(spans):
                                # a very long field: decoded in place, not copied
                                repl, counts = mask_spans_huge(chunk, spans, plan, _huge_copy_field, NULL_FIELD)
                            else:
                                repl, counts = smasker(chunk, spans, caches, misses, UNCHANGED, NULL_FIELD)
                            done = splice(chunk, spans, repl)
                            repl = None
                            bad = -1
                            nrows = chunk.count(b"\n")
                    else:
                        rows = chunk[:-1].split(b"\n")
                        done, bad, counts = masker(rows, caches, misses, UNCHANGED, NULL_FIELD)
                        nrows = len(done)
                        done.append(b"")
                        done = b"\n".join(done)
                    if bad >= 0:
                        nf = rows[bad].count(b"\t") + 1
                        raise DumpSyntaxError(f"COPY row for {name} has {nf} fields, expected {ncols}",
                                              first_line + n_read + bad, source, rows[bad][:60])
                    for j, cnt in enumerate(cnts):
                        cnt[0] += counts[2 * j]
                        cnt[1] += counts[2 * j + 1]
                    n_read += nrows
                    n_written += nrows
                    w(done)
                    prog.update(lines_bytes(out), name)
        except MaskingError as e:
            row = n_read if cur[0] is None or n_read > cur[1] else cur[1] + _first_bad_row(cur[0], entries)
            raise MaskingError(f"{source}:{first_line + row - 1}: {name} row {row}: {e}") from None
        for _, _, _, cnt, stats in entries:
            stats.changed += cnt[0]
            stats.nulls += cnt[1]
        if row_filter is not None and hasattr(row_filter, "flush"):
            for fields in row_filter.flush():
                for i, fn in fns:
                    fields[i] = fn(fields[i])
                w(b"\t".join(fields) + b"\n")
                n_written += 1
        w(r.copy_end)
        eng._in_copy_cols = None
        tstats.rows_read += n_read
        tstats.rows_written += n_written

    def do_insert(self, st: Stmt, out) -> None:
        eng = self.engine
        h = insert_head(st.raw)
        if h is None:
            raise DumpSyntaxError("cannot read the table name of this INSERT", st.line, eng.source)
        if h[2] < 0:
            # not a plain INSERT ... VALUES (INSERT ... SELECT): only safe when no rule touches it
            ts = self.table_for(h[0])
            if eng.table_rules(ts) or any(e.wants_table(eng, ts) for e in eng.extensions):
                raise MaskingError(f"{eng.source}:{st.line}: cannot parse an INSERT into masked table {_qualname(ts.key)}; refusing to pass it through")
            out.write(st.raw)
            eng.audit.count_passthrough("INSERT (unparsed)")
            return
        key = h[0]
        ts = self.table_for(key)
        has_rules = any([bool(eng.table_rules(ts))] + [e.wants_table(eng, ts) for e in eng.extensions])  # every extension sees every table
        tstats = eng.audit.table(_qualname(ts.key))
        if not has_rules:
            out.write(st.raw)
            eng.audit.count_passthrough("INSERT (unmasked table)")
            nrows = st.raw.count(b"),") + 1 if b"),(" in st.raw or b"),\n" in st.raw else 1
            tstats.rows_read += 1 if nrows == 1 else nrows
            tstats.rows_written += 1 if nrows == 1 else nrows
            return
        ins = parse_insert(st.raw, eng.source, st.line)
        columns = _with_generated(ts, ins, eng.data_columns(ts, ins.columns, st.line))
        samplers = [e for e in eng.extensions if e.wants_sample(eng, ts)]
        if samplers:
            decoded = [[literal_decode(st.raw[s:e]).value for s, e in f] for _, _, f in ins.tuples[:SAMPLE_ROWS]]
            for e in samplers:
                e.sample(eng, ts, columns, decoded)
        plan = eng.build_plan(ts, columns, st.line)
        row_filter = None
        for e in eng.extensions:
            f = e.row_filter(eng, ts, columns, st.line, sql=True)
            if f is not None:
                row_filter = f
        raw = st.raw
        pieces = [raw[:ins.values_start]]
        ncols = len(columns)
        kept = 0
        kinds = {}
        if len(raw) > HUGE_FIELD:
            for p in plan:
                col = ts.schema.column(columns[p.index]) if ts.schema is not None else None
                kinds[p.index] = col.kind if col is not None else "text"
        for (t0, t1, fields) in ins.tuples:
            tstats.rows_read += 1
            if len(fields) != ncols:
                raise DumpSyntaxError(f"INSERT row for {_qualname(ts.key)} has {len(fields)} values, expected {ncols}",
                                      st.line + raw.count(b"\n", 0, t0), eng.source)
            # a very long field is not copied out: a view of it (read in place when masked)
            vals = [raw[s:e] if e - s <= HUGE_FIELD else memoryview(raw)[s:e] for s, e in fields]
            try:
                if row_filter is not None:
                    vals = row_filter(vals)
                    if vals is None:
                        continue
                for p in plan:
                    v = vals[p.index]
                    if type(v) is memoryview:
                        s, e = fields[p.index]
                        r = _huge_insert_field(p, raw, s, e, kinds.get(p.index, "text"))
                        vals[p.index] = p.fn.sql(bytes(v)) if r is None else r
                        continue
                    vals[p.index] = p.fn.sql(v)
            except MaskingError as e:
                at = st.line + raw.count(b"\n", 0, t0)
                raise MaskingError(f"{eng.source}:{at}: {_qualname(ts.key)} row {tstats.rows_read}: {e}") from None
            if kept:
                pieces.append(b",\n\t" if b"),\n\t(" in raw else b", ")
            pieces.append(b"(" + b",".join(vals) + b")")
            kept += 1
        tstats.rows_written += kept
        if kept == 0:
            return  # every row was cut: the statement disappears
        pieces.append(raw[ins.tail_start:])
        out.write(b"".join(pieces))


def _huge_copy_field(p, data: bytes, s: int, e: int):
    """A very long COPY field without escapes, decoded from `data` in place: the same result as
    the column's copy miss (None: not that simple case, take the usual path)."""
    if data.find(b"\\", s, e) >= 0 or data[s:s + 1].isdigit():
        return None
    v = str(memoryview(data)[s:e], "utf-8", "surrogateescape")
    nv = p.value_fn(v)
    if nv == v:
        return UNCHANGED
    return NULL_FIELD if nv is None else copy_encode(nv)


def _huge_insert_field(p, raw: bytes, s: int, e: int, kind: str):
    """A very long INSERT value written as a plain '...' string (no doubled quote, no cast),
    decoded from the statement in place, counted into the column's stats: the same bytes as
    the column's sql function gives (a view of the original when unchanged). None: not that
    simple case (the caller takes the usual path)."""
    a, b = s, e
    while a < b and raw[a:a + 1].isspace():
        a += 1
    while b > a and raw[b - 1:b].isspace():
        b -= 1
    if b - a < 2 or raw[a:a + 1] != b"'" or raw[b - 1:b] != b"'" or raw.find(b"''", a + 1, b - 1) >= 0:
        return None
    v = str(memoryview(raw)[a + 1:b - 1], "utf-8", "surrogateescape")
    nv = p.value_fn(v)
    if nv == v:
        return memoryview(raw)[s:e]
    p.stats.changed += 1
    if nv is None:
        p.stats.nulls += 1
    return raw[s:a] + literal_encode(nv, Literal(v, True, b""), kind) + raw[b:e]


def _first_bad_row(chunk: bytes, entries) -> int:
    """The 1-based row of a chunk of COPY lines whose masked field raises MaskingError."""
    for k, line in enumerate(chunk.split(b"\n"), 1):
        fields = line.rstrip(b"\r").split(b"\t")
        for i, _cache, miss, _cnt, _stats in entries:
            if i < len(fields):
                try:
                    miss(fields[i])
                except MaskingError:
                    return k
    return 1


def _qualname(key) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


def _with_generated(ts, ins, columns: list[str]) -> list[str]:
    """pg_dump --inserts / --rows-per-insert write DEFAULT for a generated column: without a
    column list, rows as long as ALL the table's columns list them all, generated ones included
    (the DEFAULT passes through as written)."""
    if ins.columns is None and ts.schema is not None and ins.tuples:
        allc = [c.name for c in ts.schema.columns]
        if len(allc) != len(columns) and all(len(t[2]) == len(allc) for t in ins.tuples):
            gen = {i for i, c in enumerate(ts.schema.columns) if c.generated}
            raw = ins.raw
            if all(raw[t[2][i][0]:t[2][i][1]].strip().upper() == b"DEFAULT" for t in ins.tuples for i in gen):
                return allc
    return columns


def lines_bytes(out) -> int:
    try:
        return out.raw.bytes
    except AttributeError:
        return 0


from dumpmask.dialects.base import Stmt  # noqa: E402,F811
from dumpmask.errors import MaskingError  # noqa: E402
from dumpmask.schema import TableSchema  # noqa: E402


def _copy_fields(line: bytes) -> list:
    return (line.rstrip(b"\r\n") if line.endswith(b"\n") else line).split(b"\t")


def _literal_value(field: bytes):
    return literal_decode(field).value


def _iter_blocks(self, lines: LineReader, want=None):
    """Every data statement of a dump as a Block (rows undecoded). Schema statements are learnt
    on the way (self.engine.tables), so callers can look at types. `want(table_key) -> bool`
    skips tables nobody asked for, cheaply."""
    from dumpmask.dialects.base import Block, counted_lines, tuple_lines

    eng = self.engine
    r = PgReader(lines)
    for st in r.statements():
        k = st.kind
        if k == "copy":
            parsed = parse_copy(st.raw)
            if parsed is None or not parsed[2] or (want is not None and not want(parsed[0])):
                r.copy_passthrough(lambda b: None)
                continue
            key, cols, _ = parsed
            ts = eng.table_state(key)
            try:
                columns = eng.data_columns(ts, cols, st.line)
            except DumpSyntaxError:
                r.copy_passthrough(lambda b: None)
                continue
            items, lineno = counted_lines(r.copy_rows(), lines.lineno)
            yield Block("copy", ts.key, columns, items, _copy_fields, copy_decode, lambda line: line, lineno)
        elif k == "insert":
            h = insert_head(st.raw)
            if h is None or h[2] < 0:
                continue
            key = h[0]
            if want is not None and not want(key):
                continue
            ins = parse_insert(st.raw, eng.source, st.line)
            ts = eng.table_state(key)
            try:
                columns = _with_generated(ts, ins, eng.data_columns(ts, ins.columns, st.line))
            except DumpSyntaxError:
                continue
            raw = st.raw
            items, lineno = tuple_lines(raw, ins.tuples, st.line)
            yield Block("insert", ts.key, columns, items, lambda it, raw=raw: [raw[s:e] for s, e in it[2]], _literal_value,
                        lambda it: None, lineno)
        elif k in ("create_table", "alter_table", "create_domain", "alter_sequence"):
            self.learn(st)
        elif k == "create" and _TYPE_OR_UNIQUE.match(st.raw):
            self.learn(st)  # enum types before the tables; unique indexes (after the data) for scan


def _iter_rows(self, lines: LineReader, want=None):
    """Every data row of a dump, decoded: yields (table_key, columns, values, line)."""
    from dumpmask.dialects.base import rows_of

    return rows_of(self.iter_blocks(lines, want))


PgAdapter.iter_blocks = _iter_blocks
PgAdapter.iter_rows = _iter_rows
