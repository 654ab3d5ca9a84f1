"""The fast field paths of the text mutations whose work is a small Python function (issue #13):
on a *plain* raw field (fastprf's plain test: mode 0 a COPY text field, 1 a MySQL '...'
literal) the value is decoded, and the new value encoded the way the dialect's encoder writes
it (postgres.copy_encode, mysql_lex.encode_string of its UTF-8), in C (dumpmask._speedups, the
STRFIELD section) instead of in Python. The pure-Python twins below give the same bytes
(DUMPMASK_PURE=1 forces them; tests/test_strfield.py holds the two, and both against work.py's
general path, to that).

- ``str_field(mode, fn, null, keep_empty)``: raw -> fn(value) as the dialect writes it, `null`
  itself for None, raw itself when fn gives the value back; None (the caller's general path,
  which also raises fn's errors) when the field is not plain, fn raises, or gives what is not
  a str or a str with surrogates;
- ``list_field(mode, sep, inner, null)``: the `list` mutation with each element through the
  element mutation's own field function `inner`;
- ``cum_pick(prf, mode, pool, cum, keep_empty)``: ``pool[bisect_right(cum, x % cum[-1])]``, x
  the first 8 digest bytes (big-endian), for `choice` with weights.

The dialect's encoders are written here again (as _speedups.c does) because the transformers
know no dialect: only the two modes' escapes, which tests hold to the dialects' encoders.
"""
from __future__ import annotations

import re
import warnings
from array import array
from bisect import bisect_right
from functools import partial

from dumpmask import speedups

from .fastprf import _ESCAPE_RE, _UNESCAPE, py_plain_body

_STR_FIELD = speedups.function("str_field")
_LIST_FIELD = speedups.function("list_field")
_CUM_PICK = speedups.function("cum_pick_field")

ACCELERATED = _STR_FIELD is not None

# the value bytes each mode's encoder escapes, and how (copy_encode / encode_string)
_ESC_RE = (re.compile(rb"[\\\x08-\x0d]"), re.compile(rb"[\x00\n\r\\'\"\x1a]"))
_ESC = ({b"\\": b"\\\\", b"\b": b"\\b", b"\f": b"\\f", b"\n": b"\\n", b"\r": b"\\r", b"\t": b"\\t", b"\v": b"\\v"},
        {b"\x00": b"\\0", b"\n": b"\\n", b"\r": b"\\r", b"\\": b"\\\\", b"'": b"\\'", b'"': b'\\"', b"\x1a": b"\\Z"})
# what the encoders write: their escapes and every byte they do not escape
_ENCODED_RE = (re.compile(rb"(?:[^\\\x08-\x0d]|\\[\\bfnrtv])*"),
               re.compile(rb"(?:[^\\\x00\n\r\x1a'\"]|\\[0nr\\'\"Z])*"))


def py_encode_field(mode: int, value: bytes) -> bytes:
    """A value's bytes as the dialect's encoder writes them (sf_encode in _speedups.c)."""
    table = _ESC[mode]
    out = _ESC_RE[mode].sub(lambda m: table[m.group()], value)
    return out if mode == 0 else b"'" + out + b"'"


def py_decode_field(mode: int, field: bytes) -> bytes | None:
    """The value's bytes of a field as py_encode_field writes it, else None (sf_decode)."""
    if mode == 1:
        if len(field) < 2 or field[:1] != b"'" or field[-1:] != b"'":
            return None
        field = field[1:-1]
    if _ENCODED_RE[mode].fullmatch(field) is None:
        return None
    table = _UNESCAPE[mode]
    return _ESCAPE_RE.sub(lambda m: table[m.group(1)], field)


def py_str_field(mode: int, fn, null, keep_empty: bool, raw):
    """The twin of str_field in _speedups.c."""
    if type(raw) is not bytes:
        return None
    body = py_plain_body(raw, mode)
    if body is None:
        return None
    if not body and keep_empty:
        return raw
    try:
        r = fn(body.decode("utf-8"))
    except Exception:  # noqa: BLE001 - the general path calls fn again and raises it
        return None
    if r is None:
        return null
    if not isinstance(r, str):
        return None
    try:
        b = r.encode("utf-8")
    except UnicodeEncodeError:   # surrogates: the general path
        return None
    if b == body:
        return raw
    return py_encode_field(mode, b)


