"""One big table file of a directory archive as several work units (`--split-size SIZE`).

A directory archive's table file is one work unit (pipeline.mask_table_file), so the largest
table bounds a run however many workers there are. A table file whose data is larger than
SIZE (default DEFAULT_SIZE of SQL) is cut at row boundaries into parts of about SIZE each,
masked in parallel (-j N, --cluster; in-process with -j 1), and written in order:

- an uncompressed file (pg_dump -Z0): the engine's process reads the file once to find the
  cuts (the first line end after every SIZE bytes) and to hash it; each part is a byte range
  that the worker reads itself (a shared path or a URL: storage.py), so no data is shipped;
- a gzip file: the engine's process inflates it and ships each part's SQL; each part comes
  back as one gzip member, and the output file is the members concatenated (a valid gzip
  file: gzread, which pg_restore reads directory archives with, and dumpmask read on across
  members).

The masked rows are the same bytes as an unsplit run's (a row's output depends on the plan and
the row only); an uncompressed output is the same file, a gzip output the same SQL in several
members. The split depends on the file and SIZE only, never on -j or the cluster, so a split
run gives the same bytes with every -j N. Not split: lz4 and zstd files (their readers in
pg_restore are not checked against concatenated frames here), and custom archives (-Fc): a
custom archive's data block is one zlib stream, and pg_restore 15 (ReadDataFromArchiveZlib)
inflates it with one z_stream that stops at the first stream's end; their blocks are masked
in parallel by the engine already (-j), only their compression stays in one process.

The engine's side holds at most (workers + 1) parts: SIZE x (workers + 1) of SQL for a gzip
file, only the cuts for an uncompressed one. The masked parts come back to the engine's
process, which writes the output file.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import NamedTuple

from dumpmask import storage
from dumpmask.errors import RulesError
from dumpmask.lazy import lazy_module
from dumpmask.work import DataBlock, mask_block

fmt = lazy_module("dumpmask.archive.format")   # (archive code: a plain dump's run does not execute it)

DEFAULT_SIZE = 64 << 20       # bytes of SQL per part
SPLITTABLE = ("none", "gzip")  # the compressions whose files may be parts concatenated
READ = 1 << 20
CHUNK = 1 << 20               # bytes of whole COPY lines per block given to mask_block (as pipeline.CHUNK)
END = b"\\."                  # the end-of-data line of COPY text


def parse_size(text: str) -> int:
    """--split-size: bytes, with an optional K / M / G (x1024) suffix, or 0 (never split)."""
    m = re.fullmatch(r"\s*(\d+)\s*([kmg]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise RulesError(f"--split-size {text!r}: give a size such as 64MB, 512K or 0 (never split)")
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]


def data_size(path: str, codec: fmt.Codec) -> int:
    """How much SQL a table file holds, as far as it can be told without reading it: the size
    of an uncompressed file; for gzip the larger of the file's size and the size its gzip
    trailer records (which is modulo 4 GiB). 0 for a file that cannot be read (the unsplit
    work unit reports it, naming the entry)."""
    try:
        stored = storage.size(path)
        if codec.algorithm == "none" or stored < 18:
            return stored
        with storage.open_file(path, "rb") as fh:
            fh.seek(stored - 4)
            return max(stored, int.from_bytes(fh.read(4), "little"))
    except (OSError, storage.StorageError):
        return 0


def should_split(path: str, codec: fmt.Codec, size: int) -> bool:
    return bool(size) and codec.algorithm in SPLITTABLE and data_size(path, codec) > size


class Part(NamedTuple):
    """One part's work unit (picklable): mask_part(*part)."""

    plan: object          # work.TablePlan
    source: object        # the SQL (bytes), or (path, start, stop) of an uncompressed file to read
    codec: fmt.Codec
    what: str             # the TOC entry, for messages
    row0: int | None      # rows before the part (None: not known yet; a failed part runs again here)
    last: bool            # the part that holds the end-of-data line


@dataclass
class PartResult:
    stored: bytes         # the part as written: plain, or one gzip member
    counts: list          # work.BlockCounts, in order
    rows: int


def mask_part(plan, source, codec: fmt.Codec, what: str, row0: int | None, last: bool) -> PartResult:
    """Mask one part of a table file: whole rows (the last part: then the end-of-data line and
    what follows it, kept as it is), compressed on its own. Pure but for reading its range."""
    data = source if isinstance(source, bytes) else _read_range(*source, what)
    row0 = row0 or 0
    z = codec.compressor(in_file=True)
    out, counts, rows = [], [], 0
    lines, tail = _rows_and_tail(data, last, what)
    for chunk in _blocks(lines):
        masked, c = mask_block(plan, DataBlock("copy", chunk, row0 + rows + 2, row0 + rows))
        rows += c.rows_read
        counts.append(c)
        out.append(z.feed(masked))
    out.append(z.feed(tail))
    out.append(z.end())
    return PartResult(b"".join(out), counts, rows)


def _rows_and_tail(data: bytes, last: bool, what: str) -> tuple[bytes, bytes]:
    """A part's whole data lines, and (the last part) its end-of-data line and what follows,
    found as pipeline._copy_blocks finds them in an unsplit file (end_at)."""
    end = end_at(data)
    if last:
        if end < 0:
            raise fmt.ArchiveError(f"{what}: its data ends without the end-of-data line (\\.): the entry is truncated")
        return data[:end], data[end:]
    if end >= 0:
        raise fmt.ArchiveError(f"{what}: an end-of-data line (\\.) before the end of its data")
    return data, b""


