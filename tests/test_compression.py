"""Compressed plain dumps (#13): gzip, zstd, bzip2, xz and lz4 input read by its first bytes
(file and stdin, every command that reads a dump, several members / frames read to the end);
a truncated or corrupt input ends the run with exit 1, a message that locates it and no data,
and an output that makes a restore fail; -o x.sql.gz / .zst and --compress write the same SQL
as a plain run, in members / frames that are the same bytes for every -j N."""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import subprocess
import zlib

import lz4.frame
import pytest
import zstandard

from conftest import TEST_KEY

import dumpmask
from dumpmask import compression
from dumpmask.crypto import Key
from dumpmask.rules import load_rules

POISON = b"DUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;"
SECRET = "sécret.përson'\\\t@example.org"   # quote, backslash, tab (escaped in COPY), non-ASCII


def _pg_dump(rows: int) -> bytes:
    """A pg_dump-shaped dump with a quoted non-ASCII table name and hostile values."""
    body = b"".join(b"%d\t%s%d\t\\N\n" % (i, SECRET.replace("\\", "\\\\").replace("\t", "\\t").encode(), i)
                    for i in range(1, rows + 1))
    return ("-- PostgreSQL database dump\nSET client_encoding = 'UTF8';\n"
            'CREATE TABLE public."Kündé ""x""" (\n    id integer NOT NULL,\n    email text,\n    note text\n);\n'
            'COPY public."Kündé ""x""" (id, email, note) FROM stdin;\n').encode() + body + b"\\.\n"


