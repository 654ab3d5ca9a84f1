#!/usr/bin/env python3
"""Deterministic synthetic dumps for the benchmarks (no Faker, ~100+ MB/s).

    python bench/gen.py --dialect pg    --size 100MB -o bench/out/pg-100MB.sql
    python bench/gen.py --dialect mysql --size 1GB   -o bench/out/mysql-1000MB.sql

Three tables, in dump order: ``address`` (parent, <= 30,000 rows so a smallint FK fits),
``customer`` (PK customer_id, FK address_id -> address; ~70% of the bytes, ~130-byte rows)
and ``rental`` (PK rental_id, FK customer_id -> customer). Values include quotes,
backslashes, tabs, newlines, NULLs and non-ASCII text (2- 3- and 4-byte UTF-8), escaped the
way each real tool escapes them:

* pg: a pg_dump 15 plain dump (header SETs, ``\\restrict``, CREATE TABLE / SEQUENCE,
  ``COPY ... FROM stdin;`` blocks ended by ``\\.``, then setval, PRIMARY KEY and FOREIGN KEY
  constraints in ``ALTER TABLE ONLY`` statements after the data);
* mysql: a mariadb-dump 10.11 dump (sandbox line, CREATE TABLE with inline PRIMARY KEY and
  CONSTRAINT ... FOREIGN KEY, LOCK TABLES, extended INSERTs of ~1 MB, one tuple per line).

Same arguments -> same bytes (seeded ``random.Random``; per-row choices are a fixed hash of
the row number). Both outputs restore into real PostgreSQL 15 / MariaDB 10.11.
"""
from __future__ import annotations

import argparse
from bisect import bisect_left
from itertools import accumulate
import random
import re
import sys
import time
from typing import Callable, Iterator

ADDRESS_MAX = 30_000          # address_id is a smallint in customer
CUSTOMER_SHARE = 0.70         # of the data bytes
CHUNK_ROWS = 8192
NOTES_SHARE = 0.85           # customers with a non-NULL notes value
MYSQL_STMT_BYTES = 1_000_000  # like mariadb-dump's net_buffer_length

# ---------------------------------------------------------------------------- value pools
FIRST = ["MARY", "PATRICIA", "LINDA", "BARBARA", "ELIZABETH", "JENNIFER", "MARIA", "SUSAN",
         "MARGARET", "DOROTHY", "LISA", "NANCY", "KAREN", "BETTY", "HELEN", "SANDRA", "DONNA",
         "CAROL", "JAMES", "JOHN", "ROBERT", "MICHAEL", "WILLIAM", "DAVID", "RICHARD", "JOSEPH",
         "THOMAS", "CHARLES", "CHRISTOPHER", "DANIEL", "MATTHEW", "ANTHONY", "MARK", "PAUL",
         "Zoë", "José", "Łukasz", "Søren", "Ångström", "Renée", "François", "Çağla", "Dmitrï",
         "Наталья", "Иван", "李", "王芳", "さくら", "Ólafur", "D'Arcy", "Jo-Ann", "Mary Ann"]
LAST = ["SMITH", "JOHNSON", "WILLIAMS", "JONES", "BROWN", "DAVIS", "MILLER", "WILSON", "MOORE",
        "TAYLOR", "ANDERSON", "THOMAS", "JACKSON", "WHITE", "HARRIS", "MARTIN", "THOMPSON",
        "GARCIA", "MARTINEZ", "ROBINSON", "CLARK", "RODRIGUEZ", "LEWIS", "LEE", "WALKER",
        "O'BRIEN", "D'ANGELO", "O'Connor-Smith", "Müller", "Gómez", "Nguyễn", "Straße",
        "Петров", "张", "山田", "van der Berg", "de la Cruz", "Back\\Slash", 'Say "Cheese"',
        "Ünal", "Øster", "Ćosić", "Kowalczyk", "Żółć", "O'Neil\\", "Smith 😀"]
DOMAINS = ["example.org", "example.com", "mail.test", "sakila.test", "corp.example",
           "xn--bcher-kva.example", "post.example.net"]
NOTES = [
    "VIP customer", "prefers email", "it's complicated", 'said "call me later"',
    "line one\nline two", "multi\nline\nnote\n", "tab\tseparated\tvalues",
    "path C:\\temp\\new\\file.txt", "regex \\d+\\s*\\\\", "trailing backslash \\",
    "emoji 😀👍 and ✓", "Grüße aus Köln", "日本語のメモ", "Привет, мир", "crlf\r\nended",
    "quote ' and double \" and both '\"", "50% off; DROP TABLE customer; --", "(a,b),(c,d)",
    "NULL", "\\N is not null here", "ends with quote '", "   leading and trailing spaces   ",
    "a longer free-text remark about the customer's account history and preferences, " * 2,
    "called support twice about a late return; agreed to waive the fee this time",
    "address changed after moving; confirm the new phone number before the next shipment",
]
MYSQL_ONLY_NOTES = ["nul\x00byte", "ctrl-z \x1a here"]   # PostgreSQL text cannot hold NUL
STREETS = ["Main St", "Oak Ave", "Maple Rd", "Cedar Ln", "Elm St", "Pine Ct", "Rue de l'Église",
           "Hauptstraße", "Calle Mayor", "Via Roma", "Nørrebrogade", "Lenina ul."]
DISTRICTS = ["Alberta", "QLD", "Nagasaki", "Bavaria", "Île-de-France", "Texas", "Buenos Aires",
             "Kanagawa", "Attika", "Moskva", "California", "Ontario"]

