"""pg_dump archives through the engine: a custom (-Fc) or directory (-Fd) archive in, the same
format out (archive/format.py reads and writes the format; this module runs the engine over
its entries).

    TOC read -> every definition learnt (the whole schema, keys and constraints, before any
    data) -> the entries in TOC order: TABLE DATA masked, SEQUENCE SET rewritten as a plain
    dump's setval is, large objects and every other entry kept as they are -> the archive
    written (custom: data blocks spooled, then header, the TOC with every data offset set,
    the blocks; directory: table files, then toc.dat)

A table's data goes through the engine's COPY path (`Engine.write_dump` over the entry's
copyStmt and its data), so rules, keys and detection act as on a plain dump and the masked
rows are the same bytes. A directory archive's table files are also work units of their own:
`mask_table_file(plan, in_path, out_path, codec)` masks one file into another (reads,
decompresses, masks block by block with work.mask_block, compresses, writes); with -j N they
run in N worker processes, in-process with -j 1: the same bytes either way. A table whose
data needs the engine's state as it goes (content detection's sample) takes the engine path.

Nothing is left behind by a failed run: the output is written under a temporary name next
to OUTPUT and renamed into place only when the run is complete.
"""
from __future__ import annotations

import hashlib
import io
import os
import sys
from dataclasses import dataclass

from dumpmask import split, storage
from dumpmask.speedups import count_nl
from dumpmask.split import end_at as _end_at   # (where the end-of-data line starts: split.py reads parts with it)
from dumpmask.dialects.base import LineReader
from dumpmask.dialects.postgres import parse_copy
from dumpmask.errors import DumpmaskError, RulesError, StrictError
from dumpmask.idents import display_name
from dumpmask.lazy import lazy_module
from dumpmask.work import DataBlock, mask_block

fmt = lazy_module("dumpmask.archive.format")   # (archive code: a plain dump's run does not execute it)

CHUNK = 1 << 20               # bytes of whole COPY lines per block given to mask_block
# TOC entries whose "definition" is not SQL: pg_dump 17's BLOB METADATA lists large-object oids,
# one a line, which pg_restore turns into lo_create calls (kept as they are)
NOT_SQL = frozenset({"BLOB METADATA"})
END = b"\\."                  # the end-of-data line of COPY text
MAGIC = b"PGDMP"              # archive.format.MAGIC: a custom archive's first bytes (tests/test_startup_imports.py)
PIECE = 256 << 10             # decompressed bytes of a custom archive's block handed on at a time


def archive_kind(path: str | None) -> str | None:
    """"custom" for a file that starts with PGDMP, "directory" for a directory with toc.dat,
    else None (a plain dump, stdin, or something inputs.py refuses)."""
    if not path or path == "-":
        return None
    if storage.is_url(path):
        return _url_kind(path)
    if os.path.isdir(path):
        return "directory" if os.path.isfile(os.path.join(path, "toc.dat")) else None
    try:
        with open(path, "rb") as fh:
            return "custom" if fh.read(5) == MAGIC else None
    except OSError:
        return None


def stream_kind(raw):
    """(kind, stream) for an open binary stream (stdin, a pipe, the caller's stream): kind
    "custom" when it starts with PGDMP (or with fewer bytes of it that are all there is: a
    truncated archive, which its reader then reports), else None; `stream` gives every byte of
    `raw` from its start (the same object when its first bytes could be looked at without
    reading them: a buffered stream's peek, or a seekable one; else the five bytes read and put
    back in front)."""
    def kind(head: bytes):
        return "custom" if head and MAGIC.startswith(head) else None

    peek = getattr(raw, "peek", None)
    if peek is not None:
        head = peek(5)[:5]
        if len(head) == 5 or not kind(head):
            return kind(head), raw
    else:
        try:
            at = raw.tell() if raw.seekable() else None
        except (OSError, ValueError):
            at = None
        if at is not None:
            head = raw.read(5)
            raw.seek(at)
            return kind(head), raw
    from dumpmask.inputs import Prefixed, read_head

    head = read_head(raw, 5)       # (a pipe that gave fewer bytes than the magic in its first read)
    return kind(head), io.BufferedReader(Prefixed(head, raw), 1 << 20)


def _url_kind(url: str) -> str:
    """archive_kind for a URL (storage.py, fsspec): "directory" or "custom"; anything else
    is refused, since only archives are read from URLs."""
    if storage.isdir(url):
        if storage.isfile(storage.join(url, "toc.dat")):
            return "directory"
    elif storage.isfile(url):
        with storage.open_file(url, "rb") as fh:
            if fh.read(5) == MAGIC:
                return "custom"
    elif not storage.exists(url):
        raise DumpmaskError(f"{storage.public(url)}: no such file or directory archive")
    raise RulesError(f"{storage.public(url)}: dumpmask reads URLs only for pg_dump archives (-Fd, -Fc): give a plain "
                     "dump on standard input (e.g. aws s3 cp URL - | dumpmask ...)")


