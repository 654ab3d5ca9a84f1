"""Read a dump as decoded rows, for the commands that look at data without rewriting it
(scan, verify, preview): `for table, columns, values, line in iter_dump(path): ...`."""
from __future__ import annotations

from dumpmask.dialects import peek_dialect
from dumpmask.dialects.base import LineReader


class DumpRows:
    """Holds the engine state (schemas learnt) while rows are iterated."""

    def __init__(self, path_or_stream, dialect: str | None = None, source: str | None = None):
        from dumpmask.engine import Engine
        from dumpmask.inputs import OpenedDump

        self._opened = OpenedDump(path_or_stream, source)
        self.reader, self.source = self._opened.reader, self._opened.source
        self.dialect = peek_dialect(self.reader, self.source, dialect)
        self.engine = Engine(dialect=self.dialect, source=self.source)
        self.engine.set_dialect(self.dialect)

    def rows(self, want=None):
        """Yields (table_key (schema, name), columns, values, line)."""
        return self.engine.rows(LineReader(self.reader, self.source), want)

    def blocks(self, lines: LineReader | None = None, want=None):
        """The data statements as blocks of undecoded rows (dialects.base.Block)."""
        return self.engine.blocks(lines or LineReader(self.reader, self.source), want)

    def table(self, key):
        """The TableSchema learnt for a table key (None if no CREATE TABLE was seen)."""
        ts = self.engine.tables.get(key)
        return ts.schema if ts else None

    @property
    def tables(self):
        return {k: v.schema for k, v in self.engine.tables.items()}

    def close(self):
        self._opened.close()


def iter_dump(path_or_stream, dialect: str | None = None, want=None):
    d = DumpRows(path_or_stream, dialect)
    try:
        yield from d.rows(want)
    finally:
        d.close()