P1, P2, P3, P4, P5, P6 = 8191, 4099, 2053, 1031, 16381, 521   # pool sizes (primes)


def _pg_escape(s: str) -> str:
    """A text value in COPY text format."""
    return (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


_MY_ESC = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\x00": "\\0",
           "\x1a": "\\Z"}
_MY_RE = re.compile("[\\\\'\"\n\r\x00\x1a]")


def _my_escape(s: str) -> str:
    """A string literal's body as mysql_real_escape_string (mariadb-dump) writes it."""
    return _MY_RE.sub(lambda m: _MY_ESC[m.group()], s)


def _ascii_local(s: str) -> str:
    out = "".join(c for c in s.lower() if c.isascii() and c.isalnum())
    return out or "user"


class Pools:
    """Everything random, drawn once from a seeded RNG and pre-escaped for one dialect."""

    def __init__(self, dialect: str, seed: int):
        rng = random.Random(seed)
        esc = _pg_escape if dialect == "pg" else _my_escape
        q = (lambda s: s) if dialect == "pg" else (lambda s: f"'{s}'")
        null = "\\N" if dialect == "pg" else "NULL"
        notes = NOTES + (MYSQL_ONLY_NOTES if dialect == "mysql" else [])
        self.null = null
        self.first, self.last, self.local = [], [], []
        for _ in range(P1):
            f, ln = rng.choice(FIRST), rng.choice(LAST)
            self.first.append(q(esc(f)))
            self.last.append(q(esc(ln)))
            # 9 + 1 + 9 chars + <= 8 digits + "@" + <= 21: fits email varchar(50)
            self.local.append(f"{_ascii_local(f)[:9]}.{_ascii_local(ln)[:9]}")
        self.domain = [rng.choice(DOMAINS) for _ in range(P6)]
        self.notes = [q(esc(rng.choice(notes))) if rng.random() < NOTES_SHARE else null for _ in range(P2)]

        def ts(start: int, span: int, frac: bool) -> str:
            t = time.gmtime(start + rng.randrange(span))
            s = time.strftime("%Y-%m-%d %H:%M:%S", t)
            return f"{s}.{rng.randrange(1000):03d}" if frac and rng.random() < 0.7 else s

        self.ts = [q(ts(1_104_537_600, 600_000_000, dialect == "pg")) for _ in range(P5)]
        self.date = [q(time.strftime("%Y-%m-%d", time.gmtime(1_104_537_600 +
                                                             rng.randrange(500_000_000))))
                     for _ in range(P4)]
        self.ret = [q(ts(1_200_000_000, 500_000_000, False)) if rng.random() < 0.9 else null
                    for _ in range(P3)]
        self.addr = [q(esc(f"{rng.randrange(1, 9999)} {rng.choice(STREETS)}")) for _ in range(P3)]
        self.district = [q(esc(rng.choice(DISTRICTS))) for _ in range(P4)]
        self.postal = [q(f"{rng.randrange(100000):05d}") if rng.random() < 0.95 else null
                       for _ in range(P4)]
        self.phone = [q(f"+{rng.randrange(1, 99)} {rng.randrange(10**9, 10**10)}")
                      for _ in range(P4)]


# ---------------------------------------------------------------------------- row makers
# Each returns the rows [a, b) as a list of str (pg: COPY lines; mysql: "(...)" tuples).

def pg_address_rows(p: Pools, a: int, b: int) -> list[str]:
    A, D, Z, PH, T = p.addr, p.district, p.postal, p.phone, p.ts
    return [f"{i}\t{A[i % P3]}\t{D[i % P4]}\t{Z[(i * 7) % P4]}\t{PH[(i * 13) % P4]}\t"
            f"{T[(i * 31) % P5]}\n" for i in range(a, b)]


def pg_customer_rows(p: Pools, a: int, b: int, n_addr: int) -> list[str]:
    F, L, LO, DM, NO, T, DA, N = (p.first, p.last, p.local, p.domain, p.notes, p.ts, p.date,
                                  p.null)
    return [f"{i}\t{1 + (i & 1)}\t{F[i % P1]}\t{L[i % P1]}\t"
            f"{(LO[i % P1] + str(i) + '@' + DM[i % P6]) if i % 17 else N}\t"
            f"{(i * 2654435761) % n_addr + 1}\t{'t' if i % 11 else 'f'}\t{DA[i % P4]}\t"
            f"{T[(i * 7) % P5]}\t{1 if i % 11 else 0}\t{NO[(i * 3) % P2]}\n"
            for i in range(a, b)]


def pg_rental_rows(p: Pools, a: int, b: int, n_cust: int) -> list[str]:
    T, R = p.ts, p.ret
    return [f"{i}\t{T[i % P5]}\t{(i * 40503) % 100_000 + 1}\t{(i * 2654435761) % n_cust + 1}\t"
            f"{R[i % P3]}\t{1 + (i % 3 == 0)}\t{T[(i * 11) % P5]}\n" for i in range(a, b)]


def my_address_rows(p: Pools, a: int, b: int) -> list[str]:
    A, D, Z, PH, T = p.addr, p.district, p.postal, p.phone, p.ts
    return [f"({i},{A[i % P3]},{D[i % P4]},{Z[(i * 7) % P4]},{PH[(i * 13) % P4]},"
            f"{T[(i * 31) % P5]})" for i in range(a, b)]


