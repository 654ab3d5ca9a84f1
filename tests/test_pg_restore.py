"""End to end on a real PostgreSQL: pg_dump Pagila, mask, restore into a fresh database.

Runs in CI (the fixtures fail instead of skipping under CI=true)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, TEST_KEY

MASKED = {
    "customer": ["first_name", "last_name", "email"],
    "staff": ["first_name", "last_name", "email", "username", "password"],
    "address": ["address", "phone", "postal_code"],
}
MODES = {"copy": (), "inserts": ("--inserts",), "column_inserts": ("--column-inserts",),
         "rows_per_insert": ("--rows-per-insert=100",)}

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def pii(shared_rule) -> Path:
    return shared_rule("pagila-pii.json")


def run_dm(dump: bytes, *args, key: str | None = TEST_KEY) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("DUMPMASK_KEY", None)
    if key is not None:
        env["DUMPMASK_KEY"] = key
    return subprocess.run([sys.executable, "-m", "dumpmask", "-q", *map(str, args)], input=dump, env=env,
                          capture_output=True, timeout=300)


def qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def psql_json(pg, db: str, sql: str):
    out = pg.scalar(db, sql)
    return json.loads(out) if out else None


def tables_of(pg, db: str) -> dict[str, list[str]]:
    """public tables (plain and partitioned) -> column names in order."""
    rows = psql_json(pg, db, """
        SELECT json_object_agg(c.relname, (SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
                                           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')""")
    return rows or {}


def pk_of(pg, db: str, table: str) -> list[str]:
    return psql_json(pg, db, f"""
        SELECT json_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum))
        FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = 'public.{table}'::regclass AND i.indisprimary""")


def rows_by_pk(pg, db: str, table: str, cols: list[str]) -> dict:
    pk = pk_of(pg, db, table)
    sel = ", ".join(qi(c) for c in pk + cols)
    data = psql_json(pg, db, f"SELECT json_agg(json_build_array({sel}) ORDER BY {', '.join(map(qi, pk))}) FROM public.{qi(table)}")
    return {tuple(r[:len(pk)]): r[len(pk):] for r in data or []}


def checksum(pg, db: str, table: str, cols: list[str]) -> str:
    row = "ROW(" + ", ".join(qi(c) for c in cols) + ")::text"
    return pg.scalar(db, f"SELECT count(*) || ':' || md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) "
                         f"FROM (SELECT {row} AS x FROM public.{qi(table)}) s")


def constraint_facts(pg, db: str) -> tuple:
    return (pg.scalar(db, "SELECT count(*) FROM pg_constraint WHERE NOT convalidated"),
            pg.scalar(db, "SELECT count(*) || '/' || count(*) FILTER (WHERE contype = 'f') FROM pg_constraint c "
                          "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'"))


def psql_restore(pg, db: str, data: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([pg.bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", db],
                          input=data, env=pg.env, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def source(pg_server, pagila_db):
    tables = tables_of(pg_server, pagila_db)
    assert {"customer", "staff", "address", "rental", "payment"} <= set(tables)
    facts = {
        "tables": tables,
        "counts": {t: pg_server.count(pagila_db, f"public.{qi(t)}") for t in tables},
        "checksums": {t: checksum(pg_server, pagila_db, t, [c for c in cols if c not in MASKED.get(t, ())])
                      for t, cols in tables.items()},
        "masked": {t: rows_by_pk(pg_server, pagila_db, t, cols) for t, cols in MASKED.items()},
        "constraints": constraint_facts(pg_server, pagila_db),
    }
    return facts


_dumps: dict[str, bytes] = {}


@pytest.fixture
def dump_of(pg_server, pagila_db):
    def get(mode: str) -> bytes:
        if mode not in _dumps:
            _dumps[mode] = pg_server.dump(pagila_db, *MODES[mode])
        return _dumps[mode]
    return get


def originals(source) -> set[bytes]:
    """Original emails, phones and street addresses of masked columns (>= 6 chars)."""
    out = set()
    for table, col in (("customer", "email"), ("staff", "email"), ("address", "phone"), ("address", "address")):
        i = MASKED[table].index(col)
        for vals in source["masked"][table].values():
            v = vals[i]
            if isinstance(v, str) and len(v) >= 6:
                out.add(v.encode())
    return out


@pytest.mark.parametrize("mode", list(MODES))
def test_pagila_masked_restore(pg_server, source, dump_of, mode, pii):
    dump = dump_of(mode)
    cp = run_dm(dump, "-c", pii)
    assert cp.returncode == 0, cp.stderr.decode()
    out = cp.stdout

    # no original email, phone or street address anywhere in the output
    leaks = [v for v in originals(source) if v in out]
    assert len(originals(source)) > 1000
    assert not leaks, f"{len(leaks)} original values leaked, e.g. {leaks[:3]}"

    db = pg_server.createdb(f"masked_{mode}")
    try:
        pg_server.restore(db, out)  # ON_ERROR_STOP=1 --single-transaction
        assert tables_of(pg_server, db) == source["tables"]
        for t in source["tables"]:
            assert pg_server.count(db, f"public.{qi(t)}") == source["counts"][t], t
        assert constraint_facts(pg_server, db) == source["constraints"]
        assert constraint_facts(pg_server, db)[0] == "0"
        # unmasked columns identical
        for t, cols in source["tables"].items():
            keep = [c for c in cols if c not in MASKED.get(t, ())]
            assert checksum(pg_server, db, t, keep) == source["checksums"][t], t
        # masked columns changed for >= 99% of the rows, matched by primary key
        for t, cols in MASKED.items():
            after = rows_by_pk(pg_server, db, t, cols)
            before = source["masked"][t]
            assert after.keys() == before.keys()
            for i, c in enumerate(cols):
                nonnull = [k for k in before if before[k][i] is not None]
                changed = sum(after[k][i] != before[k][i] for k in nonnull)
                assert nonnull and changed >= 0.99 * len(nonnull), (t, c, changed, len(nonnull))
        # the restored emails are still unique
        assert pg_server.scalar(db, "SELECT count(DISTINCT email) = count(email) FROM public.customer") == "t"
    finally:
        pg_server.dropdb(db)


@pytest.mark.parametrize("mode", ["copy", "rows_per_insert"])
def test_two_runs_with_one_key_identical(dump_of, mode, pii):
    dump = dump_of(mode)
    a = run_dm(dump, "-c", pii)
    b = run_dm(dump, "-c", pii)
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout and a.stdout != dump
    c = run_dm(dump, "-c", pii, key="5e0c2a9b7d4f1e3a8c6b0d2f4a9e7c1b3d5f8a0c2e4b6d9f1a3c5e7b0d2f4a6c")
    assert c.stdout != a.stdout


def test_empty_rules_pass_real_dump_through_identically(dump_of):
    for mode in ("copy", "rows_per_insert"):
        dump = dump_of(mode)
        cp = run_dm(dump, "-c", REPO / "tests" / "golden" / "empty-rules.json")
        assert cp.returncode == 0 and cp.stdout == dump, mode


# --------------------------------------------------------------------------- failures roll back

def _cut_in_copy_row(dump: bytes, table: bytes) -> bytes:
    i = dump.index(b"COPY public." + table + b" ")
    j = dump.index(b"\n", i) + 1          # first row
    j = dump.index(b"\n", j) + 1          # second row
    return dump[:j + 7]                   # a few bytes into the third row


def _drop_a_field(dump: bytes, table: bytes) -> bytes:
    i = dump.index(b"COPY public." + table + b" ")
    j = dump.index(b"\n", i) + 1
    k = dump.index(b"\n", j)
    row = dump[j:k]
    return dump[:j] + row.rsplit(b"\t", 1)[0] + dump[k:]


def _cut_in_string(dump: bytes, table: bytes) -> bytes:
    i = dump.index(b"INSERT INTO public." + table + b" ")
    q = dump.index(b"'", i)
    return dump[:q + 3]


FAILURES = {
    "copy_cut_in_masked_table": ("copy", lambda d: _cut_in_copy_row(d, b"customer"), "COPY"),
    "copy_cut_in_unmasked_table": ("copy", lambda d: _cut_in_copy_row(d, b"rental"), "COPY"),
    "copy_row_missing_a_field": ("copy", lambda d: _drop_a_field(d, b"customer"), "field"),
    "insert_cut_in_string": ("inserts", lambda d: _cut_in_string(d, b"customer"), "unterminated"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failed_run_makes_single_transaction_restore_roll_back(pg_server, dump_of, case, pii):
    mode, damage, what = FAILURES[case]
    bad = damage(dump_of(mode))
    cp = run_dm(bad, "-c", pii)
    assert cp.returncode == 1
    err = cp.stderr.decode()
    assert b"Traceback" not in cp.stderr
    m = re.search(r"^dumpmask: error: <stdin>:(\d+): (.*)$", err, re.M)
    assert m and what.lower() in m.group(2).lower(), err
    line = int(m.group(1))
    assert 1 <= line <= bad.count(b"\n") + 1
    db = pg_server.createdb(f"fail_{case}")
    try:
        r = psql_restore(pg_server, db, cp.stdout)
        assert r.returncode != 0, "psql accepted the output of a failed run"
        n = pg_server.scalar(db, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                 "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')")
        assert n == "0", "the failed restore left tables behind"
    finally:
        pg_server.dropdb(db)


def test_row_with_wrong_field_count_reports_its_line(dump_of, pii):
    bad = _drop_a_field(dump_of("copy"), b"customer")
    cp = run_dm(bad, "-c", pii)
    m = re.search(rb"<stdin>:(\d+):", cp.stderr)
    line = int(m.group(1))
    assert bad.split(b"\n")[line - 1].count(b"\t") < bad.split(b"\n")[line].count(b"\t")
    assert bad.split(b"\n")[line - 2].startswith(b"COPY public.customer ")
