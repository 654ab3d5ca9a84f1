"""The BLOCK section of the C extension (work.c_block_copy / c_block_tuples: a COPY chunk's or a
mysqldump INSERT's masked fields in one C call, plain fields of FAKES columns computed in C)
against its pure twin, the Python path of work.py (copy_spans / tuple_spans, span_masker,
splice): for random fields (ASCII, non-ASCII UTF-8, invalid UTF-8, escapes, \\N, NULL, quotes,
empty; repeated and distinct), every block gives the same bytes and the same counts both ways."""
from __future__ import annotations

import io
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dumpmask
import dumpmask.parallel as parallel_module
from dumpmask import speedups, work
from dumpmask.crypto import Key
from dumpmask.dialects import mysql_lex, postgres
from dumpmask.rules import load_rules
from conftest import unavailable


@pytest.fixture(autouse=True)
def _needs_c():
    """The C path to compare: skipped under DUMPMASK_PURE=1 (there is none); without a built
    extension skipped locally, a failure with CI=true."""
    if speedups.PURE:
        pytest.skip("DUMPMASK_PURE is set: no C block functions to compare")
    if work.c_block_copy is None:
        unavailable("dumpmask._speedups is not built (or was built without its BLOCK section)")


KEY = Key(b"block-test-key-0123456789abcdef")
C_BLOCK = (work.c_block_copy, work.c_block_tuples)
COLUMNS = ("id", "email", "name", "phone", "note", "login", "tag")
MUTATIONS = {"email": "faker.email", "name": "faker.name", "phone": "faker.phone", "note": "faker.text",
             "login": "faker.userName", "tag": "redact"}
PG_HEAD = (b"-- PostgreSQL database dump\nCREATE TABLE public.t (\n    id integer NOT NULL,\n    email text,\n"
           b"    name text,\n    phone text,\n    note text,\n    login text,\n    tag text\n);\n")
MY_HEAD = (b"-- MariaDB dump 10.19\nCREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `email` text,\n  `name` text,\n"
           b"  `phone` text,\n  `note` text,\n  `login` text,\n  `tag` text\n);\n")

# the bytes of values: ASCII, UTF-8 of 2-4 bytes, invalid UTF-8 (a lone continuation, a cut
# sequence, 0xff), controls, backslashes, quotes
PIECES = [b"a", b"Zq", b"0", b"42", b" ", b".", b"@", b"-", b"\\", b"'", b'"', b"\x00", b"\x01", b"\x1a", b"\x08",
          "é".encode(), "中文".encode(), "Ω".encode(), "😀".encode(), b"\xff", b"\x80", b"\xc3", b"\xe4\xb8",
          b"\xed\xa0\x80", b"\xc0\xaf"]
REDACTED = b"*****"        # what redact writes into a text column
ESCAPES_COPY = [b"\\\\", b"\\n", b"\\t", b"\\r", b"\\b", b"\\f", b"\\v", b"\\N", b"\\x41", b"\\0", b"\\'"]


@st.composite
def raw_values(draw):
    """A value's bytes, anything (the dialect's writer makes a field of it)."""
    return b"".join(draw(st.lists(st.sampled_from(PIECES), max_size=12)))


@st.composite
def copy_fields(draw):
    """A raw COPY text field: an encoded value, raw bytes with escapes (also ones COPY does not
    write), \\N, empty."""
    kind = draw(st.sampled_from(["encoded", "encoded", "raw", "null", "empty", "ascii", "fake"]))
    if kind == "null":
        return postgres.NULL_FIELD
    if kind == "fake":
        return REDACTED   # redact's own output: unchanged, not counted
    if kind == "empty":
        return b""
    if kind == "ascii":
        return draw(st.from_regex(rb"[a-z0-9.@+ -]{1,30}", fullmatch=True))
    if kind == "encoded":
        return postgres.copy_encode(draw(raw_values()).decode("utf-8", "surrogateescape"))
    parts = draw(st.lists(st.sampled_from(PIECES + ESCAPES_COPY), max_size=10))
    return b"".join(parts).replace(b"\t", b"").replace(b"\n", b"").replace(b"\r", b"")


