"""The STRFIELD fast paths (issue #13: choice, list, partial, partial.email, generalize.prefix,
regex at <= 1.5 us per distinct value) give the bytes of the general path (decode the raw
field, call the mutation, encode the result), with each mutation's options, in both dialects,
with C and with the pure twins (transformers/strfield.py); and the C functions are their twins."""
from __future__ import annotations

import importlib
import warnings
from functools import partial

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import TEST_KEY, unavailable
from dumpmask.crypto import Key
from dumpmask.dialects import mysql_lex, postgres
from dumpmask.dialects.base import UNCHANGED
from dumpmask.errors import MaskingError
from dumpmask.schema import Column
from dumpmask.transformers import REGISTRY, strfield
from dumpmask.transformers.fastprf import Prf
from dumpmask.work import NULL_COPY, NULL_SQL, Tally, my_field_fns, pg_field_fns

KEY = Key(TEST_KEY)

try:   # the C module itself (also under DUMPMASK_PURE=1, like tests/test_speedups.py)
    _C = importlib.import_module("dumpmask._speedups")
except ImportError:
    _C = None


@pytest.fixture
def c():
    if _C is None or not hasattr(_C, "str_field"):
        unavailable("dumpmask._speedups is not built with its STRFIELD section")
    return _C


@pytest.fixture
def c_in_use(c):
    """The C module, in use by the transformers (not under DUMPMASK_PURE=1: the twins then)."""
    from dumpmask import speedups

    if speedups.PURE:
        pytest.skip("DUMPMASK_PURE=1: the transformers use the twins")
    return c


class General:
    """A value function without the fast hooks: work.py's general (decode, call, encode) path."""

    def __init__(self, t):
        self.t = t

    def __call__(self, v):
        return self.t(v)


def outcome(miss, raw, null):
    """What the engine sees of one miss: UNCHANGED, the NULL field (by identity), new bytes, or
    the type of the error raised."""
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


# values: the scripts of the bench, escapes, separators, '@', digits, Unicode blanks
ALPHABET = "aZ9 0-._@,;|\\\n\t\r\b\f\v'\"\x00\x1a\x01é東Ωß\u3000\xa0\u2028_"
TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.text(alphabet=ALPHABET, max_size=40),
    st.text(alphabet=ALPHABET, min_size=1000, max_size=1300),          # escaped past FIELD_BUF
    st.text(alphabet="ab9é東@, ", min_size=1020, max_size=1100),         # long and plain
)
COPY_RAW = st.one_of(
    TEXT.map(postgres.copy_encode),
    st.binary(max_size=30).filter(lambda b: b"\t" not in b and b"\n" not in b),   # invalid UTF-8 too
    st.sampled_from([b"", b"\\N", b"\\", b"a\\", b"\\x41", b"\\101", b"\\q", b"\\\\N", b"\xff\xfe", b"a\xedb",
                     b" , ", b",", b"a@", b"@b"]),
)
MY_RAW = st.one_of(
    TEXT.map(lambda s: mysql_lex.encode_string(s.encode("utf-8", "surrogatepass"))),
    st.binary(max_size=30).map(mysql_lex.encode_string),
    st.binary(max_size=20).map(lambda b: b"'" + b + b"'"),
    st.sampled_from([b"''", b"NULL", b"\\N", b"12", b"0x4142", b"_binary 'ab'", b"'it''s'", b"\"dq\"",
                     b"DEFAULT", b"NOW()", b"'", b"'\\'", b"' , '", b"'a\xffb'"]),
)

TEXT_COL = Column(name="c", type="text", kind="text")
SHORT_COL = Column(name="c", type="character varying(12)", kind="text", length=12)

