"""The library entry point builds its run like the CLI (engine.build_engine): the same rules,
key and options give the same bytes from dumpmask.mask() and from `dumpmask`, and preview's
after values are the CLI's output values. Every module of the package imports for real (no
ImportError guard turns a feature off)."""
from __future__ import annotations

import io
import json
import re

import pytest

import dumpmask
from conftest import TEST_KEY
from dumpmask.crypto import Key
from dumpmask.rules import load_rules

RULES = {"options": {"identifierRemapping": {"enabled": True}},
         "tables": [
             {"tableName": "customer", "columnMutations": [
                 {"column": "first_name", "mutation": "faker.firstName"},
                 {"column": "email", "mutation": "faker.email"}]},
             {"tableName": "staff", "columnMutations": [
                 {"column": "password", "mutation": "hash"}]}]}

CASES = {"pagila": ("pagila", "pg_dump-copy.sql"), "sakila": ("sakila", "mariadb-dump-default.sql")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_library_output_equals_cli_output(dm, datasets, tmp_path, case):
    sub, name = CASES[case]
    src = datasets / sub / name
    rp = tmp_path / "rules.json"
    rp.write_text(json.dumps(RULES))
    out = tmp_path / "cli.sql"
    cp = dm("-q", "-c", rp, "--template", "gdpr", "--first", "40", src, "-o", out)
    assert cp.returncode == 0, cp.stderr.decode()
    cli = out.read_bytes()

    buf = io.BytesIO()
    with open(src, "rb") as fh:
        audit = dumpmask.mask(fh, buf, rules=load_rules(str(rp)), key=Key(TEST_KEY.encode()),
                              template="gdpr", first=40, warn=lambda m: None)
    assert audit["status"] == "ok"
    assert buf.getvalue() == cli
    # the run did remap keys, mask by template and cut rows (not only the rules' columns)
    assert audit["remapped"], "no key was remapped"
    assert any(t["rows_read"] > t["rows_written"] for t in audit["tables"].values())
    # a path and a str key give the same
    buf2 = io.BytesIO()
    dumpmask.mask(str(src), buf2, rules=str(rp), key=TEST_KEY, template="gdpr", first=40, warn=lambda m: None)
    assert buf2.getvalue() == cli
    # and without the options the library differs (the options are not ignored)
    buf3 = io.BytesIO()
    dumpmask.mask(str(src), buf3, rules=str(rp), key=TEST_KEY, warn=lambda m: None)
    assert buf3.getvalue() != cli


def _copy_rows(dump: bytes, table: bytes):
    m = re.search(rb"^COPY " + re.escape(table) + rb" \(([^)]*)\) FROM stdin;\n(.*?)^\\\.\n", dump, re.M | re.S)
    cols = [c.strip().decode() for c in m.group(1).split(b",")]
    return cols, [r.split(b"\t") for r in m.group(2).splitlines()]


def test_preview_after_values_equal_cli_output(dm, datasets, tmp_path):
    from dumpmask.preview import preview

    src = datasets / "pagila" / "pg_dump-copy.sql"
    rp = tmp_path / "rules.json"
    rp.write_text(json.dumps(RULES))
    out = tmp_path / "cli.sql"
    cp = dm("-q", "-c", rp, src, "-o", out)
    assert cp.returncode == 0, cp.stderr.decode()
    shown = preview(str(src), load_rules(str(rp)), Key(TEST_KEY.encode()), n=5, echo=lambda *a, **k: None)
    cols, rows = _copy_rows(out.read_bytes(), b"public.customer")
    got = shown[("public", "customer")]
    assert len(got) == 5
    checked = 0
    for k, (_before, after) in enumerate(got):
        for col, val in after:
            raw = rows[k][cols.index(col)].decode()
            assert (None if raw == "\\N" else raw) == (None if val is None else str(val)), (k, col)
            checked += 1
    assert any(c == "customer_id" for c, _ in got[0][1]), "preview did not show the remapped key"
    assert checked >= 15


def test_every_package_module_imports():
    import importlib
    import pkgutil

    for m in pkgutil.walk_packages(dumpmask.__path__, "dumpmask."):
        if m.name in ("dumpmask._speedups", "dumpmask.__main__"):
            continue
        importlib.import_module(m.name)


def test_a_broken_feature_module_fails_the_run(tmp_path, dm):
    """A module of the package that cannot be imported stops the run (it used to turn its
    feature off silently and exit 0)."""
    shadow = tmp_path / "shadow"
    (shadow / "dumpmask" / "features").mkdir(parents=True)
    import shutil

    pkg = __import__("pathlib").Path(dumpmask.__file__).parent
    shutil.copytree(pkg, shadow / "dumpmask", dirs_exist_ok=True)
    (shadow / "dumpmask" / "features" / "keys.py").write_text("raise ImportError('broken on purpose')\n")
    rp = tmp_path / "rules.json"
    rp.write_text(json.dumps({"options": {"identifierRemapping": True}, "tables": []}))
    dump = (b"-- PostgreSQL database dump\nCREATE TABLE public.p (\n    id integer NOT NULL\n);\n"
            b"COPY public.p (id) FROM stdin;\n1\n\\.\nALTER TABLE ONLY public.p\n    ADD CONSTRAINT p_pkey PRIMARY KEY (id);\n")
    cp = dm("-c", rp, input=dump, env={"PYTHONPATH": str(shadow)}, cwd=tmp_path)
    assert cp.returncode != 0, cp.stderr
    assert b"1\n\\.\n" not in cp.stdout or cp.stdout.rstrip().endswith(b"DUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;")