@st.composite
def my_fields(draw):
    """A mysqldump literal: a string as mysqldump writes it, one with a doubled quote or other
    escapes, NULL, a number, _binary, hex, empty."""
    kind = draw(st.sampled_from(["string", "string", "string", "null", "number", "doubled", "escaped", "binary",
                                 "hex", "empty", "fake"]))
    if kind == "null":
        return b"NULL"
    if kind == "fake":
        return b"'" + REDACTED + b"'"
    if kind == "number":
        return str(draw(st.integers(-10 ** 6, 10 ** 6))).encode()
    if kind == "empty":
        return b"''"
    if kind == "hex":
        return b"0x" + draw(raw_values()).hex().upper().encode() if draw(st.booleans()) else b"0x41"
    body = draw(raw_values())
    if kind == "binary":
        return b"_binary " + mysql_lex.encode_string(body)
    if kind == "doubled":
        return b"'" + body.replace(b"\\", b"").replace(b"'", b"") + b"''x'"
    if kind == "escaped":
        return b"'" + draw(st.sampled_from([b"\\b", b"\\t", b"\\%", b"\\_", b"\\x", b"\\Z"])) + \
            body.replace(b"\\", b"").replace(b"'", b"") + b"'"
    return mysql_lex.encode_string(body)


def _rules(cols):
    doc = {"tables": [{"tableName": "t", "columnMutations": [{"column": c, "mutation": MUTATIONS[c]} for c in cols]}]}
    return load_rules(None, json.dumps(doc).encode())


def _pg_dump(rows) -> bytes:
    lines = b"".join(b"\t".join([b"%d" % i] + list(r)) + b"\n" for i, r in enumerate(rows, 1))
    return PG_HEAD + b"COPY public.t (id, email, name, phone, note, login, tag) FROM stdin;\n" + lines + b"\\.\n"


def _my_dump(rows, per_statement: int) -> bytes:
    out = [MY_HEAD]
    for s in range(0, len(rows), per_statement):
        tuples = [b"(" + b",".join([b"%d" % (s + i + 1)] + list(r)) + b")" for i, r in enumerate(rows[s:s + per_statement])]
        out.append(b"INSERT INTO `t` VALUES " + b",\n".join(tuples) + b";\n")
    return b"".join(out)


def _compared_run(monkeypatch, dump: bytes, dialect: str, cols) -> tuple[bytes, int]:
    """Mask `dump`; every block is masked twice, with the C block functions and without (the
    Python path), and must give the same bytes and counts. -> (output, blocks done in C)."""
    real = parallel_module.mask_block
    in_c = [0]
    c_copy, c_tuples = C_BLOCK

    def counting_copy(*a):
        in_c[0] += 1
        return c_copy(*a)

    def counting_tuples(*a):
        r = c_tuples(*a)
        in_c[0] += r is not None
        return r

    def both(plan, block):
        monkeypatch.setattr(work, "c_block_copy", counting_copy)
        monkeypatch.setattr(work, "c_block_tuples", counting_tuples)
        data, counts = real(plan, block)
        monkeypatch.setattr(work, "c_block_copy", None)
        monkeypatch.setattr(work, "c_block_tuples", None)
        want, want_counts = real(plan, block)
        assert bytes(data) == bytes(want)
        assert (counts.rows_read, counts.rows_written, counts.changed, counts.nulls) == \
            (want_counts.rows_read, want_counts.rows_written, want_counts.changed, want_counts.nulls)
        return data, counts

    monkeypatch.setattr(parallel_module, "mask_block", both)
    out = io.BytesIO()
    try:
        dumpmask.mask(io.BytesIO(dump), out, rules=_rules(cols), key=KEY, dialect=dialect, warn=lambda m: None)
    finally:
        monkeypatch.setattr(work, "c_block_copy", c_copy)
        monkeypatch.setattr(work, "c_block_tuples", c_tuples)
        monkeypatch.setattr(parallel_module, "mask_block", real)
    return out.getvalue(), in_c[0]


