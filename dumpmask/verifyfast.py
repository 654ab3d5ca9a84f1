"""The hot parts of `dumpmask verify`: a keyed 64-bit hash, a blocked Bloom filter held in a
bytearray, and the token probe of a row's raw bytes, in C (dumpmask._speedups) with these
pure-Python twins (tests/test_speedups.py holds them to the same results).

vhash(data, seed) -> int
    h = seed ^ (len * P1); per 8-byte little-endian word w (the last one zero-padded)
    h = rotl64((h ^ (w * P3)) * P2, 29); then the murmur3 64-bit finaliser. Not cryptographic:
    a per-run random seed keeps values from being recognised across runs; nothing hashed
    leaves the process.
bloom_add(bits, h) -> bool (True: h was new) / bloom_has(bits, h) -> bool / bloom_add_all(bits, hashes)
    `bits` is a bytearray of 64-byte blocks; h sets 6 bits of block (h >> 32) % nblocks, at
    (lo + i * (((h >> 16) & 0xffffffff) | 1)) & 511 (lo = h & 0xffffffff, i = 0..5): one
    cache line per probe.
probe_tokens(raw, seed, target) -> True | False | list[bytes]
    raw split into chunks (maximal runs of ASCII letters, digits and bytes >= 0x80; ASCII upper
    case folded to lower, as verify's byte translation does): True when an all-ASCII chunk
    hashes into target (a set of ints, or a Bloom filter bytearray); else the chunks holding
    bytes >= 0x80 (verify tokenises those as text), False when there are none.
vtokens(data) -> list[bytes]
    The tokens of UTF-8 text (invalid bytes separate, as surrogateescape decodes them): the runs
    of letters and digits (str.isalnum), each case-folded, as UTF-8.
learn_piece / search_piece / confirm_piece
    Passes 1-3 of verify over one piece of a dump (a COPY chunk, a MySQL VALUES list, or a list
    of rows), row by row (the VERIFY part of _speedups.c says what each takes and returns).

HASH is the hash verify uses: the C vhash, or (DUMPMASK_PURE=1, no extension) xxhash's
xxh3_64 (fast without C too; a run never mixes the two, so what verify finds is the same).
"""
from __future__ import annotations

import re
from array import array

import xxhash
from dumpmask import speedups

_M = (1 << 64) - 1
P1, P2, P3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9


def py_vhash(data: bytes, seed: int) -> int:
    data = bytes(data)
    n = len(data)
    h = (seed ^ (n * P1)) & _M
    for i in range(0, n, 8):
        w = int.from_bytes(data[i:i + 8], "little")
        h = (((h ^ ((w * P3) & _M)) * P2) & _M)
        h = ((h << 29) | (h >> 35)) & _M
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M
    h ^= h >> 33
    return h


def _check(bits) -> None:
    if len(bits) < 64 or len(bits) % 64:
        raise ValueError("bloom: the filter must be a multiple of 64 bytes (at least 64)")


