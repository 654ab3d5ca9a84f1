"""Issue 11 / 17: identifier remapping never silently does nothing or half its work.

On the Pagila and Sakila dumps of the shared datasets (and small dumps built here):
  - the same key and input give the same bytes as a file, on a pipe with --schema, and on a
    pipe without it (MySQL; a PostgreSQL pipe without --schema is refused before output);
  - unknown keys (data-only dumps, a --schema file of another database) fail before output;
  - loose keys (store.manager_staff_id) are warned about, fail --strict, and link with a `key`
    rule or inferKeys;
  - `strategy` is honoured or rejected (exit 2); templates covering identifiers turn it on,
    and the audit says what the run did.
"""
from __future__ import annotations

import json
import re

import pytest

from dumpmask.engine import POISON

ON = {"options": {"identifierRemapping": {"enabled": True}}, "tables": []}


def rules(tmp_path, doc, name="r.json"):
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


@pytest.fixture(scope="module")
def pagila(datasets):
    return datasets / "pagila" / "pg_dump-copy.sql"


@pytest.fixture(scope="module")
def pagila_schema(datasets):
    return datasets / "pagila" / "pg_dump-schema-only.sql"


@pytest.fixture(scope="module")
def sakila(datasets):
    return datasets / "sakila" / "mariadb-dump-default.sql"


def only_poison(out: bytes) -> bool:
    return out.strip() == POISON.strip()


# ------------------------------------------------------------------ same bytes, every way in

def test_pagila_file_and_pipe_with_schema_give_the_same_bytes(dm, pagila, pagila_schema, tmp_path):
    r = rules(tmp_path, ON)
    f = dm("-q", "-c", r, pagila)
    assert f.returncode == 0, f.stderr.decode()
    p = dm("-q", "-c", r, "--schema", pagila_schema, input=pagila.read_bytes())
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout == f.stdout
    assert f.stdout != pagila.read_bytes()


def test_pagila_pipe_without_schema_refused_before_any_output(dm, pagila, tmp_path):
    p = dm("-c", rules(tmp_path, ON), input=pagila.read_bytes())
    assert p.returncode == 1
    assert only_poison(p.stdout)
    assert b"--schema" in p.stderr and b"pg_dump --schema-only" in p.stderr


def test_sakila_file_pipe_and_pipe_with_schema_give_the_same_bytes(dm, sakila, tmp_path):
    r = rules(tmp_path, ON)
    data = sakila.read_bytes()
    f = dm("-q", "-c", r, sakila)
    assert f.returncode == 0, f.stderr.decode()
    # mariadb-dump writes tables in name order: payment's data comes before rental's CREATE TABLE
    assert data.index(b"INSERT INTO `payment`") < data.index(b"CREATE TABLE `rental`")
    p = dm("-q", "-c", r, input=data)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout == f.stdout
    schema = tmp_path / "schema.sql"
    schema.write_bytes(re.sub(rb"(?m)^INSERT INTO .*\n", b"", data))
    s = dm("-q", "-c", r, "--schema", schema, input=data)
    assert s.returncode == 0, s.stderr.decode()
    assert s.stdout == f.stdout


def test_mysql_pipe_fails_closed_when_a_later_table_changes_an_earlier_key_range(dm, tmp_path):
    # child (written first) references parent by an int; parent's key turns out to be a
    # smallint: the pipe cannot have known, so it must fail, never write other ids than a file run
    d = (b"-- MariaDB dump 10.19\n"
         b"CREATE TABLE `a_child` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `p_id` int(11) DEFAULT NULL,\n"
         b"  PRIMARY KEY (`id`),\n  CONSTRAINT `fk` FOREIGN KEY (`p_id`) REFERENCES `b_parent` (`id`)\n) ENGINE=InnoDB;\n"
         b"INSERT INTO `a_child` VALUES (1,1),(2,2);\n"
         b"CREATE TABLE `b_parent` (\n  `id` smallint(6) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n"
         b"INSERT INTO `b_parent` VALUES (1),(2);\n")
    r = rules(tmp_path, ON)
    path = tmp_path / "in.sql"
    path.write_bytes(d)
    f = dm("-q", "-c", r, path)
    assert f.returncode == 0, f.stderr.decode()
    p = dm("-q", "-c", r, input=d)
    if p.returncode == 0:
        assert p.stdout == f.stdout
    else:
        assert p.returncode == 1 and b"--schema" in p.stderr and p.stdout.endswith(POISON)


# ------------------------------------------------------------------ unknown keys

def _pg_data_only(pagila) -> bytes:
    s = pagila.read_bytes()
    return b"--\n-- PostgreSQL database dump\n--\n\n" + b"\n".join(re.findall(rb"(?ms)^COPY .*?^\\\.\n", s))


