"""Key remapping: keyed, stateless bijections so every foreign key still joins.

A primary key value and every foreign key value that references it go through the same
permutation (same key, same domain, same range), so they land on the same new value: no mapping
table is kept, nothing is written to disk, and memory stays bounded (a small per-permutation
cache of recent values, because foreign keys repeat a lot).

Three permutations:

* `IntPermutation(key, lo, hi, domain)`: a bijection of the integer range [lo, hi] onto
  itself. Feistel network (8 rounds, unbalanced halves when the bit width is odd) on the
  smallest bit width covering hi - lo + 1, keyed BLAKE2b round function, cycle-walking to stay
  inside the range. Inputs must lie in [lo, hi] as well: pick the range with `default_range`.
* `UuidPermutation(key, domain)`: permutes the 122 bits of a UUID that are neither the version
  nibble nor the two top variant bits, and keeps those 6 bits as they were, so a v4 stays a v4,
  a v7 stays a v7 (its timestamp is scrambled, though), and the map is a bijection on all
  128-bit values. The nil UUID and the max UUID (all ones) map to themselves.
* `TextKeyPermutation(key, domain)`: format-preserving bijection on text keys such as
  `ORD-2024-0001`: digits stay digits, ASCII letters stay letters of the same case, anything
  else (punctuation, spaces, non-ASCII) stays where it is. The string's "shape" is thus
  preserved, and each shape is permuted separately (the shape is part of the PRF input), so the
  map is injective on all strings: two different keys never collide.

Everything here is a pure function of (key, domain, parameters, input); the only state is
bounded caches: a dict of recent input -> output per permutation (cleared when it reaches
CACHE_SIZE entries) and, for integer ranges up to 2**32, lazily filled per-round tables of the
Feistel round function (at most 2 MiB per permutation). Neither changes any result.
"""
from __future__ import annotations

import hashlib
import re
from array import array
from functools import partial

from dumpmask import speedups
from dumpmask.crypto import Key
from dumpmask.errors import DumpmaskError, MaskingError

__all__ = [
    "RemapError",
    "IntPermutation",
    "UuidPermutation",
    "TextKeyPermutation",
    "default_range",
    "birthday_bound",
    "text_shape",
]

ROUNDS = 8  # Feistel rounds (>= 6 needed for a strong PRP on small domains; 8 for margin)
CACHE_SIZE = 1 << 17  # entries per permutation cache; cleared when full (bounded memory)
_MAX_BITS = 1024  # widest domain a Feistel here accepts (halves <= 512 bits = one BLAKE2b digest)
_C_BITS = 64      # widest domain the C Feistel takes (halves <= 32 bits)

# the C Feistel (the KEYS section of _speedups.c): the same values as _Feistel's Python methods,
# which stay as its pure twin (DUMPMASK_PURE=1, or accel=False)
_PRF_STATE = speedups.function("prf_state")
_FEISTEL_NEW = speedups.function("feistel_new")
_FEISTEL_INT = speedups.function("feistel_int")
_FEISTEL_FILL = speedups.function("feistel_fill")
_FEISTEL_FULL = speedups.function("feistel_full")
_KEY_INT_NEW = speedups.function("key_int_new")
_KEY_INT_FIELD = speedups.function("key_int_field")
_KEY_INT_LITERAL = speedups.function("key_int_literal")


class RemapError(DumpmaskError):
    """A key value cannot be remapped (outside the range, malformed UUID, ...)."""


# --------------------------------------------------------------------------- Feistel core


