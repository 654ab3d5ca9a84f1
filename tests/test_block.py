"""The BLOCK section of the C extension (work.c_block_copy / c_block_tuples: a COPY chunk's or a
mysqldump INSERT's masked fields in one C call, plain fields of FAKES columns computed in C)
against its pure twin, the Python path of work.py (copy_spans / tuple_spans, span_masker,
splice): for random fields (ASCII, non-ASCII UTF-8, invalid UTF-8, escapes, \\N, NULL, quotes,
empty; repeated and distinct), every block gives the same bytes and the same counts both ways."""
from __future__ import annotations

import io
import os
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dumpmask
import dumpmask.parallel as parallel_module
from dumpmask import remap, speedups, work
from dumpmask.crypto import Key
from dumpmask.dialects import mysql_lex, postgres
from dumpmask.rules import load_rules
from conftest import TEST_KEY, unavailable


@pytest.fixture(autouse=True)
def _needs_c():
    """The C path to compare: skipped under DUMPMASK_PURE=1 (there is none); without a built
    extension skipped locally, a failure with CI=true."""
    if speedups.PURE:
        pytest.skip("DUMPMASK_PURE is set: no C block functions to compare")
    if work.c_block_copy is None:
        unavailable("dumpmask._speedups is not built (or was built without its BLOCK section)")


KEY = Key(TEST_KEY)
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


# -- key columns in the block functions: remapped integer keys and kept key columns in C

KEY_PG_HEAD = (b"-- PostgreSQL database dump\nCREATE TABLE public.p (\n    id integer NOT NULL,\n    email text\n);\n"
               b"CREATE TABLE public.c (\n    cid integer NOT NULL,\n    pid integer,\n    other integer,\n"
               b"    email text\n);\n")
KEY_PG_TAIL = (b"ALTER TABLE ONLY public.p\n    ADD CONSTRAINT p_pkey PRIMARY KEY (id);\n"
               b"ALTER TABLE ONLY public.c\n    ADD CONSTRAINT c_pkey PRIMARY KEY (cid);\n"
               b"ALTER TABLE ONLY public.c\n    ADD CONSTRAINT c_pid_fkey FOREIGN KEY (pid) REFERENCES public.p(id);\n")
KEY_MY_HEAD = (b"-- MariaDB dump 10.19\nCREATE TABLE `p` (\n  `id` int(11) NOT NULL,\n  `email` text,\n"
               b"  PRIMARY KEY (`id`)\n);\n"
               b"CREATE TABLE `c` (\n  `cid` int(11) NOT NULL,\n  `pid` int(11) DEFAULT NULL,\n"
               b"  `other` int(11) DEFAULT NULL,\n  `email` text,\n  PRIMARY KEY (`cid`),\n"
               b"  CONSTRAINT `c_pid` FOREIGN KEY (`pid`) REFERENCES `p` (`id`)\n);\n")
KEY_RULES = {"options": {"identifierRemapping": {"enabled": True, "range": [1, 1000000]}},
             "tables": [{"tableName": "p", "columnMutations": [{"column": "email", "mutation": "faker.email"}]},
                        {"tableName": "c", "columnMutations": [{"column": "email", "mutation": "faker.email"},
                                                                {"column": "other", "mutation": "keep"}]}]}
# integer keys (a bigint domain is wider than C's 62 bits: Python does it) in a small range (the
# round tables of a 2^31 domain take ~1 s to fill): small ids and ids at the top of the range
KEY_IDS = st.one_of(st.integers(1, 5000), st.integers(10 ** 6 - 5000, 10 ** 6))


def _key_dumps(ids, refs, others, dialect: str, per_statement: int = 7) -> bytes:
    def pgv(v):
        return postgres.NULL_FIELD if v is None else b"%d" % v

    def myv(v):
        return b"NULL" if v is None else b"%d" % v

    emails = [b"u%d@example.org" % i for i in range(len(ids))]
    if dialect == "postgres":
        p = b"".join(b"%d\t%s\n" % (i, e) for i, e in zip(ids, emails, strict=True))
        c = b"".join(b"%d\t%s\t%s\t%s\n" % (n + 1, pgv(r), pgv(o), emails[n % len(emails)])
                     for n, (r, o) in enumerate(zip(refs, others, strict=True)))
        return (KEY_PG_HEAD + b"COPY public.p (id, email) FROM stdin;\n" + p + b"\\.\n"
                + b"COPY public.c (cid, pid, other, email) FROM stdin;\n" + c + b"\\.\n" + KEY_PG_TAIL)
    out = [KEY_MY_HEAD]
    prow = [b"(%d,'%s')" % (i, e) for i, e in zip(ids, emails, strict=True)]
    crow = [b"(%d,%s,%s,'%s')" % (n + 1, myv(r), myv(o), emails[n % len(emails)])
            for n, (r, o) in enumerate(zip(refs, others, strict=True))]
    for table, rows in ((b"p", prow), (b"c", crow)):
        for s in range(0, len(rows), per_statement):
            out.append(b"INSERT INTO `" + table + b"` VALUES " + b",".join(rows[s:s + per_statement]) + b";\n")
    return b"".join(out)


