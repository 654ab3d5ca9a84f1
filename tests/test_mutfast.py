"""The fast field paths of the mutations (issue #13: <= 1.5 us per distinct value) give the bytes
of the general path: decode the raw field, call the mutation, encode the result. Compared
field by field on arbitrary raw COPY fields and MySQL literals, including the results'
identity where the engine's loops compare by identity (UNCHANGED, the NULL field)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REQUIRED_OPTIONS, TEST_KEY
from dumpmask.crypto import Key
from dumpmask.dialects import mysql_lex, postgres
from dumpmask.dialects.base import UNCHANGED
from dumpmask.schema import Column
from dumpmask.transformers import REGISTRY
from dumpmask.work import NULL_COPY, NULL_SQL, Tally, my_field_fns, pg_field_fns

KEY = Key(TEST_KEY)


class General:
    """A value function without the fast hooks: work.py's general (decode, call, encode) path."""

    def __init__(self, t):
        self.uncached = getattr(t, "uncached", t)

    def __call__(self, v):
        return self.uncached(v)


def outcome(miss, raw, null):
    """What the engine sees of one miss: UNCHANGED, the NULL field (by identity), new bytes,
    or the type of the error raised."""
    try:
        r = miss(raw)
    except Exception as e:  # noqa: BLE001 - both paths must raise the same
        return ("error", type(e).__name__)
    if r is UNCHANGED:
        return ("unchanged",)
    if r is null:
        return ("null",)
    assert isinstance(r, bytes), r
    assert r != null, "a NULL field that is not the engine's NULL object"
    return ("bytes", r)


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
TEXTISH = st.one_of(TEXT, st.text(alphabet="aZ9 -._\\\n\t\r'\"\x00\x1aé東", max_size=30))
COPY_RAW = st.one_of(
    TEXTISH.map(postgres.copy_encode),
    st.binary(max_size=30).filter(lambda b: b"\t" not in b and b"\n" not in b),
    st.sampled_from([b"", b"\\N", b"\\", b"a\\", b"\\x41", b"\\101", b"\\q", b"\\\\N", b"\xff\xfe"]),
)
MY_RAW = st.one_of(
    TEXTISH.map(lambda s: mysql_lex.encode_string(s.encode("utf-8", "surrogatepass"))),
    st.binary(max_size=30).map(mysql_lex.encode_string),
    st.binary(max_size=20).map(lambda b: b"'" + b + b"'"),
    st.sampled_from([b"''", b"NULL", b"null", b"\\N", b"12", b"-1.5e3", b"0x4142", b"X'41'", b"b'0101'",
                     b"_binary 'ab'", b"_utf8mb4'ab'", b"N'ab'", b"'a' 'b'", b"'it''s'", b"\"dq\"",
                     b"DEFAULT", b"NOW()", b"'a' + 'b'", b" 'a'", b"'a' ", b"'", b"'\\'", b"CONCAT('a','b')"]),
)

COLUMNS = {
    "text": Column(name="c", type="text", kind="text"),
    "varchar(12)": Column(name="c", type="character varying(12)", kind="text", length=12),
    "date": Column(name="d", type="date", kind="date"),
    "timestamp": Column(name="t", type="timestamp without time zone", kind="timestamp"),
    "bigint": Column(name="i", type="bigint", kind="int", int_min=-(1 << 63), int_max=(1 << 63) - 1),
}

CASES = []   # (mutation, options, column label)
for _name in sorted(n for n in REGISTRY if n != "key"):
    _cls = REGISTRY[_name]
    for _label, _col in COLUMNS.items():
        _base = REQUIRED_OPTIONS.get(_name, {})
        for _opts in ({**_base}, {**_base, "empty": "mask"}) if _cls.keeps_empty else ({**_base},):
            if _cls.type_error(_col, _cls.validate_options(dict(_opts)), "x" if _cls.takes_argument else None) is None:
                CASES.append((_name, _opts, _label))
CASES += [("faker.date", {"preserveYear": True}, "text"), ("faker.ipv4", {"private": True}, "text"),
          ("faker.iban", {"country": "GB"}, "text"), ("faker.iban", {"country": "NL"}, "varchar(12)"),
          ("faker.iban", {"country": "CH"}, "text"), ("hash", {"length": 7}, "text")]
_FNS: dict = {}


def _fns(name, options, label):
    k = (name, repr(options), label)
    if k not in _FNS:
        cls, col = REGISTRY[name], COLUMNS[label]
        made = []
        for general in (False, True):
            for dialect in ("postgres", "mysql"):
                t = cls(KEY, dict(options), col, "x" if cls.takes_argument else None)
                t.bind_dialect(dialect)
                made.append(General(t) if general else t)
        fast_pg, fast_my, gen_pg, gen_my = made
        _FNS[k] = (pg_field_fns(fast_pg, col.kind, col.name, Tally()).miss,
                   pg_field_fns(gen_pg, col.kind, col.name, Tally()).miss,
                   my_field_fns(fast_my, col.kind, col.name, Tally()).miss,
                   my_field_fns(gen_my, col.kind, col.name, Tally()).miss)
    return _FNS[k]


