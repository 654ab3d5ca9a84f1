"""Directory archives at fsspec URLs (#13, storage.py): `dumpmask -c r.json URL.dir -o URL.dir`
reads toc.dat and the table files through fsspec and writes the output's table files, then
its toc.dat last, with -j 1, -j 2 and --cluster (the Dask workers open the URLs themselves).

What is tested, with no mock: `file://` URLs, and a real FTP server on 127.0.0.1 (pyftpdlib,
in this process's thread; dumpmask and the Dask workers reach it through fsspec's ftp
implementation, the same code path as s3:// or gs:// take through theirs). The archives are
the real pg_dump 15's, the outputs the same bytes as a local -j 1 run's and restored with the
real pg_restore (-d and -j 2). A failed run leaves no toc.dat at the output URL; what cannot
work is refused before any output (exit 2): a URL with a password, an unknown protocol, a
protocol whose package is missing, a plain dump or a custom archive written to a URL."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading

import distributed   # the test extra installs dumpmask[cluster]: never skipped
import pytest
from test_archive import RULES, SCHEMA, check_masked_restore, restore

from conftest import REPO, TEST_KEY

pytestmark = [pytest.mark.filterwarnings("ignore:The asyn:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:write permissions assigned to anonymous:RuntimeWarning")]
LOCAL = dict(processes=True, host="127.0.0.1", threads_per_worker=1, dashboard_address=None)


@pytest.fixture(scope="module")
def ftp_root(tmp_path_factory):
    """A real FTP server on 127.0.0.1 (anonymous, read and write) serving a fresh directory:
    (its ftp:// URL, the directory on this machine)."""
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    root = tmp_path_factory.mktemp("ftp-root")
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(str(root), perm="elradfmw")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "banner": "dumpmask test"})
    server = FTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.5, "handle_exit": False}, daemon=True)
    thread.start()
    try:
        yield f"ftp://127.0.0.1:{server.address[1]}", root
    finally:
        server.close_all()
        thread.join(10)


@pytest.fixture(scope="module")
def src(pg_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("archive-urls")
    db = pg_server.createdb("archive_urls_src")
    pg_server.psql(db, SCHEMA)
    dumps = {}
    for name, args in (("directory", ("-Fd", "-j", "2")), ("custom", ("-Fc",)), ("z0", ("-Fd", "-Z0"))):
        dumps[name] = base / ("src.dump" if name == "custom" else f"src-{name}.dir")
        subprocess.run([pg_server.bin("pg_dump"), *args, "-f", str(dumps[name]), "-d", db], env=pg_server.env,
                       check=True)
    rules = base / "rules.json"
    rules.write_text(json.dumps(RULES))
    local = base / "local-j1.dir"
    cp = run_dm("-j", "1", "-c", rules, dumps["directory"], "-o", local, "--audit", base / "local-j1.json")
    assert cp.returncode == 0, cp.stderr.decode()
    return {"db": db, "dumps": dumps, "rules": rules, "base": base, "local": local,
            "local_audit": json.loads((base / "local-j1.json").read_text())}


def run_dm(*args, env=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), DUMPMASK_KEY=TEST_KEY, **(env or {}))
    return subprocess.run([sys.executable, "-m", "dumpmask", "-q", *map(str, args)], env=env, capture_output=True,
                          timeout=300)


