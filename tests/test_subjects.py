"""Subject erasure and extraction (issue 14): --erase TABLE:KEY[,KEY...] and --only TABLE:KEY on
the hand-made dumps of test_subset.py (children's data before their parents'), through the CLI.

  t_a (id) <- t_b.a_id <- t_c.b_id;  node.parent_id -> node.id;  ship (order_id, line_no) -> item
"""
from __future__ import annotations

import json

from test_subset import T_A, T_B, T_C, ids, insert_rows, my_dump, pg_copy_rows, pg_dump, run_ok


def pg_rows(dm, path, *args):
    return pg_copy_rows(run_ok(dm, "-q", *args, path).stdout)


def write(tmp_path, data: bytes, name="d.sql"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_erase_removes_the_subject_and_every_row_referencing_it(dm, tmp_path):
    p = write(tmp_path, pg_dump())
    audit = tmp_path / "a.json"
    rows = pg_rows(dm, p, "--erase", "t_a:10", "--audit", audit)
    assert ids(rows["t_a"]) == [20, 30, 40, 50]
    assert ids(rows["t_b"]) == [1, 3, 4, 5]          # b 2 referenced a 10
    assert ids(rows["t_c"]) == [101, 102, 103]       # c 100 referenced b 2 (transitively)
    assert len(rows["node"]) == 5 and len(rows["item"]) == 5   # unrelated tables whole
    a = json.loads(audit.read_text())
    assert a["status"] == "ok"
    s = a["subjects"]
    assert s["mode"] == "erase"
    assert s["subjects"] == [{"option": "erase", "table": "public.t_a", "keys": 1, "found": 1}]
    assert s["tables"] == {"public.t_a": {"removed": 1}, "public.t_b": {"removed": 1}, "public.t_c": {"removed": 1}}
    assert a["tables"]["public.t_b"]["rows_written"] == 4


def test_erase_several_keys_and_a_self_reference(dm, tmp_path):
    p = write(tmp_path, pg_dump())
    rows = pg_rows(dm, p, "--erase", "t_a:10,40", "--erase", "node:9")
    assert ids(rows["t_a"]) == [20, 30, 50]
    assert ids(rows["t_b"]) == [3, 4, 5]
    assert ids(rows["t_c"]) == [102, 103]
    assert ids(rows["node"]) == [1, 2]               # 3 -> 9, 4 -> 3: gone with 9


def test_erase_composite_key(dm, tmp_path):
    p = write(tmp_path, pg_dump())
    rows = pg_rows(dm, p, "--erase", "item:(2,2)")
    assert ids(rows["item"], 2) == [(1, 1), (1, 2), (2, 1), (3, 1)]
    assert ids(rows["ship"]) == [7, 9, 10]           # 8 -> (2,2); 9 -> (2,NULL) references nothing


def test_only_keeps_subject_descendants_and_their_parents(dm, tmp_path):
    p = write(tmp_path, pg_dump())
    audit = tmp_path / "a.json"
    rows = pg_rows(dm, p, "--only", "node:3", "--audit", audit)
    assert ids(rows["node"]) == [3, 4, 9]            # 3, its child 4, its parent 9
    assert all(not rows.get(t) for t in ("t_a", "t_b", "t_c", "item", "ship"))
    t = json.loads(audit.read_text())["subjects"]["tables"]["public.node"]
    assert t == {"kept": 3, "subjects_and_descendants": 2, "added_as_parents": 1}
    rows = pg_rows(dm, p, "--only", "t_b:1")
    assert ids(rows["t_b"]) == [1] and ids(rows["t_c"]) == [101] and ids(rows["t_a"]) == [40]


def test_erase_then_first_picks_among_the_rows_left(dm, tmp_path):
    p = write(tmp_path, pg_dump())
    rows = pg_rows(dm, p, "--erase", "t_a:40", "--first", "3")
    assert ids(rows["t_a"]) == [10, 20, 30]
    assert ids(rows["t_b"]) == [2, 3, 4]             # b 1 erased (a 40); the first 3 of the others
    assert ids(rows["t_c"]) == [100, 102, 103]       # c 101 erased (b 1)


def test_mysql_erase_and_only(dm, tmp_path):
    p = write(tmp_path, my_dump())
    flat = {t: [r for s in v for r in s] for t, v in insert_rows(run_ok(dm, "-q", "--erase", "t_a:10", p).stdout).items()}
    assert ids(flat["t_a"]) == [20, 30, 40, 50] and ids(flat["t_b"]) == [1, 3, 4, 5] and ids(flat["t_c"]) == [101, 102, 103]
    flat = {t: [r for s in v for r in s] for t, v in insert_rows(run_ok(dm, "-q", "--only", "`t_a`:40", p).stdout).items()}
    assert flat["t_a"] == [r for r in T_A if r[0] == 40]
    assert flat["t_b"] == [r for r in T_B if r[0] == 1] and flat["t_c"] == [r for r in T_C if r[0] == 101]


def test_rules_subjects_option_is_the_cli(dm, tmp_path):
    p = write(tmp_path, pg_dump())
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"subjects": {"erase": ["public.t_a:10"]}}, "tables": []}))
    assert run_ok(dm, "-q", "-c", rules, p).stdout == run_ok(dm, "-q", "--erase", "t_a:10", p).stdout
    rules.write_text(json.dumps({"options": {"subjects": {"erase": ["t_a"]}}, "tables": []}))
    cp = dm("-q", "-c", rules, p)
    assert cp.returncode == 2 and b"$.options.subjects.erase[0]" in cp.stderr