# --------------------------------------------------------------------------- the per-table work unit

@dataclass
class FileResult:
    """What mask_table_file did: each block's counts (work.BlockCounts, in order), the rows
    read, and the sha256 / size of the file read and of the file written."""

    counts: list
    rows: int
    in_sha: str
    in_bytes: int
    out_sha: str
    out_bytes: int


def _copy_blocks(pieces, what: str):
    """COPY text in pieces -> ("rows", whole data lines, about CHUNK bytes at a time), then
    ("tail", the bytes from the end-of-data line on). fmt.ArchiveError when the data ends without
    its end-of-data line (a truncated entry)."""
    buf = b""
    held: list = []            # pieces with no line break yet (one long value: joined once, not again and again)
    pieces = iter(pieces)
    for piece in pieces:
        if b"\n" not in piece:
            held.append(piece)
            continue
        buf = b"".join([buf, *held, piece])
        held = []
        while len(buf) >= CHUNK:
            cut = buf.rfind(b"\n", 0, CHUNK) + 1 or buf.find(b"\n", CHUNK) + 1   # (or one long line)
            if not cut:
                break
            lines, buf = buf[:cut], buf[cut:]
            end = _end_at(lines)
            if end >= 0:
                if end:
                    yield "rows", lines[:end]
                yield "tail", b"".join([lines[end:], buf, *pieces])
                return
            yield "rows", lines
    buf = b"".join([buf, *held])
    end = _end_at(buf)
    if end < 0:
        raise fmt.ArchiveError(f"{what}: its data ends without the end-of-data line (\\.): the entry is truncated")
    if end:
        yield "rows", buf[:end]
    yield "tail", buf[end:]


def mask_table_file(plan, in_path: str, out_path: str, codec: fmt.Codec, what: str = "") -> FileResult:
    """Mask one table's data file of a directory archive into `out_path`: the work unit of a
    directory archive (picklable arguments: a work.TablePlan, or None to copy the file as it is
    and count its rows; two paths; the archive's format.Codec). Pure but for the two files:
    the same bytes wherever it runs (in-process, a worker process, a cluster worker that sees
    both paths). Raises DumpmaskError naming `what` (the TOC entry) on a truncated file."""
    what = what or in_path
    reader = fmt.FileReader(in_path, codec, what)
    if plan is None:
        rows = _count_rows(reader, what)
        in_sha, n = reader.sha.hexdigest(), reader.bytes
        h = fmt.copy_file(in_path, out_path)
        if h[0] != in_sha:
            raise fmt.ArchiveError(f"{what}: its data file changed while it was read")
        return FileResult([], rows, in_sha, n, in_sha, n)
    writer = fmt.FileWriter(out_path, codec)
    counts, rows = [], 0
    try:
        for kind, data in _copy_blocks(iter(reader), what):
            if kind == "tail":
                writer.write(data)
                break
            masked, c = mask_block(plan, DataBlock("copy", data, rows + 2, rows))
            rows += c.rows_read
            counts.append(c)
            writer.write(masked)
    finally:
        writer.close()
    return FileResult(counts, rows, reader.sha.hexdigest(), reader.bytes, writer.sha.hexdigest(), writer.bytes)


def _count_rows(pieces, what: str) -> int:
    rows = 0
    for kind, data in _copy_blocks(iter(pieces), what):
        if kind == "rows":
            rows += count_nl(data)
    return rows


def _file_work(args):
    """In a worker process: mask_table_file(*args), or the exception's type name (the engine's
    process runs it again to report the error exactly, as parallel.py does for blocks)."""
    try:
        return True, mask_table_file(*args)
    except Exception as e:  # noqa: BLE001 - reported by the engine's own re-run
        return False, type(e).__name__


# --------------------------------------------------------------------------- the run

class _Digest:
    """bytes and sha256 of one side of the run, as the audit records them."""

    def __init__(self):
        self.bytes = 0
        self.sha = hashlib.sha256()

    def update(self, data) -> None:
        self.bytes += len(data)
        self.sha.update(data)


class _Prefix:
    """The engine writes an entry's copyStmt, its data and its end: all but the copyStmt (which
    stays in the TOC) goes on to `write`."""

    def __init__(self, prefix: bytes, write):
        self.skip = len(prefix)
        self.prefix = prefix
        self.seen = b""
        self._write = write

    def write(self, data) -> None:
        if self.skip:
            take = bytes(data[:self.skip])
            self.seen += take
            self.skip -= len(take)
            data = data[len(take):]
            if not self.skip and self.seen != self.prefix:
                raise DumpmaskError("internal error: the COPY statement of an archive entry came back changed")
        if data:
            self._write(data)


