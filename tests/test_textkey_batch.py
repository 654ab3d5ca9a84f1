"""Remapped text keys many at a time (text_key_fields in _speedups.c: four values' Feistel
rounds side by side, in AVX2 lanes where the CPU has them, else one after the other) against
text_key_field, one value at a time (itself tested against the pure twin in test_mutfast.py),
and the block functions' BLK_TKEY columns (the block's new key values through the lanes before
the masking pass) against the same blocks without that path and without the C block functions:
the same bytes and counts."""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dumpmask
from dumpmask import speedups, work
from dumpmask.crypto import Key
from dumpmask.dialects import mysql_lex, postgres
from dumpmask.remap import Remapper, TextKeyPermutation
from dumpmask.rules import load_rules
from conftest import TEST_KEY, unavailable

KEY = Key(TEST_KEY)
# how text_key_fields may run: whatever this CPU gives, the lanes with scalar compressions, and
# one value at a time (what a CPU without AVX2 gets)
WAYS = ("auto", "scalar-lanes", "one-at-a-time")


@pytest.fixture(autouse=True)
def _needs_c():
    if speedups.PURE:
        pytest.skip("DUMPMASK_PURE is set: no C text key functions to compare")
    if speedups.function("text_key_fields") is None or work.c_block_copy is None:
        unavailable("dumpmask._speedups is not built (or was built without text_key_fields)")


def _state():
    return speedups.C.prf_state(KEY.secret, hashlib.blake2b(b"remap:text:text", digest_size=32).digest(), 8)


def _raw(value: str, mode: int) -> bytes:
    return postgres.copy_encode(value) if mode == 0 else mysql_lex.encode_string(value.encode("utf-8", "surrogatepass"))


# the shapes that matter: short codes, long digit runs (several 2**128 chunks), every length of
# what a round hashes around the 128-byte block, escapes, non-ASCII, no digit or letter at all
KEY_VALUE = st.one_of(
    st.text(alphabet="AZaz09-_ ./\\\n\t\r\b\f\v'\"é東\x00\x1a", max_size=40),
    st.text(alphabet="0123456789", min_size=30, max_size=160),
    st.text(alphabet="abcXYZ019", min_size=25, max_size=90),
    st.builds(lambda a, pad, b: a + "-" * pad + b, st.text(alphabet="AZaz09", min_size=1, max_size=30),
              st.integers(0, 130), st.text(alphabet="az09", max_size=12)),
    st.text(max_size=30),
    st.just("-./"),
)
RAW_EXTRA = st.one_of(st.just(b"\\N"), st.just(b"NULL"), st.just(b"x" * 1100), st.just(b"'unterminated"),
                      st.binary(max_size=20))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(KEY_VALUE.map(lambda v: (v, None)), RAW_EXTRA.map(lambda r: (None, r))),
                       max_size=23),
       mode=st.sampled_from([0, 1]), simd=st.sampled_from(WAYS))
def test_text_key_fields_is_text_key_field_for_each(values, mode, simd):
    """Any list (duplicates, fields that are not plain, values shorter or longer than a lane's
    round input) gives text_key_field's result for every element, with the lanes and without."""
    c = speedups.C
    state = _state()
    raws = [r if r is not None else _raw(v, mode) for v, r in values]
    raws += raws[:3]                      # the same values again in the same call
    want = [c.text_key_field(state, mode, r) for r in raws]
    try:
        c.text_key_simd(simd)
        got = c.text_key_fields(state, mode, raws)
    finally:
        c.text_key_simd("auto")
    assert got == want


def test_text_key_fields_many_values_every_lane_refill():
    """Thousands of values of mixed shapes (lanes finish at different rounds and cycle-walking
    passes, and refill): the same bytes as one at a time, with and without AVX2."""
    c = speedups.C
    state = _state()
    values = [f"ORD-{i:05d}-{chr(65 + i % 26)}" if i % 3 else f"cust.{i}@x{i % 7}.example" for i in range(3000)]
    values += ["9" * (20 + i % 140) for i in range(200)]
    raws = [_raw(v, i % 2) for i, v in enumerate(values)]
    for mode in (0, 1):
        want = [c.text_key_field(state, mode, r) for r in raws]
        for way in WAYS:
            c.text_key_simd(way)
            try:
                assert c.text_key_fields(state, mode, raws) == want, way
            finally:
                c.text_key_simd("auto")
    assert sum(w is None for w in want) > 0 and sum(w is not None and w != r for w, r in zip(want, raws, strict=True)) > 1000


