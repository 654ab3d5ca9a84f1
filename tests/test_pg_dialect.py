"""PostgreSQL dialect: one test per quirk of pg_dump's plain format, with the quirk in its name.

Tests run in-process through dumpmask.mask(). Expected values come from PostgreSQL's own rules
(COPY text escapes, string literal syntax), never from the tool's output: where a fake value
is involved, the assertion is a relation (same decoded input -> same output; unmasked bytes
identical; value changed) rather than a copied string.
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumpmask import mask
from dumpmask.crypto import Key
from dumpmask.dialects.postgres import copy_decode, literal_decode
from dumpmask.errors import DumpSyntaxError, RulesError
from dumpmask.rules import load_rules
from conftest import OTHER_KEY, TEST_KEY

KEY = Key(TEST_KEY)
HEADER = b"--\n-- PostgreSQL database dump\n--\n\n"


def rules(*tables) -> dict:
    """rules(("t", {"col": "mutation", ...}), ...)"""
    return {"tables": [{"tableName": t, "columnMutations": [{"column": c, "mutation": m} for c, m in cols.items()]}
                       for t, cols in tables]}


def run(dump: bytes, rules_doc=None, key=KEY, **kw):
    out = io.BytesIO()
    rs = load_rules(None, json.dumps(rules_doc).encode()) if rules_doc is not None else None
    audit = mask(io.BytesIO(dump), out, rules=rs, key=key, dialect="postgres", **kw)
    return out.getvalue(), audit


def copy_block(out: bytes, header_prefix: bytes) -> list[list[bytes]]:
    """The rows (fields split on tab) of the COPY block whose header starts with header_prefix."""
    i = out.index(header_prefix)
    start = out.index(b"\n", i) + 1
    end = out.index(b"\n\\.", start - 1)
    body = out[start:end + 1]
    return [ln.split(b"\t") for ln in body.split(b"\n")[:-1]] if body.strip() else []


def col_table(name="public.t", cols="id integer NOT NULL,\n    a text,\n    b text") -> bytes:
    return HEADER + b"CREATE TABLE " + name.encode() + b" (\n    " + cols.encode() + b"\n);\n\n"


# --------------------------------------------------------------------------- COPY text format

def test_copy_decode_escapes_follow_postgres_rules():
    # from the PostgreSQL COPY documentation, "Text Format"
    assert copy_decode(b"\\N") is None
    assert copy_decode(b"\\\\N") == "\\N"
    assert copy_decode(b"\\101") == "A"          # octal
    assert copy_decode(b"\\x41") == "A"          # hex
    assert copy_decode(b"\\x4") == "\x04"        # 1 hex digit
    assert copy_decode(b"a\\tb\\nc\\rd") == "a\tb\nc\rd"
    assert copy_decode(b"\\b\\f\\v") == "\b\f\v"
    assert copy_decode(b"\\\\") == "\\"
    assert copy_decode(b"\\q") == "q"            # any other escaped char is itself
    assert copy_decode("caf\u00e9".encode()) == "caf\u00e9"


def test_copy_null_marker_stays_null_under_faker():
    dump = col_table() + b"COPY public.t (id, a, b) FROM stdin;\n1\t\\N\tx\n2\tfoo@bar.com\ty\n\\.\n"
    out, audit = run(dump, rules(("t", {"a": "faker.email"})))
    rows = copy_block(out, b"COPY public.t")
    assert rows[0][1] == b"\\N"
    assert rows[1][1] not in (b"\\N", b"foo@bar.com")
    st = audit["tables"]["public.t"]["columns"]["a"]
    assert st["nulls"] == 1 and st["changed"] == 1


def test_copy_value_literally_backslash_n_text_is_not_null():
    # `\\N` in COPY text is the two-character string \N, not NULL
    dump = col_table() + b"COPY public.t (id, a, b) FROM stdin;\n1\t\\\\N\tx\n\\.\n"
    out, audit = run(dump, rules(("t", {"a": "faker.email"})))
    rows = copy_block(out, b"COPY public.t")
    assert rows[0][1] != b"\\N", "the text \\N was turned into NULL"
    assert audit["tables"]["public.t"]["columns"]["a"]["nulls"] == 0
    # kept as is with `keep`: still the text, byte for byte
    out2, _ = run(dump, rules(("t", {"a": "keep"})))
    assert out2 == dump


def test_copy_octal_and_hex_escapes_decode_before_masking():
    # \101\x41, \x41A and AA are the same value: a deterministic mutation must agree
    dump = col_table() + (b"COPY public.t (id, a, b) FROM stdin;\n"
                          b"1\t\\101\\x41\tx\n2\t\\x41A\tx\n3\tAA\tx\n4\tAB\tx\n\\.\n")
    out, _ = run(dump, rules(("t", {"a": "hash"})))
    rows = copy_block(out, b"COPY public.t")
    assert rows[0][1] == rows[1][1] == rows[2][1]
    assert rows[3][1] != rows[2][1]
    assert rows[0][1] not in (b"AA", b"\\101\\x41")


def test_copy_tab_and_newline_inside_values_are_reencoded():
    # a tab and a newline inside a value are written as \t and \n, never raw
    dump = col_table() + b"COPY public.t (id, a, b) FROM stdin;\n1\tx\tq\n2\t\\N\tq\n\\.\n"
    doc = {"tables": [{"tableName": "t", "columnMutations": [{"column": "a", "mutation": "static:p\tq\nr\\s"}]}]}
    out, _ = run(dump, doc)
    rows = copy_block(out, b"COPY public.t")
    assert [r[1] for r in rows] == [b"p\\tq\\nr\\\\s"] * 2
    assert all(len(r) == 3 for r in rows)


def test_copy_tab_escape_variants_are_the_same_value():
    dump = col_table() + (b"COPY public.t (id, a, b) FROM stdin;\n"
                          b"1\tx\\ty\tq\n2\tx\\011y\tq\n3\tx\\x09y\tq\n\\.\n")
    out, _ = run(dump, rules(("t", {"a": "faker.email"})))
    rows = copy_block(out, b"COPY public.t")
    assert rows[0][1] == rows[1][1] == rows[2][1]


def test_copy_terminator_backslash_dot_ends_block():
    # after \. the next line is SQL again; an escaped `\\.` inside a row is data, not the end
    dump = col_table() + (b"COPY public.t (id, a, b) FROM stdin;\n"
                          b"1\t\\\\.\tq\n\\\\.\tx\tq\n\\.\n"
                          b"SELECT 1;\n")
    out, audit = run(dump, rules(("t", {"b": "static:Z"})))
    rows = copy_block(out, b"COPY public.t")
    assert rows == [[b"1", b"\\\\.", b"Z"], [b"\\\\.", b"x", b"Z"]]
    assert out.endswith(b"\\.\nSELECT 1;\n")
    assert audit["tables"]["public.t"]["rows"] == 2


def test_copy_keep_on_every_column_is_byte_identical():
    dump = col_table() + (b"COPY public.t (id, a, b) FROM stdin;\n"
                          b"1\t\\101\\x41\\t\\\\N\t\\N\n2\t\xe2\x80\xa8\t\\\\\n\\.\n")
    out, _ = run(dump, rules(("t", {"id": "keep", "a": "keep", "b": "keep"})))
    assert out == dump


# --------------------------------------------------------------------------- INSERT statements

INS_TABLE = col_table(cols="id integer NOT NULL,\n    email text,\n    name text")


def test_insert_without_column_list_uses_create_table_order():
    dump = INS_TABLE + b"INSERT INTO public.t VALUES (1, 'a@b.com', 'Ann');\n"
    out, _ = run(dump, rules(("t", {"name": "static:ZED"})))
    assert out == INS_TABLE + b"INSERT INTO public.t VALUES (1, 'a@b.com', 'ZED');\n"


def test_insert_with_column_list_in_another_order():
    dump = INS_TABLE + b"INSERT INTO public.t (name, id, email) VALUES ('Ann', 1, 'a@b.com');\n"
    out, _ = run(dump, rules(("t", {"name": "static:ZED"})))
    assert out == INS_TABLE + b"INSERT INTO public.t (name, id, email) VALUES ('ZED', 1, 'a@b.com');\n"


def test_insert_multi_row_rows_per_insert():
    stmt = (b"INSERT INTO public.t (id, email, name) VALUES\n"
            b"\t(1, 'a@b.com', 'Ann'),\n\t(2, 'c@d.com', 'Bob'),\n\t(3, NULL, 'Cy');\n")
    dump = INS_TABLE + stmt
    out, audit = run(dump, rules(("t", {"email": "faker.email"})))
    body = out[len(INS_TABLE):]
    # still one statement with three rows, ids and names untouched
    assert body.count(b";") == 1 and body.startswith(b"INSERT INTO public.t (id, email, name) VALUES\n\t(1, '")
    names = re.findall(rb"'(Ann|Bob|Cy)'\)", body)
    assert names == [b"Ann", b"Bob", b"Cy"]
    assert b"a@b.com" not in body and b"c@d.com" not in body
    assert b"(3, NULL, 'Cy')" in body
    st = audit["tables"]["public.t"]
    assert st["rows"] == 3 and st["columns"]["email"]["changed"] == 2 and st["columns"]["email"]["nulls"] == 1
    # keep on every column: identical
    out2, _ = run(dump, rules(("t", {"id": "keep", "email": "keep", "name": "keep"})))
    assert out2 == dump


def test_insert_e_string_escapes_decode_before_masking():
    # E'\x41\101' == 'AA' in PostgreSQL: the same value, so the same masked output
    dump = INS_TABLE + (b"INSERT INTO public.t VALUES (1, E'\\x41\\101', 'n');\n"
                        b"INSERT INTO public.t VALUES (2, 'AA', 'n');\n"
                        b"INSERT INTO public.t VALUES (3, E'it\\'s', 'n');\n"
                        b"INSERT INTO public.t VALUES (4, 'it''s', 'n');\n")
    out, _ = run(dump, rules(("t", {"email": "hash"})))
    vals = [literal_decode(m).value for m in re.findall(rb"VALUES \(\d, ('[^']*'|E'[^']*')", out)]
    assert len(vals) == 4
    assert vals[0] == vals[1] and vals[2] == vals[3] and vals[0] != vals[2]
    assert literal_decode(b"E'a\\nb\\\\c\\'d'").value == "a\nb\\c'd"
    assert literal_decode(b"'a\\nb'").value == "a\\nb"   # standard_conforming_strings: backslash is plain


def test_insert_e_string_unmasked_column_passes_byte_for_byte():
    dump = INS_TABLE + b"INSERT INTO public.t VALUES (1, 'x', E'tab\\there\\nnl \\\\ \\'q\\'');\n"
    out, _ = run(dump, rules(("t", {"email": "static:y"})))
    assert out == dump.replace(b"'x'", b"'y'")


def test_insert_quote_in_masked_value_is_doubled():
    dump = INS_TABLE + b"INSERT INTO public.t VALUES (1, 'x', 'n');\n"
    doc = {"tables": [{"tableName": "t", "columnMutations": [{"column": "email", "mutation": "static:O'Brien\\"}]}]}
    out, _ = run(dump, doc)
    assert out.endswith(b"(1, 'O''Brien\\', 'n');\n")


# --------------------------------------------------------------------------- identifiers

def test_quoted_identifiers_uppercase_spaces_reserved_word():
    ddl = HEADER + (b'CREATE TABLE "Sales"."Order Items" (\n    id integer NOT NULL,\n    "select" text,\n'
                    b'    "Email" text,\n    email text\n);\n\n')
    dump = ddl + (b'COPY "Sales"."Order Items" (id, "select", "Email", email) FROM stdin;\n'
                  b"1\tSEL\tUPPER\tlower\n\\.\n"
                  b'INSERT INTO "Sales"."Order Items" (id, "select", "Email", email) VALUES (2, \'SEL\', \'UPPER\', \'lower\');\n')
    doc = rules(('"Sales"."Order Items"', {'"select"': "static:S", '"Email"': "static:E"}))
    out, audit = run(dump, doc)
    assert copy_block(out, b'COPY "Sales"') == [[b"1", b"S", b"E", b"lower"]]
    assert out.endswith(b"VALUES (2, 'S', 'E', 'lower');\n")
    assert audit["tables"]["Sales.Order Items"]["rows"] == 2
    assert audit["unmatched_rules"] == []


def test_unquoted_rule_name_folds_to_lower_case_like_postgres():
    dump = HEADER + (b'CREATE TABLE public."Customer" (\n    id integer,\n    n text\n);\n\n'
                     b"CREATE TABLE public.customer (\n    id integer,\n    n text\n);\n\n"
                     b'COPY public."Customer" (id, n) FROM stdin;\n1\tUP\n\\.\n'
                     b"COPY public.customer (id, n) FROM stdin;\n1\tlow\n\\.\n")
    out, _ = run(dump, rules(("Customer", {"n": "static:X"})))   # unquoted: means customer
    assert copy_block(out, b'COPY public."Customer"') == [[b"1", b"UP"]]
    assert copy_block(out, b"COPY public.customer") == [[b"1", b"X"]]
    out, _ = run(dump, rules(('"Customer"', {"n": "static:X"})))  # quoted: exact
    assert copy_block(out, b'COPY public."Customer"') == [[b"1", b"X"]]
    assert copy_block(out, b"COPY public.customer") == [[b"1", b"low"]]


def test_schema_qualified_rule_matches_only_that_schema():
    dump = HEADER + (b"CREATE TABLE a.t (\n    id integer,\n    n text\n);\n\n"
                     b"CREATE TABLE b.t (\n    id integer,\n    n text\n);\n\n"
                     b"COPY a.t (id, n) FROM stdin;\n1\tA\n\\.\n"
                     b"COPY b.t (id, n) FROM stdin;\n1\tB\n\\.\n")
    out, _ = run(dump, rules(("b.t", {"n": "static:X"})))
    assert copy_block(out, b"COPY a.t") == [[b"1", b"A"]]
    assert copy_block(out, b"COPY b.t") == [[b"1", b"X"]]
    out, _ = run(dump, rules(("t", {"n": "static:X"})))   # bare: any schema
    assert copy_block(out, b"COPY a.t") == [[b"1", b"X"]]
    assert copy_block(out, b"COPY b.t") == [[b"1", b"X"]]


# --------------------------------------------------------------------------- statements that are not data

FUNC = (b"CREATE FUNCTION public.f() RETURNS text\n    LANGUAGE plpgsql\n    AS $_$\nBEGIN\n"
        b"  -- it's; a \"comment\" inside the body\n"
        b"  EXECUTE 'COPY public.t (id, a, b) FROM stdin;';\n"
        b"COPY public.t (id, a, b) FROM stdin;\n"
        b"9\tnot\tdata\n\\.\n"
        b"  RETURN 'a;b''c' || E'\\n' || $x$ ; ' $x$;\nEND;\n$_$;\n\n")


def test_dollar_quoted_function_body_with_semicolons_quotes_and_copy_text_passes_through():
    dump = col_table() + FUNC + b"COPY public.t (id, a, b) FROM stdin;\n1\tx\ty\n\\.\n"
    out, audit = run(dump, rules(("t", {"a": "static:M"})))
    assert FUNC in out, "the function body was altered"
    assert copy_block(out, b"COPY public.t (id, a, b) FROM stdin;\n1") == [[b"1", b"M", b"y"]]
    assert out == dump.replace(b"1\tx\ty\n", b"1\tM\ty\n")
    assert audit["tables"]["public.t"]["rows"] == 1  # the body's lines were not counted as rows


def test_comments_line_and_nested_block_pass_through():
    comments = (b"-- a line comment with ' and ; and COPY public.t (id, a, b) FROM stdin;\n"
                b"/* outer /* inner ' ; */ still inside ; \" */\n"
                b"SELECT 1 /* trailing ; ' */; -- after ;\n\n")
    dump = col_table() + comments + b"COPY public.t (id, a, b) FROM stdin;\n1\tx\ty\n\\.\n"
    out, audit = run(dump, rules(("t", {"b": "static:M"})))
    assert out == dump.replace(b"1\tx\ty\n", b"1\tx\tM\n")
    assert audit["tables"]["public.t"]["rows"] == 1


def test_psql_meta_commands_restrict_unrestrict_connect_pass_through():
    dump = (HEADER + b"\\restrict AbC123xyz\n\n" + col_table()[len(HEADER):] + b"\\connect - postgres\n"
            b"COPY public.t (id, a, b) FROM stdin;\n1\tx\ty\n\\.\n\n\\unrestrict AbC123xyz\n")
    out, audit = run(dump, rules(("t", {"a": "static:M"})))
    assert out == dump.replace(b"1\tx\ty\n", b"1\tM\ty\n")
    assert sum(v for k, v in audit["passthrough"].items() if "meta" in k.lower()) == 3


# --------------------------------------------------------------------------- schema quirks

GEN = col_table(cols="id integer NOT NULL,\n    name text,\n    total integer GENERATED ALWAYS AS ((id * 2)) STORED,\n"
                     "    email text,\n    note text")


def test_generated_column_absent_from_copy_list_rules_hit_right_positions():
    dump = GEN + (b"COPY public.t (id, name, email, note) FROM stdin;\n1\tAnn\ta@b.com\tkeepme\n\\.\n"
                  b"INSERT INTO public.t (id, name, email, note) VALUES (2, 'Bob', 'c@d.com', 'keep2');\n")
    out, _ = run(dump, rules(("t", {"email": "static:E", "note": "keep"})))
    assert copy_block(out, b"COPY public.t") == [[b"1", b"Ann", b"E", b"keepme"]]
    assert out.endswith(b"VALUES (2, 'Bob', 'E', 'keep2');\n")


def test_generated_column_rule_is_reported_not_applied():
    dump = GEN + b"COPY public.t (id, name, email, note) FROM stdin;\n1\tAnn\ta@b.com\tn\n\\.\n"
    out, audit = run(dump, rules(("t", {"total": "static:5"})))
    assert out == dump
    assert any("total" in (u.get("column") or "") for u in audit["unmatched_rules"])
    assert any("generated" in w for w in audit["warnings"])


def test_partition_rule_on_parent_applies_to_partition_data():
    dump = HEADER + (b"CREATE TABLE public.payment (\n    payment_id integer NOT NULL,\n    email text,\n"
                     b"    payment_date date NOT NULL\n)\nPARTITION BY RANGE (payment_date);\n\n"
                     b"CREATE TABLE public.payment_p2022 (\n    payment_id integer NOT NULL,\n    email text,\n"
                     b"    payment_date date NOT NULL\n);\n\n"
                     b"ALTER TABLE ONLY public.payment ATTACH PARTITION public.payment_p2022 "
                     b"FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');\n\n"
                     b"COPY public.payment_p2022 (payment_id, email, payment_date) FROM stdin;\n"
                     b"1\tsecret@mail.com\t2022-02-01\n\\.\n\n"
                     b"INSERT INTO public.payment_p2022 VALUES (2, 'other@mail.com', '2022-03-01');\n")
    out, audit = run(dump, rules(("payment", {"email": "static:X"})))
    assert b"secret@mail.com" not in out and b"other@mail.com" not in out
    assert copy_block(out, b"COPY public.payment_p2022") == [[b"1", b"X", b"2022-02-01"]]
    assert out.endswith(b"VALUES (2, 'X', '2022-03-01');\n")
    assert audit["unmatched_rules"] == []


# --------------------------------------------------------------------------- bytes

def test_crlf_line_endings_preserved():
    dump = (HEADER + b"CREATE TABLE public.t (\r\n    id integer,\r\n    a text,\r\n    b text\r\n);\r\n\r\n"
            b"COPY public.t (id, a, b) FROM stdin;\r\n1\tx\ty\r\n2\t\\N\tz\r\n\\.\r\n"
            b"INSERT INTO public.t VALUES (3, 'x', 'w');\r\n")
    out, audit = run(dump, rules(("t", {"a": "static:M"})))
    assert out == dump.replace(b"1\tx\ty\r\n", b"1\tM\ty\r\n").replace(b"2\t\\N\tz", b"2\tM\tz").replace(b"(3, 'x'", b"(3, 'M'")
    assert audit["tables"]["public.t"]["rows"] == 3


def test_unicode_u2028_in_masked_and_unmasked_values():
    u = "caf\u00e9\u2028line\u2029\U0001F600".encode()
    dump = col_table() + (b"COPY public.t (id, a, b) FROM stdin;\n1\t" + u + b"\t" + u + b"\n\\.\n"
                          b"INSERT INTO public.t VALUES (2, '" + u + b"', '" + u + b"');\n")
    out, _ = run(dump, rules(("t", {"a": "faker.email"})))
    rows = copy_block(out, b"COPY public.t")
    assert rows[0][2] == u                      # unmasked: identical bytes
    assert rows[0][1] != u and u not in rows[0][1]
    ins = out[out.index(b"INSERT"):]
    assert ins.endswith(b", '" + u + b"');\n") and ins.count(u) == 1
    # the same value masked through COPY and through INSERT gives the same fake
    assert b"'" + rows[0][1] + b"'" in ins
    # static values with U+2028 are written as is (no escaping in COPY text)
    out, _ = run(dump, {"tables": [{"tableName": "t", "columnMutations": [{"column": "a", "mutation": "static:x\u2028y"}]}]})
    assert copy_block(out, b"COPY public.t")[0][1] == "x\u2028y".encode()


def test_invalid_utf8_bytes_in_unmasked_columns_pass_through():
    dump = col_table() + b"COPY public.t (id, a, b) FROM stdin;\n1\t\xff\xfe\\x80\tq\n\\.\n"
    out, _ = run(dump, rules(("t", {"b": "static:M"})))
    assert out == dump.replace(b"\tq\n", b"\tM\n")


@pytest.mark.parametrize("name", ["pg_dump-copy.sql", "pg_dump-inserts.sql", "pg_dump-schema-only.sql",
                                  "pagila-schema.sql", "pagila-data.sql", "pagila-schema-jsonb.sql"])
def test_pagila_passthrough_identity_with_empty_rules(datasets, name):
    path = datasets / "pagila" / name
    data = path.read_bytes()
    out = io.BytesIO()
    mask(io.BytesIO(data), out, rules=load_rules(str(Path(__file__).parent / "golden" / "empty-rules.json")), key=KEY)
    assert out.getvalue() == data


def test_pagila_every_dataset_file_is_covered(datasets):
    tested = {"pg_dump-copy.sql", "pg_dump-inserts.sql", "pg_dump-schema-only.sql",
              "pagila-schema.sql", "pagila-data.sql", "pagila-schema-jsonb.sql"}
    assert {p.name for p in (datasets / "pagila").glob("*.sql")} <= tested


# --------------------------------------------------------------------------- errors

def test_truncated_copy_block_raises_with_line():
    dump = col_table() + b"COPY public.t (id, a, b) FROM stdin;\n1\tx\ty\n"
    n = dump.count(b"\n")
    with pytest.raises(DumpSyntaxError) as ei:
        run(dump, rules(("t", {"a": "static:M"})))
    assert ei.value.line == n


def test_null_rule_on_not_null_column_raises_rules_error():
    dump = col_table() + b"COPY public.t (id, a, b) FROM stdin;\n1\tx\ty\n\\.\n"
    with pytest.raises(RulesError, match="NOT NULL"):
        run(dump, rules(("t", {"id": "null"})))


# --------------------------------------------------------------------------- determinism & properties

def test_same_email_in_two_tables_gets_same_fake():
    dump = HEADER + (b"CREATE TABLE public.customer (\n    id integer,\n    email text\n);\n\n"
                     b"CREATE TABLE public.staff (\n    id integer,\n    email text\n);\n\n"
                     b"COPY public.customer (id, email) FROM stdin;\n1\talice@example.com\n2\tbob@example.com\n\\.\n"
                     b"INSERT INTO public.staff VALUES (7, 'alice@example.com');\n")
    doc = rules(("customer", {"email": "faker.email"}), ("staff", {"email": "faker.email"}))
    out, _ = run(dump, doc)
    rows = copy_block(out, b"COPY public.customer")
    staff = re.search(rb"VALUES \(7, '([^']*)'\)", out).group(1)
    assert staff == rows[0][1] != b"alice@example.com"
    assert rows[1][1] != rows[0][1]
    out2, _ = run(dump, doc)
    assert out2 == out
    out3, _ = run(dump, doc, key=Key(OTHER_KEY))
    assert copy_block(out3, b"COPY public.customer")[0][1] != rows[0][1]


def test_faker_email_and_username_unique_for_distinct_inputs():
    n = 3000
    body = b"".join(b"%d\tuser%d@corp.example\tu%d\n" % (i, i, i) for i in range(n))
    dump = col_table(cols="id integer,\n    a text,\n    b text") + b"COPY public.t (id, a, b) FROM stdin;\n" + body + b"\\.\n"
    out, _ = run(dump, rules(("t", {"a": "faker.email", "b": "faker.userName"})))
    rows = copy_block(out, b"COPY public.t")
    assert len(rows) == n
    assert len({r[1] for r in rows}) == n
    assert len({r[2] for r in rows}) == n


@pytest.mark.parametrize("mutation", ["faker.email", "faker.name", "faker.firstName", "faker.lastName", "faker.phone",
                                      "faker.address", "faker.company", "faker.text", "faker.userName", "faker.city",
                                      "faker.postcode", "faker.url", "hash"])
def test_values_fit_varchar_n(mutation):
    body = b"".join(b"%d\tsomebody.with.a.long.name%d@mail.example.org\n" % (i, i) for i in range(200))
    dump = (HEADER + b"CREATE TABLE public.v (\n    id integer NOT NULL,\n    c character varying(10)\n);\n\n"
            b"COPY public.v (id, c) FROM stdin;\n" + body + b"\\.\n")
    out, _ = run(dump, rules(("v", {"c": mutation})))
    rows = copy_block(out, b"COPY public.v")
    assert len(rows) == 200
    for r in rows:
        v = copy_decode(r[1])
        assert v is not None and len(v) <= 10, (mutation, v)
    ins = (HEADER + b"CREATE TABLE public.v (\n    id integer NOT NULL,\n    c varchar(6)\n);\n\n"
           b"INSERT INTO public.v VALUES (1, 'abcdef'), (2, 'ghijkl');\n")
    out, _ = run(ins, rules(("v", {"c": mutation})))
    for m in re.findall(rb"\(\d, ('(?:[^']|'')*')\)", out):
        assert len(literal_decode(m).value) <= 6, (mutation, m)


# --------------------------------------------------------------------------- golden cases

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir() if (p / "input.sql").exists()))
def test_golden_case(case):
    """tests/golden/<case>/{input.sql, rules.json, expected.sql}; expected written by hand
    (static values only, so no fake value is copied from the tool)."""
    d = GOLDEN / case
    out = io.BytesIO()
    mask(io.BytesIO((d / "input.sql").read_bytes()), out, rules=load_rules(str(d / "rules.json")), key=KEY)
    assert out.getvalue() == (d / "expected.sql").read_bytes()


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from([b"\n", b"\\", b".", b"\r", b"a", b"\\."])).map(b"".join))
def test_copy_terminator_search_finds_the_first_terminator_line(window):
    from dumpmask.dialects.postgres import _find_terminator

    starts = [i + 1 for i in range(len(window)) if window.startswith((b"\n\\.\n", b"\n\\.\r\n"), i)]
    assert _find_terminator(window) == (starts[0] if starts else -1)
