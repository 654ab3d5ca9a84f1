"""Read a dump as decoded rows, for the commands that look at data without rewriting it
(scan, verify, preview): `for table, columns, values, line in iter_dump(path): ...`."""
from __future__ import annotations

from dumpmask.coverage import DEFAULT_SAMPLE, Sample, sample_rows
from dumpmask.engine import DumpRows  # noqa: F401 (the commands' and tools' way to read rows)


def iter_dump(path_or_stream, dialect: str | None = None, want=None):
    d = DumpRows(path_or_stream, dialect)
    try:
        yield from d.rows(want)
    finally:
        d.close()


def sample_dump(inp, dialect: str | None = None, limit: int = DEFAULT_SAMPLE, source: str | None = None) -> Sample:
    """Read a dump (path, "-" or a binary stream) once, keeping the first `limit` rows of each
    table (coverage.sample_rows)."""
    dump_rows = DumpRows(inp, dialect, source)
    try:
        return sample_rows(dump_rows, limit)
    finally:
        dump_rows.close()
