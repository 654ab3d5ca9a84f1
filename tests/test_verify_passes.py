"""verify's passes in C (vtokens, learn_piece, search_piece, confirm_piece in dumpmask._speedups)
against their pure-Python twins in dumpmask.verifyfast, on generated COPY chunks, MySQL VALUES
lists and row lists (escapes, non-ASCII and invalid UTF-8, NULLs, odd literals)."""
from __future__ import annotations

import importlib
from array import array

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import unavailable
from dumpmask.dialects.mysql import _decoded as my_decode
from dumpmask.dialects.postgres import copy_decode
from dumpmask.verifyfast import (py_bloom_add, py_confirm_piece, py_learn_piece, py_search_piece, py_vhash,
                                 py_vtokens, tokens_of)

try:
    _C = importlib.import_module("dumpmask._speedups")
except ImportError:
    _C = None

DIFF = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture
def c():
    if _C is None or not hasattr(_C, "confirm_piece"):
        unavailable("dumpmask._speedups is not built (or built without verify's passes)")
    return _C


_ATOMS = [b"a", b"Z", b"9", b"07", b" ", b"-", b".", b"@", b"_", b"\xc3\xa9", b"\xc3\x89", b"\xe4\xb8\xad", b"\xce\xa3",
          b"\xc3\x9f", b"\xef\xbc\xa1", b"\xd9\xa3", b"\xff", b"\xed\xa0\x80", b"\xe2\x82", b"Mary", b"SMITH",
          b"mary.smith@x.org", b"x" * 300]
TEXT = st.lists(st.sampled_from(_ATOMS), max_size=12).map(b"".join)
WORDS = st.lists(st.sampled_from([b"mary", b"smith", b"9", b"07", b"\xc3\xa9", b"x" * 300, b"ss", b"\xe4\xb8\xad"]),
                 min_size=1, max_size=3).map(b" ".join)


@DIFF
@given(data=st.one_of(TEXT, st.binary(max_size=30), st.text(max_size=20).map(lambda s: s.encode("utf-8", "surrogatepass"))))
def test_vtokens(c, data):
    assert c.vtokens(data) == py_vtokens(data)


def test_vtokens_examples(c):
    for fn in (c.vtokens, py_vtokens):
        assert fn(b"MARY.SMITH@sakilacustomer.org!") == [b"mary", b"smith", b"sakilacustomer", b"org"]
        assert fn("Straße ΣΊΣΥΦΟΣ".encode()) == [b"strasse", "σίσυφοσ".encode()]
        assert fn(b"a\xffb_c") == [b"a", b"b", b"c"]


# one COPY field: text with COPY escapes, or \N
_COPY_ESC = [b"\\n", b"\\t", b"\\\\", b"\\101", b"\\x41", b"\\x4", b"\\xZ", b"\\N", b"\\8", b"\\", b"\\r", b"\\\xc3\xa9"]
COPY_FIELD = st.one_of(st.just(b"\\N"), st.lists(st.one_of(st.sampled_from(_ATOMS), st.sampled_from(_COPY_ESC)),
                                                 max_size=6).map(b"".join))
COPY_CHUNK = st.tuples(st.lists(st.lists(COPY_FIELD, min_size=1, max_size=4).map(b"\t".join), max_size=5),
                       st.sampled_from([b"\n", b"\r\n", b"\r\r\n"]), st.booleans()).map(
    lambda t: t[1].join(t[0]) + (t[1] if t[2] and t[0] else b""))

# one MySQL literal as mysqldump / mariadb-dump write them, and some they do not
_MY_IN = [b"\\'", b"\\\\", b"\\n", b"\\0", b"\\Z", b"\\%", b"\\_", b"''", b"\\\"", b"\\x"]
MY_STRING = st.lists(st.one_of(st.sampled_from([a for a in _ATOMS if b"'" not in a]), st.sampled_from(_MY_IN)),
                     max_size=5).map(lambda p: b"'" + b"".join(p) + b"'")
MY_FIELD = st.one_of(MY_STRING, st.sampled_from([b"NULL", b"12", b"007", b"-3.5", b"0x4D617279", b"_binary 'Mary'",
                                                 b"'a' 'b'", b"X'41'", b"b'01'", b"'Mary''s'", b"''"]))


def _insert(rows, ncols):
    return b"INSERT INTO `t` VALUES " + b",\n".join(b"(" + b",".join(r[:ncols]) + b")" for r in rows) + b";"


MY_PIECE = st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.lists(MY_FIELD, min_size=n, max_size=n),
                                                                                min_size=1, max_size=4)))


def _targets(known, seed, bloom):
    toks = [tokens_of(k.decode("utf-8", "surrogateescape")) for k in known]
    first = {py_vhash(t[0], seed) for t in toks if t}
    values = {py_vhash(b" ".join(t[:8]), seed) for t in toks if t}
    lengths = tuple(sorted({min(len(t), 8) for t in toks if t}))
    if not bloom:
        return (None, first), (None, values), lengths
    bits = bytearray(64 * 4)
    for h in first | values:
        py_bloom_add(bits, h)
    return (bits, None), (bytes(bits), values), lengths


