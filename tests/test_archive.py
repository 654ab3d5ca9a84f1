"""pg_dump archives in, the same format out (#13): custom (-Fc, compressed and -Z0) and
directory (-Fd) archives of a schema made here (quoted and non-ASCII names, a PK/FK chain that
key remapping rewrites, sequences, a large object, a table without a key, hostile values),
masked, then restored with the real pg_restore (-d and -j 2) into fresh databases.

Runs on the real server (marker `servers`; under CI=true it fails instead of skipping)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO, TEST_KEY

pytestmark = pytest.mark.servers

SCHEMA = r"""
CREATE SCHEMA "Sch ö";
CREATE TABLE "Sch ö"."Kunden ü" (id serial PRIMARY KEY, "E-Mail" text, name text, note text);
CREATE TABLE public."Bestellung" (id bigserial PRIMARY KEY, kunde_id int NOT NULL REFERENCES "Sch ö"."Kunden ü"(id),
                                  memo text);
CREATE TABLE public.positionen (id serial PRIMARY KEY, bestellung_id bigint REFERENCES public."Bestellung"(id),
                                "Menge" int, bemerkung text);
CREATE TABLE public.log_ohne_pk (at text, msg text);
INSERT INTO "Sch ö"."Kunden ü" ("E-Mail", name, note)
  SELECT 'kunde' || g || '@example.org', 'Náme ' || g,
         CASE WHEN g % 7 = 0 THEN NULL WHEN g % 11 = 0 THEN E'\\.' ELSE E'tab\there\nnl\\bs ü 日本 ' || g END
  FROM generate_series(1, 120) g;
INSERT INTO public."Bestellung" (kunde_id, memo) SELECT 1 + g % 120, E'm\t' || g FROM generate_series(1, 300) g;
INSERT INTO public.positionen (bestellung_id, "Menge", bemerkung)
  SELECT CASE WHEN g % 13 = 0 THEN NULL ELSE 1 + g % 300 END, g, E'geheim\\' || g FROM generate_series(1, 400) g;
