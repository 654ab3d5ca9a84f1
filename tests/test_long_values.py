"""One very long value (a COPY line, a MySQL INSERT) passes through byte for byte and masks
correctly, whatever the sizes the input arrives in (the readers gather long lines in pieces:
linear, see bench/long_value.py for time and memory at 200 MB)."""
from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dumpmask
from dumpmask.crypto import Key
from dumpmask.rules import RuleSet, load_rules
from conftest import TEST_KEY

KEY = Key(TEST_KEY)
BIG = 24 << 20

PG_HEAD = (b"-- PostgreSQL database dump\nCREATE TABLE public.t (\n    id integer NOT NULL,\n    note text,\n"
           b"    email text\n);\n")
MY_HEAD = b"-- MariaDB dump 10.19\nCREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `note` longtext,\n  `email` text\n);\n"


def _pg(value: bytes, rows_after: int = 3) -> bytes:
    rows = [b"1\tshort\ta@x.org\n", b"2\t" + value + b"\tb@x.org\n"]
    rows += [b"%d\tn%d\tc%d@x.org\n" % (i, i, i) for i in range(3, 3 + rows_after)]
    return PG_HEAD + b"COPY public.t (id, note, email) FROM stdin;\n" + b"".join(rows) + b"\\.\n-- end\n"


def _pgi(value: bytes, rows_after: int = 3) -> bytes:
    rows = [b"(1, 'short', 'a@x.org')", b"(2, '" + value + b"', 'b@x.org')"]
    rows += [b"(%d, 'n%d', 'c%d@x.org')" % (i, i, i) for i in range(3, 3 + rows_after)]
    return PG_HEAD + b"".join(b"INSERT INTO public.t VALUES " + r + b";\n" for r in rows) + b"-- end\n"


def _my(value: bytes, rows_after: int = 3) -> bytes:
    rows = [b"(1,'short','a@x.org')", b"(2,'" + value + b"','b@x.org')"]
    rows += [b"(%d,'n%d','c%d@x.org')" % (i, i, i) for i in range(3, 3 + rows_after)]
    return MY_HEAD + b"INSERT INTO `t` VALUES " + b",".join(rows) + b";\n-- end\n"


class Trickle(io.RawIOBase):
    """A pipe-like stream: reads return at most a few (random) bytes."""

    def __init__(self, data: bytes, sizes):
        self._data = memoryview(data)
        self._pos = 0
        self._sizes = sizes

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), next(self._sizes), len(self._data) - self._pos)
        b[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n


def _sizes(seed: int, hi: int):
    r = random.Random(seed)
    while True:
        yield r.randint(1, hi)


def _rules(*cols) -> RuleSet:
    import json
    import tempfile

    doc = {"tables": [{"tableName": "t", "columnMutations": [{"column": c, "mutation": m} for c, m in cols]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(doc, fh)
    return load_rules(fh.name)


MAKERS = {"postgres": _pg, "pg-inserts": _pgi, "mysql": _my}


def _run(src, rules, dialect):
    dialect = "postgres" if dialect == "pg-inserts" else dialect
    out = io.BytesIO()
    dumpmask.mask(src, out, rules=rules, key=KEY, dialect=dialect, warn=lambda m: None)
    return out.getvalue()


def _value() -> bytes:
    word = b"lorem ipsum dolor \xc3\xa9t "   # non-ASCII too (UTF-8)
    return word * (BIG // len(word))


@pytest.mark.parametrize("dialect", sorted(MAKERS))
def test_long_value_passes_through_and_masks(tmp_path, dialect):
    dump = MAKERS[dialect](_value())
    f = tmp_path / "big.sql"
    f.write_bytes(dump)
    # pass-through: byte for byte (file and pipe-sized reads)
    assert _run(str(f), RuleSet(), dialect) == dump
    assert _run(io.BufferedReader(Trickle(dump, _sizes(1, 300_000)), 1 << 16), RuleSet(), dialect) == dump
    # masked: the long value is replaced, everything else as it was
    rules = _rules(("note", "faker.text"), ("email", "faker.email"))
    masked = _run(str(f), rules, dialect)
    assert len(masked) < len(dump) // 100
    assert b"lorem ipsum dolor \xc3\xa9t lorem" not in masked
    assert b"a@x.org" not in masked and b"b@x.org" not in masked
    assert masked.endswith(b"-- end\n") and masked.count(b"@example.") >= 5
    # the same bytes when the input arrives in small pieces, and when it is masked in a small
    # dump: the value's fake depends on the value only
    assert _run(io.BufferedReader(Trickle(dump, _sizes(2, 300_000)), 1 << 16), rules, dialect) == masked


@pytest.mark.parametrize("dialect", sorted(MAKERS))
@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 5000), seed=st.integers(0, 10 ** 6), hi=st.sampled_from([1, 2, 3, 5, 64, 4096]),
       after=st.integers(0, 3))
def test_any_read_sizes_give_the_same_bytes(dialect, n, seed, hi, after):
    """Lines and statements split across reads anywhere (also inside the COPY terminator)."""
    r = random.Random(seed)
    value = bytes(r.choice(b"abc xyz\xc3\xa9") for _ in range(n)).replace(b"\xc3", b"e")
    dump = MAKERS[dialect](value, after)
    assert _run(io.BufferedReader(Trickle(dump, _sizes(seed, hi)), 8), RuleSet(), dialect) == dump
    rules = _rules(("note", "hash"), ("email", "faker.email"))
    want = _run(io.BytesIO(dump), rules, dialect)
    assert _run(io.BufferedReader(Trickle(dump, _sizes(seed + 1, hi)), 8), rules, dialect) == want


@pytest.mark.parametrize("dialect", sorted(MAKERS))
def test_masking_a_long_value_holds_few_copies_of_it(tmp_path, dialect):
    """Python's own allocations while masking one long value stay under 3.5 copies of it (the
    statement, the field, its decoded text; before: 5-8 copies, and quadratic time)."""
    import tracemalloc

    value = b"lorem ipsum dolor sit " * (BIG // 22)
    f = tmp_path / "big.sql"
    f.write_bytes(MAKERS[dialect](value))
    rules = _rules(("note", "faker.text"))
    _run(io.BytesIO(MAKERS[dialect](b"warm up: imports and pools")), rules, dialect)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = io.BytesIO()
        dumpmask.mask(str(f), out, rules=rules, key=KEY, dialect="postgres" if dialect == "pg-inserts" else dialect,
                      warn=lambda m: None)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(out.getvalue()) < 10_000
    assert peak < 2.5 * len(value), f"peak {peak / len(value):.2f} x the value"
