"""What every dialect provides: split a byte stream into statements, parse the few statements
that carry data or schema, and decode/encode one value. Behaviour lives in small tables and
hooks on the dialect classes, not in `if dialect == ...` branches in the engine."""
from __future__ import annotations

import operator

import io
from dataclasses import dataclass, field

from dumpmask.lazy import lazy_pattern

#: MySQL's double-quoted string (backslash escapes, doubled quotes) and backquoted name as
#: pattern sources: mysql_lex's, and dialects.fast's INSERT body (here so that fast does not
#: import mysql_lex, which a PostgreSQL run does not need)
MY_DQ = rb'"[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+"'
MY_BT = rb"`[^`]*+(?:``[^`]*+)*+`"


@dataclass(slots=True)
class Stmt:
    """One statement (or a run of comments / blank lines) exactly as it was in the input: the
    lexer's event for everything that is not table data."""

    event = "statement"     # (a class attribute: data events are "copy" and "insert")
    raw: bytes
    line: int           # 1-based line where it starts
    kind: str           # blank, meta, create_table, alter_table, copy, insert, setval, ..., other


@dataclass
class InsertStmt:
    """A parsed INSERT: where its parts are inside `raw`, so untouched parts stay byte for byte."""

    raw: bytes
    table: tuple[str | None, str]        # (schema or None, name), names already normalised
    columns: list[str] | None            # the statement's column list, if any
    values_start: int                    # offset of the first "("
    tuples: list[tuple[int, int, list[tuple[int, int]]]] = field(default_factory=list)
    tail_start: int = 0                  # offset after the last tuple: ";\n", "ON DUPLICATE ..."


UNCHANGED = object()   # a cached result meaning "write the field as it was, byte for byte"


class FieldFns:
    """How one masked column is applied to raw fields of one dialect: `copy` / `sql` are
    raw -> raw functions that also count into the audit; `cache` and `miss` are the raw-field
    memo and the function that fills it, for loops that inline the lookup; `plain` the
    transformer's plain-field function that `miss` tries first (None: it has none), for loops
    that run it in C (work.py's block functions)."""

    __slots__ = ("copy", "sql", "cache", "miss", "plain")

    def __init__(self, copy=None, sql=None, cache=None, miss=None, plain=None):
        self.copy, self.sql, self.cache, self.miss, self.plain = copy, sql, cache, miss, plain


MEMO_MAX_FIELD = 1 << 16   # longer fields are not memoised: a repeat is unlikely, the memory is not


def remember(cache: dict, raw: bytes, result, cache_max: int):
    """Store a computed field in a bounded memo (cleared when full) and return it."""
    if len(raw) > MEMO_MAX_FIELD:
        return result
    if len(cache) >= cache_max:
        cache.clear()
    cache[raw] = result
    return result


def _field_lines(j: int, fetch: str, store: str) -> list[str]:
    """Generated source for masked field j of a row: look `fetch` up in memo j (miss j on a
    miss), count changed values and NULLs written, then `store` the result."""
    return [f"        r = {fetch}; v = g{j}(r)",
            f"        if v is None: v = m{j}(r)",
            "        if v is UNCHANGED:",
            f"            if r == NULL: z{j} += 1",
            "        else:",
            f"            c{j} += 1",
            f"            if v is NULL: z{j} += 1",
            f"        {store}"]


def _compile_masker(head: str, k: int, loop: list[str], body: list[str], result: str):
    src = [head, "    out = []", "    append = out.append"]
    src += [f"    g{j} = caches[{j}].get; m{j} = misses[{j}]; c{j} = z{j} = 0" for j in range(k)]
    counts = "(" + "".join(f"c{j}, z{j}, " for j in range(k)) + ")"
    src += loop + body + [f"    return {result.format(counts=counts)}"]
    ns: dict = {}
    exec("\n".join(src), ns)  # noqa: S102 - generated from integers only
    return ns["mask"]


_ROW_MASKERS: dict = {}


