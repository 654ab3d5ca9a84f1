"""Partial transfer (issue 7; parents kept since issue 14) on small hand-made pg_dump and
mysqldump files.

The data set is written in the test, with the data of children BEFORE their parents (as
pg_dump's name order often does), so that referential integrity has to be settled before
anything is written: the first / last N rows of every table are kept, and every row they
reference, transitively (a table may then hold more than N rows). Expected rows are spelled
out by hand below:

  t_a  (id)                      <- t_b.a_id <- t_c.b_id      chain A <- B <- C
  node (id, parent_id -> node)                                 self reference
  item (order_id, line_no)       <- ship (order_id, line_no)   composite FK (MATCH SIMPLE)
  meas (id, y) partitioned by y: meas_2020, meas_2021          one table across partitions

Every run goes through the CLI (``dm``) with the dump given as a regular FILE (the first
pass needs it), except the pipe tests, which feed stdin.
"""
from __future__ import annotations

import json
import re

import pytest

# ------------------------------------------------------------------ the data set

T_A = [(10, "a10"), (20, "a20"), (30, "a30"), (40, "a40"), (50, "a50")]
# first 3 = 1 (parent a 40 is not among a's first 3: added to t_a), 2 (parent 10), 3 (NULL parent)
T_B = [(1, 40), (2, 10), (3, None), (4, 20), (5, 30)]
# first 3 = 100 (b 2), 101 (b 1), 102 (b 3): all among b's first 3
T_C = [(100, 2), (101, 1), (102, 3), (103, 4)]
# first 3 = 1 (root), 3 (parent 9: added), 4 (parent 3, among the first)
NODE = [(1, None), (3, 9), (4, 3), (2, 1), (9, None)]
ITEM = [(1, 1, 5), (1, 2, 6), (2, 1, 7), (2, 2, 8), (3, 1, 9)]
# first 3 = 7 ((1,2) kept), 8 ((2,2): added to item), 9 (NULL part: needs nothing)
SHIP = [(7, 1, 2), (8, 2, 2), (9, 2, None), (10, 1, 1)]
MEAS_2020 = [(1, 2020, 10), (2, 2020, 20), (3, 2020, 30)]
MEAS_2021 = [(4, 2021, 40), (5, 2021, 50), (6, 2021, 60)]

COLS = {"t_a": ["id", "name"], "t_b": ["id", "a_id"], "t_c": ["id", "b_id"], "node": ["id", "parent_id"],
        "item": ["order_id", "line_no", "qty"], "ship": ["ship_id", "order_id", "line_no"],
        "meas": ["id", "y", "v"]}
PKS = {"t_a": ["id"], "t_b": ["id"], "t_c": ["id"], "node": ["id"], "item": ["order_id", "line_no"],
       "ship": ["ship_id"], "meas": ["id", "y"]}
FKS = [("t_b", ["a_id"], "t_a", ["id"]), ("t_c", ["b_id"], "t_b", ["id"]), ("node", ["parent_id"], "node", ["id"]),
       ("ship", ["order_id", "line_no"], "item", ["order_id", "line_no"])]

FIRST3 = {"t_a": [10, 20, 30, 40], "t_b": [1, 2, 3], "t_c": [100, 101, 102], "node": [1, 3, 4, 9],
          "item": [(1, 1), (1, 2), (2, 1), (2, 2)], "ship": [7, 8, 9], "meas": [1, 2, 3]}
# last 2: t_b 4, 5 add a 20, 30; t_c 102 adds b 3; node 2 adds node 1; ship 10 adds item (1,1)
LAST2 = {"t_a": [20, 30, 40, 50], "t_b": [3, 4, 5], "t_c": [102, 103], "node": [1, 2, 9],
         "item": [(1, 1), (2, 2), (3, 1)], "ship": [9, 10]}
# the rows added as parents (beyond the first 3) of each table
ADDED3 = {"t_a": 1, "t_b": 0, "t_c": 0, "node": 1, "item": 1, "ship": 0}


def rows_of():
    return {"t_a": T_A, "t_b": T_B, "t_c": T_C, "node": NODE, "item": ITEM, "ship": SHIP}


def pg_lit(v):
    return r"\N" if v is None else str(v)


PG_TYPES = {"name": "text", "qty": "integer", "v": "integer"}


def pg_type(t, c):
    if c in PG_TYPES:
        return PG_TYPES[c]
    return "integer NOT NULL" if c in PKS[t] else "integer"


