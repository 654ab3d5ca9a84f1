"""--strict (fail closed on detected, uncovered personal data) and --template while masking."""
from __future__ import annotations

import json
from pathlib import Path

import pytest


UNCOVERED = ["actor.first_name", "actor.last_name", "address.address2", "address.district", "city.city",
             "staff.picture"]
ACTOR_ROW1 = b"1\tPENELOPE\tGUINESS\t"


@pytest.fixture
def pagila(dataset) -> Path:
    return dataset("pagila/pg_dump-copy.sql")


@pytest.fixture
def pii(shared_rule) -> Path:
    return shared_rule("pagila-pii.json")


def rules_with(pii: Path, tmp_path, extra: dict) -> Path:
    doc = json.loads(pii.read_bytes())
    for t in doc["tables"]:
        t["columnMutations"] += extra.pop(t["tableName"], [])
    for table, cms in extra.items():
        doc["tables"].append({"tableName": table, "columnMutations": cms})
    p = tmp_path / "rules.json"
    p.write_text(json.dumps(doc))
    return p


def keep(*cols):
    return [{"column": c, "mutation": "keep"} for c in cols]


def test_strict_fails_before_data_and_lists_every_uncovered_column(dm, pagila, pii):
    cp = dm("-q", "--strict", "-c", pii, pagila)
    assert cp.returncode == 1
    err = cp.stderr.decode()
    for col in UNCOVERED:
        assert f"public.{col}:" in err, col
    assert '"tableName":"city"' in err and '"mutation":"faker.city"' in err  # the snippet to paste
    # a file input: detection runs first, so not one row of data was written
    assert ACTOR_ROW1 not in cp.stdout
    assert b"FROM stdin;\n" not in cp.stdout
    assert b"DUMPMASK_ABORTED" in cp.stdout


def test_strict_on_a_pipe_fails_before_the_uncovered_tables_data(dm, pagila, pii):
    cp = dm("-q", "--strict", "-c", pii, input=pagila.read_bytes())
    assert cp.returncode == 1
    err = cp.stderr.decode()
    assert "public.actor.first_name" in err and "public.address.address2" in err
    assert ACTOR_ROW1 not in cp.stdout
    assert b"read from a pipe" in cp.stderr  # says what a pipe run could look at


def test_strict_passes_with_keep_rules_and_audits_them(dm, pagila, pii, tmp_path):
    rules = rules_with(pii, tmp_path, {"actor": keep("first_name", "last_name"), "address": keep("address2", "district"),
                                  "city": keep("city"), "staff": keep("picture")})
    audit = tmp_path / "a.json"
    cp = dm("-q", "--strict", "-c", rules, "--audit", audit, pagila)
    assert cp.returncode == 0, cp.stderr.decode()
    assert ACTOR_ROW1 in cp.stdout
    a = json.loads(audit.read_bytes())
    kept = {(d["table"], d["column"]): d for d in a["detected_uncovered"]}
    assert set(kept) == {("public." + c.split(".")[0], c.split(".")[1]) for c in UNCOVERED}
    assert all(d["decision"] == "keep" for d in kept.values())
    assert kept[("public.city", "city")]["category"] == "HIPAA-2 geographic"
    assert a["tables"]["public.customer"]["columns"]["email"]["category"] == "HIPAA-6 email"


def test_strict_with_one_missing_column_names_only_it(dm, pagila, pii, tmp_path):
    rules = rules_with(pii, tmp_path, {"actor": keep("first_name", "last_name"), "address": keep("address2", "district"),
                                  "staff": keep("picture")})
    cp = dm("-q", "--strict", "-c", rules, pagila)
    assert cp.returncode == 1
    err = cp.stderr.decode()
    assert "public.city.city:" in err and "1 column(s)" in err
    assert b"\nCOPY public.city " not in cp.stdout


def test_template_fills_uncovered_columns_and_explicit_rules_win(dm, pagila, pii, tmp_path):
    rules = rules_with(pii, tmp_path, {"city": keep("city")})
    audit = tmp_path / "a.json"
    cp = dm("-q", "--strict", "--template", "hipaa", "-c", rules, "--audit", audit, pagila)
    assert cp.returncode == 0, cp.stderr.decode()
    assert ACTOR_ROW1 not in cp.stdout          # actor names masked by the template
    assert b"\tLethbridge\t" in cp.stdout      # city.city kept: the explicit rule wins
    a = json.loads(audit.read_bytes())
    actor = a["tables"]["public.actor"]["columns"]
    assert actor["first_name"]["mutation"] == "faker.firstName"
    assert actor["first_name"]["category"] == "HIPAA-1 name"
    assert a["tables"]["public.staff"]["columns"]["picture"]["mutation"] == "null"
    assert {(d["table"], d["column"], d["decision"]) for d in a["detected_uncovered"]} == {("public.city", "city", "keep")}


