"""The raw number and date paths of noise, generalize.bucket, generalize.topcode and
generalize.date (transformers/numfast.py; issue #13) give the bytes of the general path (decode,
the transformer's Decimal / regex __call__, encode), and its errors, for every raw field: both
dialects (a COPY text field; a mysqldump '...' literal or bare number), integers of every width,
decimals with many places, exponents, NaN/Infinity, blanks, signs, zeros, dates with BC, zones,
fractions, infinity, NULL. The C function (num_field) and its pure twin (py_num_field) are held
to each other on the same plans, and the fast path is checked to be taken where it should be
(a path that always said "not proven" would pass the comparisons and be of no use)."""
from __future__ import annotations

from decimal import Decimal
from functools import partial

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TEST_KEY
from dumpmask.crypto import Key
from dumpmask.dialects import mysql_lex, postgres
from dumpmask.dialects.base import UNCHANGED
from dumpmask.schema import Column
from dumpmask.transformers import REGISTRY, numfast
from dumpmask.transformers.fastprf import Prf
from dumpmask.work import Tally, my_field_fns, pg_field_fns

KEY = Key(TEST_KEY)


class General:
    """A value function without the fast hooks: work.py's general (decode, call, encode) path."""

    def __init__(self, t):
        self.uncached = getattr(t, "uncached", t)

    def __call__(self, v):
        return self.uncached(v)


COLS = {
    "integer": Column(name="n", type="integer", kind="int", int_min=-(1 << 31), int_max=(1 << 31) - 1),
    "smallint": Column(name="n", type="smallint", kind="int", int_min=-(1 << 15), int_max=(1 << 15) - 1),
    "bigint": Column(name="n", type="bigint", kind="int", int_min=-(1 << 63), int_max=(1 << 63) - 1),
    "int unsigned": Column(name="n", type="int unsigned", kind="int", int_min=0, int_max=(1 << 32) - 1),
    "int": Column(name="n", type="int", kind="int"),
    "numeric(10,2)": Column(name="n", type="numeric(10,2)", kind="numeric", precision=10, scale=2),
    "numeric(4,0)": Column(name="n", type="numeric(4,0)", kind="numeric", precision=4, scale=0),
    "numeric(3,3)": Column(name="n", type="numeric(3,3)", kind="numeric", precision=3, scale=3),
    "numeric(30,5)": Column(name="n", type="numeric(30,5)", kind="numeric", precision=30, scale=5),
    "numeric": Column(name="n", type="numeric", kind="numeric"),
    "double": Column(name="n", type="double precision", kind="float"),
    "date": Column(name="d", type="date", kind="date"),
    "timestamp": Column(name="t", type="timestamp without time zone", kind="timestamp"),
    "timestamptz": Column(name="t", type="timestamp with time zone", kind="timestamp"),
}
NUMBER_COLS = [c for c in COLS if COLS[c].kind in ("int", "numeric", "float")]
DATE_COLS = ["date", "timestamp", "timestamptz"]

NUMBER_OPTIONS = {
    "noise": [{"relative": 0.1}, {"relative": 0.5}, {"relative": 2.5}, {"relative": 1e-05}, {"relative": 0.3333},
              {"absolute": 5}, {"absolute": 1}, {"absolute": 0.01}, {"absolute": 1000}, {"absolute": 123456789},
              {"absolute": 1e20}, {"relative": 0.1, "empty": "mask"}],
    "generalize.bucket": [{"width": 10}, {"width": 1}, {"width": 7}, {"width": 1000000}, {"width": 0.5},
                          {"width": 0.25}, {"width": 2.5}, {"width": 10.0}, {"width": 1e-09}, {"width": 1e12}],
    "generalize.topcode": [{"max": 100000}, {"max": 90}, {"max": 0}, {"max": "-1.25"}, {"max": 0.5},
                           {"max": "12345.678"}, {"max": "1E+5"}, {"max": 1e30}, {"max": "0.0000001"}],
}
SWEEP = ([str(i) for i in range(-130, 131, 3)] + [f"{i / 10:.1f}" for i in range(-130, 131, 3)]
         + [f"{i / 100:.2f}" for i in range(-260, 261, 7)] + [f"{i / 1000:.3f}" for i in range(-2600, 2601, 71)])
