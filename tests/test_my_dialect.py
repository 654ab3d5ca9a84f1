"""MySQL / MariaDB dump quirks through the whole engine (one test per quirk, named after it).

Most tests mask with `static:MASKED`, so the expected output is the input with the masked
literal(s) replaced by 'MASKED': every other byte must be identical. The expected bytes are
built from the input here, never copied from the tool's output.
"""
from __future__ import annotations

import io
import itertools
import json

import pytest

from dumpmask.crypto import Key
from dumpmask.engine import Engine
from dumpmask.errors import DumpmaskError
from dumpmask.features import install
from dumpmask.rules import load_rules
from conftest import TEST_KEY

HDR = b"-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n-- Host: localhost    Database: shop\n\n"

T_CREATE = (b"CREATE TABLE `t` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  `email` varchar(100) DEFAULT NULL,\n"
            b"  `note` text,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n")

STATIC = {"tables": [{"tableName": "t", "columnMutations": [{"column": "email", "mutation": "static:MASKED"}]}]}


def rules(table="t", **cols):
    return {"tables": [{"tableName": table, "columnMutations": [{"column": c, "mutation": m} for c, m in cols.items()]}]}


def mask(dump: bytes, rules_obj: dict, *, dialect: str | None = None, key: str = TEST_KEY) -> tuple[bytes, dict]:
    rs = load_rules(None, json.dumps(rules_obj).encode())
    eng = Engine(rules=rs, key=Key(key.encode()), dialect=dialect)
    install(eng)
    out = io.BytesIO()
    audit = eng.run(io.BytesIO(dump), out)
    return out.getvalue(), audit


def masked_static(dump: bytes, originals: list[bytes], rules_obj=STATIC) -> None:
    """Mask with static:MASKED and check the output is the input with exactly those literals replaced."""
    out, _ = mask(dump, rules_obj)
    expected = dump
    for o in originals:
        assert expected.count(o) >= 1, o
        expected = expected.replace(o, b"'MASKED'")
    assert out == expected


# ----------------------------------------------------------------- INSERT forms

def test_extended_insert_one_tuple_one_line():
    d = HDR + T_CREATE + b"INSERT INTO `t` VALUES (1,'ann@example.com','hello');\n"
    masked_static(d, [b"'ann@example.com'"])


def test_extended_insert_many_tuples_one_line():
    rows = [(i, f"user{i}@example.com".encode(), f"note {i}".encode()) for i in range(1, 501)]
    d = HDR + T_CREATE + b"INSERT INTO `t` VALUES " + b",".join(
        b"(%d,'%s','%s')" % r for r in rows) + b";\n"
    exp = HDR + T_CREATE + b"INSERT INTO `t` VALUES " + b",".join(
        b"(%d,'MASKED','%s')" % (i, n) for i, _, n in rows) + b";\n"
    out, _ = mask(d, STATIC)
    assert out == exp


def test_extended_insert_one_row_per_line_mariadb_style():
    d = HDR + T_CREATE + (b"INSERT INTO `t` VALUES\n(1,'a1@example.com','x'),\n(2,'a2@example.com','y'),\n"
                          b"(3,'a3@example.com','z');\n")
    masked_static(d, [b"'a1@example.com'", b"'a2@example.com'", b"'a3@example.com'"])


def test_complete_insert_column_list_any_order_case_insensitive_rule():
    d = HDR + T_CREATE + (b"INSERT INTO `t` (`note`, `id`, `email`) VALUES ('n1',1,'c1@example.com'),('n2',2,'c2@example.com');\n"
                          b"INSERT INTO `t` (`Email`, `note`, `id`) VALUES ('c3@example.com','n3',3);\n")
    masked_static(d, [b"'c1@example.com'", b"'c2@example.com'", b"'c3@example.com'"],
                  rules(EMAIL="static:MASKED"))


def test_skip_extended_insert_one_statement_per_row():
    d = HDR + T_CREATE + b"".join(b"INSERT INTO `t` VALUES (%d,'s%d@example.com','row %d');\n" % (i, i, i) for i in range(1, 21))
    masked_static(d, [b"'s%d@example.com'" % i for i in range(1, 21)])