def py_list_field(mode: int, sep: bytes, inner, null: bytes, raw):
    """The twin of list_field in _speedups.c (ListOf.__call__ on the value's bytes, each
    element through `inner`, a field function)."""
    if type(raw) is not bytes:
        return None
    body = py_plain_body(raw, mode)
    if body is None:
        return None
    out = []
    for part in body.split(sep):
        text = part.decode("utf-8")
        core = text.strip()
        if not core:
            out.append(part)
            continue
        lead = text[:len(text) - len(text.lstrip())].encode("utf-8")
        trail = text[len(text.rstrip()):].encode("utf-8")
        core_b = core.encode("utf-8")
        field = py_encode_field(mode, core_b)
        try:
            r = inner(field)
        except Exception:  # noqa: BLE001 - the general path raises it
            return None
        if r is field:
            new = core_b
        elif not isinstance(r, bytes):
            return None
        elif r == null:
            new = b""
        else:
            new = py_decode_field(mode, r)
            if new is None:
                return None
        out.append(lead + new + trail)
    value = sep.join(out)
    return raw if value == body else py_encode_field(mode, value)


def py_cum_pick_field(digest, mode: int, pool: tuple, cum: bytes, keep_empty: bool, raw):
    """The twin of cum_pick_field in _speedups.c (`digest`: the Prf's digest function)."""
    if type(raw) is not bytes:
        return None
    body = py_plain_body(raw, mode)
    if body is None:
        return None
    if not body and keep_empty:
        return raw
    cums = array("Q", cum)
    i = bisect_right(cums, int.from_bytes(digest(body)[:8], "big") % cums[-1])
    return pool[i] if i < len(pool) else None


def str_field(mode: int, fn, null, keep_empty: bool = False):
    """raw -> fn(value)'s field (see the module's docstring): C when built, else the twin."""
    if _STR_FIELD is not None:
        return partial(_STR_FIELD, mode, fn, null, keep_empty)
    return partial(py_str_field, mode, fn, null, keep_empty)


def list_field(mode: int, sep: bytes, inner, null: bytes):
    if _LIST_FIELD is not None:
        return partial(_LIST_FIELD, mode, sep, inner, null)
    return partial(py_list_field, mode, sep, inner, null)


def cum_pick(prf, mode: int, pool: tuple, cum: list[int], keep_empty: bool):
    """The weighted pick over `pool` (cum: the cumulative weights, each < 2**64); None when a
    total of 2**64 or more does not fit (the caller's other path)."""
    if not cum or cum[-1] >= 1 << 64 or len(cum) != len(pool) or array("Q").itemsize != 8:
        return None
    packed = array("Q", cum).tobytes()
    if _CUM_PICK is not None and type(prf.state) is bytes:
        return partial(_CUM_PICK, prf.state, mode, pool, packed, keep_empty)
    return partial(py_cum_pick_field, prf.digest, mode, pool, packed, keep_empty)


_SHAPE_FIELD = speedups.function("shape_field")
_CHARSUB_FIELD = speedups.function("charsub_field")
SHAPE_PARTIAL, SHAPE_EMAIL, SHAPE_PREFIX = 1, 2, 3
_SHAPE_MAX = 1 << 40      # first / last / length past any value's length: the same result


def shape_field(mode: int, kind: int, a: int, b: int, fill: str, fn, null):
    """partial / partial.email / generalize.prefix on a plain raw field in C (shape_field in
    _speedups.c: the characters their __call__ keeps, the others `fill`); without C (or a fill
    with surrogates) str_field over their __call__ `fn`, its twin."""
    try:
        fill_b = fill.encode("utf-8")
    except UnicodeEncodeError:
        fill_b = None
    if _SHAPE_FIELD is None or fill_b is None:
        return str_field(mode, fn, null)
    return partial(_SHAPE_FIELD, mode, kind, min(a, _SHAPE_MAX), min(b, _SHAPE_MAX), fill_b)