class _Feistel:
    """A keyed permutation of [0, n): Feistel on `bits` bits plus cycle-walking.

    The state x (bits wide) is split into a high part a (wa bits) and a low part b (wb bits).
    Round i: a, b = b, a XOR F_i(b); widths swap every round, so after an even number of rounds
    they are back to (wa, wb). Each F_i is keyed BLAKE2b under its own domain: `base_domain:r<i>`.

    When the halves are at most TABLE_BITS wide (ranges up to 2**32, i.e. every 32-bit integer
    type) the round function values are memoised in one array per round, filled lazily: after a
    warm-up a value costs 8 table look-ups instead of 8 BLAKE2b digests. Memory is bounded:
    at most 8 * 2**16 int32 = 2 MiB per permutation. The results are identical either way.

    With the C extension (domains up to 64 bits) encrypt and decrypt run in C (feistel_int:
    the same round values, the same tables, filled lazily and, after FILL_AFTER values, all at
    once); the Python methods below are its pure twin.
    """

    TABLE_BITS = 16

    __slots__ = ("n", "bits", "wb", "mask_b", "rounds", "rounds_rev", "_tables", "_use_tables", "_calls", "_full",
                 "_states", "_c")

    #: after this many values, fill the round tables completely and use the unrolled path
    FILL_AFTER = 20_000

    def __init__(self, key: Key, base_domain: str, n: int, tables: bool = True, accel: bool = True):
        if n < 1:
            raise RemapError(f"empty remapping range for {base_domain}")
        self.n = n
        bits = max(2, (n - 1).bit_length())
        if bits > _MAX_BITS:
            raise RemapError(f"remapping range of {base_domain} is too wide ({bits} bits)")
        self.bits = bits
        wa = bits // 2
        wb = bits - wa
        self.wb = wb
        self.mask_b = (1 << wb) - 1
        rounds = []
        for i in range(ROUNDS):
            w_in, w_out = (wb, wa) if i % 2 == 0 else (wa, wb)
            size = max(8, (w_out + 7) // 8)
            h = key.hasher(f"{base_domain}:r{i}", size)
            rounds.append((h, (w_in + 7) // 8, (1 << w_out) - 1))
        self.rounds = tuple(rounds)
        self.rounds_rev = tuple(reversed(rounds))
        self._use_tables = tables and wb <= self.TABLE_BITS and ROUNDS == 8
        self._tables = None  # allocated on first use
        self._calls = 0
        self._full = False
        self._c = None   # the C context, made at first use (feistel_new)
        self._states = None
        if accel and _FEISTEL_NEW is not None and bits <= _C_BITS:
            # the rounds' PRF states in C: Key.hasher(f"{base_domain}:r{i}", 8)'s (w_out <= 32)
            self._states = tuple(
                _PRF_STATE(key.secret, hashlib.blake2b(f"{base_domain}:r{i}".encode(), digest_size=32).digest(), 8)
                for i in range(ROUNDS))

    @property
    def accelerated(self) -> bool:
        """encrypt / decrypt run in C."""
        return self._states is not None

    def c_context(self):
        """The C context (feistel_new; made at the first call, with the round tables), or None
        without the C path."""
        c = self._c
        if c is None and self._states is not None:
            tabs = (self._tables or self._alloc_tables()) if self._use_tables else None
            c = self._c = _FEISTEL_NEW(self._states, self.n - 1, self.wb, self.bits // 2,
                                       None if tabs is None else tuple(tabs), self.FILL_AFTER)
        return c

    @property
    def full(self) -> bool:
        """Every round-table entry is computed (the tables keyspans takes)."""
        if self._c is not None:
            return _FEISTEL_FULL(self._c)
        return self._full

    def _alloc_tables(self):
        wa, wb = self.bits // 2, self.wb
        tabs = []
        for i in range(ROUNDS):
            w_in = wb if i % 2 == 0 else wa
            tabs.append(array("i", [-1]) * (1 << w_in))
        self._tables = tabs
        return tabs

    def _enc(self, x: int) -> int:
        wb = self.wb
        a = x >> wb
        b = x & self.mask_b
        if self._use_tables:
            tabs = self._tables or self._alloc_tables()
            for tab in tabs:  # fast path: every round value already memoised
                f = tab[b]
                if f < 0:
                    return self._enc_fill(x, tabs)
                a, b = b, a ^ f
            return (a << wb) | b
        from_bytes = int.from_bytes
        for h, nin, mout in self.rounds:
            f = h.copy()
            f.update(b.to_bytes(nin, "big"))
            a, b = b, a ^ (from_bytes(f.digest(), "big") & mout)
        return (a << wb) | b

    def _enc_fill(self, x: int, tabs) -> int:
        a = x >> self.wb
        b = x & self.mask_b
        from_bytes = int.from_bytes
        for tab, (h, nin, mout) in zip(tabs, self.rounds):
            f = tab[b]
            if f < 0:
                g = h.copy()
                g.update(b.to_bytes(nin, "big"))
                f = tab[b] = from_bytes(g.digest(), "big") & mout
            a, b = b, a ^ f
        return (a << self.wb) | b

    def _dec(self, y: int) -> int:
        wb = self.wb
        a = y >> wb
        b = y & self.mask_b
        if self._use_tables:
            tabs = self._tables or self._alloc_tables()
            for tab in reversed(tabs):
                f = tab[a]
                if f < 0:
                    return self._dec_fill(y, tabs)
                a, b = b ^ f, a
            return (a << wb) | b
        from_bytes = int.from_bytes
        for h, nin, mout in self.rounds_rev:
            f = h.copy()
            f.update(a.to_bytes(nin, "big"))
            a, b = b ^ (from_bytes(f.digest(), "big") & mout), a
        return (a << wb) | b

    def _dec_fill(self, y: int, tabs) -> int:
        a = y >> self.wb
        b = y & self.mask_b
        from_bytes = int.from_bytes
        for tab, (h, nin, mout) in zip(reversed(tabs), self.rounds_rev):
            f = tab[a]
            if f < 0:
                g = h.copy()
                g.update(a.to_bytes(nin, "big"))
                f = tab[a] = from_bytes(g.digest(), "big") & mout
            a, b = b ^ f, a
        return (a << self.wb) | b

    def _fill_all(self) -> None:
        """Compute every round-table entry (at most 8 * 2**16 keyed hashes, once): from then on
        a value costs eight array look-ups and no checks (nothing without tables)."""
        if not self._use_tables:
            return
        if self._states is not None:
            _FEISTEL_FILL(self.c_context())
            self._full = True
            return
        self._py_fill_all()

    def _py_fill_all(self) -> None:
        tabs = self._tables or self._alloc_tables()
        from_bytes = int.from_bytes
        for tab, (h, nin, mout) in zip(tabs, self.rounds):
            for v in range(len(tab)):
                if tab[v] < 0:
                    g = h.copy()
                    g.update(v.to_bytes(nin, "big"))
                    tab[v] = from_bytes(g.digest(), "big") & mout
        self._full = True

    def _enc_full(self, x: int) -> int:
        wb = self.wb
        a = x >> wb
        b = x & self.mask_b
        t0, t1, t2, t3, t4, t5, t6, t7 = self._tables
        a, b = b, a ^ t0[b]
        a, b = b, a ^ t1[b]
        a, b = b, a ^ t2[b]
        a, b = b, a ^ t3[b]
        a, b = b, a ^ t4[b]
        a, b = b, a ^ t5[b]
        a, b = b, a ^ t6[b]
        a, b = b, a ^ t7[b]
        return (a << wb) | b

    def encrypt(self, x: int) -> int:
        """x in [0, n) -> [0, n). Cycle-walks: on average < 2 Feistel passes."""
        if self._states is not None:
            return _FEISTEL_INT(self._c or self.c_context(), x, False)
        n = self.n
        if self._full:
            enc = self._enc_full
        else:
            if self._use_tables:
                self._calls += 1
                if self._calls > self.FILL_AFTER:
                    self._fill_all()
            enc = self._enc
        y = enc(x)
        while y >= n:
            y = enc(y)
        return y

    def decrypt(self, y: int) -> int:
        if self._states is not None:
            return _FEISTEL_INT(self._c or self.c_context(), y, True)
        n = self.n
        x = self._dec(y)
        while x >= n:
            x = self._dec(x)
        return x


class _TweakedFeistel:
    """Like _Feistel but the round functions are derived per call from a tweaked base hasher
    (used by the text permutation, where the tweak is the shape and the other chunks)."""

    __slots__ = ("n", "wb", "mask_b", "rounds", "rounds_rev")

    def __init__(self, n: int):
        self.n = n
        bits = max(2, (n - 1).bit_length())
        wa = bits // 2
        wb = bits - wa
        self.wb = wb
        self.mask_b = (1 << wb) - 1
        rounds = []
        for i in range(ROUNDS):
            w_in, w_out = (wb, wa) if i % 2 == 0 else (wa, wb)
            rounds.append((bytes((i,)), (w_in + 7) // 8, (1 << w_out) - 1))
        self.rounds = tuple(rounds)
        self.rounds_rev = tuple(reversed(rounds))

    def _pass(self, base, x: int, inverse: bool) -> int:
        a = x >> self.wb
        b = x & self.mask_b
        from_bytes = int.from_bytes
        if inverse:
            for tag, nin, mout in self.rounds_rev:
                f = base.copy()
                f.update(tag + a.to_bytes(nin, "big"))
                a, b = b ^ (from_bytes(f.digest(), "big") & mout), a
        else:
            for tag, nin, mout in self.rounds:
                f = base.copy()
                f.update(tag + b.to_bytes(nin, "big"))
                a, b = b, a ^ (from_bytes(f.digest(), "big") & mout)
        return (a << self.wb) | b

    def run(self, base, x: int, inverse: bool = False) -> int:
        y = self._pass(base, x, inverse)
        while y >= self.n:
            y = self._pass(base, y, inverse)
        return y


# --------------------------------------------------------------------------- integers


def default_range(int_min: int, int_max: int, max_input: int | None = None) -> tuple[int, int]:
    """The default remapping range [lo, hi] for an integer key column of type [int_min, int_max].

    The permutation maps [lo, hi] onto itself, so the *inputs* (the original ids, normally
    1..N) must lie in the range too. lo = 1 (ids are positive); hi = int_max // 2 so that after
    the restore the largest remapped id is at most half the type's positive range and the
    sequence / AUTO_INCREMENT (set past the largest id) keeps at least half of it free. When
    the largest input is known and is above int_max // 2, hi = max_input instead (all inputs
    must stay mappable; the headroom is then smaller). A key value <= 0 is outside the range
    and `IntPermutation.map` rejects it.
    """
    if int_max < 1:
        raise RemapError(f"integer type [{int_min}, {int_max}] has no positive range to remap into")
    hi = max(1, int_max // 2)
    if max_input is not None:
        if max_input > int_max:
            raise RemapError(f"a key value exceeds the column type's maximum {int_max}")
        hi = max(hi, max_input)
    return 1, hi


class IntPermutation:
    """A keyed bijection of the integer range [lo, hi] (inclusive) onto itself.

    Deterministic per (key secret, domain, lo, hi): give every column that shares key values
    (a primary key and all foreign keys referencing it) the same (lo, hi, domain).
    `map(x)` raises RemapError for x outside [lo, hi]. `inverse(y)` undoes `map`.
    """

    __slots__ = ("lo", "hi", "domain", "_f", "_cache", "_cache_size")

    def __init__(self, key: Key, lo: int, hi: int, domain: str = "int", cache_size: int = CACHE_SIZE,
                 tables: bool = True, accel: bool = True):
        if not isinstance(lo, int) or not isinstance(hi, int) or hi < lo:
            raise RemapError(f"invalid remapping range [{lo}, {hi}] of {domain}")
        self.lo = lo
        self.hi = hi
        self.domain = domain
        n = hi - lo + 1
        self._f = _Feistel(key, f"remap:int:{domain}:{lo}:{hi}", n, tables, accel) if n > 1 else None
        self._cache: dict[int, int] = {}
        self._cache_size = cache_size

    def _check(self, x) -> None:
        if type(x) is not int and not isinstance(x, int) or isinstance(x, bool):
            raise RemapError(f"a key value of {self.domain} is not an integer")
        if x < self.lo or x > self.hi:
            raise RemapError(
                f"a key value is outside the remapping range [{self.lo}, {self.hi}] of {self.domain}")

    def map(self, x: int) -> int:
        """The remapped value of x (RemapError if x is not an int in [lo, hi]). Cached."""
        cache = self._cache
        y = cache.get(x)
        if y is not None and type(x) is int:
            return y
        lo = self.lo
        if type(x) is not int or x < lo or x > self.hi:
            self._check(x)
        f = self._f
        y = x if f is None else f.encrypt(x - lo) + lo
        if len(cache) >= self._cache_size:
            cache.clear()
        cache[x] = y
        return y

    def map_uncached(self, x: int) -> int:
        """Same as map, bypassing the cache."""
        lo = self.lo
        if type(x) is not int or x < lo or x > self.hi:
            self._check(x)
        if self._f is None:
            return x
        return self._f.encrypt(x - lo) + lo

    def inverse(self, y: int) -> int:
        if type(y) is not int or y < self.lo or y > self.hi:
            self._check(y)
        if self._f is None:
            return y
        return self._f.decrypt(y - self.lo) + self.lo

    __call__ = map

    def __repr__(self) -> str:
        return f"IntPermutation([{self.lo}, {self.hi}], domain={self.domain!r})"


# --------------------------------------------------------------------------- UUIDs

_UUID_RE = re.compile(
    r"(?:urn:uuid:)?(\{)?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?"
    r"([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})(?(1)\})"
)
# kept bits: version nibble (bits 76..79 counting from the least significant) and the two top
# variant bits (bits 62, 63)
_KEEP_MASK = (0xF << 76) | (0x3 << 62)
_ALL = (1 << 128) - 1
_FREE_MASK = _ALL ^ _KEEP_MASK


def _spread(v: int) -> int:
    """122-bit compact value -> 128-bit value with zeros at the kept positions."""
    low = v & ((1 << 62) - 1)            # bits 0..61
    mid = (v >> 62) & ((1 << 12) - 1)    # -> bits 64..75
    high = v >> 74                       # -> bits 80..127 (48 bits)
    return low | (mid << 64) | (high << 80)


def _compact(u: int) -> int:
    """128-bit value -> its 122 free bits, packed."""
    return (u & ((1 << 62) - 1)) | (((u >> 64) & 0xFFF) << 62) | ((u >> 80) << 74)


def _uuid_text(u: int) -> str:
    h = "%032x" % u
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class UuidPermutation:
    """Keyed permutation of UUIDs that keeps each input's version nibble and variant bits.

    The other 122 bits go through an 8-round Feistel network (61-bit halves). Within each
    (version, variant) class this is a bijection, so overall it is a bijection of all 128-bit
    values (collision probability 0) and a valid RFC 4122 UUID of version v maps to a valid UUID
    of version v. The nil UUID and the max UUID (all ones) are fixed points (sentinels); the
    permutation cycle-walks around them so it stays a bijection.
    """

    __slots__ = ("domain", "_f", "_cache", "_cache_size")

    def __init__(self, key: Key, domain: str = "uuid", cache_size: int = CACHE_SIZE):
        self.domain = domain
        self._f = _Feistel(key, f"remap:uuid:{domain}", 1 << 122)
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    # -- integer core
    def _perm(self, u: int, inverse: bool = False) -> int:
        kept = u & _KEEP_MASK
        if u == 0 or u == _ALL:
            return u
        step = self._f.decrypt if inverse else self._f.encrypt
        v = step(_compact(u))
        out = _spread(v) | kept
        # the nil / max UUIDs are fixed points: walk past them (only in their own class)
        while out == 0 or out == _ALL:
            v = step(v)
            out = _spread(v) | kept
        return out

    def map_int(self, u: int) -> int:
        if not 0 <= u <= _ALL:
            raise RemapError(f"a UUID value of {self.domain} is not a 128-bit integer")
        return self._perm(u)

    def inverse_int(self, u: int) -> int:
        if not 0 <= u <= _ALL:
            raise RemapError(f"a UUID value of {self.domain} is not a 128-bit integer")
        return self._perm(u, inverse=True)

    # -- text
    def _parse(self, s: str) -> int:
        m = _UUID_RE.fullmatch(s) if isinstance(s, str) else None
        if m is None:
            raise RemapError(f"a key value of {self.domain} is not a UUID")
        return int("".join(m.group(2, 3, 4, 5, 6)), 16)

    def map(self, s: str) -> str:
        """Any UUID text form (hyphenated, braces, 32 hex digits, any case, urn:uuid:) ->
        canonical lowercase hyphenated UUID."""
        cache = self._cache
        r = cache.get(s)
        if r is not None:
            return r
        r = _uuid_text(self._perm(self._parse(s)))
        if len(cache) >= self._cache_size:
            cache.clear()
        cache[s] = r
        return r

    def inverse(self, s: str) -> str:
        return _uuid_text(self._perm(self._parse(s), inverse=True))

    # -- binary(16)
    def map_bytes(self, b: bytes) -> bytes:
        """16 bytes in RFC 4122 (big-endian) order -> 16 bytes. (With MySQL's
        UUID_TO_BIN(x, 1) swapped layout the map is still a bijection, but the bits it keeps are
        not the version nibble.)"""
        if len(b) != 16:
            raise RemapError(f"binary UUID of {self.domain} must be 16 bytes, got {len(b)}")
        return self._perm(int.from_bytes(b, "big")).to_bytes(16, "big")

    def inverse_bytes(self, b: bytes) -> bytes:
        if len(b) != 16:
            raise RemapError(f"binary UUID of {self.domain} must be 16 bytes, got {len(b)}")
        return self._perm(int.from_bytes(b, "big"), inverse=True).to_bytes(16, "big")

    __call__ = map


# --------------------------------------------------------------------------- text keys

_CHUNK_LIMIT = 1 << 128  # mixed-radix space per Feistel chunk
_SHAPE_TABLE = str.maketrans(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "9" * 10 + "a" * 26 + "A" * 26,
)


def text_shape(s: str) -> str:
    """The format of a text key: digits -> 9, ASCII lowercase -> a, ASCII uppercase -> A, the
    rest unchanged. `TextKeyPermutation` preserves it."""
    return s.translate(_SHAPE_TABLE)


def birthday_bound(n_values: int, space: int) -> float:
    """Upper bound on the probability that n random values drawn from `space` collide."""
    if n_values < 2:
        return 0.0
    if space <= 0:
        return 1.0
    return min(1.0, n_values * (n_values - 1) / (2.0 * space))


def _positions(s: str):
    """[(index, radix, base codepoint)] of the digit/letter positions of s."""
    out = []
    for i, c in enumerate(s):
        if "0" <= c <= "9":
            out.append((i, 10, 48))
        elif "a" <= c <= "z":
            out.append((i, 26, 97))
        elif "A" <= c <= "Z":
            out.append((i, 26, 65))
    return out


class TextKeyPermutation:
    """Format-preserving keyed bijection on text keys (`ORD-2024-0001` -> `XQB-8316-5502`).

    The digit and ASCII-letter positions of the string form a mixed-radix number (radix 10 or
    26 per position) in [0, N); it goes through a keyed permutation of [0, N) (8-round Feistel
    with cycle-walking) whose PRF input includes the string's shape, then is written back with
    the same radices. Everything else in the string is kept. When N > 2**128 the positions are
    split into chunks (each <= 2**128) permuted one after the other, each tweaked by the current
    values of all other chunks (so every chunk depends on the whole string, and it is still
    invertible). Result: for every shape a bijection, and since the shape is preserved the map
    is injective on all strings: `collision_bound` is 0.
    """

    __slots__ = ("domain", "_base", "_cache", "_cache_size", "_feistels")

    def __init__(self, key: Key, domain: str = "text", cache_size: int = CACHE_SIZE):
        self.domain = domain
        self._base = key.hasher(f"remap:text:{domain}", 8)
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size
        self._feistels: dict[int, _TweakedFeistel] = {}

    def collision_bound(self, n_values: int, shape: str | None = None) -> float:
        """Probability that two of n distinct inputs (of `shape`) map to the same output: 0,
        since the map is a bijection per shape and preserves the shape. (`birthday_bound`
        is the figure for a non-bijective, random-function mapping of the same space.)"""
        return 0.0

    @staticmethod
    def space(shape: str) -> int:
        """Number of strings of this shape (N)."""
        n = 1
        for _, r, _ in _positions(shape):
            n *= r
        return n

    def _feistel(self, n: int) -> _TweakedFeistel:
        f = self._feistels.get(n)
        if f is None:
            if len(self._feistels) > 4096:
                self._feistels.clear()
            f = self._feistels[n] = _TweakedFeistel(n)
        return f

    @staticmethod
    def _chunks(pos):
        chunks, cur, size = [], [], 1
        for p in pos:
            if cur and size * p[1] > _CHUNK_LIMIT:
                chunks.append((cur, size))
                cur, size = [], 1
            cur.append(p)
            size *= p[1]
        if cur:
            chunks.append((cur, size))
        return chunks

    def _transform(self, s: str, inverse: bool) -> str:
        if not isinstance(s, str):
            raise RemapError(f"a key value of {self.domain} is not text")
        pos = _positions(s)
        if not pos:
            return s
        shape = text_shape(s).encode("utf-8", "surrogatepass")
        chars = list(s)
        chunks = self._chunks(pos)
        # current value of every chunk (mixed radix, first position most significant)
        vals = []
        for cpos, _ in chunks:
            v = 0
            for i, r, base in cpos:
                v = v * r + (ord(chars[i]) - base)
            vals.append(v)
        head = self._base.copy()
        head.update(len(shape).to_bytes(8, "big"))
        head.update(shape)
        order = range(len(chunks) - 1, -1, -1) if inverse else range(len(chunks))
        multi = len(chunks) > 1
        for j in order:
            n = chunks[j][1]
            if n == 1:
                continue
            base = head.copy()
            base.update(j.to_bytes(4, "big"))
            if multi:
                for k, v in enumerate(vals):
                    if k != j:
                        base.update(v.to_bytes(16, "big"))
            vals[j] = self._feistel(n).run(base, vals[j], inverse)
        for (cpos, _), v in zip(chunks, vals):
            for i, r, base_cp in reversed(cpos):
                v, d = divmod(v, r)
                chars[i] = chr(base_cp + d)
        return "".join(chars)

    def map(self, s: str) -> str:
        cache = self._cache
        r = cache.get(s)
        if r is not None:
            return r
        r = self._transform(s, False)
        if len(cache) >= self._cache_size:
            cache.clear()
        cache[s] = r
        return r

    def inverse(self, s: str) -> str:
        return self._transform(s, True)

    __call__ = map


_TEXT_KEY_FIELD = speedups.function("text_key_field")
_KEY_FIELD_MAX = 1024   # longer values take the general path (keys are short)
_COPY_ESCAPES = {0x5C: b"\\\\", 0x08: b"\\b", 0x0C: b"\\f", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x0B: b"\\v"}
_MY_ESCAPES = {0x00: b"\\0", 0x0A: b"\\n", 0x0D: b"\\r", 0x5C: b"\\\\", 0x27: b"\\'", 0x22: b'\\"', 0x1A: b"\\Z"}
_FIELD_ESCAPES = (_COPY_ESCAPES, _MY_ESCAPES)   # copy_encode, mysql_lex.encode_string


def py_text_key_field(perm: TextKeyPermutation, mode: int, raw: bytes) -> bytes | None:
    """The twin of text_key_field in _speedups.c: perm.map of a plain raw field's value (mode 0
    a COPY text field, 1 a MySQL '...' literal: see transformers.fastprf), written back the way
    the dialect's encoder writes it; raw itself when the value has no digit or ASCII letter;
    None when the field is not plain or longer than 1024 bytes (the general path)."""
    from dumpmask.transformers.fastprf import py_plain_body

    body = py_plain_body(raw, mode) if type(raw) is bytes else None
    if body is None or len(body) > _KEY_FIELD_MAX:
        return None
    value = body.decode("utf-8")
    if not _positions(value):
        return raw
    out = perm._transform(value, False).encode("utf-8")
    esc = _FIELD_ESCAPES[mode]
    out = b"".join(esc.get(c) or bytes((c,)) for c in out)
    return out if mode == 0 else b"'" + out + b"'"


class Remapper:
    """The permutation of one key domain (a component of linked key columns): for_column()
    gives a column's value function; col_max keeps the largest value written per column
    (for setval and AUTO_INCREMENT after the data), merged from what the functions observed."""

    def __init__(self, key, strategy: str, lo: int | None, hi: int | None, domain: str, split: bool = True):
        self.key, self.split = key, split
        self.strategy = strategy
        self.lo, self.hi = lo, hi
        self.domain = domain
        self.col_max: dict[str, int] = {}   # "schema.table.column" -> largest value written
        self.offset = 0
        self.upper = None
        if strategy == "randomInteger":
            if split:
                # the two halves swap: inputs [lo, mid] go to outputs [mid+1+d, hi] (never onto an
                # original id below mid), inputs [mid+1, hi] onto the outputs left, [lo, lo+n2-1]
                # (d = n2 - n1, 0 or 1). A bijection of [lo, hi] decided by the types alone, so a
                # file, a pipe with --schema and a MySQL pipe all give the same bytes.
                mid = lo + (hi - lo + 1) // 2 - 1
                self.perm = IntPermutation(key, lo, mid, domain="int")
                self.offset = hi - mid
                self.mid = mid
                self.upper = IntPermutation(key, mid + 1, hi, domain="int-upper") if hi > mid else None
            else:
                self.perm = IntPermutation(key, lo, hi, domain="int")
        elif strategy == "uuid":
            self.perm = UuidPermutation(key)
        else:
            self.perm = TextKeyPermutation(key)

    def spec(self):
        return (self.strategy, self.lo, self.hi)

    def _why(self, e) -> str:
        """A RemapError without the value it was about (errors never repeat the data)."""
        if self.strategy == "randomInteger":
            return (f"a key value is outside the remapping range [{self.lo}, {self.hi}] of this key domain (the value "
                    "is not shown): give options.identifierRemapping.range [lo, hi] covering every id")
        return f"a key value is not a valid {'UUID' if self.strategy == 'uuid' else 'text key'} (the value is not shown)"

    def _int_map(self, cached: bool):
        """int -> int for the integer strategy (RemapError outside [lo, hi])."""
        low = self.perm.map if cached else self.perm.map_uncached
        upper = self.upper
        if upper is None:
            if not self.offset:
                return low
            off = self.offset
            return lambda x: low(x) + off
        up = upper.map if cached else upper.map_uncached
        mid, off, lo, hi = self.mid, self.offset, self.lo, self.hi
        base = lo - (mid + 1)

        def m(x):
            if x < lo:
                raise RemapError(f"key value {x} outside the remapping range [{lo}, {hi}] of int")
            if x <= mid:
                return low(x) + off
            if x > hi:
                raise RemapError(f"key value {x} outside the remapping range [{lo}, {hi}] of int")
            return up(x) + base
        return m

    def key_segments(self) -> list:
        """This domain's integer map as keyspans segments [(a, b, add, wb, tables)]: the lower
        (and upper) permutation with its filled round tables, () for a one-value range, None
        while the tables are not filled yet (those values then take the Python path, which
        fills them after _Feistel.FILL_AFTER values)."""
        def seg(perm: IntPermutation, add: int):
            f = perm._f
            if f is None:
                return (perm.lo, perm.hi, add, 0, ())
            if not f.full:
                return (perm.lo, perm.hi, add, f.wb, None)
            return (perm.lo, perm.hi, add, f.wb, tuple(f._tables))
        segs = [seg(self.perm, self.offset)]
        if self.upper is not None:
            segs.append(seg(self.upper, self.lo - (self.mid + 1)))
        return segs

    def _c_raw_int(self, observed: dict, general):
        """raw_int in C (key_int_field: plain digits in a segment, the same bytes and observed
        maximum; every other raw field goes to `general`), or None without the C path."""
        if _KEY_INT_NEW is None or self.strategy != "randomInteger":
            return None
        segs = []
        parts = [(self.perm, self.offset)]
        if self.upper is not None:
            parts.append((self.upper, self.lo - (self.mid + 1)))
        lim = 1 << 62
        for perm, add in parts:
            f = perm._f
            if not (0 <= perm.lo <= perm.hi <= lim and -lim <= add <= lim):
                return None
            if f is None:
                segs.append((perm.lo, perm.hi, add, None))
            elif f.accelerated:
                segs.append((perm.lo, perm.hi, add, f.c_context))   # made at the segment's first value
            else:
                return None
        return partial(_KEY_INT_FIELD, _KEY_INT_NEW(tuple(segs), observed, general))

    def for_column(self, col, where: str):
        strategy = self.strategy
        perm = self.perm
        binary = col.kind == "binary"
        observed = {"max": -1}   # the largest value written (the engine merges it into col_max, see work.py)
        imap = self._int_map(cached=True) if strategy == "randomInteger" else None
        enc = self._int_map(cached=False) if strategy == "randomInteger" else None

        def fn(v):
            if v is None:
                return None
            try:
                if strategy == "randomInteger":
                    try:
                        x = int(v)
                    except ValueError:
                        raise MaskingError(f"{where}: a key value is not an integer (the value is not shown)") from None
                    y = imap(x)
                    if y > observed["max"]:
                        observed["max"] = y
                    return str(y)
                if strategy == "uuid":
                    if binary:
                        return perm.map_bytes(v.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")
                    return perm.map(v)
                return perm.map(v)
            except RemapError as e:
                raise MaskingError(f"{where}: {self._why(e)}") from None

        if strategy == "randomInteger":
            def raw_int(raw: bytes) -> bytes:
                """The fast path for integer keys written as plain digits: bytes -> bytes."""
                try:
                    y = enc(int(raw))
                except ValueError:
                    raise MaskingError(f"{where}: a key value is not an integer (the value is not shown)") from None
                except RemapError as e:
                    raise MaskingError(f"{where}: {self._why(e)}") from None
                if y > observed["max"]:
                    observed["max"] = y
                return b"%d" % y
            c_raw = self._c_raw_int(observed, raw_int)
            fn.raw_int = c_raw or raw_int
            if c_raw is not None:
                # a MySQL '123' literal (quoted digits) in C: the general path's bytes ('456',
                # UNCHANGED when the same); only mode 1 (a COPY field of digits is raw_int's)
                lit = partial(_KEY_INT_LITERAL, c_raw.args[0])
                fn.field_fast = lambda mode, encode: lit if mode == 1 else None
            fn.key_segments = self.key_segments   # (keyspans: the same values, in C)
        elif strategy != "uuid" and _TEXT_KEY_FIELD is not None and not binary:
            # a plain raw field permuted in C without decoding (py_text_key_field: the same bytes)
            state = speedups.C.prf_state(self.key.secret, hashlib.blake2b(f"remap:text:{perm.domain}".encode(),
                                                                          digest_size=32).digest(), 8)
            fn.field_fast = lambda mode, encode: partial(_TEXT_KEY_FIELD, state, mode)
        fn.observed = observed
        return fn

    def observe(self, where: str, observed: dict) -> None:
        """Add what a column's function observed in a block (work.BlockCounts.observed)."""
        if observed["max"] > self.col_max.get(where, -1):
            self.col_max[where] = observed["max"]
