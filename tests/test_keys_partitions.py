"""Issue 17: remapping that respects the schema, on schemas built in the real servers.

- A column of a partition key (LIST / RANGE / HASH; MySQL PARTITION BY too) is left
  unremapped with its whole foreign-key domain, loudly (stderr, audit), and --strict fails:
  the restore never fails because a row no longer fits its partition.
- An INHERITS child's copy of a remapped parent column is remapped with it (same domain).
"""
from __future__ import annotations

import json

import pytest

from dumpmask.engine import POISON

ON = {"options": {"identifierRemapping": {"enabled": True}}, "tables": []}

PG_SCHEMA = """
CREATE TABLE builds (id bigint NOT NULL, partition_id bigint NOT NULL, name text,
                     PRIMARY KEY (id, partition_id)) PARTITION BY LIST (partition_id);
CREATE TABLE builds_100 PARTITION OF builds FOR VALUES IN (100);
CREATE TABLE builds_101 PARTITION OF builds FOR VALUES IN (101);
CREATE TABLE build_notes (id serial PRIMARY KEY, build_id bigint NOT NULL, partition_id bigint NOT NULL,
                          FOREIGN KEY (build_id, partition_id) REFERENCES builds (id, partition_id));
CREATE TABLE events (id bigint PRIMARY KEY, at date) PARTITION BY RANGE (id);
CREATE TABLE events_lo PARTITION OF events FOR VALUES FROM (0) TO (1000);
CREATE TABLE events_hi PARTITION OF events FOR VALUES FROM (1000) TO (2000);
CREATE TABLE event_refs (id serial PRIMARY KEY, ev bigint REFERENCES events (id));
CREATE TABLE hashed (id integer PRIMARY KEY) PARTITION BY HASH (id);
CREATE TABLE hashed_0 PARTITION OF hashed FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE hashed_1 PARTITION OF hashed FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE animal (id serial PRIMARY KEY, name text);
CREATE TABLE dog (breed text) INHERITS (animal);
CREATE TABLE puppy (age int) INHERITS (dog);
INSERT INTO builds SELECT i, 100 + i % 2, 'b' || i FROM generate_series(1, 40) i;
INSERT INTO build_notes (build_id, partition_id) SELECT i, 100 + i % 2 FROM generate_series(1, 40) i;
INSERT INTO events SELECT i * 50, date '2024-01-01' + i FROM generate_series(1, 39) i;
INSERT INTO event_refs (ev) SELECT i * 50 FROM generate_series(1, 39) i;
INSERT INTO hashed SELECT generate_series(1, 30);
INSERT INTO animal (name) SELECT 'a' || i FROM generate_series(1, 20) i;
INSERT INTO dog (name, breed) SELECT 'd' || i, 'x' FROM generate_series(1, 20) i;
INSERT INTO puppy (name, breed, age) SELECT 'p' || i, 'y', 1 FROM generate_series(1, 5) i;
"""


def _rules(tmp_path, doc, name="r.json"):
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


@pytest.fixture(scope="module")
def pg_parts(pg_server):
    db = pg_server.createdb("keys_parts_src")
    pg_server.psql(db, PG_SCHEMA)
    yield db
    pg_server.dropdb(db)


def _ids(pg, db, sql):
    return set(pg.psql(db, sql).split())


