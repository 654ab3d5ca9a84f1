"""The pg_dump archive format (custom -Fc and directory -Fd), read and written; pure.

Read from PostgreSQL's pg_backup_archiver.c / pg_backup_custom.c / pg_backup_directory.c /
compress_{gzip,lz4,zstd}.c and from archives pg_dump 15 (version 1.14) and 17 (1.16) write;
1.15 (pg 16: the compression algorithm in the header instead of the zlib level) and 1.16 (pg 17:
relkind in TOC entries) are read and written back as they are.

Primitives: an int is a sign byte then `int_size` bytes, little-endian, of its absolute value;
a string is an int length (-1: NULL) then its bytes; an offset is a flag byte (1 not set, 2 set,
3 no data) then `off_size` bytes, little-endian.

    header  "PGDMP", version (major, minor, rev bytes), int_size, off_size, format (1 custom,
            3 tar, 5 directory), compression (< 1.15: an int, the zlib level, -1 default, 0
            none; >= 1.15: a byte, the algorithm 0 none 1 gzip 2 lz4 3 zstd), the creation time
            (7 ints: sec min hour mday mon year isdst), dbname, server and pg_dump versions
    TOC     an int count, then per entry: dump id, had-dumper, tableoid, oid, tag, desc,
            section, defn, dropStmt, copyStmt, namespace, tablespace, tableam (1.14+),
            relkind (1.16+), owner, "false" (with oids), dependency ids (strings, NULL-ended),
            then the format's own field: custom, the offset of the entry's data block;
            directory, the name of its data file ("" without one)
    custom  after the TOC, data blocks: a type byte (1 data, 3 large objects), the dump id,
            then length-prefixed chunks ended by a zero length (large objects: per object its
            oid, then its chunks; an oid of 0 ends the block). Compressed data is one zlib
            stream per block (per object) cut into chunks; lz4 and zstd (1.15+), one lz4 / zstd
            frame per block (per object) cut into chunks the same way.
    dir     toc.dat (header and TOC), one file per data entry (NNNN.dat; compressed NNNN.dat.gz,
            a gzip file, NNNN.dat.lz4 an lz4 frame, NNNN.dat.zst a zstd frame), blobs.toc with
            blob_OID.dat[.gz|.lz4|.zst] files for large objects.
    pipe    pg_dump writing to a pipe leaves every data offset "not set" and writes the blocks in
            TOC order (read sequentially, as here); pg_dump 17 whose output cannot seek back may
            write the TOC a second time after the last block (with the offsets then known).

Errors are DumpmaskError (exit 1) naming the file and the entry; they never hold data.
"""
from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field

from dumpmask import storage
from dumpmask.errors import DumpmaskError

MAGIC = b"PGDMP"
FORMAT_CUSTOM, FORMAT_TAR, FORMAT_DIRECTORY = 1, 3, 5
FORMAT_NAMES = {FORMAT_CUSTOM: "custom", FORMAT_TAR: "tar", FORMAT_DIRECTORY: "directory"}
OFFSET_NOT_SET, OFFSET_SET, OFFSET_NO_DATA = 1, 2, 3
BLOCK_DATA, BLOCK_BLOBS = 1, 3
ALGORITHMS = {0: "none", 1: "gzip", 2: "lz4", 3: "zstd"}
SUFFIXES = {"none": "", "gzip": ".gz", "lz4": ".lz4", "zstd": ".zst"}
V1_14, V1_15, V1_16 = (1, 14, 0), (1, 15, 0), (1, 16, 0)
OLDEST = (1, 12, 0)     # pg_dump 9.0 and later
NEWEST = (1, 16, 255)
CHUNK = 64 << 10        # compressed (or plain) bytes per data chunk written
COMPRESSED_READ = 128 << 10   # compressed bytes of a data file decompressed at a time (what one piece may
                              # expand to: zstd and lz4 reach 1000x and more on repetitive rows)


class ArchiveError(DumpmaskError):
    """An archive that cannot be read (truncated, corrupt, a version or compression not known)."""


# --------------------------------------------------------------------------- primitives

