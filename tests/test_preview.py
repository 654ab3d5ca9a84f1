"""`dumpmask preview` (issue 7) on Pagila.

The after values the preview shows must be the values a real masking run then writes for
those rows; stdout holds nothing but the preview; it stops reading once every ruled table has
shown its rows (a truncated dump, and a pipe that is never closed, both work); the summary
names the personal-looking columns no rule covers.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading

import pytest

from conftest import REPO, TEST_KEY

WIDE = {"COLUMNS": "3000"}  # no truncation of the values compared below


@pytest.fixture
def pagila(datasets):
    return datasets / "pagila" / "pg_dump-copy.sql"


def shared_rules(datasets, name):
    p = datasets.parent / "checks" / "rules" / name
    if not p.exists():
        pytest.fail(f"acceptance rules {p} missing")
    return p


def parse_preview(text: str) -> dict[str, dict]:
    """{table: {"columns": [...], "rows": [[(before, after), ...], ...]}} from the preview."""
    out = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^== (\S+) \(first (\d+) rows: before -> after\)$", lines[i])
        if not m:
            i += 1
            continue
        table, n = m.group(1), int(m.group(2))
        cols = [c.strip() for c in lines[i + 1].split(" | ")]
        assert set(lines[i + 2]) == {"-"}, lines[i + 2]
        rows = []
        for line in lines[i + 3:i + 3 + n]:
            cells = line.split(" | ")
            assert len(cells) == len(cols), line
            pairs = []
            for c in cells:
                before, sep, after = c.partition(" -> ")
                assert sep, c
                pairs.append((before.strip(), after.strip()))
            rows.append(pairs)
        assert len(rows) == n
        out[table] = {"columns": cols, "rows": rows}
        i += 3 + n
    return out


def copy_block(dump: bytes, table: str) -> tuple[list[str], list[list[str]]]:
    m = re.search(rb"^COPY " + re.escape(table.encode()) + rb" \(([^)]*)\) FROM stdin;\n(.*?)^\\\.\n", dump, re.M | re.S)
    assert m, f"no COPY block for {table}"
    cols = [c.strip() for c in m.group(1).decode().split(",")]
    return cols, [line.split("\t") for line in m.group(2).decode().splitlines()]


def resolve(header: str, cols: list[str]) -> str:
    """A column header as shown (possibly cut with '…', see test_preview_column_headers_not_cut)."""
    if header in cols:
        return header
    assert header.endswith("…"), header
    hits = [c for c in cols if c.startswith(header[:-1])]
    assert len(hits) == 1, (header, cols)
    return hits[0]


def cell(v: str) -> str:
    return "NULL" if v == r"\N" else v


def run_preview(dm, *args, env=None):
    cp = dm("preview", *args, env={**WIDE, **(env or {})})
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    return cp


# ------------------------------------------------------------------ the after values are the real ones

@pytest.mark.parametrize("rules_name", ["pagila-pii.json", "pagila-keys.json"])
def test_preview_after_values_are_what_a_real_run_writes(dm, datasets, pagila, rules_name):
    rules = shared_rules(datasets, rules_name)
    cp = run_preview(dm, "-c", rules, "-n", "3", pagila)
    pv = parse_preview(cp.stdout.decode())
    ruled = [t["tableName"] for t in json.loads(rules.read_text())["tables"]]
    for t in ruled:
        assert f"public.{t}" in pv, (t, list(pv))
        assert len(pv[f"public.{t}"]["rows"]) == 3
    cust = pv["public.customer"]
    masked = {c["column"] for t in json.loads(rules.read_text())["tables"] if t["tableName"] == "customer"
              for c in t["columnMutations"]}
    assert masked <= set(cust["columns"])
    if "keys" in rules_name:
        assert {"customer_id", "address_id", "store_id"} <= set(cust["columns"])
    else:  # masked columns only: unmasked ones are not shown
        assert set(cust["columns"]) == masked

    src_cols, src_rows = copy_block(pagila.read_bytes(), "public.customer")
    real = dm("-q", "-c", rules, pagila)
    assert real.returncode == 0, real.stderr.decode()[-2000:]
    out_cols, out_rows = copy_block(real.stdout, "public.customer")
    assert out_cols == src_cols
    for k, pairs in enumerate(cust["rows"]):
        for col, (before, after) in zip(cust["columns"], pairs):
            i = src_cols.index(col)
            assert before == cell(src_rows[k][i]), (k, col)        # the real first rows of the dump
            assert after == cell(out_rows[k][i]), (k, col)         # what the real run writes
            if col in masked:
                assert after != before
    # the same for the other ruled tables' masked columns
    for t in ruled:
        if t == "customer":
            continue
        sec = pv[f"public.{t}"]
        cols, rows = copy_block(real.stdout, f"public.{t}")
        for k, pairs in enumerate(sec["rows"]):
            for col, (_before, after) in zip(sec["columns"], pairs):
                assert after == cell(rows[k][cols.index(resolve(col, cols))]), (t, k, col)


def test_preview_column_headers_not_cut_on_a_wide_terminal(dm, datasets, pagila):
    pv = parse_preview(run_preview(dm, "-c", shared_rules(datasets, "pagila-pii.json"), "-n", "3", pagila).stdout.decode())
    assert sorted(pv["public.address"]["columns"]) == ["address", "phone", "postal_code"]


def test_preview_prints_nothing_but_the_preview(dm, datasets, pagila):
    cp = run_preview(dm, "-c", shared_rules(datasets, "pagila-pii.json"), "-n", "2", pagila)
    text = cp.stdout.decode()
    for needle in ("COPY ", "CREATE TABLE", "SET ", "\\.", "pg_catalog", "ALTER TABLE"):
        assert needle not in text, needle
    # every line is a section header, a table line, or the summary
    for line in text.splitlines():
        assert (line == "" or line.startswith(("== ", "Tables no rule covers", "Columns that look like", "  public."))
                or " -> " in line or set(line) == {"-"} or " | " in line or re.fullmatch(r"\w+\s*", line)), line
    assert cp.stderr == b""  # a key was given: no warning, no progress
    pv = parse_preview(text)
    assert all(len(s["rows"]) == 2 for s in pv.values())


def test_preview_without_key_warns_on_stderr_only(dm, datasets, pagila):
    cp = dm("preview", "-c", shared_rules(datasets, "pagila-pii.json"), "-n", "1", pagila,
            env={"DUMPMASK_KEY": None, **WIDE})
    assert cp.returncode == 0
    assert b"warning" in cp.stderr and b"key" in cp.stderr
    assert b"warning" not in cp.stdout


def test_preview_summary_lists_uncovered_personal_columns(dm, datasets, pagila):
    text = run_preview(dm, "-c", shared_rules(datasets, "pagila-pii.json"), "-n", "1", pagila).stdout.decode()
    summary = text[text.index("Columns that look like personal data"):]
    for col in ("public.address.address2", "public.actor.first_name", "public.actor.last_name"):
        assert col in summary, col
    # columns the rules do cover are not listed
    for col in ("public.customer.email", "public.customer.first_name", "public.address.phone", "public.staff.username"):
        assert col + " " not in summary, col
    tables_line = next(line for line in text.splitlines() if line.startswith("Tables no rule covers"))
    assert "public.actor" in tables_line and "public.customer" not in tables_line


def test_preview_fits_the_terminal_width(dm, datasets, pagila):
    cp = dm("preview", "-c", shared_rules(datasets, "pagila-pii.json"), "-n", "3", pagila, env={"COLUMNS": "70"})
    assert cp.returncode == 0
    text = cp.stdout.decode()
    section = text[:text.index("Tables no rule covers")]
    lines = [line for line in section.splitlines() if line and not line.startswith("== ")]
    assert lines and max(len(line) for line in lines) <= 70
    assert "…" in section  # long emails were cut


# ------------------------------------------------------------------ it stops reading early

CUST_RULES = {"tables": [{"tableName": "customer", "columnMutations": [{"column": "email", "mutation": "faker.email"}]},
                         {"tableName": "address", "columnMutations": [{"column": "phone", "mutation": "faker.phone"}]}]}


def truncated_after_customer_rows(pagila, n: int) -> bytes:
    """The Pagila dump cut right after customer's n-th data row (mid COPY block, no \\.)."""
    src = pagila.read_bytes()
    j = src.index(b"COPY public.customer ")
    for _ in range(n + 1):
        j = src.index(b"\n", j) + 1
    assert j < len(src) // 10  # most of the dump is gone
    return src[:j]


