"""MySQL and MariaDB dumps (mysqldump, mariadb-dump): the dialect.

Lexing lives in mysql_lex (statements, DELIMITER blocks, extended INSERT tuples, literals);
this module describes the dialect to the engine (names, value decoding, statement labels)
and turns the statements into events. Values are re-encoded in work.my_field_fns.
"""
from __future__ import annotations

import re

from dumpmask.dialects.base import LineReader, statement_guard
from dumpmask.dialects.fast import ACCELERATED, body_end
from dumpmask.speedups import count_nl
from dumpmask.dialects.mysql_lex import decode_literal, parse_insert, quote_ident, split_statements, unquote_ident

NAME = "mysql"
SAMPLE_ROWS = 100   # rows looked at per table for content detection on a pipe (--strict, --template)


def _decoded(field: bytes):
    """A MySQL literal -> str | None (the common mariadb-dump literals without the general decoder)."""
    if field[:1] == b"'":
        body = field[1:-1]
        if field[-1:] == b"'" and len(field) >= 2 and b"\\" not in body and b"'" not in body:
            return body.decode("utf-8", "surrogateescape")
    elif field.isdigit():
        return field.decode("ascii")
    elif field == b"NULL":
        return None
    lk, v = decode_literal(field)
    if lk == "null":
        return None
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "surrogateescape")
    return v

_USE_RE = re.compile(rb"\s*USE\s+(`(?:[^`]|``)*`|[^\s;]+)\s*;", re.I)
_NUMBER_OUT = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_NAME = rb'(?:`(?:[^`]|``)*`|"(?:[^"]|"")*"|[^\s(`".]+)'   # `name`, "name" (ANSI_QUOTES) or bare
_INSERT_INTO = re.compile(rb"(?is)\s*(?:INSERT|REPLACE)\b.*?\bINTO\s+")


def _insert_table(raw: bytes):
    """The (db or None, table) an INSERT / REPLACE writes into, or None."""
    import dumpmask.idents as idents

    m = _INSERT_INTO.match(raw)
    if m is None:
        return None
    r = idents.read_table_name(raw, m.end(), "mysql")
    return r[0] if r is not None else None


NULL_LIT = b"NULL"


class LongStatement:
    """One whole INSERT statement handed to the splitter at once (fast_lines): its bytes in
    `raw`, `extra` = its lines - 1, `complete`: checked to end with ';' and hold no comment."""

    __slots__ = ("raw", "extra", "complete")

    def __init__(self, raw: bytes):
        self.raw = raw
        self.extra = count_nl(raw) - 1
        self.complete = True


_INSERT_START = (b"INSERT ", b"REPLACE ", b"insert ", b"replace ")
_EOL_REST = re.compile(rb"[ \t\r]*+\n")
MAX_MERGE = 1 << 30


def fast_lines(stream, block: int = 1 << 20, max_merge: int = MAX_MERGE):
    """The stream's lines, except that an INSERT statement (as mysqldump writes them: ~1 MB,
    often one row per line) is handed over whole, so the splitter runs one C-speed regex over
    it instead of Python code per line. Only a statement that ends with ';' at the end of a
    line and holds no comment is merged; anything else goes line by line. The bytes are never
    changed, only where the splitter sees line boundaries."""
    read = getattr(stream, "read1", None) or stream.read
    data = b""
    pos = 0
    scan = 0          # data[pos:scan] is known to hold no line break
    body_from = -1    # >= 0: the statement at data[0] is known to hold no end before data[body_from]
    eof = False
    while True:
        nl = data.find(b"\n", scan if scan > pos else pos)
        if nl < 0:
            if eof:
                if pos < len(data):
                    yield data[pos:]
                return
            # a line longer than the buffer: gather blocks until its line break arrives and
            # join them once (linear in the line's length, never data + more per block)
            pieces = [memoryview(data)[pos:]] if pos < len(data) else []   # joined below: no copy here
            size = len(data) - pos
            data = b""
            more = b""
            while True:
                more = read(block)
                if not more:
                    eof = True
                    break
                pieces.append(more)
                size += len(more)
                if more.find(b"\n") >= 0:
                    break
            scan = size - len(more)
            data = b"".join(pieces)
            pieces = more = None
            pos = 0
            continue
        end = nl + 1
        if data.startswith(_INSERT_START, pos) and (ACCELERATED or data[nl - 1:nl] != b";"):
            # a statement longer than the buffer: its scan goes on where the last one stopped
            # (before: from its start again, ~1.5 scans of every 1 MB statement)
            p = body_end(data, body_from if body_from >= 0 and pos == 0 else pos)
            body_from = -1
            n = len(data)
            if p < n and data[p] == 0x3B:            # ';'
                m = _EOL_REST.match(data, p + 1)
                if m is not None:
                    # handed over as one slice (a bytes subclass would copy it twice more, and
                    # the splitter a third time); a whole buffer is not copied at all
                    stmt = LongStatement(data[pos:m.end()])
                    pos = m.end()
                    if type(stmt) is LongStatement and len(stmt.raw) > (8 << 20):
                        # a long statement: the buffer is not held beside it meanwhile (nor
                        # through the match object)
                        data = data[pos:]
                        pos = scan = 0
                        m = None
                    yield stmt
                    stmt = None
                    continue
                need_more = data.find(b"\n", p + 1) < 0   # the line may end past the buffer
            else:
                need_more = p >= n or data[p] in b"'\"`"  # ran out of buffer, maybe inside a string
            if need_more and not eof and n - pos < max_merge:   # (past it: line by line, the lexer bounds it)
                more = read(max(block, n - pos))   # doubling: linear in the statement's length
                if not more:
                    eof = True
                # where the scan may go on: an unclosed quote from its opening quote; past plain
                # bytes from their end, or from a last '/' or '-' (a comment may begin there);
                # never from a last quote, which closed a string
                body_from = (p if p < n else n - 1 if n - 1 > pos and data[n - 1] in b"/-" else n) - pos
                data = data[pos:] + more
                more = None
                pos = 0
                scan = 0
                continue
        yield data[pos:end]
        pos = end