CASES = [
    ("partial", {"first": 2, "last": 2}), ("partial", {}), ("partial", {"first": 6, "last": 4, "fill": "#"}),
    ("partial", {"first": 0, "last": 0, "fill": "é"}), ("partial", {"first": 1 << 70, "last": 1, "fill": "東"}),
    ("partial", {"first": 3, "last": 0}),
    ("partial.email", {}), ("partial.email", {"keep": "none"}), ("partial.email", {"fill": "•"}),
    ("generalize.prefix", {"length": 3}), ("generalize.prefix", {"length": 0}),
    ("generalize.prefix", {"length": 50, "fill": "*"}), ("generalize.prefix", {"length": 2, "fill": "é"}),
    ("generalize.prefix", {"length": 1 << 64}),
    ("regex", {"pattern": "[0-9]", "replace": "#"}), ("regex", {"pattern": "\\d", "replace": "##"}),
    ("regex", {"pattern": "\\d+", "replace": "N"}), ("regex", {"pattern": "[^a-z]", "replace": ""}),
    ("regex", {"pattern": ".", "replace": "x"}), ("regex", {"pattern": "(?s).", "replace": "é"}),
    ("regex", {"pattern": "\\s", "replace": "_"}), ("regex", {"pattern": "\\W++", "replace": "-"}),
    ("regex", {"pattern": "[aé東\\S]", "replace": "東"}), ("regex", {"pattern": "@", "replace": " at "}),
    ("regex", {"pattern": "[0-9]*", "replace": "#"}), ("regex", {"pattern": "(\\d)(\\w)", "replace": "\\2\\1"}),
    ("regex", {"pattern": "[a-c]", "replace": "z", "ignoreCase": True}),
    ("regex", {"pattern": "\\d", "replace": "\\n"}), ("regex", {"pattern": "[^,]", "replace": "\x00"}),
    ("regex", {"pattern": "\\w+@", "mutation": "partial"}),
    ("regex", {"pattern": "(\\w+)@(\\w+)", "groups": {"1": "partial", "2": "generalize.prefix"}}),
    ("regex", {"pattern": "(a(b))", "groups": {"1": "partial", "2": "partial"}}),    # nested: MaskingError
    ("list", {"mutation": "faker.email"}), ("list", {"mutation": "faker.email", "separator": " "}),
    ("list", {"mutation": "partial", "separator": ";"}), ("list", {"mutation": "hash", "separator": "é"}),
    ("list", {"mutation": "null", "separator": "||"}), ("list", {"mutation": "keep"}),
    ("list", {"mutation": "static:x'y", "separator": ","}), ("list", {"mutation": "faker.firstName"}),
    ("list", {"mutation": "regex", "options": {"pattern": "\\d", "replace": "#"}}),
    ("list", {"mutation": "choice", "options": {"values": ["a\\b", "c"]}, "separator": "\n"}),
    ("list", {"mutation": "partial.email", "options": {"keep": "none"}}),
    ("choice", {"values": ["alpha", "beta", "gamma"]}), ("choice", {"values": ["a", "b"], "empty": "mask"}),
    ("choice", {"values": ["it's", "back\\slash", "line\nbreak", "é", "", 7, 2.5]}),
    ("choice", {"values": ["x", "y", "z"], "weights": [1, 2, 3.5]}),
    ("choice", {"values": ["x", "y"], "weights": [1e-9, 1e300]}),      # a total past 2**64: Python
    ("choice", {"values": ["x", "y"], "weights": [0.5, 0.5], "empty": "mask"}),
]
LABELS = [f"{n}{o}" for n, o in CASES]
_FNS: dict = {}


def _make(name, options, col, dialect):
    cls = REGISTRY[name]
    arg = None
    t = cls(KEY, dict(options), col, arg)
    t.bind_dialect(dialect)
    return t


def _fns(name, options, col, pure_strfield=False):
    k = (name, repr(options), col.length, pure_strfield)
    if k not in _FNS:
        out = []
        for fast in (True, False):
            for dialect, fns in (("postgres", pg_field_fns), ("mysql", my_field_fns)):
                t = _make(name, options, col, dialect)
                out.append(fns(t if fast else General(t), col.kind, col.name, Tally()))
        _FNS[k] = out
    return _FNS[k]