def test_pg_partition_keys_stay_and_the_dump_restores(pg_server, pg_parts, dm, tmp_path):
    pg = pg_server
    src = tmp_path / "in.sql"
    src.write_bytes(pg.dump(pg_parts))
    audit = tmp_path / "a.json"
    cp = dm("-c", _rules(tmp_path, ON), "--audit", audit, src)
    assert cp.returncode == 0, cp.stderr.decode()
    err = cp.stderr.decode()
    for col in ("public.builds.partition_id", "public.events.id", "public.hashed.id"):
        assert f"{col} is in a partition key" in err, err
    assert "public.build_notes.partition_id" in err and "public.event_refs.ev" in err
    doc = json.loads(audit.read_text())
    blocked = {p["column"] for p in doc["identifierRemapping"]["partition_keys"]}
    assert blocked == {"public.builds.partition_id", "public.events.id", "public.hashed.id"}
    db = pg.createdb("keys_parts_dst")
    try:
        pg.restore(db, cp.stdout)   # every row fits its partition
        q = {
            "builds.partition_id": "select partition_id from builds",
            "events": "select id from events",
            "event_refs": "select ev from event_refs",
            "hashed": "select id from hashed",
        }
        for what, sql in q.items():
            assert _ids(pg, db, sql) == _ids(pg, pg_parts, sql), what
        # the other key columns are remapped, and the composite FK still joins
        assert not _ids(pg, db, "select id from builds") & _ids(pg, pg_parts, "select id from builds")
        assert pg.scalar(db, "select count(*) from build_notes n join builds b on b.id = n.build_id "
                             "and b.partition_id = n.partition_id") == "40"
        # inheritance: every child's copy of animal.id is remapped in the parent's domain
        src_ids = _ids(pg, pg_parts, "select id from animal")  # parent + children rows
        dst_ids = _ids(pg, db, "select id from animal")
        assert len(dst_ids) == len(src_ids) == 45 and not src_ids & dst_ids
        assert not _ids(pg, db, "select id from only dog") & _ids(pg, pg_parts, "select id from only dog")
        assert not _ids(pg, db, "select id from puppy") & _ids(pg, pg_parts, "select id from puppy")
        # new rows through the shared sequence do not collide with remapped ids
        pg.psql(db, "insert into dog (name, breed) values ('new', 'z'); insert into animal (name) values ('new')")
    finally:
        pg.dropdb(db)
    strict = dm("--strict", "-c", _rules(tmp_path, ON), src)
    assert strict.returncode == 1 and strict.stdout.strip() == POISON.strip()
    assert b"partition key" in strict.stderr
    # an explicit keep on the partition key columns accepts it
    keep = {"options": {"identifierRemapping": {"enabled": True}}, "tables": [
        {"tableName": "builds", "columnMutations": [{"column": "partition_id", "mutation": "keep"}]},
        {"tableName": "events", "columnMutations": [{"column": "id", "mutation": "keep"}]},
        {"tableName": "hashed", "columnMutations": [{"column": "id", "mutation": "keep"}]}]}
    ok = dm("--strict", "-c", _rules(tmp_path, keep, "k.json"), src)
    assert ok.returncode == 0, ok.stderr.decode()
    assert b"partition key" not in ok.stderr


def test_pg_partition_key_with_quoted_names(pg_server, dm, tmp_path):
    # needs quoted identifiers in ALTER TABLE (ATTACH PARTITION, ADD CONSTRAINT) read right
    pg = pg_server
    src_db = pg.createdb("keys_parts_quoted")
    try:
        pg.psql(src_db, 'CREATE TABLE "Events" ("Id" bigint PRIMARY KEY, at date) PARTITION BY RANGE ("Id");'
                        'CREATE TABLE "Events lo" PARTITION OF "Events" FOR VALUES FROM (0) TO (1000);'
                        'CREATE TABLE "Events hi" PARTITION OF "Events" FOR VALUES FROM (1000) TO (2000);'
                        'INSERT INTO "Events" SELECT i * 50, null FROM generate_series(1, 39) i;'
                        'CREATE TABLE plain (id int PRIMARY KEY); INSERT INTO plain SELECT generate_series(1, 9);')
        src = tmp_path / "in.sql"
        src.write_bytes(pg.dump(src_db))
        cp = dm("-c", _rules(tmp_path, ON), src)
        assert cp.returncode == 0, cp.stderr.decode()
        assert "public.Events.Id is in a partition key" in cp.stderr.decode()
        db = pg.createdb("keys_parts_quoted_dst")
        try:
            pg.restore(db, cp.stdout)
        finally:
            pg.dropdb(db)
    finally:
        pg.dropdb(src_db)


