"""Backup-grade outputs (issue #16): `-o`, `--audit`, `--report` and `rules init -o` appear under
their name only when complete; a failed, full or killed run leaves the previous file as it was
and no temporary file behind; write errors (a full disk, a file-size limit, /dev/full) end the
run with exit 1 and a message that names the file, never a traceback."""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, TEST_KEY, unavailable

DUMP = b"".join([
    b"CREATE TABLE public.t (id integer, email text);\n",
    b"COPY public.t (id, email) FROM stdin;\n",
    *(f"{i}\tuser{i}@corp.example\n".encode() for i in range(1, 20001)),
    b"\\.\n",
])
RULES = {"tables": [{"tableName": "t", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]}


def run(tmp_path, *args, limit: int | None = None, input: bytes | None = None, stdout=None):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, PYTHONPATH=str(REPO))

    def cap():
        if limit is not None:   # a writer that fails after `limit` bytes: the kernel's own EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return subprocess.run([sys.executable, "-m", "dumpmask", "-q", "-c", str(rules), *map(str, args)],
                          input=input, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          preexec_fn=cap, timeout=300)


def leftovers(folder: Path) -> list:
    return [p.name for p in folder.iterdir() if ".dumpmask-" in p.name]


@pytest.fixture
def dump(tmp_path):
    p = tmp_path / "in.sql"
    p.write_bytes(DUMP)
    return p


def test_output_appears_only_when_the_run_succeeded(tmp_path, dump):
    out = tmp_path / "snapshot.sql"
    r = run(tmp_path, dump, "-o", out)
    assert r.returncode == 0, r.stderr.decode()
    good = out.read_bytes()
    assert b"user1@corp.example" not in good and good.endswith(b"\\.\n")
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    # a run that fails half way (a row with a field too many) leaves yesterday's snapshot
    bad = tmp_path / "bad.sql"
    bad.write_bytes(DUMP.replace(b"10000\tuser10000@corp.example\n", b"10000\tx\ty\n"))
    r = run(tmp_path, bad, "-o", out, "--audit", tmp_path / "a.json")
    assert r.returncode == 1
    assert out.read_bytes() == good
    assert json.loads((tmp_path / "a.json").read_text())["status"] == "failed"
    assert leftovers(tmp_path) == []


def test_the_input_named_as_output_is_not_destroyed(tmp_path, dump):
    before = dump.read_bytes()
    bad = dump.read_bytes().replace(b"5\tuser5@corp.example\n", b"5\tx\ty\n")
    dump.write_bytes(bad)
    r = run(tmp_path, dump, "-o", dump)      # fails on row 5: the file it reads from is intact
    assert r.returncode == 1 and dump.read_bytes() == bad != before


def test_a_writer_that_fails_after_n_bytes(tmp_path, dump):
    out = tmp_path / "snapshot.sql"
    out.write_bytes(b"previous good snapshot\n")
    r = run(tmp_path, dump, "-o", out, "--audit", tmp_path / "a.json", limit=200_000)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert f"cannot write {out}" in err and "File too large" in err and "Traceback" not in err
    assert out.read_bytes() == b"previous good snapshot\n"
    audit = json.loads((tmp_path / "a.json").read_text())
    assert audit["status"] == "failed" and str(out) in audit["error"]
    assert leftovers(tmp_path) == []


def test_a_report_that_cannot_be_written_fails_the_run_and_keeps_no_output(tmp_path):
    out = tmp_path / "snapshot.sql"
    small = tmp_path / "small.sql"
    small.write_bytes(DUMP[:DUMP.index(b"100\tuser")] + b"\\.\n")
    # the output (a few KB) and the audit fit under the limit; the PDF (with its fonts) does not
    r = run(tmp_path, small, "-o", out, "--report", tmp_path / "r.pdf", limit=24_000)
    if r.returncode == 0:
        pytest.fail(f"the report fitted under the limit ({(tmp_path / 'r.pdf').stat().st_size} bytes)")
    assert "cannot write" in r.stderr.decode() and "r.pdf" in r.stderr.decode()
    assert not (tmp_path / "r.pdf").exists() and not out.exists()
    assert leftovers(tmp_path) == []


def test_stdout_on_a_full_device(tmp_path, dump):
    with open("/dev/full", "wb") as full:
        r = run(tmp_path, dump, stdout=full)
    assert r.returncode == 1
    assert "cannot write stdout: No space left on device" in r.stderr.decode()


