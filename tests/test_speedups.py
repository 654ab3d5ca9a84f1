"""dumpmask._speedups (C) against the pure-Python reference in dumpmask.dialects.fast.

The differential tests import the C module directly (so they also run under DUMPMASK_PURE=1).
Without a built extension they are skipped locally; with CI=true they fail instead.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import REPO, REQUIRED_OPTIONS, TEST_KEY, in_ci, unavailable
from dumpmask.dialects import fast
from dumpmask.dialects.fast import py_body_end, py_copy_spans, py_splice, py_tuple_spans

try:
    _C = importlib.import_module("dumpmask._speedups")
except ImportError:
    _C = None

NO_C_REASON = ("dumpmask._speedups is not built (a C compiler is needed; "
               "`pip install -e .` compiles it in place)")


@pytest.fixture
def c():
    if _C is None:
        unavailable(NO_C_REASON)
    return _C


def outcome(fn, *args):
    """Result, or the exception type: both implementations must agree on either."""
    try:
        return "ok", fn(*args)
    except Exception as e:  # noqa: BLE001
        return "error", type(e)


DIFF = settings(max_examples=3000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
REAL = settings(max_examples=1500, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])

# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------

# weighted by repetition: the bytes the scanners branch on come up often
_SPECIAL = [b"'", b"'", b"'", b"'", b'"', b'"', b"`", b"`", b";", b"/", b"/", b"#", b"-", b"-",
            b"\\", b"\\", b"\\", b"(", b"(", b")", b")", b",", b",", b",", b"\n", b"\r", b"\t",
            b" ", b" ", b"*", b"*", b"\x0b", b"\x0c", b"\x00"]
_WORDS = [b"a", b"Z", b"x", b"0", b"7", b"_binary ", b"0x", b"NULL", b"ON", b"on", b"oN",
          b"\x80", b"\xc3\xa9", b"\xff", b"''", b"--", b"/*", b"*/", b",\n", b"),(", b"\\'"]
TOKENS = _SPECIAL + _WORDS
random_bytes = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=40).map(b"".join),
    st.binary(max_size=30),
)

_ESCAPES = [rb"\'", rb"\\", rb"\n", rb"\r", rb"\0", rb'\"', rb"\Z", rb"\t", rb"\b", rb"\%",
            rb"\_", b"\\\n"]
_STRING_BYTES = [b"a", b"Bc", b"9", b" ", b",", b"(", b")", b";", b"--", b"#", b"/*", b"*/",
                 b'"', b"`", b"\n", b"\xc3\xa9", b"\xff", b"\x00", b"-", b"/", b"ON"]
string_body = st.lists(st.sampled_from(_ESCAPES + _STRING_BYTES), max_size=8).map(b"".join)
sq_string = string_body.map(lambda b: b"'" + b + b"'")
hexdigits = st.text(alphabet="0123456789ABCDEFabcdef", min_size=1, max_size=8).map(str.encode)

# (field bytes, is it in the fast path's plain shape)
plain_field = st.one_of(
    st.integers(-10**12, 10**12).map(lambda i: str(i).encode()),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).encode()),
    st.just(b"NULL"),
    sq_string,
    sq_string.map(lambda s: b"_binary " + s),
    sq_string.map(lambda s: b"_utf8mb4" + s),
    hexdigits.map(lambda h: b"0x" + h),
    hexdigits.map(lambda h: b"X'" + h + b"'"),
    st.text(alphabet="01", max_size=9).map(lambda b: b"b'" + b.encode() + b"'"),
    sq_string.map(lambda s: b"N" + s),
    st.tuples(string_body, string_body).map(lambda t: b"'" + t[0] + b"''" + t[1] + b"'"),
    st.tuples(sq_string, sq_string).map(lambda t: t[0] + t[1]),
    st.just(b"DEFAULT"),
).map(lambda f: (f, True))
odd_field = st.sampled_from([
    b"NOW()", b"'a' 'b'", b"\"dq\"", b" 1", b"'a' ", b"-1 ", b"1 /* c */", b"CONCAT('a',1)",
    b"", b"'unterminated", b"x'a' 'b'", b"'a'x 'b'", b"\\N", b"`bt`",
]).map(lambda f: (f, None))
field = st.one_of(plain_field, plain_field, plain_field, odd_field)

_SEPS = [b",", b",", b",\n", b", ", b",\r\n", b",\t", b",\n\n", b" ,", b",\x0c"]
_TAILS = [b";\n", b";", b" ;\n", b"\n;\n", b" ON DUPLICATE KEY UPDATE `a`=VALUES(`a`);\n",
          b" on duplicate key update a=1;", b"", b"\x0b\x0c;", b" " * 62 + b";", b" " * 63 + b";",
          b" " * 62 + b"ON", b" " * 63 + b"ON", b"\n", b" -- c\n;", b"O", b";;", b"\t;\r\n"]


@st.composite
def statements(draw):
    """(statement bytes, offset of the VALUES list, ncols, fields per tuple or None)."""
    ncols = draw(st.integers(0, 6))
    ntuples = draw(st.integers(1, 5))
    rows = [[draw(field) for _ in range(ncols)] for _ in range(ntuples)]
    seps = [draw(st.sampled_from(_SEPS)) for _ in range(ntuples - 1)]
    tail = draw(st.sampled_from(_TAILS))
    head = draw(st.sampled_from([b"INSERT INTO `t` VALUES ", b"INSERT INTO `a``b` VALUES ",
                                 b"REPLACE INTO \"t\" VALUES ", b"INSERT INTO t VALUES "]))
    body = bytearray()
    for i, row in enumerate(rows):
        if i:
            body += seps[i - 1]
        body += b"(" + b",".join(f for f, _ in row) + b")"
    plain = all(ok for row in rows for _, ok in row) and all(s[:1] == b"," and s[1:].strip(b" \t\r\n") == b""
                                                              for s in seps)
    return head + bytes(body) + tail, len(head), ncols, ([[f for f, _ in row] for row in rows], tail) if plain else None


@st.composite
def corrupted(draw):
    data, start, ncols, fields = draw(statements())
    data = bytearray(data)
    nops = draw(st.integers(0, 3))
    for _ in range(nops):
        op = draw(st.sampled_from(["del", "ins", "rep"]))
        i = draw(st.integers(0, len(data)))
        b = draw(st.sampled_from(_SPECIAL + [b"a", b"\x80"]))
        if op == "del" and i < len(data):
            del data[i]
        elif op == "ins":
            data[i:i] = b
        elif i < len(data):
            data[i:i + 1] = b
    return bytes(data), start, ncols, fields if nops == 0 else None


_FIELD_TOKENS = [t for t in TOKENS if not set(t) & set(b",()")]


@st.composite
def fuzzy_tuples(draw):
    """(data, ncols): tuple-shaped data whose fields are random runs of the token alphabet."""
    ncols = draw(st.integers(0, 4))
    fld = st.lists(st.sampled_from(_FIELD_TOKENS), min_size=1, max_size=5).map(b"".join)
    ntuples = draw(st.integers(1, 3))
    tuples = [b"(" + b",".join(draw(fld) for _ in range(ncols)) + b")" for _ in range(ntuples)]
    data = tuples[0]
    for t in tuples[1:]:
        data += draw(st.sampled_from(_SEPS)) + t
    return data + draw(st.sampled_from(_TAILS)), ncols


idxs_strategy = st.lists(st.integers(-2, 8), max_size=6).map(tuple)


# --------------------------------------------------------------------------------------------
# The switch
# --------------------------------------------------------------------------------------------


def test_accelerated():
    """With CI=true the extension must have been built and be in use."""
    if fast.PURE:
        assert not fast.ACCELERATED and fast.body_end is py_body_end
        if in_ci():
            assert _C is not None, "CI=true but " + NO_C_REASON
        pytest.skip("DUMPMASK_PURE is set")
    if _C is None:
        assert not fast.ACCELERATED
        assert fast.c_body_end is None and fast.c_tuple_spans is None and fast.c_splice is None
        assert fast.tuple_spans is py_tuple_spans
        unavailable(NO_C_REASON)
    assert fast.ACCELERATED is True
    assert fast.body_end is _C.body_end
    assert fast.tuple_spans is _C.tuple_spans
    assert fast.splice is _C.splice


def _probe(env_pure):
    env = dict(os.environ)
    env.pop("DUMPMASK_PURE", None)
    if env_pure is not None:
        env["DUMPMASK_PURE"] = env_pure
    code = ("from dumpmask.dialects import fast as f\n"
            "import sys\n"
            "print(f.ACCELERATED, f.body_end is f.py_body_end, f.tuple_spans is f.py_tuple_spans,"
            " f.splice is f.py_splice, f.c_body_end is None, 'dumpmask._speedups' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_pure_env_turns_c_off():
    assert _probe("1") == ["False", "True", "True", "True", "True", "False"]


def test_c_used_without_pure_env(c):
    assert _probe(None) == ["True", "False", "False", "False", "False", "True"]
    assert _probe("0") == ["True", "False", "False", "False", "False", "True"]


# --------------------------------------------------------------------------------------------
# body_end
# --------------------------------------------------------------------------------------------

BODY_CASES = [
    (b"", 0, 0),
    (b"", 5, 0),
    (b"abc", 3, 3),                        # pos at len(data)
    (b"abc", 99, 3),                       # pos past the end: clamped like re's pos
    (b"a;c", -7, 1),                       # negative pos: clamped to 0
    (b"abc;def", 0, 3),
    (b"abc;def", 4, 7),
    (b"a#b", 0, 1),
    (b"a--b", 0, 1),
    (b"a/*b*/", 0, 1),
    (b"a-b/c- -d/ *e", 0, 13),
    (b"x-", 0, 2),                         # '-' as the last byte is consumed
    (b"x/", 0, 2),                         # so is '/'
    (b"-", 0, 1),
    (b"--", 0, 0),
    (b"'a;#--/*'x;", 0, 10),
    (b"'abc\\", 0, 0),                     # trailing backslash inside a string
    (b"x'abc\\", 0, 1),
    (b"\\", 0, 1),                         # outside a string a backslash is plain
    (b"x'abc", 0, 1),                      # unterminated string at the end
    (b"'a\\'b';", 0, 6),
    (b"'a\\\nb';", 0, 6),                  # backslash escapes a newline too
    (b"'ab''cd';", 0, 8),                  # '' = two adjacent strings
    (b"'ab''", 0, 4),                      # ... so here the second one is unterminated
    (b'"ab""cd";', 0, 8),                  # "" inside a "..." string
    (b'"ab""', 0, 0),                      # possessive: "" never closes the string
    (b'"ab"""x;', 0, 7),
    (b'"a\\"b";', 0, 6),
    (b"`a``b`;", 0, 6),
    (b"`a``", 0, 0),
    (b"`a\\`;", 0, 4),                     # no escapes in identifiers
    (b"(1,'x'),(2,'y');\n", 0, 15),
    (b"\xff\x00'\xfe';", 0, 5),
]


