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


def get_adapter(name: str):
    if name == "postgres":
        from dumpmask.dialects.postgres import PgAdapter

        return PgAdapter
    if name == "mysql":
        from dumpmask.dialects.mysql import MyAdapter

        return MyAdapter
    raise ValueError(f"unknown dialect {name!r}")
