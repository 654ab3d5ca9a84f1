"""The command line as a user sees it: exit codes, stderr vs stdout, the audit sidecar.

Everything runs the real CLI in a subprocess (the `dm` fixture, DUMPMASK_KEY fixed)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, TEST_KEY

HEADER = b"--\n-- PostgreSQL database dump\n--\n\n"
ERR_RE = re.compile(r"^dumpmask: error: (?P<src>[^\n:]+):(?P<line>\d+): (?P<what>.+)$", re.M)

TABLE = HEADER + b"CREATE TABLE public.t (\n    id integer NOT NULL,\n    a text,\n    b text\n);\n\n"
GOOD = TABLE + b"COPY public.t (id, a, b) FROM stdin;\n1\talice@x.org\ty\n2\tbob@x.org\tz\n\\.\n"


def write(tmp_path, name, data) -> Path:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


def rules_file(tmp_path, doc, name="rules.json") -> Path:
    return write(tmp_path, name, json.dumps(doc, indent=1))


def one_rule(table="t", column="a", mutation="faker.email", **extra):
    cm = {"column": column, "mutation": mutation, **extra}
    return {"tables": [{"tableName": table, "columnMutations": [cm]}]}


def assert_clean_stderr(cp):
    assert b"Traceback" not in cp.stderr, cp.stderr.decode()


@pytest.fixture(scope="module")
def pii_rules(shared_rule) -> Path:
    return shared_rule("pagila-pii.json")


# --------------------------------------------------------------------------- rules validation

def test_malformed_json_exit_2_names_file_and_line(dm, tmp_path):
    bad = write(tmp_path, "bad.json", '{"tables": [\n  {"tableName": "t",\n   "columnMutations": [}\n]}\n')
    cp = dm("-c", bad, input=GOOD)
    assert cp.returncode == 2
    err = cp.stderr.decode()
    assert str(bad) in err and "line 3" in err
    assert_clean_stderr(cp)
    assert b"alice@x.org" not in cp.stdout


def test_unknown_mutation_exit_2_with_json_path_and_did_you_mean(dm, tmp_path):
    doc = {"tables": [{"tableName": "t", "columnMutations": [
        {"column": "b", "mutation": "keep"}, {"column": "a", "mutation": "faker.emial"}]}]}
    r = rules_file(tmp_path, doc)
    cp = dm("-c", r, input=GOOD)
    assert cp.returncode == 2
    err = cp.stderr.decode()
    assert str(r) in err
    assert "$.tables[0].columnMutations[1].mutation" in err
    assert "did you mean" in err and "faker.email" in err
    assert b"alice@x.org" not in cp.stdout
    assert_clean_stderr(cp)


@pytest.mark.parametrize("options", [{"lenght": 5}, {"length": "five"}])
def test_bad_option_exit_2_with_json_path(dm, tmp_path, options):
    r = rules_file(tmp_path, one_rule(mutation="hash", options=options))
    cp = dm("-c", r, input=GOOD)
    assert cp.returncode == 2
    err = cp.stderr.decode()
    assert str(r) in err and "$.tables[0].columnMutations[0].options" in err
    assert_clean_stderr(cp)


def test_null_rule_on_not_null_column_fails_before_any_row_of_that_table(dm, tmp_path):
    r = rules_file(tmp_path, one_rule(column="id", mutation="null"))
    for via_file in (False, True):
        args = ("-c", r, write(tmp_path, "d.sql", GOOD)) if via_file else ("-c", r)
        cp = dm(*args, input=b"" if via_file else GOOD)
        assert cp.returncode == 2, cp.stderr
        assert b"NOT NULL" in cp.stderr and b"$.tables[0].columnMutations[0]" in cp.stderr
        assert b"alice@x.org" not in cp.stdout and b"COPY public.t" not in cp.stdout
        assert_clean_stderr(cp)


def test_unmatched_rule_warns_on_stderr_and_in_audit(dm, tmp_path):
    doc = {"tables": [{"tableName": "t", "columnMutations": [{"column": "nosuchcol", "mutation": "keep"}]},
                      {"tableName": "nosuchtable", "columnMutations": [{"column": "x", "mutation": "keep"}]}]}
    r = rules_file(tmp_path, doc)
    audit = tmp_path / "a.json"
    cp = dm("-c", r, "--audit", audit, input=GOOD)
    assert cp.returncode == 0
    err = cp.stderr.decode()
    assert "warning" in err and "nosuchcol" in err and "nosuchtable" in err
    a = json.loads(audit.read_bytes())
    um = a["unmatched_rules"]
    assert isinstance(um, list) and len(um) == 2
    assert {u.get("column") for u in um} >= {"nosuchcol"}
    assert any("nosuchtable" in json.dumps(u) for u in um)
    assert cp.stdout == GOOD   # nothing masked, stdout untouched by the warnings


@pytest.mark.parametrize("via_file", [False, True], ids=["stdin", "file"])
def test_unmatched_rule_with_strict_exits_1(dm, tmp_path, via_file):
    doc = {"tables": [{"tableName": "t", "columnMutations": [{"column": "a", "mutation": "faker.email"}]},
                      {"tableName": "nosuchtable", "columnMutations": [{"column": "x", "mutation": "keep"}]}]}
    r = rules_file(tmp_path, doc)
    f = write(tmp_path, "d.sql", GOOD)
    ok = dm("-c", r, *([f] if via_file else []), input=b"" if via_file else GOOD)
    assert ok.returncode == 0 and b"nosuchtable" in ok.stderr   # without --strict: a warning
    cp = dm("-c", r, "--strict", *([f] if via_file else []), input=b"" if via_file else GOOD)
    assert cp.returncode == 1
    assert b"nosuchtable" in cp.stderr and b"error" in cp.stderr
    assert_clean_stderr(cp)


# --------------------------------------------------------------------------- failure behaviour

def _line_of(dump: bytes, marker: bytes) -> int:
    return dump[:dump.index(marker)].count(b"\n") + 1


_T_STR = TABLE + b"INSERT INTO public.t VALUES (1, 'abc, 'x');\nSELECT 1;\n"
_T_ESTR = TABLE + b"SELECT 1;\nINSERT INTO public.t VALUES (1, E'ab\\', 'x');\n"
_T_COPY = TABLE + b"COPY public.t (id, a, b) FROM stdin;\n1\ta\tb\n2\tc\td\n"
_T_FEW = TABLE + b"COPY public.t (id, a, b) FROM stdin;\n1\ta\tb\n2\tc\n3\te\tf\n\\.\n"
_T_MANY = TABLE + b"COPY public.t (id, a, b) FROM stdin;\n1\ta\tb\tx\n\\.\n"
TRUNCATED = {
    # name: (dump, acceptable error lines, words in the message)
    "unterminated_string": (_T_STR, {_line_of(_T_STR, b"INSERT")}, "unterminated string"),
    "unterminated_e_string": (_T_ESTR, {_line_of(_T_ESTR, b"INSERT")}, "unterminated string"),
    # the COPY statement's line or the end of input
    "unterminated_copy_at_eof": (_T_COPY, {_line_of(_T_COPY, b"COPY"), _T_COPY.count(b"\n")}, "COPY"),
    "copy_row_wrong_field_count": (_T_FEW, {_line_of(_T_FEW, b"2\tc\n")}, "field"),
    "copy_row_too_many_fields": (_T_MANY, {_line_of(_T_MANY, b"1\ta\tb\tx")}, "field"),
}


@pytest.mark.parametrize("case", sorted(TRUNCATED))
@pytest.mark.parametrize("via_file", [False, True], ids=["stdin", "file"])
def test_truncated_input_error_line_exit_1_and_poisoned_stdout(dm, tmp_path, case, via_file):
    dump, line, what = TRUNCATED[case]
    r = rules_file(tmp_path, one_rule(mutation="static:M"))
    f = write(tmp_path, "in.sql", dump)
    cp = dm("-c", r, *([f] if via_file else []), input=b"" if via_file else dump)
    assert cp.returncode == 1
    err = cp.stderr.decode()
    m = ERR_RE.search(err)
    assert m, err
    assert m.group("src") == (str(f) if via_file else "<stdin>")
    assert int(m.group("line")) in line, err
    assert what.lower() in m.group("what").lower()
    assert_clean_stderr(cp)
    last = cp.stdout.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    assert not last.startswith(b"--") and last.strip(), "the last line must be SQL that fails, not a comment"
    # the real-server test (test_pg_restore) checks that psql does fail on it


def test_closed_downstream_pipe_exits_nonzero_without_traceback(datasets, tmp_path, pii_rules):
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, PYTHONPATH=str(REPO))
    src = datasets / "pagila" / "pg_dump-copy.sql"
    p = subprocess.Popen([sys.executable, "-m", "dumpmask", "-c", str(pii_rules), str(src)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = p.stdout.read(100)
    p.stdout.close()
    err = p.stderr.read()
    rc = p.wait(120)
    assert len(head) == 100
    assert rc != 0
    assert b"Traceback" not in err and b"Exception ignored" not in err, err.decode()


def test_closed_pipe_through_shell_head(datasets, pii_rules, tmp_path):
    # `dumpmask ... | head -c 100`: non-zero exit status, nothing but silence on stderr
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, PYTHONPATH=str(REPO))
    src = datasets / "pagila" / "pg_dump-copy.sql"
    cmd = (f"'{sys.executable}' -m dumpmask -c '{pii_rules}' '{src}' 2>err.txt | head -c 100 >head.out; "
           "echo ${PIPESTATUS[0]}")
    cp = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, cwd=tmp_path, timeout=120)
    assert int(cp.stdout.strip()) != 0
    assert (tmp_path / "head.out").stat().st_size == 100
    err = (tmp_path / "err.txt").read_bytes()
    assert b"Traceback" not in err and b"Exception ignored" not in err, err


def test_stdout_holds_only_sql_warnings_go_to_stderr(dm, tmp_path):
    # a run with warnings (unmatched rule, no key) vs the same run with -q: same stdout
    doc = {"tables": [{"tableName": "t", "columnMutations": [{"column": "b", "mutation": "static:Q"},
                                                             {"column": "zz", "mutation": "keep"}]}]}
    r = rules_file(tmp_path, doc)
    kf = write(tmp_path, "key", TEST_KEY)
    loud = dm("-c", r, "--key-file", kf, input=GOOD, env={"DUMPMASK_KEY": None})
    quiet = dm("-c", r, "--key-file", kf, "-q", input=GOOD, env={"DUMPMASK_KEY": None})
    assert loud.returncode == quiet.returncode == 0
    assert b"warning" in loud.stderr and b"zz" in loud.stderr
    assert quiet.stderr == b""
    assert loud.stdout == quiet.stdout
    assert loud.stdout == GOOD.replace(b"\ty\n", b"\tQ\n").replace(b"\tz\n", b"\tQ\n")
    assert b"warning" not in loud.stdout and b"dumpmask:" not in loud.stdout


def test_no_key_warns_ephemeral_and_runs_differ(dm, tmp_path):
    r = rules_file(tmp_path, one_rule())
    runs = []
    for i in range(2):
        audit = tmp_path / f"a{i}.json"
        cp = dm("-c", r, "--audit", audit, input=GOOD, env={"DUMPMASK_KEY": None})
        assert cp.returncode == 0, cp.stderr
        assert b"warning" in cp.stderr and b"key" in cp.stderr
        a = json.loads(audit.read_bytes())
        assert a["key"]["ephemeral"] is True
        runs.append((cp.stdout, a["key"]["fingerprint"]))
    assert runs[0][0] != runs[1][0]
    assert runs[0][1] != runs[1][1]


def test_same_key_two_runs_byte_identical(dm, tmp_path):
    r = rules_file(tmp_path, one_rule())
    a = dm("-c", r, input=GOOD)
    b = dm("-c", r, input=GOOD)
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout and b"alice@x.org" not in a.stdout


def test_key_file_equals_same_key_from_env(dm, tmp_path):
    r = rules_file(tmp_path, one_rule())
    kf = write(tmp_path, "key.txt", TEST_KEY + "\n")
    os.chmod(kf, 0o600)   # a key file others can read warns (#18)
    audit = tmp_path / "a.json"
    via_file = dm("-c", r, "--key-file", kf, "--audit", audit, input=GOOD, env={"DUMPMASK_KEY": None})
    via_env = dm("-c", r, input=GOOD)
    other = dm("-c", r, input=GOOD, env={"DUMPMASK_KEY": "5e0c2a9b7d4f1e3a8c6b0d2f4a9e7c1b3d5f8a0c2e4b6d9f1a3c5e7b0d2f4a6c"})
    assert via_file.returncode == 0 and b"warning" not in via_file.stderr
    assert via_file.stdout == via_env.stdout != other.stdout
    assert json.loads(audit.read_bytes())["key"]["ephemeral"] is False


def test_missing_key_file_is_an_error(dm, tmp_path):
    cp = dm("--key-file", tmp_path / "nope", input=GOOD)
    assert cp.returncode != 0 and b"nope" in cp.stderr
    assert_clean_stderr(cp)


# --------------------------------------------------------------------------- audit

def _iso_utc(s: str) -> dt.datetime:
    assert isinstance(s, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", s), s
    t = dt.datetime.fromisoformat(s)
    assert t.utcoffset() == dt.timedelta(0)
    return t


def _copy_rows(out: bytes, table: bytes) -> list[list[bytes]]:
    m = re.search(rb"^COPY " + re.escape(table) + rb" \(([^)]*)\) FROM stdin;\n(.*?)^\\\.\n", out, re.M | re.S)
    cols = [c.strip().decode() for c in m.group(1).split(b",")]
    return cols, [ln.split(b"\t") for ln in m.group(2).split(b"\n")[:-1]]


@pytest.fixture(scope="module")
def pagila_run(datasets, pii_rules, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    src = datasets / "pagila" / "pg_dump-copy.sql"
    audit = tmp / "run.json"
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, PYTHONPATH=str(REPO))
    cp = subprocess.run([sys.executable, "-m", "dumpmask", "-c", str(pii_rules), "--audit", str(audit), str(src)],
                        env=env, capture_output=True, timeout=300)
    assert cp.returncode == 0, cp.stderr.decode()
    return src, cp, json.loads(audit.read_bytes())


def test_audit_has_every_field_with_the_right_type(pagila_run):
    src, cp, a = pagila_run
    assert a["tool"] == "dumpmask"
    assert isinstance(a["version"], str) and a["version"]
    assert a["status"] == "ok" and a["error"] is None
    t0, t1 = _iso_utc(a["started_at"]), _iso_utc(a["finished_at"])
    assert t0 <= t1
    assert a["dialect"] == "postgres"
    for k in ("input", "output"):
        assert isinstance(a[k]["bytes"], int) and re.fullmatch(r"[0-9a-f]{64}", a[k]["sha256"])
    assert isinstance(a["key"]["fingerprint"], str) and a["key"]["ephemeral"] is False
    assert isinstance(a["tables"], dict) and isinstance(a["unmatched_rules"], list)
    assert isinstance(a["warnings"], list) and isinstance(a["passthrough"], dict)
    assert all(isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in a["passthrough"].items())


def test_audit_input_and_output_hashes(pagila_run):
    src, cp, a = pagila_run
    data = src.read_bytes()
    assert a["input"]["bytes"] == len(data)
    assert a["input"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert a["output"]["bytes"] == len(cp.stdout)
    assert a["output"]["sha256"] == hashlib.sha256(cp.stdout).hexdigest()


def test_audit_table_counts_match_the_data(pagila_run):
    src, cp, a = pagila_run
    cust = a["tables"]["public.customer"]
    assert cust["rows"] == 599
    cols, rows = _copy_rows(src.read_bytes(), b"public.customer")
    for c in ("email", "first_name", "last_name"):
        st = cust["columns"][c]
        assert isinstance(st["mutation"], str) and st["mutation"].startswith("faker.")
        nulls = sum(r[cols.index(c)] == b"\\N" for r in rows)
        assert st["nulls"] == nulls
        assert 0.99 * (599 - nulls) <= st["changed"] <= 599 - nulls
    assert cust["columns"]["email"]["mutation"] == "faker.email"
    assert a["tables"]["public.address"]["rows"] == 603
    assert a["unmatched_rules"] == []
    # passthrough: every COPY of a table without rules is counted once
    ncopy = len(re.findall(rb"^COPY ", src.read_bytes(), re.M))
    assert sum(v for k, v in a["passthrough"].items() if "COPY" in k.upper()) == ncopy - 3


def test_faker_email_unique_across_pagila_customers(pagila_run):
    src, cp, a = pagila_run
    cols, rows = _copy_rows(cp.stdout, b"public.customer")
    emails = [r[cols.index("email")] for r in rows]
    assert len(emails) == 599 and len(set(emails)) == 599
    orig = {r[cols.index("email")] for r in _copy_rows(src.read_bytes(), b"public.customer")[1]}
    assert not orig & set(emails)


def test_audit_key_fingerprint_is_not_the_key_and_differs_between_keys(dm, tmp_path):
    fps = []
    for i, key in enumerate([TEST_KEY, TEST_KEY, "5e0c2a9b7d4f1e3a8c6b0d2f4a9e7c1b3d5f8a0c2e4b6d9f1a3c5e7b0d2f4a6c"]):
        audit = tmp_path / f"a{i}.json"
        cp = dm("--audit", audit, input=GOOD, env={"DUMPMASK_KEY": key})
        assert cp.returncode == 0
        raw = audit.read_bytes()
        assert key.encode() not in raw
        assert key.encode().hex().encode() not in raw
        fp = json.loads(raw)["key"]["fingerprint"]
        assert fp and fp != key
        fps.append(fp)
    assert fps[0] == fps[1] != fps[2]


def test_audit_that_cannot_be_written_fails_the_run(dm, tmp_path):
    """--audit asked for evidence: a masked run without it is not complete (exit 1, one line
    naming the file and the error), whatever the dump."""
    dump = b"-- PostgreSQL database dump\nCREATE TABLE public.t (\n    email text\n);\nCOPY public.t (email) FROM stdin;\na@x.org\n\\.\n"
    rules = rules_file(tmp_path, {"tables": [{"tableName": "t", "columnMutations": [
        {"column": "email", "mutation": "faker.email"}]}]})
    cp = dm("-c", rules, "--audit", tmp_path / "no" / "such" / "dir" / "run.json", input=dump)
    assert cp.returncode == 1, cp.stderr
    err = cp.stderr.decode()
    assert "cannot write audit" in err and "run.json" in err and "Traceback" not in err
    assert b"a@x.org" not in cp.stdout and b"COPY public.t" in cp.stdout


def test_audit_written_when_the_run_fails(dm, tmp_path):
    dump, lines, _ = TRUNCATED["unterminated_copy_at_eof"]
    audit = tmp_path / "fail.json"
    cp = dm("-c", rules_file(tmp_path, one_rule()), "--audit", audit, input=dump)
    assert cp.returncode == 1
    a = json.loads(audit.read_bytes())
    assert a["status"] == "failed"
    assert isinstance(a["error"], str) and "COPY" in a["error"]
    assert any(f":{n}:" in a["error"] for n in lines), a["error"]
    _iso_utc(a["finished_at"])
    assert a["input"]["bytes"] == len(dump)
    assert a["output"]["sha256"] == hashlib.sha256(cp.stdout).hexdigest()


def test_audit_written_when_rules_fail_on_schema(dm, tmp_path):
    audit = tmp_path / "fail.json"
    cp = dm("-c", rules_file(tmp_path, one_rule(column="id", mutation="null")), "--audit", audit, input=GOOD)
    assert cp.returncode == 2
    a = json.loads(audit.read_bytes())
    assert a["status"] == "failed" and "NOT NULL" in a["error"]


def test_no_traceback_on_unreadable_input(dm, tmp_path):
    cp = dm(tmp_path / "missing.sql")
    assert cp.returncode != 0 and b"missing.sql" in cp.stderr
    assert_clean_stderr(cp)


def test_undetectable_dialect_is_an_error_not_a_guess(dm):
    cp = dm(input=b"hello world\n")
    assert cp.returncode == 1 and b"--dialect" in cp.stderr
    assert_clean_stderr(cp)


def test_warns_when_a_ruled_table_gets_no_masked_data(dm, tmp_path):
    """A rule that matched a CREATE TABLE but whose data arrived under another name (here a
    quoted "People", a different table in PostgreSQL) is said on stderr and in the audit."""
    dump = (b"-- PostgreSQL database dump\n"
            b"CREATE TABLE public.people (id integer NOT NULL, email text);\n"
            b'COPY public."People" (id, email) FROM stdin;\n1\ta@b.org\n\\.\n')
    rules = tmp_path / "r.json"
    rules.write_text('{"tables":[{"tableName":"people","columnMutations":[{"column":"email","mutation":"faker.email"}]}]}')
    audit = tmp_path / "a.json"
    cp = dm("-c", rules, "--audit", audit, input=dump)
    assert cp.returncode == 0
    assert b"public.people: rules apply to this table but no data of it was masked" in cp.stderr
    import json as _json
    assert any("no data of it was masked" in w for w in _json.loads(audit.read_bytes())["warnings"])
