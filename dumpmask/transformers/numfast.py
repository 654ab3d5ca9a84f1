"""Raw numeric and date fields of noise, generalize.bucket, generalize.topcode and
generalize.date without decoding and without Decimal (issue #13): the C function num_field
(dumpmask._speedups, the NUMFAST section) when built, else the pure-Python twin below,
`py_num_field`, which gives the same bytes (tests/test_numfast.py holds the two to each other
and both to the general path: decode, the transformer's __call__, encode).

A *plan* (a tuple of integers, `PLAN_LEN` of them, made once per column by the transformer's
field_fast) says which mutation and with which exact constants (the options and the column's
clamps as decimal coefficients and exponents); `num_field(plan, extra, state, mode, raw)`:

- mode 0: `raw` is a COPY text field; mode 1: a mysqldump literal, either '...' or, for a
  number column, a bare number (written back bare, as my_field_fns writes a number);
- returns the new field (the dialect's bytes), `raw` itself when the value stays, or None
  whenever identity with the general path is not proven: anything but the plain forms below
  (blanks around it, an exponent, NaN/Infinity, a sign '+', more than 18 digits, non-ASCII, an
  escape, NULL, an empty value, a zero whose sign Decimal would keep, a result Decimal would
  write in exponent form, a rounding too close to a tie for the proof below). The caller then
  takes the general path, which also raises what it raises (MaskingError).

Numbers: `-?[0-9]+(\\.[0-9]+)?`, at most 18 digits: V * 10^-s, exact in an int64.

noise (relative r or absolute a, an amount A = a * 10^-ea): Noise.make computes, in Decimal's
28-digit context, u = N / 2^63 - 1 (N the digest's first 8 bytes), move = |v|*A*u (or A*u), and
quantizes v + move to the input's decimals (an integer column: to units). In units of that
quantum the exact value is V + M/D with M = B * (N - 2^63), D = 2^63 * 10^x (B = |V|*a or a*10^s,
scaled by 10^e when e >= 0), all exact in 128 bits. Decimal's roundings move it by less than
(|V| + 2P) * 2e-27 quanta (two roundings of u, one of the product, one of the sum; P < 2^63 the
move's bound): under 4e-8. The fast path rounds the exact value half-even when it is more than
2^-20 quanta away from a tie (then every value within that error rounds the same way), else
None. The clamps (int_min/int_max, numeric(p, s)'s 10^(p-s) - q) are exact comparisons.

bucket (width W * 10^-ew, |V| < 10^18, W < 10^9, ew <= 9): |v / width| * 10^27 exceeds its
distance to the next integer's... no: the quotient's 28-digit rounding cannot reach an integer
(the distance of a non-integral V*10^ew / (W*10^s) to one is at least 1/(W*10^s), more than its
rounding error |V| * 10^ew * 10^-27 / (W*10^s)), so floor is exact integer division; the product
and the quantize are exact integer operations (half-even).

topcode: an exact comparison with the cap; the written cap per number of decimals is computed
once by the general formula (`extra`).

dates (noise days, generalize.date): ASCII `YYYY-MM-DD` (generalize.date: `-?Y{4,}-MM-DD`) and
the rest of the value, printable ASCII without backslash or quotes (nothing any dialect
escapes), no blank at either end.
"""
from __future__ import annotations

import re
from decimal import Decimal
from functools import partial

from dumpmask import speedups

from .fastprf import py_prf_digest

_C_NUM = speedups.function("num_field")
_C_DIGEST = speedups.function("prf_digest")