@pytest.mark.parametrize("impl", ["py", "c"])
@pytest.mark.parametrize("data,pos,expected", BODY_CASES)
def test_body_end_cases(impl, data, pos, expected, request):
    fn = py_body_end if impl == "py" else request.getfixturevalue("c").body_end
    assert fn(data, pos) == expected


@DIFF
@given(data=random_bytes, extra=st.integers(-3, 45))
def test_body_end_random(c, data, extra):
    pos = min(extra, len(data) + 2) if extra >= 0 else extra
    assert c.body_end(data, pos) == py_body_end(data, pos)
    assert c.body_end(data, 0) == py_body_end(data, 0)


@REAL
@given(stmt=corrupted(), where=st.integers(0, 1000))
def test_body_end_realistic(c, stmt, where):
    data = stmt[0]
    assert c.body_end(data, 0) == py_body_end(data, 0)
    pos = where % (len(data) + 1)
    assert c.body_end(data, pos) == py_body_end(data, pos)


# pieces that make the 64-byte windows of the C scanner meet every state at their edges:
# strings longer than a window, runs of backslashes, stops right before and after a window
_BODY_PIECES = [b"'", b"\\", b'"', b"`", b";", b"/", b"*", b"-", b"#", b"a", b"xyz" * 5, b"\n", b",", b"(",
                b"'abc'", b"\\\\", b"\\'", b"'" + b"q" * 70 + b"'", b"b" * 63, b"'" + b"\\" * 63, b"\xc3\xa9"]
long_bodies = st.lists(st.sampled_from(_BODY_PIECES), max_size=60).map(b"".join)


@DIFF
@given(data=long_bodies, where=st.integers(0, 4000))
def test_body_end_windows(c, data, where):
    """The 64-byte window scanner of the C body_end gives the scalar reference's (the pure
    twin's) end for inputs long enough to use it, from every kind of start."""
    pos = where % (len(data) + 1)
    assert c.body_end(data, pos) == py_body_end(data, pos)
    assert c.body_end(data, 0) == py_body_end(data, 0)


def test_body_end_window_edges(c):
    """A string, an escape or a stop across the edge of a 64-byte window, at every offset."""
    for k in range(0, 140):
        for tail in (b"'x';", b"\\'';", b"';", b"--", b"/*", b"\\", b"'", b"\"x\";", b"`y`#", b"-1;"):
            for lead in (b"", b"'", b"'\\"):
                data = lead + b"a" * k + tail + b"b" * 70 + b";"
                assert c.body_end(data, 0) == py_body_end(data, 0), (lead, k, tail)


def test_body_end_buffers(c):
    for data in (bytearray(b"ab'c;'d;"), memoryview(b"ab'c;'d;")):
        assert c.body_end(data, 0) == py_body_end(data, 0) == 7
    with pytest.raises(TypeError):
        c.body_end("str", 0)
    with pytest.raises(TypeError):
        c.body_end(b"x", "0")


# --------------------------------------------------------------------------------------------
# tuple_spans
# --------------------------------------------------------------------------------------------