def test_insert_ignore():
    d = HDR + T_CREATE + b"INSERT IGNORE INTO `t` VALUES (1,'ig@example.com','a'),(2,'ig2@example.com','b');\n"
    masked_static(d, [b"'ig@example.com'", b"'ig2@example.com'"])


def test_replace_into():
    d = HDR + T_CREATE + b"REPLACE INTO `t` VALUES (1,'rep@example.com','a');\n"
    masked_static(d, [b"'rep@example.com'"])


def test_on_duplicate_key_update_tail_preserved():
    tail = b" ON DUPLICATE KEY UPDATE `email`=VALUES(`email`), `note`='it''s (1,2)'"
    d = HDR + T_CREATE + b"INSERT INTO `t` VALUES (1,'dup@example.com','a'),(2,'dup2@example.com','b')" + tail + b";\n"
    out, _ = mask(d, STATIC)
    assert out == d.replace(b"'dup@example.com'", b"'MASKED'").replace(b"'dup2@example.com'", b"'MASKED'")
    assert out.endswith(tail + b";\n")


# ----------------------------------------------------------------- literals

ESCAPED = [rb"'a\0b'", rb"'it\'s'", rb"'say \"hi\"'", rb"'bs\b'", rb"'l1\nl2'", rb"'cr\r'", rb"'tab\t'",
           rb"'ctrlz\Z'", rb"'back\\slash'", rb"'100\%'", rb"'under\_score'", b"'dou''bled'", b"'\"'"]


def test_backslash_escapes_and_doubled_quotes_in_unmasked_columns_byte_identical():
    body = b",".join(b"(%d,'e%d@example.com',%s)" % (i, i, lit) for i, lit in enumerate(ESCAPED, 1))
    d = HDR + T_CREATE + b"INSERT INTO `t` VALUES " + body + b";\n"
    masked_static(d, [b"'e%d@example.com'" % i for i in range(1, len(ESCAPED) + 1)])


def test_backslash_escapes_and_doubled_quotes_in_masked_columns_replaced():
    body = b",".join(b"(%d,%s,'plain %d')" % (i, lit, i) for i, lit in enumerate(ESCAPED, 1))
    d = HDR + T_CREATE + b"INSERT INTO `t` VALUES " + body + b";\n"
    masked_static(d, ESCAPED)


def test_backslash_escapes_decode_before_masking_same_value_same_output():
    # the same string written in two ways must be masked to the same output (decoded first)
    pairs = [(rb"'it\'s'", b"'it''s'"), (rb"'a\\b'", b"'a\\\\b'"), (rb"'x\"y'", b"'x\"y'"),
             (rb"'p\%'", rb"'p\\%'"), (rb"'u\_'", rb"'u\\_'")]
    for a, b in pairs:
        d = HDR + T_CREATE + b"INSERT INTO `t` VALUES (1,%s,'n'),(2,%s,'n'),(3,'other','n');\n" % (a, b)
        out, _ = mask(d, rules(email="hash"))
        line = out.splitlines()[-1]
        start = line.index(b"VALUES ") + 7
        tuples = line[start:].rstrip(b";").split(b"),(")
        v1, v2, v3 = (t.split(b",")[1] for t in tuples)
        assert v1 == v2, (a, b)
        assert v1 != v3 and v1 not in (a, b)


def test_multi_line_values_masked_and_unmasked():
    d = HDR + T_CREATE + b"INSERT INTO `t` VALUES (1,'multi\nline\r\n@example.com','first\nsecond\n\nthird'),(2,'x','y');\n"
    masked_static(d, [b"'multi\nline\r\n@example.com'", b"'x'"])


def test_raw_non_utf8_bytes_in_blob_of_masked_table_pass_through():
    blob = bytes(range(256)).replace(b"\\", b"\\\\").replace(b"'", b"\\'").replace(b"\x00", b"\\0")
    create = (b"CREATE TABLE `b` (\n  `id` int NOT NULL,\n  `email` varchar(50),\n  `data` blob,\n  `pic` longblob,\n"
              b"  PRIMARY KEY (`id`)\n);\n")
    d = HDR + create + b"INSERT INTO `b` VALUES (1,'bl@example.com','" + blob + b"','\x89PNG\r\n\x1a\n\xff\xfe\xc3\x28');\n"
    with pytest.raises(UnicodeDecodeError):
        d.decode("utf-8")
    masked_static(d, [b"'bl@example.com'"], rules("b", email="static:MASKED"))