from re import _constants as _sre_c, _parser as _sre_p   # noqa: E402 (re's own parser: Python >= 3.11, pyproject)

_CATEGORIES = {"CATEGORY_DIGIT": 1, "CATEGORY_NOT_DIGIT": 2, "CATEGORY_SPACE": 3, "CATEGORY_NOT_SPACE": 4,
               "CATEGORY_WORD": 5, "CATEGORY_NOT_WORD": 6}
_MAX_CP = 0x10FFFF


def one_char_set(pattern: str, flags: int):
    """(items, negate, plus) of charsub_field when `pattern` (a str pattern compiled with
    `flags`) matches exactly one character of a set (a literal, `.`, a class, \\d \\s \\w and
    their negations), or a greedy / possessive run of them (`+`): re.sub replaces each such
    character (run). None for anything else (case-insensitive, ASCII or locale matching,
    groups, other repeats, anchors, alternations: the Python call)."""
    try:
        with warnings.catch_warnings():    # re.compile warned already (a FutureWarning)
            warnings.simplefilter("ignore")
            p = _sre_p.parse(pattern, flags)
    except Exception:  # noqa: BLE001 - not for this path (compiling it is the rules' check)
        return None
    allowed = _sre_c.SRE_FLAG_UNICODE | _sre_c.SRE_FLAG_VERBOSE | _sre_c.SRE_FLAG_MULTILINE | _sre_c.SRE_FLAG_DOTALL
    if p.state.flags & ~allowed or not p.state.flags & _sre_c.SRE_FLAG_UNICODE or len(p) != 1:
        return None
    op, av = p[0]
    plus = False
    if op in (_sre_c.MAX_REPEAT, _sre_c.POSSESSIVE_REPEAT):
        lo, hi, sub = av
        if lo != 1 or hi not in (1, _sre_c.MAXREPEAT) or len(sub) != 1:
            return None
        plus = hi == _sre_c.MAXREPEAT
        op, av = sub[0]
    items, negate = [], False
    if op is _sre_c.LITERAL:
        items.append((0, av, av))
    elif op is _sre_c.NOT_LITERAL:
        items.append((0, av, av))
        negate = True
    elif op is _sre_c.ANY:
        if p.state.flags & _sre_c.SRE_FLAG_DOTALL:
            items.append((0, 0, _MAX_CP))
        else:
            items.append((0, 10, 10))
            negate = True
    elif op is _sre_c.IN:
        for i, (iop, iav) in enumerate(av):
            if iop is _sre_c.NEGATE and i == 0:
                negate = True
            elif iop is _sre_c.LITERAL:
                items.append((0, iav, iav))
            elif iop is _sre_c.RANGE:
                items.append((0, iav[0], iav[1]))
            elif iop is _sre_c.CATEGORY and str(iav) in _CATEGORIES:
                items.append((_CATEGORIES[str(iav)], 0, 0))
            else:
                return None
    else:
        return None
    if not items or len(items) > 64:
        return None
    return array("I", [x for it in items for x in it]).tobytes(), negate, plus


def charsub_field(mode: int, pattern: str, flags: int, replace: str, limit: int | None, fn, null):
    """regex with a literal `replace` (no backslash: re.sub's literal) of a one-character
    pattern (one_char_set) in C (charsub_field in _speedups.c); else str_field over __call__
    `fn` (its twin, and every other regex)."""
    spec = one_char_set(pattern, flags) if _CHARSUB_FIELD is not None and "\\" not in replace else None
    try:
        repl = replace.encode("utf-8")
    except UnicodeEncodeError:
        spec = None
    if spec is None or array("I").itemsize != 4:
        return str_field(mode, fn, null)
    items, negate, plus = spec
    return partial(_CHARSUB_FIELD, mode, items, negate, plus, repl, -1 if limit is None else limit)