def my_customer_rows(p: Pools, a: int, b: int, n_addr: int) -> list[str]:
    F, L, LO, DM, NO, T, DA, N = (p.first, p.last, p.local, p.domain, p.notes, p.ts, p.date,
                                  p.null)
    return [f"({i},{1 + (i & 1)},{F[i % P1]},{L[i % P1]},"
            f"{(chr(39) + LO[i % P1] + str(i) + '@' + DM[i % P6] + chr(39)) if i % 17 else N},"
            f"{(i * 2654435761) % n_addr + 1},{1 if i % 11 else 0},{DA[i % P4]},"
            f"{T[(i * 7) % P5]},{NO[(i * 3) % P2]})" for i in range(a, b)]


def my_rental_rows(p: Pools, a: int, b: int, n_cust: int) -> list[str]:
    T, R = p.ts, p.ret
    return [f"({i},{T[i % P5]},{(i * 40503) % 100_000 + 1},{(i * 2654435761) % n_cust + 1},"
            f"{R[i % P3]},{1 + (i % 3 == 0)},{T[(i * 11) % P5]})" for i in range(a, b)]


# ---------------------------------------------------------------------------- dump text
PG_HEAD = """\
--
-- PostgreSQL database dump
--

\\restrict dUmPmAsKbEnChGeNeRaToR0000000000000000000000000000000000000000

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

"""


def _pg_table(name: str, cols: str, seq_col: str) -> str:
    seq = f"{name}_{seq_col}_seq"
    return f"""\
--
-- Name: {seq}; Type: SEQUENCE; Schema: public; Owner: postgres
--

CREATE SEQUENCE public.{seq}
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE public.{seq} OWNER TO postgres;

--
-- Name: {name}; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.{name} (
{cols}
);


ALTER TABLE public.{name} OWNER TO postgres;

--
-- Name: {seq}; Type: SEQUENCE OWNED BY; Schema: public; Owner: postgres
--

ALTER SEQUENCE public.{seq} OWNED BY public.{name}.{seq_col};


"""


PG_TABLES = {
    "address": ("address_id", """\
    address_id integer DEFAULT nextval('public.address_address_id_seq'::regclass) NOT NULL,
    address character varying(50) NOT NULL,
    district character varying(20) NOT NULL,
    postal_code character varying(10),
    phone character varying(20) NOT NULL,
    last_update timestamp without time zone DEFAULT now() NOT NULL""",
                "address_id, address, district, postal_code, phone, last_update"),
    "customer": ("customer_id", """\
    customer_id integer DEFAULT nextval('public.customer_customer_id_seq'::regclass) NOT NULL,
    store_id smallint NOT NULL,
    first_name character varying(45) NOT NULL,
    last_name character varying(45) NOT NULL,
    email character varying(50),
    address_id smallint NOT NULL,
    activebool boolean DEFAULT true NOT NULL,
    create_date date DEFAULT CURRENT_DATE NOT NULL,
    last_update timestamp without time zone DEFAULT now(),
    active integer,
    notes text""",
                 "customer_id, store_id, first_name, last_name, email, address_id, activebool, "
                 "create_date, last_update, active, notes"),
    "rental": ("rental_id", """\
    rental_id integer DEFAULT nextval('public.rental_rental_id_seq'::regclass) NOT NULL,
    rental_date timestamp without time zone NOT NULL,
    inventory_id integer NOT NULL,
    customer_id integer NOT NULL,
    return_date timestamp without time zone,
    staff_id smallint NOT NULL,
    last_update timestamp without time zone DEFAULT now() NOT NULL""",
               "rental_id, rental_date, inventory_id, customer_id, return_date, staff_id, "
               "last_update"),
}

PG_CONSTRAINTS = [
    ("address address_pkey", "CONSTRAINT", "address",
     "ADD CONSTRAINT address_pkey PRIMARY KEY (address_id)"),
    ("customer customer_pkey", "CONSTRAINT", "customer",
     "ADD CONSTRAINT customer_pkey PRIMARY KEY (customer_id)"),
    ("rental rental_pkey", "CONSTRAINT", "rental",
     "ADD CONSTRAINT rental_pkey PRIMARY KEY (rental_id)"),
    ("customer customer_address_id_fkey", "FK CONSTRAINT", "customer",
     "ADD CONSTRAINT customer_address_id_fkey FOREIGN KEY (address_id) REFERENCES "
     "public.address(address_id) ON UPDATE CASCADE ON DELETE RESTRICT"),
    ("rental rental_customer_id_fkey", "FK CONSTRAINT", "rental",
     "ADD CONSTRAINT rental_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES "
     "public.customer(customer_id) ON UPDATE CASCADE ON DELETE RESTRICT"),
]

MY_HEAD = """\
/*M!999999\\- enable the sandbox mode */ 
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: localhost    Database: bench
-- ------------------------------------------------------
-- Server version\t10.11.19-MariaDB-0+deb12u1

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
"""

MY_TAIL = """\
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on 2025-01-01 00:00:00
"""

