"""The keyed PRF of the transformers, per value, in one call: C (dumpmask._speedups, the FAKES
section) when built, else the pure-Python twins below, which give the same bytes
(DUMPMASK_PURE=1 forces them; tests/test_speedups.py holds the two to that).

A transformer's PRF is ``key.hasher(domain, size)`` (keyed BLAKE2b, the domain's hash in the
first block) updated with the value's UTF-8 (surrogatepass) bytes. `Prf(key, domain, size)`
gives:

- ``digest(data)``: that digest;
- ``field(mode, raw)``: the digest of a raw dump field's value when the field is *plain*
  (mode 0 a COPY text field, mode 1 a MySQL '...' literal: ordinary bytes and only the
  escapes the dialect's own encoder writes, strict UTF-8 once unescaped; see plain_field in
  _speedups.c): the value written back by that encoder is then the same field, byte for
  byte. None otherwise (the caller decodes it);
- ``pick(mode, pool, start, end, keep_empty, raw)``: ``pool[int.from_bytes(d[start:end],
  "big") % len(pool)]`` for that digest (None when not plain; `raw` itself for an empty value
  when keep_empty);
- ``assemble(mode, keep_empty, heads, start, end, tails, tail_at, sfx_len, table, raw)``:
  ``heads[i] + d[:sfx_len].translate(table) + tails[d[tail_at] % len(tails)]`` (i as pick's;
  None also when heads[i] is empty: the caller's general path), for e-mails and user names.
"""
from __future__ import annotations

import hashlib
import re
from functools import partial
from dumpmask import speedups

PURE = speedups.PURE

# an extension built before the FAKES section has no prf_state: the twins then
_C = speedups.C if speedups.function("prf_state") is not None else None

ACCELERATED = _C is not None

_BAD_PLAIN = bytes(range(0x20)) + b"\\"
_BAD_QUOTED = _BAD_PLAIN + b"'\""


def py_plain_utf8(raw: bytes, quotes: bool) -> bool:
    """Strict UTF-8 with no byte below 0x20 and no backslash (no ' or " when quotes)."""
    if len(raw.translate(None, _BAD_QUOTED if quotes else _BAD_PLAIN)) != len(raw):
        return False
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# a plain field (see plain_field in _speedups.c): ordinary bytes and the escapes the dialect's
# encoder writes itself (COPY: copy_encode; MySQL: encode_string), then strict UTF-8
_PLAIN_RE = (re.compile(rb"(?:[^\\\x00-\x1f]|\\[\\bfnrtv])*"),
             re.compile(rb"(?:[^\\\x00\n\r\x1a'\"]|\\[0nr\\'\"Z])*"))
