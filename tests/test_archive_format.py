"""The pg_dump archive format's pieces without a server (tests/test_archive.py restores real
archives): primitives and TOC round trips, a table file's COPY text cut into blocks, and the
directory work unit giving the same bytes however its input is cut."""
from __future__ import annotations

import gzip
import io
import json
import random

import pytest

from dumpmask import pipeline
from dumpmask.archive import format as fmt
from dumpmask.archive.format import ArchiveError
from conftest import TEST_KEY

HEADER = fmt.Header((1, 14, 0), 4, 8, 1, -1, "gzip", (1, 2, 3, 4, 5, 126, 0), b"db", b"15.1", None)


def test_header_and_toc_round_trip():
    e = fmt.Entry(7, 1, b"1259", b"16400", "Kunden ü".encode(), b"TABLE DATA", 3, b"", b"", b"COPY x FROM stdin;\n",
                  b"public", b"", None, None, b"o", b"false", [b"5", b"6"], fmt.OFFSET_SET, 1234)
    data = HEADER.pack() + fmt.pack_toc([e], HEADER)
    s = fmt.Stream(io.BytesIO(data), "t")
    h = fmt.read_header(s, "custom")
    assert h == HEADER
    assert fmt.read_toc(s, h) == [e]
    assert s.at_eof()


def test_negative_and_null_primitives():
    assert fmt.pack_int(-1) == b"\x01\x01\x00\x00\x00"
    assert fmt.pack_str(None) == fmt.pack_int(-1)
    s = fmt.Stream(io.BytesIO(fmt.pack_int(-300) + fmt.pack_str(None) + fmt.pack_str(b"")), "t")
    assert (s.int(), s.str(), s.str()) == (-300, None, b"")


@pytest.mark.parametrize("cut", [3, 12, 30])
def test_truncated_header_names_where(cut):
    with pytest.raises(ArchiveError, match="truncated in the header"):
        fmt.read_header(fmt.Stream(io.BytesIO(HEADER.pack()[:cut]), "t.dump"), "custom")


def test_other_formats_and_compressions_refused():
    tar = fmt.Header((1, 14, 0), 4, 8, 3, 0, "none", (0,) * 7, None, None, None)
    with pytest.raises(ArchiveError, match="not a custom-format archive"):
        fmt.read_header(fmt.Stream(io.BytesIO(tar.pack()), "t"), "custom")
    unknown = bytearray(fmt.Header((1, 15, 0), 4, 8, 1, None, "zstd", (0,) * 7, None, None, None).pack())
    unknown[11] = 4     # the compression algorithm byte of a 1.15 header: 0-3 are known
    with pytest.raises(ArchiveError, match="unknown compression algorithm 4"):
        fmt.read_header(fmt.Stream(io.BytesIO(bytes(unknown)), "t"), "custom")


@pytest.mark.parametrize("algorithm,code", [("none", 0), ("gzip", 1), ("lz4", 2), ("zstd", 3)])
@pytest.mark.parametrize("version", [(1, 15, 0), (1, 16, 0)])
def test_header_of_pg16_and_pg17_names_the_algorithm_not_a_level(version, algorithm, code):
    """1.15+ (pg_dump 16, 17): one byte, the algorithm (0 none, 1 gzip, 2 lz4, 3 zstd), where
    1.14 had the zlib level as an int; no level is recorded: written at pg_dump's default."""
    h = fmt.Header(version, 4, 8, 1, None, algorithm, (1, 2, 3, 4, 5, 126, 0), b"db", b"17.10", b"17.10")
    data = h.pack()
    assert data[5:8] == bytes(version) and data[11] == code and data[12:17] == fmt.pack_int(1)
    back = fmt.read_header(fmt.Stream(io.BytesIO(data), "t"), "custom")
    assert back == h and back.level is None
    assert fmt.Codec.of(back, "t") == fmt.Codec(algorithm, fmt.DEFAULT_LEVELS.get(algorithm, -1))
    old = fmt.read_header(fmt.Stream(io.BytesIO(fmt.Header((1, 14, 0), 4, 8, 1, 9, "gzip", (0,) * 7, None, None,
                                                                     None).pack()), "t"), "custom")
    assert (old.algorithm, old.level, fmt.Codec.of(old, "t").level) == ("gzip", 9, 9)


def _block(codec, data: bytes, cut: int = 1000) -> bytes:
    out = io.BytesIO()
    bw = fmt.BlockWriter(out.write, HEADER, codec, 7)
    for i in range(0, len(data), cut):
        bw.write(data[i:i + cut])
    bw.close()
    return out.getvalue()