RULES = {"tables": [{"tableName": '"Kündé ""x"""', "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]}


def _members(data: bytes, fmt: str, parts: int = 3) -> bytes:
    """`data` in `parts` members / frames (as pigz, zstd -T or cat a.gz b.gz write it)."""
    step = -(-len(data) // parts)
    pieces = [data[i:i + step] for i in range(0, len(data), step)]
    if fmt == "gzip":
        return b"".join(gzip.compress(p, mtime=0) for p in pieces)
    return b"".join(zstandard.ZstdCompressor(write_checksum=True).compress(p) for p in pieces)


# zstd and lz4 as their command lines write them: with a checksum of the content (without it, a
# changed byte of a literal is not detectable by any reader)
COMPRESS = {"gzip": lambda d: gzip.compress(d, mtime=0),
            "zstd": lambda d: zstandard.ZstdCompressor(write_checksum=True).compress(d),
            "bzip2": bz2.compress, "xz": lzma.compress, "lz4": lambda d: lz4.frame.compress(d, content_checksum=True),
            "gzip-members": lambda d: _members(d, "gzip"), "zstd-frames": lambda d: _members(d, "zstd")}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """(folder, the plain dump, rules file, the CLI's masked output of the plain dump)."""
    d = tmp_path_factory.mktemp("compression")
    sql = d / "plain.sql"
    sql.write_bytes(_pg_dump(3000))
    rules = d / "r.json"
    rules.write_text(json.dumps(RULES))
    masked, audit = _mask(str(sql), rules)
    assert audit["status"] == "ok" and not audit["unmatched_rules"]
    assert "sécret".encode() not in masked and masked.count(b"\n") == sql.read_bytes().count(b"\n")
    return d, sql, rules


def _mask(src, rules, **options):
    dst = io.BytesIO()
    audit = dumpmask.mask(src, dst, load_rules(str(rules)), Key(TEST_KEY.encode()), **options)
    return dst.getvalue(), audit


@pytest.mark.parametrize("fmt", list(COMPRESS))
def test_compressed_input_masks_like_plain_from_a_path_and_a_stream(plain, fmt):
    d, sql, rules = plain
    expected, _ = _mask(str(sql), rules)
    packed = COMPRESS[fmt](sql.read_bytes())
    f = d / f"in.{fmt}"
    f.write_bytes(packed)
    by_path, a = _mask(str(f), rules)
    assert by_path == expected
    by_stream, _ = _mask(io.BytesIO(packed), rules)
    assert by_stream == expected
    name = fmt.split("-")[0]
    assert a["input"]["bytes"] == len(packed) and a["input"]["sha256"] == hashlib.sha256(packed).hexdigest()
    comp = a["input"]["compression"]
    assert comp["format"] == name
    assert comp["sql_bytes"] == sql.stat().st_size
    assert comp["sql_sha256"] == hashlib.sha256(sql.read_bytes()).hexdigest()
    assert comp.get("members", comp.get("frames")) == (3 if fmt.endswith(("members", "frames")) else 1)


@pytest.mark.parametrize("fmt", ["gzip-members", "zstd-frames"])
def test_cli_reads_compressed_file_and_stdin(dm, plain, fmt):
    d, sql, rules = plain
    expected, _ = _mask(str(sql), rules)
    packed = COMPRESS[fmt](sql.read_bytes())
    f = d / f"cli.{fmt}"
    f.write_bytes(packed)
    audit, report = d / f"{fmt}.json", d / f"{fmt}.pdf"
    by_file = dm("-c", rules, f, "--audit", audit, "--report", report)
    assert by_file.returncode == 0, by_file.stderr
    assert by_file.stdout == expected
    assert json.loads(audit.read_text())["input"]["compression"]["format"] == fmt.split("-")[0]
    assert report.read_bytes()[:5] == b"%PDF-"
    assert dm("verify-audit", audit).returncode == 0
    by_pipe = dm("-c", rules, input=packed)
    assert by_pipe.returncode == 0, by_pipe.stderr
    assert by_pipe.stdout == expected


def test_scan_preview_verify_and_schema_read_compressed_dumps(dm, plain):
    d, sql, rules = plain
    gz, zst = d / "tools.sql.gz", d / "tools.sql.zst"
    gz.write_bytes(COMPRESS["gzip-members"](sql.read_bytes()))
    zst.write_bytes(COMPRESS["zstd-frames"](sql.read_bytes()))
    assert dm("scan", gz).stdout == dm("scan", sql).stdout != b""
    assert dm("preview", "-c", rules, zst).stdout == dm("preview", "-c", rules, sql).stdout != b""
    masked = d / "masked.sql"
    masked.write_bytes(_mask(str(sql), rules)[0])
    masked_z = d / "masked.sql.zst"
    masked_z.write_bytes(COMPRESS["zstd-frames"](masked.read_bytes()))
    plain_verdict = dm("verify", sql, masked, "-c", rules, "--json")
    both = dm("verify", gz, masked_z, "-c", rules, "--json")
    assert both.returncode == plain_verdict.returncode == 0, both.stderr
    assert both.stdout == plain_verdict.stdout
    assert json.loads(both.stdout)["values_checked"] > 0
    # a leak is still found through the compression (the original as the "masked" side)
    leak = dm("verify", gz, zst, "-c", rules)
    assert leak.returncode == 1, leak.stderr
    # --schema through its compression (the schema is read from the compressed file)
    cp = dm("-c", rules, "--schema", zst, input=sql.read_bytes())
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == masked.read_bytes()


def _truncated_and_corrupt(data: bytes, fmt: str) -> dict[str, bytes]:
    packed = COMPRESS[fmt](data)
    corrupt = bytearray(packed)
    for i in range(len(packed) // 2, len(packed) // 2 + 8):
        corrupt[i] ^= 0x55
    return {"truncated": packed[:len(packed) // 2], "corrupt": bytes(corrupt),
            "garbage after": packed + b"\x00\x01not a member"}


@pytest.mark.parametrize("fmt", ["gzip-members", "zstd-frames", "bzip2", "xz", "lz4"])
def test_truncated_or_corrupt_input_fails_naming_the_file_and_poisons(plain, fmt):
    d, sql, rules = plain
    for what, data in _truncated_and_corrupt(sql.read_bytes(), fmt).items():
        f = d / f"bad.{fmt}"
        f.write_bytes(data)
        for src, name in ((str(f), str(f)), (io.BytesIO(data), "<stdin>")):
            dst = io.BytesIO()
            with pytest.raises(dumpmask.DumpmaskError) as e:
                dumpmask.mask(src, dst, load_rules(str(rules)), Key(TEST_KEY.encode()))
            msg = str(e.value)
            assert msg.startswith(f"{name}: "), (fmt, what, msg)
            assert "byte" in msg or "offset" in msg, (fmt, what, msg)
            assert "example.org" not in msg and "sécret" not in msg
            assert dst.getvalue().rstrip().endswith(POISON), (fmt, what, dst.getvalue()[-200:])


@pytest.mark.parametrize("via", ["file", "pipe"])
def test_truncated_input_exits_1_with_a_message_and_no_data(dm, plain, via):
    d, sql, rules = plain
    for fmt, case in (("gzip-members", "truncated"), ("zstd-frames", "corrupt")):
        data = _truncated_and_corrupt(sql.read_bytes(), fmt)[case]
        f = d / f"cli-bad.{fmt}"
        f.write_bytes(data)
        cp = dm("-c", rules, f) if via == "file" else dm("-c", rules, input=data)
        assert cp.returncode == 1, (fmt, cp.stderr)
        assert f"error: {f if via == 'file' else '<stdin>'}: ".encode() in cp.stderr, cp.stderr
        assert b"starts at byte" in cp.stderr and b"Traceback" not in cp.stderr
        assert b"example.org" not in cp.stderr and "sécret".encode() not in cp.stderr
        assert cp.stdout.rstrip().endswith(POISON)
    if via == "file":
        assert dm("scan", f).returncode == 1


# --------------------------------------------------------------------------- output

def _decompress(blob: bytes, fmt: str) -> bytes:
    if fmt == "gzip":
        return gzip.decompress(blob)
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True).read()


@pytest.mark.parametrize("fmt,suffix", [("gzip", ".sql.gz"), ("zstd", ".sql.zst")])
def test_output_by_name_and_forced_decompress_to_the_plain_run(dm, plain, fmt, suffix):
    d, sql, rules = plain
    expected = _mask(str(sql), rules)[0]
    out = d / f"masked{suffix}"
    audit = d / f"out-{fmt}.json"
    cp = dm("-c", rules, sql, "-o", out, "--audit", audit)
    assert cp.returncode == 0, cp.stderr
    blob = out.read_bytes()
    assert blob[:2] == b"\x1f\x8b" if fmt == "gzip" else blob[:4] == b"\x28\xb5\x2f\xfd"
    assert _decompress(blob, fmt) == expected
    tool = ["zcat"] if fmt == "gzip" else ["zstdcat"]
    assert subprocess.run(tool, input=blob, capture_output=True, check=True).stdout == expected
    a = json.loads(audit.read_text())
    assert a["output"]["bytes"] == len(blob) and a["output"]["sha256"] == hashlib.sha256(blob).hexdigest()
    assert a["output"]["compression"]["format"] == fmt
    assert a["output"]["compression"]["sql_sha256"] == hashlib.sha256(expected).hexdigest()
    # --compress on stdout, with a level; --compress none writes plain SQL to a .gz name
    forced = dm("-c", rules, sql, "--compress", fmt, "--compress-level", "1")
    assert forced.returncode == 0 and _decompress(forced.stdout, fmt) == expected
    none = d / f"plain{suffix}"
    assert dm("-c", rules, sql, "-o", none, "--compress", "none").returncode == 0
    assert none.read_bytes() == expected


def test_bad_compress_level_is_a_usage_error_before_output(dm, plain):
    d, sql, rules = plain
    out = d / "never.sql.gz"
    cp = dm("-c", rules, sql, "-o", out, "--compress-level", "12")
    assert cp.returncode == 2 and b"1-9" in cp.stderr
    assert not out.exists()
    assert dm("-c", rules, sql, "--compress-level", "3").returncode == 2   # plain output: no level


@pytest.mark.parametrize("fmt", ["gzip", "zstd"])
def test_two_jobs_write_the_same_compressed_bytes_as_one(plain, monkeypatch, fmt):
    """Chunks cut at fixed offsets of the SQL (64 KB here, so that a 1 MB dump has many):
    -j 2 compresses them in the workers, -j 1 in-process, and the files are identical."""
    d, sql, rules = plain
    monkeypatch.setattr(compression, "CHUNK", 64 << 10)
    data = _pg_dump(40000)
    ruleset, key = load_rules(str(rules)), Key(TEST_KEY.encode())
    outs = {}
    for jobs in (1, 2, None):
        dst = io.BytesIO()
        audit = dumpmask.mask(io.BytesIO(data), dst, ruleset, key, jobs=jobs or 1,
                              compress=fmt if jobs else "none")
        outs[jobs] = dst.getvalue()
        if jobs:
            assert audit["output"]["compression"].get("members", audit["output"]["compression"].get("frames")) > 10
    assert outs[1] == outs[2]
    assert _decompress(outs[2], fmt) == outs[None]


def test_failed_run_with_compressed_output_ends_in_the_poison_line(dm, plain):
    d, sql, rules = plain
    bad = d / "trunc.sql.gz"
    bad.write_bytes(_truncated_and_corrupt(_pg_dump(60000), "gzip-members")["truncated"])
    out = d / "failed.sql.zst"
    cp = dm("-c", rules, bad, "-o", out, "-j", "2")
    assert cp.returncode == 1
    assert not out.exists()          # a file output appears only when the run succeeded (atomic.py)
    cp = dm("-c", rules, bad, "--compress", "zstd", "-j", "2")    # a pipe: ends in the poison line
    assert cp.returncode == 1
    sql_out = subprocess.run(["zstdcat"], input=cp.stdout, capture_output=True, check=True).stdout
    assert sql_out.rstrip().endswith(POISON)


# --------------------------------------------------------------------------- real restores

def test_compressed_dump_masked_and_restored_into_postgres(tmp_path, dm, pg_server):
    db = pg_server.createdb("compress_src")
    pg_server.psql(db, 'CREATE TABLE "Kündé ""x""" (id int PRIMARY KEY, email text NOT NULL, note text);'
                       "INSERT INTO \"Kündé \"\"x\"\"\" SELECT g, 'sécret.përson''\\\t' || g || '@example.org', "
                       "E'line\\nbreak' FROM generate_series(1, 5000) g;")
    dump = tmp_path / "prod.sql.gz"
    dump.write_bytes(gzip.compress(pg_server.dump(db)))
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps(RULES))
    out = tmp_path / "masked.sql.zst"
    cp = dm("-c", rules, dump, "-o", out, "-j", "2")
    assert cp.returncode == 0, cp.stderr
    target = pg_server.createdb("compress_dst")
    restore = f"zstdcat {out} | {pg_server.bin('psql')} -X -q -v ON_ERROR_STOP=1 --single-transaction -d {target}"
    subprocess.run(["bash", "-o", "pipefail", "-c", restore], env=pg_server.env, check=True, capture_output=True)
    assert pg_server.scalar(target, 'SELECT count(*) FROM "Kündé ""x"""') == "5000"
    assert pg_server.scalar(target, "SELECT count(*) FROM \"Kündé \"\"x\"\"\" WHERE email LIKE 'sécret%'") == "0"
    # a truncated compressed input: the masked output makes the restore fail and commit nothing
    trunc = tmp_path / "trunc.sql.gz"
    trunc.write_bytes(dump.read_bytes()[:dump.stat().st_size * 2 // 3])
    failed = tmp_path / "failed.sql.gz"
    assert dm("-c", rules, trunc, "-o", failed).returncode == 1
    assert not failed.exists()   # atomic outputs: a failed run leaves no file under -o
    # on a pipe the output has already gone: what was written makes the restore fail
    piped = dm("-c", rules, trunc)
    assert piped.returncode == 1 and piped.stdout
    empty = pg_server.createdb("compress_fail")
    restore = subprocess.run([pg_server.bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                              "-d", empty], input=piped.stdout, env=pg_server.env, capture_output=True)
    assert restore.returncode != 0
    assert pg_server.scalar(empty, "SELECT count(*) FROM pg_class WHERE relname = 'Kündé \"x\"'") == "0"


def test_compressed_dump_masked_and_restored_into_mariadb(tmp_path, dm, my_server):
    db = my_server.create("compress_my")
    my_server.sql(db, "CREATE TABLE `Kündé` (id int PRIMARY KEY, email varchar(200) NOT NULL);"
                      "INSERT INTO `Kündé` VALUES " + ",".join(
                          f"({i}, 'sécret.p\\'ërson{i}@example.org')" for i in range(1, 2001)) + ";")
    dump = tmp_path / "prod.sql.zst"
    dump.write_bytes(zstandard.ZstdCompressor().compress(my_server.dump(db)))
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "`Kündé`", "columnMutations": [
        {"column": "email", "mutation": "faker.email"}]}]}))
    out = tmp_path / "masked.sql.gz"
    cp = dm("-c", rules, dump, "-o", out)
    assert cp.returncode == 0, cp.stderr
    target = my_server.create("compress_my_dst")
    client = " ".join(my_server._client(target))
    subprocess.run(["bash", "-o", "pipefail", "-c", f"zcat {out} | {client}"], check=True, capture_output=True)
    assert my_server.scalar(target, "SELECT count(*) FROM `Kündé`") == "2000"
    assert my_server.scalar(target, "SELECT count(*) FROM `Kündé` WHERE email LIKE 'sécret%'") == "0"


def test_zlib_and_isal_members_decompress_alike():
    """Levels 1-3 come from ISA-L, 4-9 from zlib: both are standard gzip members."""
    data = _pg_dump(2000)
    for level in (1, 2, 3, 6, 9):
        blob = compression.compress_chunk("gzip", level, data)
        assert zlib.decompress(blob, 31) == data, level