TUPLE_CASES = [
    (b"(1,'a');", 0, 2, (1,), [3, 6]),
    (b"(1,'a');", 0, 2, (), []),
    (b"(1,'a');", 0, 2, (1, 0, 1, 5, -1), [1, 2, 3, 6]),           # a set; unknown indexes ignored
    (b"(1,'a'),\n(2,'b') ON DUPLICATE KEY UPDATE x=1", 0, 2, (0, 1), [1, 2, 3, 6, 10, 11, 12, 15]),
    (b"(1,'a'),(2,'b')on", 0, 2, (1,), [3, 6, 11, 14]),
    (b"(1,'a'),(2,'b')o", 0, 2, (1,), None),
    (b"(1) \n\t;", 0, 1, (0,), [1, 2]),                            # whitespace before ';'
    (b"(1)\x0b\x0c;", 0, 1, (0,), [1, 2]),
    (b"(1)" + b" " * 63 + b";", 0, 1, (0,), [1, 2]),              # ';' within 64 bytes
    (b"(1)" + b" " * 64 + b";", 0, 1, (0,), None),
    (b"(1)" + b" " * 62 + b"ON", 0, 1, (0,), [1, 2]),
    (b"(1)" + b" " * 63 + b"ON", 0, 1, (0,), None),
    (b"(1)", 0, 1, (0,), None),                                    # nothing after the list
    (b"(1);", 4, 1, (0,), None),                                   # start at len(data)
    (b"(1);", 99, 1, (0,), None),
    (b"x(1);", 1, 1, (0,), [2, 3]),
    (b"(1),(2)x;", 0, 1, (0,), None),
    (b"(1),;", 0, 1, (0,), None),                                  # ',' must be followed by a tuple
    (b"(1) ,(2);", 0, 1, (0,), None),
    (b"(1),\x0c(2);", 0, 1, (0,), None),                           # \f is not a separator byte
    (b"(1),\r\n\t (2);", 0, 1, (0,), [1, 2, 9, 10]),
    (b"(1, 2);", 0, 2, (1,), None),                                # a field cannot start with whitespace
    (b"(1 ,2);", 0, 2, (0,), [1, 3]),                              # ... but may end with it
    (b"(_binary 'x\\'y',1);", 0, 2, (0,), [1, 15]),
    (b"('a''b');", 0, 1, (0,), [1, 7]),                            # '' = two adjacent strings
    (b"('a' 'b');", 0, 1, (0,), None),                             # whitespace right after a leading string
    (b"('a' ,1);", 0, 2, (0,), None),
    (b"(x'a' 'b',1);", 0, 2, (0,), [1, 9]),                        # fine after a bare start
    (b"('a'x 'b');", 0, 1, (0,), [1, 9]),
    (b"('a'x 'b);", 0, 1, (0,), None),                             # unterminated string inside a field
    (b"('a,(b)',1);", 0, 2, (0, 1), [1, 8, 9, 10]),
    (b"('abc);", 0, 1, (0,), None),
    (b"('abc\\');", 0, 1, (0,), None),
    (b"(NOW(),1);", 0, 2, (1,), None),                             # nested parentheses
    (b"(1,2,3);", 0, 2, (0,), None),                               # wrong column count
    (b"(1);", 0, 2, (0,), None),
    (b"();", 0, 0, (), []),
    (b"();", 0, 0, (0,), []),
    (b"();", 0, -3, (0,), []),
    (b"(,);", 0, 2, (0,), None),                                   # a field cannot be empty
    (b"(a\nb);", 0, 1, (0,), [1, 4]),
    (b"(\"x\",'y');", 0, 2, (0,), [1, 4]),                         # '"' is plain text in a field
    (b"(\xff\x00,'\xc3\xa9');", 0, 2, (0, 1), [1, 3, 4, 8]),
    (b"(1)\n", 0, 1, (0,), None),
]


@pytest.mark.parametrize("impl", ["py", "c"])
@pytest.mark.parametrize("data,start,ncols,idxs,expected", TUPLE_CASES)
def test_tuple_spans_cases(impl, data, start, ncols, idxs, expected, request):
    fn = py_tuple_spans if impl == "py" else request.getfixturevalue("c").tuple_spans
    assert fn(data, start, ncols, idxs) == expected


@DIFF
@given(data=random_bytes, start=st.integers(-2, 45), ncols=st.integers(-1, 5), idxs=idxs_strategy,
       lead=st.booleans())
def test_tuple_spans_random(c, data, start, ncols, idxs, lead):
    if lead:
        data = b"(" + data
    start = min(start, len(data) + 1)
    assert c.tuple_spans(data, start, ncols, idxs) == py_tuple_spans(data, start, ncols, idxs)
    assert c.tuple_spans(data, 0, ncols, idxs) == py_tuple_spans(data, 0, ncols, idxs)


@DIFF
@given(fuzzy=fuzzy_tuples(), dn=st.sampled_from([0, 0, 0, -1, 1]), idxs=idxs_strategy)
def test_tuple_spans_random_fields(c, fuzzy, dn, idxs):
    data, ncols = fuzzy
    assert c.tuple_spans(data, 0, ncols + dn, idxs) == py_tuple_spans(data, 0, ncols + dn, idxs)


@REAL
@given(stmt=corrupted(), dn=st.sampled_from([0, 0, 0, 0, -1, 1]), idxs=idxs_strategy,
       shift=st.sampled_from([0, 0, 0, 0, -1, 1, 2]))
def test_tuple_spans_realistic(c, stmt, dn, idxs, shift):
    data, start, ncols, _ = stmt
    for s, n in ((start, ncols), (start + shift, ncols + dn)):
        assert c.tuple_spans(data, s, n, idxs) == py_tuple_spans(data, s, n, idxs)


@REAL
@given(stmt=statements(), idxs=idxs_strategy)
def test_tuple_spans_finds_the_fields(c, stmt, idxs):
    """Uncorrupted statements in mysqldump's plain shape: the spans are exactly the fields."""
    data, start, ncols, plain = stmt
    assume(plain is not None)
    rows, tail = plain
    cols = sorted({i for i in idxs if 0 <= i < ncols})
    rest = tail[:64].lstrip()               # ';' or ON within 64 bytes of the last tuple
    ends_ok = rest[:1] == b";" or rest[:2].upper() == b"ON"
    want = [row[i] for row in rows for i in cols] if ends_ok else None
    for fn in (c.tuple_spans, py_tuple_spans):
        spans = fn(data, start, ncols, idxs)
        if want is None:
            assert spans is None
        else:
            assert spans is not None and len(spans) == 2 * len(want)
            assert [data[spans[k]:spans[k + 1]] for k in range(0, len(spans), 2)] == want


def test_tuple_spans_argument_errors(c):
    for fn in (c.tuple_spans, py_tuple_spans):
        with pytest.raises(TypeError):
            fn(b"(1);", 0, 1, ("0",))
        with pytest.raises(TypeError):
            fn(b"(1);", 0, 1, 0)
        assert fn(b"(1);", 0, 1, [0]) == [1, 2]
        assert fn(b"(1);", 0, 1, (10**30, -10**30)) == []
        assert fn(bytearray(b"(1);"), 0, 1, (0,)) == [1, 2]


def test_tuple_spans_big_statement(c):
    row = b"(1,'Jane','O\\'Hara','jane@example.com',_binary 'x\\0y',0x0A,NULL,3.5,'2006-02-15 04:57:20')"
    data = b"INSERT INTO `customer` VALUES " + b",\n".join([row] * 5000) + b";\n"
    start = data.index(b"(")
    got = c.tuple_spans(data, start, 9, (3, 1, 2))
    assert got == py_tuple_spans(data, start, 9, (1, 2, 3))
    assert len(got) == 5000 * 6
    assert data[got[2]:got[3]] == b"'O\\'Hara'"


# --------------------------------------------------------------------------------------------
# splice
# --------------------------------------------------------------------------------------------

SPLICE_CASES = [
    (b"", [], [], b""),
    (b"abc", [], [], b"abc"),
    (b"hello world", [0, 5, 6, 11], [b"HI", None], b"HI world"),
    (b"hello world", [0, 5, 6, 11], [b"", b"!"], b" !"),
    (b"abc", [1, 1], [b"XYZ"], b"aXYZbc"),                     # empty span = insertion
    (b"abc", [3, 3], [b"!"], b"abc!"),
    (b"abc", [0, 3], [bytearray(b"no")], b"abc"),              # only bytes replace
    (b"abc", [0, 1, 1, 2, 2, 3], [b"1", b"2", b"3"], b"123"),
]


@pytest.mark.parametrize("impl", ["py", "c"])
@pytest.mark.parametrize("data,spans,repl,expected", SPLICE_CASES)
def test_splice_cases(impl, data, spans, repl, expected, request):
    fn = py_splice if impl == "py" else request.getfixturevalue("c").splice
    assert fn(data, spans, repl) == expected