INSERT INTO public.log_ohne_pk SELECT 'at ' || g, E'line\n' || g FROM generate_series(1, 50) g;
SELECT lo_from_bytea(0, '\x00010203ff'::bytea);
"""
KUNDEN = '"Sch ö"."Kunden ü"'
TABLES = (KUNDEN, 'public."Bestellung"', "public.positionen", "public.log_ohne_pk")
RULES = {"options": {"identifierRemapping": {"enabled": True}},
         "tables": [{"tableName": '"Sch ö"."Kunden ü"', "columnMutations": [
                        {"column": '"E-Mail"', "mutation": "faker.email"},
                        {"column": "name", "mutation": "faker.lastName"}]},
                    {"tableName": "positionen", "columnMutations": [{"column": "bemerkung", "mutation": "null"}]}]}
FORMATS = {"custom": ("-Fc",), "custom_z0": ("-Fc", "-Z0"), "directory": ("-Fd", "-j", "2")}


def run_dm(*args, input: bytes = b"") -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), DUMPMASK_KEY=TEST_KEY)
    return subprocess.run([sys.executable, "-m", "dumpmask", "-q", *map(str, args)], input=input, env=env,
                          capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def src(pg_server, tmp_path_factory):
    """The source database, its archives (by FORMATS name) and its plain dump, and the rules."""
    base = tmp_path_factory.mktemp("archive")
    db = pg_server.createdb("archive_src")
    pg_server.psql(db, SCHEMA)
    dumps = {}
    for name, args in FORMATS.items():
        path = base / (name + (".dir" if name == "directory" else ".dump"))
        subprocess.run([pg_server.bin("pg_dump"), *args, "-f", str(path), "-d", db], env=pg_server.env, check=True)
        dumps[name] = path
    plain = base / "plain.sql"
    plain.write_bytes(pg_server.dump(db))
    rules = base / "rules.json"
    rules.write_text(json.dumps(RULES))
    return {"db": db, "dumps": dumps, "plain": plain, "rules": rules, "base": base}


@pytest.fixture(scope="module")
def masked(src):
    """Each archive masked (-j 1), by FORMATS name."""
    out = {}
    for name, path in src["dumps"].items():
        o = src["base"] / ("masked-" + path.name)
        cp = run_dm("-c", src["rules"], path, "-o", o, "--audit", str(o) + ".audit.json")
        assert cp.returncode == 0, cp.stderr.decode()
        assert cp.stdout == b""
        out[name] = o
    return out


def restore(pg, archive, db: str, *args) -> str:
    pg.createdb(db)
    cp = subprocess.run([pg.bin("pg_restore"), "--exit-on-error", *args, "-d", db, str(archive)], env=pg.env,
                        capture_output=True)
    assert cp.returncode == 0, cp.stderr.decode()
    return db


def rows(pg, db: str, sql: str) -> list:
    return json.loads(pg.scalar(db, f"SELECT coalesce(json_agg(t), '[]') FROM ({sql}) t"))


def check_masked_restore(pg, src_db: str, db: str) -> None:
    for t in TABLES:
        assert pg.count(db, t) == pg.count(src_db, t), t
    q = f'SELECT id, "E-Mail" AS e, name, note FROM {KUNDEN}'
    before, after = rows(pg, src_db, q), rows(pg, db, q)
    # masked columns changed (no original value left), remapped keys moved, kept columns identical
    assert not {r["e"] for r in before} & {r["e"] for r in after}
    assert not {r["name"] for r in before} & {r["name"] for r in after}
    assert not {r["id"] for r in before} & {r["id"] for r in after}
    assert sorted(map(str, (r["note"] for r in before))) == sorted(map(str, (r["note"] for r in after)))
    assert rows(pg, db, "SELECT count(*) AS n FROM public.positionen WHERE bemerkung IS NOT NULL") == [{"n": 0}]
    for sql in ('SELECT "Menge" FROM public.positionen ORDER BY 1', "SELECT * FROM public.log_ohne_pk ORDER BY 1",
                'SELECT memo FROM public."Bestellung" ORDER BY 1'):
        assert rows(pg, db, sql) == rows(pg, src_db, sql), sql
    # the foreign keys join as before: every child finds its parent, and the same parent as before
    join = (f'SELECT b.memo, k.note FROM public."Bestellung" b JOIN {KUNDEN} k ON k.id = b.kunde_id ORDER BY 1')
    assert rows(pg, db, join) == rows(pg, src_db, join)
    join2 = 'SELECT p."Menge", b.memo FROM public.positionen p JOIN public."Bestellung" b ON b.id = p.bestellung_id ORDER BY 1'
    assert rows(pg, db, join2) == rows(pg, src_db, join2)
    # sequences past the largest remapped key: a new row does not collide
    for seq, table in (('"Sch ö"."Kunden ü_id_seq"', KUNDEN), ("public.\"Bestellung_id_seq\"", 'public."Bestellung"')):
        assert pg.scalar(db, f"SELECT nextval('{seq}') > (SELECT max(id) FROM {table})") == "t", seq
    # the large object, as it was
    assert pg.scalar(db, "SELECT encode(lo_get(oid), 'hex') FROM pg_largeobject_metadata") == "00010203ff"


@pytest.mark.parametrize("name", list(FORMATS))
def test_masked_archive_restores(pg_server, src, masked, name):
    db = restore(pg_server, masked[name], f"archive_r_{name}")
    check_masked_restore(pg_server, src["db"], db)
    audit = json.loads(open(str(masked[name]) + ".audit.json").read())
    assert audit["status"] == "ok"
    assert audit["input"]["format"] == audit["output"]["format"] == name.split("_")[0]
    want = ({"format": "none", "level": 0, "of": "archive data"} if name == "custom_z0"
            else {"format": "gzip", "level": None, "of": "archive data"})
    assert audit["input"]["compression"] == want
    assert audit["output"]["compression"] == (want if name == "custom_z0" else dict(want, written_level=6))
    assert any("large objects" in w for w in audit["warnings"])


@pytest.mark.parametrize("name", ["custom", "directory"])
def test_masked_archive_restores_in_parallel(pg_server, src, masked, name):
    """pg_restore -j 2 needs every data offset set in a custom archive."""
    db = restore(pg_server, masked[name], f"archive_j_{name}", "-j", "2")
    check_masked_restore(pg_server, src["db"], db)


def copy_blocks(sql: bytes) -> dict:
    """COPY statement -> its data lines, and the setval lines, of a plain dump."""
    out, current = {}, None
    for line in sql.splitlines(keepends=True):
        if current is not None:
            if line == b"\\.\n":
                current = None
            else:
                out[current].append(line)
        elif line.startswith(b"COPY "):
            current = line
            out[current] = []
        elif b"pg_catalog.setval(" in line:
            out[line] = []
    return out


def test_masked_archive_has_the_plain_dumps_masked_data(pg_server, src, masked):
    """Masking the archive gives the same table data as masking the plain dump of the same
    database (every COPY line and setval, compared through pg_restore -f -)."""
    cp = run_dm("-c", src["rules"], src["plain"])
    assert cp.returncode == 0, cp.stderr.decode()
    expected = copy_blocks(cp.stdout)
    assert len(expected) == 7 and sum(map(len, expected.values())) == 120 + 300 + 400 + 50
    for name, path in masked.items():
        text = subprocess.run([pg_server.bin("pg_restore"), "-f", "-", str(path)], capture_output=True, check=True).stdout
        assert copy_blocks(text) == expected, name


def _audit_without_clock(path) -> dict:
    a = json.loads(open(path).read())
    for k in ("started_at", "finished_at", "duration_s", "signature"):
        a.pop(k, None)
    a["options"].pop("workers", None)
    a["output"].pop("name")
    return a


@pytest.mark.parametrize("name", ["directory", "custom"])
def test_jobs_give_the_same_archive(src, masked, name):
    """-j 2 (directory: each table file in a worker process; custom: blocks in workers) writes
    the same bytes as -j 1, and the same audit."""
    path = src["dumps"][name]
    out = src["base"] / ("j2-" + path.name)
    cp = run_dm("-j", "2", "-c", src["rules"], path, "-o", out, "--audit", str(out) + ".audit.json")
    assert cp.returncode == 0, cp.stderr.decode()
    one = masked[name]
    if name == "directory":
        assert sorted(os.listdir(out)) == sorted(os.listdir(one))
        for f in os.listdir(one):
            assert (out / f).read_bytes() == (one / f).read_bytes(), f
    else:
        assert out.read_bytes() == one.read_bytes()
    assert _audit_without_clock(str(out) + ".audit.json") == _audit_without_clock(str(one) + ".audit.json")


def data_offsets(data: bytes) -> dict:
    """dump id -> (offset flag, the block header found at the offset) of a custom archive."""
    import io

    from dumpmask.archive import format as fmt

    s = fmt.Stream(io.BytesIO(data), "x")
    header = fmt.read_header(s, "custom")
    out = {}
    for e in fmt.read_toc(s, header):
        if e.had_dumper:
            at = data[e.data_pos:e.data_pos + 6]
            out[e.dump_id] = (e.data_state, at[0], int.from_bytes(at[2:6], "little"))
    return out


def test_custom_archive_has_every_data_offset_even_on_a_pipe(src, masked):
    """pg_restore -j needs the data offsets in the TOC: each is set and points at its entry's
    block; -o - (written without seeking: the data is spooled first) gives the same bytes."""
    for name in ("custom", "custom_z0"):
        offsets = data_offsets(masked[name].read_bytes())
        assert len(offsets) == 5
        for dump_id, (state, btype, block_id) in offsets.items():
            assert (state, block_id) == (2, dump_id) and btype in (1, 3), (name, dump_id)
    cp = run_dm("-c", src["rules"], src["dumps"]["custom"], "-o", "-")
    assert cp.returncode == 0, cp.stderr.decode()
    assert cp.stdout == masked["custom"].read_bytes()


def test_unmasked_archive_keeps_every_entry(pg_server, src):
    """No rules: the TOC and the table data come back as they were (pg_restore -f - of input
    and output is the same text, but for the random \\restrict key of pg_dump 15.14+)."""
    empty = src["base"] / "empty.json"
    empty.write_text("[]")
    for name in ("custom", "directory"):
        path = src["dumps"][name]
        out = src["base"] / ("empty-" + path.name)
        cp = run_dm("-c", empty, path, "-o", out)
        assert cp.returncode == 0, cp.stderr.decode()

        def text(p):
            t = subprocess.run([pg_server.bin("pg_restore"), "-f", "-", str(p)], capture_output=True, check=True).stdout
            return re.sub(rb"(?m)^\\(un)?restrict .*$", b"", t)
        assert text(out) == text(path), name
        if name == "directory":   # the table files nothing applies to are copied as they are
            for f in os.listdir(path):
                if f != "toc.dat":
                    assert (out / f).read_bytes() == (path / f).read_bytes(), f


def _refused(cp, *needles: bytes) -> None:
    assert cp.returncode == 1, (cp.returncode, cp.stderr)
    assert b"Traceback" not in cp.stderr
    for n in needles:
        assert n in cp.stderr, (n, cp.stderr)
    assert b"kunde1@" not in cp.stderr and b"N\xc3\xa1me" not in cp.stderr   # no data in messages


def test_truncated_or_corrupt_custom_archive_fails_without_output(src):
    data = src["dumps"]["custom"].read_bytes()
    bad = src["base"] / "bad.dump"
    out = src["base"] / "bad-out.dump"
    first_block = data.index(b"\x01\x00", data.index(b"FK CONSTRAINT"))     # (after the TOC)
    for cut in (8, 40, first_block - 30, first_block + 30, len(data) - 9):
        bad.write_bytes(data[:cut])
        _refused(run_dm("-c", src["rules"], bad, "-o", out), b"truncated")
        assert not out.exists() and not [p for p in os.listdir(src["base"]) if "bad-out" in p], cut
    # a data chunk with its compressed bytes damaged: the entry is named
    i = data.index(b"x\x9c", first_block)
    bad.write_bytes(data[:i + 6] + bytes(b ^ 0x5A for b in data[i + 6:i + 40]) + data[i + 40:])
    _refused(run_dm("-c", src["rules"], bad, "-o", out), b"TOC entry", b"TABLE DATA")
    assert not out.exists()


def test_truncated_directory_archive_fails_without_output(src):
    import shutil

    d = src["base"] / "bad.dir"
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(src["dumps"]["directory"], d)
    out = src["base"] / "bad-out.dir"
    biggest = max((f for f in os.listdir(d) if f.endswith(".dat.gz")), key=lambda f: (d / f).stat().st_size)
    blob = (d / biggest).read_bytes()
    (d / biggest).write_bytes(blob[:len(blob) // 2])
    for j in ("1", "2"):
        _refused(run_dm("-j", j, "-c", src["rules"], d, "-o", out), b"TOC entry " + biggest.split(".")[0].encode())
        assert not out.exists() and not [p for p in os.listdir(src["base"]) if "bad-out" in p]
    (d / biggest).unlink()
    _refused(run_dm("-c", src["rules"], d, "-o", out), b"TOC entry " + biggest.split(".")[0].encode())
    assert not out.exists()
    toc = (d / "toc.dat").read_bytes()
    (d / "toc.dat").write_bytes(toc[:len(toc) // 2])
    _refused(run_dm("-c", src["rules"], d, "-o", out), b"truncated", b"toc.dat")


def test_archive_output_is_checked_before_the_run(src):
    d = src["dumps"]["directory"]
    cp = run_dm("-c", src["rules"], d, "-o", "-")
    assert cp.returncode == 2 and b"-o DIR" in cp.stderr
    taken = src["base"] / "taken.dir"
    taken.mkdir(exist_ok=True)
    (taken / "x").write_bytes(b"")
    cp = run_dm("-c", src["rules"], d, "-o", taken)
    assert cp.returncode == 2 and b"not empty" in cp.stderr
    cp = run_dm("-c", src["rules"], src["dumps"]["custom"], "-o", src["dumps"]["custom"])
    assert cp.returncode == 2 and b"overwrite the input" in cp.stderr
    cp = run_dm("--first", "5", "-c", src["rules"], src["dumps"]["custom"], "-o", src["base"] / "first.dump")
    assert cp.returncode == 2 and b"partial transfer" in cp.stderr
    assert not (src["base"] / "first.dump").exists()
    # an archive keeps its own compression: --compress / a .gz name are for plain dumps
    for extra in (("-o", src["base"] / "c.dump.gz"), ("--compress", "zstd", "-o", src["base"] / "c.dump")):
        cp = run_dm("-c", src["rules"], src["dumps"]["custom"], *extra)
        assert cp.returncode == 2 and b"its own compression" in cp.stderr
    assert not (src["base"] / "c.dump.gz").exists() and not (src["base"] / "c.dump").exists()
    # large objects cannot be masked: --strict refuses to copy them
    cp = run_dm("--strict", "-c", src["rules"], src["dumps"]["custom"], "-o", src["base"] / "strict.dump")
    assert cp.returncode == 1 and b"large objects" in cp.stderr and b"--no-blobs" in cp.stderr
    assert not (src["base"] / "strict.dump").exists()


def test_archive_of_inserts_is_masked_as_the_plain_inserts_dump(pg_server, src):
    """pg_dump --inserts into an archive: its TABLE DATA entries hold INSERT statements (no
    copyStmt); they go through the engine's INSERT path, as the plain --inserts dump does."""
    plain = src["base"] / "inserts.sql"
    plain.write_bytes(pg_server.dump(src["db"], "--inserts"))
    cp = run_dm("-c", src["rules"], plain)
    assert cp.returncode == 0, cp.stderr.decode()
    expected = [ln for ln in cp.stdout.splitlines() if ln.startswith(b"INSERT ") or b"setval(" in ln]
    assert len(expected) > 800
    for args in (("-Fc",), ("-Fd",)):
        path = src["base"] / ("ins" + args[0])
        subprocess.run([pg_server.bin("pg_dump"), *args, "--inserts", "-f", str(path), "-d", src["db"]],
                       env=pg_server.env, check=True)
        out = src["base"] / ("masked-ins" + args[0])
        cp = run_dm("-c", src["rules"], path, "-o", out)
        assert cp.returncode == 0, cp.stderr.decode()
        text = subprocess.run([pg_server.bin("pg_restore"), "-f", "-", str(out)], capture_output=True, check=True).stdout
        assert [ln for ln in text.splitlines() if ln.startswith(b"INSERT ") or b"setval(" in ln] == expected, args