MY_TABLES = {
    "address": """\
  `address_id` smallint(5) unsigned NOT NULL AUTO_INCREMENT,
  `address` varchar(50) NOT NULL,
  `district` varchar(20) NOT NULL,
  `postal_code` varchar(10) DEFAULT NULL,
  `phone` varchar(20) NOT NULL,
  `last_update` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (`address_id`)""",
    "customer": """\
  `customer_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `store_id` tinyint(3) unsigned NOT NULL,
  `first_name` varchar(45) NOT NULL,
  `last_name` varchar(45) NOT NULL,
  `email` varchar(50) DEFAULT NULL,
  `address_id` smallint(5) unsigned NOT NULL,
  `active` tinyint(1) NOT NULL DEFAULT 1,
  `create_date` date NOT NULL,
  `last_update` timestamp NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  `notes` text DEFAULT NULL,
  PRIMARY KEY (`customer_id`),
  KEY `idx_fk_address_id` (`address_id`),
  KEY `idx_last_name` (`last_name`),
  CONSTRAINT `fk_customer_address` FOREIGN KEY (`address_id`) REFERENCES `address` (`address_id`) ON UPDATE CASCADE""",
    "rental": """\
  `rental_id` int(11) NOT NULL AUTO_INCREMENT,
  `rental_date` datetime NOT NULL,
  `inventory_id` mediumint(8) unsigned NOT NULL,
  `customer_id` int(10) unsigned NOT NULL,
  `return_date` datetime DEFAULT NULL,
  `staff_id` tinyint(3) unsigned NOT NULL,
  `last_update` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (`rental_id`),
  KEY `idx_fk_customer_id` (`customer_id`),
  CONSTRAINT `fk_rental_customer` FOREIGN KEY (`customer_id`) REFERENCES `customer` (`customer_id`) ON UPDATE CASCADE""",
}


# ---------------------------------------------------------------------------- generation

def parse_size(s: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)i?[bB]?\s*", s)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {s!r} (e.g. 100MB, 1GB, 500kB, 12345)")
    mult = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def _row_chunks(make: Callable[[int, int], list[str]], limit: int | None = None,
                step: int = CHUNK_ROWS) -> Iterator[list[str]]:
    """Rows 1.. in chunks of `step` rows, up to `limit` rows (endless without one)."""
    i = 1
    while limit is None or i <= limit:
        b = i + step if limit is None else min(i + step, limit + 1)
        yield make(i, b)
        i = b