def test_a_pipe_is_refused_before_any_output(dm):
    for opt in ("--erase", "--only"):
        cp = dm(opt, "t_a:10", "-", input=pg_dump())
        assert cp.returncode == 2, cp.stderr
        assert b"regular file" in cp.stderr and cp.stdout == b""


def test_usage_errors(dm, tmp_path):
    p = write(tmp_path, pg_dump())
    for args, msg in ((["--erase", "nosuch:1"], b"no table 'nosuch'"),
                      (["--erase", "t_a"], b"expected TABLE:KEY"),
                      (["--erase", "t_a:1,"], b"a key is missing"),
                      (["--erase", "item:1"], b"primary key of 2 column(s) (order_id, line_no)"),
                      (["--erase", "item:(1,2"], b"must end with ')'"),
                      (["--only", "t_a:10", "--first", "2"], b"cannot be combined with partial transfer")):
        cp = dm(*args, p)
        assert cp.returncode == 2, (args, cp.stderr)
        assert msg in cp.stderr, (args, cp.stderr)
        assert b"COPY" not in cp.stdout


def test_missing_subject_only_fails_erase_warns(dm, tmp_path):
    p = write(tmp_path, pg_dump())
    cp = dm("--only", "t_a:77", p)
    assert cp.returncode == 1
    err = cp.stderr.decode()
    assert "no row of public.t_a has the key 77" in err
    assert "a10" not in err and "a20" not in err        # no value of the dump, only the key given
    audit = tmp_path / "a.json"
    cp = run_ok(dm, "--erase", "t_a:77", "--audit", audit, p)
    assert b"nothing of it to erase" in cp.stderr
    a = json.loads(audit.read_text())
    assert a["subjects"]["subjects"][0]["found"] == 0
    assert len(pg_copy_rows(cp.stdout)["t_a"]) == 5
    # the audit names the table and counts the keys, never the keys themselves
    assert "77" not in json.dumps(a["subjects"])


def test_quoted_key_values(dm, tmp_path):
    """A text key holding ',' ':' and '"' is written in double quotes."""
    dump = pg_dump().replace(b"10\ta10\n", b'10\ta,1:"0\n', 1)
    dump = dump.replace(b"CREATE TABLE public.t_b", b"CREATE TABLE public.tx (\n    name text NOT NULL\n);\n\n"
                        b"CREATE TABLE public.t_b", 1)
    dump = dump.replace(b"SELECT pg_catalog.setval", b"COPY public.tx (name) FROM stdin;\na,1:\"0\nzz\n\\.\n\n"
                        b"SELECT pg_catalog.setval", 1)
    dump = dump.replace(b"--\n-- PostgreSQL database dump complete",
                        b"ALTER TABLE ONLY public.tx\n    ADD CONSTRAINT tx_pkey PRIMARY KEY (name);\n\n"
                        b"--\n-- PostgreSQL database dump complete", 1)
    p = write(tmp_path, dump)
    out = run_ok(dm, "-q", "--erase", 'tx:"a,1:""0"', p).stdout
    assert b"COPY public.tx (name) FROM stdin;\nzz\n\\." in out


# ------------------------------------------------------------------ "action": "drop" (row conditions)

DROP_A = {"tables": [{"tableName": "t_a", "action": "drop", "where": {"name": {"in": ["a10", "a40"]}}}]}


def rules_file(tmp_path, doc):
    p = tmp_path / "r.json"
    p.write_text(json.dumps(doc))
    return p


def test_drop_removes_matching_rows_and_their_children(dm, tmp_path):
    p = write(tmp_path, pg_dump())
    audit = tmp_path / "a.json"
    rows = pg_rows(dm, p, "-c", rules_file(tmp_path, DROP_A), "--audit", audit)
    assert ids(rows["t_a"]) == [20, 30, 50]
    assert ids(rows["t_b"]) == [3, 4, 5]          # b 1 -> a 40, b 2 -> a 10
    assert ids(rows["t_c"]) == [102, 103]         # c 100 -> b 2, c 101 -> b 1
    s = json.loads(audit.read_text())["subjects"]
    assert s["mode"] == "drop"
    assert s["drop_rules"] == [{"rule": "$.tables[0]", "table": "t_a", "where": '{"name":{"in":["a10","a40"]}}',
                                "rows_matched": 2}]
    assert s["tables"] == {"public.t_a": {"removed": 2}, "public.t_b": {"removed": 2}, "public.t_c": {"removed": 2}}
    # with --first 2: the first 2 of the rows left, and their parents
    rows = pg_rows(dm, p, "-c", rules_file(tmp_path, DROP_A), "--first", "2")
    assert ids(rows["t_a"]) == [20, 30] and ids(rows["t_b"]) == [3, 4] and ids(rows["t_c"]) == [102, 103]


