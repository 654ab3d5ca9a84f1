"""Read a dump as decoded rows, for the commands that look at data without rewriting it
(scan, verify, preview): `for table, columns, values, line in iter_dump(path): ...`."""
from __future__ import annotations

import io

from dumpmask.dialects import detect_dialect, get_adapter
from dumpmask.dialects.base import LineReader
from dumpmask.errors import DumpSyntaxError


class DumpRows:
    """Holds the engine state (schemas learnt) while rows are iterated."""

    def __init__(self, path_or_stream, dialect: str | None = None, source: str | None = None):
        from dumpmask.engine import Engine

        from dumpmask.inputs import check_path, checked

        if isinstance(path_or_stream, (str, bytes)) and path_or_stream != "-":
            check_path(path_or_stream)
            self._fh = open(path_or_stream, "rb")
            self.source = source or str(path_or_stream)
        else:
            import sys

            self._fh = sys.stdin.buffer if path_or_stream in ("-", None) else path_or_stream
            self.source = source or "<stdin>"
        self.reader = io.BufferedReader(checked(self._fh, self.source), 1 << 20)
        name = dialect or detect_dialect(self.reader.peek(65536)[:65536])
        if name is None:
            raise DumpSyntaxError("cannot tell whether this is a PostgreSQL or a MySQL/MariaDB dump: pass --dialect", 1, self.source)
        self.dialect = name
        self.engine = Engine(dialect=name, source=self.source)
        self.adapter = get_adapter(name)(self.engine)
        self.engine.adapter = self.adapter

    def rows(self, want=None):
        """Yields (table_key (schema, name), columns, values, line)."""
        return self.adapter.iter_rows(LineReader(self.reader, self.source), want)

    def table(self, key):
        """The TableSchema learnt for a table key (None if no CREATE TABLE was seen)."""
        ts = self.engine.tables.get(key)
        return ts.schema if ts else None

    @property
    def tables(self):
        return {k: v.schema for k, v in self.engine.tables.items()}

    def close(self):
        try:
            self._fh.close()
        except Exception:
            pass


def iter_dump(path_or_stream, dialect: str | None = None, want=None):
    d = DumpRows(path_or_stream, dialect)
    try:
        yield from d.rows(want)
    finally:
        d.close()
