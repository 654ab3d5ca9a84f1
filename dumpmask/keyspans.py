"""Integer key fields of a block, remapped (or kept) without a Python call per value.

    key_spans(data, spans, k, j, repl, segments, cache, miss, unchanged, null) -> (changed, nulls, max)

Field j of every k fields of the flat (start, end) `spans` of `data` (work.py's span loop
layout: k masked fields per row). A field of 1-18 ASCII digits whose value lies in a usable
segment of `segments` is remapped there: repl[n*k+j] = the new value's digits, counted as
changed; `segments` None means the column is kept (repl UNCHANGED). Every other field (NULL,
a quoted or signed value, a value outside every usable segment, where the Python function
raises the located error) goes through `cache.get(raw)` or `miss(raw)` and is counted the way
the generated span loop counts (UNCHANGED and raw == null: a NULL; `r is null`: a NULL
written). `max` is the largest value computed here (-1 if none); the caller merges it into
what the column observed.

A segment is (a, b, add, wb, tables): x in [a, b] -> encrypt(x - a) + a + add, encrypt being
remap._Feistel's permutation of [0, b - a] by its 8 filled round tables (wb bits in the low
half; cycle-walking); tables () is the identity (a one-value domain), None not usable here.
remap.Remapper.key_segments() gives them. The C version (dumpmask._speedups.key_spans) and
this pure-Python twin give the same results (tests/test_speedups.py).
"""
from __future__ import annotations

from dumpmask import speedups

_LIMIT = 1 << 62


def _feistel(v: int, wb: int, tables):
    """One pass of remap._Feistel._enc_full (None when a round value is missing)."""
    hi, lo = v >> wb, v & ((1 << wb) - 1)
    for t in tables:
        if lo >= len(t) or t[lo] < 0:
            return None
        hi, lo = lo, hi ^ t[lo]
    return (hi << wb) | lo


def _map(segments, x: int):
    for a, b, add, wb, tables in segments:
        if x < a or x > b:
            continue
        if tables is None or a < 0 or b > _LIMIT or add > _LIMIT or add < -_LIMIT:
            return None
        if tables == ():
            return x + add if a == b and x + add >= 0 else None
        n = b - a + 1
        y = _feistel(x - a, wb, tables)
        while y is not None and y >= n:
            y = _feistel(y, wb, tables)
        if y is None:
            return None
        y += a + add
        return y if y >= 0 else None
    return None


def py_key_spans(data: bytes, spans, k: int, j: int, repl: list, segments, cache: dict, miss, unchanged, null):
    if k < 1 or not 0 <= j < k or len(spans) % (2 * k) or len(repl) != len(spans) // 2:
        raise ValueError("key_spans: spans, k, j and repl do not agree")
    changed = nulls = 0
    top = -1
    for at in range(j, len(spans) // 2, k):
        s, e = spans[2 * at], spans[2 * at + 1]
        if not 0 <= s <= e <= len(data):
            raise ValueError("key_spans: a span is outside the data")
        raw = data[s:e]
        r = None
        if 1 <= len(raw) <= 18 and raw.isdigit():
            if segments is None:
                r = unchanged
            else:
                y = _map(segments, int(raw))
                if y is not None:
                    r = b"%d" % y
                    changed += 1
                    top = max(top, y)
        if r is None:
            r = cache.get(raw)
            if r is None:
                r = miss(raw)
            if r is unchanged:
                if raw == null:
                    nulls += 1
            else:
                changed += 1
                if r is null:
                    nulls += 1
        repl[at] = r
    return changed, nulls, top


c_key_spans = speedups.function("key_spans")
key_spans = c_key_spans or py_key_spans