def _cpu_has_avx2() -> bool:
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            return " avx2 " in f.read().replace("\n", " ")
    except OSError:
        return False


def test_text_key_fields_uses_avx2_where_the_cpu_has_it():
    """On an x86-64 Linux machine with AVX2 (this one and CI's), the lanes are AVX2's: without
    this the speed-up would silently be the scalar loop."""
    c = speedups.C
    way = c.text_key_simd("auto")
    assert way in ("avx2", "one-at-a-time")
    if _cpu_has_avx2():
        assert way == "avx2"
    with pytest.raises(ValueError):
        c.text_key_simd("fastest")
    assert c.text_key_simd() == way


def test_text_key_fields_refuses_a_bad_state():
    c = speedups.C
    with pytest.raises(ValueError):
        c.text_key_fields(c.prf_state(KEY.secret, b"x", 16), 0, [b"A1"])
    with pytest.raises(TypeError):
        c.text_key_fields(b"short", 0, [b"A1"])


def test_a_text_key_column_takes_the_lanes_in_the_block_functions():
    """The engine's text key column is a BLK_TKEY column of the block functions (kind 5)."""
    from dumpmask.schema import classify

    fn = Remapper(KEY, "text", None, None, "t").for_column(classify("text"), "t.c")
    for fns in (work.pg_field_fns(fn, "text", "c", work.Tally()), work.my_field_fns(fn, "text", "c", work.Tally())):
        spec = work.c_fake_spec(fns.plain, fns.miss)
        assert spec is not None and spec[0] == 5 and spec[3] == work.CACHE_MAX and spec[4] == work.MEMO_MAX_FIELD


@settings(max_examples=200, deadline=None)
@given(values=st.lists(KEY_VALUE, min_size=1, max_size=40), picks=st.lists(st.integers(0, 10 ** 6), max_size=60),
       cache_max=st.sampled_from([1, 2, 5, 32768]), mode=st.sampled_from([0, 1]), simd=st.sampled_from(WAYS))
def test_block_tkey_column_equals_the_per_value_path(values, picks, cache_max, mode, simd):
    """block_copy / block_tuples with a BLK_TKEY column (the memo's bounds small enough to be
    cleared inside a block; values repeated in the block and across blocks) write the bytes and
    counts of the same blocks whose text key column goes value by value through memo_first."""
    c = speedups.C
    state = _state()
    rows = [values[p % len(values)] for p in picks] or values
    fields = [_raw(v, mode) for v in rows]
    from functools import partial

    plain = partial(speedups.function("text_key_field"), state, mode)
    slow_calls = []

    def slow(raw):          # the general path: only for fields that are not plain
        slow_calls.append(raw)
        return postgres.NULL_FIELD if raw == b"\\N" else work.UNCHANGED

    def run(tkey: bool):
        cache: dict = {}
        miss = partial(work._C_MEMO_FIRST, plain, slow, cache, cache_max, work.MEMO_MAX_FIELD, work.UNCHANGED)
        spec = (5, state, mode, cache_max, work.MEMO_MAX_FIELD) if tkey else None
        outs = []
        for _ in range(2):          # the second block finds the first one's values in the memo
            if mode == 0:
                data = b"".join(b"%d\t%s\n" % (i, f) for i, f in enumerate(fields))
                outs.append(work.c_block_copy(data, 2, (1,), ((cache, miss, spec, None),), work.UNCHANGED,
                                              postgres.NULL_FIELD))
            else:
                head = b"INSERT INTO `t` VALUES "
                data = head + b",".join(b"(%d,%s)" % (i, f) for i, f in enumerate(fields)) + b";\n"
                outs.append(work.c_block_tuples(data, len(head), 2, (1,), ((cache, miss, spec, None),),
                                                work.UNCHANGED, b"NULL"))
        return outs

    want = run(False)
    try:
        c.text_key_simd(simd)
        got = run(True)
    finally:
        c.text_key_simd("auto")
    assert got == want