def _address_count(size: int) -> int:
    return max(50, min(ADDRESS_MAX, size // 4000))


def _my_table_head(w: Callable[[bytes], None], name: str, columns: str) -> None:
    """A mariadb-dump table: DROP, CREATE TABLE, LOCK TABLES and DISABLE KEYS."""
    w(f"\n--\n-- Table structure for table `{name}`\n--\n\n"
      f"DROP TABLE IF EXISTS `{name}`;\n"
      f"/*!40101 SET @saved_cs_client     = @@character_set_client */;\n"
      f"/*!40101 SET character_set_client = utf8mb4 */;\n"
      f"CREATE TABLE `{name}` (\n{columns}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
      f"COLLATE=utf8mb4_unicode_ci;\n"
      f"/*!40101 SET character_set_client = @saved_cs_client */;\n\n"
      f"--\n-- Dumping data for table `{name}`\n--\n\n"
      f"LOCK TABLES `{name}` WRITE;\n"
      f"/*!40000 ALTER TABLE `{name}` DISABLE KEYS */;\n".encode())


def _my_inserts(w: Callable[[bytes], None], name: str, make, limit: int | None,
                share: int | None, step: int) -> int:
    """Extended INSERTs of ~MYSQL_STMT_BYTES, one tuple per line, until `limit` rows or
    `share` bytes; returns the row count."""
    head = f"INSERT INTO `{name}` VALUES\n".encode()
    n = done = 0
    pending: list[str] = []
    ends: list[int] = []       # cumulative UTF-8 sizes of pending rows (+2 for ",\n")

    def flush(k: int) -> None:
        nonlocal pending, ends, done
        data = head + ",\n".join(pending[:k]).encode() + b";\n"
        w(data)
        done += len(data)
        cut = ends[k - 1]
        pending, ends = pending[k:], [e - cut for e in ends[k:]]

    for rows in _row_chunks(make, limit, step):
        n += len(rows)
        base = ends[-1] if ends else 0
        pending += rows
        # bytes, not chars: the dump holds multi-byte UTF-8
        ends += list(accumulate(map((2).__add__, map(len, map(str.encode, rows))),
                               initial=base))[1:]
        while ends and ends[-1] >= MYSQL_STMT_BYTES:
            flush(bisect_left(ends, MYSQL_STMT_BYTES) + 1)
        if share is not None and done + (ends[-1] if ends else 0) >= share:
            break
    if pending:
        flush(len(pending))
    return n


def generate(dialect: str, size: int, out, seed: int = 42) -> dict[str, int]:
    """Write a dump of about `size` bytes to the binary file `out`; returns rows per table."""
    if dialect not in ("pg", "mysql"):
        raise ValueError(f"dialect must be pg or mysql, not {dialect!r}")
    p = Pools(dialect, seed)
    written = 0

    def w(data: bytes) -> None:
        nonlocal written
        written += len(data)
        out.write(data)

    def customer_share(tail: int) -> int:
        """Bytes of customer rows: a share of what is left after the tail is reserved."""
        return max(1, int((size - written - tail) * CUSTOMER_SHARE))
    counts: dict[str, int] = {}
    n_addr = _address_count(size)
    step = max(64, min(CHUNK_ROWS, size // 20_000))   # small files stay close to `size`
    if dialect == "pg":
        w(PG_HEAD.encode())
        for name, (seq_col, cols, _) in PG_TABLES.items():
            w(_pg_table(name, cols, seq_col).encode())

        def copy(name: str, make, limit=None, share=None) -> int:
            cols = PG_TABLES[name][2]
            w(f"--\n-- Data for Name: {name}; Type: TABLE DATA; Schema: public; "
              f"Owner: postgres\n--\n\nCOPY public.{name} ({cols}) FROM stdin;\n".encode())
            n = done = 0
            for rows in _row_chunks(make, limit, step):
                data = "".join(rows).encode()
                w(data)
                n += len(rows)
                done += len(data)
                if share is not None and done >= share:
                    break
            w(b"\\.\n\n\n")
            return n

        counts["address"] = copy("address", lambda a, b: pg_address_rows(p, a, b), n_addr)
        cust_share = customer_share(3000)
        counts["customer"] = copy("customer", lambda a, b: pg_customer_rows(p, a, b, n_addr),
                                  share=cust_share)
        n_cust = counts["customer"]
        counts["rental"] = copy("rental", lambda a, b: pg_rental_rows(p, a, b, n_cust),
                                share=max(1, size - written - 3000))
        for name, (seq_col, _, _) in PG_TABLES.items():
            w(f"--\n-- Name: {name}_{seq_col}_seq; Type: SEQUENCE SET; Schema: public; "
              f"Owner: postgres\n--\n\nSELECT pg_catalog.setval('public.{name}_{seq_col}_seq', "
              f"{counts[name]}, true);\n\n\n".encode())
        for label, kind, table, clause in PG_CONSTRAINTS:
            w(f"--\n-- Name: {label}; Type: {kind}; Schema: public; Owner: postgres\n--\n\n"
              f"ALTER TABLE ONLY public.{table}\n    {clause};\n\n\n".encode())
        w(b"--\n-- PostgreSQL database dump complete\n--\n\n"
          b"\\unrestrict dUmPmAsKbEnChGeNeRaToR0000000000000000000000000000000000000000\n\n")
        return counts

    w(MY_HEAD.encode())

    def table(name: str, make, limit=None, share=None) -> int:
        _my_table_head(w, name, MY_TABLES[name])
        n = _my_inserts(w, name, make, limit, share, step)
        w(f"/*!40000 ALTER TABLE `{name}` ENABLE KEYS */;\nUNLOCK TABLES;\n".encode())
        return n

    counts["address"] = table("address", lambda a, b: my_address_rows(p, a, b), n_addr)
    cust_share = customer_share(2500)
    counts["customer"] = table("customer", lambda a, b: my_customer_rows(p, a, b, n_addr),
                               share=cust_share)
    n_cust = counts["customer"]
    counts["rental"] = table("rental", lambda a, b: my_rental_rows(p, a, b, n_cust),
                             share=max(1, size - written - 2500))
    w(MY_TAIL.encode())
    return counts


# ---------------------------------------------------------------------------- intl3
# International customers (scenario "intl3"): one table of ~130-byte rows, every e-mail and
# phone distinct, ~10% NULLs, names and addresses in ASCII, accented Latin, Greek and CJK.
INTL_NAMES = {   # script: (first names, last names, share of the rows)
    "ascii": (["John", "Mary", "James", "Patricia", "Robert", "Linda", "Michael", "Susan",
               "William", "Karen", "David", "Nancy", "Richard", "Betty", "Thomas", "Helen",
               "Mary Ann", "Jo-Ann", "D'Arcy"],
              ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
               "Anderson", "Taylor", "Moore", "Jackson", "O'Brien", "White", "Harris",
               "Clark", "Lewis", "Walker", "Young"], 0.40),
    "accented": (["José", "François", "Zoë", "Łukasz", "Søren", "Renée", "Çağla", "João",
                  "Björn", "Ólafur", "Anaïs", "Mónica", "Jürgen", "Dvořák", "Ewa", "Ängel"],
                 ["García", "Müller", "Dupont", "Wójcik", "Ødegård", "Lefèvre", "Öztürk",
                  "Gonçalves", "Nguyễn", "Ångström", "Šimůnek", "Żółć", "Pérez", "Straße",
                  "Jørgensen"], 0.25),
    "greek": (["Μαρία", "Γιώργος", "Ελένη", "Δημήτρης", "Νίκος", "Αικατερίνη", "Σοφία",
               "Ιωάννης", "Αναστασία", "Κωνσταντίνος", "Βασιλική", "Παναγιώτης"],
              ["Παπαδόπουλος", "Παπαδοπούλου", "Οικονόμου", "Γεωργίου", "Νικολάου",
               "Καραγιάννης", "Βασιλείου", "Αλεξίου", "Δημητρίου", "Ιωάννου"], 0.20),
    "cjk": (["伟", "娜", "敏", "洋", "静", "磊", "花子", "一郎", "さくら", "太郎", "민준", "서연"],
            ["王", "李", "张", "刘", "陈", "杨", "佐藤", "鈴木", "高橋", "田中", "김", "박"], 0.15),
}
INTL_DOMAINS = ["example.com", "example.org", "mail.test", "corp.example", "post.example.net",
                "παράδειγμα.δοκιμή", "例子.测试", "bücher.example", "xn--bcher-kva.example"]
INTL_PHONE = ["+30 69", "+30 210 ", "+81 90-", "+86 138 ", "+1 (555) ", "+33 6 ", "+49 151 ",
              "+82 10-", "+44 7700 ", "+351 91", "+48 512 "]
INTL_ADDRESS = [
    "12 Main St", "Apt 4B\n221 Baker Street", "PO Box 7\tDock 3", "C:\\mail\\drop 9",
    "Rue de l'Église 5\nParis", "Hauptstraße 7\r\nBerlin", "Calle Mayor 3, 2º izq.",
    "Οδός Ερμού 12\nΑθήνα 105 63", "Λεωφόρος Κηφισίας 44\t3ος όροφος",
    "東京都千代田区丸の内1-1\n3F", "北京市朝阳区建国路88号\t1201室", "서울특별시 강남구 테헤란로 152",
    'Flat "B", 3 Quay Rd', "Back\\slash Lane 1\\2", "Nørrebrogade 10, 2200 København",
    "ul. Żółkiewskiego 4/7\nKraków", "via Roma 1 — scala A 😀",
]
INTL_NULLS = 0.10
I1, I2, I3, I4, I5 = 8191, 4099, 2053, 1031, 16381   # pool sizes (primes)

PG_INTL_COLS = """\
    id integer NOT NULL,
    email character varying(120),
    name character varying(80),
    phone character varying(32),
    address text,
    created_at timestamp without time zone NOT NULL"""
MY_INTL_COLS = """\
  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `email` varchar(120) DEFAULT NULL,
  `name` varchar(80) DEFAULT NULL,
  `phone` varchar(32) DEFAULT NULL,
  `address` text DEFAULT NULL,
  `created_at` datetime NOT NULL,
  PRIMARY KEY (`id`)"""


def _intl_local(first: str, last: str, script: str) -> str:
    """An e-mail local part from a name: lower-case, in the name's own script, never ending
    in a digit (so local + str(row) is distinct for distinct rows)."""
    keep = lambda s: "".join(c for c in s.lower() if c.isalnum())  # noqa: E731
    if script == "cjk":
        return keep(last) + keep(first)
    return f"{keep(first)}.{keep(last)}"


class IntlPools:
    """The intl3 values, drawn once from a seeded RNG and pre-escaped for one dialect;
    rows pick from them by row number (pools of prime sizes) and add the row number to the
    e-mail and the phone, which makes both distinct."""

    def __init__(self, dialect: str, seed: int):
        rng = random.Random(seed)
        esc = _pg_escape if dialect == "pg" else _my_escape
        q = (lambda s: s) if dialect == "pg" else (lambda s: f"'{s}'")
        self.null = null = "\\N" if dialect == "pg" else "NULL"
        scripts = list(INTL_NAMES)
        weights = [INTL_NAMES[s][2] for s in scripts]
        self.name, self.local = [], []
        for _ in range(I1):
            script = rng.choices(scripts, weights)[0]
            first, last = rng.choice(INTL_NAMES[script][0]), rng.choice(INTL_NAMES[script][1])
            full = last + first if script == "cjk" and not first.isascii() and len(first) < 3 \
                else f"{first} {last}"
            self.name.append(q(esc(full)) if rng.random() >= INTL_NULLS else null)
            self.local.append(esc(_intl_local(first, last, script)))
        self.quote = "'" if dialect == "mysql" else ""   # around the e-mail and the phone
        # an e-mail's NULL: a pool of its own, so names and e-mails are NULL on different rows
        self.email_null = [rng.random() < INTL_NULLS for _ in range(I2)]
        self.domain = [esc(rng.choice(INTL_DOMAINS)) for _ in range(I4)]
        self.phone = [rng.choice(INTL_PHONE) if rng.random() >= INTL_NULLS else None
                      for _ in range(I3)]
        self.address = [q(esc(f"{rng.choice(INTL_ADDRESS)}")) if rng.random() >= INTL_NULLS
                        else null for _ in range(I2)]
        frac = dialect == "pg"

        def ts() -> str:
            t = time.strftime("%Y-%m-%d %H:%M:%S",
                              time.gmtime(1_104_537_600 + rng.randrange(600_000_000)))
            return f"{t}.{rng.randrange(1_000_000):06d}" if frac and rng.random() < 0.7 else t

        self.ts = [q(ts()) for _ in range(I5)]


def _intl_rows(p: IntlPools, a: int, b: int, sep: str, wrap: tuple[str, str]) -> list[str]:
    """Rows [a, b) as COPY lines (sep "\\t", wrap ("", "\\n")) or tuples (",", ("(", ")"))."""
    NM, LO, EN, DM, PH, AD, TS, N, Q = (p.name, p.local, p.email_null, p.domain, p.phone,
                                        p.address, p.ts, p.null, p.quote)
    lo, hi = wrap
    rows = []
    for i in range(a, b):
        n = (i * 2654435761) % 100_000_000          # a bijection on row numbers < 10^8
        ph = PH[i % I3]
        rows.append(
            f"{lo}{i}{sep}"
            f"{N if EN[(i * 7) % I2] else Q + LO[i % I1] + str(i) + '@' + DM[(i * 3) % I4] + Q}"
            f"{sep}"
            f"{NM[i % I1]}{sep}"
            f"{N if ph is None else f'{Q}{ph}{n // 10000:04d} {n % 10000:04d}{Q}'}{sep}"
            f"{AD[(i * 5) % I2]}{sep}{TS[(i * 11) % I5]}{hi}")
    return rows


def generate_intl3(dialect: str, size: int, out, seed: int = 42) -> dict[str, int]:
    """The intl3 dump of about `size` bytes (table ``intl_customer``); returns its row count.
    pg: a pg_dump 15 plain dump (COPY, then setval and the PRIMARY KEY); mysql: a
    mariadb-dump 10.11 dump with extended INSERTs."""
    if dialect not in ("pg", "mysql"):
        raise ValueError(f"dialect must be pg or mysql, not {dialect!r}")
    p = IntlPools(dialect, seed)
    written = 0

    def w(data: bytes) -> None:
        nonlocal written
        written += len(data)
        out.write(data)

    step = max(64, min(CHUNK_ROWS, size // 20_000))
    name = "intl_customer"
    if dialect == "pg":
        w(PG_HEAD.encode())
        w(_pg_table(name, PG_INTL_COLS.replace(
            "id integer NOT NULL",
            f"id integer DEFAULT nextval('public.{name}_id_seq'::regclass) NOT NULL"), "id")
          .encode())
        w(f"--\n-- Data for Name: {name}; Type: TABLE DATA; Schema: public; Owner: postgres"
          f"\n--\n\nCOPY public.{name} (id, email, name, phone, address, created_at) "
          f"FROM stdin;\n".encode())
        share = max(1, size - written - 700)
        n = done = 0
        for rows in _row_chunks(lambda a, b: _intl_rows(p, a, b, "\t", ("", "\n")), None, step):
            data = "".join(rows).encode()
            w(data)
            n += len(rows)
            done += len(data)
            if done >= share:
                break
        w(b"\\.\n\n\n")
        w(f"--\n-- Name: {name}_id_seq; Type: SEQUENCE SET; Schema: public; Owner: postgres"
          f"\n--\n\nSELECT pg_catalog.setval('public.{name}_id_seq', {n}, true);\n\n\n"
          f"--\n-- Name: {name} {name}_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres"
          f"\n--\n\nALTER TABLE ONLY public.{name}\n    ADD CONSTRAINT {name}_pkey PRIMARY KEY "
          f"(id);\n\n\n".encode())
        w(b"--\n-- PostgreSQL database dump complete\n--\n\n"
          b"\\unrestrict dUmPmAsKbEnChGeNeRaToR0000000000000000000000000000000000000000\n\n")
        return {name: n}
    w(MY_HEAD.encode())
    _my_table_head(w, name, MY_INTL_COLS)
    n = _my_inserts(w, name, lambda a, b: _intl_rows(p, a, b, ",", ("(", ")")), None,
                    max(1, size - written - 800), step)
    w(f"/*!40000 ALTER TABLE `{name}` ENABLE KEYS */;\nUNLOCK TABLES;\n".encode())
    w(MY_TAIL.encode())
    return {name: n}


# ---------------------------------------------------------------------------- many tables
def _schema_name(i: int, dialect: str) -> str:
    """Table i's name as the dump writes it: every 7th quoted with mixed case, a space and a
    non-ASCII letter, the rest plain."""
    if i % 7 == 3:
        raw = f"Order Ítems {i:04d}"
        return f'public."{raw}"' if dialect == "pg" else f"`{raw}`"
    return f"public.t{i:04d}" if dialect == "pg" else f"`t{i:04d}`"


def _bare(q: str) -> str:
    return q.split(".", 1)[1] if q.startswith("public.") else q


def generate_schema(dialect: str, ntables: int, out, rows: int = 3) -> dict[str, int]:
    """A many-table dump (the schema side of large applications): ``ntables`` tables of 14
    columns, each with a PK, an FK to an earlier table (every table but the first) and a
    second FK on every 3rd; every 25th (pg) is a LIST-partitioned table with two partitions
    attached with ATTACH PARTITION; quoted mixed-case names on every 7th. A few rows each.
    pg: pg_dump 15 layout (CREATE TABLE, sequences, COPY, setval, ALTER TABLE ONLY ... ADD
    CONSTRAINT after the data); mysql: mariadb-dump 10.11 layout (inline keys)."""
    w = out.write
    counts: dict[str, int] = {}
    extra = ["    note_%d character varying(64)" % k for k in range(8)] if dialect == "pg" else \
        ["  `note_%d` varchar(64) DEFAULT NULL" % k for k in range(8)]
    if dialect == "pg":
        w(PG_HEAD.encode())
        post: list[str] = []
        for i in range(ntables):
            q = _schema_name(i, "pg")
            bare = _bare(q).strip('"')
            part = i % 25 == 24
            cols = ["    id integer NOT NULL", "    parent_id integer", "    other_id integer",
                    '    "Display Name" character varying(80)', "    part integer DEFAULT 1 NOT NULL",
                    "    created_at timestamp with time zone DEFAULT now() NOT NULL"] + extra
            body = ",\n".join(cols)
            if part:
                w(f"CREATE TABLE {q} (\n{body}\n)\nPARTITION BY LIST (part);\n\n".encode())
                kids = [(f'public."{bare}_p{k}"', k) for k in (1, 2)]
                for kq, k in kids:
                    w(f"CREATE TABLE {kq} (\n{body}\n);\n\n".encode())
                    post.append(f"ALTER TABLE ONLY {q} ATTACH PARTITION {kq} FOR VALUES IN ({k});\n")
            else:
                w(f"CREATE TABLE {q} (\n{body}\n);\n\n".encode())
                seq = f'public."{bare}_id_seq"'
                w(f"CREATE SEQUENCE {seq}\n    AS integer\n    START WITH 1\n    INCREMENT BY 1\n"
                  f"    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1;\n\n".encode())
                w(f"ALTER SEQUENCE {seq} OWNED BY {q}.id;\n\n".encode())
                w(f"ALTER TABLE ONLY {q} ALTER COLUMN id SET DEFAULT nextval('{seq}'::regclass);\n\n".encode())
            targets = [(kq, k) for kq, k in kids] if part else [(q, None)]
            for tq, k in targets:
                w(f'COPY {tq} (id, parent_id, other_id, "Display Name", part, created_at, '
                  f'{", ".join("note_%d" % n for n in range(8))}) FROM stdin;\n'.encode())
                for r in range(1, rows + 1):
                    parent = "\\N" if i == 0 else str(r)
                    w((f"{r}\t{parent}\t\\N\tName {i} {r}\t{k or 1}\t2024-01-0{r % 9 + 1} 10:00:00+00\t"
                       + "\t".join(f"n{n}" for n in range(8)) + "\n").encode())
                w(b"\\.\n\n")
                counts[tq] = rows
            if not part:
                w(f"SELECT pg_catalog.setval('{seq}', {rows}, true);\n\n".encode())
            pk = "(id, part)" if part else "(id)"
            post.append(f'ALTER TABLE ONLY {q}\n    ADD CONSTRAINT "{bare}_pkey" PRIMARY KEY {pk};\n')
            if i and not part and (i - 1) % 25 != 24:
                post.append(f'ALTER TABLE ONLY {q}\n    ADD CONSTRAINT "{bare}_parent_fkey" FOREIGN KEY (parent_id) '
                            f"REFERENCES {_schema_name(i - 1, 'pg')}(id);\n")
            if i % 3 == 2 and not part and (i // 2) % 25 != 24:
                post.append(f'ALTER TABLE ONLY {q}\n    ADD CONSTRAINT "{bare}_other_fkey" FOREIGN KEY (other_id) '
                            f"REFERENCES {_schema_name(i // 2, 'pg')}(id);\n")
        w("\n".join(post).encode())
    else:
        w(MY_HEAD.encode() + b"\n")
        for i in range(ntables):
            q = _schema_name(i, "mysql")
            cols = ["  `id` int(11) NOT NULL AUTO_INCREMENT", "  `parent_id` int(11) DEFAULT NULL",
                    "  `other_id` int(11) DEFAULT NULL", "  `Display Name` varchar(80) DEFAULT NULL",
                    "  `part` int(11) NOT NULL DEFAULT 1",
                    "  `created_at` timestamp NOT NULL DEFAULT current_timestamp()"] + extra
            keys = ["  PRIMARY KEY (`id`)"]
            if i:
                keys.append("  KEY `parent_id` (`parent_id`)")
            if i % 3 == 2:
                keys.append("  KEY `other_id` (`other_id`)")
            if i:
                keys.append(f"  CONSTRAINT `fk_{i}_parent` FOREIGN KEY (`parent_id`) REFERENCES {_schema_name(i - 1, 'mysql')} (`id`)")
            if i % 3 == 2:
                keys.append(f"  CONSTRAINT `fk_{i}_other` FOREIGN KEY (`other_id`) REFERENCES {_schema_name(i // 2, 'mysql')} (`id`)")
            w((f"DROP TABLE IF EXISTS {q};\n/*!40101 SET @saved_cs_client     = @@character_set_client */;\n"
              f"/*!40101 SET character_set_client = utf8mb4 */;\nCREATE TABLE {q} (\n"
              + ",\n".join(cols + keys)
              + f"\n) ENGINE=InnoDB AUTO_INCREMENT={rows + 1} DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;\n"
              "/*!40101 SET character_set_client = @saved_cs_client */;\n\n").encode())
            w(f"LOCK TABLES {q} WRITE;\n/*!40000 ALTER TABLE {q} DISABLE KEYS */;\nINSERT INTO {q} VALUES ".encode())
            tuples = []
            for r in range(1, rows + 1):
                parent = "NULL" if i == 0 else str(r)
                tuples.append(f"({r},{parent},NULL,'Name {i} {r}',1,'2024-01-0{r % 9 + 1} 10:00:00',"
                              + ",".join(f"'n{n}'" for n in range(8)) + ")")
            w((",\n".join(tuples) + f";\n/*!40000 ALTER TABLE {q} ENABLE KEYS */;\nUNLOCK TABLES;\n\n").encode())
            counts[q] = rows
        w(MY_TAIL.encode())
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dialect", choices=("pg", "mysql"), required=True)
    ap.add_argument("--scenario", choices=("sakila", "intl3"), default="sakila",
                    help="sakila: address/customer/rental (default); intl3: one table of "
                         "international customers (distinct e-mails and phones)")
    ap.add_argument("--size", type=parse_size, default=parse_size("100MB"),
                    help="approximate output size: 100MB, 1GB, 500kB (decimal units)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("-o", "--output", default="-", help="file to write (default stdout)")
    ap.add_argument("-q", "--quiet", action="store_true")
    ap.add_argument("--tables", type=int, default=0,
                    help="instead of --size: a many-table dump of N tables (FKs, partitions, quoted names)")
    a = ap.parse_args(argv)
    make = generate_intl3 if a.scenario == "intl3" else generate
    t0 = time.perf_counter()
    if a.tables:
        with (open(a.output, "wb", buffering=1 << 20) if a.output != "-" else sys.stdout.buffer) as f:
            counts = generate_schema(a.dialect, a.tables, f)
        if not a.quiet:
            print(f"gen.py: {a.dialect} {len(counts)} tables in {time.perf_counter() - t0:.2f}s", file=sys.stderr)
        return 0
    if a.output == "-":
        counts = make(a.dialect, a.size, sys.stdout.buffer, a.seed)
        nbytes = None
    else:
        with open(a.output, "wb", buffering=1 << 20) as f:
            counts = make(a.dialect, a.size, f, a.seed)
            nbytes = f.tell()
    dt = time.perf_counter() - t0
    if not a.quiet:
        rows = sum(counts.values())
        rate = f", {nbytes / dt / 1e6:.0f} MB/s" if nbytes else ""
        print(f"gen.py: {a.dialect} {rows:,} rows {counts}"
              f"{f', {nbytes:,} bytes' if nbytes else ''} in {dt:.2f}s{rate}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