def _pipe_dm(pg, db: str, *args, head: int | None = None) -> subprocess.CompletedProcess:
    """pg_dump -Fc DB | dumpmask ARGS (optionally cut to `head` bytes on the way, as a pipe
    that breaks would): the real pg_dump writing to a pipe, so its data offsets are unset."""
    env = dict(pg.env, PYTHONPATH=str(REPO), DUMPMASK_KEY=TEST_KEY)
    cut = f" | head -c {head}" if head is not None else ""
    cmd = (f"{pg.bin('pg_dump')} -Fc -d {db}{cut} | {sys.executable} -m dumpmask -q "
           + " ".join(f"'{a}'" for a in map(str, args)))
    return subprocess.run(["bash", "-o", "pipefail", "-c", cmd], env=env, capture_output=True, timeout=300)


def test_custom_archive_on_stdin_is_masked_as_the_same_file_is(pg_server, src):
    """pg_dump -Fc | dumpmask -o FILE and | dumpmask > FILE (-j 1 and -j 2): pg_dump on a pipe
    leaves every data offset unset and writes the blocks in TOC order; read as they come, the
    result is the same bytes as masking that archive from a file, has every offset set, and
    restores with pg_restore -d and -j 2."""
    base = src["base"]
    teed = base / "teed.dump"
    outs = {"file": base / "stdin-out.dump", "stdout": base / "stdin-stdout.dump", "j2": base / "stdin-j2.dump"}
    cp = _pipe_dm(pg_server, src["db"], "-c", src["rules"], "-o", outs["file"], "--audit", base / "stdin.audit.json")
    assert cp.returncode == 0, cp.stderr.decode()
    # the same pg_dump output, kept: tee it this time (a second dump of the same database)
    env = dict(pg_server.env, PYTHONPATH=str(REPO), DUMPMASK_KEY=TEST_KEY)
    cmd = (f"{pg_server.bin('pg_dump')} -Fc -d {src['db']} | tee {teed} | {sys.executable} -m dumpmask -q -c "
           f"{src['rules']} > {outs['stdout']}")
    cp = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], env=env, capture_output=True, timeout=300)
    assert cp.returncode == 0, cp.stderr.decode()
    states = {state for state, _b, _i in data_offsets(teed.read_bytes()).values()}
    assert states == {1}, "pg_dump on a pipe leaves the data offsets unset"
    cp = subprocess.run(["bash", "-c", f"{sys.executable} -m dumpmask -q -j 2 -c {src['rules']} -o {outs['j2']} - "
                         f"< {teed}"], env=env, capture_output=True, timeout=300)
    assert cp.returncode == 0, cp.stderr.decode()
    from_file = base / "teed-masked.dump"
    cp = run_dm("-c", src["rules"], teed, "-o", from_file)
    assert cp.returncode == 0, cp.stderr.decode()
    assert outs["stdout"].read_bytes() == from_file.read_bytes() == outs["j2"].read_bytes()
    for name, path in outs.items():
        offsets = data_offsets(path.read_bytes())
        assert len(offsets) == 5 and all(s == 2 and i == d for d, (s, _b, i) in offsets.items()), name
    for j in ("1", "2"):
        db = restore(pg_server, outs["file"], f"archive_stdin_{j}", "-j", j)
        check_masked_restore(pg_server, src["db"], db)
    audit = json.loads((base / "stdin.audit.json").read_text())
    assert audit["status"] == "ok" and audit["input"]["name"] == "<stdin>"
    assert audit["input"]["format"] == audit["output"]["format"] == "custom"