@pytest.mark.parametrize("impl", ["py", "c"])
@pytest.mark.parametrize("spans,repl,exc", [
    ([0, 1], [], ValueError),
    ([0, 1, 2], [None], ValueError),
    ([0], [], ValueError),
    ([0, 1], [None, None], ValueError),
    ([2, 1], [None], ValueError),                              # s > e
    ([0, 2, 1, 3], [None, None], ValueError),                  # overlap
    ([-1, 1], [None], ValueError),
    ([0, 4], [None], ValueError),                              # past the end
    ([0, 10**30], [None], ValueError),
    ([0, "1"], [None], TypeError),
    ([0.0, 1], [None], TypeError),
    ([None, None], [b"x"], TypeError),
])
def test_splice_errors(impl, spans, repl, exc, request):
    fn = py_splice if impl == "py" else request.getfixturevalue("c").splice
    with pytest.raises(exc):
        fn(b"abc", spans, repl)


_repl_item = st.one_of(st.binary(max_size=6), st.none(), st.just(0), st.just(bytearray(b"ba")),
                       st.just(b""))


@DIFF
@given(data=st.binary(max_size=40), cuts=st.lists(st.integers(0, 45), max_size=10),
       repl=st.lists(_repl_item, max_size=6), mess=st.sampled_from([None, "sort", "raw"]))
