"""-j N (#13): data blocks masked in N worker processes give the same output bytes, audit
(but for options.workers) and exit code as -j 1, on every dataset dump, both dialects, with
remapping, --strict, --template, --first/--last, file and pipe: the golden cases again, with
-j 2. Errors read the same too (a block that fails in a worker is masked again in-process
with the exact rows before it)."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))
import run as golden  # noqa: E402
from cases import cases  # noqa: E402

CASES = ["pg-copy-wide-keys", "pg-copy-keys-pipe", "pg-copy-last", "pg-copy-template-all", "pg-copy-strict",
         "pg-inserts-wide-keys", "pg-inserts-first", "pg-data-only-keys-schema",
         "my-default-wide-keys", "my-default-keys-pipe", "my-default-keys-last", "my-default-template-hipaa",
         "my-hexblob-wide-keys", "my-default-wide-strict", "demo"]


@pytest.mark.slow
def test_two_workers_give_the_golden_bytes(datasets):
    expected = json.loads((GOLDEN / "manifest.json").read_text())
    chosen = [c for c in cases() if c[0] in CASES]
    assert len(chosen) == len(CASES)
    with tempfile.TemporaryDirectory() as scratch:
        got = {name: golden.run_case((name, [*args, "-j", "2"], stdin), Path(scratch)) for name, args, stdin in chosen}
    assert golden.differences({n: expected[n] for n in CASES}, got) == []


def _copy_dump(rows: int, bad_at: int | None) -> bytes:
    body = b"".join((b"x%d" % i if i == bad_at else b"%d" % i) + b"\tperson%d@example.org\n" % i for i in range(1, rows + 1))
    return (b"-- PostgreSQL database dump\nCREATE TABLE public.person (\n    id integer NOT NULL,\n    email text\n);\n"
            b"COPY public.person (id, email) FROM stdin;\n" + body + b"\\.\n"
            b"ALTER TABLE ONLY public.person\n    ADD CONSTRAINT person_pkey PRIMARY KEY (id);\n")


def test_an_error_in_a_worker_reads_as_with_one_job(dm, tmp_path):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"identifierRemapping": {"enabled": True}},
                                 "tables": [{"tableName": "person", "columnMutations": [
                                     {"column": "email", "mutation": "faker.email"}]}]}))
    dump = tmp_path / "d.sql"
    dump.write_bytes(_copy_dump(120_000, bad_at=95_001))     # ~4 MB: several blocks, the bad one in a worker
    one = dm("-c", rules, dump, "-j", "1")
    two = dm("-c", rules, dump, "-j", "2")
    assert one.returncode == two.returncode == 1
    assert b"row 95001" in one.stderr and b"x95001" not in one.stderr
    assert two.stderr == one.stderr
    assert two.stdout == one.stdout          # the blocks before it, then the poison line
    ok = tmp_path / "ok.sql"
    ok.write_bytes(_copy_dump(120_000, bad_at=None))
    assert dm("-c", rules, ok, "-j", "2").stdout == dm("-c", rules, ok, "-j", "1").stdout


def test_jobs_must_be_a_count(dm, tmp_path):
    cp = dm("-j", "-1", "-")
    assert cp.returncode == 2 and b"Traceback" not in cp.stderr


def _worker_pids(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the worker processes through /proc (Linux)")
def test_a_worker_killed_in_the_middle_fails_the_run_closed(tmp_path):
    """SIGKILL to a worker (the OOM killer, an operator) while a dump streams in on a pipe:
    exit 1, a message that says so (no traceback), an output that cannot restore, a failed
    audit."""
    import os
    import signal
    import subprocess
    import time

    from conftest import REPO, TEST_KEY
    from dumpmask.engine import POISON

    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "person", "columnMutations": [
        {"column": "email", "mutation": "faker.email"}]}]}))
    dump = _copy_dump(300_000, bad_at=None)                  # ~10 MB: many blocks
    head, rest = dump[:3_000_000], dump[3_000_000:]
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, PYTHONPATH=str(REPO))
    audit, output = tmp_path / "a.json", tmp_path / "out.sql"
    with open(output, "wb") as out:    # a file: the output does not wait for this test to read it
        proc = subprocess.Popen([sys.executable, "-m", "dumpmask", "-c", str(rules), "-j", "2", "--audit", str(audit),
                                 "-"], stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE, env=env, cwd=REPO)
    try:
        proc.stdin.write(head)
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while len(_worker_pids(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _worker_pids(proc.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        try:
            proc.stdin.write(rest)
            proc.stdin.close()
        except BrokenPipeError:
            pass                                             # it stopped reading: already failed
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err
    assert b"worker process" in err and b"SIGKILL" in err and b"Traceback" not in err
    assert output.read_bytes().endswith(POISON)
    assert json.loads(audit.read_text())["status"] == "failed"
    assert _worker_pids(proc.pid) == []