def _count_tuples(raw: bytes) -> int:
    """Rows in an INSERT we pass through untouched (a statistic only: not parsed)."""
    return raw.count(b"),") + 1


class MyDialect:
    """MySQL / MariaDB dumps: a description (names, values) and a lexer of events. Knows
    nothing of rules, stages or the audit."""

    name = NAME
    sample_rows = SAMPLE_ROWS
    insert_style = "splice"      # masked literals are spliced into the statement (work._mask_my_insert)

    # -- names (MySQL compares column names case-insensitively)
    @staticmethod
    def same_name(a: str, b: str) -> bool:
        return a == b

    @staticmethod
    def col_eq(pattern: str, actual: str) -> bool:
        return pattern.lower() == actual.lower()

    quote_ident = staticmethod(quote_ident)

    # -- values
    decode_sql_field = staticmethod(_decoded)

    @staticmethod
    def parse_insert(raw: bytes, line: int | None, source: str, tuples: bool = True):
        return parse_insert(raw, tuples=tuples, line=line, source=source)

    @staticmethod
    def with_generated(schema, ins, columns: list[str]) -> list[str]:
        return _with_generated(schema, ins, columns)

    count_rows_unparsed = staticmethod(_count_tuples)

    # -- statements
    @staticmethod
    def is_schema_statement(st) -> bool:
        """Besides CREATE TABLE, nothing: USE is followed by the lexer (Stmt.db)."""
        return False

    @staticmethod
    def label(st) -> str | None:
        k = st.kind
        if k == "comment":
            return None
        return "CREATE TABLE" if k == "create_table" else ("DELIMITER" if k == "delimiter" else _label(st.raw))

    def events(self, lines: LineReader):
        """The dump as events: Stmt (everything but INSERT / REPLACE, each with .db, the database
        a USE made current before it), InsertData (.table resolved in that database)."""
        current_db = None
        guard = statement_guard(lines.stream)   # --max-memory: a statement over many lines is bounded too
        cap = MAX_MERGE if guard is None else min(MAX_MERGE, guard.statement_limit)
        for st in split_statements(fast_lines(lines.stream, max_merge=cap), lines.source, guard):
            st.db = current_db
            if st.kind == "insert":
                name = _insert_table(st.raw)
                if name is not None and name[0] is None and current_db is not None:
                    name = (current_db, name[1])
                yield InsertData(st, name)
                continue
            if st.kind == "other":
                m = _USE_RE.match(st.raw)
                if m:
                    current_db = unquote_ident(m.group(1))
                    st.db = current_db
            yield st


class InsertData:
    """An INSERT / REPLACE statement and its table (None when its name cannot be read)."""

    __slots__ = ("stmt", "table", "head")
    event = "insert"

    def __init__(self, stmt, table):
        self.stmt, self.table, self.head = stmt, table, None


def _with_generated(schema, ins, columns: list[str]) -> list[str]:
    """mariadb-dump writes the values of generated columns too (the server ignores them), and
    a hand-written dump may put DEFAULT there: without a column list, a tuple as long as ALL the
    table's columns lists them all, generated ones included."""
    if ins.columns is None and schema is not None and ins.tuples:
        allc = [c.name for c in schema.columns]
        if len(allc) != len(columns) and len(ins.tuples[0][2]) == len(allc):
            return allc
    return columns


def _label(raw: bytes) -> str:
    s = raw.lstrip()
    if s.startswith(b"/*!") or s.startswith(b"/*M!"):
        m = re.match(rb"/\*M?!\d*\s*([A-Za-z]+(?:\s+[A-Za-z]+)?)", s)
        return ("conditional comment: " + m.group(1).decode().upper()) if m else "conditional comment"
    m = re.match(rb"([A-Za-z]+)(?:\s+([A-Za-z]+))?", s)
    if not m:
        return "other"
    a = m.group(1).decode().upper()
    if a in ("DROP", "CREATE", "ALTER", "LOCK", "UNLOCK") and m.group(2):
        return f"{a} {m.group(2).decode().upper()}"
    return a