OP_NOISE, OP_DAYS, OP_BUCKET, OP_TOPCODE, OP_TRUNC = 1, 2, 3, 4, 5
#: plan: (op, is_int, bare_ok, has_min, int_min, has_max, int_max, prec, p1, p2, p3, p4)
PLAN_LEN = 12
MAXD = 18                   # digits of a number the fast path takes
MAXLEN = 100                # bytes of a value the fast path takes
TOPK = 19                   # topcode's written caps: for 0..18 decimals
_INT64 = (-(1 << 63), (1 << 63) - 1)
_SIMPLE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
#: bytes of a date's rest the fast path copies: printable ASCII but backslash and quotes
_REST_OK = frozenset(range(0x20, 0x7F)) - {0x5C, 0x27, 0x22}
_TWO63 = 1 << 63


def simple_number(s: str) -> bool:
    """`s` is what the fast path writes bare for a bare MySQL number: -?[0-9]+(.[0-9]+)?"""
    return _SIMPLE.fullmatch(s) is not None


def decimal_parts(d: Decimal, max_coef: int, max_exp: int) -> tuple[int, int] | None:
    """(c, e) with d == c * 10^-e exactly, 0 <= e <= max_exp and |c| < max_coef, else None."""
    if not d.is_finite():
        return None
    sign, digits, exp = d.as_tuple()
    c = int("".join(map(str, digits)) or "0")
    if exp > 0:
        c *= 10 ** exp
        exp = 0
    e = -exp
    if e > max_exp or c >= max_coef:
        return None
    return (-c if sign else c), e


def column_plan(op: int, column) -> list[int] | None:
    """The column part of a plan, or None when a clamp is of a shape the fast path leaves alone."""
    kind = column.kind
    is_int = kind == "int"
    lo, hi = column.int_min, column.int_max
    if not is_int and (lo is not None or hi is not None):
        return None
    for b in (lo, hi):
        if b is not None and not _INT64[0] <= b <= _INT64[1]:
            return None
    prec = -1
    if column.precision and kind == "numeric":
        prec = column.precision - (column.scale or 0)
        if prec < 0:
            return None
    return [op, int(is_int), int(kind in ("int", "numeric", "float", "year")), int(lo is not None), lo or 0,
            int(hi is not None), hi or 0, prec]


def field_function(plan: list[int], extra, prf, mode: int, pure: bool = False):
    """raw -> the new field or None (see the module's docstring), bound to its plan: C when built."""
    plan = tuple(plan)
    assert len(plan) == PLAN_LEN
    state = prf.state if prf is not None else None
    if _C_NUM is not None and not pure and (prf is None or type(state) is bytes):
        return partial(_C_NUM, plan, extra, state, mode)
    return partial(py_num_field, plan, extra, state, mode)


# --------------------------------------------------------------------------- the pure twin

def _parse(b: bytes):
    """(V, s) of a plain number (see the module's docstring), else None."""
    neg = b[:1] == b"-"
    body = b[1:] if neg else b
    ip, dot, fp = body.partition(b".")
    if not ip or not ip.isdigit() or not ip.isascii() or (dot and (not fp or not fp.isdigit() or not fp.isascii())):
        return None
    if len(ip) + len(fp) > MAXD:
        return None
    v = int(ip + fp)
    return (-v if neg else v), len(fp)


def _fmt(q: int, k: int) -> bytes | None:
    """str(Decimal) of q * 10^-k; None for zero or where it writes an exponent."""
    if q == 0:
        return None
    c = str(abs(q))
    if len(c) - 1 - k < -6:
        return None
    if k == 0:
        s = c
    elif len(c) > k:
        s = c[:len(c) - k] + "." + c[len(c) - k:]
    else:
        s = "0." + "0" * (k - len(c)) + c
    return (("-" + s) if q < 0 else s).encode()


def _round_half_even(num: int, den: int) -> int:
    """num / den (den > 0) rounded half-even, exactly."""
    f, r = divmod(num, den)
    t = 2 * r - den
    return f + 1 if t > 0 or (t == 0 and f & 1) else f


def _days_before_year(y: int) -> int:
    y -= 1
    return y * 365 + y // 4 - y // 100 + y // 400


