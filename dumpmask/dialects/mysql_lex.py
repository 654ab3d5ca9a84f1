"""Byte-level lexing of mysqldump / mariadb-dump output.

Everything works on BYTES (dumps are not necessarily valid UTF-8) and reports positions as
byte offsets into the statement's raw bytes, so the engine can splice replacement values in
and pass everything else through byte for byte.

Public API
----------
split_statements(lines, source)      -> Iterator[MyStmt]     (raw, line, kind, delimiter)
parse_insert(raw, ...)               -> MyInsertStmt         (header + optional tuple spans)
iter_tuples(raw, start, ...)         -> TupleIter            (yields (tuple_start, tuple_end, spans); .end)
scan_tuples(raw, start, ...)         -> (list_of_tuples, end)
decode_literal(field)                -> (kind, value)
encode_string / encode_hex / encode_bit / encode_literal / is_number
unquote_ident / quote_ident
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Iterator

from dumpmask.dialects.base import MY_BT, MY_DQ, InsertStmt, Stmt
from dumpmask.errors import DumpSyntaxError

__all__ = [
    "MyStmt", "MyInsertStmt", "TupleIter", "split_statements", "parse_insert", "iter_tuples",
    "scan_tuples", "decode_literal", "encode_string", "encode_hex", "encode_bit",
    "encode_literal", "is_number", "unquote_ident", "quote_ident", "statement_kind",
]


# --------------------------------------------------------------------------------------------
# Statement splitting
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class MyStmt(Stmt):
    """A Stmt (raw, line, kind) plus the delimiter that was active for it.

    kind: "comment" | "delimiter" | "insert" | "create_table" | "other".
    For kind "delimiter", `delimiter` is the NEW delimiter set by the line.
    For other kinds it is the delimiter that terminates the statement (b";" or e.g. b";;").
    """

    delimiter: bytes = b";"
    db: str | None = None   # the database a USE made current before it (MyDialect.events follows USE)


# one complete single/double-quoted string (backslash escapes, doubled quotes); DOTALL needed
_SQ = rb"'[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+'"
_DQ = MY_DQ
_BT = MY_BT
_BLOCK = rb"/\*[^*]*+\*++(?:[^/*][^*]*+\*++)*+/"
_WS = rb"[ \t\r\n\f\v]"
# "-- " comment: two dashes followed by whitespace/control char or end of input; or "#"
_LINE_COMMENT_START = rb"(?:--(?=[\x00-\x20]|\Z)|\#)"

_ST_N, _ST_SQ, _ST_DQ, _ST_BT, _ST_CM = range(5)
_CONT = {
    # continuation of a string / identifier that was left open at the end of a previous line:
    # matches up to and including the closing quote
    _ST_SQ: re.compile(rb"[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+'", re.S),
    _ST_DQ: re.compile(rb'[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+"', re.S),
    _ST_BT: re.compile(rb"[^`]*+(?:``[^`]*+)*+`", re.S),
}
_OPEN_STATE = {0x27: _ST_SQ, 0x22: _ST_DQ, 0x60: _ST_BT}

_COMMENT_LINE = re.compile(rb"[ \t\r\f\v]*+(?:" + _LINE_COMMENT_START + rb"[^\n]*+)?\n?\Z")
# a line holding only non-executable /* */ comments (or the MariaDB sandbox marker
# /*M!999999\- ... */, which has no delimiter after it)
_BLOCK_ONLY_LINE = re.compile(
    rb"[ \t]*+(?:/\*(?!!)(?!M!(?!999999\\-))[^*]*+\*++(?:[^/*][^*]*+\*++)*+/[ \t\r\f\v]*+)++"
    rb"(?:" + _LINE_COMMENT_START + rb"[^\n]*+)?\n?\Z"
)
_DELIMITER_LINE = re.compile(rb"[ \t]*+(?i:delimiter)(?=[ \t\r\n]|\Z)(?:[ \t]++([^\s]*+))?[^\n]*+\n?\Z")
# what may follow a delimiter on the same line and still belong to the statement
_REST = re.compile(rb"(?:[ \t\r\f\v]++|" + _LINE_COMMENT_START + rb"[^\n]*+)*+\n?\Z")
_SANDBOX = b"/*M!999999\\-"


@lru_cache(maxsize=16)
def _body_re(delim: bytes) -> re.Pattern:
    """Regex consuming statement text on one line up to (not including) the delimiter, an
    unterminated quote/comment, a line comment, or the end of the line."""
    d0 = delim[:1]
    if not delim or d0 in b"'\"`#\\" or any(c in b" \t\r\n" for c in delim):
        raise DumpSyntaxError(f"unsupported delimiter {delim!r}")
    specials = set(b"'\"`/#-") | {d0[0]}
    cls = b"".join(re.escape(bytes([c])) for c in sorted(specials))
    alts = [
        rb"[^" + cls + rb"]++",
        _SQ, _DQ, _BT, _BLOCK,
        rb"/(?!\*)",
        rb"-(?!-(?:[\x00-\x20]|\Z))",
    ]
    if d0 not in b"/-":
        alts.append(re.escape(d0))
    guard = rb"(?!" + re.escape(delim) + rb")"
    return re.compile(rb"(?:" + guard + rb"(?:" + b"|".join(alts) + rb"))*+", re.S)


_LEAD = re.compile(
    rb"(?:" + _WS + rb"++|/\*(?!!)(?!M!)[^*]*+\*++(?:[^/*][^*]*+\*++)*+/|"
    + _LINE_COMMENT_START + rb"[^\n]*+)*+"
)
_KIND = re.compile(
    rb"(?P<insert>(?:INSERT|REPLACE)\b)"
    rb"|(?P<create_table>CREATE\s++(?:OR\s++REPLACE\s++)?(?:TEMPORARY\s++)?TABLE\b)",
    re.I,
)


def statement_kind(raw: bytes) -> str:
    """Kind of one complete statement: "insert", "create_table" or "other" (leading
    whitespace and non-executable comments are skipped; /*!...*/ makes it "other")."""
    p = _LEAD.match(raw).end()
    m = _KIND.match(raw, p)
    if m:
        return m.lastgroup
    if p == len(raw):
        return "comment"
    return "other"


def split_statements(lines: Iterable[bytes], source: str = "<stdin>", guard=None) -> Iterator[MyStmt]:  # noqa: C901
    """Split an iterable of raw lines into statements; b"".join(s.raw) == b"".join(lines).

    (One function on purpose, ~150 lines: it is the per-line loop of every MySQL dump, with its
    lexer state in local variables; split into calls per line it ran measurably slower on the
    bench's statement-heavy dumps. The cases are commented where they start.)

    - runs of blank / "-- " / "#" lines (outside statements) -> one "comment" Stmt;
      a line with only non-executable /* */ comments -> "comment";
      the MariaDB sandbox line /*M!999999\\- ... */ -> "other"
    - "DELIMITER xx" lines -> "delimiter" (Stmt.delimiter = the new delimiter)
    - statements end at the active delimiter outside quotes/comments; the rest of that line is
      included when it is only whitespace or a "-- "/"#" comment, otherwise a new statement
      starts right after the delimiter (same line number).
    Raises DumpSyntaxError at EOF inside a string/identifier/comment/statement.
    `guard` (base.statement_guard: --max-memory): a statement gathered over lines past its
    statement_limit stops the run (guard.statement_too_long raises) before it is joined.
    """
    delim = b";"
    dlen = 1
    body = _body_re(delim)
    parts: list[bytes] = []          # pieces of the statement in progress
    in_stmt = False
    stmt_line = 0
    state = _ST_N
    cparts: list[bytes] = []         # pending comment run
    cline = 0
    lineno = 0
    cont = _CONT
    rest_match = _REST.match
    limit = guard.statement_limit if guard is not None else None
    gathered = 0                     # bytes of the lines the statement in progress spans (limit)

    for line in lines:
        lineno += 1
        if type(line) is not bytes:   # several lines handed over at once (a LongStatement from fast_lines)
            lineno_after = lineno + line.extra
            big = getattr(line, "raw", None)   # a LongStatement's bytes (not copied)
            if not in_stmt and delim == b";" and getattr(line, "complete", False):
                # checked by its producer: one whole statement, ';' at its end, no comment
                if cparts:
                    yield MyStmt(b"".join(cparts), cline, "comment", delim)
                    cparts = []
                raw = big if big is not None else bytes(line)
                line = big = None
                if limit is not None and len(raw) > limit:
                    guard.statement_too_long(lineno, raw[:512], len(raw), source)
                yield MyStmt(raw, lineno, statement_kind(raw), delim)
                raw = None
                lineno = lineno_after
                continue
            if big is not None:
                line = big
                big = None
        else:
            lineno_after = None
        n = len(line)
        pos = 0
        seg = 0                       # start of this line's part of the current statement
        while True:
            if not in_stmt:
                if pos == 0:
                    if _COMMENT_LINE.match(line):
                        if not cparts:
                            cline = lineno
                        cparts.append(line)
                        break
                    m = _DELIMITER_LINE.match(line)
                    if m:
                        if cparts:
                            yield MyStmt(b"".join(cparts), cline, "comment", delim)
                            cparts = []
                        new = m.group(1)
                        if not new:
                            raise DumpSyntaxError("DELIMITER without a delimiter", lineno, source, line)
                        body = _body_re(new)
                        delim, dlen = new, len(new)
                        yield MyStmt(line, lineno, "delimiter", delim)
                        break
                    if line.startswith(b"/*") or line[:1] in b" \t":
                        if _BLOCK_ONLY_LINE.match(line):
                            if cparts:
                                yield MyStmt(b"".join(cparts), cline, "comment", delim)
                                cparts = []
                            kind = "other" if _SANDBOX in line else "comment"
                            yield MyStmt(line, lineno, kind, delim)
                            break
                if cparts:
                    yield MyStmt(b"".join(cparts), cline, "comment", delim)
                    cparts = []
                in_stmt = True
                stmt_line = lineno
                seg = pos
                state = _ST_N

            if state == _ST_N:
                p = body.match(line, pos).end()
                if p >= n:
                    parts.append(line[seg:] if seg else line)
                    break
                c = line[p]
                if line.startswith(delim, p):
                    e = p + dlen
                    if rest_match(line, e):
                        e = n
                    parts.append(line[seg:e])
                    raw = b"".join(parts)
                    parts = []
                    in_stmt = False
                    yield MyStmt(raw, stmt_line, statement_kind(raw), delim)
                    if e >= n:
                        break
                    pos = e
                    continue
                st = _OPEN_STATE.get(c)
                if st is not None:              # quote left open at end of line
                    state = st
                    parts.append(line[seg:] if seg else line)
                    break
                if c == 0x2F:                   # "/*" left open at end of line
                    j = line.find(b"*/", p + 2)
                    if j < 0:
                        state = _ST_CM
                        parts.append(line[seg:] if seg else line)
                        break
                    pos = j + 2                 # cannot happen (BODY eats closed comments)
                    continue
                # "-- " or "#": rest of the line is a comment
                parts.append(line[seg:] if seg else line)
                break
            elif state == _ST_CM:
                j = line.find(b"*/", pos)
                if j < 0:
                    parts.append(line[seg:] if seg else line)
                    break
                pos = j + 2
                state = _ST_N
            else:
                m = cont[state].match(line, pos)
                if m is None:
                    parts.append(line[seg:] if seg else line)
                    break
                pos = m.end()
                state = _ST_N

        if lineno_after is not None:
            lineno = lineno_after
        if limit is not None:
            if in_stmt:
                gathered += n
                if gathered > limit:
                    guard.statement_too_long(stmt_line, parts[0][:512] if parts else b"", gathered, source)
            else:
                gathered = 0

    if cparts:
        yield MyStmt(b"".join(cparts), cline, "comment", delim)
    if in_stmt:
        raw = b"".join(parts)
        if state in (_ST_SQ, _ST_DQ):
            raise DumpSyntaxError("unterminated string", stmt_line, source, raw[:80])
        if state == _ST_BT:
            raise DumpSyntaxError("unterminated string (quoted identifier)", stmt_line, source, raw[:80])
        if state == _ST_CM:
            raise DumpSyntaxError("unterminated comment", stmt_line, source, raw[:80])
        if statement_kind(raw) == "comment":
            yield MyStmt(raw, stmt_line, "comment", delim)
        else:
            raise DumpSyntaxError("unterminated statement", stmt_line, source, raw[:80])


# --------------------------------------------------------------------------------------------
# Identifiers
# --------------------------------------------------------------------------------------------


def unquote_ident(ident: bytes | str) -> str:
    """`a``b` -> a`b ; bare names are returned as is. Bytes are decoded as UTF-8
    (undecodable bytes kept via surrogateescape)."""
    if isinstance(ident, bytes):
        ident = ident.decode("utf-8", "surrogateescape")
    ident = ident.strip()
    if len(ident) >= 2 and ident[0] == "`" and ident[-1] == "`":
        return ident[1:-1].replace("``", "`")
    if len(ident) >= 2 and ident[0] == '"' and ident[-1] == '"':  # ANSI_QUOTES (--compatible=ansi)
        return ident[1:-1].replace('""', '"')
    return ident


def quote_ident(name: str) -> str:
    """a`b -> `a``b`"""
    return "`" + name.replace("`", "``") + "`"


# --------------------------------------------------------------------------------------------
# INSERT header
# --------------------------------------------------------------------------------------------

# `name`, "name" (ANSI_QUOTES dumps: mysqldump --compatible=ansi) or a bare name
_IDENT = rb"(?:`[^`]*+(?:``[^`]*+)*+`|\"[^\"]*+(?:\"\"[^\"]*+)*+\"|[A-Za-z0-9_$\x80-\xff]++)"
_HEAD = re.compile(
    rb"(?P<verb>(?P<v0>INSERT|REPLACE)(?:\s++(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY))?"
    rb"(?:\s++IGNORE)?)\b\s*+(?:INTO\b\s*+)?"
    rb"(?P<table>(?P<t1>" + _IDENT + rb")(?:\s*+\.\s*+(?P<t2>" + _IDENT + rb"))?)\s*+"
    rb"(?:PARTITION\s*+\([^()]*+\)\s*+)?"
    rb"(?:(?P<cols>\(\s*+(?:" + _IDENT + rb"(?:\s*+,\s*+" + _IDENT + rb")*+\s*+)?\))\s*+)?"
    rb"(?:(?P<values>VALUES?)\b\s*+|(?P<other>SET|SELECT|WITH|TABLE|\())",
    re.I,
)
_IDENT_RE = re.compile(_IDENT)


@dataclass
class MyInsertStmt(InsertStmt):
    """base.InsertStmt (raw, table=(schema|None, name), columns, values_start, tuples,
    tail_start) plus MySQL details. All spans are byte offsets into raw."""

    verb: str = "INSERT"                       # normalised: "INSERT", "INSERT IGNORE", "REPLACE"
    verb_span: tuple[int, int] = (0, 0)        # e.g. raw[s:e] == b"INSERT LOW_PRIORITY IGNORE"
    table_span: tuple[int, int] = (0, 0)       # whole (possibly db-qualified) name as written
    columns_span: tuple[int, int] | None = None  # "(...)" incl. parentheses
    form: str = "values"                       # "values" or "other" (INSERT ... SET/SELECT)
    ignore: bool = False
    replace: bool = False
    tuples_parsed: bool = False                # whether tuples/tail_start are filled in

    def iter_tuples(self, line: int | None = None, source: str = "<stdin>") -> "TupleIter":
        return iter_tuples(self.raw, self.values_start, line=line, source=source)


def _line_at(raw: bytes, off: int, line: int | None) -> int | None:
    return None if line is None else line + raw.count(b"\n", 0, off)


def parse_insert(raw: bytes, *, tuples: bool = False, line: int | None = None,
                 source: str = "<stdin>") -> MyInsertStmt:
    """Parse the header of an INSERT/REPLACE statement (`raw` as produced by split_statements).

    values_start is the offset of the first "(" of the VALUES list (-1 when form == "other").
    With tuples=True the tuple list is scanned too: .tuples = [(tuple_start, tuple_end, spans)], .tail_start.
    `line` (the statement's first line) only serves error messages.
    Raises DumpSyntaxError when the header cannot be understood.
    """
    p = _LEAD.match(raw).end()
    m = _HEAD.match(raw, p)
    if not m:
        raise DumpSyntaxError("cannot parse INSERT statement header", _line_at(raw, p, line), source,
                              raw[p:p + 80])
    t1, t2 = m.group("t1"), m.group("t2")
    table = (unquote_ident(t1), unquote_ident(t2)) if t2 is not None else (None, unquote_ident(t1))
    cols = None
    cspan = None
    if m.group("cols") is not None:
        cspan = m.span("cols")
        cols = [unquote_ident(x) for x in _IDENT_RE.findall(raw, cspan[0] + 1, cspan[1] - 1)]
    verb_words = m.group("verb").split()
    verb = b" ".join(w.upper() for w in verb_words).decode()
    ignore = verb_words[-1].upper() == b"IGNORE"
    replace = m.group("v0").upper() == b"REPLACE"
    if m.group("values") is not None:
        vs = m.end()
        vs = _skip_junk(raw, vs)[0]
        form = "values"
        if vs >= len(raw) or raw[vs] != 0x28:
            raise DumpSyntaxError("expected '(' after VALUES", _line_at(raw, vs, line), source,
                                  raw[vs:vs + 60])
    else:
        vs = -1
        form = "other"
    st = MyInsertStmt(raw=raw, table=table, columns=cols, values_start=vs, verb=verb,
                      verb_span=m.span("verb"), table_span=m.span("table"), columns_span=cspan,
                      form=form, ignore=ignore, replace=replace)
    if tuples and form == "values":
        st.tuples, st.tail_start = scan_tuples(raw, vs, line=line, source=source)
        st.tuples_parsed = True
    return st


# --------------------------------------------------------------------------------------------
# VALUES tuples
# --------------------------------------------------------------------------------------------

_SQ_FIELD = rb"(?:(?:_[A-Za-z0-9_]++\s*+|[NnXxBb])?" + _SQ + rb")"
_SQ_FAST = rb"'[^'\\]*+(?:\\.[^'\\]*+)*+'"
# a field the fast path accepts: a '...' string, a bare token (no whitespace, quotes, parens,
# comment starts), or an introduced string (_binary '...', X'..', b'..'). No whitespace inside
# a tuple: anything else (whitespace, comments, doubled quotes, "...", nested parens) falls
# back to the token-by-token scanner, which is exact. A bare token cannot contain a comment:
# "--" only starts one when followed by whitespace, which ends the token.
_F = (rb"(" + _SQ_FAST + rb"|[^\s,()'\"`#/]++|[A-Za-z0-9_]++\s*+" + _SQ_FAST + rb")")


@lru_cache(maxsize=64)
def _fast_tuple_re(n: int) -> re.Pattern:
    """One regex matching a whole n-field tuple + the following separator.
    Groups 1..n = fields, n+1 = ")" (tuple end), n+2 = "," (absent at the end of the list)."""
    return re.compile(rb"\(" + b",".join([_F] * n) + rb"(\))\s*+(?:(,)\s*+)?", re.S)


# slow-path tokens
_TOK = re.compile(
    rb"(?P<ws>\s++)"
    rb"|(?P<xc>/\*M?![0-9]*+)"                          # executable comment opener
    rb"|(?P<cm>" + _BLOCK + rb")"
    rb"|(?P<lc>" + _LINE_COMMENT_START + rb"[^\n]*+)"
    rb"|(?P<xe>\*/)"
    rb"|(?P<s>" + _SQ_FIELD + rb"|" + _DQ + rb"|" + _BT + rb")"
    rb"|(?P<op>[(),])"
    rb"|(?P<bare>(?:[^\s'\"`(),/#*\-]++|/(?!\*)|\*(?!/)|-(?!-(?:[\x00-\x20]|\Z)))++)",
    re.S,
)
_JUNK = {"ws", "cm", "lc"}


def _skip_junk(raw: bytes, pos: int, xdepth: int = 0) -> tuple[int, int]:
    """Skip whitespace, comments and executable-comment markers; returns (pos, xdepth)."""
    n = len(raw)
    while pos < n:
        m = _TOK.match(raw, pos)
        if m is None:
            break
        k = m.lastgroup
        if k in _JUNK:
            pass
        elif k == "xc":
            xdepth += 1
        elif k == "xe" and xdepth > 0:
            xdepth -= 1
        else:
            break
        pos = m.end()
    return pos, xdepth


class TupleIter:
    """Iterator over the VALUES tuples starting at raw[start] == b"(".

    Yields (tuple_start, tuple_end, spans): raw[tuple_start:tuple_end] is "( ... )" and spans
    is a sequence of (s, e) per field (surrounding whitespace excluded; text inside
    executable /*!...*/ comments counts as SQL). After exhaustion, .end is the offset right
    after the last ")" (raw[.end:] is the tail: ";\\n", " ON DUPLICATE KEY UPDATE ...", ...).
    All tuples must have the same number of fields. Raises DumpSyntaxError on malformed input.
    """

    __slots__ = ("raw", "start", "end", "line", "source", "count", "_gen")

    def __init__(self, raw: bytes, start: int, line: int | None = None, source: str = "<stdin>"):
        self.raw = raw
        self.start = start
        self.end: int | None = None
        self.line = line
        self.source = source
        self.count = 0
        self._gen = self._run()

    def __iter__(self):
        return self._gen

    def __next__(self):
        return next(self._gen)

    def _err(self, msg: str, pos: int):
        raise DumpSyntaxError(msg, _line_at(self.raw, pos, self.line), self.source,
                              self.raw[pos:pos + 60])

    def _run(self):
        raw = self.raw
        pos = self.start
        nfields = -1
        fast = None
        xdepth = 0
        count = 0
        while True:
            # ---- fast path: whole tuples by one regex each
            if fast is not None and xdepth == 0:
                last = -1
                for m in fast.finditer(raw, pos):
                    regs = m.regs
                    if regs[0][0] != pos:         # the tuple at pos is not fast-path material
                        break
                    count += 1
                    yield pos, regs[-2][1], regs[1:-2]
                    if regs[-1][0] < 0:           # no "," after this tuple
                        last = regs[-2][1]
                        break
                    pos = regs[0][1]
                self.count = count
                if last >= 0:
                    # end of list, unless comments hide a "," (slow check)
                    pos, xdepth, more = self._after_tuple(last, xdepth)
                    if not more:
                        self.end = last
                        return
                    continue
            # ---- slow path: one tuple, token by token
            tuple_start, tuple_end, spans, xdepth = self._slow_tuple(pos, xdepth)
            if nfields < 0:
                nfields = len(spans)
                if nfields <= 2000:
                    fast = _fast_tuple_re(nfields)
            elif len(spans) != nfields:
                self._err(f"tuple has {len(spans)} values, expected {nfields}", tuple_start)
            count += 1
            self.count = count
            yield tuple_start, tuple_end, tuple(spans)
            pos, xdepth, more = self._after_tuple(tuple_end, xdepth)
            if not more:
                self.end = tuple_end
                return

    def _after_tuple(self, tuple_end: int, xdepth: int) -> tuple[int, int, bool]:
        """After a tuple's ")": (pos of next "(", xdepth, True) or (tuple_end, xdepth, False)."""
        raw = self.raw
        p, xd = _skip_junk(raw, tuple_end, xdepth)
        if p < len(raw) and raw[p] == 0x2C:
            p, xd = _skip_junk(raw, p + 1, xd)
            if p >= len(raw) or raw[p] != 0x28:
                self._err("expected '(' after ',' in VALUES list", p)
            return p, xd, True
        if p < len(raw) and raw[p] == 0x28:
            self._err("missing ',' between VALUES tuples", p)
        return tuple_end, xdepth, False

    def _slow_tuple(self, pos: int, xdepth: int):
        raw = self.raw
        n = len(raw)
        pos, xdepth = _skip_junk(raw, pos, xdepth)
        if pos >= n or raw[pos] != 0x28:
            self._err("expected '(' (start of a VALUES tuple)", pos)
        tuple_start = pos
        pos += 1
        spans: list[tuple[int, int]] = []
        fs = fe = -1
        nest = 0
        tok = _TOK.match
        while True:
            if pos >= n:
                self._err("unterminated VALUES tuple", tuple_start)
            m = tok(raw, pos)
            if m is None:
                self._err("unexpected character in VALUES tuple", pos)
            k = m.lastgroup
            s, e = m.span()
            pos = e
            if k in _JUNK:
                continue
            if k == "xc":
                xdepth += 1
                continue
            if k == "xe":
                if xdepth == 0:
                    self._err("unexpected '*/' in VALUES tuple", s)
                xdepth -= 1
                continue
            if k == "op":
                c = raw[s]
                if c == 0x28:                   # "("
                    nest += 1
                    if fs < 0:
                        fs = s
                    fe = e
                    continue
                if nest > 0:
                    if c == 0x29:
                        nest -= 1
                    fe = e
                    continue
                if c == 0x2C:                   # "," at top level
                    if fs < 0:
                        self._err("empty value in VALUES tuple", s)
                    spans.append((fs, fe))
                    fs = fe = -1
                    continue
                # ")" closing the tuple
                if fs >= 0:
                    spans.append((fs, fe))
                elif spans:
                    self._err("empty value in VALUES tuple", s)
                return tuple_start, e, spans, xdepth
            # string / identifier / bare token
            if fs < 0:
                fs = s
            fe = e


def iter_tuples(raw: bytes, start: int, line: int | None = None,
                source: str = "<stdin>") -> TupleIter:
    """See TupleIter. `line` = line number of raw[0] (for error messages only)."""
    return TupleIter(raw, start, line, source)


def scan_tuples(raw: bytes, start: int, line: int | None = None,
                source: str = "<stdin>") -> tuple[list, int]:
    """All tuples as a list plus the end offset of the tuple list."""
    it = TupleIter(raw, start, line, source)
    tuples = list(it)
    return tuples, it.end


# --------------------------------------------------------------------------------------------
# Literals
# --------------------------------------------------------------------------------------------

_STRLIT = re.compile(
    rb"(?:(?P<intro>_[A-Za-z0-9_]++)\s*+|[Nn](?='))?"
    rb"(?P<body>(?:" + _SQ + rb"\s*+)++|(?:" + _DQ + rb"\s*+)++)",
    re.S,
)
_ONE_STR = re.compile(_SQ + rb"|" + _DQ, re.S)
_HEXLIT = re.compile(rb"(?:_[A-Za-z0-9_]++\s*+)?(?:0x(?P<h1>[0-9A-Fa-f]++)|[Xx]'(?P<h2>[0-9A-Fa-f]*+)')")
_BITLIT = re.compile(rb"(?:_[A-Za-z0-9_]++\s*+)?(?:0b(?P<b1>[01]++)|[Bb]'(?P<b2>[01]*+)')")
_NUMBER = re.compile(rb"[+-]?(?:[0-9]++(?:\.[0-9]*+)?|\.[0-9]++)(?:[eE][+-]?[0-9]++)?")
_NULL = re.compile(rb"NULL|\\N", re.I)
_DEFAULT = re.compile(rb"DEFAULT", re.I)
_UNESC = {
    ord("0"): b"\x00", ord("'"): b"'", ord('"'): b'"', ord("b"): b"\x08", ord("n"): b"\n",
    ord("r"): b"\r", ord("t"): b"\t", ord("Z"): b"\x1a", ord("\\"): b"\\",
    ord("%"): b"\\%", ord("_"): b"\\_",
}
_UNESC_TABLE = [_UNESC.get(i, bytes([i])) for i in range(256)]
_UNESC_RE = {
    0x27: re.compile(rb"\\(.)|''", re.S),
    0x22: re.compile(rb'\\(.)|""', re.S),
}


def _unescape_one(quoted: bytes) -> bytes:
    q = quoted[0]
    body = quoted[1:-1]
    if bytes((q, q)) not in body:
        if 0x5C not in body:
            return body
        if b"\\" not in body.replace(b'\\"', b""):
            # only \" escapes (a JSON document as mysqldump writes it): no backslash precedes
            # another, so each \" is one escaped quote
            return body.replace(b'\\"', b'"')
    table = _UNESC_TABLE
    qb = bytes((q,))

    def repl(m):
        g = m.group(1)
        return qb if g is None else table[g[0]]

    return _UNESC_RE[q].sub(repl, body)


def _unescape_concat(body: bytes) -> bytes:
    """'a' 'b' -> b"ab" (adjacent strings concatenate)."""
    parts = [_unescape_one(m.group()) for m in _ONE_STR.finditer(body)]
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _bits_to_bytes(bits: bytes) -> bytes:
    if not bits:
        return b""
    nbytes = (len(bits) + 7) // 8
    return int(bits, 2).to_bytes(nbytes, "big")


def decode_literal(field: bytes) -> tuple[str, object]:
    """Decode one VALUES field (as spanned by iter_tuples; surrounding whitespace ignored).

    ("null", None)                 NULL, \\N
    ("string", bytes)              '...', "...", N'...', _utf8mb4'...', 'a' 'b' (unescaped)
    ("binary_string", bytes)       _binary '...'
    ("hex", bytes)                 0xABCD (odd digit count padded left), X'AB', _binary 0x..
    ("bit", bytes)                 b'0101', 0b0101 (big-endian, ceil(bits/8) bytes)
    ("number", raw bytes)          -1.5e10, 42, .5
    ("default", raw bytes)         DEFAULT
    ("expr", raw bytes)            anything else (function calls, expressions, ...)
    """
    f = field.strip(b" \t\r\n\f\v")
    if not f:
        return "expr", f
    c = f[0]
    if c == 0x27 or c == 0x22 or c == 0x5F or c in b"Nn":
        m = _STRLIT.fullmatch(f)
        if m:
            value = _unescape_concat(m.group("body"))
            intro = m.group("intro")
            if intro is not None and intro.lower() == b"_binary":
                return "binary_string", value
            return "string", value
    if _NULL.fullmatch(f):
        return "null", None
    if c in b"+-.0123456789":
        if _NUMBER.fullmatch(f):
            return "number", f
    m = _HEXLIT.fullmatch(f)
    if m:
        h = m.group("h1")
        if h is not None:
            if len(h) % 2:
                h = b"0" + h
        else:
            h = m.group("h2")
            if len(h) % 2:
                return "expr", f            # X'ABC' is an error in MySQL
        return "hex", bytes.fromhex(h.decode("ascii"))
    m = _BITLIT.fullmatch(f)
    if m:
        bits = m.group("b1") if m.group("b1") is not None else m.group("b2")
        return "bit", _bits_to_bytes(bits)
    if _DEFAULT.fullmatch(f):
        return "default", f
    return "expr", f


_NEEDS_ESC = re.compile(rb"[\x00\n\r\\'\"\x1a]")


def encode_string(value: bytes) -> bytes:
    """Quote like mysqldump (mysql_real_escape_string): \\0 \\n \\r \\\\ \\' \\" \\Z escaped,
    every other byte raw."""
    if _NEEDS_ESC.search(value) is None:
        return b"'" + value + b"'"
    v = (value.replace(b"\\", b"\\\\").replace(b"\x00", b"\\0").replace(b"\n", b"\\n")
         .replace(b"\r", b"\\r").replace(b"'", b"\\'").replace(b'"', b'\\"')
         .replace(b"\x1a", b"\\Z"))
    return b"'" + v + b"'"


def encode_hex(value: bytes) -> bytes:
    """0xABCD like mysqldump --hex-blob (uppercase); b"''" for an empty value (0x alone is not
    valid SQL)."""
    if not value:
        return b"''"
    return b"0x" + value.hex().upper().encode("ascii")


def encode_bit(value: bytes) -> bytes:
    """b'0101...' (8 bits per byte)."""
    return b"b'" + "".join(f"{x:08b}" for x in value).encode("ascii") + b"'"


def is_number(field: bytes) -> bool:
    """True if field is a plain numeric literal (safe to write unquoted)."""
    return _NUMBER.fullmatch(field) is not None


def encode_literal(kind: str, value) -> bytes:
    """Inverse of decode_literal (canonical mysqldump form).
    str values are UTF-8 encoded; "number" accepts int/float/Decimal/bytes/str and fails
    (ValueError) on anything that is not a plain numeric literal."""
    if kind == "null" or value is None:
        return b"NULL"
    if isinstance(value, str):
        value = value.encode("utf-8")
    if kind == "string":
        return encode_string(value)
    if kind == "binary_string":
        return b"_binary " + encode_string(value)
    if kind == "hex":
        return encode_hex(value)
    if kind == "bit":
        return encode_bit(value)
    if kind == "number":
        if not isinstance(value, bytes):
            value = str(value).encode("ascii")
        if not is_number(value):
            raise ValueError("not a numeric literal")
        return value
    if kind in ("default", "expr"):
        return value
    raise ValueError(f"unknown literal kind {kind!r}")
