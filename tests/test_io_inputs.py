"""Input handling (issue 11): archives refused by their first bytes (compressed plain dumps are
read: tests/test_compression.py),
empty input, SIGTERM / SIGHUP ending a run like Ctrl-C (poison line, failed audit, 128+n)
so that a psql --single-transaction restore fed through a pipe commits nothing."""
from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from conftest import REPO, TEST_KEY

POISON = b"DUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;"
SQL = (b"-- PostgreSQL database dump\nSET client_encoding = 'UTF8';\n"
       b"CREATE TABLE public.p (id integer NOT NULL, email text);\n"
       b"COPY public.p (id, email) FROM stdin;\n1\tsecret.person@example.org\n\\.\n")
RULES = {"tables": [{"tableName": "p", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]}


def _env():
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _archives(tmp_path) -> dict[str, tuple[bytes, str]]:
    zp = tmp_path / "z.zip"
    with zipfile.ZipFile(zp, "w") as z:
        z.writestr("dump.sql", SQL)
    out = {"zip": (zp.read_bytes(), "unzip -p"), "7z": (b"7z\xbc\xaf\x27\x1c" + b"\x00" * 40, "7z x -so"),
           # an archive inside a compression is refused as that archive
           "zip.gz": (gzip.compress(zp.read_bytes()), "unzip -p"), "zip.xz": (lzma.compress(zp.read_bytes()), "unzip -p"),
           "gzip twice": (gzip.compress(gzip.compress(SQL)), "compressed twice")}
    return out


def _check_refused(cp, hint: str, name: str):
    assert cp.returncode == 1, (name, cp.returncode, cp.stderr)
    assert hint.encode() in cp.stderr, (name, cp.stderr)
    assert b"secret.person" not in cp.stdout and b"PGDMP" not in cp.stdout
    # nothing of the input, at most the poison line that makes a restore fail
    assert cp.stdout.strip() in (b"", POISON) or cp.stdout.rstrip().endswith(POISON), cp.stdout[:200]


@pytest.mark.parametrize("via", ["file", "pipe"])
def test_zip_and_7z_input_refused(tmp_path, dm, via):
    rp = tmp_path / "r.json"
    rp.write_text(json.dumps(RULES))
    for name, (data, hint) in _archives(tmp_path).items():
        f = tmp_path / f"in.{name}"
        f.write_bytes(data)
        args = [str(f)] if via == "file" else []
        inp = b"" if via == "file" else data
        _check_refused(dm("-c", rp, *args, input=inp), hint, name)
        if via == "file":
            _check_refused(dm("scan", f), hint, name)
            _check_refused(dm("preview", "-c", rp, f), hint, name)
            plain = tmp_path / "plain.sql"
            plain.write_bytes(SQL)
            _check_refused(dm("verify", f, plain, "-c", rp), hint, name)
            _check_refused(dm("verify", plain, f, "-c", rp), hint, name)
            _check_refused(dm("-c", rp, "--schema", f, input=SQL), hint, name)


def test_pg_dump_archives_refused_where_not_read(tmp_path, dm, pg_server):
    """-Fc and -Fd archives given as a path, and -Fc on stdin, are read by mask
    (tests/test_archive.py); a -Fc archive gzipped on stdin, a -Ft archive anywhere, and any
    archive given to scan / preview / --schema are refused with the command that converts them
    (for -Ft: pg_restore -f -, or dump again with -Fc / -Fd)."""
    import gzip

    db = pg_server.createdb("io_archives")
    pg_server.psql(db, "CREATE TABLE p (id int PRIMARY KEY, email text);"
                       "INSERT INTO p VALUES (1, 'secret.person@example.org');")
    rp = tmp_path / "r.json"
    rp.write_text(json.dumps(RULES))
    for fmt in ("c", "t"):
        data = pg_server.dump(db, f"-F{fmt}")
        f = tmp_path / f"dump.{fmt}"
        f.write_bytes(data)
        runs = [([], data if fmt == "t" else gzip.compress(data))] + ([([f], b"")] if fmt == "t" else [])
        for args, inp in runs:
            cp = dm("-c", rp, *args, input=inp)
            _check_refused(cp, "pg_restore -f -", fmt)
            assert (b"-Fc" if fmt == "c" else b"-Ft") in cp.stderr
            if fmt == "t":
                assert b"pg_dump -Fc / -Fd" in cp.stderr     # the other way: dump it again
            else:
                assert b"inside its gzip compression" in cp.stderr and b"from a file or standard input" in cp.stderr
        _check_refused(dm("scan", f), "pg_restore -f -", fmt)
        _check_refused(dm("-c", rp, "--schema", f, input=SQL), "pg_restore -f -", fmt)
    d = tmp_path / "dir"
    subprocess.run([pg_server.bin("pg_dump"), "-Fd", "-f", str(d), "-d", db], env=pg_server.env, check=True)
    _check_refused(dm("scan", d), f"pg_restore -f - {d}", "dir")
    _check_refused(dm("preview", "-c", rp, d), "pg_restore -f -", "dir")
    _check_refused(dm("-c", rp, "--schema", d, input=SQL), "pg_restore -f -", "dir")


@pytest.mark.parametrize("data", [b"", b"\n", b"  \n\t\r\n", b"\n" * 70000])
def test_empty_input(tmp_path, dm, data):
    f = tmp_path / "empty.sql"
    f.write_bytes(data)
    rp = tmp_path / "r.json"
    rp.write_text(json.dumps(RULES))
    for cp in (dm("-c", rp, f), dm("-c", rp, input=data), dm("scan", f), dm("preview", "-c", rp, f),
               dm("verify", f, f, "-c", rp)):
        assert cp.returncode == 1, cp.stderr
        assert b"empty input" in cp.stderr, cp.stderr


def test_blank_lines_then_dump_is_not_empty(tmp_path, dm):
    cp = dm("--dialect", "postgres", input=b"\n" * 9000 + SQL)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == b"\n" * 9000 + SQL


# --------------------------------------------------------------------------- signals

FEEDER = r"""
import sys, time
out = sys.stdout.buffer
out.write(b"-- PostgreSQL database dump\nSET client_encoding = 'UTF8';\n"
          b"CREATE TABLE public.big (id integer NOT NULL, email text, note text);\n"
          b"COPY public.big (id, email, note) FROM stdin;\n")
for i in range(60000):
    out.write(b"%d\tuser%d@example.org\tsome note text for row %d\n" % (i, i, i))
out.flush()
open(sys.argv[1], "w").close()
time.sleep(120)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("masked", [False, True])
def test_signal_mid_stream_commits_nothing(tmp_path, pg_server, sig, masked):
    """feeder | dumpmask | psql --single-transaction; dumpmask is killed while its input is
    still open: the restore must fail and leave nothing."""
    db = pg_server.createdb(f"io_sig_{int(sig)}_{int(masked)}")
    rp = tmp_path / "r.json"
    rules = {"tables": [{"tableName": "big", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]}
    rp.write_text(json.dumps(rules if masked else {"tables": []}))
    ready = tmp_path / "fed"
    audit = tmp_path / "run.json"
    feeder = subprocess.Popen([sys.executable, "-c", FEEDER, str(ready)], stdout=subprocess.PIPE)
    dmp = subprocess.Popen([sys.executable, "-m", "dumpmask", "-c", str(rp), "--audit", str(audit)],
                           stdin=feeder.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=REPO)
    feeder.stdout.close()
    psql = subprocess.Popen([pg_server.bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                             "-d", db], stdin=dmp.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=pg_server.env)
    dmp.stdout.close()
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the feeder did not write its rows"
        time.sleep(1.5)   # dumpmask reads and writes what it was given (more than its 1 MB buffer)
        assert dmp.poll() is None, dmp.stderr.read()
        dmp.send_signal(sig)
        rc = dmp.wait(timeout=60)
        err = dmp.stderr.read()
        psql_rc = psql.wait(timeout=60)
    finally:
        for p in (feeder, dmp, psql):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert rc == 128 + int(sig), (rc, err)
    assert f"terminated by {sig.name}".encode() in err, err
    assert b"Traceback" not in err
    a = json.loads(audit.read_text())
    assert a["status"] == "failed" and a["error"].startswith(f"terminated by {sig.name}"), a["error"]
    assert psql_rc != 0
    # nothing committed: the table the dump creates does not exist
    assert pg_server.scalar(db, "SELECT count(*) FROM pg_class WHERE relname = 'big'") == "0"