def _compare(name, options, raws, col=TEXT_COL, pure=False):
    fast_pg, fast_my, gen_pg, gen_my = _fns(name, options, col, pure)
    assert fast_pg.plain is not None and fast_my.plain is not None, "no fast path"
    for copy_raw, my_raw in raws:
        assert outcome(fast_pg.miss, copy_raw, NULL_COPY) == outcome(gen_pg.miss, copy_raw, NULL_COPY), copy_raw
        assert outcome(fast_my.miss, my_raw, NULL_SQL) == outcome(gen_my.miss, my_raw, NULL_SQL), my_raw


RAWS = st.lists(st.tuples(COPY_RAW, MY_RAW), min_size=1, max_size=6)


@pytest.mark.parametrize("name,options", CASES, ids=LABELS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=RAWS)
def test_fast_field_path_is_the_general_path(name, options, raws):
    _compare(name, options, raws)


@pytest.mark.parametrize("name,options", [c for c in CASES if c[0] in ("regex", "partial", "list")],
                         ids=[f"{n}{o}" for n, o in CASES if n in ("regex", "partial", "list")])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=RAWS)
def test_fast_field_path_is_the_general_path_in_a_short_column(name, options, raws):
    """varchar(12): a regex result longer than the column raises MaskingError on both paths."""
    _compare(name, options, raws, SHORT_COL)


@pytest.fixture
def pure(monkeypatch):
    """The pure twins of transformers/strfield.py (as DUMPMASK_PURE=1 has them), C's PRF kept."""
    for f in ("_STR_FIELD", "_LIST_FIELD", "_CUM_PICK", "_SHAPE_FIELD", "_CHARSUB_FIELD"):
        monkeypatch.setattr(strfield, f, None)
    _FNS.clear()
    yield
    _FNS.clear()