def test_custom_archive_on_stdin_cut_short_fails_without_output(pg_server, src):
    """A pipe that ends part-way (pg_dump killed, a network copy broken): exit 1 naming where,
    nothing on stdout and no output file (the archive is written only once it is complete);
    what archives cannot do on stdin either is refused as for a file."""
    size = src["dumps"]["custom"].stat().st_size
    out = src["base"] / "stdin-cut.dump"
    for cut in (3, 200, size // 2, size - 12):
        cp = _pipe_dm(pg_server, src["db"], "-c", src["rules"], "-o", out, head=cut)
        _refused(cp, b"<stdin>", b"truncated")
        assert not out.exists()
        cp = _pipe_dm(pg_server, src["db"], "-c", src["rules"], head=cut)
        _refused(cp, b"truncated")
        assert cp.stdout == b""
    cp = _pipe_dm(pg_server, src["db"], "--first", "3", "-c", src["rules"], "-o", out)
    assert cp.returncode == 2 and b"partial transfer" in cp.stderr and not out.exists()


def test_library_mask_routes_archives_as_the_cli_does(src, masked, tmp_path):
    """dumpmask.mask(): a custom archive given as a path or as an open stream into a stream, a
    directory archive into a new directory: the CLI's bytes; what cannot be is refused."""
    import io

    import dumpmask
    from dumpmask.errors import RulesError

    rules = str(src["rules"])
    for given in (src["dumps"]["custom"], open(src["dumps"]["custom"], "rb")):
        out = io.BytesIO()
        audit = dumpmask.mask(given, out, rules=rules, key=TEST_KEY, warn=lambda m: None)
        assert out.getvalue() == masked["custom"].read_bytes()
        assert audit["status"] == "ok" and audit["input"]["format"] == "custom"
    piped = io.BufferedReader(io.BytesIO(src["dumps"]["custom"].read_bytes()))   # (a stream, no name)
    out = io.BytesIO()
    assert dumpmask.mask(piped, out, rules=rules, key=TEST_KEY, warn=lambda m: None)["input"]["name"] == "<stream>"
    assert out.getvalue() == masked["custom"].read_bytes()
    into = tmp_path / "lib.dump"
    dumpmask.mask(src["dumps"]["custom"], into, rules=rules, key=TEST_KEY, warn=lambda m: None)
    assert into.read_bytes() == masked["custom"].read_bytes()
    d = tmp_path / "lib.dir"
    dumpmask.mask(src["dumps"]["directory"], d, rules=rules, key=TEST_KEY, warn=lambda m: None, jobs=2)
    one = masked["directory"]
    assert {f: (d / f).read_bytes() for f in os.listdir(d)} == {f: (one / f).read_bytes() for f in os.listdir(one)}
    with pytest.raises(RulesError, match="written to a directory"):
        dumpmask.mask(src["dumps"]["directory"], io.BytesIO(), rules=rules, key=TEST_KEY)
    with pytest.raises(RulesError, match="its own compression"):
        dumpmask.mask(src["dumps"]["custom"], io.BytesIO(), rules=rules, key=TEST_KEY, compress="zstd")


def _on_a_terminal(*args) -> tuple[bytes, int]:
    """dumpmask ARGS with stderr a terminal (a pty), as a user at a shell runs it: (stderr, exit)."""
    import pty

    env = dict(os.environ, PYTHONPATH=str(REPO), DUMPMASK_KEY=TEST_KEY)
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "dumpmask", *map(str, args)], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    got = b""
    while True:
        try:
            b = os.read(master, 1 << 16)
        except OSError:      # (EIO: the other side is closed)
            break
        if not b:
            break
        got += b
    os.close(master)
    return got, p.wait(timeout=300)