def test_pg_data_only_file_fails_before_output_naming_tables(dm, pagila, tmp_path):
    p = tmp_path / "data.sql"
    p.write_bytes(_pg_data_only(pagila))
    cp = dm("-c", rules(tmp_path, ON), p)
    assert cp.returncode == 1
    assert only_poison(cp.stdout)
    err = cp.stderr.decode()
    assert "public.actor" in err and "--schema" in err and '"mutation": "key"' in err


def test_pg_data_only_with_its_schema_works_like_the_full_dump(dm, pagila, pagila_schema, tmp_path):
    r = rules(tmp_path, ON)
    cp = dm("-q", "-c", r, "--schema", pagila_schema, input=_pg_data_only(pagila))
    assert cp.returncode == 0, cp.stderr.decode()
    full = dm("-q", "-c", r, pagila).stdout
    # every remapped COPY block of the data-only run is the one of the full run
    for block in re.findall(rb"(?ms)^COPY .*?^\\\.\n", cp.stdout):
        assert block in full


def test_mysql_no_create_info_fails_before_output_as_file_and_on_pipe(dm, sakila, tmp_path):
    d = re.sub(rb"(?s)\nCREATE TABLE .*?;\n", b"\n", sakila.read_bytes())
    assert b"CREATE TABLE" not in d
    p = tmp_path / "data.sql"
    p.write_bytes(d)
    r = rules(tmp_path, ON)
    cp = dm("-c", r, p)
    assert cp.returncode == 1 and only_poison(cp.stdout)
    assert b"actor" in cp.stderr and b"--no-create-info" in cp.stderr
    piped = dm("-c", r, input=d)
    assert piped.returncode == 1 and piped.stdout.endswith(POISON)
    assert b"INSERT INTO `actor`" not in piped.stdout


def test_schema_file_of_another_database_is_an_error(dm, pagila, sakila, tmp_path):
    # a --schema file that does not describe the tables the data is for
    other = tmp_path / "other.sql"
    other.write_bytes(b"CREATE TABLE public.unrelated (\n    id integer NOT NULL\n);\n"
                      b"ALTER TABLE ONLY public.unrelated\n    ADD CONSTRAINT unrelated_pkey PRIMARY KEY (id);\n")
    cp = dm("-c", rules(tmp_path, ON), "--schema", other, input=_pg_data_only(pagila))
    assert cp.returncode == 1
    assert b"does not describe" in cp.stderr and b"public.actor" in cp.stderr
    assert b"COPY public.actor" not in cp.stdout
    # a --schema file with the same table names but other columns: refused at the CREATE TABLE
    cp = dm("-c", rules(tmp_path, ON), "--dialect", "postgres", "--schema", other,
            input=b"-- PostgreSQL database dump\nCREATE TABLE public.unrelated (\n    id bigint NOT NULL,\n    x text\n);\n"
                  b"COPY public.unrelated (id, x) FROM stdin;\n1\ta\n\\.\n")
    assert cp.returncode == 1 and b"differs from the --schema file" in cp.stderr
    assert b"1\ta" not in cp.stdout


def test_schema_file_with_no_key_is_an_error(dm, pagila, tmp_path):
    empty = tmp_path / "empty.sql"
    empty.write_bytes(b"-- PostgreSQL database dump\nSET client_encoding = 'UTF8';\n")
    cp = dm("-c", rules(tmp_path, ON), "--schema", empty, input=_pg_data_only(pagila))
    assert cp.returncode == 1 and only_poison(cp.stdout)
    assert b"declares no primary or foreign key" in cp.stderr


# ------------------------------------------------------------------ loose keys

LOOSE = "public.store.manager_staff_id -> public.staff.staff_id"


def _copy_rows(out: bytes, table: bytes):
    m = re.search(rb"(?ms)^COPY public\." + table + rb" \(([^)]*)\) FROM stdin;\n(.*?)^\\\.\n", out)
    cols = [c.strip() for c in m.group(1).decode().split(",")]
    return [dict(zip(cols, ln.split("\t"))) for ln in m.group(2).decode().splitlines()]


def test_loose_key_warns_with_the_rule_to_paste_and_fails_strict(dm, pagila, tmp_path):
    r = rules(tmp_path, ON)
    cp = dm("-c", r, pagila)
    assert cp.returncode == 0
    err = cp.stderr.decode()
    assert LOOSE in err and "warning" in err
    assert '{"column": "manager_staff_id", "mutation": "key", "options": {"domain": "staff.staff_id"}}' in err
    assert "inferKeys" in err
    p = tmp_path / "loose.sql"
    p.write_bytes(LOOSE_DUMP)
    st = dm("--strict", "-c", r, p)
    assert st.returncode == 1
    assert "public.posts.category_id -> public.categories.id" in st.stderr.decode() and only_poison(st.stdout)
    ok = dm("--strict", "-c", rules(tmp_path, {"options": {"identifierRemapping": {"enabled": True, "inferKeys": True}}}, "i.json"), p)
    assert ok.returncode == 0, ok.stderr.decode()