@pytest.mark.parametrize("name,options", CASES, ids=LABELS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(raws=RAWS)
def test_pure_twins_are_the_general_path(pure, name, options, raws):
    _compare(name, options, raws, pure=True)


def test_regex_longer_than_the_column_stops_the_row():
    """The fast path does not write what the general path refuses: the same MaskingError."""
    col = Column(name="c", type="character varying(5)", kind="text", length=5)
    for dialect, fns, raw in (("postgres", pg_field_fns, b"12345"), ("mysql", my_field_fns, b"'12345'")):
        t = _make("regex", {"pattern": "[0-9]", "replace": "##"}, col, dialect)
        f = fns(t, "text", "c", Tally())
        assert f.plain is not None
        with pytest.raises(MaskingError, match="longer than the column"):
            f.miss(raw)
        assert f.miss(raw[:2] if dialect == "postgres" else b"'12'") == (b"####" if dialect == "postgres" else b"'####'")


def test_the_bench_options_take_the_c_paths(c_in_use):
    """The options bench/mutations.py measures each have their C function (a change that sends
    one back to a Python body would pass the comparisons and lose the speed)."""
    c = c_in_use
    want = {"partial": ({"first": 2, "last": 2}, c.shape_field), "partial.email": ({}, c.shape_field),
            "generalize.prefix": ({"length": 3}, c.shape_field),
            "regex": ({"pattern": "[0-9]", "replace": "#"}, c.charsub_field),
            "list": ({"mutation": "faker.email", "separator": ","}, c.list_field),
            "choice": ({"values": ["alpha", "beta", "gamma"]}, c.pick_field),
            "regex-groups": None}
    for name, spec in want.items():
        if spec is None:
            continue
        options, fn = spec
        for dialect, fns in (("postgres", pg_field_fns), ("mysql", my_field_fns)):
            plain = fns(_make(name, options, TEXT_COL, dialect), "text", "c", Tally()).plain
            assert type(plain) is partial and plain.func is fn, (name, plain)
    t = _make("choice", {"values": ["a", "b"], "weights": [1, 3]}, TEXT_COL, "postgres")
    assert t.field_fast(0, postgres.copy_encode).func is c.cum_pick_field
    t = _make("regex", {"pattern": "(\\d)", "replace": "\\1"}, TEXT_COL, "postgres")
    assert t.field_fast(0, postgres.copy_encode).func is c.str_field


# --------------------------------------------------------------------------- C against the twins

VALUES = st.one_of(st.text(alphabet=ALPHABET, max_size=30), st.text(max_size=20))
_FN_KINDS = {
    "upper": str.upper, "same": lambda s: s, "copy": lambda s: "".join(list(s)), "none": lambda s: None,
    "int": lambda s: 7, "surrogate": lambda s: s + "\udc80", "raise": lambda s: 1 / 0, "esc": lambda s: s + "\\\n'\x00",
    "empty": lambda s: "", "long": lambda s: s * 60,
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(COPY_RAW, MY_RAW), mode=st.sampled_from([0, 1]), kind=st.sampled_from(sorted(_FN_KINDS)),
       keep=st.booleans())
def test_str_field_c_is_the_twin(c, raw, mode, kind, keep):
    fn, null = _FN_KINDS[kind], (NULL_COPY, NULL_SQL)[mode]
    got = c.str_field(mode, fn, null, keep, raw)
    want = strfield.py_str_field(mode, fn, null, keep, raw)
    assert got == want, raw
    assert (got is raw) == (want is raw) and (got is null) == (want is null)


def test_str_field_lets_an_interrupt_through(c):
    def stop(s):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        c.str_field(0, stop, NULL_COPY, False, b"abc")


@given(value=st.binary(max_size=40) | st.text(alphabet=ALPHABET, max_size=40).map(str.encode))
def test_the_twin_encoders_are_the_dialects(value):
    s = value.decode("utf-8", "surrogateescape")
    assert strfield.py_encode_field(0, value) == postgres.copy_encode(s)
    assert strfield.py_encode_field(1, value) == mysql_lex.encode_string(value)
    for mode in (0, 1):
        assert strfield.py_decode_field(mode, strfield.py_encode_field(mode, value)) == value


_SHAPES = [("partial", o) for _n, o in CASES if _n == "partial"] + \
          [(n, o) for n, o in CASES if n in ("partial.email", "generalize.prefix")]
_CHARSUBS = [o for n, o in CASES if n == "regex" and strfield.one_char_set(o["pattern"], 0) is not None
             and "\\" not in o.get("replace", "\\") and not o.get("ignoreCase")]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(COPY_RAW, MY_RAW), mode=st.sampled_from([0, 1]))
def test_shape_and_charsub_fields_are_their_call(c_in_use, raw, mode):
    """shape_field / charsub_field against str_field's twin over the mutation's __call__."""
    c = c_in_use
    null = (NULL_COPY, NULL_SQL)[mode]
    for name, options in _SHAPES:
        t = _make(name, options, TEXT_COL, "postgres")
        fast = t.field_fast(mode, lambda s: null)
        assert fast.func is c.shape_field
        assert fast(raw) == strfield.py_str_field(mode, t.__call__, null, False, raw), (name, options, raw)
    for col in (TEXT_COL, SHORT_COL):
        for options in _CHARSUBS:
            t = _make("regex", options, col, "postgres")
            fast = t.field_fast(mode, lambda s: null)
            assert fast.func is c.charsub_field, options
            assert fast(raw) == strfield.py_str_field(mode, t.__call__, null, False, raw), (options, raw)


