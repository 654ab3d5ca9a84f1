"""mask --cluster ADDRESS (#13): the data blocks masked on the workers of a real Dask cluster
(distributed.LocalCluster, two worker processes on 127.0.0.1, one thread each) give the same
bytes, audit counts and exit code as -j 1: Pagila and Sakila dumps and generated bench
inputs, with key remapping, detection, --strict, --first/--last, a file and a pipe. An
error in a worker reads as with -j 1 (re-run in-process). What the cluster can break ends
the run with exit 1, a clear message, no traceback, and an output that makes a restore
fail: nothing listening at the address, no worker, the scheduler going away mid-run. A
worker killed mid-run is replaced and its blocks run again: the same bytes."""
from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import distributed   # the test extra installs dumpmask[cluster]: never skipped
import pytest

from conftest import REPO, TEST_KEY

from dumpmask.engine import POISON

GEN_PATH = REPO / "bench" / "gen.py"
_spec = importlib.util.spec_from_file_location("bench_gen", GEN_PATH)
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

# every test here starts or uses a Dask cluster and dumpmask runs (seconds each): not in `make check`
pytestmark = pytest.mark.slow

LOCAL = dict(processes=True, host="127.0.0.1", threads_per_worker=1, dashboard_address=None)


@pytest.fixture(scope="module")
def dask_cluster():
    cluster = distributed.LocalCluster(n_workers=2, **LOCAL)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def client(dask_cluster):
    c = distributed.Client(dask_cluster.scheduler_address, set_as_default=False)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    """bench/gen.py inputs of a few MB: several ~1 MB blocks per table."""
    d = tmp_path_factory.mktemp("gen")
    paths = {}
    for dialect, size in (("pg", 3_500_000), ("mysql", 3_000_000)):
        buf = io.BytesIO()
        gen.generate(dialect, size, buf, 42)
        paths[dialect] = d / f"{dialect}.sql"
        paths[dialect].write_bytes(buf.getvalue())
    return paths


def _env() -> dict:
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _piped(tmp_path, *args) -> subprocess.Popen:
    """dumpmask reading a pipe the test writes to, its output and messages to files (a test
    that writes stdin while nobody reads stdout would block on a full pipe)."""
    out, err = open(tmp_path / "out.sql", "wb"), open(tmp_path / "err.txt", "wb")
    with out, err:
        return subprocess.Popen([sys.executable, "-m", "dumpmask", *map(str, args), "-"], stdin=subprocess.PIPE,
                                stdout=out, stderr=err, env=_env(), cwd=REPO)


def _finish(proc: subprocess.Popen, rest: bytes, tmp_path) -> subprocess.CompletedProcess:
    try:
        proc.communicate(rest, timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, (tmp_path / "out.sql").read_bytes(),
                                       (tmp_path / "err.txt").read_bytes())


def _dm(*args, input: bytes = b"", env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dumpmask", *map(str, args)], input=input, env=env or _env(),
                          cwd=REPO, capture_output=True, timeout=timeout)


_VARYING = ("started_at", "finished_at", "duration_s", "signature", "options", "output")


def _same_run(tmp_path, address, *args, stdin: Path | None = None) -> dict:
    """Run `args` with -j 1 and with --cluster: the same exit code, stdout, stderr and audit
    (but for the times, the signature and options.cluster). The cluster run's audit."""
    runs = {}
    for name, extra in (("one", ["-j", "1"]), ("cluster", ["--cluster", address])):
        audit = tmp_path / f"{name}.json"
        data = stdin.read_bytes() if stdin is not None else b""
        cp = _dm("-q", "--audit", audit, *args, *extra, input=data)
        runs[name] = (cp, json.loads(audit.read_text()))
    (one, a1), (cl, a2) = runs["one"], runs["cluster"]
    assert b"Traceback" not in cl.stderr
    assert (cl.returncode, cl.stderr) == (one.returncode, one.stderr)
    assert cl.stdout == one.stdout
    # (a failed run stops reading where it fails: how far it had read ahead is not compared)
    varying = _VARYING + (("input",) if a1["status"] == "failed" else ())
    assert {k: v for k, v in a2.items() if k not in varying} == {k: v for k, v in a1.items() if k not in varying}
    assert a2["output"]["sha256"] == a1["output"]["sha256"]
    assert {k: v for k, v in a2["options"].items() if k != "cluster"} == a1["options"]
    assert "cluster" not in a1["options"]
    assert a2["options"]["cluster"]["scheduler"] == address
    return a2