@pytest.mark.parametrize("name,options,label", CASES)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=st.lists(st.tuples(COPY_RAW, MY_RAW), min_size=1, max_size=8))
def test_fast_field_path_is_the_general_path(name, options, label, raws):
    fast_pg, gen_pg, fast_my, gen_my = _fns(name, options, label)
    for copy_raw, my_raw in raws:
        assert outcome(fast_pg, copy_raw, NULL_COPY) == outcome(gen_pg, copy_raw, NULL_COPY), copy_raw
        assert outcome(fast_my, my_raw, NULL_SQL) == outcome(gen_my, my_raw, NULL_SQL), my_raw


def test_keep_and_null_do_not_decode_an_escaped_field():
    """keep writes an escaped field back byte for byte and null replaces it, without the
    dialect's decoder (the cost of 5-12 us per value before)."""
    col = COLUMNS["text"]
    for name in ("keep", "null"):
        t = REGISTRY[name](KEY, {}, col)
        assert t.field_fast(0, lambda s: NULL_COPY if s is None else postgres.copy_encode(s))(b"a\\tb\\\\") == (
            b"a\\tb\\\\" if name == "keep" else NULL_COPY)
        assert t.field_fast(1, lambda s: NULL_SQL)(b"'a\\nb\\'c'") == (b"'a\\nb\\'c'" if name == "keep" else NULL_SQL)
        assert t.field_fast(1, lambda s: NULL_SQL)(b"NOW()") is None   # the general path refuses it


# --------------------------------------------------------------------------- C against make()

import importlib  # noqa: E402

from conftest import unavailable  # noqa: E402
from dumpmask.transformers.fastprf import domain_prefix  # noqa: E402

try:   # the C module itself (also under DUMPMASK_PURE=1, like tests/test_speedups.py)
    _C = importlib.import_module("dumpmask._speedups")
except ImportError:
    _C = None


@pytest.fixture
def c():
    if _C is None or not hasattr(_C, "fake_format"):
        unavailable("dumpmask._speedups is not built with its MUTATIONS section")
    return _C


FAKE_COLUMNS = list(COLUMNS.values()) + [
    Column(name="c", type="character varying(5)", kind="text", length=5),
    Column(name="c", type="character varying(40)", kind="text", length=40),
    Column(name="t", type="timestamp", kind="timestamp"),            # MySQL TIMESTAMP: 1970-2037
    Column(name="n", type="numeric(20,0)", kind="numeric", precision=20, scale=0),
    Column(name="u", type="uuid", kind="uuid"),
    Column(name="i", type="integer", kind="int", int_min=-(1 << 31), int_max=(1 << 31) - 1),
    Column(name="i", type="smallint unsigned", kind="int", int_min=0, int_max=65535),
    Column(name="f", type="double precision", kind="float"),
]
FAKE_OPTIONS = {"faker.iban": [{"country": c} for c in ("DE", "GB", "NL", "AT", "BE", "CH")],
                "faker.ipv4": [{}, {"private": True}], "faker.date": [{}, {"preserveYear": True}],
                "faker.dateTime": [{}, {"preserveYear": True}], "hash": [{}, {"length": 7}, {"length": 128}]}


def _fake_transformers():
    out = []
    for name in ("faker.ssn", "faker.creditCard", "faker.iban", "faker.ipv4", "faker.ipv6", "faker.date",
                 "faker.dateTime", "faker.url", "faker.text", "hash"):
        cls = REGISTRY[name]
        for col in FAKE_COLUMNS:
            for opts in FAKE_OPTIONS.get(name, [{}]):
                if cls.type_error(col, cls.validate_options(dict(opts))) is None:
                    out.append(cls(KEY, dict(opts), col))
    return out


FAKES = _fake_transformers()


def test_every_computed_fake_is_made_in_c(c):
    """Only preserveYear (make() reads the original's year) and hash into numeric stay in Python."""
    left = [(t.name, t.options, t.column.kind) for t in FAKES if t.fake_spec() is None]
    assert left and all(o.get("preserveYear") or k == "numeric" for _n, o, k in left), left


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=st.binary(min_size=24, max_size=24), nchars=st.one_of(st.integers(0, 80), st.integers(0, 4100)))
def test_fake_format_is_make(c, d, nchars):
    for t in FAKES:
        spec = t.fake_spec()
        if spec is None:
            continue
        kind, limit, params = spec
        dg = (d * 3)[:t.digest_size]
        want = t.make(dg, "x" * nchars).encode("ascii")
        assert c.fake_format(kind, -1 if limit is None else limit, params, dg, nchars) == want, (t.name, t.column)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(COPY_RAW, MY_RAW), mode=st.sampled_from([0, 1]), keep=st.booleans())