_DBM = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_DIM = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _ordinal(y: int, m: int, d: int) -> int | None:
    if not (1 <= y <= 9999 and 1 <= m <= 12):
        return None
    dim = 29 if m == 2 and _leap(y) else _DIM[m]
    if not 1 <= d <= dim:
        return None
    return _days_before_year(y) + _DBM[m] + (m > 2 and _leap(y)) + d


def _from_ordinal(n: int) -> tuple[int, int, int]:
    """The inverse of _ordinal (datetime's ord2ymd)."""
    n -= 1
    n400, n = divmod(n, 146097)
    y = n400 * 400 + 1
    n100, n = divmod(n, 36524)
    n4, n = divmod(n, 1461)
    n1, n = divmod(n, 365)
    y += n100 * 100 + n4 * 4 + n1
    if n1 == 4 or n100 == 4:
        return y - 1, 12, 31
    leap = n1 == 3 and (n4 != 24 or n100 == 3)
    m = (n + 50) >> 5
    before = _DBM[m] + (m > 2 and leap)
    if before > n:
        m -= 1
        before -= _DIM[m] + (m == 2 and leap)
    return y, m, n - before + 1


def _digest(state, body: bytes) -> bytes:
    """The PRF digest of the value's bytes: the state of a C Prf (bytes) or of a pure one; 8
    bytes are the digest itself (the tests' chosen digests, for both twins)."""
    if type(state) is bytes:
        return state if len(state) == 8 else _C_DIGEST(state, body)
    return py_prf_digest(state, body)


def _rest_ok(b: bytes) -> bool:
    return all(c in _REST_OK for c in b) and b[:1] != b" " and b[-1:] != b" "


def _tz(rest: bytes) -> bytes:
    """generalize.date's zone: re.search(r"([+-]\\d\\d(?::?\\d\\d)?|Z| [A-Z]{3,5})$", rest),
    the leftmost start whose match reaches the end (printable ASCII: $ is the end)."""
    n = len(rest)
    starts = []
    if n >= 1 and rest[-1:] == b"Z":
        starts.append(n - 1)
    for length, digits_at in ((3, (1, 2)), (5, (1, 2, 3, 4)), (6, (1, 2, 4, 5))):
        s = n - length
        if s >= 0 and rest[s] in b"+-" and all(0x30 <= rest[s + i] <= 0x39 for i in digits_at) \
                and (length != 6 or rest[s + 3] == 0x3A):
            starts.append(s)
    for letters in (3, 4, 5):
        s = n - letters - 1
        if s >= 0 and rest[s] == 0x20 and all(0x41 <= c <= 0x5A for c in rest[s + 1:]):
            starts.append(s)
    return rest[min(starts):] if starts else b""


def py_num_field(plan: tuple, extra, state, mode: int, raw: bytes):
    """num_field's pure twin (see the module's docstring)."""
    if type(raw) is not bytes:
        return None
    op, is_int, bare_ok, has_min, int_min, has_max, int_max, prec, p1, p2, p3, p4 = plan
    quoted = False
    if mode == 1 and raw[:1] == b"'":
        if len(raw) < 2 or raw[-1:] != b"'":
            return None
        body = raw[1:-1]
        quoted = True
    elif mode == 1:
        if not bare_ok or op in (OP_DAYS, OP_TRUNC):
            return None
        body = raw
    else:
        body = raw
    if not body or len(body) > MAXLEN:
        return None
    if op in (OP_DAYS, OP_TRUNC):
        s = _date_op(op, body, plan, state)
    else:
        s = _number_op(op, body, plan, extra, state, mode, quoted)
        if type(s) is tuple:        # topcode's prepared field
            return s[0]
    if s is None:
        return None
    if s is body:
        return raw
    return b"'" + s + b"'" if quoted else s


