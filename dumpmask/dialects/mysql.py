"""MySQL and MariaDB dumps (mysqldump, mariadb-dump): the engine's adapter.

Lexing lives in mysql_lex (statements, DELIMITER blocks, extended INSERT tuples, literals);
this module connects it to the engine: schema from CREATE TABLE, masked values decoded from
MySQL literals and re-encoded the way mysqldump writes them, everything else byte for byte.
"""
from __future__ import annotations

import io
import re

from dumpmask.dialects.base import (HUGE_FIELD, UNCHANGED, FieldFns, LineReader, counting, has_huge_span, mask_spans_huge, remember,
                                    span_masker)
from dumpmask.dialects.fast import ACCELERATED, body_end, splice, tuple_spans
from dumpmask.dialects.mysql_lex import (decode_literal, encode_hex, encode_string, is_number, parse_insert,
                                         split_statements, unquote_ident)
from dumpmask.errors import DumpSyntaxError, MaskingError
from dumpmask.schema import parse_create_table

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


class MergedLines(bytes):
    """Several lines of one INSERT handed to the splitter at once (`extra` = lines - 1)."""


class LongStatement:
    """Like MergedLines for a long statement: its bytes in `raw` (no copy of them)."""

    __slots__ = ("raw", "extra", "complete")

    def __init__(self, raw: bytes):
        self.raw = raw
        self.extra = raw.count(b"\n") - 1
        self.complete = True


_INSERT_START = (b"INSERT ", b"REPLACE ", b"insert ", b"replace ")
_EOL_REST = re.compile(rb"[ \t\r]*+\n")
MAX_MERGE = 1 << 30


def fast_lines(stream, block: int = 1 << 20):
    """The stream's lines, except that an INSERT statement (as mysqldump writes them: ~1 MB,
    often one row per line) is handed over whole, so the splitter runs one C-speed regex over
    it instead of Python code per line. Only a statement that ends with ';' at the end of a
    line and holds no comment is merged; anything else goes line by line. The bytes are never
    changed, only where the splitter sees line boundaries."""
    read = getattr(stream, "read1", None) or stream.read
    data = b""
    pos = 0
    scan = 0          # data[pos:scan] is known to hold no line break
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
            p = body_end(data, pos)
            n = len(data)
            if p < n and data[p] == 0x3B:            # ';'
                m = _EOL_REST.match(data, p + 1)
                if m is not None:
                    if m.end() - pos > (1 << 20):
                        # a long statement is handed over as it is, not copied into a bytes
                        # subclass (which copies twice); a whole buffer is not copied at all
                        stmt = LongStatement(data[pos:m.end()])
                    else:
                        stmt = MergedLines(data[pos:m.end()])
                        stmt.extra = stmt.count(b"\n") - 1
                        stmt.complete = True
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
            if need_more and not eof and n - pos < MAX_MERGE:
                more = read(max(block, n - pos))   # doubling: linear in the statement's length
                if not more:
                    eof = True
                data = data[pos:] + more
                more = None
                pos = 0
                scan = 0
                continue
        yield data[pos:end]
        pos = end


def _huge_sql_field(p, data: bytes, s: int, e: int):
    """A very long plain string literal ('...' without escapes or doubled quotes), decoded from
    `data` in place: the same result as the column's miss (None: take the usual path)."""
    if data[s:s + 1] != b"'" or data[e - 1:e] != b"'" or e - s < 2 or data.find(b"\\", s, e) >= 0 \
            or data.find(b"''", s + 1, e - 1) >= 0:
        return None
    v = str(memoryview(data)[s + 1:e - 1], "utf-8", "surrogateescape")
    nv = p.value_fn(v)
    if nv == v:
        return UNCHANGED
    if nv is None:
        return NULL_LIT
    return encode_string(nv.encode("utf-8", "surrogateescape"))


def _qualname(key) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


def _count_tuples(raw: bytes) -> int:
    """Rows in an INSERT we pass through untouched (a statistic only: not parsed)."""
    return raw.count(b"),") + 1


