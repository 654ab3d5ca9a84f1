"""Rules that follow the data (issue #14) on Pagila and Sakila: a complete-schema policy that
masks every unnamed column, row conditions and a k-anonymity report, restored into the real
servers with every constraint on, joins checked, and the PDF read back."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from conftest import unavailable

pytestmark = pytest.mark.servers


def pdf_text(path) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        unavailable("pdftotext (poppler-utils) not installed")
    return subprocess.run([exe, "-layout", str(path), "-"], capture_output=True, check=True).stdout.decode()


PAGILA_RULES = {
    "options": {"unlisted": "mask",
                "typeDefaults": {"tsvector": "keep", "bytea": "null", "jsonb": "null"},
                "kAnonymity": {"quasiIdentifiers": {"address": ["district", "postal_code"]}, "k": 2,
                               "action": "report"}},
    "tables": [
        {"tableName": "customer", "columnMutations": [
            {"column": "email", "mutation": "faker.email", "where": {"active": 1}},
            {"column": "last_name", "mutation": "faker.lastName", "where": {"store_id": 1}}]},
        {"tableName": "address", "columnMutations": [
            {"column": "postal_code", "mutation": "generalize.prefix", "options": {"length": 2}},
            {"column": "district", "mutation": "keep"}]},
        {"tableName": "rental", "columnMutations": [{"column": "rental_date", "mutation": "keep"}]},
        {"tableName": "store", "columnMutations": [{"column": "manager_staff_id", "mutation": "key"}]},
    ]}


def test_pagila(tmp_path, dm, pg_server, pagila_db, datasets):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps(PAGILA_RULES))
    r = dm("-c", rules, datasets / "pagila" / "pg_dump-copy.sql", "--audit", tmp_path / "a.json",
           "--report", tmp_path / "r.pdf")
    assert r.returncode == 0, r.stderr.decode()
    audit = json.loads((tmp_path / "a.json").read_text())
    out = pg_server.createdb("datarules_pagila")
    pg_server.restore(out, r.stdout)
    src = pagila_db
    q = pg_server.scalar
    # row conditions: exactly the rows SQL selects were changed
    for col, cond in (("email", "active = 1"), ("last_name", "store_id = 1")):
        want = int(q(src, f"SELECT count(*) FROM customer WHERE {cond}"))
        cols = audit["tables"]["public.customer"]["columns"][col]
        assert cols["rows_matched"] == want and 0 < cols["changed"] <= want
    kept_emails = set(pg_server.psql(src, "SELECT email FROM customer WHERE active = 0").split())
    assert kept_emails and kept_emails <= set(pg_server.psql(out, "SELECT email FROM customer").split())
    assert not set(pg_server.psql(src, "SELECT email FROM customer WHERE active = 1").split()) & \
        set(pg_server.psql(out, "SELECT email FROM customer").split())
    # the policy: unnamed columns masked, keys kept, so every join holds
    joins = ("SELECT count(*) FROM payment p JOIN rental r USING (rental_id) JOIN customer c "
             "ON c.customer_id = p.customer_id JOIN address a ON a.address_id = c.address_id")
    assert q(out, joins) == q(src, joins) != "0"
    assert q(out, "SELECT count(DISTINCT title) FROM film") == "1"          # redact: one value
    assert q(out, "SELECT count(*) FROM film WHERE title = (SELECT title FROM film LIMIT 1)") == q(src, "SELECT count(*) FROM film")
    assert not set(pg_server.psql(src, "SELECT phone FROM address WHERE phone <> ''").split()) & \
        set(pg_server.psql(out, "SELECT phone FROM address").split())
    done = {(c["table"], c["column"]): c for c in audit["unlisted"]["columns"]}
    assert done[("public.film", "title")]["mutation"] == "redact"
    assert done[("public.customer", "customer_id")]["mutation"] == "keep"
    # k-anonymity report: the figures are the server's over the copy
    sizes = [int(x) for x in pg_server.psql(out, "SELECT count(*) FROM address GROUP BY district, postal_code").split()]
    t = audit["kAnonymity"]["tables"]["public.address"]
    assert t["achieved_k"] == min(sizes) and t["classes"] == len(sizes)
    text = pdf_text(tmp_path / "r.pdf")
    assert "Rules that follow the data" in text and "policy mask" in text
    assert "Row conditions (2)" in text and "k-anonymity (k = 2, action report)" in text


SAKILA_RULES = {
    "options": {"unlisted": "mask", "typeDefaults": {"blob": "null", "json": "null", "geometry": "keep"}},
    "tables": [
        {"tableName": "customer", "columnMutations": [
            {"column": "email", "mutation": "faker.email", "where": {"store_id": 2}}]},
        {"tableName": "rental", "columnMutations": [{"column": "rental_date", "mutation": "keep"}]},
    ]}


def test_sakila(tmp_path, dm, my_server, sakila_db, datasets):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps(SAKILA_RULES))
    r = dm("-c", rules, datasets / "sakila" / "mariadb-dump-default.sql", "--audit", tmp_path / "a.json")
    assert r.returncode == 0, r.stderr.decode()
    audit = json.loads((tmp_path / "a.json").read_text())
    out = my_server.create("datarules_sakila")
    my_server.restore(out, r.stdout.replace(b"USE `sakila`", b"USE `datarules_sakila`"))
    q = my_server.scalar
    want = int(q(sakila_db, "SELECT count(*) FROM customer WHERE store_id = 2"))
    assert audit["tables"]["customer"]["columns"]["email"]["rows_matched"] == want
    joins = ("SELECT count(*) FROM payment p JOIN rental r USING (rental_id) JOIN customer c "
             "ON c.customer_id = p.customer_id JOIN address a ON a.address_id = c.address_id")
    assert q(out, joins) == q(sakila_db, joins) != "0"
    assert q(out, "SELECT count(DISTINCT title) FROM film") == "1"
    assert {c["mutation"] for c in audit["unlisted"]["columns"]} >= {"redact", "keep"}
