"""The fuzzing campaign's restore property (issue #16): for schemas generated from a random seed
(partitions, inheritance, quoted and non-ASCII names, arrays, enums, JSON, keys; tests/schemagen.py)
created in the real server and dumped by the real pg_dump / mariadb-dump, with random dump
options, the masked dump (rules from `rules init`, every detected column masked, keys remapped)
restores whenever the original does. `make fuzz` runs more seeds (HYPOTHESIS_PROFILE=fuzz)."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemagen import mysql_schema, postgres_schema

EXAMPLES = 6 if os.environ.get("HYPOTHESIS_PROFILE") != "fuzz" else int(os.environ.get("FUZZ_EXAMPLES", "200"))
_settings = settings(max_examples=EXAMPLES, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

PG_OPTIONS = [(), ("--inserts",), ("--column-inserts", "--rows-per-insert=7"), ("--quote-all-identifiers",),
              ("--no-owner", "--no-privileges"), ("--inserts", "--on-conflict-do-nothing")]
MY_OPTIONS = [(), ("--skip-extended-insert",), ("--complete-insert",), ("--hex-blob",), ("--insert-ignore",),
              ("--skip-quote-names",), ("--extended-insert", "--net-buffer-length=8192")]


def _mask(dm, tmp_path, dump: bytes):
    src = tmp_path / "in.sql"
    src.write_bytes(dump)
    rules = tmp_path / "rules.json"
    cp = dm("rules", "init", src)
    assert cp.returncode == 0, cp.stderr.decode()
    rules.write_bytes(cp.stdout)
    out = tmp_path / "out.sql"
    cp = dm("-c", rules, src, "-o", out)
    assert cp.returncode == 0, cp.stderr.decode()
    return out


@_settings
@given(seed=st.integers(0, 10 ** 6), opts=st.sampled_from(PG_OPTIONS))
def test_masked_postgres_dump_restores_when_the_original_does(dm, tmp_path_factory, pg_server, seed, opts):
    tmp_path = tmp_path_factory.mktemp("fz")
    g = postgres_schema(seed=seed, groups=3)
    db = pg_server.createdb("fuzz_restore_src")
    dst = "fuzz_restore_dst"
    try:
        pg_server.psql(db, g.sql)
        dump = pg_server.dump(db, *opts)
        pg_server.createdb(dst)
        pg_server.restore(dst, dump)          # the original restores (else the example says nothing)
        out = _mask(dm, tmp_path, dump)
        pg_server.createdb(dst)
        pg_server.restore(dst, out)           # so must the masked dump: psql ON_ERROR_STOP, one transaction
    finally:
        pg_server.dropdb(db)
        pg_server.dropdb(dst)


@_settings
@given(seed=st.integers(0, 10 ** 6), opts=st.sampled_from(MY_OPTIONS))
def test_masked_mariadb_dump_restores_when_the_original_does(dm, tmp_path_factory, my_server, seed, opts):
    tmp_path = tmp_path_factory.mktemp("fz")
    g = mysql_schema(seed=seed, groups=3)
    db = my_server.create("fuzz_restore_src")
    try:
        my_server.sql(db, g.sql)
        dump = my_server.dump(db, *opts)
        dst = my_server.create("fuzz_restore_dst")
        my_server.restore(dst, dump)
        out = _mask(dm, tmp_path, dump)
        dst = my_server.create("fuzz_restore_dst")
        my_server.restore(dst, out)
    finally:
        my_server.drop(db)
        my_server.drop("fuzz_restore_dst")


def test_quote_all_identifiers_changes_nothing_detection_sees(dm, tmp_path, pg_server):
    """pg_dump --quote-all-identifiers writes built-in types quoted ("uuid", "text", "jsonb"):
    they are the same types. scan and rules init see the same columns as in a plain dump (they
    classified "uuid" as unknown: a uuid FK was not a key, and rules init's unlisted "fail"
    stopped the masking of its own rules)."""
    g = postgres_schema(seed=0, groups=3)
    db = pg_server.createdb("quote_all_src")
    try:
        pg_server.psql(db, g.sql)
        plain, quoted = tmp_path / "plain.sql", tmp_path / "quoted.sql"
        plain.write_bytes(pg_server.dump(db))
        quoted.write_bytes(pg_server.dump(db, "--quote-all-identifiers"))
    finally:
        pg_server.dropdb(db)
    assert b'"uuid"' in quoted.read_bytes() and b'"text"' in quoted.read_bytes()
    for cmd in (("scan", "--json"), ("rules", "init")):
        a, b = dm(*cmd, plain), dm(*cmd, quoted)
        assert a.returncode == b.returncode == 0, b.stderr.decode()
        assert a.stdout == b.stdout, cmd
    rules = tmp_path / "rules.json"
    rules.write_bytes(dm("rules", "init", quoted).stdout)
    cp = dm("-c", rules, quoted, "-o", tmp_path / "out.sql")
    assert cp.returncode == 0, cp.stderr.decode()
