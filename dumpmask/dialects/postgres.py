"""PostgreSQL plain dumps (pg_dump -Fp): statements, COPY text blocks, INSERT literals.

Lexical rules followed: '...' strings with doubled quotes (standard_conforming_strings on),
E'...' strings with backslash escapes, "..." identifiers, $tag$...$tag$ dollar quotes, -- and
nested /* */ comments, psql meta-commands (a line starting with a backslash, such as
\\restrict or \\connect) outside statements, and COPY ... FROM stdin blocks ended by \\.
"""
from __future__ import annotations

import functools
import re

import dumpmask.idents as _idents
from dumpmask import speedups
from dumpmask.dialects.base import InsertStmt, LineReader, Stmt, statement_guard, statement_kind_words
from dumpmask.errors import DumpSyntaxError
from dumpmask.lazy import lazy_pattern

NAME = "postgres"
SAMPLE_ROWS = 100   # rows held back per table for content detection on a pipe (--strict, --template)

# ---------------------------------------------------------------- lexing statements
_SPECIAL = lazy_pattern(globals(), "_SPECIAL", rb"['\"$;/\-]")
_DOLLAR_TAG = lazy_pattern(globals(), "_DOLLAR_TAG", rb"\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$")
_SQUOTE_END = lazy_pattern(globals(), "_SQUOTE_END", rb"'")
_ESTR_END = lazy_pattern(globals(), "_ESTR_END", rb"\\.|'", re.S)
_IDENT_BEFORE = lazy_pattern(globals(), "_IDENT_BEFORE", rb"[A-Za-z0-9_\x80-\xff]")

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
    which cannot happen with whole lines). (One state machine in one loop, ~85 lines, on
    purpose: it runs over every byte of every statement, its states in locals.)"""
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

_SETVAL_RE = lazy_pattern(globals(), "_SETVAL_RE", rb"\s*SELECT\s+(?:pg_catalog\s*\.\s*)?setval\(\s*'(?P<seq>(?:[^']|'')*)'(?:\s*::\s*regclass)?\s*,\s*(?P<val>-?\d+)\s*(?:,\s*(?P<called>true|false)\s*)?\)\s*;", re.I)


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
        guard = statement_guard(lines.stream)   # --max-memory: a statement over many lines is bounded
        limit = guard.statement_limit if guard is not None else None
        gathered = 0
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
                if limit is not None:
                    gathered += len(line)
                    if gathered > limit:
                        guard.statement_too_long(start, buf[0][:512], gathered, lines.source)
                continue
            # one or more statements end on this line: split on the top-level semicolons
            head = b"".join(buf)
            buf = []
            gathered = 0
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
            rows += speedups.count_nl(chunk)
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
                prev, idx, nls, cut = b"", 0, 0, 0
            else:
                prev = b"\n" + b"".join(parts) if 0 < plen <= 3 else b""
                window = prev + chunk if prev else chunk
                idx, nls, cut = _copy_scan(window)
                if prev:      # prev is b"\n" and a line's first bytes: its one line break is not chunk's
                    nls -= 1
                    cut = max(cut - len(prev), 0)
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
                    lines.lineno += nls if k >= 0 else 0
                    yield body
                lines.lineno += 1
                lines.unread(rest)
                return
            if cut:
                if parts:
                    parts.append(chunk[:cut])
                    part = b"".join(parts)
                else:
                    part = chunk[:cut] if cut < len(chunk) else chunk
                parts = []
                lines.lineno += nls
                yield part
                if cut < len(chunk):
                    parts.append(chunk[cut:])
                plen = len(chunk) - cut
            else:
                parts.append(chunk)
                plen += len(chunk)


def _find_terminator(window: bytes) -> int:
    """Where the first terminator line (backslash, dot, line break) begins in `window` after a
    newline (the index of its backslash), or -1. One search for newline-backslash-dot (a data
    line cannot begin with those two: COPY escapes a backslash as two), then the line break."""
    i = window.find(b"\n\\.")
    while i >= 0:
        after = window[i + 3:i + 5]
        if after[:1] == b"\n" or after == b"\r\n":
            return i + 1
        i = window.find(b"\n\\.", i + 1)
    return -1


def copy_scan(window: bytes) -> tuple[int, int, int]:
    """The reader's one pass over a chunk of COPY data: (term, lines, cut). term is
    _find_terminator's; lines the line breaks in window[:term] (term >= 0) or in all of it;
    cut the end of the last line break (0: none). The C extension's copy_scan is its twin
    (one memchr pass instead of find, count and rfind: ~1.4 s less per GB in the reader)."""
    term = _find_terminator(window)
    return term, window.count(b"\n", 0, term if term >= 0 else len(window)), window.rfind(b"\n") + 1


_copy_scan = speedups.function("copy_scan") or copy_scan


# ---------------------------------------------------------------- names


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


_COPY_VERB = lazy_pattern(globals(), "_COPY_VERB", rb"\s*COPY\s+", re.I)
_COPY_TAIL = lazy_pattern(globals(), "_COPY_TAIL", rb"\s*FROM\s+stdin\b(?P<opts>[^;]*);", re.I)
_INSERT_VERB = lazy_pattern(globals(), "_INSERT_VERB", rb"\s*INSERT\s+INTO\s+", re.I)
_INSERT_MID = lazy_pattern(globals(), "_INSERT_MID", rb"\s*(?:AS\s+(?:\"(?:[^\"]|\"\")*\"|\w+)\s*)?", re.I)
_INSERT_VALUES = lazy_pattern(globals(), "_INSERT_VALUES", rb"\s*(?:OVERRIDING\s+(?:SYSTEM|USER)\s+VALUE\s+)?VALUES\s*", re.I)


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
_COPY_UNESC_RE = lazy_pattern(globals(), "_COPY_UNESC_RE", rb"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.S)


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


_COPY_ENC_RE = lazy_pattern(globals(), "_COPY_ENC_RE", rb"[\\\b\f\n\r\t\v]")
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
_PG_FIELD = lazy_pattern(globals(), "_PG_FIELD", 
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


_E_UNESC_RE = lazy_pattern(globals(), "_E_UNESC_RE", rb"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.S)


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


_CAST_RE = lazy_pattern(globals(), "_CAST_RE", rb"::[^']*$")


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


_NUMBER_RE = lazy_pattern(globals(), "_NUMBER_RE", r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


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
    # standard_conforming_strings = on (pg_dump sets it): backslashes in '...' are plain
    return b"'" + b.replace(b"'", b"''") + b"'" + cast


# ---------------------------------------------------------------- the dialect
_TYPE_OR_UNIQUE = lazy_pattern(globals(), "_TYPE_OR_UNIQUE", rb"\s*CREATE\s+(?:TYPE|UNIQUE\s+INDEX)\b", re.I)
_SCHEMA_KINDS = frozenset({"alter_table", "create_domain", "alter_sequence"})

_PASS_LABEL = {"blank": None, "meta": "psql meta-command", "create_table": "CREATE TABLE", "alter_table": "ALTER TABLE",
               "create_domain": "CREATE DOMAIN", "alter_sequence": "ALTER SEQUENCE", "setval": "SELECT setval",
               "copy": "COPY (unmasked table)", "insert": "INSERT (unmasked table)"}


NULL_FIELD = b"\\N"


class PgDialect:
    """PostgreSQL plain dumps: a description (names, values) and a lexer of events. Knows
    nothing of rules, stages or the audit."""

    name = NAME
    sample_rows = SAMPLE_ROWS
    insert_style = "rebuild"      # masked INSERTs are rebuilt from their tuples (work._mask_pg_insert)

    # -- names (unquoted identifiers fold to lower case; a rule's column name matches as
    # idents.column_named says)
    @staticmethod
    def same_name(a: str, b: str) -> bool:
        return a == b

    @staticmethod
    def col_eq(pattern: str, actual: str) -> bool:
        return pattern.lower() == actual or pattern == actual

    quote_ident = staticmethod(quote_ident)
    parse_qualname = staticmethod(parse_qualname)
    parse_setval = staticmethod(parse_setval)

    # -- values
    decode_copy_field = staticmethod(copy_decode)

    @staticmethod
    def decode_sql_field(field: bytes):
        return literal_decode(field).value

    @staticmethod
    def parse_insert(raw: bytes, line: int | None, source: str):
        return parse_insert(raw, source, line)

    @staticmethod
    def with_generated(schema, ins, columns: list[str]) -> list[str]:
        return _with_generated(schema, ins, columns)

    @staticmethod
    def count_rows_unparsed(raw: bytes) -> int:
        """Rows of an INSERT passed through without parsing (a statistic only)."""
        nrows = raw.count(b"),") + 1 if b"),(" in raw or b"),\n" in raw else 1
        return 1 if nrows == 1 else nrows

    # -- statements
    @staticmethod
    def is_schema_statement(st: Stmt) -> bool:
        """Besides CREATE TABLE: the statements the schema is learnt from (domains and enums
        before their tables; constraints, unique indexes and OWNED BY after the data)."""
        return st.kind in _SCHEMA_KINDS or (st.kind == "create" and _TYPE_OR_UNIQUE.match(st.raw) is not None)

    @staticmethod
    def label(st: Stmt) -> str | None:
        """What the audit counts a passed-through statement as (None: not counted)."""
        return _PASS_LABEL.get(st.kind, st.kind.upper())

    def events(self, lines: LineReader):
        """The dump as events: Stmt (everything but data), CopyData (a COPY header: its chunks
        must be consumed, or are skipped, before the next event), InsertData."""
        reader = PgReader(lines)
        for st in reader.statements():
            if st.kind == "copy":
                parsed = parse_copy(st.raw)
                ev = CopyData(st, reader, *(parsed or (None, None, False)), readable=parsed is not None)
                yield ev
                ev.skip()
            elif st.kind == "insert":
                yield InsertData(st, insert_head(st.raw))
            else:
                yield st


class CopyData:
    """A COPY ... FROM stdin header and its data lines (read once: chunks(), rows() or skip()),
    then `end`, the terminator line as written."""

    __slots__ = ("stmt", "table", "columns", "text_format", "readable", "first_line", "end", "_reader", "_done")
    event = "copy"

    def __init__(self, stmt: Stmt, reader: PgReader, table, columns, text_format: bool, readable: bool):
        self.stmt, self.table, self.columns, self.text_format, self.readable = stmt, table, columns, text_format, readable
        self._reader = reader
        self.first_line = reader.lines.lineno + 1     # the line of the first data row
        self.end = None
        self._done = False

    def chunks(self):
        """The data as chunks of whole lines (~1 MB)."""
        self._done = True
        yield from self._reader.copy_chunks()
        self.end = self._reader.copy_end

    def rows(self):
        """The data line by line."""
        self._done = True
        yield from self._reader.copy_rows()
        self.end = self._reader.copy_end

    def passthrough(self, write) -> int:
        """Copy the data to `write` unchanged; the row count."""
        self._done = True
        n = self._reader.copy_passthrough(write)
        self.end = self._reader.copy_end
        return n

    def skip(self) -> None:
        if not self._done:
            for _ in self.chunks():   # skipped in ~1 MB blocks, no per-line work
                pass


class InsertData:
    """An INSERT statement: `head` = (table, columns or None or False, offset of VALUES' first
    row or -1) or None when not even the table name can be read."""

    __slots__ = ("stmt", "head", "table")
    event = "insert"

    def __init__(self, stmt: Stmt, head):
        self.stmt, self.head = stmt, head
        self.table = head[0] if head is not None else None


def _with_generated(schema, ins, columns: list[str]) -> list[str]:
    """pg_dump --inserts / --rows-per-insert write DEFAULT for a generated column: without a
    column list, rows as long as ALL the table's columns list them all, generated ones included
    (the DEFAULT passes through as written)."""
    if ins.columns is None and schema is not None and ins.tuples:
        allc = [c.name for c in schema.columns]
        if len(allc) != len(columns) and all(len(t[2]) == len(allc) for t in ins.tuples):
            gen = {i for i, c in enumerate(schema.columns) if c.generated}
            raw = ins.raw
            if all(raw[t[2][i][0]:t[2][i][1]].strip().upper() == b"DEFAULT" for t in ins.tuples for i in gen):
                return allc
    return columns