class Stream:
    """A binary stream read with the archive's primitives; `where` names what is being read
    (for errors), `pos` counts the bytes read, `sha` hashes them."""

    def __init__(self, raw, source: str):
        self.raw, self.source = raw, source
        self.where = "the header"
        self.pos = 0
        self.sha = hashlib.sha256()
        self.int_size = 4
        self.off_size = 8
        self.back = b""

    def read(self, n: int) -> bytes:
        if self.back:                 # (the byte at_eof() read ahead, given back by unread(): counted once)
            first, self.back = self.back, b""
            return first + self.read(n - 1) if n > 1 else first
        data = self.raw.read(n)
        if len(data) == n:            # (the usual case: one read; a pipe may give less)
            self.pos += n
            self.sha.update(data)
            return data
        parts, got = [data], len(data)
        while got < n:
            b = self.raw.read(n - got)
            if not b:
                raise ArchiveError(f"{self.source}: the archive is truncated in {self.where} (at byte {self.pos + got})")
            parts.append(b)
            got += len(b)
        data = b"".join(parts) if len(parts) != 1 else parts[0]
        self.pos += n
        self.sha.update(data)
        return data

    def at_eof(self) -> bool:
        """True at the end of the stream (reads one byte ahead otherwise: `peeked`)."""
        if self.back:
            self.peeked, self.back = self.back, b""
            return False
        b = self.raw.read(1)
        if not b:
            return True
        self.pos += 1
        self.sha.update(b)
        self.peeked = b
        return False

    def unread(self) -> None:
        """The byte at_eof() read ahead is read again by the next read (it stays counted and hashed once)."""
        self.back = self.peeked

    def byte(self) -> int:
        return self.read(1)[0]

    def int(self) -> int:
        raw = self.read(1 + self.int_size)
        v = int.from_bytes(raw[1:], "little")
        if raw[0] not in (0, 1):
            self.int_error(raw)
        return -v if raw[0] else v

    def int_error(self, raw: bytes):
        raise ArchiveError(f"{self.source}: corrupt archive in {self.where} (at byte {self.pos - len(raw)}: "
                           "an integer's sign byte is neither 0 nor 1)")

    def str(self) -> bytes | None:
        n = self.int()
        if n < 0:
            if n != -1:
                raise ArchiveError(f"{self.source}: corrupt archive in {self.where} (a string of length {n})")
            return None
        if n > (1 << 31):
            raise ArchiveError(f"{self.source}: corrupt archive in {self.where} (a string of {n} bytes)")
        return self.read(n)

    def offset(self) -> tuple[int, int]:
        flag = self.byte()
        v = int.from_bytes(self.read(self.off_size), "little")
        if flag not in (OFFSET_NOT_SET, OFFSET_SET, OFFSET_NO_DATA):
            raise ArchiveError(f"{self.source}: corrupt archive in {self.where} (an offset flag of {flag})")
        return flag, v

    def drain(self) -> None:
        """Read (and hash) what is left."""
        while True:
            b = self.raw.read(1 << 20)
            if not b:
                return
            self.pos += len(b)
            self.sha.update(b)


def pack_int(v: int, int_size: int = 4) -> bytes:
    return bytes((1 if v < 0 else 0,)) + abs(v).to_bytes(int_size, "little")


def pack_str(s: bytes | None, int_size: int = 4) -> bytes:
    if s is None:
        return pack_int(-1, int_size)
    return pack_int(len(s), int_size) + s


def pack_offset(flag: int, v: int, off_size: int = 8) -> bytes:
    return bytes((flag,)) + v.to_bytes(off_size, "little")


# --------------------------------------------------------------------------- header and TOC

@dataclass
class Header:
    version: tuple
    int_size: int
    off_size: int
    format: int
    level: int | None           # < 1.15: the zlib level as written (-1: default); else None
    algorithm: str              # none | gzip | lz4 | zstd
    created: tuple              # sec, min, hour, mday, mon, year, isdst
    dbname: bytes | None
    server_version: bytes | None
    dump_version: bytes | None
    container: str = "custom"   # custom | directory: which extra field TOC entries have (not in the header:
                                # pg_dump 15 writes format byte 3 in a directory's toc.dat, as for tar)

    @property
    def compression(self) -> str:
        """For messages and the audit: "gzip (level 6)", "gzip (default level)", "none"."""
        if self.algorithm == "none":
            return "none"
        if self.level is None or self.level < 0:
            return f"{self.algorithm} (default level)"
        return f"{self.algorithm} (level {self.level})"

    def pack(self) -> bytes:
        n = self.int_size
        out = [MAGIC, bytes(self.version), bytes((self.int_size, self.off_size, self.format))]
        if self.version >= V1_15:
            out.append(bytes((next(k for k, v in ALGORITHMS.items() if v == self.algorithm),)))
        else:
            out.append(pack_int(self.level, n))
        out += [pack_int(v, n) for v in self.created]
        out += [pack_str(self.dbname, n), pack_str(self.server_version, n), pack_str(self.dump_version, n)]
        return b"".join(out)