def tree(path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


_VARYING = ("started_at", "finished_at", "duration_s", "signature", "options", "input", "output", "warnings")


def same_as_local(src, out_dir, audit_path) -> dict:
    """The output directory (on this machine: the FTP root or the file:// target) holds the
    same files, byte for byte, as the local -j 1 run's; the audit says the same but where."""
    assert tree(out_dir) == tree(src["local"])
    audit = json.loads(audit_path.read_text())
    one = src["local_audit"]
    assert {k: v for k, v in audit.items() if k not in _VARYING} == {k: v for k, v in one.items() if k not in _VARYING}
    for side in ("input", "output"):
        assert audit[side]["sha256"] == one[side]["sha256"] and audit[side]["bytes"] == one[side]["bytes"], side
    assert [w.split(": ", 1)[1] for w in audit["warnings"]] == [w.split(": ", 1)[1] for w in one["warnings"]]
    return audit


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_directory_archive_from_ftp_to_ftp_is_the_local_archive(pg_server, src, ftp_root, jobs):
    url, root = ftp_root
    shutil.copytree(src["dumps"]["directory"], root / f"in-{jobs}.dir")
    audit = src["base"] / f"ftp-{jobs}.json"
    cp = run_dm("-j", jobs, "-c", src["rules"], f"{url}/in-{jobs}.dir", "-o", f"{url}/out/masked-{jobs}.dir",
                "--audit", audit)
    assert cp.returncode == 0, cp.stderr.decode()
    a = same_as_local(src, root / "out" / f"masked-{jobs}.dir", audit)
    assert a["input"]["name"] == f"{url}/in-{jobs}.dir" and a["output"]["name"] == f"{url}/out/masked-{jobs}.dir"
    db = restore(pg_server, root / "out" / f"masked-{jobs}.dir", f"archive_urls_ftp_{jobs}", "-j", "2")
    check_masked_restore(pg_server, src["db"], db)


def test_file_urls_in_and_out_and_a_custom_archive_read_from_a_url(src, ftp_root):
    out = src["base"] / "file-url.dir"
    audit = src["base"] / "file-url.json"
    cp = run_dm("-c", src["rules"], "file://" + str(src["dumps"]["directory"]), "-o", "file://" + str(out),
                "--audit", audit)
    assert cp.returncode == 0, cp.stderr.decode()
    same_as_local(src, out, audit)
    # a custom archive is read from a URL too (written to a local file or standard output)
    url, root = ftp_root
    shutil.copy(src["dumps"]["custom"], root / "in.dump")
    local, remote = src["base"] / "c-local.dump", src["base"] / "c-remote.dump"
    for path, out in ((src["dumps"]["custom"], local), (f"{url}/in.dump", remote)):
        cp = run_dm("-c", src["rules"], path, "-o", out)
        assert cp.returncode == 0, cp.stderr.decode()
    assert remote.read_bytes() == local.read_bytes()


def test_a_failed_run_leaves_no_toc_at_the_output_url(src, ftp_root):
    url, root = ftp_root
    bad = root / "bad.dir"
    shutil.copytree(src["dumps"]["directory"], bad)
    biggest = max((f for f in os.listdir(bad) if f.endswith(".dat.gz")), key=lambda f: (bad / f).stat().st_size)
    data = (bad / biggest).read_bytes()
    (bad / biggest).write_bytes(data[:len(data) // 2])
    for jobs in ("1", "2"):
        cp = run_dm("-j", jobs, "-c", src["rules"], f"{url}/bad.dir", "-o", f"{url}/bad-out-{jobs}.dir")
        assert cp.returncode == 1 and b"Traceback" not in cp.stderr, cp.stderr
        assert b"TOC entry " + biggest.split(".")[0].encode() in cp.stderr
        assert not (root / f"bad-out-{jobs}.dir" / "toc.dat").exists()
        assert not (root / f"bad-out-{jobs}.dir").exists()      # (what was written is removed too)
    (bad / biggest).unlink()
    cp = run_dm("-c", src["rules"], f"{url}/bad.dir", "-o", f"{url}/bad-out.dir")
    assert cp.returncode == 1 and b"TOC entry " + biggest.split(".")[0].encode() in cp.stderr, cp.stderr
    assert b"No such file" in cp.stderr and not (root / "bad-out.dir").exists()


@pytest.mark.parametrize("name", ["directory", "z0"])
def test_split_table_files_at_ftp_urls_are_the_local_split_archive(src, ftp_root, name):
    """--split-size with URLs: -Z0 parts are byte ranges the worker processes read from the FTP
    server themselves; gzip parts are inflated here. The same bytes as the local split run."""
    url, root = ftp_root
    shutil.copytree(src["dumps"][name], root / f"split-{name}.dir")
    local = src["base"] / f"split-local-{name}.dir"
    for path, out in ((src["dumps"][name], local), (f"{url}/split-{name}.dir", f"{url}/split-out-{name}.dir")):
        cp = run_dm("-j", "2", "--split-size", "2K", "-c", src["rules"], path, "-o", out, "--audit", f"{local}.json")
        assert cp.returncode == 0, cp.stderr.decode()
        assert json.loads(open(f"{local}.json").read())["options"]["split"]["parts"] >= 3
    assert tree(root / f"split-out-{name}.dir") == tree(local)


def test_what_cannot_work_at_a_url_is_refused_before_any_output(src, ftp_root):
    url, root = ftp_root
    shutil.copytree(src["dumps"]["directory"], root / "refuse.dir")
    (root / "plain.sql").write_bytes(b"SELECT 1;\n")
    d = f"{url}/refuse.dir"
    cases = [
        ((f"ftp://someone:hunter2@{url[6:]}/refuse.dir", "-o", src["base"] / "x.dir"), b"not in the URL"),
        ((d, "-o", "nosuchproto://bucket/x.dir"), b"no protocol nosuchproto://"),
        ((d, "-o", "webdav://127.0.0.1:1/x.dir"), b"webdav4"),
        ((src["dumps"]["custom"], "-o", f"{url}/x.dump"), b"not a URL"),
        ((f"{url}/plain.sql", "-o", src["base"] / "y.sql"), b"only for pg_dump archives"),
        ((d, "-o", f"{url}/refuse.dir"), b"overwrite the input"),
        ((d, "-o", f"{url}"), b"not empty"),
    ]
    from click.testing import CliRunner

    from dumpmask.cli import main

    for args, phrase in cases + [(("-", "-o", f"{url}/plain-out.sql"), b"only for directory archives")]:
        res = CliRunner().invoke(main, ["-q", "-c", str(src["rules"]), *map(str, args)], input=b"",
                                 env={"DUMPMASK_KEY": TEST_KEY}, catch_exceptions=False)     # (in-process: quicker)
        assert res.exit_code == 2 and "Traceback" not in res.stderr, (args, res.stderr)
        assert phrase.decode() in res.stderr, (args, res.stderr)
        assert "hunter2" not in res.stderr and res.stdout_bytes == b"", args
    assert not (root / "plain-out.sql").exists() and not (root / "x.dump").exists()
    assert sorted(os.listdir(root / "refuse.dir")) == sorted(os.listdir(src["dumps"]["directory"]))


@pytest.fixture(scope="module")
def dask_cluster():
    cluster = distributed.LocalCluster(n_workers=2, **LOCAL)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.mark.slow
def test_a_directory_archive_at_ftp_urls_on_the_cluster_is_the_local_archive(pg_server, src, ftp_root, dask_cluster):
    """--cluster: the workers read the table files from the FTP server and write the masked
    ones to it themselves (nothing shipped); the same archive as -j 1 locally, restored."""
    url, root = ftp_root
    shutil.copytree(src["dumps"]["directory"], root / "cl-in.dir")
    audit = src["base"] / "ftp-cluster.json"
    cp = run_dm("--cluster", dask_cluster.scheduler_address, "-c", src["rules"], f"{url}/cl-in.dir", "-o",
                f"{url}/cl-out.dir", "--audit", audit)
    assert cp.returncode == 0, cp.stderr.decode()
    a = same_as_local(src, root / "cl-out.dir", audit)
    cluster = a["options"]["cluster"]
    assert cluster["files"] >= 3 and cluster["blocks"] == 0 and cluster["bytes_sent"] == 0
    db = restore(pg_server, root / "cl-out.dir", "archive_urls_cluster")
    check_masked_restore(pg_server, src["db"], db)
    # split table files (split.py): -Z0 parts are byte ranges each worker reads from the FTP
    # server itself (nothing shipped); gzip parts are inflated here and scattered
    for name in ("z0", "directory"):
        shutil.copytree(src["dumps"][name], root / f"cl-split-{name}.dir")
        local = src["base"] / f"cl-split-local-{name}.dir"
        for path, out in ((src["dumps"][name], local), (f"{url}/cl-split-{name}.dir", f"{url}/cl-split-out-{name}.dir")):
            extra = ["--cluster", dask_cluster.scheduler_address] if str(out).startswith("ftp") else ["-j", "1"]
            cp = run_dm(*extra, "--split-size", "2K", "-c", src["rules"], path, "-o", out, "--audit", f"{local}.json")
            assert cp.returncode == 0 and cp.stderr == b"", cp.stderr.decode()
        assert tree(root / f"cl-split-out-{name}.dir") == tree(local)
        a = json.loads(open(f"{local}.json").read())
        assert a["options"]["split"]["parts"] >= 3 and a["options"]["cluster"]["files"] >= 3
        assert (a["options"]["cluster"]["bytes_sent"] == 0) == (name == "z0")


def _sleep_then(seconds: float, value):
    import time

    time.sleep(seconds)
    return value


@pytest.mark.slow
def test_a_table_file_may_take_longer_than_the_cluster_timeout(dask_cluster):
    """A block's result is awaited at most --cluster-timeout; a table file's (or a part's:
    minutes of work) as long as the scheduler still has workers."""
    from dumpmask.cluster import ClusterError, ClusterOutput

    out = ClusterOutput(lambda data: None, dask_cluster.scheduler_address, timeout=30)
    try:
        out.timeout = 0.5
        slow = out.client.submit(_sleep_then, 3, ("ok", "done", "w"), pure=False)
        with pytest.raises(ClusterError, match="no result from the Dask cluster"):
            out._result_of(slow)
        assert out._result_of(slow, patient=True) == ("ok", "done", "w")
        out._broken = False
    finally:
        out.close()