def _unblock(codec, block: bytes, what: str = "TOC entry 7 (TABLE DATA public.t)") -> bytes:
    s = fmt.Stream(io.BytesIO(block), "t")
    assert fmt.read_block_header(s) == (fmt.BLOCK_DATA, 7)
    z = codec.decompressor(False, what)
    out = b"".join(z.feed(c) for c in fmt.raw_chunks(s))
    return out + z.end()


@pytest.mark.parametrize("algorithm", ["lz4", "zstd"])
def test_lz4_and_zstd_blocks_are_one_frame_in_chunks(algorithm):
    """A custom archive's lz4 / zstd data block: one frame (what pg_dump 16+'s compress_lz4.c /
    compress_zstd.c write) cut into length-prefixed chunks; read back whole however it was fed,
    the same bytes however it was fed; concatenated frames are read too."""
    import lz4.frame
    import zstandard

    codec = fmt.Codec(algorithm, fmt.DEFAULT_LEVELS[algorithm])
    rng = random.Random(5)
    data = b"".join(b"%d\t%x@example.org\n" % (i, rng.getrandbits(64)) for i in range(20000))
    block = _block(codec, data)
    assert block == _block(codec, data, cut=7777) and _unblock(codec, block) == data
    chunks = list(fmt.raw_chunks(fmt.Stream(io.BytesIO(block[6:]), "t")))
    assert len(chunks) > 1 and all(len(c) == fmt.CHUNK for c in chunks[:-1])
    frame = b"".join(chunks)
    plain = lz4.frame.decompress(frame) if algorithm == "lz4" else zstandard.ZstdDecompressor().decompressobj().decompress(frame)
    assert plain == data
    two = _block(fmt.Codec("none"), frame + frame)   # (framed as stored: chunks of the two frames)
    z = codec.decompressor(True, "t")
    assert b"".join(z.feed(c) for c in fmt.raw_chunks(fmt.Stream(io.BytesIO(two[6:]), "t"))) + z.end() == data * 2
    empty = _block(codec, b"")
    assert len(empty) > 6 + 5 + 5 and _unblock(codec, empty) == b""   # an empty table: a frame all the same


@pytest.mark.parametrize("algorithm", ["lz4", "zstd"])
def test_truncated_or_corrupt_lz4_and_zstd_data_name_the_entry(algorithm):
    codec = fmt.Codec(algorithm, fmt.DEFAULT_LEVELS[algorithm])
    frame = b"".join(fmt.raw_chunks(fmt.Stream(io.BytesIO(_block(codec, COPY * 50)[6:]), "t")))
    z = codec.decompressor(True, "TOC entry 7 (TABLE DATA public.t)")
    z.feed(frame[:-9])
    with pytest.raises(ArchiveError, match=f"TOC entry 7 .*{algorithm} data is truncated"):
        z.end()
    with pytest.raises(ArchiveError, match=f"TOC entry 7 .*corrupt {algorithm} data"):
        z = codec.decompressor(True, "TOC entry 7 (TABLE DATA public.t)")
        z.feed(frame[:12] + bytes(b ^ 0x5A for b in frame[12:200]) + frame[200:])
        z.end()
    with pytest.raises(ArchiveError, match="truncated"):
        codec.decompressor(True, "t").end()      # no frame at all


COPY = b"".join(b"%d\tuser%d@example.org\ttab\\there \\\\. %d\n" % (i, i, i) for i in range(300)) + b"\\.\n\n\n"


def pieces(data: bytes, rng) -> list:
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, 90)
        out.append(data[i:i + n])
        i += n
    return out


@pytest.mark.parametrize("seed", range(5))
def test_copy_text_cut_into_blocks_of_whole_lines(monkeypatch, seed):
    monkeypatch.setattr(pipeline, "CHUNK", 200)
    got = list(pipeline._copy_blocks(iter(pieces(COPY, random.Random(seed))), "t"))
    assert got[-1][0] == "tail" and got[-1][1] == b"\\.\n\n\n"
    assert all(k == "rows" and d.endswith(b"\n") for k, d in got[:-1]) and len(got) > 5
    assert b"".join(d for _, d in got) == COPY


def test_copy_text_without_its_end_is_truncated():
    with pytest.raises(ArchiveError, match="truncated"):
        list(pipeline._copy_blocks(iter([COPY[:-20]]), "TOC entry 9 (TABLE DATA public.t)"))
    assert list(pipeline._copy_blocks(iter([b"\\.\n"]), "t")) == [("tail", b"\\.\n")]


