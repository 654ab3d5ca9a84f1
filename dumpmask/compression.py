"""Compressed plain dumps: read by their first bytes, written by the output's name.

Read: gzip (ISA-L's igzip through `isal`, else the stdlib's zlib), zstd (`zstandard`), bzip2
and xz (the stdlib), lz4 frames (`lz4`). A file of several gzip members or zstd frames (what
`cat a.gz b.gz`, pigz and `zstd -T` write, and what dumpmask itself writes) is read to its
end; a member or frame that ends early, corrupt data, or bytes after the last one that are not
another member, end the run (DumpmaskError, exit 1) with the member's offset in the file.

Written: gzip or zstd, cut into independent members / frames of CHUNK bytes of SQL each
(both formats allow concatenation), so that each chunk can be compressed in a worker process
(-j N) and the file is the same bytes for every N. The audit records what was read and
written (`Decompressing.describe()`, `Compressing.describe()`).
"""
from __future__ import annotations

import collections
import hashlib
import io
import zlib

from dumpmask.errors import DumpmaskError

READ = 256 << 10          # compressed bytes read from the file at a time
MAX_OUT = 1 << 20         # decompressed bytes a call may give (a small file may expand 1000x)
ZSTD_FEED = 4096          # zstandard's decompressobj has no output bound: fed in small pieces
CHUNK = 4 << 20           # bytes of SQL per member / frame written
IN_FLIGHT_PER_WORKER = 2

GZIP_LEVELS = range(1, 10)
ZSTD_LEVELS = range(1, 20)
DEFAULT_LEVEL = {"gzip": 2, "zstd": 3}
SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
WRITTEN = ("gzip", "zstd")