def test_splice_random(c, data, cuts, repl, mess):
    spans = sorted(min(x, len(data)) for x in cuts) if mess == "sort" else list(cuts)
    if mess is None:
        spans = sorted(min(x, len(data)) for x in cuts)
        spans = spans[:len(spans) - len(spans) % 2]
        repl = (repl * 5)[:len(spans) // 2] if repl else [None] * (len(spans) // 2)
    assert outcome(c.splice, data, spans, repl) == outcome(py_splice, data, spans, repl)


@REAL
@given(stmt=statements(), idxs=idxs_strategy, vals=st.lists(_repl_item, min_size=1, max_size=4))
def test_splice_masked_fields(c, stmt, idxs, vals):
    data, start, ncols, _ = stmt
    spans = py_tuple_spans(data, start, ncols, idxs)
    assume(spans is not None)
    repl = [vals[i % len(vals)] for i in range(len(spans) // 2)]
    out = c.splice(data, spans, repl)
    assert out == py_splice(data, spans, repl)
    assert type(out) is bytes
    assert c.splice(data, spans, [None] * len(repl)) == data


# --------------------------------------------------------------------------------------------
# No read past the end of the data
# --------------------------------------------------------------------------------------------


class GuardedBuffer:
    """Data placed flush against an inaccessible page: any read past its end crashes."""

    def __init__(self):
        import ctypes
        import mmap
        self.ctypes = ctypes
        self.page = mmap.PAGESIZE
        self.map = mmap.mmap(-1, 2 * self.page)
        self.base = ctypes.addressof(ctypes.c_char.from_buffer(self.map))
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        if libc.mprotect(self.base + self.page, self.page, 0) != 0:   # PROT_NONE
            raise OSError(ctypes.get_errno(), "mprotect")

    def view(self, data: bytes) -> memoryview:
        assert len(data) <= self.page
        addr = self.base + self.page - len(data)
        self.ctypes.memmove(addr, data, len(data))
        return memoryview((self.ctypes.c_char * len(data)).from_address(addr)).cast("B")


@pytest.fixture(scope="module")
def guarded():
    if not sys.platform.startswith("linux"):
        pytest.skip("guard-page test needs Linux mprotect")
    return GuardedBuffer()


@settings(max_examples=1500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.one_of(random_bytes, corrupted().map(lambda s: s[0]), fuzzy_tuples().map(lambda f: f[0])),
       ncols=st.integers(0, 4), idxs=idxs_strategy, cut=st.integers(0, 20))
def test_no_read_past_the_end(c, guarded, data, ncols, idxs, cut):
    data = data[:max(0, len(data) - cut)] if cut < 10 else data
    v = guarded.view(data)
    for pos in (0, len(data) // 2, len(data) - 1, len(data)):
        assert c.body_end(v, pos) == py_body_end(data, pos)
    for start in (0, data.find(b"(")):
        assert c.tuple_spans(v, start, ncols, idxs) == py_tuple_spans(data, start, ncols, idxs)
    spans = [0, len(data) // 3, len(data) // 2, len(data)]
    assert c.splice(v, spans, [b"x", None]) == py_splice(data, spans, [b"x", None])


# --------------------------------------------------------------------------------------------
# copy_spans (PostgreSQL COPY text data)
# --------------------------------------------------------------------------------------------


def ref_copy_spans(data, ncols, idxs):
    """The plain definition; py_copy_spans (regex) and the C version must both equal it."""
    idxs = sorted({i for i in idxs if 0 <= i < ncols})
    out = []
    pos = 0
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for n, line in enumerate(lines):
        fields = line.split(b"\t")
        if len(fields) != ncols:
            return n
        starts = [pos]
        for f in fields:
            starts.append(starts[-1] + len(f) + 1)
        for i in idxs:
            out += [starts[i], starts[i] + len(fields[i])]
        pos += len(line) + 1
    return out


COPY_CASES = [
    (b"", 1, (0,), []),
    (b"", 3, (0, 1, 2), []),
    (b"\n", 1, (0,), [0, 0]),                                      # one empty line = one empty field
    (b"\n", 1, (), []),
    (b"\n", 2, (0,), 0),
    (b"\n\n\n", 1, (0,), [0, 0, 1, 1, 2, 2]),
    (b"a\tb\n", 2, (0, 1), [0, 1, 2, 3]),
    (b"a\tb\n", 2, (1, 1, 0, 7, -1), [0, 1, 2, 3]),                 # a set; unknown indexes ignored
    (b"a\tb\n", 2, (), []),
    (b"a\tb\n", 2, (5,), []),
    (b"ab\tcd\tef\ngh\tij\tkl\n", 3, (2, 0), [0, 2, 6, 8, 9, 11, 15, 17]),
    (b"a\t\t\n", 3, (1, 2), [2, 2, 3, 3]),                          # trailing empty fields
    (b"\t\t\n", 3, (0, 1, 2), [0, 0, 1, 1, 2, 2]),
    (b"\t\n\t\n", 2, (1,), [1, 1, 3, 3]),
    (b"a\tb\tc\nd\te\n", 3, (0,), 1),                               # wrong count on the last line
    (b"a\tb\nd\te\tf\n", 3, (0,), 0),                               # ... on the first line
    (b"a\tb\tc\nd\te\tf\ng\th\n", 3, (0,), 2),
    (b"a\tb\tc\nd\te\tf\tg\n", 3, (0,), 1),                         # too many fields
    (b"a\tb\n\nc\td\n", 2, (0,), 1),                                # an empty line in the middle
    (b"a\tb", 2, (1,), [2, 3]),                                     # no final newline
    (b"a\tb\nc\td", 2, (0, 1), [0, 1, 2, 3, 4, 5, 6, 7]),
    (b"a\tb\nc", 2, (0,), 1),                                       # unterminated last line counts
    (b"a", 1, (0,), [0, 1]),
    (b"\t", 1, (0,), 0),
    (b"\t", 2, (0, 1), [0, 0, 1, 1]),
    (b"a\n\n", 1, (0,), [0, 1, 2, 2]),                              # only the final empty piece goes
    (b"\\N\t\\\\\t\\t\n", 3, (0, 1, 2), [0, 2, 3, 5, 6, 8]),        # backslash escapes are plain bytes
    (b"x\ry\t\xff\xfe\n", 2, (0, 1), [0, 3, 4, 6]),
    (b"a\tb\n", 10**30, (0,), 0),                                   # more columns than any line has
    (b"", 10**30, (0,), []),
    (b"a\tb\n", 2, (10**30, -10**30, 1), [2, 3]),
]


@pytest.mark.parametrize("impl", ["ref", "py", "c"])
@pytest.mark.parametrize("data,ncols,idxs,expected", COPY_CASES)
def test_copy_spans_cases(impl, data, ncols, idxs, expected, request):
    fn = {"ref": lambda: ref_copy_spans, "py": lambda: py_copy_spans,
          "c": lambda: request.getfixturevalue("c").copy_spans}[impl]()
    got = fn(data, ncols, idxs)
    assert got == expected
    assert type(got) is type(expected)


def test_copy_spans_argument_errors(c):
    for fn in (c.copy_spans, py_copy_spans):
        for bad in (0, -1, -10**30):
            with pytest.raises(ValueError):
                fn(b"a\n", bad, (0,))
            with pytest.raises(ValueError):
                fn(b"", bad, ())
        with pytest.raises(TypeError):
            fn(b"a\n", "1", (0,))
        with pytest.raises(TypeError):
            fn(b"a\n", 1.0, (0,))
        with pytest.raises(TypeError):
            fn(b"a\n", 1, ("0",))
        with pytest.raises(TypeError):
            fn(b"a\n", 1, 0)
        with pytest.raises(TypeError):
            fn("a\n", 1, (0,))
        with pytest.raises(TypeError):
            fn(None, 1, (0,))
        assert fn(b"a\tb\n", 2, [1]) == [2, 3]
        assert fn(b"a\tb\n", 2, iter([1, 0])) == [0, 1, 2, 3]
        assert fn(b"a\tb\n", True, (0,)) == 0                      # an int, like any __index__
        assert fn(bytearray(b"a\tb\n"), 2, (1,)) == [2, 3]
        assert fn(memoryview(b"xa\tb\n")[1:], 2, (1,)) == [2, 3]
        assert fn(memoryview(b"a\tb\n"), 2, (1,)) == [2, 3]


def test_copy_spans_accelerated():
    if fast.PURE or _C is None:
        assert fast.copy_spans is py_copy_spans
        if fast.PURE:
            pytest.skip("DUMPMASK_PURE is set")
        assert fast.c_copy_spans is None
        unavailable(NO_C_REASON)
    assert fast.c_copy_spans is _C.copy_spans
    assert fast.copy_spans is _C.copy_spans


_COPY_TOKENS = [b"a", b"Zq", b"0", b"42", b"\\", b"\\\\", b"\\N", b"\\t", b"\\n", b"\\.", b" ",
                b"\xc3\xa9", b"\x80", b"\xff", b"\x00", b"\r", b"'", b'"', b",", b"{}", b"2006-02-15"]
copy_field = st.lists(st.sampled_from(_COPY_TOKENS), max_size=4).map(b"".join)
copy_idxs = st.lists(st.integers(-2, 14), max_size=8).map(tuple)


@st.composite
def copy_blocks(draw):
    """(data, ncols): COPY lines of ncols fields; sometimes one line with another count, no final
    newline, or a stray empty line."""
    ncols = draw(st.integers(1, 12))
    nlines = draw(st.integers(0, 8))
    lines = [b"\t".join(draw(copy_field) for _ in range(ncols)) for _ in range(nlines)]
    if lines and draw(st.integers(0, 2)) == 0:
        k = draw(st.integers(0, len(lines) - 1))
        n = draw(st.sampled_from([ncols - 1, ncols + 1, 0, ncols + 5, 1, 2 * ncols]))
        lines[k] = b"\t".join(draw(copy_field) for _ in range(max(n, 1)))
        if n == 0:
            lines[k] = b""
    if lines and draw(st.integers(0, 5)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), b"")
    data = b"".join(line + b"\n" for line in lines)
    if data and draw(st.integers(0, 4)) == 0:
        data = data[:-1]
    return data, ncols


_RAW_COPY = [b"\t", b"\t", b"\t", b"\n", b"\n", b"\\", b"a", b"bc", b"\xff", b"\x80", b"\r", b"\x00", b""]
raw_copy = st.one_of(st.lists(st.sampled_from(_RAW_COPY), max_size=40).map(b"".join), st.binary(max_size=30))


@DIFF
@given(block=copy_blocks(), idxs=copy_idxs)
def test_copy_spans_random(c, block, idxs):
    data, ncols = block
    want = ref_copy_spans(data, ncols, idxs)
    assert c.copy_spans(data, ncols, idxs) == want
    assert py_copy_spans(data, ncols, idxs) == want


@DIFF
@given(data=raw_copy, ncols=st.integers(1, 12), idxs=copy_idxs)
def test_copy_spans_random_bytes(c, data, ncols, idxs):
    want = ref_copy_spans(data, ncols, idxs)
    assert c.copy_spans(data, ncols, idxs) == want
    assert py_copy_spans(data, ncols, idxs) == want


@REAL
@given(block=copy_blocks(), idxs=copy_idxs)
def test_copy_spans_finds_the_fields(c, block, idxs):
    """The spans are exactly the fields of split(), and an int names a line with the wrong count."""
    data, ncols = block
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    cols = sorted({i for i in idxs if 0 <= i < ncols})
    for fn in (c.copy_spans, py_copy_spans):
        got = fn(data, ncols, idxs)
        if isinstance(got, int):
            assert len(lines[got].split(b"\t")) != ncols
            assert all(len(line.split(b"\t")) == ncols for line in lines[:got])
        else:
            assert all(len(line.split(b"\t")) == ncols for line in lines)
            want = [line.split(b"\t")[i] for line in lines for i in cols]
            assert [data[got[k]:got[k + 1]] for k in range(0, len(got), 2)] == want


def test_copy_spans_big_block(c):
    line = b"1\t2\tJANE\tO'HARA\tjane@example.com\t\\N\tt\t2006-02-15\t2006-02-15 04:57:20\t1\tC:\\\\temp\n"
    data = line * 20000
    got = c.copy_spans(data, 11, (4, 2, 3))
    assert got == py_copy_spans(data, 11, (2, 3, 4)) == ref_copy_spans(data, 11, (2, 3, 4))
    assert len(got) == 20000 * 6
    assert data[got[-4]:got[-3]] == b"O'HARA"
    bad = data + line.replace(b"\t", b"", 1) + line
    assert c.copy_spans(bad, 11, (2,)) == py_copy_spans(bad, 11, (2,)) == 20000
    assert c.copy_spans(data[:-1], 11, (10,)) == py_copy_spans(data[:-1], 11, (10,))


@settings(max_examples=1500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.one_of(copy_blocks().map(lambda b: b[0]), raw_copy), ncols=st.integers(1, 12),
       idxs=copy_idxs, cut=st.integers(0, 3))
def test_copy_spans_no_read_past_the_end(c, guarded, data, ncols, idxs, cut):
    data = data[:max(0, len(data) - cut)]
    v = guarded.view(data)
    assert c.copy_spans(v, ncols, idxs) == ref_copy_spans(data, ncols, idxs)


def ref_copy_scan(window: bytes):
    """copy_scan by its definition, line by line: the first line (after a line break) that is
    exactly a backslash and a dot, ended by \\n or \\r\\n."""
    pieces = window.split(b"\n")
    pos, term = 0, -1
    for n, piece in enumerate(pieces[:-1]):
        nxt = pos + len(piece) + 1          # where the line after this line break begins
        rest = window[nxt:]
        if n + 1 < len(pieces) and (rest.startswith(b"\\.\n") or rest.startswith(b"\\.\r\n")):
            term = nxt
            break
        pos = nxt
    lines = window.count(b"\n", 0, term) if term >= 0 else window.count(b"\n")
    return term, lines, window.rfind(b"\n") + 1


copy_windows = st.lists(st.sampled_from([b"\n", b"\\", b".", b"\r", b"x", b"\t", b"\\.\n", b"\n\\.\r\n"]),
                        max_size=40).map(b"".join)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(window=st.one_of(copy_windows, st.binary(max_size=64)), cut=st.integers(0, 3))
def test_copy_scan_c_is_pure_and_reference(c, guarded, window, cut):
    window = window[:max(0, len(window) - cut)]
    want = ref_copy_scan(window)
    assert postgres.copy_scan(window) == want
    assert c.copy_scan(guarded.view(window)) == want


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(copy_windows, st.binary(max_size=300)))
def test_count_nl_is_bytes_count(c, guarded, data):
    from dumpmask import speedups

    assert c.count_nl(guarded.view(data)) == data.count(b"\n") == speedups._py_count_nl(data)
    assert c.count_nl(memoryview(data)[1:]) == data[1:].count(b"\n")


def test_copy_scan_cases(c):
    for impl in (c.copy_scan, postgres.copy_scan):
        assert impl(b"") == (-1, 0, 0)
        assert impl(b"\\.\n") == (-1, 1, 3)            # not after a line break: the caller's case
        assert impl(b"a\n\\.\nrest\n") == (2, 1, 10)
        assert impl(b"a\nb\n\\.\r\n") == (4, 2, 8)
        assert impl(b"a\n\\.x\n\\.") == (-1, 2, 6)      # "\\.x" is data; "\\." without its line break is not yet
        assert impl(b"a\tb\nc") == (-1, 1, 4)


# --------------------------------------------------------------------------------------------
# FAKES: the keyed PRF and the plain-field path of the transformers (transformers/fastprf.py)
# --------------------------------------------------------------------------------------------

import hashlib  # noqa: E402

from dumpmask.crypto import Key  # noqa: E402
from dumpmask.dialects import mysql_lex, postgres  # noqa: E402
from dumpmask.schema import Column  # noqa: E402
from dumpmask.transformers import REGISTRY, fastprf  # noqa: E402
from dumpmask.work import Tally, my_field_fns, pg_field_fns  # noqa: E402

FAKES_KEY = Key(TEST_KEY)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.binary(min_size=1, max_size=64), prefix=st.binary(max_size=300),
       size=st.integers(1, 64), data=st.binary(max_size=400))
def test_prf_digest_is_blake2b(c, key, prefix, size, data):
    h = hashlib.blake2b(key=key, digest_size=size)
    h.update(prefix)
    h.update(data)
    assert c.prf_digest(c.prf_state(key, prefix, size), data) == h.digest()


@settings(max_examples=200, deadline=None)
@given(domain=st.text(max_size=40), size=st.sampled_from([8, 16, 24, 32]), data=st.binary(max_size=200))
def test_prf_is_key_prf(domain, size, data):
    """Prf (C or pure) gives Key.prf's bytes: the digests every transformer had before."""
    for pure in (False, True):
        assert fastprf.Prf(FAKES_KEY, domain, size, pure=pure).digest(data) == FAKES_KEY.prf(domain, data, size)


UTF8ISH = st.one_of(st.binary(max_size=40),
                    st.text(max_size=30).map(lambda s: s.encode("utf-8", "surrogatepass")),
                    st.text(alphabet=st.characters(min_codepoint=0x20, blacklist_characters="\\'\"",
                                                  blacklist_categories=("Cs",)),
                            max_size=30).map(str.encode))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=UTF8ISH, quotes=st.booleans())
def test_plain_utf8_c_is_pure(c, raw, quotes):
    assert c.plain_utf8(raw, quotes) is fastprf.py_plain_utf8(raw, quotes)


ESCAPED = st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30).map(postgres.copy_encode),
                    st.binary(max_size=30).map(lambda b: mysql_lex.encode_string(b)[1:-1]),
                    st.integers(1020, 1030).map(lambda n: b"\\n" + b"x" * n))   # around FIELD_BUF


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(UTF8ISH, ESCAPED), mode=st.sampled_from([0, 1]), quote=st.booleans(), keep=st.booleans())
def test_prf_field_and_pick_c_are_pure(c, raw, mode, quote, keep):
    if quote:
        raw = b"'" + raw + b"'"
    st_c = c.prf_state(FAKES_KEY.secret, fastprf.domain_prefix("d"), 16)
    st_py = FAKES_KEY.hasher("d", 16)
    assert c.prf_field(st_c, mode, raw) == fastprf.py_prf_field(st_py, mode, raw)
    pool = tuple(f"v{i}" for i in range(7))
    assert c.pick_field(st_c, mode, pool, 0, 8, keep, raw) == fastprf.py_pick_field(st_py, mode, pool, 0, 8, keep, raw)
    assert c.prf_field(st_c, mode, memoryview(raw)) is None   # not bytes: the caller's general path
    heads, tails = (b"", b"h1.", b"'h2_", b"h3"), (b"@a", b"'", b"")
    table = bytes(range(255, -1, -1))
    st24_c, st24_py = c.prf_state(FAKES_KEY.secret, fastprf.domain_prefix("d"), 24), FAKES_KEY.hasher("d", 24)
    for args in ((heads, 14, 22, tails, 3, 14, table), (heads[1:], 0, 8, tails[:1], 0, 0, table)):
        assert (c.assemble_field(st24_c, mode, keep, *args, raw)
                == fastprf.py_assemble_field(st24_py, mode, keep, *args, raw))