def test_pagila_keys_strict_detection_are_the_same_on_the_cluster(dask_cluster, dataset, shared_rule, tmp_path):
    audit = _same_run(tmp_path, dask_cluster.scheduler_address, "-c", shared_rule("pagila-keys.json"), "--strict",
                      "--template", "all", dataset("pagila/pg_dump-copy.sql"))
    assert audit["status"] == "ok" and audit["identifierRemapping"]["enabled"]
    assert audit["options"]["cluster"]["blocks"] > 0 and audit["options"]["cluster"]["workers"] >= 1
    assert audit["options"]["cluster"]["bytes_sent"] > 0 and audit["options"]["cluster"]["bytes_received"] > 0


def test_sakila_keys_detection_last_rows_are_the_same_on_the_cluster(dask_cluster, dataset, shared_rule, tmp_path):
    audit = _same_run(tmp_path, dask_cluster.scheduler_address, "-c", shared_rule("sakila-keys.json"), "--last", "500",
                      "--template", "hipaa", dataset("sakila/mariadb-dump-default.sql"))
    assert audit["status"] == "ok" and audit["options"]["cluster"]["blocks"] > 0


def test_generated_pg_with_keys_and_first_rows_is_the_same_on_the_cluster(dask_cluster, generated, tmp_path):
    audit = _same_run(tmp_path, dask_cluster.scheduler_address, "-c", REPO / "bench" / "rules-keys.json",
                      "--first", "20000", generated["pg"])
    # filtered COPY blocks (each line's row shipped with it) went to both workers
    assert audit["options"]["cluster"]["workers"] == 2 and audit["options"]["cluster"]["blocks"] >= 3


def test_a_gzip_dump_on_a_pipe_compressed_out_is_the_same_on_the_cluster(dask_cluster, generated, tmp_path):
    import gzip

    packed = tmp_path / "pg.sql.gz"
    packed.write_bytes(gzip.compress(generated["pg"].read_bytes(), 1))
    audit = _same_run(tmp_path, dask_cluster.scheduler_address, "-c", REPO / "bench" / "rules-3faker.json",
                      "--compress", "gzip", "-", stdin=packed)
    assert audit["options"]["cluster"]["blocks"] >= 3


def test_generated_mysql_with_keys_and_last_rows_is_the_same_on_the_cluster(dask_cluster, generated, tmp_path):
    audit = _same_run(tmp_path, dask_cluster.scheduler_address, "-c", REPO / "bench" / "rules-keys.json",
                      "--last", "9000", generated["mysql"])
    assert audit["options"]["cluster"]["blocks"] >= 2


def _copy_dump(rows: int, bad_at: int | None) -> bytes:
    body = b"".join((b"x%d" % i if i == bad_at else b"%d" % i) + b"\tperson%d@example.org\n" % i for i in range(1, rows + 1))
    return (b"-- PostgreSQL database dump\nCREATE TABLE public.person (\n    id integer NOT NULL,\n    email text\n);\n"
            b"COPY public.person (id, email) FROM stdin;\n" + body + b"\\.\n"
            b"ALTER TABLE ONLY public.person\n    ADD CONSTRAINT person_pkey PRIMARY KEY (id);\n")


def test_an_error_on_a_worker_reads_as_with_one_job(dask_cluster, tmp_path):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"identifierRemapping": {"enabled": True}},
                                 "tables": [{"tableName": "person", "columnMutations": [
                                     {"column": "email", "mutation": "faker.email"}]}]}))
    dump = tmp_path / "d.sql"
    dump.write_bytes(_copy_dump(70_000, bad_at=55_001))     # ~2 MB: the bad row in the second block, on a worker
    audit = _same_run(tmp_path, dask_cluster.scheduler_address, "-c", rules, dump)
    assert audit["status"] == "failed" and "row 55001" in audit["error"]
    assert audit["options"]["cluster"]["blocks"] >= 1      # the first block; the second failed on its worker


def test_a_worker_killed_mid_run_is_replaced_and_the_bytes_are_the_same(dask_cluster, client, generated, tmp_path):
    """dumpmask reads a pipe; with blocks computed and held on the workers (not yet written),
    one worker process is killed: the scheduler runs its blocks again on the other worker
    (and the nanny starts a new one). The output is the same bytes as with -j 1."""
    data = generated["pg"].read_bytes()
    rules = REPO / "bench" / "rules-3faker.json"
    expected = _dm("-q", "-c", rules, "-", "-j", "1", input=data)
    assert expected.returncode == 0
    first = data.index(b"COPY public.customer") + 2_200_000       # two ~1 MB blocks of customer, then a pause
    proc = _piped(tmp_path, "-q", "-c", rules, "--cluster", dask_cluster.scheduler_address)
    try:
        proc.stdin.write(data[:first])
        proc.stdin.flush()
        victim = _wait_for_held_results(dask_cluster)[0]
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
    finally:
        cp = _finish(proc, data[first:], tmp_path)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == expected.stdout
    client.wait_for_workers(2, timeout=60)       # the nanny's new worker: the other tests have two again