def sniff(head: bytes) -> str | None:
    """The compression the first bytes announce (gzip, zstd, bzip2, xz, lz4), or None."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:4] == b"\x04\x22\x4d\x18":
        return "lz4"
    return None


def _starts_member(fmt: str, data: bytes) -> bool:
    """Does `data` (at least 6 bytes, unless the file ends) begin another member / frame?"""
    if fmt == "zstd":
        # a zstd frame, or a skippable frame (magic 0x184D2A5?)
        return data[:4] == b"\x28\xb5\x2f\xfd" or (data[1:4] == b"\x2a\x4d\x18" and data[:1] >= b"\x50"
                                                  and data[:1] <= b"\x5f")
    return sniff(data) == fmt


def _gzip_module():
    """ISA-L's zlib-compatible module (a dependency: faster than zlib, see bench/README.md). No
    fallback to zlib: its members would be other bytes, and a broken install must fail the run."""
    from isal import isal_zlib

    return isal_zlib


def _decoder(fmt: str, source: str):
    """A new decompressor for one member / frame, and the errors it raises on bad data."""
    if fmt == "gzip":
        mod = _gzip_module()
        return mod.decompressobj(31), (mod.error, zlib.error)
    if fmt == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj(), (zstandard.ZstdError,)
    if fmt == "bzip2":
        import bz2

        return bz2.BZ2Decompressor(), (OSError, ValueError)
    if fmt == "xz":
        import lzma

        return lzma.LZMADecompressor(), (lzma.LZMAError,)
    import lz4.frame   # a dependency (pyproject.toml): a broken install fails the run

    return lz4.frame.LZ4FrameDecompressor(), (RuntimeError, ValueError)


NAMES = {"gzip": "gzip member", "zstd": "zstd frame", "bzip2": "bzip2 stream", "xz": "xz stream", "lz4": "lz4 frame"}


class Decompressing(io.RawIOBase):
    """A raw stream of the SQL inside compressed binary stream `raw` (fmt: what sniff() said).
    Counts and SHA-256s the compressed bytes read (the file as it is on disk)."""

    def __init__(self, raw, fmt: str, source: str):
        self._raw = raw
        self.fmt = fmt
        self.source = source
        self.members = 0
        self.compressed_bytes = 0
        self.compressed_sha = hashlib.sha256()
        self.sql_bytes = 0
        self._chunks = self._decode()
        self._buf = memoryview(b"")

    def readable(self):
        return True

    def describe(self) -> dict:
        """The audit's input.compression (sql_bytes / sql_sha256 are added by the engine)."""
        return {"format": self.fmt, ("frames" if self.fmt in ("zstd", "lz4") else "members"): self.members}

    def _read(self) -> bytes:
        data = self._raw.read(READ)
        if data:
            self.compressed_bytes += len(data)
            self.compressed_sha.update(data)
        return data or b""

    def _fail(self, what: str, start: int) -> DumpmaskError:
        name = NAMES[self.fmt]
        return DumpmaskError(f"{self.source}: {what}: {name} {self.members}, which starts at byte {start} of the "
                             f"file, failed with {self.compressed_bytes} bytes of the file read and {self.sql_bytes} "
                             "bytes of SQL decompressed: the compressed input is truncated or corrupt")

    def _decode(self):
        """Yields the decompressed pieces of every member in turn (each at most MAX_OUT bytes)."""
        buf = b""
        pos = 0   # offset in the file of buf's first byte
        while True:
            if len(buf) < 6:
                more = self._read()
                buf += more
                if not buf:
                    return   # the end of the file, between members
                if more and len(buf) < 6:
                    continue
            if not _starts_member(self.fmt, buf):
                raise DumpmaskError(f"{self.source}: the bytes at offset {pos} of the file, after {self.members} "
                                    f"complete {NAMES[self.fmt]}(s), are not another {NAMES[self.fmt]} (trailing "
                                    "garbage or a corrupt file)")
            start = pos
            self.members += 1
            decoder, errors = _decoder(self.fmt, self.source)
            try:
                buf, pos = yield from self._member(decoder, buf, pos, start)
            except errors as e:
                raise self._fail(f"corrupt {self.fmt} data ({type(e).__name__}: {e})", start) from None
            except EOFError:
                raise self._fail(f"{self.fmt} input ends early", start) from None

    def _member(self, decoder, buf: bytes, pos: int, start: int):
        """One member from buf (read on as needed); returns (the bytes after it, their offset)."""
        fmt = self.fmt
        while not decoder.eof:
            if not buf:
                buf = self._read()
                if not buf:
                    raise self._fail(f"{self.fmt} input ends early", start)
            if fmt == "gzip":
                out = decoder.decompress(buf, MAX_OUT)
                rest = decoder.unused_data if decoder.eof else decoder.unconsumed_tail
                pos += len(buf) - len(rest)
                buf = rest
            elif fmt == "zstd":
                i = 0
                while i < len(buf) and not decoder.eof:
                    out = decoder.decompress(buf[i:i + ZSTD_FEED])
                    i += ZSTD_FEED
                    if out:
                        self.sql_bytes += len(out)
                        yield out
                rest = (decoder.unused_data if decoder.eof else b"") + buf[i:]
                pos += len(buf) - len(rest)
                buf = rest
                continue
            else:
                # bz2 / lzma / lz4: the input is taken in whole, the output comes in MAX_OUT pieces
                out = decoder.decompress(buf, MAX_OUT)
                pos += len(buf)
                buf = b""
                while out and not decoder.eof and not decoder.needs_input:
                    self.sql_bytes += len(out)
                    yield out
                    out = decoder.decompress(b"", MAX_OUT)
                if decoder.eof:
                    buf = decoder.unused_data or b""   # lz4 says None for nothing
                    pos -= len(buf)
            if out:
                self.sql_bytes += len(out)
                yield out
        return buf, pos

    def readinto(self, b):
        while not self._buf:
            piece = next(self._chunks, None)
            if piece is None:
                return 0
            self._buf = memoryview(piece)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self):
        try:
            self._raw.close()
        finally:
            super().close()


# --------------------------------------------------------------------------- output

class OutputCompression:
    """What the output is compressed with: fmt ("gzip" / "zstd") and level."""

    def __init__(self, fmt: str, level: int):
        self.fmt, self.level = fmt, level


def output_compression(output_name: str | None, compress: str | None = None,
                       level: int | None = None) -> OutputCompression | None:
    """--compress gzip|zstd|none, else the output's name (x.sql.gz, x.sql.zst); None: plain.
    A level outside the format's range, or a level without compression, is a usage error."""
    from dumpmask.errors import RulesError

    fmt = compress
    if fmt is None and output_name and output_name != "-":
        lower = output_name.lower()
        fmt = next((f for suffix, f in SUFFIXES.items() if lower.endswith(suffix)), None)
    if fmt in (None, "none"):
        if level is not None:
            raise RulesError("--compress-level needs a compressed output (--compress gzip|zstd, or -o x.sql.gz / .zst)")
        return None
    if fmt not in WRITTEN:
        raise RulesError(f"unknown compression {fmt!r} (gzip, zstd or none)")
    levels = GZIP_LEVELS if fmt == "gzip" else ZSTD_LEVELS
    if level is None:
        level = DEFAULT_LEVEL[fmt]
    if isinstance(level, bool) or not isinstance(level, int) or level not in levels:
        raise RulesError(f"--compress-level for {fmt} is {levels.start}-{levels.stop - 1}, not {level!r}")
    return OutputCompression(fmt, level)