def pg_dump(rows=None, *, partitions=True, meas_fk=False, inserts=False) -> bytes:
    """A pg_dump-like plain dump. Data in the order children-first (t_c, t_b, t_a ...)."""
    rows = rows or rows_of()
    out = ["--\n-- PostgreSQL database dump\n--\n\n",
           "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n\n"]
    for t in ("t_a", "t_b", "t_c", "node", "item", "ship"):
        cols = ",\n".join(f"    {c} {pg_type(t, c)}" for c in COLS[t])
        out.append(f"CREATE TABLE public.{t} (\n{cols}\n);\n\n")
        if t == "t_a":
            out.append("CREATE SEQUENCE public.t_a_id_seq\n    AS integer\n    START WITH 1\n    INCREMENT BY 1\n"
                       "    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1;\n\n"
                       "ALTER SEQUENCE public.t_a_id_seq OWNED BY public.t_a.id;\n\n")
    if partitions:
        out.append("CREATE TABLE public.meas (\n    id integer NOT NULL,\n    y integer NOT NULL,\n    v integer,\n"
                   "    a_id integer\n)\nPARTITION BY RANGE (y);\n\n")
        for p in ("meas_2020", "meas_2021"):
            out.append(f"CREATE TABLE public.{p} (\n    id integer NOT NULL,\n    y integer NOT NULL,\n    v integer,\n"
                       "    a_id integer\n);\n\n")
        out.append("ALTER TABLE ONLY public.meas ATTACH PARTITION public.meas_2020 FOR VALUES FROM (2020) TO (2021);\n\n")
        out.append("ALTER TABLE ONLY public.meas ATTACH PARTITION public.meas_2021 FOR VALUES FROM (2021) TO (2022);\n\n")
    out.append("ALTER TABLE ONLY public.t_a ALTER COLUMN id SET DEFAULT nextval('public.t_a_id_seq'::regclass);\n\n")

    def data(table, cols, rs):
        if not rs:
            return
        if inserts:
            # pg_dump --inserts --rows-per-insert=2: multi-row INSERTs
            for i in range(0, len(rs), 2):
                tup = ",\n\t".join("(" + ", ".join("NULL" if v is None else (f"'{v}'" if isinstance(v, str) else str(v))
                                                   for v in r) + ")" for r in rs[i:i + 2])
                out.append(f"INSERT INTO public.{table} ({', '.join(cols)}) VALUES\n\t{tup};\n")
            out.append("\n")
            return
        out.append(f"COPY public.{table} ({', '.join(cols)}) FROM stdin;\n")
        out.append("".join("\t".join(pg_lit(v) for v in r) + "\n" for r in rs))
        out.append("\\.\n\n")

    if partitions:
        a20 = [r + (10 if r[0] % 2 else 40,) for r in MEAS_2020]   # a_id: 10 kept / 40 cut with --first 3
        a21 = [r + (10,) for r in MEAS_2021]
        data("meas_2020", ["id", "y", "v", "a_id"], a20)
        data("meas_2021", ["id", "y", "v", "a_id"], a21)
    for t in ("t_c", "t_b", "t_a", "ship", "node", "item"):  # children first
        data(t, COLS[t], rows[t])
    out.append("SELECT pg_catalog.setval('public.t_a_id_seq', 50, true);\n\n")
    for t in ("t_a", "t_b", "t_c", "node", "item", "ship"):
        out.append(f"ALTER TABLE ONLY public.{t}\n    ADD CONSTRAINT {t}_pkey PRIMARY KEY ({', '.join(PKS[t])});\n\n")
    if partitions:
        out.append("ALTER TABLE ONLY public.meas\n    ADD CONSTRAINT meas_pkey PRIMARY KEY (id, y);\n\n")
        for p in ("meas_2020", "meas_2021"):
            out.append(f"ALTER TABLE ONLY public.{p}\n    ADD CONSTRAINT {p}_pkey PRIMARY KEY (id, y);\n\n")
    for i, (c, cc, p, pc) in enumerate(FKS):
        out.append(f"ALTER TABLE ONLY public.{c}\n    ADD CONSTRAINT fk{i} FOREIGN KEY ({', '.join(cc)}) "
                   f"REFERENCES public.{p}({', '.join(pc)});\n\n")
    if partitions and meas_fk:
        # a foreign key declared on the partitioned table: pg_dump writes it without ONLY
        out.append("ALTER TABLE public.meas\n    ADD CONSTRAINT meas_a_id_fkey FOREIGN KEY (a_id) REFERENCES public.t_a(id);\n\n")
    out.append("--\n-- PostgreSQL database dump complete\n--\n\n")
    return "".join(out).encode()


def my_lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def my_dump(rows=None, per_insert=2) -> bytes:
    """A mysqldump-like file: tables in name order, each CREATE TABLE followed by its INSERTs
    (extended inserts of `per_insert` rows); children before parents where the names say so."""
    rows = rows or rows_of()
    out = ["-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n-- Host: localhost    Database: shop\n",
           "-- ------------------------------------------------------\n-- Server version\t8.0.36\n\n",
           "/*!40101 SET NAMES utf8mb4 */;\n/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n\n"]
    # names chosen so that mysqldump's name order writes children first: t_c < ... no: t_a < t_b < t_c,
    # so the order is set explicitly here (a dump of views/renamed tables can have any order)
    for t in ("t_c", "t_b", "t_a", "ship", "node", "item"):
        lines = []
        for c in COLS[t]:
            ty = "varchar(20) DEFAULT NULL" if c == "name" else (
                "int(11) NOT NULL" if c in PKS[t] else "int(11) DEFAULT NULL")
            if t == "t_a" and c == "id":
                ty = "int(11) NOT NULL AUTO_INCREMENT"
            lines.append(f"  `{c}` {ty}")
        lines.append("  PRIMARY KEY (" + ",".join(f"`{c}`" for c in PKS[t]) + ")")
        for i, (c, cc, p, pc) in enumerate(FKS):
            if c == t:
                lines.append(f"  CONSTRAINT `fk{i}` FOREIGN KEY (" + ",".join(f"`{x}`" for x in cc) + f") REFERENCES `{p}` ("
                             + ",".join(f"`{x}`" for x in pc) + ")")
        auto = " AUTO_INCREMENT=51" if t == "t_a" else ""
        out.append(f"DROP TABLE IF EXISTS `{t}`;\nCREATE TABLE `{t}` (\n" + ",\n".join(lines)
                   + f"\n) ENGINE=InnoDB{auto} DEFAULT CHARSET=utf8mb4;\n\n")
        rs = rows[t]
        out.append(f"LOCK TABLES `{t}` WRITE;\n")
        for i in range(0, len(rs), per_insert):
            out.append(f"INSERT INTO `{t}` VALUES " + ",".join("(" + ",".join(my_lit(v) for v in r) + ")"
                                                                 for r in rs[i:i + per_insert]) + ";\n")
        out.append("UNLOCK TABLES;\n\n")
    out.append("/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n\n-- Dump completed on 2024-01-01 00:00:00\n")
    return "".join(out).encode()