def test_binary_introducer_hex_bit_and_x_literals_in_unmasked_columns():
    create = (b"CREATE TABLE `lits` (\n  `id` int NOT NULL,\n  `email` varchar(50),\n  `b1` varbinary(10),\n"
              b"  `b2` blob,\n  `flags` bit(4),\n  `b3` varbinary(10),\n  PRIMARY KEY (`id`)\n);\n")
    d = HDR + create + (b"INSERT INTO `lits` VALUES (1,'l1@example.com',_binary '\xff\x00\\'x',0xDEADBEEF00,b'0101',X'cafe'),"
                        b"(2,'l2@example.com',_binary '',0x,b'1',x'00');\n")
    masked_static(d, [b"'l1@example.com'", b"'l2@example.com'"], rules("lits", email="static:MASKED"))


def test_number_column_masked_writes_unquoted_number():
    create = b"CREATE TABLE `n` (\n  `id` int NOT NULL,\n  `score` int DEFAULT NULL,\n  `price` decimal(10,2),\n  PRIMARY KEY (`id`)\n);\n"
    d = HDR + create + b"INSERT INTO `n` VALUES (1,17,'9.99'),(2,-3,1.50);\n"
    out, _ = mask(d, rules("n", score="static:42", price="static:3.25"))
    assert out == d.replace(b"(1,17,'9.99')", b"(1,42,'3.25')").replace(b"(2,-3,1.50)", b"(2,42,3.25)") or \
        out == d.replace(b"(1,17,'9.99')", b"(1,42,3.25)").replace(b"(2,-3,1.50)", b"(2,42,3.25)")
    assert b"'42'" not in out


def test_null_stays_null_in_masked_column():
    d = HDR + T_CREATE + b"INSERT INTO `t` VALUES (1,NULL,'a'),(2,'nn@example.com',NULL),(3,null,'c');\n"
    for mut in ("hash", "faker.email"):
        out, _ = mask(d, rules(email=mut))
        assert b"(1,NULL,'a')" in out, mut
        assert b"nn@example.com" not in out
        assert b",NULL)" in out
        assert b"(3,NULL,'c')" in out or b"(3,null,'c')" in out


# ----------------------------------------------------------------- statements around the data

def test_conditional_comments_and_mariadb_sandbox_line_pass_through():
    d = (b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n"
         b"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
         b"/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n"
         b"/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */;\n"
         + T_CREATE +
         b"/*!40000 ALTER TABLE `t` DISABLE KEYS */;\nINSERT INTO `t` VALUES (1,'cc@example.com','/*!50001 x */');\n"
         b"/*!40000 ALTER TABLE `t` ENABLE KEYS */;\n"
         b"/*!50001 CREATE VIEW `v` AS SELECT\n 1 AS `id`,\n 1 AS `email` */;\n"
         b"/*!50001 DROP VIEW IF EXISTS `v`*/;\n")
    masked_static(d, [b"'cc@example.com'"])


def test_delimiter_trigger_body_with_insert_values_for_masked_table_passes_through():
    trig = (b"DELIMITER ;;\n/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `t_ai` AFTER INSERT ON `t` "
            b"FOR EACH ROW BEGIN\n    INSERT INTO `t` VALUES (99,'trigger@example.com','in trigger');\n"
            b"    INSERT INTO t (email) VALUES (NEW.email);\nEND */;;\nDELIMITER ;\n"
            b"DELIMITER ;;\nCREATE PROCEDURE `p`()\nBEGIN\n  REPLACE INTO `t` VALUES (98,'proc@example.com','p');\nEND ;;\nDELIMITER ;\n")
    d = HDR + T_CREATE + b"INSERT INTO `t` VALUES (1,'real@example.com','a');\n" + trig
    masked_static(d, [b"'real@example.com'"])
    out, _ = mask(d, STATIC)
    assert trig in out


