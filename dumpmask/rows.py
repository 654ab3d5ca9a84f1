"""Read a dump as decoded rows, for the commands that look at data without rewriting it
(scan, verify, preview): `for table, columns, values, line in iter_dump(path): ...`."""
from __future__ import annotations

from dumpmask.engine import DumpRows, sample_dump  # noqa: F401 (the commands' and tools' way to read rows)


def iter_dump(path_or_stream, dialect: str | None = None, want=None):
    d = DumpRows(path_or_stream, dialect)
    try:
        yield from d.rows(want)
    finally:
        d.close()