# ------------------------------------------------------------------ reading the output back

def pg_copy_rows(out: bytes) -> dict[str, list[tuple]]:
    """{table: [row tuple of int|str|None]} from every COPY block of a pg dump."""
    res: dict[str, list[tuple]] = {}
    for m in re.finditer(rb"^COPY public\.(\w+) \(([^)]*)\) FROM stdin;\n(.*?)^\\\.\n", out, re.M | re.S):
        rows = res.setdefault(m.group(1).decode(), [])
        for line in m.group(3).decode().splitlines():
            rows.append(tuple(None if f == r"\N" else (int(f) if re.fullmatch(r"-?\d+", f) else f)
                              for f in line.split("\t")))
    return res


_TUPLE_ITEM = re.compile(r"\s*(NULL|-?\d+|'(?:[^'\\]|\\.|'')*')\s*(,|\))")


def sql_tuples(values: str) -> list[tuple]:
    """Parse `(1,'a'),(2,NULL)` strictly; raises AssertionError on anything else."""
    rows = []
    pos = 0
    values = values.strip()
    while True:
        assert values[pos] == "(", f"expected a tuple at {values[pos:pos + 30]!r}"
        pos += 1
        row = []
        while True:
            m = _TUPLE_ITEM.match(values, pos)
            assert m, f"bad value at {values[pos:pos + 30]!r}"
            lit = m.group(1)
            row.append(None if lit == "NULL" else (int(lit) if lit[0] != "'" else lit[1:-1]))
            pos = m.end()
            if m.group(2) == ")":
                break
        rows.append(tuple(row))
        rest = values[pos:].lstrip()
        if not rest:
            return rows
        assert rest[0] == ",", f"expected ',' between tuples at {rest[:30]!r}"
        pos = len(values) - len(rest) + 1
        while values[pos].isspace():
            pos += 1


def insert_rows(out: bytes, pg: bool = False) -> dict[str, list[list[tuple]]]:
    """{table: [rows of each INSERT statement]}; every INSERT must parse and end with ';'."""
    res: dict[str, list[list[tuple]]] = {}
    text = out.decode()
    pat = (r"^INSERT INTO public\.(\w+) \([^)]*\) VALUES\s*(.*?);\n" if pg
           else r"^INSERT INTO `(\w+)` VALUES\s*(.*?);\n")
    for m in re.finditer(pat, text, re.M | re.S):
        res.setdefault(m.group(1), []).append(sql_tuples(m.group(2)))
    # nothing that looks like an INSERT escaped the pattern (e.g. an INSERT left with no row)
    assert text.count("INSERT INTO") == sum(len(v) for v in res.values()), text
    return res


def ids(rows, n=1):
    return [r[0] if n == 1 else tuple(r[:n]) for r in rows]


def run_ok(dm, *args, **kw):
    cp = dm(*args, **kw)
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    return cp


@pytest.fixture
def pgfile(tmp_path):
    p = tmp_path / "pg.sql"
    p.write_bytes(pg_dump())
    return p


@pytest.fixture
def myfile(tmp_path):
    p = tmp_path / "my.sql"
    p.write_bytes(my_dump())
    return p


# ------------------------------------------------------------------ --first / --last on pg

def test_pg_first_keeps_first_rows_and_adds_their_parents(dm, pgfile):
    out = run_ok(dm, "-q", "--first", "3", pgfile).stdout
    rows = pg_copy_rows(out)
    assert ids(rows["t_a"]) == FIRST3["t_a"]          # 40 added: b 1 (among b's first 3) references it
    assert ids(rows["t_b"]) == FIRST3["t_b"]
    assert ids(rows["t_c"]) == FIRST3["t_c"]
    assert ids(rows["node"]) == FIRST3["node"]        # 9 added: node 3 references it (a self reference)
    assert ids(rows["item"], 2) == FIRST3["item"]     # (2,2) added: ship 8 references it (composite key)
    assert ids(rows["ship"]) == FIRST3["ship"]        # 9 -> (2,NULL) MATCH SIMPLE: needs nothing
    # other columns of kept rows are untouched
    assert rows["t_a"] == [r for r in T_A if r[0] in FIRST3["t_a"]]
    assert rows["ship"] == [r for r in SHIP if r[0] in FIRST3["ship"]]