class MyAdapter:
    name = NAME

    def __init__(self, engine):
        self.engine = engine
        self.current_db: str | None = None

    @staticmethod
    def same_name(a: str, b: str) -> bool:
        return a == b

    @staticmethod
    def col_eq(pattern: str, actual: str) -> bool:
        return pattern.lower() == actual.lower()

    # -- values
    def make_field_fn(self, t, col, stats, cache_max: int = 32_768) -> FieldFns:
        kind = col.kind
        fast = getattr(t, "ascii_fast", None)   # bytes -> bytes for ASCII text, no escaping needed
        t = getattr(t, "uncached", t)  # this function caches raw fields itself
        cache: dict = {}
        qual = col.name

        raw_int = getattr(t, "raw_int", None)

        def miss(raw: bytes):
            """raw literal -> UNCHANGED or the new literal bytes (b"NULL" for NULL); cached."""
            if raw_int is not None and raw.isdigit():
                return remember(cache, raw, raw_int(raw), cache_max)
            if raw[:1] == b"'" and b"\\" not in raw and raw.find(b"''", 1, len(raw) - 1) < 0:
                # the common case, without the general decoder (and without a copy of the body)
                lk, v = "string", memoryview(raw)[1:-1]
            else:
                lk, v = decode_literal(raw)
            if lk == "null":
                value = None
            elif lk in ("string", "binary_string", "hex", "bit"):
                value = str(v, "utf-8", "surrogateescape")
                v = None
            elif lk == "number":
                value = v.decode("ascii", "surrogateescape")
            elif lk == "default":
                cache[raw] = UNCHANGED  # a generated column's placeholder: nothing to mask
                return UNCHANGED
            else:
                raise MaskingError(f"column {qual}: cannot mask a value written as an expression")
            out = t(value)
            if out == value:
                r = UNCHANGED
            elif out is None:
                r = NULL_LIT
            elif lk == "hex":
                r = encode_hex(out.encode("utf-8", "surrogateescape"))
            elif kind in ("int", "numeric", "float", "year") and _NUMBER_OUT.fullmatch(out) and lk in ("number", "null"):
                r = out.encode()
            elif lk == "binary_string":
                r = b"_binary " + encode_string(out.encode("utf-8", "surrogateescape"))
            else:
                r = encode_string(out.encode("utf-8", "surrogateescape"))
            return remember(cache, raw, r, cache_max)

        if fast is not None:
            general = miss

            def miss(raw: bytes):
                """A plain ASCII string literal straight through the transformer's bytes path."""
                body = raw[1:-1]
                if raw[:1] == b"'" and raw[-1:] == b"'" and body.isascii() and b"\\" not in body and b"'" not in body:
                    r = fast(body)
                    return remember(cache, raw, UNCHANGED if r == body else b"'" + r + b"'", cache_max)
                return general(raw)

        return FieldFns(None, counting(cache, miss, NULL_LIT, stats), cache, miss)

    # -- schema
    def learn(self, st) -> None:
        eng = self.engine
        if st.kind == "create_table":
            seen = self.__dict__.setdefault("_seen_create", {})
            ck = (self.current_db, st.raw)
            if eng.schema_complete and ck in seen:
                return seen[ck]   # read in the schema pre-pass: the same statement in the same database
            ts = self._learn_create(st)
            if ts is not None and not eng.schema_complete:
                seen[ck] = ts
            return ts
        m = _USE_RE.match(st.raw)
        if m:
            self.current_db = unquote_ident(m.group(1))
        return None

    def _learn_create(self, st):
        eng = self.engine
        ts_schema = parse_create_table(st.raw, NAME)
        if ts_schema is None:
            msg = f"{eng.source}:{st.line}: could not read this CREATE TABLE; its data can only pass through unmasked"
            if eng.strict:
                raise MaskingError(msg + " (--strict)")
            eng.warn(msg)
            return None
        if ts_schema.schema is None and self.current_db is not None:
            ts_schema.schema = self.current_db
        return eng.learn_table(ts_schema, st.line)

    def learn_schema(self, lines: LineReader) -> None:
        for st in split_statements(fast_lines(lines.stream), lines.source):
            if st.kind == "create_table" or (st.kind == "other" and _USE_RE.match(st.raw)):
                self.learn(st)
            elif st.kind == "insert":
                name = _insert_table(st.raw)
                if name is not None:
                    self.engine.note_data_table(self.table_key(name), st.line)
        self.current_db = None

    def table_key(self, name: tuple) -> tuple:
        schema, tname = name
        if schema is None and self.current_db is not None:
            return (self.current_db, tname)
        return (schema, tname)

    # -- the loop
    def run(self, lines: LineReader, out) -> None:
        eng = self.engine
        from dumpmask.engine import Progress

        prog = Progress(eng.progress)
        w = out.write
        count = eng.audit.count_passthrough
        for st in split_statements(fast_lines(lines.stream), eng.source):
            k = st.kind
            if k == "insert":
                self.do_insert(st, out)
                prog.update(out.raw.bytes, None)
                continue
            if k == "create_table":
                ts = self.learn(st)
                if ts is not None:
                    eng.check_table_rules_early(ts, st.line)
            elif k == "other" and st.raw[:40].lstrip()[:3].upper() == b"USE":
                self.learn(st)
            w(eng.rewritten(st))
            if k != "comment":
                count("CREATE TABLE" if k == "create_table" else ("DELIMITER" if k == "delimiter" else _label(st.raw)))
        prog.done()

    def do_insert(self, st, out) -> None:
        try:
            self._do_insert(st, out)
        except MaskingError as e:
            eng = self.engine
            if str(e).startswith(f"{eng.source}:"):
                raise
            raise MaskingError(f"{eng.source}:{self._locate(st, e)}: {e}") from None

    def _locate(self, st, err) -> str:
        """Where in an INSERT a MaskingError comes from: "line: table row N" (N counted in the
        table), found by running the masked fields' functions again tuple by tuple."""
        eng = self.engine
        raw = st.raw
        try:
            ts = eng.table_state(self.table_key(_insert_table(raw)))
            ins = parse_insert(raw, tuples=True, line=st.line, source=eng.source)
            columns = _with_generated(ts, ins, eng.data_columns(ts, ins.columns, st.line))
            plan = eng.build_plan(ts, columns, st.line)
            before = getattr(self, "_row0", 0)
            for k, (t0, _t1, spans) in enumerate(ins.tuples):
                for p in plan:
                    if p.index < len(spans):
                        s, e = spans[p.index]
                        try:
                            p.fn.miss(raw[s:e])
                        except MaskingError:
                            at = st.line + raw.count(b"\n", 0, t0)
                            return f"{at}: {_qualname(ts.key)} row {before + k + 1}"
        except Exception:
            pass
        return str(st.line)

    def _do_insert(self, st, out) -> None:
        eng = self.engine
        raw = st.raw
        name = _insert_table(raw)
        if name is None:
            raise DumpSyntaxError("cannot read the table name of this INSERT", st.line, eng.source)
        key = self.table_key(name)
        ts = eng.table_state(key)
        # every extension must see the table (key remapping records what it wrote), rules or not
        wanted = [e.wants_table(eng, ts) for e in eng.extensions]
        has_rules = bool(eng.table_rules(ts)) or any(wanted)
        tstats = eng.audit.table(_qualname(ts.key))
        self._row0 = tstats.rows_read   # rows of this table before this statement (to locate errors)
        if not has_rules:
            out.write(raw)
            eng.audit.count_passthrough("INSERT (unmasked table)")
            n = _count_tuples(raw)
            tstats.rows_read += n
            tstats.rows_written += n
            return
        head = parse_insert(raw, tuples=False, line=st.line, source=eng.source)
        samplers = [e for e in eng.extensions if e.wants_sample(eng, ts)]
        if samplers and head.values_start >= 0:
            # content detection on a pipe: the rows of this first INSERT (at most SAMPLE_ROWS),
            # decoded, before anything of the table's data is written
            ins = parse_insert(raw, tuples=True, line=st.line, source=eng.source)
            cols = _with_generated(ts, ins, eng.data_columns(ts, ins.columns, st.line))
            decoded = [[_decoded(raw[s:e]) for s, e in spans] for _, _, spans in ins.tuples[:SAMPLE_ROWS]]
            for e in samplers:
                e.sample(eng, ts, cols, decoded)
        if head.values_start < 0:
            raise MaskingError(f"{eng.source}:{st.line}: INSERT ... SET/SELECT into masked table {_qualname(ts.key)} cannot be masked; refusing to pass it through")
        name = _qualname(ts.key)
        row_filter = None
        if head.columns is not None or ts.schema is not None:
            columns = eng.data_columns(ts, head.columns, st.line)
            plan = eng.build_plan(ts, columns, st.line)
            for e in eng.extensions:
                f = e.row_filter(eng, ts, columns, st.line, sql=True)
                if f is not None:
                    row_filter = f
            if row_filter is None and plan:
                spans = tuple_spans(raw, head.values_start, len(columns), tuple(p.index for p in plan))
                if spans is not None:
                    self._splice_fast(raw, spans, plan, tstats, out, len(spans) // (2 * len(plan)))
                    return
        ins = parse_insert(raw, tuples=True, line=st.line, source=eng.source)
        columns = _with_generated(ts, ins, eng.data_columns(ts, ins.columns, st.line))
        plan = eng.build_plan(ts, columns, st.line)
        row_filter = None
        for e in eng.extensions:
            f = e.row_filter(eng, ts, columns, st.line, sql=True)
            if f is not None:
                row_filter = f
        ncols = len(columns)
        if row_filter is None:
            # no row is cut: splice the new literals into the statement, everything else as it was
            masked = []
            for (t0, t1, spans) in ins.tuples:
                if len(spans) != ncols:
                    raise DumpSyntaxError(f"INSERT row for {name} has {len(spans)} values, expected {ncols}",
                                          st.line + raw.count(b"\n", 0, t0), eng.source, raw[t0:t0 + 60])
                masked.extend([x for p in plan for x in spans[p.index]])
            self._splice_fast(raw, masked, plan, tstats, out, len(ins.tuples))
            return
        pieces = [raw[:ins.values_start]]
        kept = 0
        prev_end = ins.values_start
        fns = [(p.index, p.fn.sql) for p in plan]
        for (t0, t1, spans) in ins.tuples:
            tstats.rows_read += 1
            if len(spans) != ncols:
                raise DumpSyntaxError(f"INSERT row for {name} has {len(spans)} values, expected {ncols}",
                                      st.line + raw.count(b"\n", 0, t0), eng.source, raw[t0:t0 + 60])
            sep = raw[prev_end:t0]
            prev_end = t1
            vals = [raw[s:e] for s, e in spans]
            vals = row_filter(vals)
            if vals is None:
                continue
            for i, fn in fns:
                vals[i] = fn(vals[i])
            tup = self._rebuild(raw, t0, t1, spans, vals)
            if kept:
                pieces.append(sep)
            pieces.append(tup)
            kept += 1
        tstats.rows_written += kept
        if kept == 0:
            return  # every row was cut: the statement disappears
        pieces.append(raw[ins.tail_start:])
        out.write(b"".join(pieces))

    @staticmethod
    def _splice_fast(raw, spans, plan, tstats, out, nrows: int) -> None:
        """Write the statement (nrows tuples) with the masked literals replaced (everything
        else byte for byte); spans = flat (start, end) pairs of the masked fields, row by row
        in plan order."""
        tstats.rows_read += nrows
        tstats.rows_written += nrows
        if not plan:
            out.write(raw)
            return
        if len(raw) > HUGE_FIELD and has_huge_span(spans):   # a very long value: decoded in place, not copied
            repl, counts = mask_spans_huge(raw, spans, plan, _huge_sql_field, NULL_LIT)
        else:
            repl, counts = span_masker(len(plan))(raw, spans, [p.fn.cache for p in plan], [p.fn.miss for p in plan],
                                                  UNCHANGED, NULL_LIT)
        for j, p in enumerate(plan):
            p.stats.changed += counts[2 * j]
            p.stats.nulls += counts[2 * j + 1]
        out.write(splice(raw, spans, repl))

    @staticmethod
    def _rebuild(raw, t0, t1, spans, vals) -> bytes:
        out = []
        pos = t0
        items = vals.items() if isinstance(vals, dict) else enumerate(vals)
        for i, v in items:
            s, e = spans[i]
            out.append(raw[pos:s])
            out.append(v)
            pos = e
        out.append(raw[pos:t1])
        return b"".join(out)

    def iter_blocks(self, lines: LineReader, want=None):
        """Every INSERT of a dump as a Block (rows undecoded); CREATE TABLE and USE learnt on the way."""
        from dumpmask.dialects.base import Block, tuple_lines

        eng = self.engine
        for st in split_statements(fast_lines(lines.stream), eng.source):
            if st.kind == "create_table":
                self.learn(st)
                continue
            if st.kind == "other" and _USE_RE.match(st.raw):
                self.learn(st)
                continue
            if st.kind != "insert":
                continue
            name = _insert_table(st.raw)
            if name is None:
                continue
            key = self.table_key(name)
            if want is not None and not want(key):
                continue
            ins = parse_insert(st.raw, tuples=True, line=st.line, source=eng.source)
            if ins.values_start < 0:
                continue
            ts = eng.table_state(key)
            try:
                columns = _with_generated(ts, ins, eng.data_columns(ts, ins.columns, st.line))
            except DumpSyntaxError:
                continue
            raw = st.raw
            items, lineno = tuple_lines(raw, ins.tuples, st.line)
            yield Block("insert", ts.key, columns, items, lambda it, raw=raw: [raw[s:e] for s, e in it[2]], _decoded,
                        lambda it, raw=raw: raw[it[0]:it[1]], lineno)

    def iter_rows(self, lines: LineReader, want=None):
        """Every data row of a dump, decoded: yields (table_key, columns, values, line)."""
        from dumpmask.dialects.base import rows_of

        return rows_of(self.iter_blocks(lines, want))


def _with_generated(ts, ins, columns: list[str]) -> list[str]:
    """mariadb-dump writes the values of generated columns too (the server ignores them), and
    a hand-written dump may put DEFAULT there: without a column list, a tuple as long as ALL the
    table's columns lists them all, generated ones included."""
    if ins.columns is None and ts.schema is not None and ins.tuples:
        allc = [c.name for c in ts.schema.columns]
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