@pytest.mark.parametrize("name", ["custom", "directory"])
def test_archive_run_shows_a_progress_line_on_a_terminal(src, name):
    """As for a plain dump: on a terminal, a progress line on stderr (the archive's MB read, the
    table), ended by a line break; with -q none; stdout untouched."""
    out = src["base"] / ("progress-" + src["dumps"][name].name)
    err, rc = _on_a_terminal("-c", src["rules"], src["dumps"][name], "-o", out)
    assert rc == 0, err
    assert re.search(rb"\rdumpmask: +[0-9.]+ MB +[0-9.]+ MB/s ", err), err
    assert err.endswith(b"\r\n") and b"Traceback" not in err
    size = sum(f.stat().st_size for f in src["dumps"][name].iterdir()) if name == "directory" else \
        src["dumps"][name].stat().st_size
    last = err.rstrip().rsplit(b"\r", 1)[-1]      # the last figures shown: the whole archive read
    assert re.match(rb"dumpmask: +%.1f MB" % (size / 1e6), last), (last, size)
    assert re.search(rb"warning: .*large objects", err) and not re.search(rb"MB/s +dumpmask: warning", err)
    out2 = src["base"] / ("quiet-" + src["dumps"][name].name)
    err, rc = _on_a_terminal("-q", "-c", src["rules"], src["dumps"][name], "-o", out2)
    assert rc == 0 and b"MB/s" not in err