PATTERN_ITEM = st.one_of(
    st.sampled_from(["\\d", "\\D", "\\s", "\\S", "\\w", "\\W", "a-z", "0-9", "é", "東", "_", "-", "\\n", ",", "ß"]),
    st.tuples(st.integers(0x20, 0x3000), st.integers(0, 300)).map(lambda t: f"\\U{t[0]:08x}-\\U{t[0] + t[1]:08x}"),
)
PATTERNS = st.one_of(
    st.tuples(st.booleans(), st.lists(PATTERN_ITEM, min_size=1, max_size=4), st.sampled_from(["", "+", "++", "{1}"]))
    .map(lambda t: ("[^" if t[0] else "[") + "".join(t[1]) + "]" + t[2]),
    st.sampled_from([".", "(?s).", ".+", "\\d", "\\W+", "x", "[^x]", "\\S++", "é+"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=PATTERNS, repl=st.sampled_from(["#", "", "東é", "a\\\n'"[:1], "xyz"]),
       value=st.text(alphabet=ALPHABET + "\U0001F600\u0663\u2003", max_size=40) | st.text(max_size=30),
       mode=st.sampled_from([0, 1]))
def test_charsub_is_re_sub(c, pattern, repl, value, mode):
    """charsub_field against re.sub on generated one-character patterns (sets, ranges,
    categories, negations, runs)."""
    import re

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            flags = re.compile(pattern).flags
    except re.error:
        assume(False)
    spec = strfield.one_char_set(pattern, flags)
    assume(spec is not None)
    items, negate, plus = spec
    raw = postgres.copy_encode(value) if mode == 0 else mysql_lex.encode_string(value.encode("utf-8", "surrogatepass"))
    got = c.charsub_field(mode, items, negate, plus, repl.encode(), -1, raw)
    assume(got is not None)       # a value that is not plain (surrogates in the generated text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        want = re.sub(pattern, repl, value) if value else value
    assert got == (raw if want == value else strfield.py_encode_field(mode, want.encode())), (pattern, value)


def _inners(mode):
    null = (NULL_COPY, NULL_SQL)[mode]
    enc = (lambda s: NULL_COPY if s is None else postgres.copy_encode(s)) if mode == 0 else \
        (lambda s: NULL_SQL if s is None else mysql_lex.encode_string(s.encode("utf-8", "surrogateescape")))
    out = []
    for spec in ("faker.email", "partial", "null", "keep", "hash", "static:a'b"):
        name, _, arg = spec.partition(":")
        t = REGISTRY[name](KEY, {}, TEXT_COL, arg or None)
        out.append(t.field_fast(mode, enc))
    out.append(lambda raw: None)
    out.append(lambda raw: 1 / 0)
    out.append(lambda raw: b"\\q" if mode == 0 else b"'a'b'")      # not a field the encoder writes
    out.append(lambda raw: 5)
    return null, out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(COPY_RAW, MY_RAW), mode=st.sampled_from([0, 1]), sep=st.sampled_from([",", " ", "é", "||", "\n"]))
def test_list_field_c_is_the_twin(c, raw, mode, sep):
    null, inners = _inners(mode)
    for inner in inners:
        got = c.list_field(mode, sep.encode(), inner, null, raw)
        want = strfield.py_list_field(mode, sep.encode(), inner, null, raw)
        assert got == want, (raw, sep, inner)
        assert (got is raw) == (want is raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(COPY_RAW, MY_RAW), mode=st.sampled_from([0, 1]), keep=st.booleans(),
       weights=st.lists(st.integers(1, 1 << 40), min_size=1, max_size=6))
def test_cum_pick_c_is_the_twin(c_in_use, raw, mode, keep, weights):
    c = c_in_use
    from itertools import accumulate

    prf = Prf(KEY, "test-cum-pick", 8)
    pool = tuple(b"v%d" % i for i in range(len(weights)))
    cum = list(accumulate(weights))
    fast = strfield.cum_pick(prf, mode, pool, cum, keep)
    assert fast.func is c.cum_pick_field
    twin = partial(strfield.py_cum_pick_field, prf.digest, *fast.args[1:])
    assert fast(raw) == twin(raw)


def test_a_broken_fast_path_fails_the_comparison(monkeypatch):
    """The comparisons can fail: the twin encoder without its MySQL escape of a double quote."""
    monkeypatch.setattr(strfield, "_STR_FIELD", None)
    monkeypatch.setattr(strfield, "_SHAPE_FIELD", None)
    broken = {**strfield._ESC[1]}
    del broken[b'"']
    monkeypatch.setattr(strfield, "_ESC", (strfield._ESC[0], broken))
    monkeypatch.setattr(strfield, "_ESC_RE", (strfield._ESC_RE[0], __import__("re").compile(rb"[\x00\n\r\\'\x1a]")))
    _FNS.clear()
    try:
        with pytest.raises(AssertionError):
            _compare("partial", {"first": 2, "last": 0}, [(b"", b"'a\\\"bc'")], pure=True)
    finally:
        _FNS.clear()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raws=st.lists(st.one_of(COPY_RAW, st.just(b"x" * 5000)), min_size=1, max_size=30),
       cache_max=st.integers(1, 5))
