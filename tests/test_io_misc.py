"""Smaller items of issue 11: exit 141 on a closed pipe for every command, an empty
DUMPMASK_KEY, `dumpmask report` refusing what is not an audit, verify's line numbers."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, TEST_KEY
from dumpmask.audit import validate_audit
from dumpmask.errors import DumpmaskError

GOOD = (b"-- PostgreSQL database dump\nCREATE TABLE public.p (\n    id integer NOT NULL,\n    email text\n);\n"
        b"COPY public.p (id, email) FROM stdin;\n1\tmary.smith@example.org\n\\.\n")


def test_transformers_into_closed_pipe_exits_141():
    """The reader takes the first line and goes away. (This ran as `dumpmask transformers | head
    -1` under bash, and failed once in CI with exit 0: the listing, 17 KB, fits in a pipe's 64 KB
    buffer, so when head was slow to read dumpmask wrote it all and exited 0 before head closed
    its end. tests/consumer_pipe.py cuts the pipe to one page: dumpmask cannot finish without a reader.)"""
    from consumer_pipe import PAGE, run_into_vanishing_reader

    env = dict(os.environ, PYTHONPATH=str(REPO))
    full = subprocess.run([sys.executable, "-m", "dumpmask", "transformers"], capture_output=True, env=env, cwd=REPO)
    assert full.returncode == 0 and len(full.stdout) > 3 * PAGE   # (else the reader below could not vanish in time)
    rc, got, err = run_into_vanishing_reader([sys.executable, "-m", "dumpmask", "transformers"], env=env, cwd=REPO)
    assert rc == 141, err
    assert got and full.stdout.startswith(got) and b"\n" in got
    assert err == b""


@pytest.mark.parametrize("val", ["", " ", "\t\n"])
def test_empty_key_in_environment_is_an_error(dm, val):
    for args in ((), ("verify-audit", "README.md")):
        cp = dm(*args, input=GOOD, env={"DUMPMASK_KEY": val})
        assert cp.returncode == 2, cp.stderr
        assert b"DUMPMASK_KEY is set but empty" in cp.stderr
        assert b"mary.smith" not in cp.stdout


def test_unset_key_is_still_a_random_key(dm):
    cp = dm(input=GOOD, env={"DUMPMASK_KEY": None})
    assert cp.returncode == 0 and b"random per-run key" in cp.stderr


def _audit(dm, tmp_path) -> dict:
    a = tmp_path / "real.json"
    assert dm("--audit", a, input=GOOD).returncode == 0
    return json.loads(a.read_text())


@pytest.mark.parametrize("doc", [
    {}, [], "x", 1, None, {"tool": "other"}, {"tool": "dumpmask"},
    "drop:status", "drop:tables", "drop:input", "set:status=weird", "set:tables=[]", "set:input=1",
    "set:warnings={}", "set:tool=Dumpmask", "set:status=failed",
])
def test_report_refuses_what_is_not_an_audit(dm, tmp_path, doc):
    real = _audit(dm, tmp_path)
    if isinstance(doc, str) and ":" in doc:
        op, _, rest = doc.partition(":")
        data = dict(real)
        if op == "drop":
            data.pop(rest)
        else:
            k, _, v = rest.partition("=")
            data[k] = json.loads(v) if v[:1] in "[{0123456789" else v
            if k == "status":
                data["error"] = None
    else:
        data = doc
    with pytest.raises(DumpmaskError) as ei:
        validate_audit(data)
    assert "not a dumpmask audit" in str(ei.value)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(data))
    pdf = tmp_path / "out.pdf"
    cp = dm("report", f, "-o", pdf)
    assert cp.returncode == 2, cp.stderr
    assert b"not a dumpmask audit" in cp.stderr
    assert not pdf.exists()


def test_report_accepts_real_audits(dm, tmp_path):
    real = _audit(dm, tmp_path)
    validate_audit(real)
    a = tmp_path / "failed.json"
    cp = dm("--audit", a, input=GOOD.replace(b"\\.\n", b""))
    assert cp.returncode == 1
    validate_audit(json.loads(a.read_text()))
    assert dm("report", a, "-o", tmp_path / "r.pdf").returncode == 0


# --------------------------------------------------------------------------- verify lines

def _leak_lines(dm, tmp_path, dump: bytes, rules: dict) -> dict:
    o = tmp_path / "orig.sql"
    o.write_bytes(dump)
    r = tmp_path / "r.json"
    r.write_text(json.dumps(rules))
    cp = dm("verify", o, o, "-c", r, "--json")  # "masked" = the original: every value leaks
    assert cp.returncode == 1, cp.stderr
    res = json.loads(cp.stdout)
    return {i: f["where"] for i, f in enumerate(res["leaks"])}


def _line_of(dump: bytes, needle: bytes) -> int:
    return dump[:dump.index(needle)].count(b"\n") + 1


def test_verify_names_the_row_line_of_copy_rows(dm, tmp_path):
    rows = b"".join(b"%d\tperson.number%d@example.org\n" % (i, i) for i in range(1, 8))
    dump = GOOD.replace(b"1\tmary.smith@example.org\n", rows)
    got = _leak_lines(dm, tmp_path, dump, {"tables": [{"tableName": "p", "columnMutations": [
        {"column": "email", "mutation": "faker.email"}]}]})
    assert got, got
    for i in range(1, 8):
        want = _line_of(dump, b"person.number%d@" % i)
        where = [w for v, ws in got.items() for w in ws if w.endswith(f":{want}")]
        assert where and all(w.startswith("public.p.email:") for w in where), (i, want, got)


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_verify_names_the_tuple_line_of_multiline_inserts(dm, tmp_path, dialect):
    tuples = ",\n".join(f"({i},'person.number{i}@example.org')" for i in range(1, 6))
    if dialect == "postgres":
        dump = ("-- PostgreSQL database dump\nCREATE TABLE public.p (\n    id integer NOT NULL,\n    email text\n);\n"
                f"INSERT INTO public.p VALUES\n{tuples};\n").encode()
    else:
        dump = ("-- MariaDB dump 10.19\nCREATE TABLE `p` (\n  `id` int(11) NOT NULL,\n  `email` varchar(99)\n);\n"
                f"INSERT INTO `p` VALUES\n{tuples};\n").encode()
    got = _leak_lines(dm, tmp_path, dump, {"tables": [{"tableName": "p", "columnMutations": [
        {"column": "email", "mutation": "faker.email"}]}]})
    for i in range(1, 6):
        want = _line_of(dump, b"person.number%d@" % i)
        assert any(w.endswith(f":{want}") for ws in got.values() for w in ws), (i, want, got)
    lines = {int(w.rsplit(":", 1)[1]) for ws in got.values() for w in ws}
    assert _line_of(dump, b"INSERT") not in lines, got
