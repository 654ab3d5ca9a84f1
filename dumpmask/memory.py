"""--max-memory SIZE: a ceiling on the structures that grow with the input, and what each
feature does when its share would pass it (spill to a temporary file, or stop the run with
exit 1 naming the structure and the figure it needs; never an OOM kill).

    budget = Budget.parse("512M")     # RulesError (exit 2) on a bad SIZE
    budget.share("kanon")             # bytes the k-anonymity counting may hold in memory (None: no limit)
    budget.fail("kanon", needed, "...")   # raises MemoryCeiling (exit 1)

The budget covers what grows with the input: one line or statement as the readers gather it
(LineLimit, a quarter of the budget; a statement over many lines too, through the lexers'
statement_guard), the k-anonymity class counts (half; then SpillCounter partitions them on
disk), the data blocks in flight to -j workers, and the rows that the first passes of partial
transfer and --erase / --only mark, with their key values (half, features/closure.py: past it
the run stops, exit 1 naming the table). The interpreter's own
baseline (modules, fake-value pools: some tens of MB, the same for every input) is not part
of it. A Budget is two plain values (picklable); nothing here is global state.

Temporary files go to the output's directory (or $TMPDIR when the output is stdout) and are
unlinked as soon as they are created: they disappear when the run ends, however it ends
(also kill -9). A write error on one (ENOSPC, EIO) ends the run with exit 1 naming it.
"""
from __future__ import annotations

import io
import os
import re
import sys

from dumpmask.errors import DumpmaskError, MaskingError, RulesError
from dumpmask.lazy import lazy_pattern

SHARES = {"line": 0.25, "kanon": 0.5, "inflight": 0.25, "keys": 0.5, "verify": 0.5, "record": 0.125}
WHAT = {"line": "one line or statement of the dump", "kanon": "the k-anonymity class counts",
        "inflight": "the data blocks in flight to the workers", "keys": "the list of rows the first passes keep or remove (ordinals and key values: partial "
                "transfer, --erase / --only, drop rules)",
        "verify": "the leak check's hash sets and findings (verify, --verify)",
        "record": "the record of the input rows each table wrote (--verify after row filters: a byte per row)"}
_UNITS = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40}


class MemoryCeiling(MaskingError):
    """A structure would pass its share of --max-memory and cannot spill (exit 1)."""