MY_SCHEMA = """
CREATE TABLE m_events (id int NOT NULL AUTO_INCREMENT, at date, PRIMARY KEY (id))
  PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (1000), PARTITION p1 VALUES LESS THAN (2000));
CREATE TABLE m_hash (id int NOT NULL, v varchar(10), PRIMARY KEY (id)) PARTITION BY HASH (id) PARTITIONS 3;
CREATE TABLE m_key (id int NOT NULL, PRIMARY KEY (id)) PARTITION BY KEY () PARTITIONS 2;
CREATE TABLE m_plain (id int NOT NULL AUTO_INCREMENT, PRIMARY KEY (id));
INSERT INTO m_events (id, at) SELECT seq * 40, '2024-01-01' FROM seq_1_to_45;
INSERT INTO m_hash SELECT seq, 'v' FROM seq_1_to_30;
INSERT INTO m_key SELECT seq FROM seq_1_to_30;
INSERT INTO m_plain SELECT seq FROM seq_1_to_30;
"""


def test_mysql_partition_keys_stay_and_the_dump_restores(my_server, dm, tmp_path):
    my = my_server
    src_db = my.create("keys_parts_src")
    try:
        my.sql(src_db, MY_SCHEMA)
        dump = my.dump(src_db)
        assert b"PARTITION BY RANGE" in dump
        src = tmp_path / "in.sql"
        src.write_bytes(dump)
        cp = dm("-c", _rules(tmp_path, ON), src)
        assert cp.returncode == 0, cp.stderr.decode()
        err = cp.stderr.decode()
        for t in ("m_events", "m_hash", "m_key"):
            assert f"{src_db}.{t}.id is in a partition key" in err or f"{t}.id is in a partition key" in err, err
        piped = dm("-c", _rules(tmp_path, ON), input=dump)
        assert piped.returncode == 0 and piped.stdout == cp.stdout
        db = my.create("keys_parts_dst")
        try:
            my.restore(db, cp.stdout)
            for t in ("m_events", "m_hash", "m_key"):
                assert my.sql(db, f"SELECT id FROM {t} ORDER BY id") == my.sql(src_db, f"SELECT id FROM {t} ORDER BY id"), t
            assert not set(my.sql(db, "SELECT id FROM m_plain").split()) & set(my.sql(src_db, "SELECT id FROM m_plain").split())
        finally:
            my.drop(db)
        strict = dm("--strict", "-c", _rules(tmp_path, ON), src)
        assert strict.returncode == 1 and b"partition key" in strict.stderr
    finally:
        my.drop(src_db)


def test_pg_quoted_table_names_are_never_half_remapped(pg_server, dm, tmp_path):
    # the Prisma / EF shape: quoted mixed-case tables; pg_dump writes
    # ALTER TABLE ONLY public."Post" ADD CONSTRAINT ... : either every key is read and the
    # restore keeps every join, or the run stops before any output (never User.id remapped
    # and Post.authorId not)
    pg = pg_server
    src_db = pg.createdb("keys_quoted_src")
    try:
        pg.psql(src_db, 'CREATE TABLE "User" (id serial PRIMARY KEY, name text);'
                        'CREATE TABLE "Post" (id serial PRIMARY KEY, "authorId" int REFERENCES "User" (id));'
                        "INSERT INTO \"User\" (name) SELECT 'u' || i FROM generate_series(1, 20) i;"
                        'INSERT INTO "Post" ("authorId") SELECT 1 + i % 20 FROM generate_series(1, 50) i;')
        src = tmp_path / "in.sql"
        src.write_bytes(pg.dump(src_db))
        cp = dm("-c", _rules(tmp_path, ON), src)
        if cp.returncode != 0:
            assert cp.returncode == 1 and cp.stdout.strip() == POISON.strip(), cp.stderr.decode()
            return
        db = pg.createdb("keys_quoted_dst")
        try:
            pg.restore(db, cp.stdout)
            assert pg.scalar(db, 'SELECT count(*) FROM "Post" p JOIN "User" u ON u.id = p."authorId"') == "50"
            assert not _ids(pg, db, 'SELECT id FROM "User"') & _ids(pg, src_db, 'SELECT id FROM "User"')
        finally:
            pg.dropdb(db)
    finally:
        pg.dropdb(src_db)
