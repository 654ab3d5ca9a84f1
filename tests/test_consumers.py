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
