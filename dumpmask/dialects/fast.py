"""Hot scanners for mysqldump INSERT statements and PostgreSQL COPY data, in C when the optional
extension dumpmask._speedups was built, else in pure Python (regexes). Both give identical results
(tests/test_speedups.py compares them on random and realistic input).

Public API
----------
body_end(data, pos)                      -> int
    End of an INSERT body starting at pos: plain bytes, complete '..' ".." `..` strings and
    identifiers, '/' not before '*', '-' not before '-'. Stops at ';', '#', '/*', '--' or at
    the opening quote of a string/identifier not closed before the end; len(data) at the end.
tuple_spans(data, start, ncols, idxs)    -> list[int] | None
    For every tuple of the VALUES list at data[start] (mysqldump's plain shape: no whitespace
    inside a tuple except within a field, tuples separated by "," + spaces/newlines, then ';'
    or ON ...): start and end offsets of each field whose column index is in idxs, in
    ascending column order, all in one flat list. None when the list is not in that shape.
splice(data, spans, repl)                -> bytes
    data with data[s_i:e_i] replaced by repl[i] when repl[i] is bytes (anything else keeps
    the original bytes); spans = [s0, e0, s1, e1, ...] ordered, non-overlapping, within data.
copy_spans(data, ncols, idxs)            -> list[int] | int
    PostgreSQL COPY text data: lines ending in b"\n" (a last piece without one is a line too),
    fields split on b"\t" (like line.split(b"\t")). Start and end offsets of each field whose
    column index is in idxs, line by line in ascending column order, in one flat list; or the
    0-based index of the first line without exactly ncols fields. ncols >= 1 (else ValueError).
ACCELERATED                              -> bool: the C versions are in use.

DUMPMASK_PURE=1 in the environment at import time turns the C module off (it is then not even
imported). py_* are always the pure-Python versions; c_* are the C ones or None.
"""
from __future__ import annotations

import re
from functools import lru_cache
from itertools import chain
from operator import attrgetter, itemgetter
from operator import index as _index

from dumpmask.dialects.base import MY_BT as _BT, MY_DQ as _DQ
from dumpmask import speedups
from dumpmask.lazy import lazy_pattern

__all__ = ["ACCELERATED", "body_end", "tuple_spans", "splice", "copy_spans",
           "py_body_end", "py_tuple_spans", "py_splice", "py_copy_spans",
           "c_body_end", "c_tuple_spans", "c_splice", "c_copy_spans"]


# --------------------------------------------------------------------------------------------
# Pure Python (the reference semantics; the C code must match these exactly)
# --------------------------------------------------------------------------------------------

# an INSERT body without comments: strings, identifiers and plain text up to the first ';'
_PLAIN = rb"[^'\"`;/#\-]*+"
_SQ_UNROLLED = rb"'[^'\\]*+(?:\\.[^'\\]*+)*+'"   # '' (a doubled quote) is read as two adjacent strings
_INSERT_BODY = lazy_pattern(globals(), "_INSERT_BODY", _PLAIN + rb"(?:(?:" + _SQ_UNROLLED + rb"|" + _DQ + rb"|" + _BT
                          + rb"|/(?!\*)|-(?!-))" + _PLAIN + rb")*+", re.S)

# one field of a tuple as mysqldump writes it: text and strings, no parenthesis or comma outside
# a string (numbers, NULL, 'strings' with backslash escapes, _binary '..', 0x.., b'..', X'..')
_FIELD = (rb"[^,()'\s][^,()']*+(?:'[^'\\]*+(?:\\.[^'\\]*+)*+'[^,()']*+)*+"
          rb"|'[^'\\]*+(?:\\.[^'\\]*+)*+'(?:[^,()'\s][^,()']*+|'[^'\\]*+(?:\\.[^'\\]*+)*+')*+")
_SEP = lazy_pattern(globals(), "_SEP", rb",[ \t\r\n]*+")
_TUPLE_CACHE: dict = {}


def py_body_end(data: bytes, pos: int) -> int:
    return _INSERT_BODY.match(data, pos).end()


def _tuple_re(ncols: int, idxs: tuple) -> re.Pattern:
    r = _TUPLE_CACHE.get((ncols, idxs))
    if r is None:
        parts = [(b"(" + _FIELD + b")") if i in idxs else (b"(?:" + _FIELD + b")") for i in range(ncols)]
        r = _TUPLE_CACHE[(ncols, idxs)] = re.compile(rb"\(" + b",".join(parts) + rb"\)", re.S)
    return r