def test_pg_partitioned_table_counts_as_one_table(dm, pgfile):
    rows = pg_copy_rows(run_ok(dm, "-q", "--first", "3", pgfile).stdout)
    assert ids(rows.get("meas_2020", [])) + ids(rows.get("meas_2021", [])) == [1, 2, 3]
    rows = pg_copy_rows(run_ok(dm, "-q", "--last", "4", pgfile).stdout)
    assert ids(rows.get("meas_2020", [])) + ids(rows.get("meas_2021", [])) == [3, 4, 5, 6]


def test_pg_last_keeps_last_rows(dm, pgfile):
    rows = pg_copy_rows(run_ok(dm, "-q", "--last", "2", pgfile).stdout)
    assert ids(rows["t_a"]) == LAST2["t_a"]
    assert ids(rows["t_b"]) == LAST2["t_b"]
    assert ids(rows["t_c"]) == LAST2["t_c"]
    assert ids(rows["node"]) == LAST2["node"]
    assert ids(rows["item"], 2) == LAST2["item"]
    assert ids(rows["ship"]) == LAST2["ship"]


def test_pg_zero_rows(dm, pgfile):
    out = run_ok(dm, "-q", "--first", "0", pgfile).stdout
    rows = pg_copy_rows(out)
    assert all(not v for v in rows.values()), rows
    assert b"CREATE TABLE public.t_a" in out and b"ADD CONSTRAINT fk3" in out


def test_pg_fk_on_partitioned_parent_is_enforced(dm, tmp_path):
    """A foreign key declared on the partitioned table (pg_dump: ALTER TABLE public.meas ADD
    CONSTRAINT ... without ONLY) holds for the rows of every partition."""
    p = tmp_path / "pgfk.sql"
    p.write_bytes(pg_dump(meas_fk=True))
    rows = pg_copy_rows(run_ok(dm, "-q", "--first", "3", p).stdout)
    kept_a = set(ids(rows["t_a"]))
    meas = rows.get("meas_2020", []) + rows.get("meas_2021", [])
    # meas_2020 rows: id 1 -> a 10, id 2 -> a 40 (not among a's first 3: added), id 3 -> a 10
    assert [r[3] for r in meas if r[3] not in kept_a] == []
    assert ids(meas) == [1, 2, 3] and 40 in kept_a


def with_child_of_partitioned(dump: bytes) -> bytes:
    """Adds reading(rid, meas_id, meas_y) with FK (meas_id, meas_y) -> meas(id, y), the partitioned table."""
    d = dump.decode()
    d = d.replace("SELECT pg_catalog.setval", "CREATE TABLE public.reading (\n    rid integer NOT NULL,\n    meas_id integer,\n"
                  "    meas_y integer\n);\n\nCOPY public.reading (rid, meas_id, meas_y) FROM stdin;\n"
                  "1\t1\t2020\n2\t5\t2021\n3\t2\t2020\n\\.\n\nSELECT pg_catalog.setval", 1)
    d = d.replace("--\n-- PostgreSQL database dump complete",
                  "ALTER TABLE ONLY public.reading\n    ADD CONSTRAINT reading_pkey PRIMARY KEY (rid);\n\n"
                  "ALTER TABLE public.reading\n    ADD CONSTRAINT reading_fk FOREIGN KEY (meas_id, meas_y) "
                  "REFERENCES public.meas(id, y);\n\n--\n-- PostgreSQL database dump complete")
    return d.encode()


def test_pg_child_of_partitioned_table_keeps_rows_with_kept_parent(dm, tmp_path):
    p = tmp_path / "child.sql"
    p.write_bytes(with_child_of_partitioned(pg_dump()))
    rows = pg_copy_rows(run_ok(dm, "-q", "--first", "10", p).stdout)
    assert ids(rows["meas_2020"]) + ids(rows["meas_2021"]) == [1, 2, 3, 4, 5, 6]
    assert ids(rows["reading"]) == [1, 2, 3]  # every parent row is kept


def test_pg_child_of_partitioned_table_adds_parent_in_another_partition(dm, tmp_path):
    p = tmp_path / "child.sql"
    p.write_bytes(with_child_of_partitioned(pg_dump()))
    rows = pg_copy_rows(run_ok(dm, "-q", "--first", "3", p).stdout)
    # meas's first 3 are (1,2020) (2,2020) (3,2020): reading 2 -> (5,2021) adds that row of meas_2021
    assert ids(rows["reading"]) == [1, 2, 3]
    assert ids(rows["meas_2020"]) == [1, 2, 3] and ids(rows["meas_2021"]) == [5]