class ArchiveJob:
    """One archive masked into another: what Engine.run_archive drives (see the module's
    docstring). `kind` is "custom" or "directory"; `output` a path ("-": stdout; custom only: an
    open binary stream). `stream`: a custom archive read from this open binary stream (stdin, a
    pipe: read sequentially, the blocks in TOC order) rather than from the file `path`, which
    then only names it in messages ("<stdin>")."""

    def __init__(self, path: str, kind: str, output, jobs: int = 1, stream=None, split_size: int = split.DEFAULT_SIZE):
        if isinstance(output, os.PathLike):
            output = os.fspath(output)
        self.path, self.kind, self.output, self.jobs = os.fspath(path), kind, output, jobs
        self.split_size = split_size   # a table file with more SQL than this: parts masked in parallel (split.py)
        self._splitting = None         # the split.SplitFile being written
        self.source = path
        self.from_stream = stream is not None
        self._to = None                # custom: the open stream the archive is written to (stdout, the caller's)
        if not isinstance(output, str):
            self._to = output
        elif output == "-":
            self._to = sys.stdout.buffer
        self.progress = None           # a progress.Progress (mask_archive)
        self.hin, self.hout = _Digest(), _Digest()
        self.current = None            # where the engine's Output writes: the entry being written
        self.warned_blobs = False
        self._tmp = None               # the output under its temporary name
        self._in_place = None          # -o URL: the output directory, written in place (no rename)
        self._spool = None
        self._pool = None
        self.cluster = None            # --cluster: the engine's cluster.ClusterOutput (make_output)
        self._check_output()
        if kind == "custom":
            if stream is not None:
                raw = stream
            else:
                try:
                    raw = storage.open_file(path, "rb")
                except OSError as e:
                    raise DumpmaskError(f"cannot open input {path}: {e.strerror}") from None
            self.stream = fmt.Stream(raw, path)
            self.header = fmt.read_header(self.stream, "custom")
            self.codec = fmt.Codec.of(self.header, path)
            self.entries = fmt.read_toc(self.stream, self.header)
            self._toc_read = fmt.toc_digest(self.entries, self.header)   # (a second copy after the data: _finish_custom)
        else:
            self.toc_path = storage.join(path, "toc.dat")
            with storage.open_file(self.toc_path, "rb") as fh:
                s = fmt.Stream(fh, self.toc_path)
                self.header = fmt.read_header(s, "directory")
                self.codec = fmt.Codec.of(self.header, path)
                self.entries = fmt.read_toc(s, self.header)
                s.where = "the end of toc.dat"
                if not s.at_eof():
                    raise fmt.ArchiveError(f"{self.toc_path}: bytes after the table of contents (a corrupt toc.dat)")
            self.manifest_in = [(s.sha.hexdigest(), "toc.dat")]
            self.manifest_out = []
            self.hin.bytes = s.pos

    # ------------------------------------------------------------------ checks before the run
    def _check_output(self) -> None:
        out = self.output
        if self._to is not None:
            if self.kind == "directory":
                raise RulesError("a directory archive (pg_dump -Fd) is written to a directory: give -o DIR")
            if out == "-" and sys.stdout.isatty():
                raise RulesError("a custom-format archive is binary: give -o FILE (or redirect standard output)")
            return
        if not self.from_stream and storage.absolute(out) == storage.absolute(self.path):
            raise RulesError(f"{storage.public(out)}: the output would overwrite the input archive")
        if storage.is_url(out):
            return self._check_url_output(out)
        if self.kind == "directory":
            if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
                raise RulesError(f"{out}: the output directory exists and is not empty (pg_dump -Fd writes a new one)")
        elif os.path.isdir(out):
            raise RulesError(f"{out}: is a directory; a custom-format archive is written to a file")

    def _check_url_output(self, out: str) -> None:
        """-o URL (storage.py): a directory archive's new directory, written in place (an object
        store has no rename of directories): table files first, toc.dat last."""
        if self.kind != "directory":
            raise RulesError(f"{storage.public(out)}: a custom-format archive is written to a local file or standard "
                             "output, not a URL (-o - | aws s3 cp - URL)")
        if storage.exists(out) and (not storage.isdir(out) or storage.listdir(out)):
            raise RulesError(f"{storage.public(out)}: the output directory exists and is not empty (pg_dump -Fd writes "
                             "a new one)")

    def input_description(self) -> dict:
        return {"format": self.kind, "compression": self._compression(),
                "archive_version": ".".join(map(str, self.header.version))}

    def output_description(self) -> dict:
        """As the input's, and the level the masked data was compressed at (`written_level`:
        the header's, or pg_dump's default for the algorithm where the header records none)."""
        compression = self._compression()
        if self.codec.algorithm != "none":
            compression["written_level"] = fmt.effective_level(self.codec)
        return {"format": self.kind, "compression": compression}

    def _compression(self) -> dict:
        """The audit's compression object, the shape a compressed plain dump's has (format;
        level: the header's, None for pg_dump's default), for the archive's data entries."""
        level = self.header.level
        return {"format": self.header.algorithm, "level": None if level is None or level < 0 else level,
                "of": "archive data"}

    # ------------------------------------------------------------------ the schema, before any data
    def schema_text(self, engine) -> bytes:
        """Every entry's definition, in TOC order (the engine's schema pre-pass); the tables
        that have data are noted as a pre-pass notes them."""
        if any(type(stage).__name__ == "Subset" for stage in engine.stages):   # (by name: no stage class imported)
            raise RulesError("partial transfer (--first / --last, or a rules file's transfer) is not supported for "
                             "pg_dump archives yet: give the plain dump (pg_restore -f - ARCHIVE | dumpmask ...)")
        parts = []
        for e in self.entries:
            if e.kind == "TABLE DATA" and e.copy_stmt:
                parsed = parse_copy(e.copy_stmt)
                if parsed is not None:
                    engine.note_data_table(parsed[0], None)
            elif e.defn and e.kind not in NOT_SQL:
                parts.append(e.defn if e.defn.endswith(b"\n") else e.defn + b"\n")
        return b"".join(parts)

    def make_output(self, engine):
        from dumpmask.parallel import Output, ParallelOutput

        # a directory archive's parallelism is one table file per worker (write_entries);
        # a custom archive's is the engine's, block by block
        if engine.cluster is not None:
            # --cluster: a custom archive's blocks go to the Dask workers; a directory archive's
            # table files are read and written by the workers themselves (_submit)
            self.cluster = engine.cluster_output(self.write)
            return self.cluster
        if self.kind == "custom" and self.jobs > 1:
            return ParallelOutput(self.write, self.jobs)
        return Output(self.write)

    def write(self, data) -> None:
        self.current(data)

    # ------------------------------------------------------------------ the entries
    def _show(self, e=None, force: bool = False) -> None:
        """The progress line: the archive's bytes read so far, the entry's table (force: now)."""
        if self.progress is None or not self.progress.enabled:
            return
        done = self.stream.pos if self.kind == "custom" else self.hin.bytes
        if e is not None:
            self._showing = None if e.kind != "TABLE DATA" else (
                (e.namespace or b"").decode("utf-8", "replace") + "." + (e.tag or b"").decode("utf-8", "replace"))
        self.progress.update(done, self._showing, force)

    _showing = None

    def write_entries(self, engine) -> None:
        self._open_output()
        for e in self.entries:
            self._show(e)
            engine.output.drain()
            if e.had_dumper and e.kind == "TABLE DATA":
                self.table_data(engine, e)
            elif e.had_dumper and e.kind in ("BLOBS", "BLOB COMMENTS"):
                self.blobs(engine, e)
            elif e.had_dumper:
                raise fmt.ArchiveError(f"{self.path}: {e.label} holds data of a kind dumpmask does not know how to mask; "
                                   "refusing to copy it unmasked")
            elif e.defn:
                if e.kind == "SEQUENCE SET":
                    self._finish_files(engine)   # its value may come from the keys the table files wrote
                e.defn = self.statement(engine, e)
        self._finish_files(engine)
        engine.output.drain()
        self._showing = None
        self._show(force=True)     # (the last figures: every byte of the archive read)

    def statement(self, engine, e) -> bytes:
        """An entry's definition as write_dump writes a statement: the stages may rewrite it
        (a setval after remapped keys); every statement is counted in the audit."""
        if e.kind in NOT_SQL:
            return e.defn
        lines = LineReader(io.BytesIO(e.defn), f"{self.path} {e.label}")
        raws, news = [], []
        for ev in engine.dialect.events(lines):
            if ev.event != "statement":
                return e.defn           # (no data in a definition; kept as it is)
            raws.append(ev.raw)
            news.append(engine.rewritten(ev))
            label = engine.dialect.label(ev)
            if label:
                engine.audit.count_passthrough(label)
        if news == raws:
            return e.defn
        if b"".join(raws) != e.defn:
            raise DumpmaskError(f"{self.path}: {e.label}: its definition could not be rewritten exactly")
        return b"".join(news)

    def _table_of(self, engine, e):
        """(TableState, columns, text format) from the entry's copyStmt; None when it has none
        (pg_dump --inserts: the data is INSERT statements)."""
        if not e.copy_stmt:
            return None
        parsed = parse_copy(e.copy_stmt)
        if parsed is None:
            raise fmt.ArchiveError(f"{self.path}: {e.label}: its COPY statement cannot be read")
        table, columns, text_format = parsed
        state = engine.table_state(table)
        return state, columns, text_format

    # -- custom format
    def _next_block(self, e) -> None:
        s = self.stream
        s.where = f"the data of {e.label}"
        head = fmt.read_block_header(s)
        if head is None:
            raise fmt.ArchiveError(f"{self.path}: the archive is truncated: the data of {e.label} is missing")
        btype, dump_id = head
        if dump_id != e.dump_id:
            raise fmt.ArchiveError(f"{self.path}: corrupt archive: the data block after {self._last} is for dump id "
                               f"{dump_id}, expected {e.label}")
        expect = fmt.BLOCK_DATA if e.kind == "TABLE DATA" else fmt.BLOCK_BLOBS
        if btype != expect:
            raise fmt.ArchiveError(f"{self.path}: corrupt archive: the data block of {e.label} has type {btype}")
        self._last = e.label

    _last = "the table of contents"

    def _custom_pieces(self, e):
        """The entry's data decompressed, in pieces of about PIECE bytes (pg_dump -Z0 writes a
        chunk per row: joined here, not handed on one by one)."""
        z = self.codec.decompressor(False, f"{self.path}: {e.label}")
        held, size = [], 0
        for chunk in fmt.raw_chunks(self.stream):
            out = z.feed(chunk)
            if out:
                held.append(out)
                size += len(out)
                if size >= PIECE:
                    self._show(e)
                    yield b"".join(held)
                    held, size = [], 0
        tail = z.end()
        if tail:
            held.append(tail)
        if held:
            yield b"".join(held)

    def table_data(self, engine, e) -> None:
        table = self._table_of(engine, e)
        if self.kind == "directory":
            if table is None:
                return self._engine_file(engine, e)
            return self._table_file(engine, e, *table)
        if e.data_state == fmt.OFFSET_NO_DATA:
            return
        self._next_block(e)
        e.data_state, e.data_pos = fmt.OFFSET_SET, self._spool.tell()
        bw = fmt.BlockWriter(self._spool.write, self.header, self.codec, e.dump_id)
        if table is not None and not engine.table_wanted(table[0]):
            state = table[0]
            def kept():
                for i, chunk in enumerate(fmt.raw_chunks(self.stream)):
                    if not i % 256:
                        self._show(e)
                    bw.raw_chunk(chunk)     # copied as stored, not recompressed
                    yield chunk
            z = self.codec.decompressor(False, f"{self.path}: {e.label}")
            rows = _count_rows((z.feed(c) for c in kept()), f"{self.path}: {e.label}")
            z.end()
            self._write_raw_end(bw)
            self._passthrough_counts(engine, state, rows)
            return
        self._engine_copy(engine, e, self._custom_pieces(e), bw.write)
        bw.close()

    @staticmethod
    def _write_raw_end(bw) -> None:
        bw._write(fmt.pack_int(0, bw.n))

    @staticmethod
    def _passthrough_counts(engine, state, rows: int) -> None:
        """What copy_data records for a table nothing applies to."""
        tstats = engine.audit.table(display_name(state.key))
        engine.audit.count_passthrough("COPY (unmasked table)")
        tstats.rows_read += rows
        tstats.rows_written += rows

    def _engine_copy(self, engine, e, pieces, write) -> None:
        """The entry's copyStmt and data through Engine.write_dump (its COPY path, the stages,
        the audit), everything but the copyStmt to `write`."""
        prefix = e.copy_stmt or b""    # (INSERT data: no prefix)
        sink = _Prefix(prefix, write)
        self.current = sink.write
        stream = io.BufferedReader(_Chain(prefix, pieces), 1 << 20)
        engine.write_dump(LineReader(stream, f"{self.path} {e.label}"), sink)
        self.current = None

    def blobs(self, engine, e) -> None:
        if engine.strict:
            raise StrictError(f"{self.path}: {e.label}: large objects cannot be masked and would be copied as they "
                              "are (--strict): dump without them (pg_dump -B / --no-blobs) or run without --strict")
        if not self.warned_blobs:
            if self.progress is not None:
                self.progress.break_line()
            engine.warn(f"{self.path}: large objects ({e.label}) are copied as they are, not masked")
            self.warned_blobs = True
        if self.kind == "directory":
            self._finish_files(engine)     # (the manifest lists files in TOC order)
            return self._blob_files(e)
        if e.data_state == fmt.OFFSET_NO_DATA:
            return
        self._next_block(e)
        e.data_state, e.data_pos = fmt.OFFSET_SET, self._spool.tell()
        self._spool.write(bytes((fmt.BLOCK_BLOBS,)) + fmt.pack_int(e.dump_id, self.header.int_size))
        for raw in fmt.raw_blobs(self.stream):
            self._spool.write(raw)

    # -- directory format
    def _in_file(self, e) -> str:
        return fmt.data_file(self.path, e, self.codec)

    def _out_file(self, in_path: str) -> str:
        return storage.join(self._tmp, storage.basename(in_path))

    def _table_file(self, engine, e, state, columns, text_format) -> None:
        in_path = self._in_file(e)
        out_path = self._out_file(in_path)
        what = f"{self.path}: {e.label}"
        tstats = engine.audit.table(display_name(state.key))   # (the audit lists tables in TOC order)
        if not engine.table_wanted(state):
            return self._submit(engine, (None, in_path, out_path, self.codec, what), lambda r: self._passthrough_counts(engine, state, r.rows))
        if not text_format or any(stage.wants_sample(engine, state) for stage in engine.stages):
            return self._engine_file(engine, e)   # content detection samples the first rows as they come
        columns = engine.data_columns(state, columns, None)
        planned = engine.build_plan(state, columns, None)

        def merge(r: FileResult) -> None:
            for c in r.counts:
                planned.merge(c)
                tstats.rows_written += c.rows_written
            tstats.rows_read += r.rows

        if split.should_split(in_path, self.codec, self.split_size):
            return self._split_file(engine, planned.plan, in_path, out_path, what, merge)
        self._submit(engine, (planned.plan, in_path, out_path, self.codec, what), merge)

    def _split_file(self, engine, plan, in_path: str, out_path: str, what: str, on_done) -> None:
        """A table file larger than --split-size: its parts are work units of their own, in
        order (split.py); the file is recorded when its last part is written."""
        in_path, out_path = storage.absolute(in_path), storage.absolute(out_path)

        def done(*fields) -> None:
            self._splitting = None
            self._done((None, in_path, out_path), FileResult(*fields), on_done)

        info = engine.audit.data["options"].setdefault("split", {"size": self.split_size, "files": 0, "parts": 0})
        info["files"] += 1
        self._splitting = job = split.SplitFile(plan, in_path, out_path, self.codec, what, self.split_size, done)
        for part in job.parts():
            info["parts"] += 1
            self._submit(engine, part, job.take, work=split.part_work)

    def _engine_file(self, engine, e) -> None:
        """A table file through the engine's path, in-process (in TOC order)."""
        self._finish_files(engine)
        in_path = self._in_file(e)
        out_path = self._out_file(in_path)
        reader = fmt.FileReader(in_path, self.codec, f"{self.path}: {e.label}")
        writer = fmt.FileWriter(out_path, self.codec)
        try:
            self._engine_copy(engine, e, iter(reader), writer.write)
        finally:
            writer.close()
        self.manifest_in.append((reader.sha.hexdigest(), storage.basename(in_path)))
        self.manifest_out.append((writer.sha.hexdigest(), storage.basename(out_path)))
        self.hin.bytes += reader.bytes
        self.hout.bytes += writer.bytes

    def _submit(self, engine, args, on_done, work=None) -> None:
        """A table file as a work unit: in-process with -j 1, else in the pool (results taken
        in TOC order, at most 2 per worker in flight). `work`: split.part_work for a part of a
        split file (args a split.Part, on_done its SplitFile.take; at most workers + 1 in flight)."""
        if self.cluster is not None:
            return self._submit_cluster(args, on_done, work)
        if self.jobs <= 1:
            if work is not None:
                return on_done(args, *work(args))
            return self._done(args, mask_table_file(*args), on_done)
        if self._pool is None:
            import concurrent.futures
            import multiprocessing

            self._pool = concurrent.futures.ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("fork"))
            self._pending = []
        self._pending.append((self._pool.submit(work or _file_work, args), args, on_done))
        while len(self._pending) > (self.jobs + 1 if work else 2 * self.jobs):
            self._complete_one()

    def _submit_cluster(self, args, on_done, work=None) -> None:
        """--cluster: the table file's work unit on a Dask worker, which reads the input file
        and writes the output file itself (both must be at the same paths on every worker: a
        shared filesystem); results taken in TOC order, at most 2 per worker in flight."""
        if self._pool is None:
            self._pool = self.cluster.file_pool([storage.absolute(self.path)], [storage.absolute(self._tmp)])
            self._pending = []
        if work is None:
            args = (args[0], storage.absolute(args[1]), storage.absolute(args[2]), *args[3:])
        self._pending.append((self._pool.submit(work or _file_work, args), args, on_done))
        while len(self._pending) > (self._pool.workers + 1 if work else 2 * self._pool.workers):
            self._complete_one()

    def _complete_one(self) -> None:
        future, args, on_done = self._pending.pop(0)
        ok, result = future.result()
        if isinstance(args, split.Part):
            return on_done(args, ok, result)      # (SplitFile.take runs a failed part again itself)
        if not ok:
            result = mask_table_file(*args)   # the error again, here, with its exact message
        self._done(args, result, on_done)

    def _finish_files(self, engine) -> None:
        while self._pool is not None and self._pending:
            self._complete_one()

    def _done(self, args, r: FileResult, on_done) -> None:
        self.manifest_in.append((r.in_sha, storage.basename(args[1])))
        self.manifest_out.append((r.out_sha, storage.basename(args[2])))
        self.hin.bytes += r.in_bytes
        self.hout.bytes += r.out_bytes
        on_done(r)
        self._show()

    def _blob_files(self, e) -> None:
        toc = self._in_file(e)
        names = [storage.basename(toc)]
        try:
            with storage.open_file(toc, "rb") as fh:
                listed = fh.read()
        except OSError as ex:
            raise fmt.ArchiveError(f"{self.path}: {e.label}: cannot read {toc}: {ex.strerror}") from None
        for line in listed.splitlines():
            parts = line.split(b" ", 1)
            if len(parts) != 2 or not parts[0].isdigit() or b"/" in parts[1]:
                raise fmt.ArchiveError(f"{self.path}: {e.label}: {toc} is corrupt")
            name = parts[1].decode("utf-8", "surrogateescape")
            if not storage.exists(storage.join(self.path, name)) and self.codec.algorithm != "none":
                name += self.codec.suffix
            names.append(name)
        for name in names:
            src = storage.join(self.path, name)
            if not storage.isfile(src):
                raise fmt.ArchiveError(f"{self.path}: {e.label}: the large-object file {name} is missing")
            h, n, _, _ = fmt.copy_file(src, storage.join(self._tmp, name))
            self.manifest_in.append((h, name))
            self.manifest_out.append((h, name))
            self.hin.bytes += n
            self.hout.bytes += n

    # ------------------------------------------------------------------ output
    def _open_output(self) -> None:
        import tempfile

        if self.kind == "custom":
            where = os.path.dirname(os.path.abspath(self.output)) if self._to is None else None
            self._spool = tempfile.TemporaryFile(dir=where, prefix=".dumpmask-")
            if self._to is None:
                fd, self._tmp = tempfile.mkstemp(dir=where, prefix=f".{os.path.basename(self.output)}.dumpmask-")
                os.close(fd)
        elif storage.is_url(self.output):
            storage.makedirs(self.output)    # (written in place: toc.dat, written last, makes it an archive)
            self._tmp = self._in_place = self.output
        else:
            parent = os.path.dirname(os.path.abspath(self.output.rstrip("/")))
            self._tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(self.output.rstrip('/'))}.dumpmask-")

    def finish(self) -> None:
        """The run is complete: the output written in full and put in place."""
        if self.kind == "custom":
            self._finish_custom()
        else:
            self._finish_directory()

    def _finish_custom(self) -> None:
        s = self.stream
        s.where = "the end of the archive"
        if not s.at_eof():
            self._toc_again(s)
        self.hin.bytes, self.hin.sha = s.pos, s.sha
        head = self.header.pack()
        toc_len = len(fmt.pack_toc(self.entries, self.header))
        base = len(head) + toc_len
        for e in self.entries:
            if e.data_state == fmt.OFFSET_SET:
                e.data_pos += base
        toc = fmt.pack_toc(self.entries, self.header)
        if len(toc) != toc_len:       # (offsets are fixed-width: this cannot change)
            raise DumpmaskError("internal error: the table of contents changed size with its offsets")
        out = self._to if self._to is not None else open(self._tmp, "wb")
        try:
            for data in (head, toc):
                out.write(data)
                self.hout.update(data)
            self._spool.seek(0)
            while True:
                b = self._spool.read(1 << 20)
                if not b:
                    break
                out.write(b)
                self.hout.update(b)
            out.flush()
        finally:
            if out is not self._to:
                out.close()
        self._spool.close()
        if self._to is None:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self._tmp, 0o666 & ~umask)     # (mkstemp made it 0600; a file pg_dump writes follows the umask)
            os.replace(self._tmp, self.output)
            self._tmp = None

    def _toc_again(self, s) -> None:
        """Bytes after the last data block: pg_dump 17 writing to an output it cannot seek back
        in (stdout in append mode) writes the TOC again there, with the offsets then known. That
        copy (the same entries) is read and dropped: the output's own TOC has every offset set.
        Anything else there is a corrupt archive."""
        s.unread()
        s.where = "the table of contents repeated after the data"
        bad = fmt.ArchiveError(f"{self.path}: corrupt archive: bytes after the last data block (not a copy of its table "
                           "of contents)")
        try:
            again = fmt.read_toc(s, self.header)
        except fmt.ArchiveError:
            raise bad from None
        if fmt.toc_digest(again, self.header) != self._toc_read or not s.at_eof():
            raise bad

    def _finish_directory(self) -> None:
        toc = self.header.pack() + fmt.pack_toc(self.entries, self.header)
        if self._in_place is None:
            with open(os.path.join(self._tmp, "toc.dat"), "wb") as fh:
                fh.write(toc)
        self.manifest_out.insert(0, (hashlib.sha256(toc).hexdigest(), "toc.dat"))
        self.hout.bytes += len(toc)
        self.hin.sha = _manifest_sha(self.manifest_in)
        self.hout.sha = _manifest_sha(self.manifest_out)
        if self._in_place is not None:
            return self._finish_in_place(toc)
        os.chmod(self._tmp, 0o700)
        if os.path.isdir(self.output):
            os.rmdir(self.output)        # (checked empty before the run)
        os.rename(self._tmp, self.output)
        self._tmp = None

    def _finish_in_place(self, toc: bytes) -> None:
        """-o URL: toc.dat last, under a temporary name first, then renamed (a store without
        rename copies it whole): no toc.dat unless every table file is written."""
        import uuid

        staged = storage.join(self.output, f".toc.dat.dumpmask-{uuid.uuid4().hex}")
        with storage.open_file(staged, "wb") as fh:
            fh.write(toc)
        storage.move(staged, storage.join(self.output, "toc.dat"))
        self._tmp = self._in_place = None

    def abort(self) -> None:
        """The run failed: nothing of the output stays (no archive that restores as if complete)."""
        if self._pool is not None:
            for future, _a, _d in self._pending:
                future.cancel()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._splitting is not None:
            self._splitting.close()
        if self._spool is not None:
            self._spool.close()
        if self._in_place is not None:
            storage.remove_tree(self._in_place)     # (checked empty or absent before the run)
            self._tmp = self._in_place = None
        if self._tmp is not None:
            if os.path.isdir(self._tmp):
                import shutil

                shutil.rmtree(self._tmp, ignore_errors=True)
            else:
                try:
                    os.unlink(self._tmp)
                except OSError:
                    pass
            self._tmp = None
        if self.kind == "directory":
            self.hin.sha = _manifest_sha(self.manifest_in)
            self.hout.sha = _manifest_sha(self.manifest_out)
        else:
            self.hin.bytes, self.hin.sha = self.stream.pos, self.stream.sha

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self.kind == "custom" and not self.from_stream:
            self.stream.raw.close()