def row_masker(ncols: int, idxs: tuple):
    """A loop over rows of `ncols` tab-separated fields (no line breaks) that masks the fields
    at `idxs` through their memos, generated once per table shape so that it runs with every
    lookup in a local variable (about half the time of a generic loop over the plan):

        mask(rows, caches, misses, UNCHANGED, NULL) -> (out_rows, bad_row_index, counts)

    counts[2k], counts[2k+1] = changed values and NULLs written for idxs[k]; bad_row_index is
    the index of the first row with a wrong field count (-1 if none; rows before it are done)."""
    key = (ncols, idxs)
    fn = _ROW_MASKERS.get(key)
    if fn is None:
        idxs = [int(i) for i in idxs]
        loop = ["    bad = -1",
                "    for line in rows:",
                "        f = line.split(b'\\t')",
                f"        if len(f) != {int(ncols)}:",
                "            bad = len(out)",
                "            break"]
        body = [x for j, i in enumerate(idxs) for x in _field_lines(j, f"f[{i}]", f"if v is not UNCHANGED: f[{i}] = v")]
        body.append("        append(b'\\t'.join(f))")
        fn = _ROW_MASKERS[key] = _compile_masker("def mask(rows, caches, misses, UNCHANGED, NULL):", len(idxs),
                                                 loop, body, "out, bad, {counts}")
    return fn


_SPAN_MASKERS: dict = {}


def span_masker(k: int, skip: frozenset = frozenset()):
    """Like row_masker, for fields found by their offsets in a statement (MySQL INSERT tuples):

        mask(raw, spans, caches, misses, UNCHANGED, NULL) -> (replacements, counts)

    spans = flat (start, end) pairs, k fields per row; replacements[i] is the new literal of
    field i or UNCHANGED (splice() keeps those bytes). Fields j in `skip` are left UNCHANGED
    and not counted (the caller fills them in: work.py's key columns)."""
    fn = _SPAN_MASKERS.get((k, skip))
    if fn is None:
        k = int(k)
        skip = frozenset(int(j) for j in skip)
        names = ", ".join(f"s{j}, e{j}" for j in range(k))
        loop = ["    it = iter(spans)", f"    for {names} in zip(" + ", ".join(["it"] * (2 * k)) + "):"]
        body = [x for j in range(k)
                for x in (["        append(UNCHANGED)"] if j in skip else _field_lines(j, f"raw[s{j}:e{j}]", "append(v)"))]
        fn = _SPAN_MASKERS[(k, skip)] = _compile_masker("def mask(raw, spans, caches, misses, UNCHANGED, NULL):", k,
                                                loop, body, "out, {counts}")
    return fn


HUGE_FIELD = 1 << 20   # a field this long is decoded in place (no copy of its raw bytes)


def has_huge_span(spans) -> bool:
    """True when one of the flat (start, end) pairs is longer than HUGE_FIELD (a statement or
    block over HUGE_FIELD usually holds many ordinary rows: only a long field needs the slow,
    copy-free path)."""
    return any(map(HUGE_FIELD.__lt__, map(operator.sub, spans[1::2], spans[0::2])))


def mask_spans_huge(data: bytes, spans, plan, huge, null):
    """span_masker's work for data holding a very long field: the same replacements and
    counts, but a field longer than HUGE_FIELD goes to huge(plan_entry, data, s, e) (-> the
    new field, UNCHANGED, or None when it cannot tell: then as usual), which decodes it from
    `data` without a copy of its bytes. Peak memory: data + the decoded value."""
    k = len(plan)
    caches = [p.fn.cache for p in plan]
    misses = [p.fn.miss for p in plan]
    counts = [0] * (2 * k)
    repl = []
    append = repl.append
    for n in range(0, len(spans), 2):
        j = (n >> 1) % k
        s, e = spans[n], spans[n + 1]
        r = huge(plan[j], data, s, e) if e - s > HUGE_FIELD else None
        if r is None:
            raw = data[s:e]
            r = caches[j].get(raw)
            if r is None:
                r = misses[j](raw)
            if r is UNCHANGED and raw == null:
                counts[2 * j + 1] += 1
            raw = None
        if r is not UNCHANGED:
            counts[2 * j] += 1
            if r is null:
                counts[2 * j + 1] += 1
        append(r)
    return repl, tuple(counts)


