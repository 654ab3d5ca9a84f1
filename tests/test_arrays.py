"""The PostgreSQL array literal codec behind element-wise masking of array columns: round
trips (hypothesis), and agreement with the real server's array_in / array_out."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumpmask.transformers.arrays import element_type, encode_array, map_array, parse_array

ELEM = st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                                    max_size=12),
                 st.sampled_from(["NULL", "null", "", " ", "a b", '"', "\\", "{", "}", ",", "x,y", " lead", "trail "]))


def rect(depth: int):
    """Rectangular nested lists (PostgreSQL's multidimensional arrays), depth 1..3."""
    if depth == 1:
        return st.lists(ELEM, max_size=5)
    return st.integers(1, 3).flatmap(lambda n: st.lists(rect(depth - 1), min_size=1, max_size=3).filter(
        lambda xs: len({json.dumps(shape(x)) for x in xs}) == 1))


def shape(x):
    return [len(x)] + (shape(x[0]) if x and isinstance(x[0], list) else [])


TREES = st.integers(1, 3).flatmap(rect)


@settings(max_examples=100, deadline=None)
@given(TREES)
def test_round_trip(tree):
    text = encode_array(tree)
    assert parse_array(text) == ("", tree)
    assert encode_array(parse_array(text)[1]) == text


@settings(max_examples=100, deadline=None)
@given(TREES)
def test_map_keeps_shape_and_nulls(tree):
    out = map_array(tree, lambda v: "<" + v + ">")
    flat_in, flat_out = [], []

    def walk(a, acc):
        for v in a:
            walk(v, acc) if isinstance(v, list) else acc.append(v)
    walk(tree, flat_in)
    walk(out, flat_out)
    assert [v is None for v in flat_in] == [v is None for v in flat_out]
    assert all(o == "<" + i + ">" for i, o in zip(flat_in, flat_out) if i is not None)


@pytest.mark.parametrize("text,tree", [
    ("{}", []), ("{a,NULL,\"NULL\"}", ["a", None, "NULL"]), ("{ a , b }", ["a", "b"]),
    ("{\"a\\\"b\",c\\,d}", ['a"b', "c,d"]), ("{{1,2},{3,4}}", [["1", "2"], ["3", "4"]]),
    ("[0:1]={x,y}", ["x", "y"]), ("{a\\ }", ["a "])])
def test_parse_examples(text, tree):
    assert parse_array(text)[1] == tree


@pytest.mark.parametrize("bad", ["", "a", "{", "{a", "{a,}", "{,a}", "{a}x", "{\"a}", "{a\"b}"])
def test_parse_rejects(bad):
    with pytest.raises(ValueError):
        parse_array(bad)


def test_element_type():
    assert element_type("character varying(80)[]") == "character varying(80)"
    assert element_type("text[][]") == "text"
    assert element_type("integer array") == "integer"


def _pg_ok(t) -> bool:
    """PostgreSQL has no arrays of empty sub-arrays ('{{}}'); a one-level '{}' is fine but
    json_agg of it is uninteresting."""
    def ok(a):
        return bool(a) and all(ok(x) for x in a if isinstance(x, list))
    return ok(t)


@pytest.mark.servers
def test_agrees_with_server(pg_server):
    """Our encoding of generated arrays is what PostgreSQL's array_out writes, and PostgreSQL's
    output parses back to the same elements."""
    from hypothesis import find  # noqa: F401  (hypothesis drives the sample below)

    samples = []

    @settings(max_examples=40, deadline=None, database=None)
    @given(TREES)
    def collect(t):
        samples.append(t)
    collect()
    db = pg_server.createdb("arrays_codec")
    lits = ", ".join("('" + encode_array(t).replace("'", "''") + "'::text[])" for t in samples if _pg_ok(t))
    rows = pg_server.psql(db, f"SELECT json_agg(json_build_array(a::text, a)) FROM (VALUES {lits}) v(a)")
    got = json.loads(rows)
    kept = [t for t in samples if _pg_ok(t)]
    for t, (server_text, server_json) in zip(kept, got):
        flat_t = json.dumps(t)
        assert server_text == encode_array(t) or parse_array(server_text)[1] == t
        assert parse_array(server_text)[1] == t, flat_t
        assert server_json == t