def test_pg_multirow_inserts(dm, tmp_path):
    p = tmp_path / "ins.sql"
    p.write_bytes(pg_dump(inserts=True, partitions=False))
    out = run_ok(dm, "-q", "--first", "3", p).stdout
    ins = insert_rows(out, pg=True)
    flat = {t: [r for stmt in v for r in stmt] for t, v in ins.items()}
    assert ids(flat["t_a"]) == FIRST3["t_a"]
    assert ids(flat["t_b"]) == FIRST3["t_b"]
    assert ids(flat["t_c"]) == FIRST3["t_c"]
    assert ids(flat["node"]) == FIRST3["node"]
    assert ids(flat["ship"]) == FIRST3["ship"]
    # no statement is left without a row: t_a had 3 INSERTs of 2 rows: rows 1-2, 3-4, 5 -> 2 kept
    assert all(stmts and all(stmts) for stmts in ins.values())
    assert len(ins["t_a"]) == 2
    # node: statements (1,3) (4,2) (9): each keeps a row
    assert len(ins["node"]) == 3


# ------------------------------------------------------------------ mysql

def test_my_first_extended_inserts(dm, myfile):
    out = run_ok(dm, "-q", "--first", "3", myfile).stdout
    ins = insert_rows(out)
    flat = {t: [r for stmt in v for r in stmt] for t, v in ins.items()}
    assert ids(flat["t_a"]) == FIRST3["t_a"]
    assert ids(flat["t_b"]) == FIRST3["t_b"]
    assert ids(flat["t_c"]) == FIRST3["t_c"]
    assert ids(flat.get("node", [])) == FIRST3["node"]
    assert ids(flat["item"], 2) == FIRST3["item"]
    assert ids(flat["ship"]) == FIRST3["ship"]
    assert flat["t_a"] == [r for r in T_A if r[0] in FIRST3["t_a"]]
    # an INSERT left with no row disappears; the others stay complete statements
    assert len(ins["t_a"]) == 2          # (10,20) (30,40) ; the third INSERT (50) is gone
    assert len(ins["node"]) == 3
    assert all(all(stmt) for stmts in ins.values() for stmt in stmts)
    # the rest of the dump is still there
    text = out.decode()
    assert text.count("\nLOCK TABLES") == 6 and text.count("\nUNLOCK TABLES;") == 6
    assert "-- Dump completed" in text


def test_my_last(dm, myfile):
    flat = {t: [r for s in v for r in s] for t, v in insert_rows(run_ok(dm, "-q", "--last", "2", myfile).stdout).items()}
    assert ids(flat["t_a"]) == LAST2["t_a"]
    assert ids(flat["t_b"]) == LAST2["t_b"]
    assert ids(flat["t_c"]) == LAST2["t_c"]
    assert ids(flat["node"]) == LAST2["node"]
    assert ids(flat["item"], 2) == LAST2["item"]
    assert ids(flat["ship"]) == LAST2["ship"]


def test_my_one_row_per_insert(dm, tmp_path):
    p = tmp_path / "one.sql"
    p.write_bytes(my_dump(per_insert=1))
    ins = insert_rows(run_ok(dm, "-q", "--first", "3", p).stdout)
    assert [ids(s) for s in ins["t_b"]] == [[1], [2], [3]]
    assert [ids(s) for s in ins["t_c"]] == [[100], [101], [102]]


# ------------------------------------------------------------------ configuration

def test_rules_transfer_option_works_like_first(dm, pgfile, tmp_path):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"transfer": {"mode": "first", "rows": 2}}, "tables": []}))
    a = run_ok(dm, "-q", "-c", rules, pgfile).stdout
    b = run_ok(dm, "-q", "--first", "2", pgfile).stdout
    assert a == b
    rows = pg_copy_rows(a)
    assert ids(rows["t_a"]) == [10, 20, 40]  # 40: b 1 references it
    assert ids(rows["t_b"]) == [1, 2]
    assert ids(rows.get("t_c", [])) == [100, 101]


def test_table_level_transfer_overrides_global(dm, pgfile, tmp_path):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"transfer": {"mode": "first", "rows": 3}},
                                 "tables": [{"tableName": "t_a", "transfer": {"mode": "full"}},
                                            {"tableName": "node", "transfer": {"mode": "last", "rows": 1}}]}))
    rows = pg_copy_rows(run_ok(dm, "-q", "-c", rules, pgfile).stdout)
    assert ids(rows["t_a"]) == [10, 20, 30, 40, 50]
    assert ids(rows["t_b"]) == [1, 2, 3]
    assert ids(rows["t_c"]) == [100, 101, 102]
    assert ids(rows["node"]) == [9]
    assert ids(rows["item"], 2) == FIRST3["item"]
    # the CLI's --first is the global mode; a table-level transfer still wins
    rules.write_text(json.dumps({"tables": [{"tableName": "t_a", "transfer": {"mode": "full"}}]}))
    rows = pg_copy_rows(run_ok(dm, "-q", "-c", rules, "--first", "3", pgfile).stdout)
    assert ids(rows["t_a"]) == [10, 20, 30, 40, 50]
    assert ids(rows["t_b"]) == [1, 2, 3]


def test_first_and_last_together_is_a_usage_error(dm, pgfile):
    cp = dm("--first", "2", "--last", "2", pgfile)
    assert cp.returncode == 2
    assert b"--first" in cp.stderr and b"--last" in cp.stderr
    assert b"COPY" not in cp.stdout


def test_negative_rows_is_a_usage_error(dm, pgfile):
    assert dm("--first", "-1", pgfile).returncode == 2


# ------------------------------------------------------------------ pipes