def _positions(nbytes: int, h: int):
    base = 64 * ((h >> 32) % (nbytes // 64))
    lo, step = h & 0xFFFFFFFF, ((h >> 16) & 0xFFFFFFFF) | 1
    for i in range(6):
        p = (lo + i * step) & 511
        yield base + (p >> 3), 1 << (p & 7)


def py_bloom_add(bits: bytearray, h: int) -> bool:
    _check(bits)
    new = False
    for at, m in _positions(len(bits), h):
        if not bits[at] & m:
            bits[at] |= m
            new = True
    return new


def py_bloom_add_all(bits: bytearray, hashes) -> int:
    if memoryview(hashes).nbytes % 8:
        raise ValueError("bloom_add_all: hashes must be 8-byte integers")
    return sum(py_bloom_add(bits, h) for h in memoryview(hashes).cast("B").cast("Q"))


def py_bloom_has(bits, h: int) -> bool:
    _check(bits)
    return all(bits[at] & m for at, m in _positions(len(bits), h))


_TRANS = bytes((c + 32 if 65 <= c <= 90 else c) if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c >= 128)
               else 32 for c in range(256))


def py_probe_tokens(raw: bytes, seed: int, target):
    is_set = isinstance(target, (set, frozenset))
    if not is_set:
        _check(target)
    rest = []
    for t in bytes(raw).translate(_TRANS).split():
        if not t.isascii():
            rest.append(t)
            continue
        h = py_vhash(t, seed)
        if (h in target) if is_set else py_bloom_has(target, h):
            return True
    return rest or False


MAX_TOKENS = 8
_TOKEN_RE = re.compile(r"[^\W_]+")


def tokens_of(v: str) -> list:
    """The tokens of a str (verify.tokens) as UTF-8 bytes."""
    return [t.casefold().encode("utf-8", "surrogatepass") for t in _TOKEN_RE.findall(v)]


def py_vtokens(data: bytes) -> list:
    return tokens_of(bytes(data).decode("utf-8", "surrogateescape"))


def _piece_rows(layout: int, data, start: int, ncols: int, line0: int):
    """[(line, [(raw field, start, end)])] of a piece (see the C part), or None."""
    if layout == 2:
        return [(line, [(f, -1, -1) for f in fields]) for line, fields in data]
    data = bytes(data)
    rows = []
    if layout == 0:
        segments = data.split(b"\n")
        last_ended = segments[-1] == b""
        if last_ended:
            segments.pop()
        pos = 0
        for k, seg in enumerate(segments):
            end = pos + len(seg)
            if k < len(segments) - 1 or last_ended:
                seg = seg.rstrip(b"\r")
            fields, p = [], pos
            for f in seg.split(b"\t"):
                fields.append((f, p, p + len(f)))
                p += len(f) + 1
            rows.append((line0 + k + 1, fields))
            pos = end + 1
        return rows
    if layout != 1:
        raise ValueError("layout must be 0 (COPY), 1 (MySQL VALUES) or 2 (rows)")
    from dumpmask.dialects.fast import py_tuple_spans

    spans = py_tuple_spans(data, start, ncols, tuple(range(ncols))) if ncols >= 1 else None
    if spans is None:
        return None
    counted, line = 0, line0
    for r in range(0, len(spans), 2 * ncols):
        paren = spans[r] - 1
        line += data.count(b"\n", counted, paren)
        counted = paren
        rows.append((line, [(data[s:e], s, e) for s, e in zip(spans[r:r + 2 * ncols:2], spans[r + 1:r + 2 * ncols:2], strict=True)]))
    return rows


def _has(target, h: int) -> bool:
    bloom, exact = target
    if bloom is not None and not py_bloom_has(bloom, h):
        return False
    return exact is None or h in exact


def _row_hash(hsh, table: bytes, ordinal: int, run: bytes, seed: int) -> int:
    return hsh(b"%s\x00%d\x00%s" % (bytes(table), ordinal, run), seed)


def py_learn_piece(layout, data, start, ncols, line0, decode, idx, seed, table, ordinal0, kept=None, hsh=None):
    hsh = hsh or py_vhash
    rows = _piece_rows(layout, data, start, ncols, line0)
    if rows is None:
        return None
    at = {i for i in idx if 0 <= i < 65536}
    out, seen, lengths, nvalues = (array("Q"), array("Q"), array("Q")), ([0] * 1024, [0] * 1024), 0, 0
    kept = None if kept is None else bytes(kept)
    ordinal = ordinal0
    for k, (_line, fields) in enumerate(rows):
        present = True
        if kept is None:
            ordinal = ordinal0 + k + 1
        else:
            present = k < len(kept) and kept[k] != 0
            ordinal += present
        for f, (raw, _fs, _fe) in enumerate(fields):
            if f not in at:
                continue
            v = decode(raw)
            toks = tokens_of(v)[:MAX_TOKENS] if v is not None else None
            if not toks:
                continue
            lengths |= 1 << len(toks)
            run = b" ".join(toks)
            for j, h in enumerate((hsh(run, seed), hsh(toks[0], seed))):
                if seen[j][h % 1024] != h or h == 0:   # (a run of the same hash in its slot: written once)
                    seen[j][h % 1024] = h
                    out[j].append(h)
            if present:
                out[2].append(_row_hash(hsh, table, ordinal, run, seed))
            nvalues += 1
    return (len(rows), *(a.tobytes() for a in out), lengths, nvalues)


def py_search_piece(layout, data, start, ncols, line0, decode, seed, first, values, lengths, row_values, idx, table,
                    ordinal0, hsh=None):
    hsh = hsh or py_vhash
    lengths = tuple(lengths)
    if any(not 1 <= n <= MAX_TOKENS for n in lengths) or list(lengths) != sorted(set(lengths)):
        raise ValueError("lengths must ascend within 1..8")
    rows = _piece_rows(layout, data, start, ncols, line0)
    if rows is None:
        return None
    at = {i for i in idx if 0 <= i < 65536}
    hits = []
    for k, (line, fields) in enumerate(rows):
        for f, (raw, fs, fe) in enumerate(fields):
            v = decode(raw)
            if v is None:
                continue
            toks = tokens_of(v)
            for i, t in enumerate(toks):
                if not _has(first, hsh(t, seed)):
                    continue
                for n in lengths:
                    if i + n > len(toks):
                        break
                    run = b" ".join(toks[i:i + n])
                    h = hsh(run, seed)
                    if not _has(values, h):
                        continue
                    own = int(f in at and _has(row_values, _row_hash(hsh, table, ordinal0 + k + 1, run, seed)))
                    hits.append((k, f, line, fs, fe, i, n, h, own))
    return len(rows), hits


def py_confirm_piece(layout, data, start, ncols, line0, decode, seed, candidates, idx, hsh=None):
    hsh = hsh or py_vhash
    rows = _piece_rows(layout, data, start, ncols, line0)
    if rows is None:
        return None
    at = {i for i in idx if 0 <= i < 65536}
    hits = []
    for k, (_line, fields) in enumerate(rows):
        for f, (raw, fs, fe) in enumerate(fields):
            v = decode(raw)
            toks = tokens_of(v) if v is not None else None
            if not toks:
                continue
            if f in at:
                h = hsh(b" ".join(toks[:MAX_TOKENS]), seed)
                if _has(candidates, h):
                    hits.append((k, f, fs, fe, h, 1))
                continue
            for t in toks:
                h = hsh(t, seed)
                if _has(candidates, h):
                    hits.append((k, f, fs, fe, h, 0))
    return len(rows), hits


c_vhash = c_bloom_add = c_bloom_has = c_probe_tokens = None
if speedups.function("probe_tokens") is not None:   # (an extension built before the verify section: the twins)
    c_vhash, c_bloom_add, c_bloom_has, c_probe_tokens = (speedups.function(name) for name in
                                                         ("vhash", "bloom_add", "bloom_has", "probe_tokens"))

HASH = c_vhash or xxhash.xxh3_64_intdigest
bloom_add = c_bloom_add or py_bloom_add
bloom_has = c_bloom_has or py_bloom_has
bloom_add_all = speedups.function("bloom_add_all") or py_bloom_add_all
probe_tokens = c_probe_tokens   # None: verify tokenises in Python (with HASH = xxh3_64)

# the passes: C, or the twins with HASH (xxh3_64 when pure: the same findings, faster than py_vhash)
if speedups.function("confirm_piece") is not None:
    vtokens, learn_piece, search_piece, confirm_piece = (speedups.function(name) for name in
                                                         ("vtokens", "learn_piece", "search_piece", "confirm_piece"))
else:
    from functools import partial

    vtokens = py_vtokens
    learn_piece, search_piece, confirm_piece = (partial(f, hsh=HASH) for f in (py_learn_piece, py_search_piece,
                                                                                 py_confirm_piece))