def test_lock_unlock_tables_pass_through():
    d = HDR + T_CREATE + (b"LOCK TABLES `t` WRITE;\n/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n"
                          b"INSERT INTO `t` VALUES (1,'lk@example.com','a');\n/*!40000 ALTER TABLE `t` ENABLE KEYS */;\nUNLOCK TABLES;\n")
    masked_static(d, [b"'lk@example.com'"])


def test_crlf_line_endings_kept():
    d = (HDR + T_CREATE + b"LOCK TABLES `t` WRITE;\nINSERT INTO `t` VALUES\n(1,'cr1@example.com','a\\r\\n'),\n"
         b"(2,'cr2@example.com','b');\nUNLOCK TABLES;\n").replace(b"\n", b"\r\n")
    masked_static(d, [b"'cr1@example.com'", b"'cr2@example.com'"])
    out, _ = mask(d, STATIC)
    assert out.count(b"\r\n") == d.count(b"\r\n") and b"\n" not in out.replace(b"\r\n", b"")


@pytest.mark.parametrize("ident,rule_name", [
    (b"`my table`", "my table"),
    (b"`CUSTOMERS`", "CUSTOMERS"),
    (b"`order`", "order"),
    (b"`we``ird`", "`we``ird`"),
])
def test_backtick_identifiers_spaces_uppercase_reserved_doubled(ident, rule_name):
    col = b"`E Mail`"
    create = b"CREATE TABLE %s (\n  `id` int NOT NULL,\n  %s varchar(50),\n  `select` varchar(20),\n  PRIMARY KEY (`id`)\n);\n" % (ident, col)
    d = HDR + create + b"INSERT INTO %s VALUES (1,'bt@example.com','keep me');\n" % ident
    r = {"tables": [{"tableName": rule_name, "columnMutations": [{"column": "e mail", "mutation": "static:MASKED"}]}]}
    masked_static(d, [b"'bt@example.com'"], r)


def test_backtick_identifier_rule_for_other_table_does_not_match():
    d = HDR + T_CREATE + b"INSERT INTO `t` VALUES (1,'keep@example.com','a');\n"
    out, _ = mask(d, rules("t2", email="static:MASKED"))
    assert out == d


@pytest.mark.parametrize("rule_table", ["shop.t", "t", "SHOP.T"])
def test_database_qualified_names_after_use(rule_table):
    d = (HDR + b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n\nUSE `shop`;\n"
         + T_CREATE + b"INSERT INTO `t` VALUES (1,'use@example.com','a');\n")
    masked_static(d, [b"'use@example.com'"], rules(rule_table, email="static:MASKED"))


@pytest.mark.parametrize("rule_table", ["shop.t", "t"])
def test_database_qualified_names_databases_option_two_dbs(rule_table):
    # --databases shop other: two USE sections, tables with the same name; a qualified rule
    # masks only one, and `db`.`t` INSERTs are matched too
    d = (HDR + b"USE `shop`;\n" + T_CREATE + b"INSERT INTO `shop`.`t` VALUES (1,'q1@example.com','a');\n"
         b"INSERT INTO `t` VALUES (2,'q2@example.com','b');\n"
         b"USE `other`;\n" + T_CREATE + b"INSERT INTO `t` VALUES (3,'o3@example.com','c');\n"
         b"INSERT INTO `other`.`t` VALUES (4,'o4@example.com','d');\n")
    out, _ = mask(d, rules(rule_table, email="static:MASKED"))
    exp = d.replace(b"'q1@example.com'", b"'MASKED'").replace(b"'q2@example.com'", b"'MASKED'")
    if rule_table == "t":
        exp = exp.replace(b"'o3@example.com'", b"'MASKED'").replace(b"'o4@example.com'", b"'MASKED'")
    assert out == exp


def test_database_qualified_rule_for_other_db_does_not_match():
    d = HDR + b"USE `shop`;\n" + T_CREATE + b"INSERT INTO `t` VALUES (1,'stay@example.com','a');\n"
    out, _ = mask(d, rules("other.t", email="static:MASKED"))
    assert out == d