def counting(cache: dict, miss, null, stats):
    """A raw -> raw field function over a memo: UNCHANGED keeps the original bytes; counts
    changed values and NULLs written into the column's audit stats. `null` is the dialect's
    NULL field (bytes) or a predicate on a field."""
    is_null = null if callable(null) else null.__eq__

    def fn(raw: bytes) -> bytes:
        r = cache.get(raw)
        if r is None:
            r = miss(raw)
        if r is UNCHANGED:
            if is_null(raw):
                stats.nulls += 1
            return raw
        stats.changed += 1
        if is_null(r):
            stats.nulls += 1
        return r
    return fn


@dataclass(slots=True)
class Block:
    """The rows of one data statement (a COPY block, an INSERT), undecoded: `items` iterates
    them, fields(item) gives a row's raw fields, decode(raw field) -> str | None, text(item)
    the row as written (or None), lineno() the line reported for it."""

    kind: str            # "copy" or "insert"
    key: tuple
    columns: list
    items: object
    fields: object
    decode: object
    text: object
    lineno: object


def counted_lines(rows, last_line: int):
    """COPY rows and a lineno() giving the line of the row last yielded (the header ends at
    `last_line`): (items, lineno)."""
    cur = [last_line]

    def items():
        n = last_line
        for row in rows:
            n += 1
            cur[0] = n
            yield row
    return items(), lambda: cur[0]


def tuple_lines(raw: bytes, tuples, first_line: int):
    """The tuples of an INSERT that starts on `first_line` and a lineno() giving the line where
    the tuple last yielded begins (multi-line INSERTs: one tuple a line): (items, lineno)."""
    cur = [first_line]

    def items():
        pos, line = 0, first_line
        for it in tuples:
            line += raw.count(b"\n", pos, it[0])
            pos = it[0]
            cur[0] = line
            yield it
    return items(), lambda: cur[0]


def rows_of(blocks):
    """Decoded rows from blocks: (table key, columns, values, line)."""
    for b in blocks:
        fields, decode, lineno = b.fields, b.decode, b.lineno
        for it in b.items:
            yield b.key, b.columns, [decode(f) for f in fields(it)], lineno()


def statement_guard(stream):
    """What bounds a statement gathered over many lines, or None: the object under a reader's
    stream (itself, or the raw stream of an io.BufferedReader over it) with `statement_limit`
    (bytes) and `statement_too_long(line, head, size, source)`, which raises (--max-memory:
    memory.LineLimit). Duck-typed: a dialect knows nothing of the run's budget."""
    for s in (stream, getattr(stream, "raw", None)):
        if s is not None and hasattr(s, "statement_too_long"):
            return s
    return None


class LineReader:
    """Iterates the lines of a binary stream and counts them (for file:line errors). Tight loops
    may read blocks from `stream` directly and hand back what they read too far (`unread`)."""

    __slots__ = ("_it", "stream", "lineno", "source", "_pending")

    def __init__(self, stream, source: str = "<stdin>"):
        self.stream = stream
        self._it = iter(stream)
        self.lineno = 0
        self.source = source
        self._pending = None

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        if self._pending is not None:
            line = next(self._pending, None)
            if line is not None:
                self.lineno += 1
                return line
            self._pending = None
        line = next(self._it)
        self.lineno += 1
        return line

    def unread(self, data: bytes) -> None:
        """Give back bytes read past a point (they are served again, line by line)."""
        if not data:
            return
        if self._pending is not None:
            raise RuntimeError("unread() twice")
        self._pending = self._join(data)

    def _join(self, data: bytes):
        last = None
        for line in io.BytesIO(data):
            if line.endswith(b"\n"):
                yield line
            else:
                last = line
        if last is not None:
            yield last + self.stream.readline()

    def raw_lines(self):
        """An iterator of lines for tight loops that count lines themselves (they must add what
        they consumed to self.lineno)."""
        return self if self._pending is not None else self._it

    @property
    def has_pending(self) -> bool:
        return self._pending is not None


FIRST_WORDS = lazy_pattern(globals(), "FIRST_WORDS", rb"\s*([A-Za-z_]+)(?:\s+([A-Za-z_]+))?(?:\s+([A-Za-z_]+))?")


def statement_kind_words(raw: bytes) -> tuple[str, ...]:
    m = FIRST_WORDS.match(raw)
    if not m:
        return ()
    return tuple(w.decode().upper() for w in m.groups() if w)
