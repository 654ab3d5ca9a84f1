"""Hypothesis round trips of the PostgreSQL value codecs, and of whole rows through the engine."""
from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dumpmask import mask
from dumpmask.crypto import Key
from dumpmask.dialects.postgres import copy_decode, copy_encode, literal_decode, literal_encode
from dumpmask.rules import load_rules
from conftest import TEST_KEY

# text with the awkward characters over-represented; surrogates come from surrogateescape
# decoding of arbitrary bytes, the way dumpmask reads non-UTF-8 dumps
AWKWARD = st.sampled_from(["\t", "\n", "\r", "\\", "\\N", "N", "'", "''", '"', "\u2028", "\u2029", "\x01",
                           "\b", "\f", "\v", ".", "\\.", "$$", ";", "E'", "\u00e9", "\U0001F600", " "])
TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    st.lists(AWKWARD, max_size=12).map("".join),
    st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b"").decode("utf-8", "surrogateescape")),
)


@settings(database=None)
@given(TEXT)
@example("\\N")
@example("\\.")
@example("a\tb\nc\\d\u2028")
@example("\udcff\udc80")
def test_copy_encode_decode_round_trip(s):
    enc = copy_encode(s)
    assert copy_decode(enc) == s
    # an encoded field never holds a raw field or row separator, and is never the NULL marker
    assert b"\t" not in enc and b"\n" not in enc and b"\r" not in enc
    assert enc != b"\\N"


def test_copy_encode_null():
    assert copy_encode(None) == b"\\N"
    assert copy_decode(copy_encode(None)) is None


@settings(database=None)
@given(TEXT)
@example("O'Brien")
@example("back\\slash")
@example("''")
@example("\\N")
@example("NULL")
def test_literal_encode_decode_round_trip(s):
    enc = literal_encode(s)
    lit = literal_decode(enc)
    assert lit.value == s and lit.quoted
    # a standard string literal: starts and ends with a quote, inner quotes doubled
    assert enc.startswith(b"'") and enc.endswith(b"'")
    assert b"'" not in enc[1:-1].replace(b"''", b"")


@settings(database=None)
@given(TEXT)
def test_literal_encode_keeps_cast(s):
    like = literal_decode(b"'x'::text")
    enc = literal_encode(s, like)
    assert enc.endswith(b"::text")
    assert literal_decode(enc).value == s


def test_literal_null_round_trip():
    assert literal_decode(literal_encode(None)).value is None


# ---------------------------------------------------------------- whole rows through the engine

HEADER = b"--\n-- PostgreSQL database dump\n--\n\n"
KEY = Key(TEST_KEY)
VALUE = st.one_of(st.none(), TEXT)
ROWS = st.integers(min_value=1, max_value=5).flatmap(
    lambda n: st.lists(st.lists(VALUE, min_size=n, max_size=n), min_size=1, max_size=6))


def _dump_and_rules(rows):
    n = len(rows[0])
    cols = [f"c{i}" for i in range(n)]
    ddl = HEADER + b"CREATE TABLE public.t (\n" + b",\n".join(f"    {c} text".encode() for c in cols) + b"\n);\n\n"
    doc = {"tables": [{"tableName": "t", "columnMutations": [{"column": c, "mutation": "keep"} for c in cols]}]}
    return cols, ddl, load_rules(None, json.dumps(doc).encode())


def _run(dump, rs):
    out = io.BytesIO()
    mask(io.BytesIO(dump), out, rules=rs, key=KEY, dialect="postgres")
    return out.getvalue()


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS)
def test_copy_rows_masked_with_keep_are_byte_identical(rows):
    cols, ddl, rs = _dump_and_rules(rows)
    body = b"".join(b"\t".join(copy_encode(v) for v in r) + b"\n" for r in rows)
    dump = ddl + f"COPY public.t ({', '.join(cols)}) FROM stdin;\n".encode() + body + b"\\.\n"
    assert _run(dump, rs) == dump


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS)
def test_insert_rows_masked_with_keep_are_byte_identical(rows):
    cols, ddl, rs = _dump_and_rules(rows)
    tuples = b",\n\t".join(b"(" + b", ".join(literal_encode(v) for v in r) + b")" for r in rows)
    dump = ddl + b"INSERT INTO public.t VALUES\n\t" + tuples + b";\n"
    assert _run(dump, rs) == dump


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS, st.integers(min_value=0, max_value=4))
def test_copy_rows_static_on_one_column_leaves_others_identical(rows, k):
    n = len(rows[0])
    k = k % n
    cols = [f"c{i}" for i in range(n)]
    ddl = HEADER + b"CREATE TABLE public.t (\n" + b",\n".join(f"    {c} text".encode() for c in cols) + b"\n);\n\n"
    doc = {"tables": [{"tableName": "t", "columnMutations": [{"column": cols[k], "mutation": "static:a\tb\\c\u2028"}]}]}
    rs = load_rules(None, json.dumps(doc).encode())
    enc = [[copy_encode(v) for v in r] for r in rows]
    dump = ddl + f"COPY public.t ({', '.join(cols)}) FROM stdin;\n".encode() + b"".join(b"\t".join(r) + b"\n" for r in enc) + b"\\.\n"
    out = _run(dump, rs)
    expect = [list(r) for r in enc]
    for r in expect:
        r[k] = copy_encode("a\tb\\c\u2028")
    assert out == ddl + f"COPY public.t ({', '.join(cols)}) FROM stdin;\n".encode() + b"".join(b"\t".join(r) + b"\n" for r in expect) + b"\\.\n"