DATE_OPTIONS = {
    "noise": [{"days": 1}, {"days": 30}, {"days": 365000}, {"days": 10 ** 7}, {"days": 30, "empty": "mask"}],
    "generalize.date": [{"to": "year"}, {"to": "month"}],
}


def _cases():
    out = []
    for name, opts_list in NUMBER_OPTIONS.items():
        for opts in opts_list:
            for col in NUMBER_COLS:
                out.append((name, opts, col))
    for name, opts_list in DATE_OPTIONS.items():
        for opts in opts_list:
            for col in DATE_COLS:
                out.append((name, opts, col))
    return out


def build(name, opts, col):
    cls = REGISTRY[name]
    column = COLS[col]
    try:
        t = cls(KEY, dict(opts), column)
    except Exception:  # noqa: BLE001 - an option that does not fit the column (an int column's width 0.5)
        return None
    if cls.type_error(column, t.options) is not None:
        return None
    t.bind_dialect("postgres")
    return t


CASES = [c for c in _cases() if build(*c) is not None]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in o.items())}-{c}" for n, o, c in CASES]

# --- raw values


EDGE_NUMBERS = [
    "0", "-0", "00", "0.0", "-0.0", "0.000", "-0.00", "1", "-1", "7", "9", "10", "-10", "11", "15", "-15", "25",
    "99999", "100000", "100001", "-100000", "89", "90", "91", "0.5", "-0.5", "1.25", "-1.25", "-1.24", "-1.26",
    "0.49", "0.51", "1.5", "2.5", "1.3", "-1.3", "1.7", "-1.7", "0.3", "12.8", "-12.8", "3.14", "-3.14",
    "1.1", "-2.5", "0.0000001", "0.00000001", "1234567.891", "12345678.9",
    "32767", "32768", "-32768", "-32769", "2147483647", "2147483648", "-2147483648", "-2147483649",
    "4294967295", "4294967296", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
    "999999999999999999", "-999999999999999999", "1000000000000000000", "123456789012345678",
    "0.123456789012345678", "-0.000000000000000001", "99999999.99", "-99999999.99", "9999", "-9999", "0.999",
    "1e3", "1E3", "-1.5e10", "1.5e-07", "NaN", "nan", "Infinity", "-Infinity", "inf", "+5", "+0", " 5", "5 ",
    " -5 ", ".5", "5.", "-", "--5", "1_000", "0x10", "1,5", "١٢", "12abc", "", "007", "-007.50", "0012.3400",
]
EDGE_DATES = [
    "2020-01-02", "2020-02-29", "2021-02-29", "2020-13-01", "2020-00-10", "2020-01-00", "2020-01-32",
    "0000-01-01", "0001-01-01", "9999-12-31", "0001-01-01 BC", "2020-01-02 BC", "2020-01-02 bc", "2020-01-02 Bc ",
    "2020-01-02  BC", "2020-01-02 12:34:56", "2020-01-02 12:34:56.123456", "2020-01-02 12:34:56+02",
    "2020-01-02 12:34:56-05:30", "2020-01-02 12:34:56+0530", "2020-01-02T12:34:56Z", "2020-01-02 12:34:56 PST",
    "2020-01-02 12:34:56 Europe/Paris", "2020-01-02 12:34:56 BC", "2020-01-02 12:34:56+02 BC",
    "2020-01-02 12:34:56.5+02:00", "2020-01-02 00:00:00", "2020-01-02 12:34:56 UTC", "2020-01-02 12:34:56 ABCDEF",
    "2020-01-02 12:34:56 utc", "2020-01-02 12:34:56 Pst", "2020-01-02 12:34:56 AB", "2020-01-02 12:34:56 AB[D",
    "2020-01-02 12:34:56+05:3", "2020-01-02 12:34:56+5", "2020-01-02 12:34:56-0", "2020-01-02 12:34:56 Z",
    "2020-01-02+1", "2020-01-02+12", "2020-01-02 +12", "2020-01-02Z", "2020-01-02 Z", "20201-01-02",
    "-0044-03-15", "-44-03-15", "12345-06-07 10:00:00", "2020-1-02", "2020/01/02", "infinity", "-infinity",
    "Infinity", " 2020-01-02", "2020-01-02 ", "2020-01-02\t", "2020-01-02\n", "2020-01-02 é", "２０２０-01-02",
    "2020-01-02 it's", '2020-01-02 "q"', "2020-01-02 a\\b", "", "2020-01-0", "2020-01-02" + "x" * 120,
]