def test_drop_mysql_file(dm, tmp_path):
    p = write(tmp_path, my_dump())
    flat = {t: [r for s in v for r in s] for t, v in
            insert_rows(run_ok(dm, "-q", "-c", rules_file(tmp_path, DROP_A), p).stdout).items()}
    assert ids(flat["t_a"]) == [20, 30, 50] and ids(flat["t_b"]) == [3, 4, 5] and ids(flat["t_c"]) == [102, 103]


def test_drop_on_a_pipe(dm, tmp_path):
    from test_closure_property import my_text, pg_text, rows_out

    rules = rules_file(tmp_path, {"tables": [{"tableName": "p", "action": "drop", "where": {"id": {">=": 2}}}]})
    tables = [{"name": "p", "fks": [], "rows": [(1,), (2,), (3,)]},
              {"name": "c", "fks": [0], "rows": [(1, 1), (2, 2), (3, None), (4, 3)]},
              {"name": "g", "fks": [1], "rows": [(1, 2), (2, 3), (3, 4)]}]
    # children after their parents: the rows referencing a dropped row are dropped as they come
    cp = run_ok(dm, "-q", "-c", rules, "-", input=my_text(tables, [0, 1, 2]))
    got = rows_out(cp.stdout, tables, "mysql")
    assert got == {"p": [(1,)], "c": [(1, 1), (3, None)], "g": [(2, 3)]}
    # a child before its parent: it was written before the parent's rows were tested
    cp = dm("-q", "-c", rules, "-", input=my_text(tables, [1, 0, 2]))
    assert cp.returncode == 1 and b"came before it" in cp.stderr
    assert b"DUMPMASK_ABORTED" in cp.stdout
    # PostgreSQL on a pipe: the foreign keys come after the data
    cp = dm("-q", "-c", rules, "-", input=pg_text(tables, [0, 1, 2]))
    assert cp.returncode == 2 and b"--schema" in cp.stderr and b"COPY" not in cp.stdout
    # ... known in time with --schema
    schema = write(tmp_path, pg_text([dict(t, rows=[]) for t in tables], []), "schema.sql")
    cp = run_ok(dm, "-q", "-c", rules, "--schema", schema, "-", input=pg_text(tables, [0, 1, 2]))
    assert rows_out(cp.stdout, tables, "postgres") == {"p": [(1,)], "c": [(1, 1), (3, None)], "g": [(2, 3)]}
    # without referential integrity: the matching rows only, and a warning
    rules_file(tmp_path, {"options": {"transfer": {"mode": "full", "referentialIntegrity": False}},
                          "tables": [{"tableName": "p", "action": "drop", "where": {"id": {">=": 2}}}]})
    cp = run_ok(dm, "-c", rules, "-", input=pg_text(tables, [2, 1, 0]))
    assert b"may not restore" in cp.stderr
    got = rows_out(cp.stdout, tables, "postgres")
    assert got["p"] == [(1,)] and len(got["c"]) == 4 and len(got["g"]) == 3


def test_drop_on_a_pipe_self_reference_refused(dm, tmp_path):
    rules = rules_file(tmp_path, {"tables": [{"tableName": "node", "action": "drop", "where": {"id": 9}}]})
    cp = dm("-q", "-c", rules, "-", input=my_dump())
    assert cp.returncode == 1 and b"references itself" in cp.stderr
    p = write(tmp_path, my_dump())
    flat = {t: [r for s in v for r in s] for t, v in insert_rows(run_ok(dm, "-q", "-c", rules, p).stdout).items()}
    assert ids(flat["node"]) == [1, 2]            # 9 and, through 3, 4


def test_report_does_not_call_erased_rows_missing(dm, tmp_path):
    """The PDF's Partial Transfer line: rows --erase removed are not "rows NOT all written"."""
    from dumpmask.report import _transfer_fact

    p = write(tmp_path, pg_dump())
    audit = tmp_path / "a.json"
    run_ok(dm, "-q", "--erase", "t_a:10", "--audit", audit, p)
    a = json.loads(audit.read_text())
    assert _transfer_fact(a, a["tables"], a["options"].get("transfer") or {}) == ("ok", "Full Transfer (no limit)")
    a["tables"]["public.t_b"]["rows_written"] -= 1     # a row missing that nobody asked to remove
    tone, text = _transfer_fact(a, a["tables"], a["options"].get("transfer") or {})
    assert tone == "bad" and "public.t_b: 3 of 5" in text