def test_loose_key_linked_by_key_rule_or_infer_keys(dm, pagila, tmp_path):
    by_rule = rules(tmp_path, {"options": {"identifierRemapping": {"enabled": True}}, "tables": [
        {"tableName": "store", "columnMutations": [
            {"column": "manager_staff_id", "mutation": "key", "options": {"domain": "staff.staff_id"}}]}]}, "a.json")
    infer = rules(tmp_path, {"options": {"identifierRemapping": {"enabled": True, "inferKeys": True}}, "tables": []}, "b.json")
    audit = tmp_path / "audit.json"
    a = dm("-c", by_rule, pagila)
    b = dm("-c", infer, "--audit", audit, pagila)
    assert a.returncode == 0 and b.returncode == 0
    assert LOOSE not in a.stderr.decode() and LOOSE not in b.stderr.decode()
    assert a.stdout == b.stdout
    staff = {r["staff_id"] for r in _copy_rows(b.stdout, b"staff")}
    stores = _copy_rows(b.stdout, b"store")
    assert stores and all(s["manager_staff_id"] in staff for s in stores)
    assert not staff & {"1", "2"}
    doc = json.loads(audit.read_text())
    inf = doc["identifierRemapping"]["inferred"]
    assert [i["column"] for i in inf] == ["public.store.manager_staff_id"]
    assert inf[0]["key"] == "public.staff.staff_id" and "no foreign key" in inf[0]["evidence"]
    assert doc["remapped"]["public.store.manager_staff_id"]["inferred"]["key"] == "public.staff.staff_id"


LOOSE_DUMP = (b"-- PostgreSQL database dump\n"
         b"CREATE TABLE public.categories (\n    id bigint NOT NULL,\n    name text\n);\n"
         b"CREATE TABLE public.people (\n    person_id integer NOT NULL\n);\n"
         b"CREATE TABLE public.posts (\n    id bigint NOT NULL,\n    category_id bigint,\n    \"authorPersonId\" integer,\n"
         b"    score_id smallint,\n    note text\n);\n"
         b"COPY public.categories (id, name) FROM stdin;\n1\ta\n2\tb\n\\.\n"
         b"COPY public.people (person_id) FROM stdin;\n7\n8\n\\.\n"
         b"COPY public.posts (id, category_id, \"authorPersonId\", score_id, note) FROM stdin;\n1\t2\t7\t1\tx\n2\t1\t8\t2\ty\n\\.\n"
         b"ALTER TABLE ONLY public.categories\n    ADD CONSTRAINT categories_pkey PRIMARY KEY (id);\n"
         b"ALTER TABLE ONLY public.people\n    ADD CONSTRAINT people_pkey PRIMARY KEY (person_id);\n"
         b"ALTER TABLE ONLY public.posts\n    ADD CONSTRAINT posts_pkey PRIMARY KEY (id);\n")


def test_loose_keys_generated_names_singular_and_camel_case(dm, tmp_path):
    p = tmp_path / "in.sql"
    p.write_bytes(LOOSE_DUMP)
    cp = dm("-c", rules(tmp_path, ON), p)
    err = cp.stderr.decode()
    assert cp.returncode == 0 and "2 columns" in err
    assert "public.posts.category_id -> public.categories.id" in err
    assert "public.posts.authorPersonId -> public.people.person_id" in err
    assert "score_id" not in err   # no table named score(s)
    inf = dm("-c", rules(tmp_path, {"options": {"identifierRemapping": {"enabled": True, "inferKeys": True}}}), p)
    assert inf.returncode == 0 and "categories" not in inf.stderr.decode()
    cats = [r["id"] for r in _copy_rows(inf.stdout, b"categories")]
    posts = _copy_rows(inf.stdout, b"posts")
    assert {r["category_id"] for r in posts} == set(cats) and not set(cats) & {"1", "2"}
    people = {r["person_id"] for r in _copy_rows(inf.stdout, b"people")}
    assert {r['"authorPersonId"'] for r in posts} == people


# ------------------------------------------------------------------ strategy

def test_strategy_uuid_for_integer_keys_is_exit_2_naming_the_rule(dm, pagila, tmp_path):
    r = rules(tmp_path, {"options": {"identifierRemapping": {"enabled": True, "strategy": "uuid"}}})
    cp = dm("-c", r, pagila)
    assert cp.returncode == 2
    assert b"$.options.identifierRemapping.strategy" in cp.stderr and b"public.customer.customer_id (integer)" in cp.stderr
    assert only_poison(cp.stdout)