def _wait_for_held_results(dask_cluster, timeout: float = 60) -> list[str]:
    """The addresses of the workers holding results of dumpmask blocks (computed, not yet fetched)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holders = dask_cluster.sync(_holders, dask_cluster.scheduler)
        if holders:
            return holders
        time.sleep(0.05)
    raise AssertionError("no block result was held on a worker")


async def _holders(scheduler) -> list[str]:
    return sorted({ws.address for ts in scheduler.tasks.values() if ts.key.startswith("_mask_on_worker")
                   and ts.state == "memory" for ws in ts.who_has})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _failed_cleanly(cp, *phrases: bytes) -> None:
    assert cp.returncode == 1, cp.stderr
    assert b"Traceback" not in cp.stderr and b"distributed." not in cp.stderr
    for phrase in phrases:
        assert phrase in cp.stderr, cp.stderr
    assert cp.stdout.endswith(POISON)


def test_nothing_listening_fails_at_once_with_a_clear_message(tmp_path):
    port = _closed_port()
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "person", "columnMutations": [
        {"column": "email", "mutation": "faker.email"}]}]}))
    # a long --cluster-timeout: the probe answers without waiting for it (the subprocess's
    # own timeout would end a run that waited)
    cp = _dm("-q", "-c", rules, "--cluster", f"tcp://127.0.0.1:{port}", "--cluster-timeout", "600",
             "--audit", tmp_path / "a.json", input=_copy_dump(10, None), timeout=60)
    _failed_cleanly(cp, f"cannot connect to the Dask scheduler at tcp://127.0.0.1:{port}: connection refused".encode())
    audit = json.loads((tmp_path / "a.json").read_text())
    assert audit["status"] == "failed" and "connection refused" in audit["error"]
    assert audit["options"]["cluster"] == {"scheduler": f"tcp://127.0.0.1:{port}", "workers": 0, "blocks": 0,
                                           "bytes_sent": 0, "bytes_received": 0, "files": 0}


def test_a_scheduler_without_workers_fails_after_the_timeout(generated):
    empty = distributed.LocalCluster(n_workers=0, **LOCAL)
    try:
        cp = _dm("-q", "-c", REPO / "bench" / "rules-3faker.json", generated["mysql"], "--cluster",
                 empty.scheduler_address, "--cluster-timeout", "2", timeout=60)
    finally:
        empty.close()
    _failed_cleanly(cp, b"no Dask worker joined the scheduler at " + empty.scheduler_address.encode() + b" in 2 s")


def test_the_scheduler_going_away_mid_run_fails_the_run(generated, tmp_path):
    data = generated["pg"].read_bytes()
    first = data.index(b"COPY public.customer") + 2_200_000
    doomed = distributed.LocalCluster(n_workers=1, **LOCAL)
    proc = _piped(tmp_path, "-q", "-c", REPO / "bench" / "rules-3faker.json", "--cluster", doomed.scheduler_address,
                  "--cluster-timeout", "30")
    try:
        proc.stdin.write(data[:first])
        proc.stdin.flush()
        _wait_for_held_results(doomed)
        doomed.close()
    finally:
        cp = _finish(proc, data[first:], tmp_path)
        doomed.close()
    # the connection lost, or (when its workers went first) the blocks cancelled: either way said so
    _failed_cleanly(cp, b"Dask scheduler at " + doomed.scheduler_address.encode())
    assert b"lost the connection to the Dask scheduler" in cp.stderr or b"cancelled a block" in cp.stderr
    # the COPY block in progress is closed with a row that cannot load, then the poison line
    assert b"dumpmask: aborted\n\\.\n" + POISON in cp.stdout


def test_without_the_extra_cluster_is_a_usage_error_naming_the_install(tmp_path, dataset):
    shadow = tmp_path / "shadow" / "distributed"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'distributed'\")\n")
    env = _env()
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "shadow"), env["PYTHONPATH"]])
    cp = _dm("-q", dataset("pagila/pg_dump-copy.sql"), "--cluster", "tcp://127.0.0.1:8786", env=env)
    assert cp.returncode == 2 and b"Traceback" not in cp.stderr
    assert b'pip install "dumpmask[cluster]"' in cp.stderr
    assert cp.stdout == b""


def test_jobs_with_cluster_is_refused(dataset):
    cp = _dm("-q", dataset("pagila/pg_dump-copy.sql"), "--cluster", "tcp://127.0.0.1:8786", "-j", "2")
    assert cp.returncode == 2 and b"-j/--jobs does not apply" in cp.stderr and cp.stdout == b""
    cp = _dm("-q", dataset("pagila/pg_dump-copy.sql"), "--cluster", "tcp://user:secret@127.0.0.1:8786")
    assert cp.returncode == 2 and b"secret" not in cp.stderr and cp.stdout == b""


def test_a_worker_running_other_code_refuses_the_block():
    from dumpmask.cluster import _mask_on_worker, code_fingerprint

    status, (worker, code) = _mask_on_worker(("0.0.0+other", None), "copy", b"1\n", 1, 0, None, None)
    assert status == "mismatch" and code == code_fingerprint() != "0.0.0+other"


# --------------------------------------------------------------------------- pg_dump archives

ARCHIVE_SCHEMA = r"""
CREATE SCHEMA "Sch ö";
CREATE TABLE "Sch ö"."Kunden ü" (id serial PRIMARY KEY, "E-Mail" text, name text, note text);
CREATE TABLE public."Bestellung" (id bigserial PRIMARY KEY, kunde_id int NOT NULL REFERENCES "Sch ö"."Kunden ü"(id),
                                  memo text);