def py_tuple_spans(data: bytes, start: int, ncols: int, idxs) -> list[int] | None:
    # idxs as a sorted set of the indexes that name a column: the same regex (and cache entry)
    # for every spelling of the same set
    ncols = _index(ncols)
    idxs = tuple(sorted({i for i in map(_index, idxs) if 0 <= i < ncols}))
    rx = _tuple_re(ncols, idxs)
    match = rx.match
    sep = _SEP.match
    out: list[int] = []
    extend = out.extend
    pos = start
    while True:
        m = match(data, pos)
        if m is None:
            return None
        for se in m.regs[1:]:
            extend(se)
        pos = m.end()
        s = sep(data, pos)
        if s is None:
            break
        pos = s.end()
    rest = data[pos:pos + 64].lstrip()
    if not rest.startswith(b";") and not rest[:2].upper() == b"ON":
        return None
    return out


def py_splice(data: bytes, spans, repl) -> bytes:
    n = len(data)
    k = len(repl)
    if len(spans) % 2 or k != len(spans) // 2:
        raise ValueError(f"splice: {len(spans)} span offsets for {k} replacements")
    pieces = []
    append = pieces.append
    prev = 0
    for i in range(k):
        s = spans[2 * i]
        e = spans[2 * i + 1]
        if not isinstance(s, int) or not isinstance(e, int):
            bad = e if isinstance(s, int) else s
            raise TypeError(f"splice: span offsets must be int, not {type(bad).__name__}")
        if not prev <= s <= e <= n:
            raise ValueError(f"splice: span {i} is out of order or outside the data (length {n})")
        r = repl[i]
        append(data[prev:s])
        append(r if isinstance(r, bytes) else data[s:e])
        prev = e
    append(data[prev:])
    return b"".join(pieces)


# COPY text data. The plain reading is: lines = data.split(b"\n") without a final empty piece,
# fields = line.split(b"\t"), the first line with len(fields) != ncols is the answer, else the
# offsets of the wanted fields. Here one multi-line regex per (ncols, idxs) matches exactly the
# lines with ncols fields and captures the wanted ones; when it matched fewer lines than there
# are, a plain loop finds the first bad one.
_regs = attrgetter("regs")
_groups_only = itemgetter(slice(1, None))   # regs[0] is the whole line
_flat = chain.from_iterable


@lru_cache(maxsize=256)
def _copy_line_re(ncols: int, idxs: tuple) -> re.Pattern:
    parts = [rb"([^\t\n]*+)" if i in idxs else rb"[^\t\n]*+" for i in range(ncols)]
    return re.compile(rb"^" + rb"\t".join(parts) + rb"$", re.M)


def _first_bad_line(data, ncols: int) -> int:
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    tabs = ncols - 1
    for n, line in enumerate(lines):
        if line.count(b"\t") != tabs:
            return n
    raise AssertionError("copy_spans: no bad line")   # unreachable: the regex saw one


def py_copy_spans(data, ncols, idxs) -> list[int] | int:
    if not isinstance(data, (bytes, bytearray)):
        data = memoryview(data).tobytes()
    ncols = _index(ncols)
    if ncols < 1:
        raise ValueError(f"copy_spans: ncols must be >= 1, not {ncols}")
    idxs = tuple(sorted({i for i in map(_index, idxs) if 0 <= i < ncols}))
    n = len(data)
    if n == 0:
        return []
    if ncols - 1 > data.count(b"\t"):
        return 0                                # not even the first line has enough fields
    end = n - 1 if data[-1] == 10 else n        # the last line's b"\n" (if any) is not a line
    nlines = data.count(b"\n", 0, end) + 1
    matches = _copy_line_re(ncols, idxs).finditer(data, 0, end)
    if idxs:
        out = list(_flat(_flat(map(_groups_only, map(_regs, matches)))))
        good = len(out) // (2 * len(idxs))
    else:
        out = []
        good = sum(1 for _ in matches)
    if good != nlines:
        return _first_bad_line(data, ncols)
    return out


# --------------------------------------------------------------------------------------------
# C versions (optional)
# --------------------------------------------------------------------------------------------

PURE = speedups.PURE

c_body_end = speedups.function("body_end")
c_tuple_spans = speedups.function("tuple_spans")
c_splice = speedups.function("splice")
c_copy_spans = speedups.function("copy_spans")

ACCELERATED: bool = c_body_end is not None

if ACCELERATED:
    body_end = c_body_end
    tuple_spans = c_tuple_spans
    splice = c_splice
else:
    body_end = py_body_end
    tuple_spans = py_tuple_spans
    splice = py_splice

# chosen on its own: an extension built before copy_spans existed still speeds up the rest
copy_spans = c_copy_spans if c_copy_spans is not None else py_copy_spans