def test_pipe_with_foreign_keys_fails_with_documented_message(dm):
    cp = dm("--first", "3", "-", input=pg_dump())
    assert cp.returncode == 1, cp.stderr.decode()
    err = cp.stderr.decode()
    assert "regular file" in err and "referentialIntegrity" in err
    # the output must not restore as if complete: no kept data rows were written as a valid dump
    assert b"PostgreSQL database dump complete" not in cp.stdout


def test_pipe_with_foreign_keys_fails_mysql(dm):
    cp = dm("--last", "3", input=my_dump())
    assert cp.returncode == 1
    assert "regular file" in cp.stderr.decode() and "referentialIntegrity" in cp.stderr.decode()


def test_pipe_without_referential_integrity_warns(dm, tmp_path):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"transfer": {"mode": "first", "rows": 3, "referentialIntegrity": False}},
                                 "tables": []}))
    audit = tmp_path / "a.json"
    cp = run_ok(dm, "-c", rules, "--audit", audit, "-", input=pg_dump())
    assert b"warning" in cp.stderr and b"may not restore" in cp.stderr
    rows = pg_copy_rows(cp.stdout)
    # no referential integrity: plain first 3 of every table
    assert ids(rows["t_b"]) == [1, 2, 3]
    assert ids(rows["t_c"]) == [100, 101, 102]
    assert ids(rows["node"]) == [1, 3, 4]
    a = json.loads(audit.read_text())
    assert a["status"] == "ok"
    assert a["options"]["transfer"]["may_not_restore"] is True
    assert a["options"]["transfer"]["referentialIntegrity"] is False


def test_pipe_without_referential_integrity_with_cli_first(dm, tmp_path):
    """--first on the command line plus "referentialIntegrity": false in the rules."""
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"transfer": {"mode": "full", "referentialIntegrity": False}}, "tables": []}))
    audit = tmp_path / "a.json"
    cp = run_ok(dm, "-c", rules, "--first", "2", "--audit", audit, input=my_dump())
    flat = {t: [r for s in v for r in s] for t, v in insert_rows(cp.stdout).items()}
    assert ids(flat["t_b"]) == [1, 2]
    assert json.loads(audit.read_text())["options"]["transfer"]["may_not_restore"] is True


def test_pipe_last_partitioned_counts_as_one_table(dm, tmp_path):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"transfer": {"mode": "last", "rows": 2, "referentialIntegrity": False}},
                                 "tables": []}))
    rows = pg_copy_rows(run_ok(dm, "-q", "-c", rules, input=pg_dump()).stdout)
    assert ids(rows["t_a"]) == [40, 50]
    assert ids(rows.get("meas_2020", [])) + ids(rows.get("meas_2021", [])) == [5, 6]


@pytest.mark.parametrize("n", [0, 1, 4, 6, 9])
def test_pipe_last_partitioned_is_the_file_runs_rows_masked_and_counted(dm, tmp_path, n):
    """The partitions' blocks are held (one ring of N rows for the table) and written when the
    data is over: each partition gets the rows a file run keeps, masked, and the audit counts them."""
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"transfer": {"mode": "last", "rows": n, "referentialIntegrity": False}},
                                 "tables": [{"tableName": "meas_2020", "columnMutations": [
                                     {"column": "v", "mutation": "null"}]},
                                            {"tableName": "meas_2021", "columnMutations": [
                                     {"column": "v", "mutation": "null"}]}]}))
    src = tmp_path / "pg.sql"
    src.write_bytes(pg_dump())
    a_pipe, a_file = tmp_path / "pipe.json", tmp_path / "file.json"
    out = run_ok(dm, "-q", "-c", rules, "--audit", a_pipe, input=pg_dump()).stdout
    assert run_ok(dm, "-q", "-j", "2", "-c", rules, input=pg_dump()).stdout == out   # (the workers: the same bytes)
    piped = pg_copy_rows(out)
    filed = pg_copy_rows(run_ok(dm, "-q", "-c", rules, "--audit", a_file, src).stdout)
    meas = [r for t in ("meas_2020", "meas_2021") for r in piped.get(t, [])]
    assert ids(meas) == [1, 2, 3, 4, 5, 6][6 - min(n, 6):] and all(r[2] is None for r in meas)
    for t in ("meas_2020", "meas_2021"):
        assert piped.get(t, []) == filed.get(t, []), t
    tp, tf = (json.loads(a.read_text())["tables"] for a in (a_pipe, a_file))
    for t in ("public.meas_2020", "public.meas_2021"):
        assert (tp[t]["rows_read"], tp[t]["rows_written"]) == (tf[t]["rows_read"], tf[t]["rows_written"]), t
        assert tp[t]["columns"] == tf[t]["columns"] and tp[t]["columns"]["v"], t


def test_pipe_last_partitions_apart_in_the_dump_is_refused(dm, tmp_path):
    """A statement between two partitions' data: the first partition's rows were written (the
    table's data looked over), so the last N of the table cannot be picked: exit 1, named."""
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"transfer": {"mode": "last", "rows": 2, "referentialIntegrity": False}},
                                 "tables": []}))
    text = pg_dump().replace(b"COPY public.meas_2021 ", b"SET search_path = public;\n\nCOPY public.meas_2021 ", 1)
    cp = dm("-q", "-c", rules, input=text)
    assert cp.returncode == 1, cp.stderr
    assert b"partition public.meas_2021 of public.meas" in cp.stderr and b"regular file" in cp.stderr
    assert b"Traceback" not in cp.stderr