def test_template_without_strict_audits_what_it_leaves(dm, pagila, tmp_path):
    audit = tmp_path / "a.json"
    cp = dm("-q", "--template", "pci", "--audit", audit, pagila)
    assert cp.returncode == 0, cp.stderr.decode()
    a = json.loads(audit.read_bytes())
    assert a["tables"]["public.staff"]["columns"]["password"]["mutation"] == "hash"
    unc = {(d["table"], d["column"]) for d in a["detected_uncovered"] if d["decision"] == "uncovered"}
    assert ("public.customer", "email") in unc and ("public.address", "phone") in unc
    assert b"MARY.SMITH@sakilacustomer.org" in cp.stdout  # not a PCI category: written as is


SYNTH = b"""--
-- PostgreSQL database dump
--
CREATE TABLE public.tickets (
    id integer NOT NULL,
    contact text,
    body text
);
COPY public.tickets (id, contact, body) FROM stdin;
1	ann.lee@example.org	printer broken
2	bob.ray@example.net	cannot log in
\\.
"""


def test_strict_uses_content_detection_on_a_file(dm, tmp_path):
    p = tmp_path / "t.sql"
    p.write_bytes(SYNTH)
    cp = dm("-q", "--strict", p)
    assert cp.returncode == 1
    assert b"public.tickets.contact: HIPAA-6 email (content 100%)" in cp.stderr
    assert b"ann.lee" not in cp.stdout
    # with the template the column is masked instead
    cp = dm("-q", "--strict", "--template", "gdpr", p)
    assert cp.returncode == 0, cp.stderr.decode()
    assert b"ann.lee@example.org" not in cp.stdout and b"printer broken" in cp.stdout


def _content_only_dump_pg() -> bytes:
    rows = "".join(f"{i}\tperson{i}.x@mail{i}.test\n" for i in range(1, 31))
    return ("-- PostgreSQL database dump\n"
            "CREATE TABLE public.things (id integer NOT NULL, info text);\n"
            "COPY public.things (id, info) FROM stdin;\n" + rows + "\\.\n").encode()


def _content_only_dump_my() -> bytes:
    rows = ",\n".join(f"({i},'person{i}.x@mail{i}.test')" for i in range(1, 31))
    return ("-- MariaDB dump 10.19\n"
            "CREATE TABLE `things` (\n  `id` int(11) NOT NULL,\n  `info` text DEFAULT NULL,\n  PRIMARY KEY (`id`)\n);\n"
            "INSERT INTO `things` VALUES " + rows + ";\n").encode()


@pytest.mark.parametrize("make", [_content_only_dump_pg, _content_only_dump_my], ids=["pg", "mysql"])
def test_strict_on_a_pipe_detects_by_content_before_the_table_data(dm, tmp_path, make):
    """A column whose name says nothing (`info`) but whose values are e-mails: on a pipe the
    first rows are held back, looked at, and the run fails before any of them is written."""
    rules = tmp_path / "r.json"
    rules.write_text('{"tables": []}')
    cp = dm("--strict", "-c", rules, "-q", input=make())
    assert cp.returncode == 1, cp.stderr.decode()
    err = cp.stderr.decode()
    assert "things.info" in err and "content" in err
    assert b"@mail1.test" not in cp.stdout and b"person" not in cp.stdout


@pytest.mark.parametrize("make", [_content_only_dump_pg, _content_only_dump_my], ids=["pg", "mysql"])
def test_strict_on_a_pipe_passes_when_the_content_column_is_kept(dm, tmp_path, make):
    rules = tmp_path / "r.json"
    rules.write_text('{"tables": [{"tableName": "things", "columnMutations": [{"column": "info", "mutation": "keep"}]}]}')
    cp = dm("--strict", "-c", rules, "-q", input=make())
    assert cp.returncode == 0, cp.stderr.decode()
    assert cp.stdout == make()