GEN_CREATE = (b"CREATE TABLE `g` (\n  `id` int NOT NULL,\n  `first` varchar(20),\n"
              b"  `full` varchar(40) GENERATED ALWAYS AS (concat(`first`,'!')) VIRTUAL,\n"
              b"  `email` varchar(50),\n  `up` varchar(40) AS (upper(`email`)) STORED,\n  `note` varchar(20),\n  PRIMARY KEY (`id`)\n);\n")


def test_generated_columns_absent_from_inserts_rule_positions_right():
    d = HDR + GEN_CREATE + b"INSERT INTO `g` VALUES (1,'ann','gen@example.com','n1'),(2,'bob','gen2@example.com','n2');\n"
    masked_static(d, [b"'gen@example.com'", b"'gen2@example.com'"], rules("g", email="static:MASKED"))


def test_generated_columns_written_as_default_rule_positions_right():
    d = HDR + GEN_CREATE + b"INSERT INTO `g` VALUES (1,'ann',DEFAULT,'gd@example.com',DEFAULT,'n1');\n"
    masked_static(d, [b"'gd@example.com'"], rules("g", email="static:MASKED"))


def test_generated_columns_written_with_values_as_mariadb_dump_does():
    # mariadb-dump 10.11 writes the computed values of virtual/stored columns into the INSERT
    d = HDR + GEN_CREATE + b"INSERT INTO `g` VALUES (1,'ann','ann!','gv@example.com','GV@EXAMPLE.COM','n1');\n"
    masked_static(d, [b"'gv@example.com'"], rules("g", email="static:MASKED"))


def test_generated_columns_complete_insert_without_generated():
    d = HDR + GEN_CREATE + b"INSERT INTO `g` (`id`, `first`, `email`, `note`) VALUES (1,'ann','gc@example.com','n1');\n"
    masked_static(d, [b"'gc@example.com'"], rules("g", email="static:MASKED"))


def test_insert_select_into_masked_table_refused():
    d = HDR + T_CREATE + b"INSERT INTO `t` SELECT 1,'x@example.com','y';\n"
    with pytest.raises(DumpmaskError):
        mask(d, STATIC)


def test_empty_rules_output_identical_on_quirky_dump():
    d = (b"/*M!999999\\- enable the sandbox mode */ \r\n" + HDR + T_CREATE +
         b"INSERT INTO `t` VALUES (1,'a\\'b\\\\c\\0','\xff\xfe'),\n(2,NULL,_binary 'q');\nREPLACE INTO `t` VALUES (3,'z','w');\n")
    out, _ = mask(d, {"tables": []})
    assert out == d


# ----------------------------------------------------------------- dialect

@pytest.mark.parametrize("head", [
    b"-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n",
    b"-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n",
    b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n",
    b"/*M!999999\\- enable the sandbox mode */ \n",
])
def test_dialect_detection_from_each_header_form(head, dm, tmp_path):
    d = head + b"\n" + T_CREATE + b"INSERT INTO `t` VALUES (1,'det@example.com','a');\n"
    r = tmp_path / "r.json"
    r.write_text(json.dumps(STATIC))
    audit = tmp_path / "a.json"
    cp = dm("-c", r, "-q", "--audit", audit, input=d)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == d.replace(b"'det@example.com'", b"'MASKED'")
    assert json.loads(audit.read_text())["dialect"] == "mysql"


def test_dialect_flag_mysql_for_headerless_dump(dm, tmp_path):
    d = b"CREATE TABLE t (\n  id int NOT NULL,\n  email varchar(50),\n  note text\n);\nINSERT INTO t VALUES (1,'fl@example.com','a');\n"
    r = tmp_path / "r.json"
    r.write_text(json.dumps(STATIC))
    cp = dm("-c", r, "-q", "--dialect", "mysql", input=d)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == d.replace(b"'fl@example.com'", b"'MASKED'")