def end_at(lines: bytes) -> int:
    """Where the end-of-data line (a line that is only \\.) starts in `lines` (whole lines), or
    -1 (pipeline._copy_blocks reads an unsplit file with it too)."""
    if lines.startswith(END + b"\n") or lines == END:
        return 0
    i = lines.find(b"\n" + END + b"\n")
    if i < 0 and lines.endswith(b"\n" + END):
        i = len(lines) - len(END) - 1
    return i + 1 if i >= 0 else -1


def _blocks(lines: bytes):
    """Whole lines, about CHUNK bytes at a time (one longer line: alone)."""
    i = 0
    while i < len(lines):
        j = lines.rfind(b"\n", i, i + CHUNK) + 1 or lines.find(b"\n", i + CHUNK) + 1 or len(lines)
        yield lines[i:j]
        i = j


def part_work(args):
    """In a worker process: mask_part(*args), or the exception's type name (the engine's
    process runs the part again to report the error exactly)."""
    try:
        return True, mask_part(*args)
    except Exception as e:  # noqa: BLE001 - reported by the engine's own re-run
        return False, type(e).__name__


def _read_range(path: str, start: int, stop: int, what: str) -> bytes:
    with storage.open_file(path, "rb") as fh:
        fh.seek(start)
        parts, got = [], 0
        while got < stop - start:
            b = fh.read(min(READ << 3, stop - start - got))
            if not b:
                raise fmt.ArchiveError(f"{what}: its data file changed while it was read (shorter than before)")
            parts.append(b)
            got += len(b)
    return b"".join(parts)


class SplitFile:
    """The engine's side of one split table file: parts() cuts it (as the work units to
    submit, in order), take() is given each part's result in order and writes the output
    file; after the last, done(counts, rows, in_sha, in_bytes, out_sha, out_bytes) of the whole
    file (pipeline.FileResult's fields)."""

    def __init__(self, plan, in_path: str, out_path: str, codec: fmt.Codec, what: str, size: int, done):
        self.plan, self.in_path, self.out_path, self.codec, self.what = plan, in_path, out_path, codec, what
        self.size, self.done = size, done
        self.in_sha, self.in_bytes = None, 0
        self.count = 0
        self.rows = 0
        self.counts: list = []
        self.out = None
        self.out_sha, self.out_bytes = hashlib.sha256(), 0

    def parts(self):
        """The parts, in order; the last once the whole file has been read (and hashed)."""
        cuts = self._plain_cuts() if self.codec.algorithm == "none" else self._gzip_cuts()
        held = next(cuts, None)
        for source in cuts:
            self.count += 1
            yield Part(self.plan, held, self.codec, self.what, None, False)
            held = source
        self.count += 1
        yield Part(self.plan, held if held is not None else b"", self.codec, self.what, None, True)

    def _plain_cuts(self):
        """(path, start, stop) of each part of an uncompressed file: a cut at the first line end
        after every `size` bytes. The file is read here once, to find them and to hash it."""
        sha, pos, start = hashlib.sha256(), 0, 0
        with storage.open_file(self.in_path, "rb") as fh:
            while True:
                piece = fh.read(READ)
                if not piece:
                    break
                sha.update(piece)
                at = max(start + self.size - pos, 0)
                while at < len(piece):
                    nl = piece.find(b"\n", at)
                    if nl < 0:
                        break
                    cut = pos + nl + 1
                    yield self.in_path, start, cut
                    start = cut
                    at = start + self.size - pos
                pos += len(piece)
        self.in_sha, self.in_bytes = sha.hexdigest(), pos
        if pos > start:
            yield self.in_path, start, pos

    def _gzip_cuts(self):
        """The SQL of each part of a compressed file, inflated here (a cut at the first line end
        after every `size` bytes)."""
        reader = fmt.FileReader(self.in_path, self.codec, self.what)
        buf, held, n = b"", [], 0
        for piece in reader:
            held.append(piece)
            n += len(piece)
            if n <= self.size:
                continue
            buf, held = b"".join([buf, *held]), []
            while len(buf) > self.size:
                nl = buf.find(b"\n", self.size)
                if nl < 0:
                    break
                part, buf = buf[:nl + 1], buf[nl + 1:]
                yield part
            n = len(buf)
        buf = b"".join([buf, *held])
        self.in_sha, self.in_bytes = reader.sha.hexdigest(), reader.bytes
        if buf:
            yield buf

    def take(self, part: Part, ok: bool, result) -> None:
        """A part's result, in order (a failed part runs again here, where its rows are known,
        for the exact error); the output file written; after the last part, `done`."""
        if not ok:
            result = mask_part(*part._replace(row0=self.rows))
        if self.out is None:
            self.out = storage.open_file(self.out_path, "wb")
        self.out.write(result.stored)
        self.out_sha.update(result.stored)
        self.out_bytes += len(result.stored)
        self.rows += result.rows
        self.counts += result.counts
        if part.last:
            self.out.close()
            self.out = None
            self.done(self.counts, self.rows, self.in_sha, self.in_bytes, self.out_sha.hexdigest(), self.out_bytes)

    def close(self) -> None:
        """A failed run: the output file is closed (the run removes the output)."""
        if self.out is not None:
            try:
                self.out.close()
            except Exception:  # noqa: BLE001, S110 - the run's own error is the one reported
                pass
            self.out = None