def _manifest_sha(manifest) -> "hashlib._Hash":
    """A directory archive's digest: sha256 of its files' "sha256  name" lines (sha256sum's
    format), toc.dat first, then the data files in TOC order."""
    return hashlib.sha256("".join(f"{h}  {name}\n" for h, name in manifest).encode())


class _Chain(io.RawIOBase):
    """A raw stream of `head` then each piece of `pieces`."""

    def __init__(self, head: bytes, pieces):
        self._buf = memoryview(head)
        self._pieces = pieces

    def readable(self):
        return True

    def readinto(self, b):
        """Fills `b` as a file's read would (the COPY reader's blocks are as big as its buffer's
        reads: a decompressed piece of a custom archive is only ~10-40 KB)."""
        got = 0
        while got < len(b):
            if not self._buf:
                nxt = next(self._pieces, None)
                if nxt is None:
                    break
                self._buf = memoryview(nxt)
                continue
            n = min(len(b) - got, len(self._buf))
            b[got:got + n] = self._buf[:n]
            self._buf = self._buf[n:]
            got += n
        return got


def mask_archive(job: ArchiveJob, engine) -> dict:
    """Run `engine` (engine.build_engine) over the archive `job`; returns the audit dict. The
    progress line (engine.progress: the CLI's, stderr a terminal and no -q) is the job's: the
    archive's bytes read and the table being masked (the engine's own would count one entry)."""
    from dumpmask.progress import Progress

    job.progress = Progress(engine.progress)
    engine.progress = False
    try:
        return engine.run_archive(job)
    finally:
        job.progress.done()
        job.close()