def read_header(s: Stream, container: str) -> Header:
    """container: "custom" (a -Fc file) or "directory" (a -Fd directory's toc.dat)."""
    s.where = "the header"
    if s.read(5) != MAGIC:
        raise ArchiveError(f"{s.source}: not a pg_dump archive (no PGDMP at its start)")
    version = tuple(s.read(3))
    if not (OLDEST <= version <= NEWEST):
        raise ArchiveError(f"{s.source}: archive version {version[0]}.{version[1]} is not supported "
                           f"(dumpmask reads {OLDEST[0]}.{OLDEST[1]} to {NEWEST[0]}.{NEWEST[1]}: pg_dump 9.0 to 17)")
    int_size, off_size, fmt = s.read(3)
    if not 1 <= int_size <= 8 or not 1 <= off_size <= 8:
        raise ArchiveError(f"{s.source}: corrupt archive header (integer size {int_size}, offset size {off_size})")
    s.int_size, s.off_size = int_size, off_size
    if (container == "custom") != (fmt == FORMAT_CUSTOM) or fmt not in FORMAT_NAMES:
        raise ArchiveError(f"{s.source}: the archive header says format {fmt}, which is not a {container}-format archive")
    if version >= V1_15:
        code = s.byte()
        if code not in ALGORITHMS:
            raise ArchiveError(f"{s.source}: unknown compression algorithm {code} in the archive header")
        level, algorithm = None, ALGORITHMS[code]
    else:
        level = s.int()
        algorithm = "gzip" if level != 0 else "none"
    created = tuple(s.int() for _ in range(7))
    dbname, server, dump = s.str(), s.str(), s.str()
    return Header(version, int_size, off_size, fmt, level, algorithm, created, dbname, server, dump, container)


@dataclass
class Entry:
    """One TOC entry, every field as read (strings as bytes or None)."""

    dump_id: int
    had_dumper: int
    tableoid: bytes | None
    oid: bytes | None
    tag: bytes | None
    desc: bytes | None
    section: int
    defn: bytes | None
    drop_stmt: bytes | None
    copy_stmt: bytes | None
    namespace: bytes | None
    tablespace: bytes | None
    tableam: bytes | None
    relkind: int | None
    owner: bytes | None
    with_oids: bytes | None
    deps: list = field(default_factory=list)
    data_state: int = OFFSET_NO_DATA      # custom format
    data_pos: int = 0
    filename: bytes | None = None         # directory format

    @property
    def kind(self) -> str:
        return (self.desc or b"").decode("ascii", "replace")

    @property
    def label(self) -> str:
        """"TOC entry 3353 (TABLE DATA public.orders)" for messages (names, never data)."""
        name = (self.tag or b"").decode("utf-8", "replace")
        if self.namespace:
            name = self.namespace.decode("utf-8", "replace") + "." + name
        return f"TOC entry {self.dump_id} ({self.kind} {name})"

    def pack(self, header: Header) -> bytes:
        n = header.int_size
        out = [pack_int(self.dump_id, n), pack_int(self.had_dumper, n), pack_str(self.tableoid, n),
               pack_str(self.oid, n), pack_str(self.tag, n), pack_str(self.desc, n), pack_int(self.section, n),
               pack_str(self.defn, n), pack_str(self.drop_stmt, n), pack_str(self.copy_stmt, n),
               pack_str(self.namespace, n), pack_str(self.tablespace, n)]
        if header.version >= V1_14:
            out.append(pack_str(self.tableam, n))
        if header.version >= V1_16:
            out.append(pack_int(self.relkind or 0, n))
        out += [pack_str(self.owner, n), pack_str(self.with_oids, n)]
        out += [pack_str(d, n) for d in self.deps] + [pack_str(None, n)]
        if header.container == "custom":
            out.append(pack_offset(self.data_state, self.data_pos, header.off_size))
        else:
            out.append(pack_str(self.filename if self.filename is not None else b"", n))
        return b"".join(out)