CREATE TABLE public.plain_log (at text, msg text);
INSERT INTO "Sch ö"."Kunden ü" ("E-Mail", name, note)
  SELECT 'kunde' || g || '@example.org', 'Náme ' || g,
         CASE WHEN g % 7 = 0 THEN NULL ELSE E'tab\there\nnl\\bs ü 日本 ' || g END
  FROM generate_series(1, 60000) g;
INSERT INTO public."Bestellung" (kunde_id, memo) SELECT 1 + g % 60000, E'm\t' || g FROM generate_series(1, 30000) g;
INSERT INTO public.plain_log SELECT 'at ' || g, E'line\n' || g FROM generate_series(1, 2000) g;
"""
ARCHIVE_RULES = {"options": {"identifierRemapping": {"enabled": True}},
                 "tables": [{"tableName": '"Sch ö"."Kunden ü"', "columnMutations": [
                     {"column": '"E-Mail"', "mutation": "faker.email"}, {"column": "name", "mutation": "faker.lastName"}]}]}


@pytest.fixture(scope="module")
def archives(pg_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("cluster-archive")
    db = pg_server.createdb("cluster_archive_src")
    pg_server.psql(db, ARCHIVE_SCHEMA)
    paths = {}
    for name, args in (("directory", ("-Fd", "-j", "2")), ("custom", ("-Fc",))):
        paths[name] = base / ("src.dir" if name == "directory" else "src.dump")
        subprocess.run([pg_server.bin("pg_dump"), *args, "-f", str(paths[name]), "-d", db], env=pg_server.env, check=True)
    rules = base / "rules.json"
    rules.write_text(json.dumps(ARCHIVE_RULES))
    return {"paths": paths, "rules": rules, "base": base}


def _tree(path: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())} if path.is_dir() else {"": path.read_bytes()}


@pytest.mark.parametrize("kind", ["directory", "custom"])
def test_an_archive_masked_on_the_cluster_is_the_same_archive(dask_cluster, archives, kind):
    """A directory archive (on storage the workers see: here the same machine): the workers
    read and write its table files themselves; a custom archive's blocks are shipped. Either
    way the archive is the same bytes as with -j 1."""
    src = archives["paths"][kind]
    outs, audits = {}, {}
    for name, extra in (("one", ["-j", "1"]), ("cluster", ["--cluster", dask_cluster.scheduler_address])):
        out = archives["base"] / f"{kind}-{name}.out"
        audit = archives["base"] / f"{kind}-{name}.json"
        cp = _dm("-q", "-c", archives["rules"], src, "-o", out, "--audit", audit, *extra)
        assert cp.returncode == 0, cp.stderr
        outs[name], audits[name] = _tree(out), json.loads(audit.read_text())
    assert outs["cluster"] == outs["one"]
    a1, a2 = audits["one"], audits["cluster"]
    assert {k: v for k, v in a2.items() if k not in _VARYING} == {k: v for k, v in a1.items() if k not in _VARYING}
    assert a2["output"]["sha256"] == a1["output"]["sha256"]
    cluster = a2["options"]["cluster"]
    if kind == "directory":
        assert cluster["files"] >= 3 and cluster["blocks"] == 0 and cluster["bytes_sent"] == 0   # no block shipped
    else:
        assert cluster["blocks"] >= 1 and cluster["files"] == 0
