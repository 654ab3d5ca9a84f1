"""The private server fixtures work: samples load, and a real dump restores into a fresh db.
Also the `dm` CLI fixture."""
import pytest

servers = pytest.mark.servers

PAGILA_TABLES = ("customer", "address", "rental", "payment", "staff")
SAKILA_TABLES = ("customer", "address", "rental", "payment", "staff")


@servers
def test_pagila_loaded(pg_server, pagila_db):
    assert pg_server.count(pagila_db, "customer") == 599
    assert pg_server.scalar(pagila_db, "SHOW server_encoding") == "UTF8"


@servers
def test_sakila_loaded(my_server, sakila_db):
    assert my_server.count(sakila_db, "customer") == 599
    # the /*!50705 */ edit keeps address.location (GEOMETRY) in the schema
    assert my_server.scalar(sakila_db, "SELECT count(*) FROM information_schema.columns "
                            "WHERE table_schema='sakila' AND table_name='address' "
                            "AND column_name='location'") == "1"


@servers
@pytest.mark.parametrize("args", [(), ("--inserts",)], ids=["copy", "inserts"])
def test_pg_dump_round_trip(pg_server, pagila_db, args):
    dump = pg_server.dump(pagila_db, *args)
    assert b"PostgreSQL database dump" in dump
    db = pg_server.createdb("smoke_pg_copy")
    try:
        pg_server.restore(db, dump)
        for t in PAGILA_TABLES:
            assert pg_server.count(db, t) == pg_server.count(pagila_db, t), t
    finally:
        pg_server.dropdb(db)


@servers
def test_pg_restore_failure_raises_with_stderr(pg_server):
    db = pg_server.createdb("smoke_pg_fail")
    try:
        with pytest.raises(Exception, match="does_not_exist"):
            pg_server.restore(db, b"SELECT 1;\nSELECT * FROM does_not_exist;\n")
    finally:
        pg_server.dropdb(db)


@servers
def test_mariadb_dump_round_trip(my_server, sakila_db):
    dump = my_server.dump(sakila_db)
    assert b"INSERT INTO `customer` VALUES" in dump
    db = my_server.create("smoke_my")
    try:
        my_server.restore(db, dump)
        for t in SAKILA_TABLES:
            assert my_server.count(db, t) == my_server.count(sakila_db, t), t
    finally:
        my_server.drop(db)


@servers
def test_mariadb_unicode_round_trip(my_server):
    db = my_server.create("smoke_my_utf8")
    try:
        my_server.sql(db, "CREATE TABLE t (s varchar(20)); INSERT INTO t VALUES ('Zoë 😀 \\'q\\'')")
        assert my_server.scalar(db, "SELECT s FROM t") == "Zoë 😀 'q'"
        dump = my_server.dump(db)
        db2 = my_server.create("smoke_my_utf8_b")
        my_server.restore(db2, dump)
        assert my_server.scalar(db2, "SELECT s FROM t") == "Zoë 😀 'q'"
        my_server.drop(db2)
    finally:
        my_server.drop(db)


@servers
def test_pg_env_reaches_subprocesses(pg_server):
    import subprocess

    out = subprocess.run([pg_server.bin("psql"), "-XAtc", "select current_setting('port')",
                          "-d", "postgres"], env=pg_server.env, capture_output=True, check=True)
    assert out.stdout.decode().strip() == str(pg_server.port)


def test_dm_fixture_runs_the_cli(dm):
    cp = dm("--help")
    assert cp.returncode == 0, cp.stderr
    assert b"Usage" in cp.stdout
    cp = dm("--help", env={"DUMPMASK_KEY": None})
    assert cp.returncode == 0, cp.stderr