def test_strategy_text_is_honoured_on_a_char36_key(dm, tmp_path):
    u = "0b9e5c8a-3f57-4d1c-9b0e-5f6a7b8c9d0e"
    d = (b"-- PostgreSQL database dump\n"
         b"CREATE TABLE public.t (\n    code character(36) NOT NULL,\n    note text\n);\n"
         b"COPY public.t (code, note) FROM stdin;\n" + u.encode() + b"\tx\n\\.\n"
         b"ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (code);\n")
    p = tmp_path / "in.sql"
    p.write_bytes(d)
    auto = dm("-q", "-c", rules(tmp_path, ON), p)
    text = dm("-q", "-c", rules(tmp_path, {"options": {"identifierRemapping": {"enabled": True, "strategy": "text"}}}, "t.json"), p)
    assert auto.returncode == 0 and text.returncode == 0
    a = _copy_rows(auto.stdout, b"t")[0]["code"]
    t = _copy_rows(text.stdout, b"t")[0]["code"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", a)
    # the text strategy keeps the shape (digits stay digits, letters letters), not the UUID's hex alphabet
    assert a != t and len(t) == 36 and re.sub(r"\d", "9", re.sub("[a-z]", "a", t)) == re.sub(r"\d", "9", re.sub("[a-z]", "a", u))
    rand = dm("-q", "-c", rules(tmp_path, {"options": {"identifierRemapping": {"enabled": True, "strategy": "randomInteger"}}}, "i.json"), p)
    assert rand.returncode == 2 and b"public.t.code" in rand.stderr


@pytest.mark.parametrize("bad", [{"strategy": "uuid"}, {"range": [1, 9]}, {"inferKeys": True}])
def test_table_level_remapping_options_are_rejected(dm, pagila, tmp_path, bad):
    r = rules(tmp_path, {"tables": [{"tableName": "customer", "identifierRemapping": {"enabled": True, **bad},
                                     "columnMutations": []}]})
    cp = dm("-c", r, pagila)
    assert cp.returncode == 2 and b"$.tables[0].identifierRemapping." in cp.stderr and cp.stdout == b""


@pytest.mark.parametrize("opts, where", [({"enabled": "yes"}, "enabled"), ({"inferKeys": 1}, "inferKeys"),
                                         ({"strategy": "uuid", "range": [1, 9]}, "range")])
def test_remapping_option_types_are_checked(dm, pagila, tmp_path, opts, where):
    cp = dm("-c", rules(tmp_path, {"options": {"identifierRemapping": opts}}), pagila)
    assert cp.returncode == 2 and f"$.options.identifierRemapping.{where}".encode() in cp.stderr


# ------------------------------------------------------------------ templates and the audit

@pytest.mark.parametrize("template, on", [("hipaa", True), ("gdpr", True), ("all", True), ("pci", False)])
def test_templates_covering_identifiers_turn_remapping_on(dm, pagila, tmp_path, template, on):
    audit = tmp_path / "a.json"
    cp = dm("-q", "--template", template, "--audit", audit, pagila)
    assert cp.returncode == 0, cp.stderr.decode()
    doc = json.loads(audit.read_text())
    assert doc["options"]["identifierRemapping"]["enabled"] is on
    ids = {r["actor_id"] for r in _copy_rows(cp.stdout, b"actor")}
    assert (not ids & {"1", "2", "3"}) is on
    if on:
        blk = doc["identifierRemapping"]
        assert blk["enabled"] is True and blk["requested_by"] == f"template:{template}" and blk["columns"] > 40
        # the template links the loose key the way it fills in mutations
        assert [i["column"] for i in blk["inferred"]] == ["public.store.manager_staff_id"]


def test_audit_enabled_says_what_the_run_did(dm, tmp_path):
    # enabled in the rules, but the only key is opted out: nothing was remapped
    d = (b"-- PostgreSQL database dump\nCREATE TABLE public.t (\n    id integer NOT NULL\n);\n"
         b"COPY public.t (id) FROM stdin;\n1\n\\.\n"
         b"ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n")
    p = tmp_path / "in.sql"
    p.write_bytes(d)
    audit = tmp_path / "a.json"
    r = rules(tmp_path, {"options": {"identifierRemapping": {"enabled": True}},
                         "tables": [{"tableName": "t", "columnMutations": [{"column": "id", "mutation": "keep"}]}]})
    cp = dm("-q", "-c", r, "--audit", audit, p)
    assert cp.returncode == 0, cp.stderr.decode()
    doc = json.loads(audit.read_text())
    assert doc["options"]["identifierRemapping"]["enabled"] is False
    assert doc["identifierRemapping"]["enabled"] is False and doc["identifierRemapping"]["columns"] == 0
