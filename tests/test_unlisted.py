"""options.unlisted: a column the rules do not name never flows to the copy in clear unless
the policy says keep (issue #14, "A complete-schema policy: new columns never leak")."""
from __future__ import annotations

import json
import subprocess

import pytest

from dumpmask.rules import load_rules, normal_type
from dumpmask.errors import RulesError

PG_SCHEMA = """
CREATE TABLE "Kunde Ü" (
    id integer PRIMARY KEY, email varchar(80), born date, seen timestamptz, score numeric(6,2),
    active boolean NOT NULL, prefs jsonb, code text UNIQUE, token uuid UNIQUE, note text, "Straße" text);
CREATE TABLE orders (id integer PRIMARY KEY, kunde_id integer REFERENCES "Kunde Ü"(id), memo text);
INSERT INTO "Kunde Ü" VALUES
  (1, 'anna@corp.example', '1980-02-03', '2020-01-01 10:00+00', 12.50, true, '{"tel": "555-0101"}', 'SECRET-A',
   '6f1c3b8e-0a52-4c47-9a7e-6d7b0d1c2e3f', E'tab\\there\\nnewline', 'Hauptstraße 1'),
  (2, 'bob@corp.example', '1990-05-06', '2021-02-02 11:00+00', 99.99, false, NULL, 'SECRET-B',
   '0d7b3f5e-1c2a-4e6b-8f9a-1b2c3d4e5f60', 'Ωμέγα 東京', NULL);
INSERT INTO orders VALUES (10, 1, 'ring Anna'), (11, 2, 'ring Bob');
"""

MY_SCHEMA = """
CREATE TABLE `Kunde Ü` (
    id int PRIMARY KEY, email varchar(80), born date, score decimal(6,2), active tinyint(1) NOT NULL,
    prefs json, code varchar(20) UNIQUE, note text, `Straße` text);
CREATE TABLE orders (id int PRIMARY KEY, kunde_id int, memo text,
    FOREIGN KEY (kunde_id) REFERENCES `Kunde Ü`(id));
INSERT INTO `Kunde Ü` VALUES
  (1, 'anna@corp.example', '1980-02-03', 12.50, 1, '{"tel": "555-0101"}', 'SECRET-A', 'tab\\there\\nnewline', 'Hauptstraße 1'),
  (2, 'bob@corp.example', '1990-05-06', 99.99, 0, NULL, 'SECRET-B', 'Ωμέγα 東京', NULL);
INSERT INTO orders VALUES (10, 1, 'ring Anna'), (11, 2, 'ring Bob');
"""

# values of columns the rules do not name: none may survive a "mask" run
SECRETS = ["anna@corp.example", "bob@corp.example", "1980-02-03", "12.50", "99.99", "555-0101", "SECRET-A",
           "SECRET-B", "6f1c3b8e-0a52-4c47-9a7e-6d7b0d1c2e3f", "Hauptstraße", "Ωμέγα", "ring Anna"]