_ESCAPE_RE = re.compile(rb"\\(.)", re.S)
_UNESCAPE = ({b"\\": b"\\", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"},
             {b"0": b"\x00", b"n": b"\n", b"r": b"\r", b"\\": b"\\", b"'": b"'", b'"': b'"', b"Z": b"\x1a"})
FIELD_BUF = 1024      # longer escaped values are not plain (the general path)


def py_plain_body(raw: bytes, mode: int) -> bytes | None:
    """The value's bytes of a plain raw field (see the module's docstring), else None."""
    if mode == 1:
        if len(raw) < 2 or raw[:1] != b"'" or raw[-1:] != b"'":
            return None
        raw = raw[1:-1]
    if _PLAIN_RE[mode].fullmatch(raw) is None:
        return None
    if b"\\" in raw:
        if len(raw) > FIELD_BUF:
            return None
        table = _UNESCAPE[mode]
        raw = _ESCAPE_RE.sub(lambda m: table[m.group(1)], raw)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return raw


def py_prf_digest(state, data: bytes) -> bytes:
    h = state.copy()
    h.update(data)
    return h.digest()


def py_prf_field(state, mode: int, raw: bytes) -> bytes | None:
    if type(raw) is not bytes:
        return None
    body = py_plain_body(raw, mode)
    return None if body is None else py_prf_digest(state, body)


def py_pick_field(state, mode: int, pool: tuple, start: int, end: int, keep_empty: bool, raw: bytes):
    if type(raw) is not bytes:
        return None
    body = py_plain_body(raw, mode)
    if body is None:
        return None
    if not body and keep_empty:
        return raw
    d = py_prf_digest(state, body)
    return pool[int.from_bytes(d[start:end], "big") % len(pool)]


def py_assemble_field(state, mode: int, keep_empty: bool, heads: tuple, start: int, end: int, tails: tuple,
                      tail_at: int, sfx_len: int, table: bytes, raw: bytes):
    if type(raw) is not bytes:
        return None
    body = py_plain_body(raw, mode)
    if body is None:
        return None
    if not body and keep_empty:
        return raw
    d = py_prf_digest(state, body)
    head = heads[int.from_bytes(d[start:end], "big") % len(heads)]
    if not head:
        return None
    return head + d[:sfx_len].translate(table) + tails[d[tail_at] % len(tails)]


# one '...' literal as mysql_lex's _SQ spans it (decode_literal: a "string")
_MY_STRING = re.compile(rb"'[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+'", re.S)


def field_as(mode: int, null: bytes | None, nulls: bool, raw: bytes):
    """keep and null without decoding: a field whose value is known to be a string (mode 0:
    every COPY text field but \\N; mode 1: one '...' literal) -> `raw` itself (keep, nulls
    False) or `null` (null, nulls True); `raw` itself for a COPY \\N; None for anything else
    (the caller's general path decides: numbers, hex, expressions, a MySQL NULL)."""
    if mode == 0:
        if raw == b"\\N" or not nulls:
            return raw
        return null
    if _MY_STRING.fullmatch(raw) is None:
        return None
    return null if nulls else raw


# the computed fakes C assembles (dumpmask._speedups, the MUTATIONS section): fake_field's kinds
FAKE_SSN, FAKE_CARD, FAKE_IBAN, FAKE_IPV4, FAKE_IPV6, FAKE_DATE, FAKE_URL, FAKE_TEXT, FAKE_HASH = range(1, 10)
_FAKE_FIELD = speedups.function("fake_field")
#: bytes any dialect writes as they are (no escape in COPY text or a MySQL '...' literal)
_UNESCAPED = re.compile(rb"[ !#-&(-\[\]-~]*")


def unescaped_ascii(values) -> tuple[bytes, ...] | None:
    """The values as ASCII bytes when every one is printable ASCII that no dialect escapes
    (no backslash, no quotes), else None."""
    out = tuple(v.encode("ascii", "replace") for v in values)
    if all(v.isascii() for v in values) and all(_UNESCAPED.fullmatch(b) for b in out):
        return out
    return None


def fake_field(prf: Prf, mode: int, keep_empty: bool, kind: int, limit: int | None, params: tuple):
    """raw -> the field of a computed fake made in C (see fake_field in _speedups.c: make() of
    the transformer on the digest of a plain raw field, written for mode 0 / 1), or None when
    the C function is not there (not built, DUMPMASK_PURE=1, a pure Prf): then the transformer's
    Python path, the same bytes."""
    if _FAKE_FIELD is None or type(prf.state) is not bytes:
        return None
    return partial(_FAKE_FIELD, prf.state, mode, keep_empty, kind, -1 if limit is None else limit, params)


def domain_prefix(domain: str) -> bytes:
    """What Key.hasher puts in the first block after the key: the domain's 32-byte hash."""
    return hashlib.blake2b(domain.encode(), digest_size=32).digest()


class Prf:
    """One transformer's PRF (see the module's docstring): digest, field and pick are bound to
    its state (functools.partial over the C functions: no Python frame per call)."""

    __slots__ = ("state", "digest", "field", "pick", "assemble", "size")

    def __init__(self, key, domain: str, size: int, pure: bool = False):
        self.size = size
        if _C is not None and not pure:
            self.state = _C.prf_state(key.secret, domain_prefix(domain), size)
            fns = (_C.prf_digest, _C.prf_field, _C.pick_field, _C.assemble_field)
        else:
            self.state = key.hasher(domain, size)
            fns = (py_prf_digest, py_prf_field, py_pick_field, py_assemble_field)
        self.digest, self.field, self.pick, self.assemble = (partial(f, self.state) for f in fns)


def constant_field(key, mode: int, out: bytes, keep_empty: bool):
    """raw -> `out` for every plain raw field (None when not plain; raw itself for an empty value
    when keep_empty): pick over a one-entry pool, whose digest decides nothing."""
    return partial(Prf(key, "constant-field", 8).pick, mode, (out,), 0, 1, keep_empty)
