"""Issue 11: "remapping did happen" on every dump option the suite uses.

Pagila (pg_dump: COPY, --inserts, --column-inserts, --rows-per-insert) and Sakila
(mariadb-dump: default, --complete-insert, --skip-extended-insert, --hex-blob, --insert-ignore)
are remapped with identifierRemapping on, restored, and tests/remapcheck.py checks that every
declared PK/FK column changed in every row and every foreign key still joins.
"""
from __future__ import annotations

import json

import pytest

from remapcheck import assert_remapped_my, assert_remapped_pg

RULES = {"options": {"identifierRemapping": {"enabled": True, "inferKeys": True}},
         "tables": [{"tableName": "customer", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]}

PG_MODES = {"copy": (), "inserts": ("--inserts",), "column_inserts": ("--column-inserts",),
            "rows_per_insert": ("--rows-per-insert=100",)}
MY_VARIANTS = {"default": (), "complete-insert": ("--complete-insert",),
               "skip-extended-insert": ("--skip-extended-insert",), "hex-blob": ("--hex-blob",),
               "insert-ignore": ("--insert-ignore",)}
# composite keys hold a timestamp that stays as it is (README: a timestamp inside a key is kept)
PG_UNCHANGED = {f"payment_p2022_0{i}.payment_date" for i in range(1, 8)}


@pytest.fixture
def rules(tmp_path):
    p = tmp_path / "rules.json"
    p.write_text(json.dumps(RULES))
    return p


@pytest.mark.parametrize("mode", list(PG_MODES))
def test_pagila_remapping_did_happen(mode, pg_server, pagila_db, dm, rules, tmp_path):
    src = tmp_path / "in.sql"
    src.write_bytes(pg_server.dump(pagila_db, *PG_MODES[mode]))
    cp = dm("-q", "-c", rules, src)
    assert cp.returncode == 0, cp.stderr.decode()[-2000:]
    db = pg_server.createdb(f"remapcheck_{mode}")
    try:
        pg_server.restore(db, cp.stdout)
        got = assert_remapped_pg(pg_server, pagila_db, db, unchanged=PG_UNCHANGED)
        assert len(got["columns"]) >= 40 and got["fks"] >= 30, got
        # the loose key (no FK declares it) joins through inferKeys
        assert pg_server.scalar(db, "select count(*) from store s join staff m on s.manager_staff_id = m.staff_id") == \
            pg_server.scalar(pagila_db, "select count(*) from store")
    finally:
        pg_server.dropdb(db)


@pytest.mark.parametrize("variant", list(MY_VARIANTS))
def test_sakila_remapping_did_happen(variant, my_server, sakila_db, dm, rules, tmp_path):
    src = tmp_path / "in.sql"
    src.write_bytes(my_server.dump(sakila_db, *MY_VARIANTS[variant]))
    cp = dm("-q", "-c", rules, src)
    assert cp.returncode == 0, cp.stderr.decode()[-2000:]
    # the same bytes on a pipe (mysqldump writes tables in name order: payment before rental)
    piped = dm("-q", "-c", rules, input=src.read_bytes())
    assert piped.returncode == 0, piped.stderr.decode()[-2000:]
    assert piped.stdout == cp.stdout
    db = my_server.create(f"remapcheck_{variant.replace('-', '_')}")
    try:
        my_server.restore(db, cp.stdout)
        got = assert_remapped_my(my_server, sakila_db, db)
        assert len(got["columns"]) >= 30 and got["fks"] >= 20, got
    finally:
        my_server.drop(db)


def test_remapcheck_fails_on_a_dump_that_was_not_remapped(my_server, sakila_db, tmp_path):
    db = my_server.create("remapcheck_plain")
    try:
        my_server.restore(db, my_server.dump(sakila_db))
        with pytest.raises(AssertionError, match="kept their original value"):
            assert_remapped_my(my_server, sakila_db, db)
    finally:
        my_server.drop(db)