@st.composite
def number_text(draw):
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return str(draw(st.integers(-(1 << 64), 1 << 64)))
    if kind == 1:
        return str(draw(st.integers(-10 ** 6, 10 ** 6)))
    if kind == 2:
        d = draw(st.decimals(allow_nan=False, allow_infinity=False, places=draw(st.integers(0, 20))))
        return format(d, "f")
    if kind == 3:
        ip = draw(st.text("0123456789", min_size=1, max_size=20))
        fp = draw(st.text("0123456789", min_size=0, max_size=20))
        return draw(st.sampled_from(["", "-"])) + ip + ("." + fp if fp else "")
    if kind == 4:
        return str(draw(st.decimals(allow_nan=True, allow_infinity=True)))
    if kind == 5:
        return str(draw(st.floats(allow_nan=True, allow_infinity=True)))
    return draw(st.sampled_from(EDGE_NUMBERS))


@st.composite
def date_text(draw):
    kind = draw(st.integers(0, 3))
    if kind == 3:
        return draw(st.sampled_from(EDGE_DATES))
    y = draw(st.one_of(st.integers(0, 9999), st.integers(0, 99999)))
    ys = draw(st.sampled_from(["%04d", "%d", "-%04d"])) % y
    m, d = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    rest = draw(st.sampled_from(["", " BC", " bc", " 12:34:56", " 23:59:59.999999", " 01:02:03+02", " 01:02:03-05:30",
                                 " 01:02:03+0530", "T01:02:03Z", " 01:02:03 CEST", " 01:02:03 BC", " 01:02:03+02 BC",
                                 " 01:02:03 Asia/Tokyo", "x", " ", "\t"]))
    if kind == 2:
        rest = draw(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=12))
    return f"{ys}-{m:02d}-{d:02d}{rest}"


def raw_forms(s: str, number: bool):
    """The raw fields a dump holds for the value s: COPY text (mode 0), MySQL literals (mode 1)."""
    b = s.encode("utf-8", "surrogatepass")
    my = [mysql_lex.encode_string(b)]
    if number and s and " " not in s:
        my.append(b)                     # a bare number as mysqldump writes numbers
    return [postgres.copy_encode(s)], my


NULLS = ([b"\\N"], [b"NULL", b"null", b"'NULL'", b"''"])


def outcome(miss, raw):
    try:
        r = miss(raw)
    except Exception as e:  # noqa: BLE001 - both paths must raise the same
        return ("error", type(e).__name__, str(e))
    if r is UNCHANGED:
        return ("unchanged",)
    return ("bytes", r)


class Pair:
    """The fast and the general field functions of one case, both dialects."""

    def __init__(self, name, opts, col):
        t = build(name, opts, col)
        g = build(name, opts, col)
        kind = COLS[col].kind
        self.pg = pg_field_fns(t, kind, "n", Tally()).miss
        self.pg_general = pg_field_fns(General(g), kind, "n", Tally()).miss
        tm = build(name, opts, col)
        tm.bind_dialect("mysql")
        gm = build(name, opts, col)
        gm.bind_dialect("mysql")
        self.my = my_field_fns(tm, kind, "n", Tally()).miss
        self.my_general = my_field_fns(General(gm), kind, "n", Tally()).miss
        self.t = t
        self.number = kind in ("int", "numeric", "float") and opts.get("days") is None

    def check(self, s: str):
        pg_raws, my_raws = raw_forms(s, self.number)
        for raw in pg_raws + NULLS[0]:
            assert outcome(self.pg, raw) == outcome(self.pg_general, raw), (raw, "pg")
        for raw in my_raws + NULLS[1]:
            assert outcome(self.my, raw) == outcome(self.my_general, raw), (raw, "mysql")


_PAIRS: dict = {}


def _freeze(o):
    return tuple(sorted(o.items()))


