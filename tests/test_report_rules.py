"""PDF sections of dumpmask/report_rules.py from real runs, read back with pdftotext: rows
removed by --erase on Pagila (counted independently in the dump), a drop rule and topcode caps
on generated data (the cap computed independently)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from test_topcode import oracle, pg_dump_text


def pdf_text(path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is needed")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True).stdout.decode()


def rows_of(dump_text: str, table: str, column: str, value: str) -> int:
    """Rows of `table` (and its partitions: COPY public.TABLE_...) whose `column` is `value`."""
    n = 0
    for block in re.finditer(rf"^COPY public\.{table}(?:_\w+)? \(([^)]*)\) FROM stdin;\n(.*?)^\\\.$",
                             dump_text, re.M | re.S):
        i = block.group(1).split(", ").index(column)
        n += sum(1 for ln in block.group(2).splitlines() if ln.split("\t")[i] == value)
    return n


def test_erase_on_pagila_lists_rows_removed_per_table(tmp_path, dm, datasets, shared_rules):
    src = datasets / "pagila" / "pg_dump-copy.sql"
    r = dm("-c", shared_rules / "pagila-pii.json", src, "--erase", "customer:1", "--audit", tmp_path / "a.json",
           "--report", tmp_path / "r.pdf", "-o", tmp_path / "o.sql")
    assert r.returncode == 0, r.stderr
    text = pdf_text(tmp_path / "r.pdf")
    dump = src.read_text()
    rentals = rows_of(dump, "rental", "customer_id", "1")
    payments = rows_of(dump, "payment", "customer_id", "1")
    assert rentals > 0 and payments > 0
    assert "Rows removed or kept by row rules (mode erase" in text
    assert re.search(r"public\.customer\s+1\n", text)
    assert re.search(rf"public\.rental\s+{rentals}\n", text)
    assert re.search(rf"public\.payment\s+{payments}\n", text)
    assert "option erase, table public.customer" in text


def test_drop_rule_and_topcode_caps_in_the_pdf(tmp_path, dm):
    vals = [str(v * 7 % 113) for v in range(1, 241)]
    dump = tmp_path / "d.sql"
    dump.write_bytes(pg_dump_text("integer", vals))
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "t", "action": "drop", "where": {"id": {"<=": 3}},
                                             "columnMutations": [{"column": "v", "mutation": "generalize.topcode",
                                                                  "options": {"percentile": 95}}]}]}))
    r = dm("-c", rules, dump, "--audit", tmp_path / "a.json", "--report", tmp_path / "r.pdf", "-o", tmp_path / "o.sql")
    assert r.returncode == 0, r.stderr
    text = pdf_text(tmp_path / "r.pdf")
    cap, lowered = oracle(vals, 95, 5)   # over every row of the dump, before the drop rule
    at = sum(1 for v in vals if int(v) >= cap)
    assert "Top-coding caps (1)" in text
    assert re.search(rf"public\.t\s+v\s+95\s+{cap}\s+percentile\s+240\s+{at}\s+5\s+{'yes' if lowered else 'no'}", text), text
    assert re.search(r"\$\.tables\[0\]\s+t\s+\{\"id\":\{\"<=\":3\}\}\s+3\n", text)
    assert re.search(r"public\.t\s+3\n", text)
    # a run without these rules has neither section
    rules.write_text(json.dumps({"tables": [{"tableName": "t", "columnMutations": [{"column": "v", "mutation": "keep"}]}]}))
    r = dm("-c", rules, dump, "--report", tmp_path / "r2.pdf", "-o", tmp_path / "o2.sql")
    text = pdf_text(tmp_path / "r2.pdf")
    assert r.returncode == 0 and "Top-coding caps" not in text and "Rows removed or kept" not in text