# -- whole runs: a text primary key and its foreign key, both dialects

PG_HEAD = (b"-- PostgreSQL database dump\nCREATE TABLE public.p (\n    code character varying(200) NOT NULL,\n"
           b"    email text\n);\nCREATE TABLE public.c (\n    cid integer NOT NULL,\n"
           b"    pcode character varying(200)\n);\n")
PG_TAIL = (b"ALTER TABLE ONLY public.p\n    ADD CONSTRAINT p_pkey PRIMARY KEY (code);\n"
           b"ALTER TABLE ONLY public.c\n    ADD CONSTRAINT c_pkey PRIMARY KEY (cid);\n"
           b"ALTER TABLE ONLY public.c\n    ADD CONSTRAINT c_fk FOREIGN KEY (pcode) REFERENCES public.p(code);\n")
MY_HEAD = (b"-- MariaDB dump 10.19\nCREATE TABLE `p` (\n  `code` varchar(200) NOT NULL,\n  `email` text,\n"
           b"  PRIMARY KEY (`code`)\n);\nCREATE TABLE `c` (\n  `cid` int(11) NOT NULL,\n"
           b"  `pcode` varchar(200) DEFAULT NULL,\n  PRIMARY KEY (`cid`),\n"
           b"  CONSTRAINT `c_fk` FOREIGN KEY (`pcode`) REFERENCES `p` (`code`)\n);\n")
RULES = {"options": {"identifierRemapping": {"enabled": True}},
         "tables": [{"tableName": "p", "columnMutations": [{"column": "email", "mutation": "hash"}]}]}


def _dump(codes, refs, dialect: str) -> bytes:
    if dialect == "postgres":
        p = b"".join(b"%s\tu%d@example.org\n" % (postgres.copy_encode(v), i) for i, v in enumerate(codes))
        c = b"".join(b"%d\t%s\n" % (n + 1, postgres.NULL_FIELD if r is None else postgres.copy_encode(codes[r]))
                     for n, r in enumerate(refs))
        return (PG_HEAD + b"COPY public.p (code, email) FROM stdin;\n" + p + b"\\.\n"
                + b"COPY public.c (cid, pcode) FROM stdin;\n" + c + b"\\.\n" + PG_TAIL)
    enc = mysql_lex.encode_string
    prow = [b"(%s,'u%d@example.org')" % (enc(v.encode()), i) for i, v in enumerate(codes)]
    crow = [b"(%d,%s)" % (n + 1, b"NULL" if r is None else enc(codes[r].encode())) for n, r in enumerate(refs)]
    out = [MY_HEAD]
    for table, rows in ((b"p", prow), (b"c", crow)):
        for s in range(0, len(rows), 9):
            out.append(b"INSERT INTO `" + table + b"` VALUES " + b",".join(rows[s:s + 9]) + b";\n")
    return b"".join(out)


def _run(dump: bytes, dialect: str):
    out = io.BytesIO()
    doc = load_rules(None, json.dumps(RULES).encode())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dump.sql")
        with open(path, "wb") as f:
            f.write(dump)
        audit = dumpmask.mask(path, out, rules=doc, key=KEY, dialect=dialect, warn=lambda m: None)
    return out.getvalue(), audit["tables"]


CODE = st.one_of(st.text(alphabet="ABZaz09-", min_size=1, max_size=24),
                 st.text(alphabet="AZaz09-_ ./\\\n\t'\"é東", min_size=1, max_size=30),
                 st.text(alphabet="0123456789", min_size=40, max_size=120))


@settings(max_examples=10, deadline=None)
@given(codes=st.lists(CODE, min_size=1, max_size=40, unique=True), data=st.data(),
       dialect=st.sampled_from(["postgres", "mysql"]))