def test_preview_succeeds_on_a_dump_truncated_after_the_rows_shown(dm, pagila, tmp_path):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps(CUST_RULES))
    trunc = tmp_path / "trunc.sql"
    trunc.write_bytes(truncated_after_customer_rows(pagila, 3))
    # the truncation is real: a masking run fails on it
    bad = dm("-q", "-c", rules, trunc)
    assert bad.returncode == 1 and b"unterminated COPY" in bad.stderr
    full = parse_preview(run_preview(dm, "-c", rules, "-n", "3", pagila).stdout.decode())
    for how in ("file", "pipe"):
        cp = (run_preview(dm, "-c", rules, "-n", "3", trunc) if how == "file"
              else dm("preview", "-c", rules, "-n", "3", input=trunc.read_bytes(), env=WIDE))
        assert cp.returncode == 0, (how, cp.stderr.decode())
        pv = parse_preview(cp.stdout.decode())
        assert pv["public.customer"] == full["public.customer"], how
        assert pv["public.address"] == full["public.address"], how


def test_preview_does_not_wait_for_the_end_of_a_pipe(pagila, tmp_path):
    """The rows shown are on the pipe, the rest never comes (the pipe stays open): the preview
    must finish anyway."""
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps(CUST_RULES))
    head = truncated_after_customer_rows(pagila, 3)
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, PYTHONPATH=str(REPO), **WIDE)
    proc = subprocess.Popen([sys.executable, "-m", "dumpmask", "preview", "-c", str(rules), "-n", "3", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def feed():
        try:
            proc.stdin.write(head)
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
    t = threading.Thread(target=feed, daemon=True)
    t.start()
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("preview kept reading after every ruled table had shown its rows")
    finally:
        t.join(5)
        try:
            proc.stdin.close()
        except OSError:
            pass
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    assert rc == 0, err
    pv = parse_preview(out)
    assert len(pv["public.customer"]["rows"]) == 3


def test_preview_stops_reading_after_the_ruled_tables_head(dm, datasets, pagila, tmp_path):
    """The preview reads only the head of the dump: a dump whose end is broken (an unterminated
    COPY block of an unruled table after the ruled ones) previews fine, while a masking run, which
    must read everything, fails on it. (Its speed is in bench/, not in a timed test.)"""
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps(CUST_RULES))
    src = pagila.read_bytes()
    cut = src.index(b"-- PostgreSQL database dump complete")
    broken = tmp_path / "broken.sql"
    filler = b"CREATE TABLE public.zz_filler (\n    id integer,\n    note text\n);\n\nCOPY public.zz_filler (id, note) FROM stdin;\n"
    broken.write_bytes(src[:cut] + filler + b"".join(b"%d\tn%d\n" % (i, i) for i in range(1000)))
    pv = parse_preview(run_preview(dm, "-c", rules, "-n", "3", broken).stdout.decode())
    assert len(pv["public.customer"]["rows"]) == 3
    cp = dm("-q", "-c", rules, "-o", tmp_path / "out.sql", broken)
    assert cp.returncode == 1
    assert b"unterminated COPY block" in cp.stderr


def test_preview_shows_drop_where_and_unlisted_defaults_row_by_row(tmp_path, dm):
    """The row rules of issue #14 in preview: a drop rule's rows say (dropped), a column rule's
    where masks only the rows it selects (and the summary line names them), an unlisted column
    under options.unlisted "mask" gets its default; with the rules removed the lines go."""
    dump = tmp_path / "u.sql"
    dump.write_bytes(b"CREATE TABLE public.u (id integer, status text, email text, note text);\n"
                     b"COPY public.u (id, status, email, note) FROM stdin;\n"
                     b"1\tactive\tann@x.org\thello\n2\tgone\tbob@y.org\tbye\n3\ttrial\tcy@z.org\tzz\n\\.\n")
    doc = {"options": {"unlisted": "mask"}, "tables": [{"tableName": "u", "action": "drop", "where": {"status": "gone"},
           "columnMutations": [{"column": "email", "mutation": "redact", "where": {"status": "active"}},
                               {"column": "status", "mutation": "keep"}, {"column": "id", "mutation": "keep"}]}]}
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps(doc))
    r = dm("preview", "-c", rules, dump, env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    rows = {ln.split("|")[0].strip().split(" ")[0]: [c.strip() for c in ln.split("|")]
            for ln in r.stdout.decode().splitlines() if ln.count("|") == 3 and "->" in ln}
    assert rows["1"] == ["1 -> 1", "active -> active", "ann@x.org -> *****", "hello -> *****"]
    assert all(c.endswith("-> (dropped)") for c in rows["2"])
    assert rows["3"] == ["3 -> 3", "trial -> trial", "cy@z.org -> cy@z.org", "zz -> *****"]
    out = r.stdout.decode()
    assert 'action drop $.tables[0] where {"status":"gone"} (dropped): rows 2 of the 3 shown' in out
    assert 'email where {"status":"active"} (masked; the other rows unchanged): rows 1 of the 3 shown' in out
    assert "rows that reference a dropped row are dropped too" in out
    # without the row rules and with unlisted "keep": no (dropped), no where line, note not masked
    doc["options"]["unlisted"] = "keep"
    del doc["tables"][0]["action"], doc["tables"][0]["where"], doc["tables"][0]["columnMutations"][0]["where"]
    rules.write_text(json.dumps(doc))
    r = dm("preview", "-c", rules, dump, env={"COLUMNS": "200"})
    out = r.stdout.decode()
    assert r.returncode == 0 and "(dropped)" not in out and " where " not in out
    assert "bob@y.org -> *****" in out and "hello -> *****" not in out   # note: kept, not previewed
