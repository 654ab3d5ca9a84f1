"""The hot parts of `dumpmask verify`: a keyed 64-bit hash, a blocked Bloom filter held in a
bytearray, and the token probe of a row's raw bytes, in C (dumpmask._speedups) with these
pure-Python twins (tests/test_speedups.py holds them to the same results).

vhash(data, seed) -> int
    h = seed ^ (len * P1); per 8-byte little-endian word w (the last one zero-padded)
    h = rotl64((h ^ (w * P3)) * P2, 29); then the murmur3 64-bit finaliser. Not cryptographic:
    a per-run random seed keeps values from being recognised across runs; nothing hashed
    leaves the process.
bloom_add(bits, h) -> bool (True: h was new) / bloom_has(bits, h) -> bool
    `bits` is a bytearray of 64-byte blocks; h sets 6 bits of block (h >> 32) % nblocks, at
    (lo + i * (((h >> 16) & 0xffffffff) | 1)) & 511 (lo = h & 0xffffffff, i = 0..5): one
    cache line per probe.
probe_tokens(raw, seed, target) -> True | False | list[bytes]
    raw split into chunks (maximal runs of ASCII letters, digits and bytes >= 0x80; ASCII upper
    case folded to lower, as verify's byte translation does): True when an all-ASCII chunk
    hashes into target (a set of ints, or a Bloom filter bytearray); else the chunks holding
    bytes >= 0x80 (verify tokenises those as text), False when there are none.

HASH is the hash verify uses: the C vhash, or (DUMPMASK_PURE=1, no extension) xxhash's
xxh3_64 (fast without C too; a run never mixes the two, so what verify finds is the same).
"""
from __future__ import annotations


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


c_vhash = c_bloom_add = c_bloom_has = c_probe_tokens = None
if speedups.function("probe_tokens") is not None:   # (an extension built before the verify section: the twins)
    c_vhash, c_bloom_add, c_bloom_has, c_probe_tokens = (speedups.function(name) for name in
                                                         ("vhash", "bloom_add", "bloom_has", "probe_tokens"))

HASH = c_vhash or xxhash.xxh3_64_intdigest
bloom_add = c_bloom_add or py_bloom_add
bloom_has = c_bloom_has or py_bloom_has
probe_tokens = c_probe_tokens   # None: verify tokenises in Python (with HASH = xxh3_64)
