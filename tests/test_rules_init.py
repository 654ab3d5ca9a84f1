"""`dumpmask rules init` writes a complete rules file; `dumpmask rules diff` lists the columns a
schema migration added (exit 1) and the rules it made stale (issue #14, complete-schema policy)."""
from __future__ import annotations

import json

import pytest

from schemagen import mysql_schema, postgres_schema

pytestmark = pytest.mark.servers


def _init(dm, tmp_path, dump, name="rules.json"):
    out = tmp_path / name
    r = dm("rules", "init", dump, "-o", out)
    assert r.returncode == 0, r.stderr.decode()
    return out, json.loads(out.read_text())


def _named(doc) -> set:
    return {(t["tableName"], c["column"]) for t in doc["tables"] for c in t["columnMutations"]}


def test_init_then_a_migration_pg(tmp_path, dm, pg_server):
    gen = postgres_schema(seed=5, groups=4)
    db = pg_server.createdb("rules_init")
    pg_server.psql(db, gen.sql)
    dump = tmp_path / "v1.sql"
    dump.write_bytes(pg_server.dump(db))
    rules, doc = _init(dm, tmp_path, dump)
    assert doc["options"]["unlisted"] == "fail"
    assert any(c["mutation"] == "keep" for t in doc["tables"] for c in t["columnMutations"])
    # complete: the run the file is for passes the policy, masks what detection found, restores
    r = dm("-c", rules, dump)
    assert r.returncode == 0, r.stderr.decode()
    text = r.stdout.decode()
    assert not [s for s in gen.sensitive if s in text]
    out = pg_server.createdb("rules_init_out")
    pg_server.restore(out, r.stdout)
    r = dm("rules", "diff", rules, dump)
    assert r.returncode == 0 and r.stdout == b"", (r.stdout, r.stderr)

    # a migration: a new column with personal data, a column dropped
    entry = next(t for t in doc["tables"] if t["tableName"] == "customers")
    dropped = next(c["column"] for c in entry["columnMutations"] if c["mutation"] == "keep"
                   and "a key" not in c.get("description", ""))
    pg_server.psql(db, "ALTER TABLE public.customers ADD COLUMN \"Privat Notiz\" text DEFAULT 'ruf mich an';"
                       f"ALTER TABLE public.customers DROP COLUMN {dropped} CASCADE;")
    dump2 = tmp_path / "v2.sql"
    dump2.write_bytes(pg_server.dump(db))
    r = dm("rules", "diff", rules, dump2, "--json")
    assert r.returncode == 1, r.stderr.decode()
    result = json.loads(r.stdout)
    assert [(a["table"], a["column"]) for a in result["added"]] == [("public.customers", "Privat Notiz")]
    assert [(x["table"], x["column"]) for x in result["removed"]] == [("customers", dropped)]
    r = dm("-c", rules, dump2)
    assert r.returncode == 1 and "Privat Notiz" in r.stderr.decode()
    assert b"ruf mich an" not in r.stdout


def test_init_mysql_restores(tmp_path, dm, my_server):
    gen = mysql_schema(seed=3, groups=3)
    db = my_server.create("rules_init")
    my_server.sql(db, gen.sql)
    dump = tmp_path / "v1.sql"
    dump.write_bytes(my_server.dump(db))
    rules, doc = _init(dm, tmp_path, dump)
    r = dm("-c", rules, dump)
    assert r.returncode == 0, r.stderr.decode()
    assert not [s for s in gen.sensitive if s in r.stdout.decode()]
    out = my_server.create("rules_init_out")
    my_server.restore(out, r.stdout)
    r = dm("rules", "diff", rules, dump)
    assert r.returncode == 0, r.stdout.decode()


def test_init_to_stdout_and_the_single_table_seed_format(tmp_path, dm):
    dump = tmp_path / "d.sql"
    dump.write_bytes(b"CREATE TABLE public.t (id integer, email text, note text);\n"
                     b"COPY public.t (id, email, note) FROM stdin;\n1\tann@corp.example\thello\n\\.\n")
    r = dm("rules", "init", dump)
    assert r.returncode == 0, r.stderr.decode()
    doc = json.loads(r.stdout)
    assert _named(doc) == {("t", "id"), ("t", "email"), ("t", "note")}
    seed = tmp_path / "seed.json"     # one table object, no "tables" list
    seed.write_text(json.dumps(doc["tables"][0]))
    r = dm("-c", seed, dump)
    assert r.returncode == 0, r.stderr.decode()
    assert b"ann@corp.example" not in r.stdout and b"hello" in r.stdout