def test_table_file_work_unit_same_bytes_however_cut(tmp_path, monkeypatch):
    """mask_table_file over a gzip table file: the same output for blocks of 200 bytes and of
    1 MB, the counts adding up, the tail kept; and a truncated file refused, naming it."""
    from dumpmask.crypto import Key
    from dumpmask.dialects.base import LineReader
    from dumpmask.engine import build_engine
    from dumpmask.rules import load_rules

    rp = tmp_path / "r.json"
    rp.write_text(json.dumps([{"tableName": "t", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]))
    engine = build_engine(load_rules(str(rp)), Key(TEST_KEY))
    engine.set_dialect("postgres")
    engine.learn_schema(LineReader(io.BytesIO(b"CREATE TABLE public.t (id integer, email text, note text);\n"), "s"))
    plan = engine.build_plan(engine.table_state(("public", "t")), ["id", "email", "note"], None).plan
    src = tmp_path / "9.dat.gz"
    src.write_bytes(gzip.compress(COPY))
    codec = fmt.Codec("gzip", -1)
    big = pipeline.mask_table_file(plan, str(src), str(tmp_path / "a.gz"), codec)
    monkeypatch.setattr(pipeline, "CHUNK", 200)
    small = pipeline.mask_table_file(plan, str(src), str(tmp_path / "b.gz"), codec)
    a, b = (tmp_path / "a.gz").read_bytes(), (tmp_path / "b.gz").read_bytes()
    assert a == b and big.rows == small.rows == 300 and len(small.counts) > len(big.counts)
    assert sum(c.changed[0] for c in small.counts) == sum(c.changed[0] for c in big.counts) == 300
    text = gzip.decompress(a)
    assert text.endswith(b"\\.\n\n\n") and b"user1@example.org" not in text and text.count(b"\n") == COPY.count(b"\n")
    src.write_bytes(gzip.compress(COPY)[:-40])
    with pytest.raises(ArchiveError, match="TOC entry 9"):
        pipeline.mask_table_file(plan, str(src), str(tmp_path / "c.gz"), codec, "TOC entry 9 (TABLE DATA public.t)")


def test_table_file_work_unit_runs_in_a_spawned_process(tmp_path):
    """What a cluster worker gets: the arguments pickled, no state inherited from the engine's
    process (spawn, not fork); the file it writes is the same bytes as in-process."""
    import concurrent.futures
    import multiprocessing

    from dumpmask.crypto import Key
    from dumpmask.dialects.base import LineReader
    from dumpmask.engine import build_engine
    from dumpmask.rules import load_rules

    rp = tmp_path / "r.json"
    rp.write_text(json.dumps([{"tableName": "t", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]))
    engine = build_engine(load_rules(str(rp)), Key(TEST_KEY))
    engine.set_dialect("postgres")
    engine.learn_schema(LineReader(io.BytesIO(b"CREATE TABLE public.t (id integer, email text, note text);\n"), "s"))
    plan = engine.build_plan(engine.table_state(("public", "t")), ["id", "email", "note"], None).plan
    src = tmp_path / "9.dat"
    src.write_bytes(COPY)
    codec = fmt.Codec("none")
    here = pipeline.mask_table_file(plan, str(src), str(tmp_path / "a.dat"), codec)
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        there = pool.submit(pipeline.mask_table_file, plan, str(src), str(tmp_path / "b.dat"), codec).result()
    assert (tmp_path / "a.dat").read_bytes() == (tmp_path / "b.dat").read_bytes()
    assert (there.rows, there.out_sha, there.counts) == (here.rows, here.out_sha, here.counts)


class _Trickle(io.RawIOBase):
    """A pipe that gives one byte a read (a slow producer)."""

    def __init__(self, data: bytes):
        self.data = data

    def readable(self):
        return True

    def readinto(self, b):
        if not self.data:
            return 0
        b[0] = self.data[0]
        self.data = self.data[1:]
        return 1


@pytest.mark.parametrize("data,kind", [(HEADER.pack() + b"rest", "custom"), (b"-- PostgreSQL database dump\n", None),
                                       (b"PGD", "custom"), (b"", None), (b"PGDMX", None)])
def test_stream_kind_reads_the_magic_however_the_stream_gives_it(data, kind):
    """stdin / a caller's stream: PGDMP found by peeking (a buffered stream), reading and seeking
    back (a seekable one), or reading five bytes and putting them back (a pipe whose first read
    gave fewer); every byte is there to read after. Fewer bytes than the magic that begin it: a
    truncated archive (its reader says so)."""
    for stream in (io.BufferedReader(io.BytesIO(data)), io.BytesIO(data), io.BufferedReader(_Trickle(data))):
        got, rest = pipeline.stream_kind(stream)
        assert got == kind and rest.read() == data, type(stream)