def test_text_keys_in_a_whole_run_equal_the_per_value_path(codes, data, dialect):
    """A dump with a text primary key and a foreign key to it: the same output and audit with the
    lanes, with the per-value C path (no BLK_TKEY columns), and without the C block functions."""
    refs = data.draw(st.lists(st.one_of(st.none(), st.integers(0, len(codes) - 1)), max_size=60))
    dump = _dump(codes, refs, dialect)
    kinds = []
    with pytest.MonkeyPatch.context() as mp:       # undone after each example
        for name in ("c_block_copy", "c_block_tuples"):
            real = getattr(work, name)

            def spy(*a, real=real, at=3 if name == "c_block_copy" else 4):
                kinds.extend(col[2][0] for col in a[at] if col[2] is not None)
                return real(*a)
            mp.setattr(work, name, spy)
        got = _run(dump, dialect)
        assert 5 in kinds                                    # the text key columns took the lanes
        mp.setattr(work, "_C_TEXT_KEY", None)                # c_fake_spec: no BLK_TKEY column
        per_value = _run(dump, dialect)
        mp.setattr(work, "c_block_copy", None)
        mp.setattr(work, "c_block_tuples", None)
        python = _run(dump, dialect)
    assert got == per_value == python
    tables = got[1]
    parent = tables["public.p" if dialect == "postgres" else "p"]["columns"]["code"]
    perm = TextKeyPermutation(KEY)                       # the pure permutation decides what changed
    assert parent["strategy"] == "text" and parent["changed"] == sum(perm.map(v) != v for v in codes)


def test_block_tkey_column_an_error_in_the_miss_propagates():
    """A field the pass leaves to the miss (not plain) whose miss raises: the block function
    raises that error (the results the pass found for other rows are released, not written)."""
    from functools import partial

    state = _state()
    plain = partial(speedups.function("text_key_field"), state, 0)

    def slow(raw):
        raise ValueError("the general path refuses this field")

    cache: dict = {}
    miss = partial(work._C_MEMO_FIRST, plain, slow, cache, 100, work.MEMO_MAX_FIELD, work.UNCHANGED)
    data = b"1\tORD-1\n2\tORD-2\n3\t\\N\n4\tORD-4\n"
    with pytest.raises(ValueError, match="refuses"):
        work.c_block_copy(data, 2, (1,), ((cache, miss, (5, state, 0, 100, work.MEMO_MAX_FIELD), None),),
                          work.UNCHANGED, postgres.NULL_FIELD)
    assert b"ORD-4" in cache and b"ORD-1" in cache      # the pass had done the plain ones


# -- escaped fields through the lanes (session 12: tk_prepare reads the raw field in one pass,
# decoding its escapes, and tk_finish writes the raw field with its digits and letters changed)

ESCAPED_VALUE = st.text(alphabet="Az09\\\n\t\r\b\f\v\x0b\x00\x1a'\"é東 -", min_size=1, max_size=60)
# fields of escapes no encoder writes (pg \x41 and octal, MySQL \t \b \% \_, a lone backslash):
# not plain, so None from every path (the caller's general path)
NOT_PLAIN = {0: [b"\\x41B1", b"\\101z", b"ab\\", b"a\\qb", b"a\x01b", b"\xc3(9"],
             1: [b"'a\\tb1'", b"'\\b9'", b"'x\\%y'", b"'x\\_y'", b"'ab\\'", b"'a'b'", b"a1", b"'\xed\xa0\x80a'"]}


@settings(max_examples=300, deadline=None)
@given(values=st.lists(ESCAPED_VALUE, min_size=1, max_size=30), mode=st.sampled_from([0, 1]),
       simd=st.sampled_from(WAYS), extra=st.lists(st.sampled_from(range(8)), max_size=4))
def test_escaped_values_through_the_lanes_equal_one_at_a_time(values, mode, simd, extra):
    """Escaped values (COPY backslash escapes, MySQL literal escapes; the escapes next to the
    digits and letters, and next to UTF-8) through text_key_fields' lanes: the bytes of the
    one-at-a-time path and of the pure twin; fields of escapes no encoder writes give None."""
    from dumpmask.remap import py_text_key_field

    c = speedups.C
    state = _state()
    bad = NOT_PLAIN[mode]
    raws = [_raw(v, mode) for v in values] + [bad[i % len(bad)] for i in extra]
    try:
        c.text_key_simd("one-at-a-time")
        want = c.text_key_fields(state, mode, raws)
        c.text_key_simd(simd)
        got = c.text_key_fields(state, mode, raws)
    finally:
        c.text_key_simd("auto")
    assert got == want == [c.text_key_field(state, mode, r) for r in raws]
    perm = TextKeyPermutation(KEY, "text")
    assert want == [py_text_key_field(perm, mode, r) for r in raws]
    for r, w in zip(raws, want, strict=True):
        if r in bad:
            assert w is None
        elif w is not None:
            assert len(w) == len(r)     # only digits and letters change
    assert any(w is not None for w in want[:len(values)]) or all("\x00" in v or "\x1a" in v for v in values)