def test_a_killed_run_leaves_only_the_previous_file(tmp_path):
    out = tmp_path / "snapshot.sql"
    out.write_bytes(b"previous good snapshot\n")
    big = tmp_path / "big.sql"
    with open(big, "wb") as fh:
        fh.write(DUMP[:DUMP.index(b"\\.\n")])
        for _ in range(40):
            fh.write(b"".join(f"{i}\tmore{i}@corp.example\n".encode() for i in range(20001, 60001)))
        fh.write(b"\\.\n")
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-m", "dumpmask", "-q", "-c", str(rules), str(big), "-o", str(out)],
                         env=env, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not leftovers(tmp_path) and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    if p.poll() is not None:
        unavailable("the run ended before it could be killed")
    time.sleep(0.3)
    p.kill()
    p.wait()
    assert out.read_bytes() == b"previous good snapshot\n"    # the temporary file is not under the name


def test_rules_init_writes_atomically(tmp_path, dump):
    out = tmp_path / "rules-out.json"
    out.write_text("{}")
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "dumpmask", "rules", "init", str(dump), "-o", str(out)],
                       capture_output=True, env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(out.read_text())["options"]["unlisted"] == "fail"
    assert leftovers(tmp_path) == []


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_dev_null_a_fifo_and_a_symlink_stay_what_they_are(tmp_path, dump):
    """Renaming a temporary file over /dev/null (as root) would replace the device: an output
    that is not a regular file is written in place; a symlink keeps pointing at its file."""
    r = run(tmp_path, dump, "-o", "/dev/null", "--audit", "/dev/null")
    assert r.returncode == 0, r.stderr.decode()
    assert Path("/dev/null").is_char_device()
    target = tmp_path / "target.sql"
    target.write_bytes(b"old\n")
    link = tmp_path / "link.sql"
    link.symlink_to(target)
    r = run(tmp_path, dump, "-o", link)
    assert r.returncode == 0 and link.is_symlink() and target.read_bytes().endswith(b"\\.\n")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # the reader writes to a file: a PIPE nobody drains until the run ends would fill (64 KiB) and
    # block both cat and dumpmask
    got = tmp_path / "from-fifo.sql"
    with open(got, "wb") as sink:
        reader = subprocess.Popen(["cat", str(fifo)], stdout=sink)
        r = run(tmp_path, dump, "-o", fifo)
        reader.wait(timeout=60)
    assert r.returncode == 0 and got.read_bytes().endswith(b"\\.\n") and fifo.is_fifo()


def test_a_growing_output_starts_its_writeback_as_it_goes(tmp_path, monkeypatch):
    """AtomicFile tells the kernel to start writing every WRITEBACK_EVERY bytes (so the commit's
    fsync waits for the last stretch only): the starts cover the file in order, without a gap,
    and the file's bytes are what was written, with the hint taken or not."""
    from dumpmask import atomic, speedups

    assert speedups.start_writeback is not None
    calls = []
    monkeypatch.setattr(atomic, "WRITEBACK_EVERY", 1 << 20)
    monkeypatch.setattr(atomic, "start_writeback", lambda fd, offset: calls.append((fd, offset)) or True)
    pieces = [bytes([i % 251]) * (300_000 + 1_000 * i) for i in range(40)]
    f = atomic.AtomicFile(str(tmp_path / "out.sql"))
    for piece in pieces:
        f.write(piece)
    f.commit()
    total = sum(map(len, pieces))
    assert (tmp_path / "out.sql").read_bytes() == b"".join(pieces)
    offsets = [o for _, o in calls]
    assert len(calls) >= total // (1 << 20) - 2 and offsets[0] == 0
    assert offsets == sorted(offsets) and offsets[-1] > total - (2 << 20)
    # each start begins where the kernel's bytes began to be new (at most the 64 KiB buffer back)
    assert all(b - a <= (1 << 20) + 400_000 for a, b in zip(offsets, offsets[1:], strict=False))


def test_writeback_is_a_hint_a_pipe_or_no_extension_declines(tmp_path, monkeypatch):
    """The C call starts a regular file's writes (True) and declines a pipe (False); its twin
    without the extension declines everything. A declined hint is not asked again, and the
    output is the same bytes."""
    from dumpmask import atomic, speedups

    c = speedups.function("start_writeback")
    if c is not None and sys.platform.startswith("linux"):
        fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
        try:
            os.write(fd, b"x" * 100_000)
            assert c(fd, 0) is True
        finally:
            os.close(fd)
        r, w = os.pipe()
        try:
            assert c(w, 0) is False
        finally:
            os.close(r)
            os.close(w)
    assert speedups._no_writeback(0, 0) is False
    calls = []
    monkeypatch.setattr(atomic, "WRITEBACK_EVERY", 1 << 16)
    monkeypatch.setattr(atomic, "start_writeback", lambda fd, offset: calls.append(offset) is not None)
    f = atomic.AtomicFile(str(tmp_path / "o"))
    for _ in range(20):
        f.write(b"y" * 70_000)
    f.commit()
    assert len(calls) == 1 and (tmp_path / "o").read_bytes() == b"y" * 1_400_000