def compress_chunk(fmt: str, level: int, data: bytes) -> bytes:
    """One independent gzip member / zstd frame holding `data` (run in a worker with -j N).
    gzip levels 1-3 are ISA-L's (fast), 4-9 zlib's (smaller, much slower)."""
    if fmt == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=level, write_checksum=True).compress(data)
    mod = _gzip_module() if level <= 3 else zlib
    if mod is not zlib:
        level = min(level, mod.Z_BEST_COMPRESSION)
    c = mod.compressobj(level, mod.DEFLATED, 31)
    return c.compress(data) + c.flush()


class _Chunk:
    __slots__ = ("data", "future")

    def __init__(self, data, future):
        self.data, self.future = data, future


class Compressing(io.RawIOBase):
    """A writable raw stream: what is written is cut into CHUNK-byte pieces of SQL, each
    compressed as one member / frame and written to `raw` in order. `pool` (set by the
    engine with -j N: the workers' executor) compresses the pieces side by side; without it
    they are compressed here. finish() writes the last piece; it is the end of the file."""

    def __init__(self, raw, spec: OutputCompression):
        self._raw = raw
        self.spec = spec
        self.pool = None
        self.limit = 1
        self.members = 0
        self.bytes = 0
        self.sha = hashlib.sha256()
        self._buf = bytearray()
        self._pending: collections.deque = collections.deque()
        self._finished = False

    def writable(self):
        return True

    def describe(self) -> dict:
        """The audit's output.compression (sql_bytes / sql_sha256 are added by the engine)."""
        return {"format": self.spec.fmt, "level": self.spec.level,
                ("frames" if self.spec.fmt == "zstd" else "members"): self.members, "chunk_bytes": CHUNK}

    def use_pool(self, pool, workers: int) -> None:
        self.pool = pool
        self.limit = IN_FLIGHT_PER_WORKER * workers

    def write(self, b):
        n = len(b)
        self._buf += b
        if len(self._buf) >= CHUNK:
            view = memoryview(self._buf)
            cut = len(self._buf) - len(self._buf) % CHUNK
            for i in range(0, cut, CHUNK):
                self._submit(bytes(view[i:i + CHUNK]))
            view.release()
            del self._buf[:cut]
        return n

    def _submit(self, data: bytes) -> None:
        future = None
        if self.pool is not None:
            future = self.pool.submit(compress_chunk, self.spec.fmt, self.spec.level, data)
        self._pending.append(_Chunk(data, future))
        while len(self._pending) > (self.limit if self.pool is not None else 0):
            self._write_one()

    def _write_one(self) -> None:
        chunk = self._pending.popleft()
        blob = None
        if chunk.future is not None:
            try:
                blob = chunk.future.result()
            except Exception:  # noqa: BLE001 - a worker gone (pool shut down, killed): compressed here
                blob = None
        if blob is None:
            blob = compress_chunk(self.spec.fmt, self.spec.level, chunk.data)
        self._out(blob)

    def _out(self, blob: bytes) -> None:
        self.members += 1
        self._raw.write(blob)
        self.bytes += len(blob)
        self.sha.update(blob)

    def detach_pool(self) -> None:
        """Before the workers stop: every piece they hold is written (or compressed here)."""
        while self._pending:
            self._write_one()
        self.pool = None

    def flush(self):
        pass

    def finish(self) -> None:
        """The last piece (also an empty one when nothing was written: an empty but valid
        file), then every pending piece, in order; flushes `raw`."""
        if self._finished:
            return
        self._finished = True
        self.detach_pool()
        if self._buf or not self.members:
            self._out(compress_chunk(self.spec.fmt, self.spec.level, bytes(self._buf)))
            self._buf.clear()
        self._raw.flush()
