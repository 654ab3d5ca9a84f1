"""What an input is, from its first bytes: the tools read plain SQL dumps, also compressed with
gzip, zstd, bzip2, xz or lz4 (dumpmask.compression decompresses them as they are read). pg_dump
custom and directory archives given as a path, and custom archives on standard input, are read by
`dumpmask mask` itself (pipeline.py routes them before anything here looks at them); anywhere
else they (and a custom archive inside gzip or zstd), tar archives (pg_dump
-Ft), zip and 7z are refused before anything is written, with the command that turns them into
plain SQL."""
from __future__ import annotations

import io
import os
import stat

from dumpmask import compression
from dumpmask.errors import DumpmaskError

# (magic at offset, what it is, the command that gives plain SQL)
_MAGICS = (
    (0, b"PGDMP", "a pg_dump custom-format archive (pg_dump -Fc)",
     "`dumpmask mask` reads it as pg_dump wrote it, from a file or standard input, not compressed again "
     "(dumpmask -c RULES ARCHIVE.dump -o MASKED.dump); or give the plain SQL: pg_restore -f - {src} | dumpmask ..."),
    (0, b"PK\x03\x04", "a zip archive", "unzip -p {src} | dumpmask ..."),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "7z x -so {src} | dumpmask ..."),
    (257, b"ustar", "a tar archive (pg_dump -Ft, or a tarball)",
     "a pg_dump -Ft archive is not read: give its plain SQL (pg_restore -f - {src} | dumpmask ...) or dump the "
     "database again as a custom or directory archive (pg_dump -Fc / -Fd), which dumpmask reads and writes; "
     "a tarball: tar -xOf {src} | dumpmask ..."),
)

EMPTY = "empty input (0 bytes, or only whitespace): nothing to mask"


def refuse_format(head: bytes, source: str, what: str = "input", inside: str | None = None) -> None:
    """Raise DumpmaskError (exit 1) when `head` (the first bytes, at least 262 when the input
    is that long) is an archive. `inside`: the compression `head` was read through."""
    src = source if source and not source.startswith("<") else "FILE"
    for off, magic, name, cmd in _MAGICS:
        if head[off:off + len(magic)] == magic:
            within = f" inside its {inside} compression" if inside else ""
            raise DumpmaskError(f"{source}: {what} is {name}{within}, not a plain SQL dump; dumpmask reads plain SQL "
                                f"only: {cmd.format(src=src)}")
    if inside:
        nested = compression.sniff(head)
        if nested is not None:
            raise DumpmaskError(f"{source}: {what} is {nested} data inside {inside} compression (compressed twice): "
                                "decompress it once first")


def refuse_empty(head: bytes, complete: bool, source: str, what: str = "input") -> None:
    """`complete`: head is the whole input (shorter than what was asked for)."""
    if complete and not head.strip():
        raise DumpmaskError(f"{source}: {EMPTY}" if what == "input" else f"{source}: {what} is empty (empty input)")


HEAD = 4096


def read_head(raw, n: int = HEAD) -> bytes:
    """Read up to n bytes (fewer only at EOF), looping over short reads of pipes."""
    parts = []
    got = 0
    while got < n:
        b = raw.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


class Prefixed(io.RawIOBase):
    """A raw stream serving `head` first, then the rest of `raw`."""

    def __init__(self, head: bytes, raw):
        self._head = memoryview(head)
        self._raw = raw
        # one read at a time (a buffered stream's readinto would wait for a full buffer on a pipe)
        self._readinto = getattr(raw, "readinto1", None) or getattr(raw, "readinto", None)
        try:
            self._regular = stat.S_ISREG(os.fstat(raw.fileno()).st_mode)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            self._regular = False

    def readable(self):
        return True

    def readinto(self, b):
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            if n < len(b) and self._readinto is not None and self._regular:
                # fill the rest as a direct read of a file would (callers peek at the first
                # 64 KB); never on a pipe, where that read may wait for bytes not yet written
                m = self._readinto(memoryview(b)[n:])
                n += m or 0
            return n
        if self._readinto is not None:
            return self._readinto(b)
        data = self._raw.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self):
        try:
            self._raw.close()
        finally:
            super().close()


def checked(raw, source: str, what: str = "input"):
    """Refuse archives and empty input on binary stream `raw` before anything is read from it
    by a dialect; returns a raw stream that gives every byte of `raw`, decompressed when its
    first bytes say it is compressed (its `compression` is then the compression.Decompressing
    stream, for the audit; else None)."""
    head = read_head(raw)
    fmt = compression.sniff(head)
    decompressing = None
    if fmt is not None:
        decompressing = compression.Decompressing(Prefixed(head, raw), fmt, source)
        raw = decompressing
        head = read_head(raw)
    refuse_format(head, source, what, fmt)
    # only whitespace so far: read on while it stays so (it is cheap to hold), to tell an
    # input of only whitespace from a dump that begins with blank lines
    more = HEAD
    while head and len(head) == more and not head.strip() and more < (64 << 20):
        head += read_head(raw, more)
        more *= 2
    refuse_empty(head, len(head) < more, source, what)
    stream = Prefixed(head, raw)
    stream.compression = decompressing
    return stream


def check_path(path: str | None, what: str = "input") -> None:
    """A directory given as a dump: pg_dump -Fd output (toc.dat) or anything else, refused."""
    if not path or path == "-":
        return
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "toc.dat")):
            raise DumpmaskError(f"{path}: {what} is a pg_dump directory-format archive (pg_dump -Fd), not a plain "
                                f"SQL dump; only `dumpmask mask` reads archives (dumpmask -c RULES {path} -o "
                                f"MASKED.dir); here give the plain SQL: pg_restore -f - {path} | dumpmask ...")
        raise DumpmaskError(f"{path}: {what} is a directory, not a SQL dump")


class OpenedDump:
    """A dump opened for reading (a path, "-" / None for stdin, or a binary stream): the
    checked, buffered `reader`, its `source` name for messages, and close()."""

    def __init__(self, path_or_stream, source: str | None = None):
        import sys

        if isinstance(path_or_stream, (str, bytes)) and path_or_stream != "-":
            check_path(path_or_stream)
            self._fh = open(path_or_stream, "rb")
            self._owned = True
            self.source = source or str(path_or_stream)
        else:
            self._fh = sys.stdin.buffer if path_or_stream in ("-", None) else path_or_stream
            self._owned = path_or_stream not in ("-", None)
            self.source = source or "<stdin>"
        self.reader = io.BufferedReader(checked(self._fh, self.source), 1 << 20)

    def close(self) -> None:
        if self._owned:
            try:
                self._fh.close()
            except OSError:
                pass