def mb(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MB"


def parse_size(text) -> int:
    """SIZE for --max-memory: a positive integer of bytes with an optional K, M, G or T suffix
    (x1024; "B", "iB" accepted after it): 512M, 2G, 1048576. Anything else: exit 2."""
    m = re.fullmatch(r"(\d+)([kmgt]?)(?:i?b)?", str(text).strip(), re.IGNORECASE)
    n = int(m.group(1)) << _UNITS[m.group(2).lower()] if m else 0
    if not m or n <= 0:
        raise RulesError(f"--max-memory {text!r}: give a positive size such as 512M, 2G or 1048576 (bytes)")
    if n < 1 << 20:
        raise RulesError(f"--max-memory {text!r}: at least 1M (the readers work in blocks of 1 MB)")
    return n


class Budget:
    """The run's memory ceiling (bytes, None: no limit) and the directory of its temporary files.

    Each structure's share is SHARES' fraction of the ceiling, unless the structures the run
    uses (for_structures) have fractions that add up to more than the whole: then every share
    is scaled down by that sum, so that together they stay under the ceiling (a run with -j 2,
    k-anonymity, --erase and --verify: 0.25 + 0.25 + 0.5 + 0.5 + 0.5 + 0.125 = 2.125, each
    share divided by 2.125)."""

    __slots__ = ("limit", "tempdir", "scale")

    def __init__(self, limit: int | None = None, tempdir: str | None = None, scale: float = 1.0):
        self.limit = limit
        self.tempdir = tempdir
        self.scale = scale      # the shares are divided by it (>= 1)

    def for_structures(self, structures) -> Budget:
        """This budget for a run whose growing structures are `structures` (keys of SHARES, a
        structure once per user: two features that each keep a list of rows count twice)."""
        total = sum(SHARES[s] for s in structures)
        return Budget(self.limit, self.tempdir, max(1.0, total))

    def fraction(self, structure: str) -> float:
        """The part of the ceiling `structure` may hold in this run."""
        return SHARES[structure] / self.scale

    @classmethod
    def parse(cls, text, output_name: str = "-") -> Budget:
        return cls(None if text is None else parse_size(text), temp_dir_for(output_name))

    def __bool__(self) -> bool:
        return self.limit is not None

    def share(self, structure: str) -> int | None:
        """The bytes `structure` (a key of SHARES) may hold; None without a limit."""
        return None if self.limit is None else int(self.limit * self.fraction(structure))

    def fail(self, structure: str, needed: int, where: str = "", hint: str = "", at_least: bool = False) -> None:
        limit = self.limit or 0
        head = f"{where}{': ' if where else ''}memory ceiling: {WHAT[structure]} "
        if at_least:   # (stopped on the way: how much it would need in all is not known)
            raise MemoryCeiling(head + f"had reached {mb(needed)} and was not complete, more than its share "
                                f"({mb(self.share(structure) or 0)}) of --max-memory {mb(limit)}; give a larger "
                                f"--max-memory (more than {_suggest(needed, self.fraction(structure))})"
                                f"{'; ' + hint if hint else ''}")
        raise MemoryCeiling(head + f"needs about {mb(needed)}, more than its share ({mb(self.share(structure) or 0)}) "
                            f"of --max-memory {mb(limit)}; give --max-memory {_suggest(needed, self.fraction(structure))} "
                            f"or more{'; ' + hint if hint else ''}")

    def temp_file(self, what: str):
        return SpillFile(self.tempdir, what)


def _suggest(needed: int, share: float) -> str:
    n = int(needed / share) + (1 << 20)
    return f"{-(-n // (1 << 20))}M"


def temp_dir_for(output_name: str) -> str:
    """The output's directory (a plain file output), else $TMPDIR (tempfile.gettempdir())."""
    if output_name and output_name != "-" and "://" not in output_name:
        d = os.path.dirname(os.path.abspath(output_name))
        if os.path.isdir(d):
            return d
    import tempfile

    return tempfile.gettempdir()


class SpillFile:
    """A temporary file, unlinked at once (gone when the process ends, however it ends); its
    write errors name it (exit 1)."""

    def __init__(self, directory: str, what: str):
        import tempfile

        try:
            fd, self.path = tempfile.mkstemp(prefix=".dumpmask-spill-", suffix=".tmp", dir=directory)
        except OSError as e:
            raise DumpmaskError(f"cannot create a temporary file in {directory} ({what}): {e.strerror}") from None
        os.unlink(self.path)
        self.what = what
        self.fh = os.fdopen(fd, "w+b", buffering=1 << 14)
        self.size = 0

    def _error(self, e: OSError):
        return DumpmaskError(f"cannot write temporary file {self.path} ({self.what}): {e.strerror or e}")

    def write(self, data: bytes) -> None:
        try:
            self.fh.write(data)
        except OSError as e:
            raise self._error(e) from None
        self.size += len(data)

    def rewind(self):
        try:
            self.fh.flush()
            self.fh.seek(0)
        except OSError as e:
            raise self._error(e) from None
        return self.fh

    def close(self) -> None:
        try:
            self.fh.close()
        except OSError:
            pass


# ---------------------------------------------------------------------- counting that spills
_ENTRY = 200   # bytes a dict entry costs beyond its key's own objects (slot, hash, count int)


def entry_size(key) -> int:
    """About how many bytes one counter entry of `key` (a tuple of str/None/numbers) holds."""
    n = sys.getsizeof(key) + _ENTRY
    if isinstance(key, tuple):
        n += sum(sys.getsizeof(x) for x in key if x is not None)
    return n


class SpillCounter:
    """Counts keys like a collections.Counter, in at most `cap` bytes (None: no limit). Past
    the cap the counts held so far are written, hash-partitioned, to PARTS temporary files and
    the dict starts again; items() then merges each partition on its own (a partition too large
    for the cap is partitioned again with another salt). The results are the same as those of
    one in-memory Counter; only their order differs (callers sort or aggregate)."""

    PARTS = 32

    def __init__(self, cap: int | None, budget: Budget | None = None, what: str = "", where: str = ""):
        self.d: dict = {}
        self.cap = cap
        self.budget = budget
        self.what, self.where = what, where
        self.max_entries = None
        self.parts: list | None = None
        self.spilled = 0         # times the dict was written out
        self.total = 0           # rows counted

    def add(self, key) -> None:
        d = self.d
        n = len(d)
        d[key] = d.get(key, 0) + 1
        self.total += 1
        if self.cap is not None and len(d) != n:
            if self.max_entries is None:
                self.max_entries = max(16, self.cap // entry_size(key))
            elif len(d) > self.max_entries:
                self._spill()

    def _spill(self) -> None:
        import pickle   # here: only a spill needs it (start-up time)

        if self.parts is None:
            self.parts = [self.budget.temp_file(self.what) for _ in range(self.PARTS)]
        buckets: list[list] = [[] for _ in range(self.PARTS)]
        for k, v in self.d.items():
            buckets[hash(k) % self.PARTS].append((k, v))
        self.d = {}
        for f, b in zip(self.parts, buckets, strict=True):
            if b:
                f.write(pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL))
        self.spilled += 1

    def __len__(self) -> int:
        if self.parts is None:
            return len(self.d)
        return sum(1 for _ in self.items())

    def items(self):
        """(key, count) of every distinct key, each once."""
        if self.parts is None:
            yield from self.d.items()
            return
        if self.d:
            self._spill()
        for f in self.parts:
            yield from self._merge(f, 1)
            f.fh.seek(0, os.SEEK_END)   # (items() may be asked again: each partition is read from its start)

    def _merge(self, f: SpillFile, depth: int):
        import pickle   # here: only a spill needs it (start-up time)

        merged: dict = {}
        fh = f.rewind()
        sub = None
        while True:
            try:
                chunk = pickle.load(fh)
            except EOFError:
                break
            for k, v in chunk:
                merged[k] = merged.get(k, 0) + v
            if self.max_entries is not None and len(merged) > self.max_entries:
                if depth >= 3:
                    self.budget.fail("kanon", len(merged) * (self.cap // self.max_entries), self.where)
                sub = sub or [self.budget.temp_file(self.what) for _ in range(self.PARTS)]
                self._scatter(merged, sub, depth)
                merged = {}
        if sub is None:
            yield from merged.items()
            return
        self._scatter(merged, sub, depth)
        merged = None
        for s in sub:
            yield from self._merge(s, depth + 1)
            s.close()

    def _scatter(self, d: dict, files: list, depth: int) -> None:
        import pickle   # here: only a spill needs it (start-up time)

        buckets: list[list] = [[] for _ in files]
        for k, v in d.items():
            buckets[hash((depth, k)) % len(files)].append((k, v))
        for f, b in zip(files, buckets, strict=True):
            if b:
                f.write(pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL))

    def close(self) -> None:
        for f in self.parts or ():
            f.close()


# ---------------------------------------------------------------------- one line at a time
_COPY_HEAD = lazy_pattern(globals(), "_COPY_HEAD", rb"COPY\s+((?:\"(?:[^\"]|\"\")+\"|[\w$]+)(?:\.(?:\"(?:[^\"]|\"\")+\"|[\w$]+))?)")
_INSERT_HEAD = lazy_pattern(globals(), "_INSERT_HEAD", rb"\s*(?:INSERT|REPLACE)\s+(?:IGNORE\s+)?INTO\s+((?:`(?:[^`]|``)+`|\"(?:[^\"]|\"\")+\"|[\w$]+)"
                          rb"(?:\.(?:`(?:[^`]|``)+`|\"(?:[^\"]|\"\")+\"|[\w$]+))?)", re.IGNORECASE)


class LineLimit(io.RawIOBase):
    """A raw binary stream over `raw` that stops the run (MemoryCeiling, exit 1) when one line
    of the dump grows past `limit` bytes, before the readers gather it: names source:line and
    the table (from the COPY header before it, or the INSERT that begins the line), never the
    data. The rest of that line is read and counted (not kept) to say how much it needs."""

    def __init__(self, raw, limit: int, budget: Budget, source: str):
        super().__init__()
        self._raw = raw
        self.limit = limit
        self.budget = budget
        self.source = source
        self.run = 0          # bytes since the last line break
        self.lines = 0        # line breaks so far
        self.head = b""       # the first bytes of the line in progress
        self.copy_table = None

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._raw.readinto(b)
        if not n:
            return n
        data = bytes(memoryview(b)[:n]) if n < 4096 else memoryview(b)[:n].tobytes()
        nl = data.rfind(b"\n")
        if nl < 0:
            if self.run < 256:
                self.head += data[:256 - self.run]
            self.run += n
        else:
            first = data.find(b"\n")
            if self.run + first + 1 > self.limit:     # the line in progress ends here, too long
                self.run += first + 1
                self._fail(ended=True)
            self.lines += data.count(b"\n")
            self._copy_state(data)
            self.run = n - nl - 1
            self.head = data[nl + 1:nl + 257]
        if self.run > self.limit:
            self._fail()
        return n

    def _copy_state(self, data: bytes) -> None:
        """The COPY block the stream is in at the end of `data` (its table), if any."""
        at_start = self.run == 0
        c = data.rfind(b"\nCOPY ")
        c = c + 1 if c >= 0 else (0 if at_start and data.startswith(b"COPY ") else -1)
        e = data.rfind(b"\n\\.")
        e = e + 1 if e >= 0 else (0 if at_start and data.startswith(b"\\.") else -1)
        if c > e:
            m = _COPY_HEAD.match(data, c)
            self.copy_table = m.group(1).decode("utf-8", "replace") if m else None
        elif e >= 0:
            self.copy_table = None

    # -- a statement over many lines (the lexers gather it): the same share as one line
    @property
    def statement_limit(self) -> int:
        return self.limit

    def statement_too_long(self, line: int, head: bytes, size: int, source: str | None = None):
        """A statement that began at `line` has gathered `size` bytes, more than the limit: the
        run stops (MemoryCeiling) naming source:line and its table (from the INSERT / COPY that
        begins it), never its data. Called by the lexers (dialects/), which find this object as
        their stream's raw stream (dialects.base.statement_guard)."""
        m = _INSERT_HEAD.match(head[:512])
        table = m.group(1).decode("utf-8", "replace") if m else None
        where = f"{source or self.source}:{line}" + (f" (table {table})" if table else "")
        self.budget.fail("line", size * 3, where,
                         f"the statement that begins at line {line} had gathered {mb(size)} of SQL over several lines "
                         "(the readers hold up to three copies of a statement)", at_least=True)

    def _fail(self, ended: bool = False):
        line = self.lines + 1
        m = _INSERT_HEAD.match(self.head)
        table = m.group(1).decode("utf-8", "replace") if m else self.copy_table
        total = self.run
        buf = bytearray(1 << 20)
        while not ended:       # how long is it? (read on, nothing kept)
            n = self._raw.readinto(buf)
            if not n:
                break
            i = buf.find(b"\n", 0, n)
            if i >= 0:
                total += i + 1
                break
            total += n
        where = f"{self.source}:{line}" + (f" (table {table})" if table else "")
        self.budget.fail("line", total * 3, where,
                         f"line {line} alone is {mb(total)} of SQL (the readers hold up to three copies of a line)")