def _purify(t):
    """The same transformer on the pure twins."""
    t._prf = fastprf.Prf(t.key, t._prf_domain, t.digest_size, pure=True)
    t._digest = t._prf.digest
    return t


class _General:
    """A value function without the fast hooks: work.py's general (decode, call, encode) path."""

    def __init__(self, t):
        self.uncached = getattr(t, "uncached", t)

    def __call__(self, v):
        return self.uncached(v)


FAKE_COLUMNS = [Column(name="c", type="text", kind="text"),
                Column(name="c", type="character varying(30)", kind="text", length=30),
                Column(name="c", type="character varying(26)", kind="text", length=26),
                Column(name="d", type="date", kind="date"),
                Column(name="i", type="bigint", kind="int", int_min=-(1 << 63), int_max=(1 << 63) - 1)]


def _fns_for(name):
    """[(label, [miss functions that must agree])] for every column the mutation accepts."""
    cls = REGISTRY[name]
    out = []
    base = REQUIRED_OPTIONS.get(name, {})
    for col in FAKE_COLUMNS:
        for options in ({**base}, {**base, "empty": "mask"}) if cls.keeps_empty else ({**base},):
            if cls.type_error(col, options, "x" if cls.takes_argument else None) is not None:
                continue
            made = []
            for variant in ("c", "pure", "general"):
                t = cls(FAKES_KEY, dict(options), col, "x" if cls.takes_argument else None)
                if variant == "pure" and hasattr(t, "_prf"):
                    _purify(t)
                vf = _General(t) if variant == "general" else t
                made.append(vf)
            out.append((f"{name} {col.type} {options}", col, made))
    return out


MUTATIONS = sorted(n for n in REGISTRY if n != "key")   # key: the remapping's (tests/test_remap.py)
_BUILT = {}


def _built(name):
    if name not in _BUILT:
        _BUILT[name] = _fns_for(name)
    return _BUILT[name]


