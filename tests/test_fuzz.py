"""A fuzzing campaign that stays in the suite (issue #16): dumps built from random schemas and
real dumps mutated (cut, duplicated, bytes flipped, statements spliced), through the engine.

Properties:
- never an internal error: every failure is a DumpmaskError (a message, an exit code), never
  another exception (what the CLI would report as "internal error", exit 70);
- never success when the input was cut inside a COPY block or inside a statement;
- nothing masked (no rules): the output is the input, byte for byte;
- masked output of a complete generated dump ends complete (its COPY terminators all there).

`make fuzz` runs the long profile (HYPOTHESIS_PROFILE=fuzz: a million examples per property,
no deadline); the suite runs the default profile (a few hundred).
"""
from __future__ import annotations

import io
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dumpmask.crypto import Key
from dumpmask.engine import build_engine
from dumpmask.errors import DumpmaskError
from dumpmask.rules import load_rules

#: `make fuzz FUZZ_EXAMPLES=N`: a shorter campaign of the long profile (default a million)
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000000"))
settings.register_profile("fuzz", max_examples=FUZZ_EXAMPLES, deadline=None,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("suite", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

KEY = Key(bytes.fromhex("68b564f8db2aa988868897d077a2767b6e6bd8c5f1c2bc6e33b763bfcf151a98"))


def run(dump: bytes, rules: dict | None, dialect: str | None = None):
    """(output bytes, None) or (partial output, the DumpmaskError); any other exception propagates."""
    rs = load_rules(None, json.dumps(rules).encode()) if rules is not None else load_rules(None, b'{"tables": []}')
    eng = build_engine(rs, KEY, dialect=dialect, source="fuzz.sql", warn=lambda m: None)
    out = io.BytesIO()
    try:
        eng.run(io.BytesIO(dump), out)
    except DumpmaskError as e:
        return out.getvalue(), e
    return out.getvalue(), None


# --------------------------------------------------------------------------- generated dumps
IDENT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, blacklist_categories=("Cs", "Cc")),
                min_size=1, max_size=12)
VALUE = st.one_of(st.none(), st.text(max_size=20), st.integers(-10**12, 10**12).map(str),
                  st.sampled_from(["\\", "\t", "\n", "\r", "'", '"', "\\N", "ä€𝄞", ""]))


def pg_ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def copy_field(v) -> str:
    if v is None:
        return "\\N"
    return (v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r"))


@st.composite
def pg_dumps(draw):
    """A small pg_dump-shaped dump: tables with quoted non-ASCII names and escaped values."""
    tables = draw(st.lists(st.tuples(IDENT, st.lists(IDENT, min_size=1, max_size=4, unique=True)), min_size=1,
                           max_size=3, unique_by=lambda t: t[0]))
    parts = ["--\n-- PostgreSQL database dump\n--\n\nSET client_encoding = 'UTF8';\n\n"]
    for name, cols in tables:
        parts.append(f"CREATE TABLE public.{pg_ident(name)} (\n" +
                     ",\n".join(f"    {pg_ident(c)} text" for c in cols) + "\n);\n\n")
    for name, cols in tables:
        rows = draw(st.lists(st.lists(VALUE, min_size=len(cols), max_size=len(cols)), max_size=5))
        parts.append(f"COPY public.{pg_ident(name)} ({', '.join(pg_ident(c) for c in cols)}) FROM stdin;\n")
        parts += ["\t".join(copy_field(v) for v in r) + "\n" for r in rows]
        parts.append("\\.\n\n")
    return "".join(parts).encode("utf-8", "surrogatepass"), tables


@given(pg_dumps())
def test_nothing_masked_is_byte_identical(gen):
    dump, _ = gen
    out, err = run(dump, None)
    assert err is None, err
    assert out == dump


@given(pg_dumps(), st.data())
def test_masked_generated_dump_is_complete(gen, data):
    dump, tables = gen
    name, cols = data.draw(st.sampled_from(tables))
    rules = {"tables": [{"tableName": pg_ident(name), "columnMutations": [
        {"column": pg_ident(cols[0]), "mutation": data.draw(st.sampled_from(["redact", "hash", "faker.name", "null"]))}]}]}
    out, err = run(dump, rules)
    assert err is None, err
    assert out.count(b"\n\\.\n") == dump.count(b"\n\\.\n") and b"DUMPMASK_ABORTED" not in out


@given(pg_dumps(), st.data())
def test_a_cut_inside_copy_data_never_succeeds(gen, data):
    dump, _ = gen
    starts = [i + len(b"FROM stdin;\n") for i in range(len(dump)) if dump.startswith(b"FROM stdin;\n", i)]
    start = data.draw(st.sampled_from(starts))
    end = dump.index(b"\\.\n", start)
    cut = data.draw(st.integers(start, end + 1))   # anywhere in the rows or the terminator
    for rules in (None, {"tables": [{"tableName": "x", "columnMutations": [{"column": "y", "mutation": "redact"}]}]}):
        out, err = run(dump[:cut], rules)
        assert err is not None, f"a dump cut at byte {cut} inside COPY data was accepted"
        assert out.rstrip().endswith(b"DUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;")


# --------------------------------------------------------------------------- real dumps mutated
def _real(datasets, name) -> bytes:
    path = {"pg": datasets / "pagila" / "pg_dump-inserts.sql", "my": datasets / "sakila" / "mariadb-dump-default.sql"}[name]
    return path.read_bytes()


SAMPLE = 60_000   # a window of the real dump (its head: schema and the first data statements)


@pytest.mark.parametrize("name", ["pg", "my"])
@settings(max_examples=60 if os.environ.get("HYPOTHESIS_PROFILE") != "fuzz" else FUZZ_EXAMPLES)
@given(data=st.data())
def test_mutated_real_dump_never_an_internal_error(name, data, datasets):
    real = _real(datasets, name)
    start = real.find(b"INSERT INTO")
    base = real[:start + SAMPLE]
    kind = data.draw(st.sampled_from(["cut", "flip", "duplicate", "splice", "delete"]))
    a = data.draw(st.integers(0, len(base) - 1))
    b = data.draw(st.integers(a, min(len(base), a + 2000)))
    if kind == "cut":
        dump = base[:a]
    elif kind == "flip":
        dump = base[:a] + bytes([base[a] ^ data.draw(st.integers(1, 255))]) + base[a + 1:]
    elif kind == "duplicate":
        dump = base[:b] + base[a:b] + base[b:]
    elif kind == "splice":
        c = data.draw(st.integers(0, len(base) - 1))
        dump = base[:a] + base[c:c + (b - a)] + base[b:]
    else:
        dump = base[:a] + base[b:]
    rules = {"tables": [{"tableName": "customer", "columnMutations": [{"column": "email", "mutation": "faker.email"}]},
                        {"tableName": "address", "columnMutations": [{"column": "phone", "mutation": "faker.phone"}]}]}
    out, err = run(dump, rules, "postgres" if name == "pg" else "mysql")   # raises on an internal error
    if err is not None:
        assert out.rstrip().endswith(b"DUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;")