def test_one_byte_fields_leave_the_shared_bytes_objects_alone():
    """A one-byte field's result is a new bytes object: CPython shares its one-byte bytes
    objects, and writing the new value into a copy of the raw field must not change them."""
    c = speedups.C
    state = _state()
    raws = [bytes([ch]) for ch in b"09azAZ"]
    for mode in (0, 1):
        for way in WAYS:
            c.text_key_simd(way)
            try:
                out = c.text_key_fields(state, mode, raws) if mode == 0 else c.text_key_fields(
                    state, 1, [b"'" + r + b"'" for r in raws])
                one = [c.text_key_field(state, 0, r) for r in raws]
            finally:
                c.text_key_simd("auto")
            assert [bytes([ch])[0] for ch in b"09azAZ"] == list(b"09azAZ")
            assert [r[0] for r in raws] == list(b"09azAZ")
            assert out is not None and one == c.text_key_fields(state, 0, raws)


ESCAPED_CODE = st.text(alphabet="AZaz09\\\n\t\r'\"é東 -", min_size=1, max_size=30)


@settings(max_examples=10, deadline=None)
@given(codes=st.lists(ESCAPED_CODE, min_size=1, max_size=40, unique=True), data=st.data(),
       dialect=st.sampled_from(["postgres", "mysql"]))
def test_escaped_text_keys_in_a_whole_run_equal_the_per_value_path(codes, data, dialect):
    """Escaped text keys in a whole run of either dialect: the same output and audit through the
    lanes, with the per-value C path and without the C block functions."""
    refs = data.draw(st.lists(st.one_of(st.none(), st.integers(0, len(codes) - 1)), max_size=60))
    dump = _dump(codes, refs, dialect)
    with pytest.MonkeyPatch.context() as mp:
        got = _run(dump, dialect)
        mp.setattr(work, "_C_TEXT_KEY", None)
        per_value = _run(dump, dialect)
        mp.setattr(work, "c_block_copy", None)
        mp.setattr(work, "c_block_tuples", None)
        python = _run(dump, dialect)
    assert got == per_value == python
    parent = got[1]["public.p" if dialect == "postgres" else "p"]["columns"]["code"]
    perm = TextKeyPermutation(KEY)
    assert parent["changed"] == sum(perm.map(v) != v for v in codes)


def test_fields_of_unusual_escapes_in_a_whole_run_equal_the_pure_path():
    """COPY fields of escapes no encoder writes (\\x41, octal) and MySQL literals with \\t or
    \\%: not plain, so the general path decodes them; the same output with and without C."""
    pg = (PG_HEAD + b"COPY public.p (code, email) FROM stdin;\n"
          + b"".join(b"%s\tu%d@example.org\n" % (f, i) for i, f in enumerate(
              [b"\\x41B-1", b"\\101b2", b"ab\\tc3", b"plain4", b"\\x45\\x46"]))
          + b"\\.\nCOPY public.c (cid, pcode) FROM stdin;\n1\t\\x41B-1\n2\tAB-1\n3\tplain4\n\\.\n" + PG_TAIL)
    my = (MY_HEAD + b"INSERT INTO `p` VALUES ('a\\tb1','u0@example.org'),('x\\%y2','u1@example.org'),"
          b"('q\\_3','u2@example.org'),('plain4','u3@example.org');\n"
          b"INSERT INTO `c` VALUES (1,'a\\tb1'),(2,'a\tb1'),(3,'plain4');\n")
    for dump, dialect in ((pg, "postgres"), (my, "mysql")):
        with pytest.MonkeyPatch.context() as mp:
            got = _run(dump, dialect)
            mp.setattr(work, "c_block_copy", None)
            mp.setattr(work, "c_block_tuples", None)
            mp.setattr(work, "_C_TEXT_KEY", None)
            python = _run(dump, dialect)
        assert got == python
        assert b"plain4" not in got[0]
