"""The bounded content pre-pass over a dump file: coverage.sample_rows over rows.DumpRows.

Used by the Detection stage (a regular input file is sampled before anything is written) and
by `dumpmask scan`. Here, beside the stages, because opening a dump goes through the engine's
row reader (rows.py), which the libraries below the engine do not import.
"""
from __future__ import annotations

from dumpmask.coverage import DEFAULT_SAMPLE, Sample, sample_rows
from dumpmask.rows import DumpRows


def sample_dump(inp, dialect: str | None = None, limit: int = DEFAULT_SAMPLE, source: str | None = None) -> Sample:
    """Read a dump (path, "-" or a binary stream) once, keeping the first `limit` rows of each
    table (coverage.sample_rows)."""
    dump_rows = DumpRows(inp, dialect, source)
    try:
        return sample_rows(dump_rows, limit)
    finally:
        dump_rows.close()