COPY_RAW = st.one_of(UTF8ISH.filter(lambda b: b"\t" not in b and b"\n" not in b),
                     st.text(st.characters(blacklist_categories=("Cs",)), max_size=30).map(postgres.copy_encode), st.just(b""), st.just(b"\\N"))
MY_RAW = st.one_of(st.binary(max_size=30).map(mysql_lex.encode_string),
                   st.text(max_size=30).map(lambda s: mysql_lex.encode_string(s.encode("utf-8", "surrogatepass"))),
                   UTF8ISH.filter(lambda b: b"'" not in b and b"\\" not in b).map(lambda b: b"'" + b + b"'"),
                   st.just(b"''"), st.just(b"NULL"))


@pytest.mark.parametrize("name", MUTATIONS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=st.lists(st.tuples(COPY_RAW, MY_RAW), min_size=1, max_size=6))
def test_every_mutation_c_pure_and_general_give_the_same_bytes(name, raws):
    """For every mutation and column: the field functions on C, on the pure twins and on the
    general decode/call/encode path give identical bytes, on arbitrary unicode and bytes."""
    for label, col, made in _built(name):
        pg = [pg_field_fns(t, col.kind, col.name, Tally()).miss for t in made]
        my = [my_field_fns(t, col.kind, col.name, Tally()).miss for t in made]
        for copy_raw, my_raw in raws:
            assert len({repr(outcome(f, copy_raw)) for f in pg}) == 1, (label, copy_raw)
            assert len({repr(outcome(f, my_raw)) for f in my}) == 1, (label, my_raw)
# ------------------------------------------------------------------ key_spans (dumpmask.keyspans)

import functools  # noqa: E402

from dumpmask.keyspans import py_key_spans  # noqa: E402
from dumpmask.remap import Remapper  # noqa: E402
from dumpmask.crypto import Key  # noqa: E402

_UNCH = object()
_NULL = b"\\N"


@functools.lru_cache(maxsize=None)
def _key_remapper(lo, hi, split, fill):
    r = Remapper(Key(TEST_KEY), "randomInteger", lo, hi, "int[t]", split=split)
    perms = [r.perm] + ([r.upper] if r.upper is not None else [])
    for i, p in enumerate(perms):
        if p._f is not None and p._f._use_tables and (fill or i == 0):
            p._f._fill_all()
    return r