def named_email(table='"Kunde Ü"') -> dict:
    """Rules that name one column (pg folds unquoted names: the mixed-case table is quoted)."""
    return {"tables": [{"tableName": table, "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]}


def rules_file(tmp_path, rules: dict, name="rules.json"):
    p = tmp_path / name
    p.write_text(json.dumps(rules, ensure_ascii=False))
    return p


def with_options(table='"Kunde Ü"', **opts) -> dict:
    return {**named_email(table), "options": opts}


# --------------------------------------------------------------------------- rules file
@pytest.mark.parametrize("opts, where, says", [
    ({"unlisted": "drop"}, "$.options.unlisted", "keep, fail, mask"),
    ({"unlisted": "fail", "typeDefaults": {"text": "redact"}}, "$.options.typeDefaults", 'only with "unlisted": "mask"'),
    ({"unlisted": "mask", "typeDefaults": {"text": "faker.bogus"}}, '$.options.typeDefaults["text"]', "unknown mutation"),
    ({"unlisted": "mask", "typeDefaults": {"text": "key"}}, '$.options.typeDefaults["text"]', "identifier remapping"),
    ({"unlisted": "mask", "typeDefaults": {"date": {"mutation": "faker.date", "options": {"preserveYaer": True}}}},
     '$.options.typeDefaults["date"]', "preserveYaer"),
    ({"unlisted": "mask", "typeDefaults": {"text": 5}}, '$.options.typeDefaults["text"]', "expected a mutation"),
])
def test_bad_policies_are_rules_errors(opts, where, says):
    with pytest.raises(RulesError) as e:
        load_rules("r.json", json.dumps({"options": opts}).encode())
    assert e.value.where.startswith(where) and says in str(e.value)


def test_policy_defaults_to_keep_and_defaults_are_parsed():
    assert load_rules("r.json", b'{"tables": []}').options["unlisted"] == "keep"
    rs = load_rules("r.json", json.dumps({"options": {"unlisted": "mask", "typeDefaults": {
        "VARCHAR": "redact", "Integer": {"mutation": "hash", "options": {"length": 16}}}}}).encode())
    assert set(rs.options["typeDefaults"]) == {"character varying", "integer"}


@pytest.mark.parametrize("a, b", [("VARCHAR(40)", "character varying"), ("int(11)", "integer"),
                                  ("int(10) unsigned", "INT"), ("timestamp(3) with time zone", "timestamptz"),
                                  ("numeric(10,2)", "decimal"), ("varchar(20)[]", "character varying[]"),
                                  ("timestamp without time zone", "timestamp")])
def test_type_names_fold(a, b):
    assert normal_type(a) == normal_type(b)


# --------------------------------------------------------------------------- fail
def test_fail_on_a_file_stops_before_any_output(tmp_path, dm, pg_server):
    db = pg_server.createdb("unlisted_fail")
    pg_server.psql(db, PG_SCHEMA)
    dump = tmp_path / "in.sql"
    dump.write_bytes(pg_server.dump(db))
    r = dm("-c", rules_file(tmp_path, with_options(unlisted="fail")), dump)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "public.Kunde Ü (id, born, seen, score, active, prefs, code, token, note, Straße)" in err
    assert "public.orders (id, kunde_id, memo)" in err
    assert "Traceback" not in err and not any(s in err for s in SECRETS)
    assert b"COPY " not in r.stdout and b"DUMPMASK_ABORTED" in r.stdout
    # every column named (keep counts, remapping counts for keys): the same dump passes
    named = {"options": {"unlisted": "fail", "identifierRemapping": True}, "tables": [
        {"tableName": '"Kunde Ü"', "columnMutations": [
            {"column": c, "mutation": "keep"} for c in ("born", "seen", "score", "active", "prefs", "code", "token",
                                                        "note", "Straße")] + [
            {"column": "email", "mutation": "faker.email"}]},
        {"tableName": "orders", "columnMutations": [{"column": "memo", "mutation": "redact"}]}]}
    r = dm("-c", rules_file(tmp_path, named, "named.json"), dump)
    assert r.returncode == 0, r.stderr.decode()


def test_fail_on_a_pipe_stops_before_that_tables_data(tmp_path, dm):
    dump = ("CREATE TABLE public.a (id integer, x text);\nCREATE TABLE public.b (id integer, y text);\n"
            "COPY public.a (id, x) FROM stdin;\n1\tfine\n\\.\nCOPY public.b (id, y) FROM stdin;\n2\tleak-me\n\\.\n")
    rules = {"options": {"unlisted": "fail"}, "tables": [{"tableName": "a", "columnMutations": [
        {"column": "id", "mutation": "keep"}, {"column": "x", "mutation": "redact"}]}]}
    r = dm("-c", rules_file(tmp_path, rules), input=dump.encode())
    assert r.returncode == 1
    assert b"1\t*****" in r.stdout and b"leak-me" not in r.stdout and b"COPY public.b" not in r.stdout
    assert b"DUMPMASK_ABORTED" in r.stdout
    assert "public.b (id, y)" in r.stderr.decode()


# --------------------------------------------------------------------------- mask
def _check_masked(text: str, audit: dict, policy_columns: set):
    for s in SECRETS:
        assert s not in text, f"{s!r} survived"
    rec = audit["unlisted"]
    assert rec["policy"] == "mask"
    done = {(c["table"].split(".")[-1].strip('"`'), c["column"]): c for c in rec["columns"]}
    assert policy_columns <= set(done), policy_columns - set(done)
    # keys are not given value defaults: remapping is off, so they pass and the audit says why
    assert done[("Kunde Ü", "id")]["mutation"] == "keep" and "key column" in done[("Kunde Ü", "id")]["why"]
    assert done[("orders", "kunde_id")]["mutation"] == "keep"
    return done


def test_mask_policy_restores_and_leaves_no_original_value_pg(tmp_path, dm, pg_server):
    db = pg_server.createdb("unlisted_src")
    pg_server.psql(db, PG_SCHEMA)
    dump = tmp_path / "in.sql"
    dump.write_bytes(pg_server.dump(db))
    rules = with_options(unlisted="mask", typeDefaults={
        "jsonb": "null", "timestamptz": {"mutation": "faker.dateTime", "options": {"preserveYear": True}}})
    r = dm("-c", rules_file(tmp_path, rules), dump, "--audit", tmp_path / "a.json")
    assert r.returncode == 0, r.stderr.decode()
    audit = json.loads((tmp_path / "a.json").read_text())
    done = _check_masked(r.stdout.decode(), audit, {("Kunde Ü", c) for c in ("born", "score", "code", "token", "note")})
    assert done[("Kunde Ü", "code")]["mutation"] == "hash"      # UNIQUE: distinct stays distinct
    assert done[("Kunde Ü", "token")]["mutation"] == "hash"
    assert done[("Kunde Ü", "prefs")]["why"] == '$.options.typeDefaults["jsonb"]'
    assert done[("Kunde Ü", "seen")]["mutation"] == "faker.dateTime"
    assert done[("Kunde Ü", "born")]["mutation"] == "redact"
    cols = audit["tables"]["public.Kunde Ü"]["columns"]
    assert cols["score"]["changed"] == 2 and cols["prefs"]["nulls"] == 2
    out = pg_server.createdb("unlisted_out")
    pg_server.restore(out, r.stdout)
    assert pg_server.scalar(out, 'SELECT count(*) FROM orders o JOIN "Kunde Ü" k ON k.id = o.kunde_id') == "2"
    assert pg_server.scalar(out, 'SELECT count(DISTINCT code) FROM "Kunde Ü"') == "2"
    assert pg_server.scalar(out, "SELECT string_agg(extract(year FROM seen)::text, ',' ORDER BY id) "
                                 'FROM "Kunde Ü"') == "2020,2021"


def test_mask_policy_restores_and_leaves_no_original_value_mysql(tmp_path, dm, my_server):
    db = my_server.create("unlisted_src")
    my_server.sql(db, MY_SCHEMA)
    dump = tmp_path / "in.sql"
    dump.write_bytes(my_server.dump(db))
    rules = with_options("Kunde Ü", unlisted="mask", typeDefaults={"json": "null"})
    r = dm("-c", rules_file(tmp_path, rules), dump, "--audit", tmp_path / "a.json")
    assert r.returncode == 0, r.stderr.decode()
    audit = json.loads((tmp_path / "a.json").read_text())
    _check_masked(r.stdout.decode(), audit, {("Kunde Ü", c) for c in ("born", "score", "code", "note", "prefs")})
    out = my_server.create("unlisted_out")
    my_server.restore(out, r.stdout)
    assert my_server.scalar(out, "SELECT count(*) FROM orders o JOIN `Kunde Ü` k ON k.id = o.kunde_id") == "2"
    assert my_server.scalar(out, "SELECT count(DISTINCT code) FROM `Kunde Ü`") == "2"


def test_a_type_without_a_restorable_default_stops_the_run(tmp_path, dm):
    dump = ("CREATE TABLE public.t (id integer, spot point);\n"
            "COPY public.t (id, spot) FROM stdin;\n1\t(1,2)\n\\.\n")
    r = dm("-c", rules_file(tmp_path, {"options": {"unlisted": "mask", "typeDefaults": {"integer": "keep"}}}),
           input=dump.encode())
    assert r.returncode == 2, r.stderr.decode()
    err = r.stderr.decode()
    assert "public.t.spot" in err and "typeDefaults" in err and "Traceback" not in err and "(1,2)" not in err
    assert b"(1,2)" not in r.stdout


@pytest.mark.parametrize("fmt", ["c", "d"])
def test_policies_on_archives(tmp_path, dm, pg_server, fmt):
    db = pg_server.createdb("unlisted_arch")
    pg_server.psql(db, PG_SCHEMA)
    arch = tmp_path / "in.dump"
    subprocess.run([pg_server.bin("pg_dump"), f"-F{fmt}", "-f", str(arch), "-d", db], env=pg_server.env, check=True)
    out = tmp_path / "out.dump"
    r = dm("-c", rules_file(tmp_path, with_options(unlisted="fail")), arch, "-o", out)
    assert r.returncode == 1 and "public.orders (id, kunde_id, memo)" in r.stderr.decode()
    assert not out.exists()
    rules = with_options(unlisted="mask", typeDefaults={"jsonb": "null", "timestamptz": "faker.dateTime"})
    r = dm("-c", rules_file(tmp_path, rules, "mask.json"), arch, "-o", out)
    assert r.returncode == 0, r.stderr.decode()
    plain = subprocess.run([pg_server.bin("pg_restore"), "-f", "-", str(out)], env=pg_server.env, check=True,
                           capture_output=True).stdout.decode()
    assert "COPY public.orders" in plain
    for s in SECRETS:
        assert s not in plain, f"{s!r} survived"
    restored = pg_server.createdb("unlisted_arch_out")
    subprocess.run([pg_server.bin("pg_restore"), "--exit-on-error", "-d", restored, str(out)], env=pg_server.env,
                   check=True, capture_output=True)
    assert pg_server.scalar(restored, 'SELECT count(*) FROM orders o JOIN "Kunde Ü" k ON k.id = o.kunde_id') == "2"
