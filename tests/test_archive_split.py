"""One big table file of a directory archive split into parts masked in parallel (#13,
split.py, `--split-size`): real pg_dump 15 archives (gzip and -Z0) of a table of a few MB
with hostile values and remapped keys, split at 256 KiB. The split output is the same bytes
with -j 1 and -j 2 (and --cluster: tests/test_archive_urls.py); it holds the
same rows as an unsplit run (a -Z0 file: the same file; a gzip file: several gzip members of
the same SQL); the real pg_restore (-d and -j 2) restores it, sequences past the largest
remapped key; dumpmask reads its own multi-member output; an error in a part reads as in an
unsplit run; a custom archive is never split."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib

import pytest

from conftest import REPO, TEST_KEY

SCHEMA = r"""
CREATE SCHEMA "Größ";
CREATE TABLE "Größ"."Kunde ü" (id serial PRIMARY KEY, "E-Mail" text, name text, note text);
CREATE TABLE public.bestellung (id bigserial PRIMARY KEY, kunde_id int NOT NULL REFERENCES "Größ"."Kunde ü"(id),
                                memo text);
INSERT INTO "Größ"."Kunde ü" ("E-Mail", name, note)
  SELECT 'kunde' || g || '@example.org', 'Náme ' || g,
         CASE WHEN g % 7 = 0 THEN NULL WHEN g % 11 = 0 THEN E'\\.' ELSE E'tab\there\nnl\\bs ü 日本 ' || g END
  FROM generate_series(1, 40000) g;
INSERT INTO public.bestellung (kunde_id, memo) SELECT 1 + g % 40000, E'm\t' || g FROM generate_series(1, 3000) g;
"""
KUNDE = '"Größ"."Kunde ü"'
RULES = {"options": {"identifierRemapping": {"enabled": True}},
         "tables": [{"tableName": KUNDE, "columnMutations": [{"column": '"E-Mail"', "mutation": "faker.email"},
                                                            {"column": "name", "mutation": "faker.lastName"}]}]}
SPLIT = "256K"


def run_dm(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), DUMPMASK_KEY=TEST_KEY)
    return subprocess.run([sys.executable, "-m", "dumpmask", "-q", *map(str, args)], env=env, capture_output=True,
                          timeout=300)


@pytest.fixture(scope="module")
def src(pg_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("split")
    db = pg_server.createdb("split_src")
    pg_server.psql(db, SCHEMA)
    dumps = {}
    for name, args in (("gzip", ("-Fd",)), ("z0", ("-Fd", "-Z0")), ("custom", ("-Fc",))):
        dumps[name] = base / f"src-{name}"
        subprocess.run([pg_server.bin("pg_dump"), *args, "-f", str(dumps[name]), "-d", db], env=pg_server.env,
                       check=True)
    rules = base / "rules.json"
    rules.write_text(json.dumps(RULES))
    return {"db": db, "dumps": dumps, "rules": rules, "base": base}


def masked(src, name: str, *extra) -> tuple:
    """(output path, audit) of a run on archive `name` with `extra` options (run once)."""
    tag = "-".join(str(x).replace("/", "").replace(":", "") for x in extra) or "default"
    out = src["base"] / f"out-{name}-{tag}"
    audit = src["base"] / f"out-{name}-{tag}.json"
    if audit.exists():
        return out, json.loads(audit.read_text())
    cp = run_dm("-c", src["rules"], src["dumps"][name], "-o", out, "--audit", audit, *extra)
    assert cp.returncode == 0, cp.stderr.decode()
    assert cp.stderr == b""      # (no warning from Dask about large arguments either)
    return out, json.loads(audit.read_text())


def tree(path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())} if path.is_dir() else {"": path.read_bytes()}


def members(data: bytes) -> list[bytes]:
    """A gzip file's members, each inflated."""
    out = []
    while data:
        z = zlib.decompressobj(31)
        out.append(z.decompress(data))
        assert z.eof
        data = z.unused_data
    return out


def biggest(path) -> str:
    return max((f for f in os.listdir(path) if f != "toc.dat"), key=lambda f: (path / f).stat().st_size)


_VARYING = ("started_at", "finished_at", "duration_s", "signature", "output")


def _counts(audit: dict) -> dict:
    return {k: v for k, v in audit.items() if k not in _VARYING + ("options",)}