def read_toc(s: Stream, header: Header) -> list[Entry]:
    s.where = "the table of contents"
    count = s.int()
    if count < 0 or count > 50_000_000:
        raise ArchiveError(f"{s.source}: corrupt archive (a table of contents of {count} entries)")
    entries = []
    for i in range(count):
        s.where = f"TOC entry #{i + 1} of {count}"
        dump_id = s.int()
        if dump_id <= 0:
            raise ArchiveError(f"{s.source}: corrupt archive: {s.where} has dump id {dump_id}")
        s.where = f"TOC entry {dump_id} (#{i + 1} of {count})"
        had_dumper = s.int()
        tableoid, oid, tag, desc = s.str(), s.str(), s.str(), s.str()
        section = s.int()
        defn, drop_stmt, copy_stmt, namespace, tablespace = s.str(), s.str(), s.str(), s.str(), s.str()
        tableam = s.str() if header.version >= V1_14 else None
        relkind = s.int() if header.version >= V1_16 else None
        owner, with_oids = s.str(), s.str()
        deps = []
        while (d := s.str()) is not None:
            deps.append(d)
        e = Entry(dump_id, had_dumper, tableoid, oid, tag, desc, section, defn, drop_stmt, copy_stmt, namespace,
                  tablespace, tableam, relkind, owner, with_oids, deps)
        if header.container == "custom":
            e.data_state, e.data_pos = s.offset()
        else:
            e.filename = s.str()
        entries.append(e)
    return entries


def toc_digest(entries: list[Entry], header: Header) -> str:
    """sha256 of a TOC as written but for its data offsets (to tell pg_dump's second copy of
    a TOC, whose offsets are set, from the first)."""
    from dataclasses import replace

    blank = [replace(e, data_state=0, data_pos=0) for e in entries]
    return hashlib.sha256(pack_toc(blank, header)).hexdigest()


def pack_toc(entries: list[Entry], header: Header) -> bytes:
    return pack_int(len(entries), header.int_size) + b"".join(e.pack(header) for e in entries)


# --------------------------------------------------------------------------- compression

class _Plain:
    def feed(self, data: bytes) -> bytes:
        return data

    def end(self) -> bytes:
        return b""


class _Inflate:
    def __init__(self, wbits: int, what: str):
        self.z = zlib.decompressobj(wbits)
        self.wbits, self.what = wbits, what

    def feed(self, data: bytes) -> bytes:
        try:
            out = self.z.decompress(data)
            while self.wbits == 31 and self.z.eof and self.z.unused_data:
                # a gzip file of several members (a table file split into parts, split.py):
                # read on, as gzread (pg_restore) does
                rest, self.z = self.z.unused_data, zlib.decompressobj(31)
                out += self.z.decompress(rest)
            return out
        except zlib.error:
            raise ArchiveError(f"{self.what}: corrupt compressed data") from None

    def end(self) -> bytes:
        try:
            tail = self.z.flush()
        except zlib.error:
            raise ArchiveError(f"{self.what}: corrupt compressed data") from None
        if not self.z.eof:
            raise ArchiveError(f"{self.what}: the compressed data is truncated")
        return tail


class _Deflate:
    def __init__(self, level: int, wbits: int):
        self.z = zlib.compressobj(level, zlib.DEFLATED, wbits)

    def feed(self, data: bytes) -> bytes:
        return self.z.compress(data)

    def end(self) -> bytes:
        return self.z.flush()


def _frame_decoder(algorithm: str):
    """A decompressor of one lz4 or zstd frame, and the exceptions it raises on bad data."""
    if algorithm == "lz4":
        import lz4.frame

        return lz4.frame.LZ4FrameDecompressor(), (RuntimeError, ValueError)
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj(), (zstandard.ZstdError,)


class _Frames:
    """lz4 or zstd data: the frames one after another (pg_dump 16+ writes one frame per data
    block and per data file; more, concatenated, are read as their command-line tools do)."""

    def __init__(self, algorithm: str, what: str):
        self.algorithm, self.what = algorithm, what
        self.d = None           # the frame being read (None: between frames)
        self.frames = 0         # frames read to their end

    def feed(self, data: bytes) -> bytes:
        out = []
        while data:
            if self.d is None:
                self.d, self.errors = _frame_decoder(self.algorithm)
            try:
                out.append(self.d.decompress(data))
            except self.errors:
                raise ArchiveError(f"{self.what}: corrupt {self.algorithm} data") from None
            if not self.d.eof:
                break
            data = self.d.unused_data
            self.d = None
            self.frames += 1
        return b"".join(out)

    def end(self) -> bytes:
        if self.d is not None or not self.frames:
            raise ArchiveError(f"{self.what}: the {self.algorithm} data is truncated (its frame does not end)")
        return b""