def _number_op(op, body, plan, extra, state, mode, quoted):
    _op, is_int, _bare, has_min, int_min, has_max, int_max, prec, p1, p2, p3, _p4 = plan
    p = _parse(body)
    if p is None:
        return None
    V, s = p
    if op == OP_TOPCODE:
        T, et = p1, p2
        if V * 10 ** et <= T * 10 ** s:
            return body
        k = 0 if is_int else s
        if k >= TOPK:
            return None
        table = extra[0] if mode == 0 or quoted else extra[1]
        out = table[k]
        return None if out is None else (out,)
    if is_int and s:
        return None
    k = s
    if op == OP_BUCKET:
        W, ew = p1, p2
        fl = (V * 10 ** ew) // (W * 10 ** s)
        low = fl * W                        # * 10^-ew
        if has_min and low < int_min * 10 ** ew:
            return str(int_min).encode()    # (an integer column: the only one with int_min)
        if is_int:
            return str(low // 10 ** ew).encode()
        q = low * 10 ** (k - ew) if k >= ew else _round_half_even(low, 10 ** (ew - k))
        if len(str(abs(q))) > 27:
            return None
        return _fmt(q, k)
    # OP_NOISE: p1 relative, p2 a, p3 ea
    if V == 0 and p1:
        return None
    a, ea = p2, p3
    N = int.from_bytes(_digest(state, body)[:8], "big")
    B = abs(V) * a if p1 else a
    e = -ea if p1 else s - ea
    if e >= 0:
        B *= 10 ** e
        D = _TWO63
    else:
        D = _TWO63 * 10 ** (-e)
    if B >= _TWO63:
        return None
    M = B * (N - _TWO63)
    f, r = divmod(M, D)
    t = 2 * r - D
    if abs(t) <= D >> 19:
        return None
    out = V + f + (1 if t > 0 else 0)
    if out == 0:
        return None
    if has_min and out < int_min:
        out = int_min
    if has_max and out > int_max:
        out = int_max
    if prec >= 0:
        x = prec + k
        if x < 20:                          # (10^prec - q exact: x digits; from 20 on it is
            top = 10 ** x - 1               # above every result, |out| < 2^64)
            if top == 0:
                return None
            out = max(min(out, top), -top)
    if out == 0:
        return b"0"      # only a clamp to an unsigned column's 0: Decimal(0)
    return _fmt(out, k)


def _date_op(op, body, plan, state):
    if not body.isascii() or not _rest_ok(body):
        return None
    if op == OP_DAYS:
        if len(body) < 10 or body[4:5] != b"-" or body[7:8] != b"-" or not body[:4].isdigit() \
                or not body[5:7].isdigit() or not body[8:10].isdigit():
            return None
        n = _ordinal(int(body[:4]), int(body[5:7]), int(body[8:10]))
        if n is None:
            return None
        span = plan[8]
        N = int.from_bytes(_digest(state, body)[:8], "big")
        n += N % (2 * span + 1) - span
        if not 1 <= n <= 3652059:
            return body                     # past the calendar: the value stays
        y, m, dd = _from_ordinal(n)
        return b"%04d-%02d-%02d" % (y, m, dd) + body[10:]
    # OP_TRUNC: p1 to-year, p2 date column
    i = 1 if body[:1] == b"-" else 0
    j = i
    while j < len(body) and 0x30 <= body[j] <= 0x39:
        j += 1
    if j - i < 4 or body[j:j + 1] != b"-" or not body[j + 1:j + 3].isdigit() or len(body[j + 1:j + 3]) != 2 \
            or body[j + 3:j + 4] != b"-" or not body[j + 4:j + 6].isdigit() or len(body[j + 4:j + 6]) != 2:
        return None
    y, mo, rest = body[:j], body[j + 1:j + 3], body[j + 6:]
    day = y + (b"-01-01" if plan[8] else b"-" + mo + b"-01")
    if plan[9] or not rest:
        return day + (b" BC" if rest.strip(b" ").upper() == b"BC" else b"")
    return day + b" 00:00:00" + _tz(rest)