def test_fake_field_is_the_python_field_path(c, raw, mode, keep):
    """fake_field against PrfTransformer.field_fast without C (its Python fast path)."""
    for t in FAKES[::3]:
        spec = t.fake_spec()
        if spec is None:
            continue
        t._mask_empty = not keep
        kind, limit, params = spec
        state = c.prf_state(KEY.secret, domain_prefix(t._prf_domain), t.digest_size)   # (also under DUMPMASK_PURE=1)
        got = c.fake_field(state, mode, keep, kind, -1 if limit is None else limit, params, raw)
        t.fake_spec = lambda: None
        try:
            want = type(t).field_fast(t, mode, lambda s: postgres.copy_encode(s) if mode == 0 else
                                      mysql_lex.encode_string(s.encode()))(raw)
        finally:
            del t.fake_spec
        if want is None and got is not None:   # the Python fast path leaves escaped text to the general one
            miss = (pg_field_fns if mode == 0 else my_field_fns)(General(t), t.column.kind, "c", Tally()).miss
            want = miss(raw)
            want = raw if want is UNCHANGED else want
        assert got == want, (t.name, t.column, raw)


# --------------------------------------------------------------------------- text keys

from dumpmask.remap import Remapper, TextKeyPermutation, py_text_key_field  # noqa: E402

KEY_TEXT = st.one_of(
    st.text(alphabet="AZaz09-_ ./\\\n\t\r\b\f\v'\"é東\x00\x1a", max_size=40),
    st.text(alphabet="0123456789", min_size=30, max_size=120),          # several 2**128 chunks
    st.text(alphabet="abcXYZ019", min_size=25, max_size=60),
    TEXT,
)
KEY_COPY_RAW = st.one_of(KEY_TEXT.map(postgres.copy_encode), COPY_RAW, st.just(b"x" * 1100), st.just(b"7" * 1024))
KEY_MY_RAW = st.one_of(KEY_TEXT.map(lambda s: mysql_lex.encode_string(s.encode("utf-8", "surrogatepass"))), MY_RAW)
_TEXT_PERM = TextKeyPermutation(KEY)
_TEXT_STATE = None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(KEY_COPY_RAW, KEY_MY_RAW), mode=st.sampled_from([0, 1]))
def test_text_key_field_c_is_pure(c, raw, mode):
    state = c.prf_state(KEY.secret, domain_prefix("remap:text:text"), 8)
    assert c.text_key_field(state, mode, raw) == py_text_key_field(_TEXT_PERM, mode, raw), raw


def _key_fns():
    col = COLUMNS["text"]
    fn = Remapper(KEY, "text", None, None, "t").for_column(col, "t.c")
    general = Remapper(KEY, "text", None, None, "t").for_column(col, "t.c")
    general.__dict__.pop("field_fast", None)
    return [(pg_field_fns(f, "text", "c", Tally()).miss, my_field_fns(f, "text", "c", Tally()).miss)
            for f in (fn, general)]


_KEY_FNS = []


@settings(max_examples=300, deadline=None)
@given(copy_raw=KEY_COPY_RAW, my_raw=KEY_MY_RAW)
def test_text_key_fast_field_path_is_the_general_path(copy_raw, my_raw):
    if not _KEY_FNS:
        _KEY_FNS.extend(_key_fns())
    (fast_pg, fast_my), (gen_pg, gen_my) = _KEY_FNS
    assert outcome(fast_pg, copy_raw, NULL_COPY) == outcome(gen_pg, copy_raw, NULL_COPY), copy_raw
    assert outcome(fast_my, my_raw, NULL_SQL) == outcome(gen_my, my_raw, NULL_SQL), my_raw


def test_text_key_field_is_used_with_c():
    from dumpmask import speedups

    fn = Remapper(KEY, "text", None, None, "t").for_column(COLUMNS["text"], "t.c")
    assert hasattr(fn, "field_fast") == (speedups.function("text_key_field") is not None)
    if hasattr(fn, "field_fast"):
        assert fn.field_fast(0, None)(b"ORD-2024-0001") == postgres.copy_encode(_TEXT_PERM.map("ORD-2024-0001"))


# every length of what a round hashes around the 128-byte block: the state's buffered bytes
# (domain digest, length, shape, chunk index, the other chunks) + the round's 1 + 1-16 bytes
KEY_BLOCK_EDGE = st.builds(lambda a, pad, b, tail: a + "-" * pad + b + "." * tail,
                           st.text(alphabet="AZaz09", min_size=1, max_size=30), st.integers(0, 130),
                           st.text(alphabet="az09", max_size=12), st.integers(0, 40))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(KEY_BLOCK_EDGE, st.text(alphabet="0123456789-", min_size=38, max_size=200),
                       st.text(alphabet="Zz9 ", min_size=1, max_size=90)), mode=st.sampled_from([0, 1]))
def test_text_key_field_shapes_at_the_block_edge(c, value, mode):
    """text_key_field (one laid-out block per round, or the general update when the round's
    input does not fit in the last block) gives the pure twin's bytes, and the permutation's."""
    state = c.prf_state(KEY.secret, domain_prefix("remap:text:text"), 8)
    raw = postgres.copy_encode(value) if mode == 0 else mysql_lex.encode_string(value.encode())
    got = c.text_key_field(state, mode, raw)
    assert got == py_text_key_field(_TEXT_PERM, mode, raw), value
    want = _TEXT_PERM.map(value)
    assert got == (postgres.copy_encode(want) if mode == 0 else mysql_lex.encode_string(want.encode()))