def _key_run(fn, data, spans, k, j, segs, miss_of):
    """(result, repl, misses seen) of one key_spans implementation, or the exception type."""
    seen = []
    cache = {b"7": b"CACHED"}

    def miss(raw):
        seen.append(raw)
        r = miss_of(raw)
        if isinstance(r, Exception):
            raise r
        return r
    repl = ["old"] * (len(spans) // 2)
    try:
        res = fn(data, spans, k, j, repl, segs, cache, miss, _UNCH, _NULL)
    except Exception as e:  # noqa: BLE001 - both must raise the same
        return type(e).__name__, repl, seen
    return res, repl, seen


_KEY_FIELDS = st.one_of(st.integers(0, 10**6).map(lambda v: b"%d" % v), st.integers(0, 10**20).map(lambda v: b"%d" % v),
                        st.sampled_from([b"\\N", b"", b"-5", b"+3", b" 4", b"007", b"7", b"'12'", b"NULL", b"x"]),
                        st.binary(max_size=4))


@DIFF
@given(fields=st.lists(st.lists(_KEY_FIELDS, min_size=2, max_size=2), max_size=40),
       j=st.integers(0, 1), lo=st.sampled_from([0, 1, 7]), width=st.sampled_from([1, 2, 9, 300, 5000, 70000]), split=st.booleans(),
       fill=st.booleans(), keep=st.booleans())
def test_key_spans_random(c, fields, j, lo, width, split, fill, keep):
    """C key_spans and the pure twin agree (results, replacements, the misses called), and every
    value remapped equals the Remapper's own raw_int result."""
    data, spans = b"", []
    for row in fields:
        for f in row:
            data += b"<"
            spans += [len(data), len(data) + len(f)]
            data += f
    hi = lo + width
    r = _key_remapper(lo, hi, split, fill)
    segs = None if keep else r.key_segments()

    def miss_of(raw):
        return ValueError("bad") if raw == b"x" else b"M" + raw
    a = _key_run(c.key_spans, data, spans, 2, j, segs, miss_of)
    b = _key_run(py_key_spans, data, spans, 2, j, segs, miss_of)
    assert a == b
    if keep or isinstance(a[0], str):
        return
    fn = r.for_column(type("C", (), {"kind": "int"})(), "t.c")
    for n, v in enumerate(a[1][j::2]):
        raw = data[spans[4 * n + 2 * j]:spans[4 * n + 2 * j + 1]]
        if v is not _UNCH and not v.startswith((b"M", b"C")):
            assert v == fn.raw_int(raw)


def test_key_spans_refuses_bad_shapes(c):
    for fn in (c.key_spans, py_key_spans):
        with pytest.raises(ValueError):
            fn(b"12", [0, 2], 2, 0, [None], None, {}, lambda r: r, _UNCH, _NULL)
        with pytest.raises(ValueError):
            fn(b"12", [0, 5], 1, 0, [None], None, {}, lambda r: r, _UNCH, _NULL)


# ------------------------------------------------------------------ verify's hash, filter and probe (dumpmask.verifyfast)

from dumpmask.verifyfast import py_bloom_add, py_bloom_has, py_probe_tokens, py_vhash  # noqa: E402

_TOKEN_BYTES = st.lists(st.sampled_from([b"a", b"Z", b"9", b" ", b"-", b"\t", b"_", b"\xc3\xa9", b"\xe4\xb8\xad", b"\xff",
                                         b"Mary", b"SMITH", b"@", b"x" * 300]), max_size=30).map(b"".join)


@DIFF
@given(data=st.binary(max_size=40), seed=st.integers(0, 2**64 - 1))
def test_vhash_random(c, data, seed):
    assert c.vhash(data, seed) == py_vhash(data, seed)


@DIFF
@given(hashes=st.lists(st.integers(0, 2**64 - 1), max_size=60), blocks=st.integers(1, 4))
def test_bloom_random(c, hashes, blocks):
    a, b = bytearray(64 * blocks), bytearray(64 * blocks)
    for h in hashes:
        assert c.bloom_add(a, h) == py_bloom_add(b, h)
        assert a == b
    for h in hashes:
        assert c.bloom_has(a, h) and py_bloom_has(b, h)
    for h in (0, 1, 2**63, 12345):
        assert c.bloom_has(a, h) == py_bloom_has(b, h)
    with pytest.raises(ValueError):
        c.bloom_add(bytearray(65), 1)
    with pytest.raises(ValueError):
        py_bloom_add(bytearray(65), 1)


@DIFF
@given(raw=_TOKEN_BYTES, known=st.lists(_TOKEN_BYTES, max_size=4), seed=st.integers(0, 2**64 - 1), bloom=st.booleans())
def test_probe_tokens_random(c, raw, known, seed, bloom):
    """The C probe and its twin agree, on a set and on a Bloom filter of the same hashes."""
    from dumpmask.verifyfast import py_vtokens

    hashes = {py_vhash(t, seed) for k in known for t in py_vtokens(k)}
    if bloom:
        target = bytearray(64 * 8)
        for h in hashes:
            py_bloom_add(target, h)
    else:
        target = hashes
    assert c.probe_tokens(raw, seed, target) == py_probe_tokens(raw, seed, target)


# --------------------------------------------------------------------------- the integer Feistel in C

from dumpmask import remap  # noqa: E402
from dumpmask.errors import MaskingError  # noqa: E402

_C_REMAP = ("_PRF_STATE", "prf_state"), ("_FEISTEL_NEW", "feistel_new"), ("_FEISTEL_INT", "feistel_int"), \
    ("_FEISTEL_FILL", "feistel_fill"), ("_FEISTEL_FULL", "feistel_full"), ("_KEY_INT_NEW", "key_int_new"), \
    ("_KEY_INT_FIELD", "key_int_field"), ("_KEY_INT_LITERAL", "key_int_literal")


def _remap_c(monkeypatch, c, on: bool) -> None:
    """remap's C functions: the extension's (also under DUMPMASK_PURE=1), or none (the pure twin)."""
    for attr, name in _C_REMAP:
        monkeypatch.setattr(remap, attr, getattr(c, name) if on else None)


KEYS_DIFF = settings(DIFF, max_examples=300)   # (a pure table fill is ~0.5 s)

_SPAN = st.one_of(st.integers(0, 300), st.integers(300, 70_000), st.integers(70_000, 2**32),
                  st.integers(2**32, 2**64 - 1), st.integers(2**64, 2**70), st.sampled_from([1, 2, 3, 255, 256, 65535,
                                                                                            65536, 2**31 - 2, 2**32 - 1]))


@KEYS_DIFF
@given(secret=st.binary(min_size=1, max_size=40).filter(lambda b: b.strip()), span=_SPAN, tables=st.booleans(),
       fill=st.sampled_from(["lazy", "full", "after"]), xs=st.lists(st.integers(0, 2**70), min_size=1, max_size=12),
       decrypt_first=st.booleans())
def test_feistel_c_is_the_pure_twin(c, monkeypatch, secret, span, tables, fill, xs, decrypt_first):
    """The C Feistel (feistel_int: lazily filled tables, fully filled tables, no tables, ranges
    past 2**32 without tables) gives the pure methods' values, encrypt and decrypt, and leaves
    the same round tables."""
    key = Key(secret, weak_key_ok=True)
    n = span + 1
    if fill == "after":
        monkeypatch.setattr(remap._Feistel, "FILL_AFTER", len(xs) // 2)
    _remap_c(monkeypatch, c, True)
    fast = remap._Feistel(key, "remap:int:t", n, tables)
    pure = remap._Feistel(key, "remap:int:t", n, tables, accel=False)
    assert fast.accelerated == ((n - 1).bit_length() <= 64) and not pure.accelerated
    if fill == "full":
        fast._fill_all()
        pure._fill_all()
    xs = [x % n for x in xs] + [0, n - 1]
    if decrypt_first:   # the tables filled by decryptions first
        assert [fast.decrypt(x) for x in xs] == [pure.decrypt(x) for x in xs]
    enc = [fast.encrypt(x) for x in xs]
    assert enc == [pure.encrypt(x) for x in xs]
    assert all(0 <= y < n for y in enc)
    assert [fast.decrypt(y) for y in enc] == xs == [pure.decrypt(y) for y in enc]
    assert [fast.decrypt(x) for x in xs] == [pure.decrypt(x) for x in xs]
    if fast._use_tables and fast.accelerated:
        assert [list(t) for t in fast._tables] == [list(t) for t in pure._tables]
        assert fast.full == pure.full


def test_feistel_c_fills_every_table_entry(c, monkeypatch):
    """feistel_fill (after FILL_AFTER values, or _fill_all) computes the same tables as the
    pure fill, and a 16-bit-halves permutation stays a bijection on a sample."""
    _remap_c(monkeypatch, c, True)
    key = Key(TEST_KEY)
    for n in (5, 4096, 70_001, 2**32):
        fast = remap._Feistel(key, f"remap:int:f{n}", n)
        pure = remap._Feistel(key, f"remap:int:f{n}", n, accel=False)
        fast._fill_all()
        pure._fill_all()
        assert fast.full and pure.full
        assert [list(t) for t in fast._tables] == [list(t) for t in pure._tables]
        xs = range(0, n, max(1, n // 3000))
        assert [fast.encrypt(x) for x in xs] == [pure.encrypt(x) for x in xs]


def _int_fns(monkeypatch, c, lo, hi, split):
    """(C, pure) value functions of an integer key; remap's C functions stay on for the test (the
    C contexts are made at first use)."""
    fns = []
    for on in (False, True):
        _remap_c(monkeypatch, c, on)
        r = remap.Remapper(Key(TEST_KEY), "randomInteger", lo, hi, "int[t]", split=split)
        fns.append(r.for_column(type("C", (), {"kind": "int"})(), "t.c"))
    return fns[1], fns[0]


_INT_RAW = st.one_of(st.integers(0, 10**6).map(lambda v: b"%d" % v), st.integers(0, 10**20).map(lambda v: b"%d" % v),
                     st.integers(0, 99).map(lambda v: b"%03d" % v),
                     st.sampled_from([b"", b"-5", b"+3", b" 4", b"007", b"0", b"7", b"12a", b"\xd9\xa3", b"1_0",
                                      b"999999999999999999", b"1000000000000000000"]))


def _outcome_of(fn, raw):
    try:
        return "ok", fn(raw)
    except MaskingError as e:
        return "error", str(e)


@KEYS_DIFF
@given(raws=st.lists(_INT_RAW, max_size=12), lo=st.sampled_from([0, 1, 7, 2**31]),
       width=st.sampled_from([0, 1, 2, 9, 300, 5000, 70_000, 2**31 - 2, 2**40, 2**61]), split=st.booleans())
def test_key_int_field_is_raw_int(c, monkeypatch, raws, lo, width, split):
    """The integer strategy's raw_int in C (key_int_field) and the Python one give the same bytes,
    the same errors and the same observed maximum, value after value."""
    hi = lo + width
    if split and width < 1:
        return
    fast, pure = _int_fns(monkeypatch, c, lo, hi, split)
    assert type(fast.raw_int) is not type(pure.raw_int)
    for raw in raws:
        assert _outcome_of(fast.raw_int, raw) == _outcome_of(pure.raw_int, raw), raw
        assert fast.observed == pure.observed


_LIT_RAW = st.one_of(_INT_RAW.map(lambda r: b"'" + r + b"'"), _INT_RAW, st.sampled_from([b"NULL", b"''", b"'", b"'5",
                                                                                          b"_binary '5'", b"0x35"]))


@KEYS_DIFF
@given(raws=st.lists(_LIT_RAW, max_size=12), lo=st.sampled_from([0, 1, 7]),
       width=st.sampled_from([1, 9, 300, 70_000, 2**31 - 2, 2**40]), split=st.booleans())
def test_key_int_literal_is_the_general_path(c, monkeypatch, raws, lo, width, split):
    """MySQL fields of an integer key: the C paths (key_int_literal for '123', key_int_field
    for 123) give the general path's bytes, errors, counts and observed maximum; COPY fields
    likewise."""
    hi = lo + width
    fast, pure = _int_fns(monkeypatch, c, lo, hi, split)
    assert hasattr(fast, "field_fast") and not hasattr(pure, "field_fast")
    tf, tp = Tally(), Tally()
    mf, mp = my_field_fns(fast, "int", "c", tf).sql, my_field_fns(pure, "int", "c", tp).sql
    cf, cp = pg_field_fns(fast, "int", "c", tf).copy, pg_field_fns(pure, "int", "c", tp).copy
    for raw in raws:
        assert _outcome_of(mf, raw) == _outcome_of(mp, raw), raw
        assert _outcome_of(cf, raw) == _outcome_of(cp, raw), raw
        assert fast.observed == pure.observed
        assert (tf.changed, tf.nulls) == (tp.changed, tp.nulls)