# ------------------------------------------------------------------ audit and sequences

def test_audit_records_rows_and_mode(dm, pgfile, tmp_path):
    audit = tmp_path / "a.json"
    run_ok(dm, "-q", "--first", "3", "--audit", audit, pgfile)
    a = json.loads(audit.read_text())
    assert a["status"] == "ok"
    assert a["options"]["transfer"]["mode"] == "first" and a["options"]["transfer"]["rows"] == 3
    t = a["tables"]
    expect = {"public.t_a": (5, 4), "public.t_b": (5, 3), "public.t_c": (4, 3), "public.node": (5, 4),
              "public.item": (5, 4), "public.ship": (4, 3)}
    for name, (read, written) in expect.items():
        assert (t[name]["rows_read"], t[name]["rows_written"]) == (read, written), name
        assert t[name]["transfer"] == "first 3", (name, t[name]["transfer"])
        added = ADDED3[name.split(".")[1]]
        assert (t[name]["rows_selected"], t[name]["rows_added_as_parents"]) == (3, added), name
    assert a["transfer_empty_tables"] == []
    # partitions: 3 + 3 read, 3 + 0 written
    assert t["public.meas_2020"]["rows_read"] + t["public.meas_2021"]["rows_read"] == 6
    assert t["public.meas_2020"]["rows_written"] + t["public.meas_2021"]["rows_written"] == 3


def test_audit_table_level_mode(dm, pgfile, tmp_path):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "t_a", "transfer": {"mode": "full"}}]}))
    audit = tmp_path / "a.json"
    run_ok(dm, "-q", "-c", rules, "--last", "2", "--audit", audit, pgfile)
    t = json.loads(audit.read_text())["tables"]
    assert t["public.t_a"]["transfer"] == "full"
    assert t["public.t_a"]["rows_written"] == 5
    assert t["public.item"]["transfer"] == "last 2"


def setval_of(out: bytes, seq: str) -> int:
    m = re.search(rb"setval\('public\." + seq.encode() + rb"', (\d+), (true|false)\)", out)
    assert m, "setval missing"
    return int(m.group(1))


def test_setval_not_lower_than_largest_kept_key(dm, pgfile):
    out = run_ok(dm, "-q", "--first", "3", pgfile).stdout
    assert setval_of(out, "t_a_id_seq") >= max(ids(pg_copy_rows(out)["t_a"]))


def test_setval_with_remapping(dm, pgfile, tmp_path):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"identifierRemapping": {"enabled": True}}, "tables": []}))
    for mode in ("--first", "--last"):
        out = run_ok(dm, "-q", "-c", rules, mode, "3", pgfile).stdout
        rows = pg_copy_rows(out)
        kept = ids(rows["t_a"])
        assert len(kept) == 4   # 3 and one parent of t_b's rows
        assert setval_of(out, "t_a_id_seq") >= max(kept)
        # remapped children still point at kept parents
        assert {r[1] for r in rows.get("t_b", []) if r[1] is not None} <= set(kept)
        assert {r[1] for r in rows.get("t_c", [])} <= set(ids(rows.get("t_b", [])))


def test_my_remapping_with_first(dm, myfile, tmp_path):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"identifierRemapping": {"enabled": True}}, "tables": []}))
    out = run_ok(dm, "-q", "-c", rules, "--first", "3", myfile).stdout
    flat = {t: [r for s in v for r in s] for t, v in insert_rows(out).items()}
    kept = ids(flat["t_a"])
    assert len(kept) == 4
    # (AUTO_INCREMENT needs no care: InnoDB moves it past the largest id inserted)
    assert {r[1] for r in flat["t_b"] if r[1] is not None} <= set(kept)


# ------------------------------------------------------------------ rows cut without being read (issue 13)

def test_pg_last_bad_row_among_cut_rows_still_fails(dm, tmp_path):
    """--last keeps rows by position without splitting the others: a COPY line with a wrong
    field count among the cut rows still stops the run, located."""
    p = tmp_path / "bad.sql"
    data = pg_dump()
    assert b"\n10\ta10\n" in data
    p.write_bytes(data.replace(b"\n10\ta10\n", b"\n10\ta10\textra\n", 1))
    r = dm("-q", "--last", "2", p)
    assert r.returncode != 0
    assert b"has 3 fields, expected 2" in r.stderr


def test_my_last_bad_tuple_among_cut_rows_still_fails(dm, tmp_path):
    p = tmp_path / "bad.sql"
    data = my_dump()
    assert b"(10,'a10')" in data
    p.write_bytes(data.replace(b"(10,'a10')", b"(10,'a10',3)", 1))
    r = dm("-q", "--last", "2", p)
    assert r.returncode != 0
    assert b"values, expected" in r.stderr


