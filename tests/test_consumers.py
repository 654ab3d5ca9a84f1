"""Slow and vanished consumers on stdout (issue #16): a reader that goes away ends the run
quietly with exit 141 (nothing on stderr, no worker left behind, the audit says failed) in every
stdout mode; a slow reader keeps dumpmask's memory flat (back-pressure to the input)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO, TEST_KEY

MODES = [["-j", "1"], ["-j", "2"], ["--compress", "gzip"], ["-j", "2", "--compress", "gzip"]]


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    d = tmp_path_factory.mktemp("consumers")
    path = d / "in.sql"
    rows = "".join(f"({i},'first{i}','last{i}','user{i}@example.org',{i % 7})," for i in range(1, 60_001))
    stmt = "INSERT INTO `customer` VALUES " + rows[:-1] + ";\n"
    path.write_text("-- MariaDB dump 10.19\nCREATE TABLE `customer` (\n  `customer_id` int(11) NOT NULL,\n"
                    "  `first_name` varchar(45),\n  `last_name` varchar(45),\n  `email` varchar(50),\n"
                    "  `store_id` int(11)\n);\n" + stmt * 8)
    rules = d / "r.json"
    rules.write_text((REPO / "bench" / "rules-3faker.json").read_text())
    return d, path, rules


def _start(args, stdout=subprocess.PIPE):
    env = {**os.environ, "DUMPMASK_KEY": TEST_KEY, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "dumpmask", *map(str, args)], stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=REPO)


def _processes_naming(marker: str) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        out.append(int(pid))
            except OSError:
                pass
    return out


@pytest.mark.parametrize("mode", MODES, ids=lambda m: " ".join(m))
def test_a_vanished_consumer_ends_the_run_quietly_with_141_and_no_workers_left(dump, mode):
    d, path, rules = dump
    audit = d / f"audit-{'-'.join(mode)}.json"
    p = _start(["-c", rules, *mode, "--audit", audit, path])
    p.stdout.read(100_000)
    p.stdout.close()              # the consumer goes away
    err = p.stderr.read()
    assert p.wait(timeout=120) == 141
    assert err == b""
    assert json.loads(audit.read_text())["status"] == "failed"
    deadline = time.time() + 10
    while _processes_naming(str(path)) and time.time() < deadline:
        time.sleep(0.1)
    assert _processes_naming(str(path)) == []


def _vmrss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@pytest.mark.parametrize("mode", [["-j", "1"], ["-j", "2"]], ids=lambda m: " ".join(m))
def test_a_slow_reader_keeps_memory_flat(dump, mode):
    """The reader takes 64 KB, then sleeps: dumpmask waits (the pipe is full) instead of
    buffering its output; its RSS while stalled stays near its RSS early in the run."""
    d, path, rules = dump
    p = _start(["-c", rules, *mode, path])
    fd = p.stdout.fileno()
    got, samples, t0 = 0, [], time.time()
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        got += len(b)
        if got < 12_000_000:
            time.sleep(0.002)
            samples.append(_vmrss_kb(p.pid))
    assert p.wait(timeout=120) == 0, p.stderr.read()
    size = path.stat().st_size
    assert got > size * 0.9
    samples = [s for s in samples if s]
    early = max(samples[:20])
    # flat: the stalled run does not hold the output it could not write (the dump is ~40 MB)
    assert max(samples) < early + 24_000, (early, max(samples), time.time() - t0)


def test_a_vanished_consumer_under_cluster_is_quiet_too(dump):
    """--cluster (a LocalCluster on 127.0.0.1, as tests/test_cluster.py): the same 141, nothing
    on stderr, a failed audit; the cluster's workers stay up for the next run."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, processes=True, host="127.0.0.1", threads_per_worker=1,
                                       dashboard_address=None)
    try:
        d, path, rules = dump
        audit = d / "audit-cluster.json"
        p = _start(["-c", rules, "--cluster", cluster.scheduler_address, "--audit", audit, path])
        p.stdout.read(100_000)
        p.stdout.close()
        err = p.stderr.read()
        assert p.wait(timeout=120) == 141
        assert err == b""
        assert json.loads(audit.read_text())["status"] == "failed"
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as c:
            assert len(c.scheduler_info()["workers"]) == 1
    finally:
        cluster.close()


