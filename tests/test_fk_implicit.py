"""`REFERENCES t` without a column list names t's primary key (SQL standard, PostgreSQL).

Such a foreign key used to be dropped by the schema reader, so with remapping on the parent's
key moved while the child's column kept its original values: every join broke and the run
exited 0. Now the child follows its parent, and a reference whose key is unknown fails closed.
pg_dump itself always writes the columns; hand-written dumps and `--schema` files need not.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dumpmask.schema import parse_create_table

KEY = "5e0c2a9b7d4f1e3a8c6b0d2f4a9e7c1b3d5f8a0c2e4b6d9f1a3c5e7b0d2f4a6c"   # a 256-bit test key (hex)

SCHEMA = """CREATE TABLE public.parent (id integer PRIMARY KEY, name text);
CREATE TABLE public."Kind Ü" (code integer NOT NULL, CONSTRAINT kind_pk PRIMARY KEY (code));
CREATE TABLE public.child (
    id integer PRIMARY KEY,
    parent_id integer REFERENCES public.parent,
    other integer,
    kind integer REFERENCES "Kind Ü" ON DELETE CASCADE,
    FOREIGN KEY (other) REFERENCES parent
);
"""

DATA = """COPY public.parent (id, name) FROM stdin;
1\ta
2\tb
3\tc
\\.
COPY public."Kind Ü" (code) FROM stdin;
7
8
\\.
COPY public.child (id, parent_id, other, kind) FROM stdin;
10\t1\t2\t7
11\t2\t3\t8
12\t3\t1\t\\N
\\.
"""

REMAP = {"options": {"identifierRemapping": True}, "tables": []}


def dumpmask(tmp_path, dump: str, rules: dict, *args: str, stdin: bool = False):
    src = tmp_path / "in.sql"
    src.write_bytes(dump.encode())
    cfg = tmp_path / "rules.json"
    cfg.write_text(json.dumps(rules))
    env = dict(os.environ, DUMPMASK_KEY=KEY)
    cmd = [sys.executable, "-m", "dumpmask", "-c", str(cfg), *args]
    if stdin:
        return subprocess.run(cmd, input=src.read_bytes(), capture_output=True, env=env)
    return subprocess.run([*cmd, str(src)], capture_output=True, env=env)


def copy_rows(out: bytes, table: str) -> list[list[str]]:
    text = out.decode()
    head = f"COPY {table} "
    start = text.index("\n", text.index(head)) + 1
    return [ln.split("\t") for ln in text[start:text.index("\\.", start)].splitlines()]


def test_schema_reader_records_an_fk_without_columns():
    t = parse_create_table((SCHEMA.split(";\n")[2] + ";").encode(), "postgres")
    refs = {fk.columns: (fk.ref_table, fk.ref_columns) for fk in t.foreign_keys}
    assert set(refs) == {("parent_id",), ("kind",), ("other",)}
    assert all(cols == () for _, cols in refs.values())


@pytest.mark.parametrize("stdin", [False, True], ids=["file", "pipe"])
def test_children_follow_a_remapped_parent_key(tmp_path, stdin):
    args = ("--schema", str(tmp_path / "schema.sql")) if stdin else ()
    (tmp_path / "schema.sql").write_text(SCHEMA)
    r = dumpmask(tmp_path, SCHEMA + DATA, REMAP, *args, stdin=stdin)
    assert r.returncode == 0, r.stderr.decode()
    parent = dict(zip(["1", "2", "3"], [row[0] for row in copy_rows(r.stdout, "public.parent")], strict=True))
    kind = dict(zip(["7", "8"], [row[0] for row in copy_rows(r.stdout, 'public."Kind Ü"')], strict=True))
    assert set(parent.values()).isdisjoint(parent), "the parent key was not remapped"
    child = copy_rows(r.stdout, "public.child")
    assert [row[1] for row in child] == [parent["1"], parent["2"], parent["3"]]
    assert [row[2] for row in child] == [parent["2"], parent["3"], parent["1"]]
    assert [row[3] for row in child] == [kind["7"], kind["8"], "\\N"]


def test_an_unknown_referenced_key_fails_closed(tmp_path):
    schema = SCHEMA.replace("id integer PRIMARY KEY, name text", "id integer, name text")
    r = dumpmask(tmp_path, schema + DATA, REMAP)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "REFERENCES" in err and "parent" in err and "no primary key" in err
    assert "Traceback" not in err
    # without remapping nothing depends on it: the dump passes through
    r = dumpmask(tmp_path, schema + DATA, {"tables": []})
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == (schema + DATA).encode()


@pytest.mark.servers
def test_masked_dump_restores_with_its_constraints(tmp_path, pg_server):
    r = dumpmask(tmp_path, SCHEMA + DATA, REMAP)
    assert r.returncode == 0, r.stderr.decode()
    db = pg_server.createdb("fk_implicit")
    pg_server.restore(db, r.stdout)   # the constraints are created before the data: checked per row
    joined = pg_server.scalar(db, "SELECT count(*) FROM child c JOIN parent p ON p.id = c.parent_id "
                                  "JOIN parent o ON o.id = c.other")
    assert joined == "3"
    assert pg_server.scalar(db, "SELECT count(*) FROM parent WHERE id IN (1, 2, 3)") == "0"