def test_ansi_quotes_identifiers_compatible_ansi_are_masked(dm, tmp_path):
    """mysqldump --compatible=ansi writes "double-quoted" identifiers (ANSI_QUOTES): the INSERT
    must still be recognised as the masked table's data, never passed through unmasked."""
    dump = (b"-- MySQL dump 10.13\n"
            b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO,ANSI' */;\n"
            b'CREATE TABLE "people" (\n  "id" int(11) NOT NULL,\n  "email" varchar(60) DEFAULT NULL,\n  PRIMARY KEY ("id")\n);\n'
            b"INSERT INTO \"people\" VALUES (1,'alice.original@corp.test'),(2,'bob.original@corp.test');\n"
            b'INSERT INTO "people" ("id", "email") VALUES (3,\'carol.original@corp.test\');\n')
    rules = tmp_path / "r.json"
    rules.write_text('{"tables": [{"tableName": "people", "columnMutations": [{"column": "email", "mutation": "static:x@example.com"}]}]}')
    cp = dm("-c", rules, "-q", "--dialect", "mysql", input=dump)
    assert cp.returncode == 0, cp.stderr.decode()
    assert b"original@corp.test" not in cp.stdout
    assert cp.stdout.count(b"'x@example.com'") == 3


# ---- fast_lines: a statement longer than the buffer is scanned on from where the scan stopped

from hypothesis import given as _given, settings as _settings, strategies as _st  # noqa: E402

from dumpmask.dialects import mysql_lex as _lex  # noqa: E402
from dumpmask.dialects.mysql import fast_lines as _fast_lines  # noqa: E402

_pieces = _st.text(_st.sampled_from(list("ab '\"\\/*-;#`\n\t,()é")), max_size=12)


class _Chunks:
    """read1(n) gives at most the next drawn size: statements cross the buffer anywhere."""

    def __init__(self, data: bytes, sizes):
        self.data, self.pos, self.sizes = data, 0, sizes

    def read1(self, n):
        k = min(n, next(self.sizes))
        out = self.data[self.pos:self.pos + k]
        self.pos += len(out)
        return out


@_settings(max_examples=300, deadline=None)
@_given(rows=_st.lists(_st.lists(_st.one_of(_pieces, _st.integers(-10, 10)), min_size=1, max_size=3), min_size=1, max_size=6),
        block=_st.integers(1, 64), seed=_st.integers(0, 1000), sep=_st.sampled_from([",", ",\n", ",/*c*/", " -- c\n,"]),
        tail=_st.sampled_from(["", "/* c */;\n", "-- x\n", "SELECT 1;\n"]))
def test_fast_lines_any_buffer_gives_the_same_statements(rows, block, seed, sep, tail):
    import random as _random

    def lit(v):
        return str(v) if isinstance(v, int) else _lex.encode_string(v.encode()).decode()

    body = sep.join("(" + ",".join(lit(v) for v in r) + ")" for r in rows)
    dump = ("-- head\nINSERT INTO `t` VALUES " + body + ";\n" + tail + "INSERT INTO `t` VALUES " + body + ";\n").encode()
    whole = [bytes(getattr(x, "raw", x)) for x in _fast_lines(io.BytesIO(dump), block=1 << 20)]
    rnd = _random.Random(seed)
    sizes = iter(lambda: rnd.randint(1, block), None)
    pieces = [bytes(getattr(x, "raw", x)) for x in _fast_lines(_Chunks(dump, sizes), block=block)]
    assert b"".join(pieces) == dump
    assert pieces == whole


@pytest.mark.parametrize("sep", [",/*c*/", " -- c\n,", ",", ",\n", ",\n/*c*/", ",\n -- c\n"])
def test_fast_lines_every_cut_gives_the_same_statements(sep):
    """The buffer ends at every byte of a statement once (a '/' before '*', a '-' before '-', a
    closing quote, an escape): the same statements as one read."""
    body = sep.join(["(1,'a''b\\\\c',\"d\\\"e\")", "(2,'x/*y',NULL)", "(3,'--z',`w`)"])
    dump = ("INSERT INTO `t` VALUES " + body + ";\nSELECT 1;\n").encode()
    whole = [bytes(getattr(x, "raw", x)) for x in _fast_lines(io.BytesIO(dump))]
    for k in range(1, len(dump)):
        sizes = itertools.repeat(k)
        got = [bytes(getattr(x, "raw", x)) for x in _fast_lines(_Chunks(dump, sizes), block=k)]
        assert got == whole, k