class _LZ4Compress:
    def __init__(self, level: int):
        import lz4.frame

        # pg_dump's preferences: all defaults (64 KB linked blocks, no checksums) but the level
        self.z = lz4.frame.LZ4FrameCompressor(compression_level=level)
        self.head = self.z.begin()

    def feed(self, data: bytes) -> bytes:
        out = self.z.compress(data)
        if self.head:
            out, self.head = self.head + out, b""
        return out

    def end(self) -> bytes:
        out, self.head = self.head + self.z.flush(), b""
        return out


class _ZstdCompress:
    def __init__(self, level: int):
        import zstandard

        self.z = zstandard.ZstdCompressor(level=level).compressobj()

    def feed(self, data: bytes) -> bytes:
        return self.z.compress(data)

    def end(self) -> bytes:
        return self.z.flush()


# the level written when the archive does not say (a 1.15+ header records only the algorithm):
# pg_dump's own default for each (zlib's default 6, lz4's fast mode 0, zstd's 3)
DEFAULT_LEVELS = {"gzip": -1, "lz4": 0, "zstd": 3}


def effective_level(codec: "Codec") -> int:
    """The level data is compressed at (zlib's -1 is its default, 6)."""
    return 6 if codec.algorithm == "gzip" and codec.level < 0 else codec.level


@dataclass
class Codec:
    """An archive's compression: `algorithm` and `level` (-1: the algorithm's default, as
    DEFAULT_LEVELS writes it). Data blocks of a custom archive and data files of a directory
    archive hold the same lz4 / zstd frames; gzip is a zlib stream in a block, a gzip file in a
    directory."""

    algorithm: str
    level: int = -1

    @classmethod
    def of(cls, header: Header, source: str) -> "Codec":
        if header.level is not None and header.level > 0:
            return cls(header.algorithm, header.level)
        return cls(header.algorithm, DEFAULT_LEVELS.get(header.algorithm, -1))

    @property
    def suffix(self) -> str:
        return SUFFIXES[self.algorithm]

    def decompressor(self, in_file: bool, what: str):
        """in_file: a directory archive's data file (gzip) rather than a custom block (zlib)."""
        if self.algorithm == "none":
            return _Plain()
        if self.algorithm in ("lz4", "zstd"):
            return _Frames(self.algorithm, what)
        return _Inflate(31 if in_file else 15, what)

    def compressor(self, in_file: bool):
        if self.algorithm == "none":
            return _Plain()
        if self.algorithm == "lz4":
            return _LZ4Compress(self.level)
        if self.algorithm == "zstd":
            return _ZstdCompress(self.level)
        return _Deflate(self.level, 31 if in_file else 15)


# --------------------------------------------------------------------------- custom-format data

def read_block_header(s: Stream) -> tuple[int, int] | None:
    """(block type, dump id) of the next data block, or None at the end of the archive."""
    if s.at_eof():
        return None
    btype = s.peeked[0]
    return btype, s.int()


def raw_chunks(s: Stream):
    """A data block's chunks as stored (compressed or not), up to its zero length."""
    size = 1 + s.int_size
    while True:
        raw = s.read(size)            # (s.int(), inline: pg_dump -Z0 writes a chunk per row)
        n = int.from_bytes(raw[1:], "little")
        if raw[0]:
            n = -n if raw[0] == 1 else s.int_error(raw)
        if n == 0:
            return
        if n < 0 or n > (1 << 31):
            raise ArchiveError(f"{s.source}: corrupt archive in {s.where} (a data chunk of {n} bytes)")
        yield s.read(n)


def raw_blobs(s: Stream):
    """A large-object block's body as stored (oids, chunk lengths and chunks, the final 0)."""
    n = s.int_size
    while True:
        oid = s.int()
        yield pack_int(oid, n)
        if oid == 0:
            return
        for chunk in raw_chunks(s):
            yield pack_int(len(chunk), n) + chunk
        yield pack_int(0, n)


def skip_block(s: Stream, btype: int) -> None:
    if btype == BLOCK_DATA:
        for _ in raw_chunks(s):
            pass
    elif btype == BLOCK_BLOBS:
        for _ in raw_blobs(s):
            pass
    else:
        raise ArchiveError(f"{s.source}: corrupt archive: a data block of unknown type {btype} in {s.where}")


