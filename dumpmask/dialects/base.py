"""What every dialect provides: split a byte stream into statements, parse the few statements
that carry data or schema, and decode/encode one value. Behaviour lives in small tables and
hooks on the dialect classes, not in `if dialect == ...` branches in the engine."""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(slots=True)
class Stmt:
    """One statement (or a run of comments / blank lines) exactly as it was in the input."""

    raw: bytes
    line: int           # 1-based line where it starts
    kind: str           # blank, meta, create_table, alter_table, copy, insert, setval, ..., other


@dataclass
class InsertStmt:
    """A parsed INSERT: where its parts are inside `raw`, so untouched parts stay byte for byte."""

    raw: bytes
    table: tuple[str | None, str]        # (schema or None, name), names already normalised
    columns: list[str] | None            # the statement's column list, if any
    values_start: int                    # offset of the first "("
    tuples: list[tuple[int, int, list[tuple[int, int]]]] = field(default_factory=list)
    tail_start: int = 0                  # offset after the last tuple: ";\n", "ON DUPLICATE ..."


class LineReader:
    """Iterates the lines of a binary stream and counts them (for file:line errors)."""

    __slots__ = ("_it", "lineno", "source", "_pushed")

    def __init__(self, stream, source: str = "<stdin>"):
        self._it = iter(stream)
        self.lineno = 0
        self.source = source
        self._pushed: list[bytes] = []

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        if self._pushed:
            line = self._pushed.pop()
        else:
            line = next(self._it)
        self.lineno += 1
        return line

    def push(self, line: bytes) -> None:
        self._pushed.append(line)
        self.lineno -= 1


FIRST_WORDS = re.compile(rb"\s*([A-Za-z_]+)(?:\s+([A-Za-z_]+))?(?:\s+([A-Za-z_]+))?")


def statement_kind_words(raw: bytes) -> tuple[str, ...]:
    m = FIRST_WORDS.match(raw)
    if not m:
        return ()
    return tuple(w.decode().upper() for w in m.groups() if w)