# --------------------------------------------------------------------------- archives on stdout
ARCHIVE_SQL = """
CREATE TABLE public.customer (id serial PRIMARY KEY, first_name text, last_name text, email text, store_id int);
INSERT INTO public.customer (first_name, last_name, email, store_id)
  SELECT 'first' || g, 'last' || g, 'user' || g || '@example.org', g % 7 FROM generate_series(1, 200000) g;
CREATE TABLE public.note (id serial PRIMARY KEY, customer_id int REFERENCES public.customer(id), body text);
INSERT INTO public.note (customer_id, body) SELECT 1 + g % 200000, 'note ' || g FROM generate_series(1, 50000) g;
"""
ARCHIVE_RULES = {"tables": [{"tableName": "customer", "columnMutations": [
    {"column": "first_name", "mutation": "faker.firstName"}, {"column": "email", "mutation": "faker.email"}]},
    {"tableName": "note", "columnMutations": [{"column": "body", "mutation": "redact"}]}]}


@pytest.fixture(scope="module")
def archives(pg_server, tmp_path_factory):
    """pg_dump -Fc (compressed and -Z0) of a schema made here, some 10 MB of SQL in two tables."""
    d = tmp_path_factory.mktemp("consumer-archives")
    db = pg_server.createdb("consumer_archive")
    pg_server.psql(db, ARCHIVE_SQL)
    got = {}
    for name, args in (("custom", ("-Fc",)), ("custom_z0", ("-Fc", "-Z0"))):
        got[name] = d / f"{name}.dump"
        got[name].write_bytes(pg_server.dump(db, *args))
    rules = d / "r.json"
    rules.write_text(json.dumps(ARCHIVE_RULES))
    return d, got, rules


ARCHIVE_MODES = [("custom", ["-j", "1"]), ("custom", ["-j", "2"]), ("custom_z0", ["-j", "1"]),
                 ("custom_z0", ["-j", "2"]), ("custom", ["stdin"])]


@pytest.mark.servers
@pytest.mark.parametrize("which,mode", ARCHIVE_MODES, ids=lambda m: m if isinstance(m, str) else " ".join(m))
def test_a_vanished_consumer_of_an_archive_on_stdout_ends_the_run_quietly(archives, which, mode):
    """`dumpmask -c r.json prod.dump -o - | head -c 100`: a custom archive written to stdout (the
    whole archive is written at the end, after its TOC is known) to a reader that takes 100
    bytes and goes away: exit 141, nothing on stderr, a failed audit, no worker left, and no
    temporary file left beside the audit."""
    from consumer_pipe import run_into_vanishing_reader

    d, got, rules = archives
    src = got[which]
    audit = d / f"audit-{which}-{'-'.join(mode)}.json"
    env = {**os.environ, "DUMPMASK_KEY": TEST_KEY, "PYTHONPATH": str(REPO)}
    before = set(os.listdir(d))
    if mode == ["stdin"]:
        with open(src, "rb") as f:
            rc, head, err = run_into_vanishing_reader(
                [sys.executable, "-m", "dumpmask", "-c", str(rules), "--audit", str(audit), "-", "-o", "-"],
                env=env, cwd=REPO, stdin=f)
    else:
        rc, head, err = run_into_vanishing_reader(
            [sys.executable, "-m", "dumpmask", "-c", str(rules), *mode, "--audit", str(audit), str(src), "-o", "-"],
            env=env, cwd=REPO)
    assert rc == 141, err
    assert err == b""
    assert head.startswith(b"PGDMP")           # it was the archive that was cut
    assert json.loads(audit.read_text())["status"] == "failed"
    assert set(os.listdir(d)) - before == {audit.name}
    deadline = time.time() + 10
    while _processes_naming(str(src)) and time.time() < deadline:
        time.sleep(0.1)
    assert _processes_naming(str(src)) == []


@pytest.mark.servers
def test_the_archive_to_a_reader_that_stays_is_whole(archives, tmp_path):
    """The counterpart: the same run read to its end exits 0 and writes the archive -o FILE writes."""
    d, got, rules = archives
    env = {**os.environ, "DUMPMASK_KEY": TEST_KEY, "PYTHONPATH": str(REPO)}
    cp = subprocess.run([sys.executable, "-m", "dumpmask", "-q", "-c", str(rules), str(got["custom"]), "-o", "-"],
                        capture_output=True, env=env, cwd=REPO, timeout=300)
    assert cp.returncode == 0, cp.stderr
    out = tmp_path / "o.dump"
    cp2 = subprocess.run([sys.executable, "-m", "dumpmask", "-q", "-c", str(rules), str(got["custom"]), "-o", str(out)],
                         capture_output=True, env=env, cwd=REPO, timeout=300)
    assert cp2.returncode == 0, cp2.stderr
    assert cp.stdout == out.read_bytes() and len(cp.stdout) > 1 << 20
