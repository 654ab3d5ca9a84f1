"""The fast field paths of the mutations (issue #13: <= 1.5 us per distinct value) give the bytes
of the general path: decode the raw field, call the mutation, encode the result. Compared
field by field on arbitrary raw COPY fields and MySQL literals, including the results'
identity where the engine's loops compare by identity (UNCHANGED, the NULL field)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dumpmask.crypto import Key
from dumpmask.dialects import mysql_lex, postgres
from dumpmask.dialects.base import UNCHANGED
from dumpmask.schema import Column
from dumpmask.transformers import REGISTRY
from dumpmask.work import NULL_COPY, NULL_SQL, Tally, my_field_fns, pg_field_fns

KEY = Key(b"mutfast test key")


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
        for _opts in ({}, {"empty": "mask"}) if _cls.keeps_empty else ({},):
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
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
