"""The keyed PRF of the transformers, per value, in one call: C (dumpmask._speedups, the FAKES
section) when built, else the pure-Python twins below, which give the same bytes
(DUMPMASK_PURE=1 forces them; tests/test_speedups.py holds the two to that).

A transformer's PRF is ``key.hasher(domain, size)`` (keyed BLAKE2b, the domain's hash in the
first block) updated with the value's UTF-8 (surrogatepass) bytes. `Prf(key, domain, size)`
gives:

- ``digest(data)``: that digest;
- ``field(mode, raw)``: the digest of a raw dump field's value when the field is *plain*
  (strict UTF-8, no byte below 0x20, no backslash; mode 0 a COPY text field, mode 1 a MySQL
  '...' literal with no quote inside): its bytes are then the value's bytes, and the value
  written back unescaped is the same field. None otherwise (the caller decodes it);
- ``pick(mode, pool, start, end, keep_empty, raw)``: ``pool[int.from_bytes(d[start:end],
  "big") % len(pool)]`` for that digest (None when not plain; `raw` itself for an empty value
  when keep_empty).
"""
from __future__ import annotations

import hashlib
import importlib
import os
from functools import partial

PURE = os.environ.get("DUMPMASK_PURE", "").strip().lower() in ("1", "true", "yes", "on")

_C = None
if not PURE:
    try:
        # found by name: the C extension is optional (its pure twins are below)
        _C = importlib.import_module("dumpmask._speedups")
    except ImportError:
        _C = None
    if _C is not None and not hasattr(_C, "prf_state"):
        _C = None          # an extension built before the FAKES section: the twins

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


def py_plain_body(raw: bytes, mode: int) -> bytes | None:
    """The value's bytes of a plain raw field (see the module's docstring), else None."""
    if mode == 1:
        if len(raw) < 2 or raw[:1] != b"'" or raw[-1:] != b"'":
            return None
        raw = raw[1:-1]
    return raw if py_plain_utf8(raw, mode == 1) else None


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


def domain_prefix(domain: str) -> bytes:
    """What Key.hasher puts in the first block after the key: the domain's 32-byte hash."""
    return hashlib.blake2b(domain.encode(), digest_size=32).digest()


class Prf:
    """One transformer's PRF (see the module's docstring): digest, field and pick are bound to
    its state (functools.partial over the C functions: no Python frame per call)."""

    __slots__ = ("state", "digest", "field", "pick", "size")

    def __init__(self, key, domain: str, size: int, pure: bool = False):
        self.size = size
        if _C is not None and not pure:
            self.state = _C.prf_state(key.secret, domain_prefix(domain), size)
            fns = (_C.prf_digest, _C.prf_field, _C.pick_field)
        else:
            self.state = key.hasher(domain, size)
            fns = (py_prf_digest, py_prf_field, py_pick_field)
        self.digest, self.field, self.pick = (partial(f, self.state) for f in fns)