@pytest.mark.parametrize("name", ["gzip", "z0"])
def test_a_split_table_file_is_the_same_bytes_with_every_jobs_and_the_same_rows_as_unsplit(src, name):
    whole, whole_audit = masked(src, name, "--split-size", "0")
    one, a1 = masked(src, name, "--split-size", SPLIT, "-j", "1")
    two, a2 = masked(src, name, "--split-size", SPLIT, "-j", "2")
    assert tree(one) == tree(two)
    assert a1["output"]["sha256"] == a2["output"]["sha256"]
    assert a1["options"]["split"] == a2["options"]["split"]
    split = a1["options"]["split"]
    assert split["size"] == 256 << 10 and split["files"] == 1 and split["parts"] >= 8
    assert "split" not in whole_audit["options"]
    # the same counts, key maxima (setval) and input digest as the unsplit run
    assert _counts(a1) == _counts(whole_audit) and a1["input"] == whole_audit["input"]
    big = biggest(src["dumps"][name])
    if name == "z0":
        assert tree(one) == tree(whole)      # an uncompressed file: the same file
    else:
        parts = members((one / big).read_bytes())
        assert len(parts) == split["parts"] and all(p.endswith(b"\n") for p in parts)
        assert all(len(p) > 256 << 10 for p in parts[:-1])
        assert b"".join(parts) == members((whole / big).read_bytes())[0]
        assert {f: b for f, b in tree(one).items() if f != big} == {f: b for f, b in tree(whole).items() if f != big}


@pytest.mark.parametrize("name", ["gzip", "z0"])
def test_a_split_archive_restores_with_pg_restore(pg_server, src, name):
    out, _ = masked(src, name, "--split-size", SPLIT, "-j", "2")
    for args in ((), ("-j", "2")):
        db = pg_server.createdb(f"split_r_{name}_{len(args)}")
        cp = subprocess.run([pg_server.bin("pg_restore"), "--exit-on-error", *args, "-d", db, str(out)],
                            env=pg_server.env, capture_output=True)
        assert cp.returncode == 0, cp.stderr.decode()
        assert pg_server.count(db, KUNDE) == 40000 and pg_server.count(db, "public.bestellung") == 3000
        join = f'SELECT count(*) FROM public.bestellung b JOIN {KUNDE} k ON k.id = b.kunde_id'
        assert pg_server.scalar(db, join) == "3000"
        assert pg_server.scalar(db, f"SELECT count(*) FROM {KUNDE} WHERE \"E-Mail\" LIKE 'kunde%@example.org'") == "0"
        assert pg_server.scalar(db, f"SELECT nextval('\"Größ\".\"Kunde ü_id_seq\"') > (SELECT max(id) FROM {KUNDE})") == "t"
        notes = f"SELECT md5(string_agg(coalesce(note, '<null>'), ',' ORDER BY note)) FROM {KUNDE}"
        assert pg_server.scalar(db, notes) == pg_server.scalar(src["db"], notes)


def test_dumpmask_reads_its_own_split_gzip_output(src):
    """Its members are read on: masked again, every row of every member is read."""
    out, _ = masked(src, "gzip", "--split-size", SPLIT)
    for rules in (src["rules"],):
        again = src["base"] / f"again-{rules.stem}"
        cp = run_dm("-c", rules, out, "-o", again, "--audit", f"{again}.json", "--split-size", "0")
        assert cp.returncode == 0, cp.stderr.decode()
        audit = json.loads(open(f"{again}.json").read())
        assert {t: s["rows_read"] for t, s in audit["tables"].items()} == {"Größ.Kunde ü": 40000,
                                                                           "public.bestellung": 3000}


def test_an_error_in_a_part_reads_as_in_an_unsplit_run(src):
    """A row that cannot be masked (a non-integer key) in a later part: the same message, row
    number included, as without splitting (the part failed in a worker process is run again
    where its rows are known); no output left."""
    import shutil

    bad = src["base"] / "bad-z0"
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(src["dumps"]["z0"], bad)
    big = bad / biggest(bad)
    lines = big.read_bytes().split(b"\n")
    lines[30001] = b"x" + lines[30001]
    big.write_bytes(b"\n".join(lines))
    errors = set()
    for extra in (("--split-size", "0"), ("--split-size", SPLIT, "-j", "2")):
        out = src["base"] / "bad-out"
        cp = run_dm("-c", src["rules"], bad, "-o", out, *extra)
        assert cp.returncode == 1 and b"Traceback" not in cp.stderr, cp.stderr
        assert b"row 30002" in cp.stderr, cp.stderr
        assert not out.exists()
        errors.add(cp.stderr)
    assert len(errors) == 1


def test_a_custom_archive_is_not_split(src):
    whole, _ = masked(src, "custom", "--split-size", "0")
    split, audit = masked(src, "custom", "--split-size", SPLIT)
    assert split.read_bytes() == whole.read_bytes() and "split" not in audit["options"]


def test_split_size_is_checked(src):
    cp = run_dm("-c", src["rules"], src["dumps"]["z0"], "-o", src["base"] / "never", "--split-size", "lots")
    assert cp.returncode == 2 and b"--split-size" in cp.stderr
    assert not (src["base"] / "never").exists()
    cp = run_dm("-c", src["rules"], "-", "--split-size", "1M")      # (a plain dump on stdin)
    assert cp.returncode == 2 and b"--split-size is for pg_dump archives" in cp.stderr and cp.stdout == b""
