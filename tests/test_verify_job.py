"""`--verify`: the leak check of `dumpmask verify` in the masking job itself (features/verification.py,
verifysample.py). Real dumps of schemas created here (non-ASCII names and values, tabs, quotes,
backslashes, line breaks), real runs through the CLI: on a file (read back before it is renamed into
place), on a pipe (a keyed sample), with -j 2; a leaking rules file is caught with exit 1 and no -o
file, the message names table.column and counts, never a value."""
from __future__ import annotations

import json

import pytest

from dumpmask.engine import POISON

pytestmark = pytest.mark.servers

N = 300
EMAILS = [f"zoë.müller{g}@straße.example" for g in range(1, N + 1)]
PG_SQL = f"""CREATE TABLE "Kündé" (id integer PRIMARY KEY, "e-mail" text, name text, tags text, status text,
  note text);
INSERT INTO "Kündé" SELECT g, 'zoë.müller' || g || '@straße.example', 'Łucja ' || g || E' O''Brien\\tX',
  'a' || g || '@x.example, b' || g || '@y.example', (ARRAY['active','trial','closed'])[1 + g % 3],
  CASE WHEN g % 4 = 0 THEN E'line\\nbreak \\\\ back' ELSE 'Ωμέγα ' || g END
FROM generate_series(1, {N}) g;
"""
MY_SQL = """CREATE TABLE `Kündé` (id int PRIMARY KEY, `e-mail` varchar(80), name varchar(80), tags text,
  status varchar(10), note text) DEFAULT CHARSET=utf8mb4;
"""


def _my_values() -> str:
    rows = []
    for g in range(1, N + 1):
        note = "line\\nbreak \\\\ back" if g % 4 == 0 else f"Ωμέγα {g}"
        rows.append(f"({g}, 'zoë.müller{g}@straße.example', 'Łucja {g} O''Brien\\tX', "
                    f"'a{g}@x.example, b{g}@y.example', '{['active', 'trial', 'closed'][g % 3]}', '{note}')")
    return ",".join(rows)


def _rules(table: str, leaking: bool) -> dict:
    cols = [{"column": "name", "mutation": "faker.name"}, {"column": "note", "mutation": "redact"}]
    if leaking:
        # masks the e-mails of the active rows only (the others kept in clear, as the rules ask:
        # no leak), and a list whose element mutation keeps every element on the active and
        # trial rows (those rows give their values back: a leak; the closed rows' are not masked)
        cols += [{"column": "e-mail", "mutation": "faker.email", "where": {"status": {"in": ["active"]}}},
                 {"column": "tags", "mutation": "list", "options": {"mutation": "keep"},
                  "where": {"status": {"in": ["active", "trial"]}}}]
    else:
        cols += [{"column": "e-mail", "mutation": "faker.email"},
                 {"column": "tags", "mutation": "list", "options": {"mutation": "faker.email"}}]
    return {"tables": [{"tableName": table, "columnMutations": cols}]}


@pytest.fixture(scope="module")
def dumps(tmp_path_factory, pg_server, my_server):
    """{"pg-copy", "pg-inserts", "mysql"}: (dump path, table name as the rules write it)."""
    d = tmp_path_factory.mktemp("verifyjob")
    db = pg_server.createdb("verifyjob_src")
    pg_server.psql(db, PG_SQL)
    out = {}
    for name, args in (("pg-copy", ()), ("pg-inserts", ("--inserts", "--rows-per-insert=50"))):
        p = d / f"{name}.sql"
        p.write_bytes(pg_server.dump(db, *args))
        out[name] = (p, '"Kündé"')
    mdb = my_server.create("verifyjob_src")
    my_server.sql(mdb, MY_SQL + f"INSERT INTO `Kündé` VALUES {_my_values()};")
    p = d / "mysql.sql"
    p.write_bytes(my_server.dump(mdb))
    out["mysql"] = (p, "Kündé")
    return out


def _write_rules(tmp_path, table: str, leaking: bool):
    p = tmp_path / ("leak.json" if leaking else "rules.json")
    p.write_text(json.dumps(_rules(table, leaking)), encoding="utf-8")
    return p


def _verification(path) -> dict:
    return json.loads(path.read_text())["verification"]


@pytest.mark.parametrize("name", ["pg-copy", "pg-inserts", "mysql"])
def test_clean_run_passes_on_a_file_and_on_a_pipe_with_the_same_figures_at_j2(tmp_path, dm, dumps, name):
    dump, table = dumps[name]
    rules = _write_rules(tmp_path, table, leaking=False)
    r = dm("-c", rules, "--verify", "-o", tmp_path / "out.sql", "--audit", tmp_path / "a.json", dump)
    assert r.returncode == 0, r.stderr.decode()
    v = _verification(tmp_path / "a.json")
    assert v["mode"] == "file" and v["result"] == "passed" and v["leaks"] == []
    assert v["values_checked"] >= 4 * N and v["columns_checked"] == 4
    assert (tmp_path / "out.sql").exists()
    # on a pipe: the sample
    r1 = dm("-c", rules, "--verify", "--audit", tmp_path / "p1.json", "-", input=dump.read_bytes())
    assert r1.returncode == 0, r1.stderr.decode()
    assert r1.stdout == (tmp_path / "out.sql").read_bytes()
    s1 = _verification(tmp_path / "p1.json")
    assert s1["mode"] == "sample" and s1["result"] == "passed" and s1["values_checked"] >= 4 * N
    assert s1["columns_checked"] == 4
    r2 = dm("-c", rules, "--verify", "-j", "2", "--audit", tmp_path / "p2.json", "-", input=dump.read_bytes())
    assert r2.returncode == 0 and r2.stdout == r1.stdout
    assert _verification(tmp_path / "p2.json") == s1
    r3 = dm("-c", rules, "--verify", "-j", "2", "-o", tmp_path / "out2.sql", "--audit", tmp_path / "a2.json", dump)
    assert r3.returncode == 0 and _verification(tmp_path / "a2.json") == v
    # without --verify: no section
    r4 = dm("-c", rules, "-o", tmp_path / "out3.sql", "--audit", tmp_path / "a3.json", dump)
    assert r4.returncode == 0 and "verification" not in json.loads((tmp_path / "a3.json").read_text())