def test_memo_first_c_is_the_python_miss(c_in_use, monkeypatch, raws, cache_max):
    """work._plain_first in C (memo_first) against its Python closure: the same results (by
    identity: UNCHANGED, the NULL field) and the same memo after each miss."""
    c = c_in_use
    from dumpmask import work

    def plain(raw):
        if raw[:1] == b"\\":
            return None
        if raw[:1] == b"n":
            return NULL_COPY
        if raw[:1] == b"x":
            return 1 / 0 if raw[1:2] == b"!" else raw
        return raw[::-1]

    def slow(raw):
        return b"slow:" + raw

    got_cache, want_cache = {}, {}
    fast = work._plain_first(plain, slow, got_cache, cache_max)
    assert fast.func is c.memo_first
    with monkeypatch.context() as m:
        m.setattr(work, "_C_MEMO_FIRST", None)
        twin = work._plain_first(plain, slow, want_cache, cache_max)
    for raw in raws + [b"x!"]:
        try:
            want = twin(raw)
        except ZeroDivisionError:
            with pytest.raises(ZeroDivisionError):
                fast(raw)
            continue
        got = fast(raw)
        assert got == want and (got is UNCHANGED) == (want is UNCHANGED) and (got is NULL_COPY) == (want is NULL_COPY)
        assert got_cache == want_cache and [k for k in got_cache] == [k for k in want_cache]


class _Shout(REGISTRY["partial"].__mro__[1]):     # a plugin's Transformer (not registered)
    """Upper case; "drop" -> NULL; "boom" -> an error; "bytes" -> not text."""

    name = "test.shout"
    call_on_plain = True

    def __call__(self, value):
        if value == "boom":
            raise MaskingError("c: shout: boom")
        if value == "bytes":
            return b"bytes"
        return None if value == "drop" else None if value is None else value.upper()


@settings(max_examples=100, deadline=None)
@given(raws=st.lists(st.tuples(COPY_RAW | st.sampled_from([b"drop", b"boom", b"bytes"]),
                               MY_RAW | st.sampled_from([b"'drop'", b"'boom'", b"'bytes'"])), min_size=1, max_size=6))
def test_a_class_that_opts_in_gets_str_field(raws):
    """Transformer.field_fast for call_on_plain: __call__ between C's decode and encode, its
    errors (and what is not text) left to the general path."""
    for (copy_raw, my_raw) in raws:
        for dialect, fns, raw, null in (("postgres", pg_field_fns, copy_raw, NULL_COPY),
                                        ("mysql", my_field_fns, my_raw, NULL_SQL)):
            t = _Shout(KEY, {}, TEXT_COL)
            t.bind_dialect(dialect)
            fast, general = fns(t, "text", "c", Tally()), fns(General(t), "text", "c", Tally())
            assert fast.plain is not None and general.plain is None
            assert outcome(fast.miss, raw, null) == outcome(general.miss, raw, null), raw