def _all_passes(c, layout, data, start, ncols, decode, known, seed, bloom, idx):
    first, values, lengths = _targets(known, seed, bloom)
    rowvals = (None, set())
    for fn_c, fn_py, args in (
            (c.learn_piece, py_learn_piece, (idx, seed, b"public.t", 7)),
            (c.search_piece, py_search_piece, (seed, first, values, lengths or (1,), rowvals, idx, b"public.t", 7)),
            (c.confirm_piece, py_confirm_piece, (seed, values, idx))):
        a = fn_c(layout, data, start, ncols, 40, decode, *args)
        b = fn_py(layout, data, start, ncols, 40, decode, *args)
        assert a == b, fn_c.__name__
    # rows removed by the run (kept: one byte per row; shorter than the piece: the rest removed)
    kept = bytes((seed >> i) & 1 for i in range(seed % 7))
    a = c.learn_piece(layout, data, start, ncols, 40, decode, idx, seed, b"public.t", 7, kept)
    b = py_learn_piece(layout, data, start, ncols, 40, decode, idx, seed, b"public.t", 7, kept)
    assert a == b, "learn_piece with kept"


@DIFF
@given(chunk=COPY_CHUNK, known=st.lists(WORDS, max_size=4), seed=st.integers(0, 2**64 - 1), bloom=st.booleans(),
       idx=st.sets(st.integers(0, 4), max_size=3))
def test_copy_pieces(c, chunk, known, seed, bloom, idx):
    _all_passes(c, 0, chunk, 0, 0, copy_decode, known, seed, bloom, tuple(idx))


@DIFF
@given(piece=MY_PIECE, known=st.lists(WORDS, max_size=4), seed=st.integers(0, 2**64 - 1), bloom=st.booleans(),
       idx=st.sets(st.integers(0, 4), max_size=3), damage=st.sampled_from([None, b" ", b")", b"(", b"'"]))
def test_mysql_pieces(c, piece, known, seed, bloom, idx, damage):
    ncols, rows = piece
    data = _insert(rows, ncols)
    if damage is not None:
        data = data[:len(data) // 2] + damage + data[len(data) // 2:]
    start = data.index(b"(")
    _all_passes(c, 1, data, start, ncols, my_decode, known, seed, bloom, tuple(idx))


@DIFF
@given(rows=st.lists(st.tuples(st.integers(1, 10**6), st.lists(MY_FIELD, max_size=3)), max_size=4),
       known=st.lists(WORDS, max_size=4), seed=st.integers(0, 2**64 - 1), idx=st.sets(st.integers(0, 3), max_size=2))
def test_row_list_pieces(c, rows, known, seed, idx):
    _all_passes(c, 2, rows, 0, 0, my_decode, known, seed, False, tuple(idx))


def test_pieces_find_runs_and_lines(c):
    """A COPY chunk and a MySQL INSERT: what each pass reports, the same in C and Python."""
    seed = 5
    first = (None, {py_vhash(b"mary", seed)})
    values = (None, {py_vhash(b"mary smith", seed), py_vhash(b"mary", seed)})
    chunk = b"1\tMARY SMITH\tx\n2\tnobody\tMary\r\n"
    for fn in (c.search_piece, py_search_piece):
        n, hits = fn(0, chunk, 0, 3, 100, copy_decode, seed, first, values, (1, 2), (None, set()), (1,), b"t", 0)
        assert n == 2
        assert [(k, f, line, i, n) for k, f, line, _s, _e, i, n, _h, _o in hits] == [
            (0, 1, 101, 0, 1), (0, 1, 101, 0, 2), (1, 2, 102, 0, 1)]
    ins = b"INSERT INTO `t` VALUES (1,'MARY'),\n(2,'x'),\n(3,'Mary\\nSmith');"
    for fn in (c.confirm_piece, py_confirm_piece):
        assert fn(1, ins, ins.index(b"("), 2, 9, my_decode, seed, values, (1,))[1] == [
            (0, 1, 26, 32, py_vhash(b"mary", seed), 1), (2, 1, 47, 60, py_vhash(b"mary smith", seed), 1)]
    for fn in (c.search_piece, py_search_piece):
        _n, hits = fn(1, ins, ins.index(b"("), 2, 9, my_decode, seed, first, values, (1, 2), (None, set()), (), b"t", 0)
        assert [(k, line, n) for k, _f, line, _s, _e, _i, n, _h, _o in hits] == [(0, 9, 1), (2, 11, 1), (2, 11, 2)]
    for fn in (c.learn_piece, py_learn_piece):
        assert fn(1, ins[:-1] + b" junk", ins.index(b"("), 2, 9, my_decode, (1,), seed, b"t", 0) is None


def test_learn_piece_kept_renumbers_rows(c):
    """kept: the rows the run wrote get the ordinals they have in the masked dump (7 + 1, 7 + 2),
    a removed row no value@row hash; its value is still learnt."""
    seed = 11
    chunk = b"1\tann lee\n2\tbob ray\n3\tcy wu\n"
    for fn in (c.learn_piece, py_learn_piece):
        n, runs, _f, rows, _l, nvalues = fn(0, chunk, 0, 2, 0, copy_decode, (1,), seed, b"t", 7, b"\x01\x00\x01")
        assert (n, nvalues, len(runs) // 8) == (3, 3, 3)
        got = set(array("Q", rows))
        assert got == {py_vhash(b"t\x00%d\x00%s" % (o, v), seed) for o, v in ((8, b"ann lee"), (9, b"cy wu"))}
        _n, _r, _f, rows, _l, _v = fn(0, chunk, 0, 2, 0, copy_decode, (1,), seed, b"t", 7, b"")
        assert rows == b""