def test_my_last_counts_rows_of_cut_statements(dm, tmp_path):
    """The audit counts every row read, also those of INSERTs cut whole (counted, not parsed)."""
    p = tmp_path / "one.sql"
    p.write_bytes(my_dump(per_insert=1))
    audit = tmp_path / "audit.json"
    run_ok(dm, "-q", "--last", "2", "--audit", audit, p)
    tables = json.loads(audit.read_text())["tables"]
    assert {t: (v["rows_read"], v["rows_written"]) for t, v in tables.items() if t.endswith("t_a")} \
        in ({"t_a": (5, 4)}, {"test.t_a": (5, 4)}, {"db.t_a": (5, 4)})


# ------------------------------------------------------------------ rows whose parent the dump does not hold (issue 14)

def test_dangling_reference_is_cut_and_an_emptied_table_warned(dm, tmp_path):
    """b 1 references a 40, which the dump does not hold (a NOT VALID constraint, a dangling
    row): it cannot be kept with its parent, so it is cut, and c 101 that needs it; a table left
    with no row is a warning and in the audit."""
    rows = rows_of()
    rows["t_a"] = [r for r in T_A if r[0] != 40]
    rows["node"] = [(3, 9), (4, 3)]           # node 9 is not in the dump: both rows cut, node emptied
    p = tmp_path / "dangling.sql"
    p.write_bytes(pg_dump(rows))
    audit = tmp_path / "a.json"
    cp = run_ok(dm, "--first", "3", "--audit", audit, p)
    got = pg_copy_rows(cp.stdout)
    assert ids(got["t_b"]) == [2, 3]
    assert ids(got["t_c"]) == [100, 102]
    assert ids(got.get("node", [])) == []
    a = json.loads(audit.read_text())
    assert a["tables"]["public.t_b"]["rows_orphaned"] == 1 and a["tables"]["public.t_c"]["rows_orphaned"] == 1
    assert a["tables"]["public.node"]["rows_orphaned"] == 2
    assert a["transfer_empty_tables"] == ["public.node"]
    assert b"table public.node had rows and has none" in cp.stderr
    assert any("public.node had rows" in w for w in a["warnings"])


def test_parents_found_in_several_passes(dm, pgfile, tmp_path):
    """--last: the cut is known at the end of the first pass only, so the parents come from a
    second (t_c's data comes first: c 103 -> b 4 -> a 20 are found in one more pass, the
    tables being read in that order); the audit says how many passes were read."""
    audit = tmp_path / "a.json"
    got = pg_copy_rows(run_ok(dm, "-q", "--last", "1", "--audit", audit, pgfile).stdout)
    # last 1: t_c 103 -> b 4 -> a 20; t_b 5 -> a 30; t_a 50
    assert ids(got["t_c"]) == [103] and ids(got["t_b"]) == [4, 5] and ids(got["t_a"]) == [20, 30, 50]
    assert json.loads(audit.read_text())["options"]["transfer"]["passes"] == 2


# ------------------------------------------------------------------ transfer.where (issue 14)

def test_transfer_where_selects_rows_and_adds_parents(dm, pgfile, myfile, tmp_path):
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "t_c", "transfer": {"where": {"id": {">=": 102}}}},
                                            {"tableName": "node", "transfer": {"where": {"parent_id": {"is null": False}}}}]}))
    audit = tmp_path / "a.json"
    rows = pg_copy_rows(run_ok(dm, "-q", "-c", rules, "--audit", audit, pgfile).stdout)
    assert ids(rows["t_c"]) == [102, 103]
    assert ids(rows["t_b"]) == [1, 2, 3, 4, 5] and ids(rows["t_a"]) == [10, 20, 30, 40, 50]   # full: whole
    assert ids(rows["node"]) == [1, 3, 4, 2, 9]       # 3, 4, 2 selected; 9 and 1 their parents
    t = json.loads(audit.read_text())["tables"]
    assert t["public.node"]["transfer"] == "where"
    assert (t["public.node"]["rows_selected"], t["public.node"]["rows_added_as_parents"]) == (3, 2)
    flat = {k: [r for s in v for r in s] for k, v in insert_rows(run_ok(dm, "-q", "-c", rules, myfile).stdout).items()}
    assert ids(flat["t_c"]) == [102, 103] and ids(flat["node"]) == [1, 3, 4, 2, 9]
    # with --first 1 for the others: t_c's selected rows bring b 3, b 4 and a 20
    rows = pg_copy_rows(run_ok(dm, "-q", "-c", rules, "--first", "1", pgfile).stdout)
    assert ids(rows["t_c"]) == [102, 103] and ids(rows["t_b"]) == [1, 3, 4] and ids(rows["t_a"]) == [10, 20, 40]


def test_transfer_where_errors(dm, pgfile, tmp_path):
    rules = tmp_path / "r.json"
    for doc, where in (({"options": {"transfer": {"where": {"id": 1}}}, "tables": []}, b"$.options.transfer.where"),
                       ({"tables": [{"tableName": "t_c", "transfer": {"where": {"id": 1}, "rows": 2}}]}, b"$.tables[0].transfer"),
                       ({"tables": [{"tableName": "t_c", "transfer": {"where": {"nope": 1}}}]}, b"$.tables[0].transfer.where.nope")):
        rules.write_text(json.dumps(doc))
        cp = dm("-q", "-c", rules, pgfile)
        assert cp.returncode == 2 and where in cp.stderr, (doc, cp.stderr)