MASKED = st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=6, unique=True)
SLOW_OK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])


@SLOW_OK
@given(rows=st.lists(st.tuples(*[copy_fields()] * 6), min_size=1, max_size=40), cols=MASKED,
       repeat=st.integers(1, 3))
def test_copy_blocks_in_c_equal_the_python_path(monkeypatch, rows, cols, repeat):
    # repeated rows: the memos (the Python one and C's) hit too
    out, in_c = _compared_run(monkeypatch, _pg_dump(rows * repeat), "postgres", sorted(cols, key=COLUMNS.index))
    assert in_c >= 1
    assert out.endswith(b"\\.\n")


@SLOW_OK
@given(rows=st.lists(st.tuples(*[my_fields()] * 6), min_size=1, max_size=40), cols=MASKED,
       repeat=st.integers(1, 3), per_statement=st.integers(1, 50))
def test_insert_statements_in_c_equal_the_python_path(monkeypatch, rows, cols, repeat, per_statement):
    try:
        _compared_run(monkeypatch, _my_dump(rows * repeat, per_statement), "mysql", sorted(cols, key=COLUMNS.index))
    except dumpmask.errors.DumpmaskError:
        # a literal no mask can write (an expression): the same error without the C path
        monkeypatch.setattr(work, "c_block_copy", None)
        monkeypatch.setattr(work, "c_block_tuples", None)
        with pytest.raises(dumpmask.errors.DumpmaskError):
            _compared_run(monkeypatch, _my_dump(rows * repeat, per_statement), "mysql", sorted(cols, key=COLUMNS.index))


def _many(n_distinct: int, n_rows: int, seed: int):
    """Rows of e-mails, names and phones: n_distinct values each, n_rows rows; some not plain."""
    r = random.Random(seed)
    vals = [("é%d.x@ex.org" % i).encode() if i % 7 else b"bad\\x%d" % i for i in range(n_distinct)]
    return [(r.choice(vals), r.choice(vals[:50]), b"+49 %d" % r.randrange(n_distinct), b"\\N", b"", b"")
            for _ in range(n_rows)]


@pytest.mark.parametrize("memos", [64, 0])
@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_many_values_through_the_c_memo(monkeypatch, dialect, memos):
    """More distinct values than the C memo holds (slots overwritten), a column that repeats
    (name: hits) and columns that do not (the memo turns itself off): the same as Python's;
    and without memos (past work.MEMOS_MAX: computed every time, the pool read from its tuple)."""
    monkeypatch.setattr(work, "MEMOS_MAX", memos)
    monkeypatch.setattr(work, "_memos_made", iter(range(10 ** 9)))
    rows = _many(9000, 30000, 1)
    if dialect == "mysql":
        rows = [tuple(b"NULL" if f == b"\\N" else mysql_lex.encode_string(f.replace(b"\\x", b"x")) for f in r)
                for r in rows]
        dump = _my_dump(rows, 5000)
    else:
        dump = _pg_dump(rows)
    out, in_c = _compared_run(monkeypatch, dump, dialect, ["email", "name", "phone"])
    assert in_c >= 1
    assert out.count(b"@example.") + out.count(b"@bad") > 0


@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("mutation", ["faker.email", "faker.name", "faker.phone", "faker.userName", "redact",
                                      "faker.firstName", "static"])
def test_the_fakes_columns_have_a_c_path(mutation, mode):
    """A regression guard: the intl3/3faker columns (and the constants) take the C path; a
    change in how their field_fast is bound would silently send them back to Python."""
    from dumpmask.schema import classify
    from dumpmask.transformers import get

    col = classify("text")
    col.name = "c"
    t = get(mutation)(KEY, {}, col, "x" if mutation == "static" else None)
    t.bind_dialect("postgres" if mode == 0 else "mysql")
    enc = postgres.copy_encode if mode == 0 else (lambda s: mysql_lex.encode_string(s.encode()))
    spec = work.c_fake_spec(t.field_fast(mode, enc))
    assert spec is not None and spec[0] in (1, 2) and spec[2] == mode