def _case_pair(case):
    name, opts, col = case
    key = (name, _freeze(opts), col)
    p = _PAIRS.get(key)
    if p is None:
        p = _PAIRS[key] = Pair(name, opts, col)
    return p


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_edge_values_fast_equals_general(case):
    p = _case_pair(case)
    for s in (EDGE_NUMBERS + SWEEP if p.number else EDGE_DATES):
        p.check(s)


NUMBER_CASES = [c for c in CASES if _case_pair(c).number]
DATE_CASES = [c for c in CASES if not _case_pair(c).number]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(NUMBER_CASES), s=number_text())
def test_numbers_fast_equals_general(case, s):
    _case_pair(case).check(s)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(DATE_CASES), s=date_text())
def test_dates_fast_equals_general(case, s):
    _case_pair(case).check(s)


# --- noise near the rounding ties: values whose exact result is close to a half quantum


@settings(max_examples=400, deadline=None)
@given(v=st.integers(-10 ** 18 + 1, 10 ** 18 - 1), places=st.integers(0, 6),
       opts=st.sampled_from(NUMBER_OPTIONS["noise"][:9]), col=st.sampled_from(["bigint", "numeric", "double"]))
def test_noise_any_integer_and_places(v, places, opts, col):
    s = str(v) if places == 0 or col == "bigint" else str(Decimal(v).scaleb(-places))
    _case_pair(("noise", opts, col)).check(s)


# --- the C function and its pure twin on the same plans


def _fast_fn(t, mode):
    enc = (lambda s: postgres.copy_encode(s)) if mode == 0 else (lambda s: mysql_lex.encode_string(s.encode()))
    return t.field_fast(mode, enc)


def _has_fast(case) -> bool:
    f = _fast_fn(_case_pair(case).t, 0)
    return isinstance(f, partial) and f.func in (numfast._C_NUM, numfast.py_num_field)


def _twins(t, mode):
    f = _fast_fn(t, mode)
    assert isinstance(f, partial) and len(f.args) == 4, f
    plan, extra, state, m = f.args
    pure_state = None
    if state is not None:
        pure_state = Prf(t.key, t._prf_domain, t.digest_size, pure=True).state
    return f, partial(numfast.py_num_field, plan, extra, pure_state, m)


needs_c = pytest.mark.skipif(numfast._C_NUM is None, reason="the C extension is not built (or DUMPMASK_PURE=1)")


@needs_c
@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from([c for c in CASES if _has_fast(c)]), data=st.data())
def test_c_equals_pure_twin(case, data):
    p = _case_pair(case)
    s = data.draw(number_text() if p.number else date_text())
    pg_raws, my_raws = raw_forms(s, p.number)
    for mode, raws in ((0, pg_raws + NULLS[0]), (1, my_raws + NULLS[1])):
        c, py = _twins(p.t, mode)
        assert c.func is numfast._C_NUM
        for raw in raws:
            assert c(raw) == py(raw), (raw, mode)


@needs_c
@pytest.mark.parametrize("case", [c for c in CASES if _has_fast(c)], ids=[i for c, i in zip(CASES, IDS, strict=True) if _has_fast(c)])
def test_c_equals_pure_twin_edges(case):
    """(The cases whose options have a fast function: the others have nothing to compare.)"""
    p = _case_pair(case)
    for s in (EDGE_NUMBERS if p.number else EDGE_DATES):
        pg_raws, my_raws = raw_forms(s, p.number)
        for mode, raws in ((0, pg_raws), (1, my_raws)):
            c, py = _twins(p.t, mode)
            for raw in raws:
                assert c(raw) == py(raw), (raw, mode)


# --- the fast path is taken where it should be


TAKEN = [("noise", {"relative": 0.1}, "integer"), ("noise", {"absolute": 5}, "numeric(10,2)"),
         ("noise", {"relative": 0.1}, "double"), ("noise", {"days": 30}, "date"), ("noise", {"days": 30}, "timestamptz"),
         ("generalize.bucket", {"width": 10}, "integer"), ("generalize.bucket", {"width": 0.5}, "numeric"),
         ("generalize.topcode", {"max": 100000}, "integer"), ("generalize.topcode", {"max": "12345.678"}, "numeric"),
         ("generalize.date", {"to": "month"}, "date"), ("generalize.date", {"to": "year"}, "timestamptz")]