def _leak_names(v: dict) -> set:
    return {(x["table"], x["column"]) for x in v["leaks"]}


@pytest.mark.parametrize("name", ["pg-copy", "pg-inserts", "mysql"])
def test_a_rules_file_that_leaves_values_in_clear_is_caught_on_a_file_and_on_a_pipe(tmp_path, dm, dumps, name):
    dump, table = dumps[name]
    qual = "public.Kündé" if name.startswith("pg") else "Kündé"
    rules = _write_rules(tmp_path, table, leaking=True)
    out = tmp_path / "out.sql"
    r = dm("-c", rules, "--verify", "-o", out, "--audit", tmp_path / "a.json", dump)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert not out.exists() and not list(tmp_path.glob(".out.sql*"))   # no leaking copy, not even the temporary
    assert f"{qual}.tags" in err and f"{qual}.e-mail" not in err and "Traceback" not in err
    assert not any(e in err for e in EMAILS) and "@x.example" not in err       # counts, never values
    a = json.loads((tmp_path / "a.json").read_text())
    assert a["status"] == "failed" and "--verify" in a["error"]
    v = a["verification"]
    assert v["mode"] == "file" and v["result"] == "leaks"
    # the e-mails of the rows the `where` does not hold for were kept in clear by the rules: no
    # leak (before: every one of them was); the tags of exactly the rows it holds for leak
    assert _leak_names(v) == {(qual, "tags")}
    assert v["leaks"][0]["values"] == 2 * N // 3
    # stdin into -o FILE: the sample, and again no file
    r1 = dm("-c", rules, "--verify", "-o", out, "--audit", tmp_path / "p1.json", "-", input=dump.read_bytes())
    assert r1.returncode == 1 and not out.exists()
    s1 = _verification(tmp_path / "p1.json")
    assert s1["mode"] == "sample" and s1["result"] == "leaks"
    assert _leak_names(s1) == {(qual, "tags")}
    assert s1["leaks"][0]["values"] == 2 * N // 3    # the active and trial rows, not the closed ones
    # to stdout: the output ends with the line that makes a restore fail; -j 2 says the same
    r2 = dm("-c", rules, "--verify", "-j", "2", "--audit", tmp_path / "p2.json", "-", input=dump.read_bytes())
    assert r2.returncode == 1 and r2.stdout.endswith(POISON)
    assert _verification(tmp_path / "p2.json") == s1
    assert not any(e in r2.stderr.decode() for e in EMAILS)


def test_verify_refuses_a_pg_dump_archive(tmp_path, dm, pg_server):
    db = pg_server.createdb("verifyjob_arch")
    pg_server.psql(db, PG_SQL)
    arch = tmp_path / "in.dump"
    arch.write_bytes(pg_server.dump(db, "-Fc"))
    rules = _write_rules(tmp_path, '"Kündé"', leaking=False)
    r = dm("-c", rules, "--verify", "-o", tmp_path / "out.dump", arch)
    assert r.returncode == 2 and "--verify" in r.stderr.decode() and not (tmp_path / "out.dump").exists()


def test_verify_without_rules_is_a_usage_error(tmp_path, dm):
    dump = tmp_path / "in.sql"
    dump.write_text("CREATE TABLE t (a text);\nCOPY public.t (a) FROM stdin;\nx\n\\.\n")
    r = dm("--verify", dump)
    assert r.returncode == 2 and "--verify" in r.stderr.decode()


def test_verify_with_first_10_on_pagila_gives_no_false_leak(tmp_path, dm, datasets, shared_rules):
    """--first 10 keeps 10 rows of each table and their parents: the leak check pairs each
    original row with the row it became (the run's record), so no fake equal to another row's
    original is a leak. Before: exit 1, every such fake of the cut tables a leak."""
    out, audit = tmp_path / "out.sql", tmp_path / "a.json"
    r = dm("-c", shared_rules / "pagila-pii.json", datasets / "pagila" / "pg_dump-copy.sql", "--first", "10",
           "--verify", "-o", out, "--audit", audit)
    assert r.returncode == 0 and out.exists(), r.stderr
    v = _verification(audit)
    assert v["result"] == "passed" and not v["leaks"] and "unpaired" not in v, v
    assert "public.customer" in v["rows_paired_by_record"], v