def _run_keys(dump: bytes, dialect: str):
    import tempfile

    out = io.BytesIO()
    doc = load_rules(None, json.dumps(KEY_RULES).encode())
    with tempfile.TemporaryDirectory() as tmp:   # a file: pg_dump's keys come after the data
        path = os.path.join(tmp, "dump.sql")
        with open(path, "wb") as f:
            f.write(dump)
        audit = dumpmask.mask(path, out, rules=doc, key=KEY, dialect=dialect, warn=lambda m: None)
    return out.getvalue(), audit["tables"]   # per table and column: rows, values changed, NULLs


@settings(SLOW_OK, max_examples=20)   # two whole runs an example
@given(ids=st.lists(KEY_IDS, min_size=1, max_size=30, unique=True), data=st.data(),
       dialect=st.sampled_from(["postgres", "mysql"]))
def test_key_columns_in_c_blocks_equal_the_python_path(monkeypatch, ids, data, dialect):
    refs = data.draw(st.lists(st.one_of(st.none(), st.sampled_from(ids)), min_size=1, max_size=40))
    others = data.draw(st.lists(st.one_of(st.none(), st.integers(0, 2 ** 31 - 1)), min_size=len(refs),
                                max_size=len(refs)))
    dump = _key_dumps(ids, refs, others, dialect)
    # the round tables are filled after the first value (else after 20,000): the C path applies
    monkeypatch.setattr(remap._Feistel, "FILL_AFTER", 0)
    calls = [0]
    real_copy, real_tuples = C_BLOCK

    def counting(real):
        def f(*a):
            calls[0] += 1
            return real(*a)
        return f

    monkeypatch.setattr(work, "c_block_copy", counting(real_copy))
    monkeypatch.setattr(work, "c_block_tuples", counting(real_tuples))
    got, got_audit = _run_keys(dump, dialect)
    assert calls[0] >= 2          # both tables went through the C block functions
    monkeypatch.setattr(work, "c_block_copy", None)
    monkeypatch.setattr(work, "c_block_tuples", None)
    want, want_audit = _run_keys(dump, dialect)
    # the remapped keys, the kept column, the sequence/AUTO_INCREMENT figures after the data
    assert got == want
    assert got_audit == want_audit
    # remapping happened: the parent's ids are not all where they were
    if len(ids) > 3 and dialect == "postgres":
        assert got != dump


# -- MySQL statements with some rows cut (partial transfer: --first/--last): the C tuple
# scanner's path (work._keep_tuples_scanned) against the lexer's

def _cut_run(monkeypatch, dump: bytes, cols, opts, scanner: bool):
    import tempfile

    doc = {"tables": [{"tableName": "t", "columnMutations": [{"column": c, "mutation": MUTATIONS[c]}
                                                             for c in sorted(cols, key=COLUMNS.index)]}]}
    calls = [0]
    real = work._keep_tuples_scanned

    def counting(*a):
        r = real(*a)
        calls[0] += r is not None
        return r

    monkeypatch.setattr(work, "_keep_tuples_scanned", counting if scanner else (lambda *a: None))
    try:
        with tempfile.TemporaryDirectory() as tmp:   # --last reads a file twice
            path = os.path.join(tmp, "dump.sql")
            with open(path, "wb") as f:
                f.write(dump)
            out = io.BytesIO()
            try:
                audit = dumpmask.mask(path, out, rules=load_rules(None, json.dumps(doc).encode()), key=KEY,
                                      dialect="mysql", warn=lambda m: None, **opts)
            except dumpmask.errors.DumpmaskError as e:
                return ("error", str(e).replace(path, "DUMP")), calls[0]
            return (out.getvalue(), audit["tables"]), calls[0]
    finally:
        monkeypatch.setattr(work, "_keep_tuples_scanned", real)


@settings(SLOW_OK, max_examples=20)   # two whole runs an example
@given(rows=st.lists(st.tuples(*[my_fields()] * 6), min_size=1, max_size=40), cols=MASKED,
       per_statement=st.integers(1, 12), n=st.integers(1, 40), last=st.booleans())
def test_insert_rows_cut_by_the_scanner_equal_the_lexer_path(monkeypatch, rows, cols, per_statement, n, last):
    dump = _my_dump(rows, per_statement)
    opts = {"last": n} if last else {"first": n}
    got, _calls = _cut_run(monkeypatch, dump, cols, opts, True)
    want, _ = _cut_run(monkeypatch, dump, cols, opts, False)
    assert got == want


@pytest.mark.parametrize("opts", [{"first": 4}, {"last": 5}])
def test_insert_rows_cut_by_the_scanner_on_plain_statements(monkeypatch, opts):
    rng = random.Random(7)
    rows = [tuple(b"'%s'" % ("".join(rng.choice("abcxyz.@") for _ in range(rng.randint(1, 12)))).encode()
                  for _c in range(6)) for _r in range(23)]
    dump = _my_dump(rows, 7)     # 7 rows a statement: the cut falls inside one
    got, calls = _cut_run(monkeypatch, dump, ["email", "name"], opts, True)
    want, _ = _cut_run(monkeypatch, dump, ["email", "name"], opts, False)
    assert calls >= 1
    assert got == want and got[0] != "error"
    assert got[0].count(b"),\n(") + got[0].count(b"),(") >= 2   # rows were kept, several in one statement
