"""`dumpmask scan`: detection over whole dumps (name + bounded content sample), --json,
-c coverage, --template filtering, --write-rules."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import unavailable

from test_detect import (PAGILA_EXPECTED, PAGILA_FALSE_POSITIVES, SAKILA_EXPECTED,
                         SAKILA_FALSE_POSITIVES)

JSON_KEYS = {"table", "column", "type", "category", "evidence", "covered_by", "suggested"}


@pytest.fixture
def pagila(dataset) -> Path:
    return dataset("pagila/pg_dump-copy.sql")


@pytest.fixture
def rules(shared_rule) -> Path:
    return shared_rule("pagila-pii.json")


def need_mysql():
    try:
        import dumpmask.dialects.mysql  # noqa: F401
    except ImportError:
        unavailable("the MySQL adapter (dumpmask.dialects.mysql) is not there yet")


def scan_json(dm, *args) -> list[dict]:
    cp = dm("scan", "--json", *map(str, args))
    assert cp.returncode == 0, cp.stderr.decode()
    rows = json.loads(cp.stdout)
    assert isinstance(rows, list)
    for r in rows:
        assert JSON_KEYS <= set(r), r
    return rows


def found(rows) -> set[str]:
    return {f"{r['table'].split('.')[-1]}.{r['column']}" for r in rows}


@pytest.mark.parametrize("dump", ["pg_dump-copy.sql", "pg_dump-inserts.sql"])
def test_scan_finds_pagila_personal_columns(dm, dataset, dump):
    rows = scan_json(dm, dataset(f"pagila/{dump}"))
    assert found(rows) == PAGILA_EXPECTED | PAGILA_FALSE_POSITIVES
    assert all(r["table"].startswith("public.") for r in rows)


def test_scan_finds_sakila_personal_columns(dm, dataset):
    need_mysql()
    rows = scan_json(dm, dataset("sakila/mariadb-dump-default.sql"))
    assert found(rows) == SAKILA_EXPECTED | SAKILA_FALSE_POSITIVES


def test_scan_reports_content_evidence(dm, pagila):
    rows = {f"{r['table']}.{r['column']}": r for r in scan_json(dm, pagila)}
    assert rows["public.customer.email"]["evidence"] == "name+content 100%"
    assert rows["public.customer.email"]["category"] == "HIPAA-6 email"
    assert rows["public.staff.picture"]["review"] is True


def test_scan_sample_zero_is_name_only(dm, pagila):
    rows = {f"{r['table']}.{r['column']}": r for r in scan_json(dm, pagila, "--sample", "0")}
    assert rows["public.customer.email"]["evidence"] == "name"


def test_scan_with_rules_shows_coverage(dm, pagila, rules):
    rows = {f"{r['table']}.{r['column']}": r for r in scan_json(dm, pagila, "-c", rules)}
    cov = rows["public.customer.email"]["covered_by"]
    assert cov["mutation"] == "faker.email" and cov["where"].startswith("$.tables[0].columnMutations[")
    assert rows["public.address.address2"]["covered_by"] is None
    assert rows["public.address.address2"]["suggested"] == "faker.address"


def test_scan_template_filters_categories(dm, pagila):
    rows = scan_json(dm, pagila, "--template", "pci")
    # Pagila holds no card data; credentials belong to every template
    assert found(rows) == {"staff.username", "staff.password"}


def test_scan_table_output(dm, pagila, rules):
    cp = dm("scan", pagila, "-c", rules)
    assert cp.returncode == 0
    out = cp.stdout.decode()
    assert "public.address" in out and "address2" in out and "NOT COVERED" in out
    assert "HIPAA-6 email" in out


def test_scan_from_stdin(dm, pagila):
    cp = dm("scan", "--json", input=pagila.read_bytes())
    assert cp.returncode == 0
    assert found(json.loads(cp.stdout)) == PAGILA_EXPECTED | PAGILA_FALSE_POSITIVES


def test_scan_missing_input_is_an_error(dm, tmp_path):
    cp = dm("scan", tmp_path / "nope.sql")
    assert cp.returncode == 1 and b"cannot open input" in cp.stderr


def test_sample_is_bounded(pagila):
    from dumpmask.rows import sample_dump

    smp = sample_dump(str(pagila), limit=7)
    assert smp.rows and max(smp.rows.values()) == 7
    assert all(len(v) <= 7 for s in smp.samplers.values() for v in s.samples.values())


SYNTH = b"""--
-- PostgreSQL database dump
--
SET client_encoding = 'UTF8';
CREATE TABLE public.tickets (
    id integer NOT NULL,
    contact text,
    body text
);
COPY public.tickets (id, contact, body) FROM stdin;
1	ann.lee@example.org	printer broken
2	bob.ray@example.net	cannot log in
3	cy.doe@example.com	thanks
\\.
"""


def test_scan_detects_by_content(dm, tmp_path):
    p = tmp_path / "t.sql"
    p.write_bytes(SYNTH)
    rows = scan_json(dm, p)
    assert [(r["column"], r["category"], r["evidence"]) for r in rows] == [("contact", "HIPAA-6 email", "content 100%")]


def test_write_rules_loads_and_masks_pagila(dm, tmp_path, pagila):
    from dumpmask.rules import load_rules

    out = tmp_path / "rules.json"
    cp = dm("scan", pagila, "--write-rules", out, "--template", "hipaa")
    assert cp.returncode == 0, cp.stderr.decode()
    rs = load_rules(str(out))
    cols = {f"{t.table.name}.{c.column.name}" for t in rs.tables for c in t.columns}
    # payment is PARTITION BY RANGE (payment_date) and payment_date is in its primary key: an
    # explicit, audited keep (remapping must leave a partition key alone)
    keeps = {f"{t.table.name}.{c.column.name}" for t in rs.tables for c in t.columns if c.mutation == "keep"}
    assert keeps == {"payment.payment_date"}
    assert cols - keeps == PAGILA_EXPECTED
    assert json.loads(out.read_bytes())["options"]["identifierRemapping"]["enabled"] is True
    m = dm("-q", "--strict", "-c", out, pagila)
    assert m.returncode == 0, m.stderr.decode()
    assert b"MARY.SMITH@sakilacustomer.org" not in m.stdout
    assert b"PENELOPE" not in m.stdout
    assert m.stdout.count(b"\n") > 40000


def test_write_rules_extends_the_given_rules(dm, tmp_path, pagila, rules):
    from dumpmask.rules import load_rules

    out = tmp_path / "rules.json"
    cp = dm("scan", pagila, "-c", rules, "--write-rules", out)
    assert cp.returncode == 0, cp.stderr.decode()
    doc = json.loads(out.read_bytes())
    address = [t for t in doc["tables"] if t["tableName"] == "address"]
    assert len(address) == 1  # appended to the rules file's own entry
    assert [c["column"] for c in address[0]["columnMutations"]] == ["address", "phone", "postal_code", "address2", "district"]
    assert load_rules(str(out))


def test_write_rules_keeps_a_mysql_partition_key_linked_by_a_backquoted_foreign_key():
    """A MySQL FOREIGN KEY names its table `quoted`: scan --write-rules follows it (with the
    dump's identifier rules) to keep the whole key domain of a partition key, as it does for
    PostgreSQL. The column name does not look like a loose key, so only the FK links it."""
    from dumpmask.scan import build_rules_document
    from dumpmask.schema import Column, ForeignKey, TableSchema

    def int_col(name):
        return Column(name=name, type="int", kind="int", int_min=-2**31, int_max=2**31 - 1, nullable=False)

    regions = TableSchema(schema=None, name="regions", columns=[int_col("id")], primary_key=("id",))
    orders = TableSchema(schema=None, name="orders", columns=[int_col("id"), int_col("area")],
                         primary_key=("id", "area"), partition_by=("LIST", ("area",)),
                         foreign_keys=[ForeignKey(columns=("area",), ref_table="`regions`", ref_columns=("id",))])
    tables = {(None, "regions"): regions, (None, "orders"): orders}
    doc = build_rules_document([], None, None, "hipaa", "mysql", tables)
    kept = {(t["tableName"], c["column"]) for t in doc["tables"] for c in t["columnMutations"] if c["mutation"] == "keep"}
    assert kept == {("orders", "area"), ("regions", "id")}