class BlockWriter:
    """Writes one custom-format data block to `write`: its header, then what write() is given,
    compressed with `codec` and cut into length-prefixed chunks, then close()."""

    def __init__(self, write, header: Header, codec: Codec, dump_id: int, btype: int = BLOCK_DATA):
        self._write, self.n = write, header.int_size
        self.z = codec.compressor(in_file=False)
        self.pending: list = []
        self.size = 0
        write(bytes((btype,)) + pack_int(dump_id, self.n))

    def write(self, data) -> None:
        out = self.z.feed(bytes(data))
        if out:
            self.pending.append(out)
            self.size += len(out)
            if self.size >= CHUNK:
                self._flush(whole=True)

    def raw_chunk(self, chunk: bytes) -> None:
        """A chunk as stored in the input (an unmasked table: copied, not recompressed)."""
        self._write(pack_int(len(chunk), self.n) + chunk)

    def _flush(self, whole: bool = False) -> None:
        """Chunks of exactly CHUNK bytes (whole: the rest waits), so that the framing depends
        only on the compressed bytes, not on how they were handed over."""
        if not self.size:
            return
        data = b"".join(self.pending)
        end = len(data) - len(data) % CHUNK if whole else len(data)
        for i in range(0, end, CHUNK):
            part = data[i:min(i + CHUNK, end)]
            self._write(pack_int(len(part), self.n) + part)
        rest = data[end:]
        self.pending, self.size = ([rest], len(rest)) if rest else ([], 0)

    def close(self) -> None:
        tail = self.z.end()
        if tail:
            self.pending.append(tail)
            self.size += len(tail)
        self._flush()
        self._write(pack_int(0, self.n))


# --------------------------------------------------------------------------- directory-format files

def data_file(directory: str, entry: Entry, codec: Codec) -> str:
    """The path of a directory archive entry's data file (NNNN.dat, or NNNN.dat.gz compressed)."""
    name = (entry.filename or b"").decode("utf-8", "surrogateescape")
    if not name or "/" in name or name.startswith("."):
        raise ArchiveError(f"{directory}: {entry.label} names no valid data file")
    path = storage.join(directory, name)      # (a local path or a URL: storage.py)
    if codec.algorithm != "none" and not storage.exists(path):
        path += codec.suffix
    return path


class FileReader:
    """A directory archive's data file, read in pieces and decompressed (iterate it); `sha` and
    `bytes` are those of the file as stored."""

    def __init__(self, path: str, codec: Codec, what: str, size: int = 1 << 20):
        if codec.algorithm != "none":
            size = min(size, COMPRESSED_READ)
        self.path, self.what, self.size = path, what, size
        self.z = codec.decompressor(in_file=True, what=what)
        self.sha = hashlib.sha256()
        self.bytes = 0

    def __iter__(self):
        try:
            fh = storage.open_file(self.path, "rb")
        except OSError as e:
            raise ArchiveError(f"{self.what}: cannot read its data file {self.path}: {e.strerror}") from None
        with fh:
            while True:
                raw = fh.read(self.size)
                if not raw:
                    break
                self.sha.update(raw)
                self.bytes += len(raw)
                out = self.z.feed(raw)
                if out:
                    yield out
        tail = self.z.end()
        if tail:
            yield tail


class FileWriter:
    """A directory archive's data file, written compressed with `codec`; `sha` and `bytes` of
    the file as stored."""

    def __init__(self, path: str, codec: Codec):
        self.path = path
        self.fh = storage.open_file(path, "wb")
        self.z = codec.compressor(in_file=True)
        self.sha = hashlib.sha256()
        self.bytes = 0

    def _out(self, data: bytes) -> None:
        if data:
            self.fh.write(data)
            self.sha.update(data)
            self.bytes += len(data)

    def write(self, data) -> None:
        self._out(self.z.feed(bytes(data)))

    def close(self) -> None:
        self._out(self.z.end())
        self.fh.close()


def copy_file(src: str, dst: str) -> tuple[str, int, str, int]:
    """A file copied as it is: (sha256, bytes) of what was read and of what was written."""
    sha = hashlib.sha256()
    n = 0
    with storage.open_file(src, "rb") as fi, storage.open_file(dst, "wb") as fo:
        while True:
            b = fi.read(1 << 20)
            if not b:
                break
            sha.update(b)
            n += len(b)
            fo.write(b)
    h = sha.hexdigest()
    return h, n, h, n
