"""Dialects: how a dump is split into statements and how one value is decoded and encoded."""
from __future__ import annotations

import re

_MYSQL_HINTS = (b"-- MySQL dump", b"-- MariaDB dump", b"/*M!999999", b"/*!40101 SET", b"/*!40014 SET", b"LOCK TABLES `")
_PG_HINTS = (b"-- PostgreSQL database dump", b"\\restrict ", b"SET standard_conforming_strings", b"pg_catalog.",
             b"SET client_encoding", b"FROM stdin;")


def detect_dialect(head: bytes) -> str | None:
    """From the first bytes of a dump: "postgres", "mysql", or None when it cannot tell."""
    h = head.lstrip(b"\xef\xbb\xbf")
    first = h[:200]
    if first.startswith(b"/*M!999999") or b"-- MySQL dump" in first or b"-- MariaDB dump" in first:
        return "mysql"
    if b"-- PostgreSQL database dump" in first:
        return "postgres"
    my = sum(h.count(x) for x in _MYSQL_HINTS) + len(re.findall(rb"(?m)^(?:CREATE TABLE|INSERT INTO) `", h))
    pg = sum(h.count(x) for x in _PG_HINTS) + len(re.findall(rb"(?m)^COPY \S+ .*FROM stdin;", h))
    if my > pg:
        return "mysql"
    if pg > my:
        return "postgres"
    return None


def peek_dialect(reader, source: str, dialect: str | None = None) -> str:
    """The dialect of the dump `reader` (a buffered binary stream) holds, from its first bytes
    (nothing consumed): `dialect` when given; DumpSyntaxError when it cannot tell."""
    from dumpmask.errors import DumpSyntaxError

    name = dialect or detect_dialect(reader.peek(65536)[:65536])
    if name is None:
        raise DumpSyntaxError("cannot tell whether this is a PostgreSQL or a MySQL/MariaDB dump: pass --dialect", 1, source)
    return name


def get_dialect(name: str):
    """The dialect object (description + lexer) of a name: "postgres" or "mysql"."""
    if name == "postgres":
        from dumpmask.dialects.postgres import PgDialect

        return PgDialect()
    if name == "mysql":
        from dumpmask.dialects.mysql import MyDialect

        return MyDialect()
    raise ValueError(f"unknown dialect {name!r}")