@pytest.mark.parametrize("case", TAKEN, ids=[f"{n}-{c}" for n, _o, c in TAKEN])
@pytest.mark.parametrize("pure", [False, True], ids=["c", "pure"])
def test_fast_path_taken(case, pure):
    p = _case_pair(case)
    if p.number:
        values = [str(v) for v in range(-500_000, 500_000, 7919)]
        if COLS[case[2]].kind != "int":
            values += [f"{v / 100:.2f}" for v in range(-50_000, 50_000, 791)]
    else:
        values = [f"{1990 + i % 30:04d}-{1 + i % 12:02d}-{1 + i % 28:02d}" + ("" if case[2] == "date" else " 12:34:56+02")
                  for i in range(300)]
    for mode in (0, 1):
        c, py = _twins(p.t, mode)
        fn = py if pure or numfast._C_NUM is None else c
        raws = [v.encode() if mode == 0 else b"'" + v.encode() + b"'" for v in values]
        if mode == 1 and p.number:
            raws += [v.encode() for v in values]
        taken = sum(fn(r) is not None for r in raws)
        assert taken >= 0.99 * len(raws), (taken, len(raws))


def test_unusual_plans_fall_back():
    """Options whose constants do not fit the exact arithmetic give no fast function (noise:
    PrfTransformer's own field path), so every value takes the general path."""
    assert build("generalize.bucket", {"width": 1e12}, "numeric").field_fast(0, postgres.copy_encode) is None
    assert build("generalize.topcode", {"max": 1e30}, "numeric").field_fast(0, postgres.copy_encode) is None
    f = build("noise", {"absolute": 1e20}, "numeric").field_fast(0, postgres.copy_encode)
    assert not (isinstance(f, partial) and f.func in (numfast._C_NUM, numfast.py_num_field))


# --- noise on chosen digests (8 bytes given as the state: both twins take them as the digest):
# exact ties of the half-even rounding, values next to them, the extremes of the unit


_NUMBER_OUT = __import__("dumpmask.work", fromlist=["_NUMBER_OUT"])._NUMBER_OUT
T63 = 1 << 63
CHOSEN_N = sorted({0, 1, 2, 3, 1 << 62, T63 - 1, T63, T63 + 1, 3 << 62, (3 << 62) - 1, (3 << 62) + 1,
                   (3 << 62) - 1000, (3 << 62) + 1000, (1 << 61) * 5, (1 << 61) * 5 + 1, (1 << 64) - 1, (1 << 64) - 2,
                   0x9E3779B97F4A7C15, 0x0123456789ABCDEF, 0xFEDCBA9876543210})


def _expected(t, d: bytes, raw: bytes, mode: int):
    """make() with the digest d on the raw field's value, written as work.py writes it; None
    where the general path raises (the fast path must then say None too)."""
    bare = mode == 1 and raw[:1] != b"'"
    value = (raw if mode == 0 or bare else raw[1:-1]).decode()
    try:
        out = t.make(d, value)
    except Exception:  # noqa: BLE001
        return "error"
    if out == value:
        return raw
    if mode == 0:
        return postgres.copy_encode(out)
    if bare and _NUMBER_OUT.fullmatch(out):
        return out.encode()
    return mysql_lex.encode_string(out.encode())


NOISE_CASES = [c for c in CASES if c[0] == "noise" and _has_fast(c)]


@pytest.mark.parametrize("case", NOISE_CASES, ids=[IDS[CASES.index(c)] for c in NOISE_CASES])
def test_noise_chosen_digests(case):
    p = _case_pair(case)
    values = (EDGE_NUMBERS + ["2", "6", "10", "-2", "-6", "3", "5", "-3"]) if p.number else EDGE_DATES
    for mode in (0, 1):
        c, py = _twins(p.t, mode)
        plan, extra, _state, m = c.args
        for s in values:
            pg_raws, my_raws = raw_forms(s, p.number)
            for raw in (pg_raws if mode == 0 else my_raws):
                for n in CHOSEN_N:
                    d = n.to_bytes(8, "big")
                    got = numfast.py_num_field(plan, extra, d, m, raw)
                    if numfast._C_NUM is not None:
                        assert numfast._C_NUM(plan, extra, d, m, raw) == got, (raw, n)
                    if got is not None:
                        assert got == _expected(p.t, d, raw, mode), (raw, n)
