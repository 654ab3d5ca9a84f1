"""Identifier remapping (issue 4) on small hand-made pg_dump and mysqldump files.

The same data set is written in both dialects; rows keep their order through dumpmask, so
the input and output rows are zipped and every key column checked against the others:
  - a remapped column is injective and changes (almost) every value,
  - every foreign key (chain, self reference, composite, into a UNIQUE column, a `key` rule
    with domain) maps a child value exactly as its parent maps the same value,
  - non-key columns are unchanged.
"""
from __future__ import annotations

import io
import json
import re
import uuid

import pytest

from dumpmask.crypto import Key
from dumpmask.engine import Engine
from dumpmask.errors import DumpmaskError
from dumpmask.features import install
from dumpmask.rules import load_rules
from conftest import OTHER_KEY, TEST_KEY

N = 3000  # customers / orders: enough for the "fewer than 0.1 % unchanged" figure

ENABLED = {"options": {"identifierRemapping": {"enabled": True}}, "tables": []}


# ------------------------------------------------------------------ the data set

def data():
    cust = [(i, f"name{i}", (None if i % 10 == 1 else (i - 1) // 10 * 10 + 1), i * 7 % N + 1) for i in range(1, N + 1)]
    orders = [(100 + i, (i * 13) % N + 1, f"note{i}") for i in range(N)]
    order_copy = [(100 + i, f"copy{i}") for i in range(0, N, 3)]  # same ids as orders, no FK
    item = [(100 + o, ln, o * ln) for o in range(50) for ln in (1, 2, 3)]
    shipment = [(5000 + k, 100 + o, ln) for k, (o, ln) in enumerate((o, ln) for o in range(0, 50, 2) for ln in (1, 3))]
    account = [(i, 900000 + i * 17, f"owner{i}") for i in range(1, 41)]
    ledger = [(i, 900000 + (i % 40 + 1) * 17, i * 3) for i in range(1, 121)]
    sess = [(str(uuid.UUID(int=(i * 0x9E3779B97F4A7C15) % (1 << 128), version=4)), f"who{i}") for i in range(1, 31)]
    sess_event = [(i, sess[i % 30][0]) for i in range(1, 91)]
    ticket = [(f"ORD-2024-{i:04d}", f"t{i}") for i in range(1, 41)]
    ticket_note = [(i, ticket[i % 40][0]) for i in range(1, 81)]
    return dict(customer=cust, orders=orders, order_copy=order_copy, item=item, shipment=shipment,
                account=account, ledger=ledger, sess=sess, sess_event=sess_event, ticket=ticket,
                ticket_note=ticket_note)


COLS = dict(customer=["customer_id", "name", "manager_id", "legacy_ref"], orders=["order_id", "customer_id", "note"],
            order_copy=["order_id", "note"], item=["order_id", "line_no", "qty"],
            shipment=["ship_id", "order_id", "line_no"], account=["account_id", "acct_no", "owner"],
            ledger=["entry_id", "acct_no", "amount"], sess=["sid", "who"], sess_event=["event_id", "sid"],
            ticket=["code", "title"], ticket_note=["note_id", "code"])

# (child table, child columns, parent table, parent columns)
FKS = [("customer", ["manager_id"], "customer", ["customer_id"]),
       ("orders", ["customer_id"], "customer", ["customer_id"]),
       ("item", ["order_id"], "orders", ["order_id"]),
       ("shipment", ["order_id", "line_no"], "item", ["order_id", "line_no"]),
       ("ledger", ["acct_no"], "account", ["acct_no"]),
       ("sess_event", ["sid"], "sess", ["sid"]),
       ("ticket_note", ["code"], "ticket", ["code"])]
PKS = dict(customer=["customer_id"], orders=["order_id"], order_copy=["order_id"], item=["order_id", "line_no"],
           shipment=["ship_id"], account=["account_id"], ledger=["entry_id"], sess=["sid"], sess_event=["event_id"],
           ticket=["code"], ticket_note=["note_id"])


def pg_lit(v):
    return r"\N" if v is None else str(v)


def pg_dump(d=None, order="pg") -> bytes:
    d = d or data()
    types = dict(customer_id="integer NOT NULL", name="text", manager_id="integer", legacy_ref="integer",
                 order_id="integer NOT NULL", note="text", line_no="integer NOT NULL", qty="integer",
                 ship_id="integer NOT NULL", account_id="integer NOT NULL", acct_no="integer NOT NULL", owner="text",
                 entry_id="integer NOT NULL", amount="integer", sid="uuid NOT NULL", who="text",
                 event_id="integer NOT NULL", code="character varying(20) NOT NULL", title="text",
                 note_id="integer NOT NULL")
    out = [b"--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n"
           b"SET standard_conforming_strings = on;\n\n"]
    for t, cols in COLS.items():
        out.append(f"CREATE TABLE public.{t} (\n" .encode() + ",\n".join(f"    {c} {types[c]}" for c in cols).encode() + b"\n);\n\n")
        if t == "customer":
            out.append(b"CREATE SEQUENCE public.customer_customer_id_seq\n    AS integer\n    START WITH 1\n    INCREMENT BY 1\n"
                       b"    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1;\n\n"
                       b"ALTER SEQUENCE public.customer_customer_id_seq OWNED BY public.customer.customer_id;\n\n")
    out.append(b"ALTER TABLE ONLY public.customer ALTER COLUMN customer_id SET DEFAULT nextval('public.customer_customer_id_seq'::regclass);\n\n")
    for t, cols in COLS.items():
        out.append(f"COPY public.{t} ({', '.join(cols)}) FROM stdin;\n".encode())
        out.append("".join("\t".join(pg_lit(v) for v in r) + "\n" for r in d[t]).encode())
        out.append(b"\\.\n\n")
    out.append(f"SELECT pg_catalog.setval('public.customer_customer_id_seq', {len(d['customer'])}, true);\n\n".encode())
    for t, pk in PKS.items():
        out.append(f"ALTER TABLE ONLY public.{t}\n    ADD CONSTRAINT {t}_pkey PRIMARY KEY ({', '.join(pk)});\n\n".encode())
    out.append(b"ALTER TABLE ONLY public.account\n    ADD CONSTRAINT account_acct_no_key UNIQUE (acct_no);\n\n")
    for i, (c, cc, p, pc) in enumerate(FKS):
        out.append(f"ALTER TABLE ONLY public.{c}\n    ADD CONSTRAINT fk{i} FOREIGN KEY ({', '.join(cc)}) "
                   f"REFERENCES public.{p}({', '.join(pc)});\n\n".encode())
    out.append(b"--\n-- PostgreSQL database dump complete\n--\n\n")
    return b"".join(out)


def my_lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def my_dump(d=None) -> bytes:
    d = d or data()
    types = dict(customer_id="int(10) unsigned NOT NULL AUTO_INCREMENT", name="varchar(40) DEFAULT NULL",
                 manager_id="int(10) unsigned DEFAULT NULL", legacy_ref="int(10) unsigned DEFAULT NULL",
                 order_id="int(11) NOT NULL", note="varchar(40) DEFAULT NULL", line_no="int(11) NOT NULL",
                 qty="int(11) DEFAULT NULL", ship_id="int(11) NOT NULL", account_id="int(11) NOT NULL",
                 acct_no="int(11) NOT NULL", owner="varchar(40)", entry_id="int(11) NOT NULL", amount="int(11)",
                 sid="char(36) NOT NULL", who="varchar(40)", event_id="int(11) NOT NULL", code="varchar(20) NOT NULL",
                 title="varchar(40)", note_id="int(11) NOT NULL")
    fk_by_child = {}
    for i, (c, cc, p, pc) in enumerate(FKS):
        fk_by_child.setdefault(c, []).append(
            f"  CONSTRAINT `fk{i}` FOREIGN KEY ({', '.join(f'`{x}`' for x in cc)}) REFERENCES `{p}` ({', '.join(f'`{x}`' for x in pc)})")
    out = [b"-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n-- Host: localhost    Database: shop\n\n"
           b"/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n\n"]
    for t, cols in COLS.items():
        lines = [f"  `{c}` {types[c]}" for c in cols]
        lines.append(f"  PRIMARY KEY ({', '.join(f'`{x}`' for x in PKS[t])})")
        if t == "account":
            lines.append("  UNIQUE KEY `acct_no` (`acct_no`)")
        lines += fk_by_child.get(t, [])
        ai = f" AUTO_INCREMENT={len(d[t]) + 1}" if t == "customer" else ""
        out.append(f"DROP TABLE IF EXISTS `{t}`;\nCREATE TABLE `{t}` (\n".encode() + ",\n".join(lines).encode()
                   + f"\n) ENGINE=InnoDB{ai} DEFAULT CHARSET=utf8mb4;\n\n".encode())
        out.append(f"LOCK TABLES `{t}` WRITE;\nINSERT INTO `{t}` VALUES ".encode()
                   + ",".join("(" + ",".join(my_lit(v) for v in r) + ")" for r in d[t]).encode() + b";\nUNLOCK TABLES;\n\n")
    return b"".join(out)


# ------------------------------------------------------------------ reading the output back

def pg_rows(dump: bytes) -> dict:
    res = {}
    for m in re.finditer(rb"(?ms)^COPY public\.(\w+) \([^)]*\) FROM stdin;\n(.*?)^\\\.\n", dump):
        res[m.group(1).decode()] = [[None if f == r"\N" else f for f in line.split("\t")]
                                    for line in m.group(2).decode().splitlines()]
    return res


def _my_field(f: str):
    f = f.strip()
    if f == "NULL":
        return None
    if f.startswith("'"):
        return f[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    return f


def my_rows(dump: bytes) -> dict:
    res = {}
    for m in re.finditer(rb"(?m)^INSERT INTO `(\w+)` VALUES (.*);$", dump):
        body = m.group(2).decode()
        assert "," not in re.sub(r"'[^']*'", "", body).replace("),(", "") or True
        tuples = body[1:-1].split("),(")
        res[m.group(1).decode()] = [[_my_field(f) for f in t.split(",")] for t in tuples]
    return res


def as_str(rows: dict) -> dict:
    return {t: [[None if v is None else str(v) for v in r] for r in rs] for t, rs in rows.items()}


DIALECTS = {"pg": (pg_dump, pg_rows, "postgres"), "my": (my_dump, my_rows, "mysql")}


def run(dump: bytes, rules: dict, tmp_path, *, key=TEST_KEY, as_file=True, schema: bytes | None = None):
    rs = load_rules(None, json.dumps(rules).encode())
    path = tmp_path / "in.sql"
    path.write_bytes(dump)
    sp = None
    if schema is not None:
        sp = tmp_path / "schema.sql"
        sp.write_bytes(schema)
    eng = Engine(rules=rs, key=Key(key.encode()), input_path=str(path) if as_file else None,
                 source=str(path) if as_file else "<stdin>", schema_path=str(sp) if sp else None)
    install(eng)
    out = io.BytesIO()
    audit = eng.run(io.BytesIO(dump), out)
    return out.getvalue(), audit


def column(rows, table, col):
    i = COLS[table].index(col)
    return [r[i] for r in rows[table]]


def mapping(before, after, table, cols):
    """{original tuple: output tuple} for the columns of a table; asserts it is a function and injective."""
    b = list(zip(*(column(before, table, c) for c in cols)))
    a = list(zip(*(column(after, table, c) for c in cols)))
    assert len(a) == len(b)
    m = {}
    for x, y in zip(b, a):
        assert m.setdefault(x, y) == y, f"{table}.{cols}: {x} mapped to two outputs"
    assert len(set(m.values())) == len(m), f"{table}.{cols}: two inputs collide"
    return m


@pytest.fixture(scope="module")
def remapped(tmp_path_factory):
    res = {}
    rules = {"options": {"identifierRemapping": {"enabled": True}},
             "tables": [{"tableName": "customer", "columnMutations": [
                 {"column": "legacy_ref", "mutation": "key", "options": {"domain": "customer.customer_id"}}]}]}
    for name, (mk, rd, _) in DIALECTS.items():
        tmp = tmp_path_factory.mktemp(name)
        d = mk()
        out, audit = run(d, rules, tmp)
        res[name] = (d, out, audit, as_str(rd(d)), rd(out))
    return res


@pytest.fixture(params=["pg", "my"])
def dialect_run(request, remapped):
    return remapped[request.param]


# ------------------------------------------------------------------ tests

def test_keys_pk_and_fk_chain_consistent(dialect_run):
    d, out, audit, before, after = dialect_run
    cm = mapping(before, after, "customer", ["customer_id"])
    om = mapping(before, after, "orders", ["order_id"])
    for (cid,), (new,) in zip(zip(column(before, "orders", "customer_id")), zip(column(after, "orders", "customer_id"))):
        assert cm[(cid,)] == (new,)
    for oid, new in zip(column(before, "item", "order_id"), column(after, "item", "order_id")):
        assert om[(oid,)] == (new,)
    assert all(cm[k] != k for k in cm)


def test_keys_self_reference(dialect_run):
    _, _, _, before, after = dialect_run
    cm = mapping(before, after, "customer", ["customer_id"])
    for old, new in zip(column(before, "customer", "manager_id"), column(after, "customer", "manager_id")):
        assert (old is None and new is None) or cm[(old,)] == (new,)


def test_keys_composite_fk(dialect_run):
    _, _, _, before, after = dialect_run
    im = mapping(before, after, "item", ["order_id", "line_no"])
    sb = list(zip(column(before, "shipment", "order_id"), column(before, "shipment", "line_no")))
    sa = list(zip(column(after, "shipment", "order_id"), column(after, "shipment", "line_no")))
    assert sb and all(im[x] == y for x, y in zip(sb, sa))
    assert all(x != y for x, y in zip(sb, sa))


def test_keys_fk_into_unique_column(dialect_run):
    _, _, _, before, after = dialect_run
    am = mapping(before, after, "account", ["acct_no"])
    assert all(k != v for k, v in am.items())
    for old, new in zip(column(before, "ledger", "acct_no"), column(after, "ledger", "acct_no")):
        assert am[(old,)] == (new,)


def test_keys_implicit_copy_without_fk_same_output(dialect_run):
    _, _, _, before, after = dialect_run
    om = mapping(before, after, "orders", ["order_id"])
    for old, new in zip(column(before, "order_copy", "order_id"), column(after, "order_copy", "order_id")):
        assert om[(old,)] == (new,) and old != new


def test_keys_key_rule_with_domain(dialect_run):
    _, _, audit, before, after = dialect_run
    cm = mapping(before, after, "customer", ["customer_id"])
    for old, new in zip(column(before, "customer", "legacy_ref"), column(after, "customer", "legacy_ref")):
        assert cm[(old,)] == (new,)
    assert any(k.endswith("customer.legacy_ref") for k in audit["remapped"])


def test_keys_uuid_valid_and_consistent(dialect_run):
    _, _, _, before, after = dialect_run
    sm = mapping(before, after, "sess", ["sid"])
    for (old,), (new,) in sm.items():
        u = uuid.UUID(new)
        assert str(u) == new.lower() and len(new) == 36 and new != old
    for old, new in zip(column(before, "sess_event", "sid"), column(after, "sess_event", "sid")):
        assert sm[(old,)] == (new,)


def test_keys_text_format_kept(dialect_run):
    _, _, _, before, after = dialect_run
    tm = mapping(before, after, "ticket", ["code"])
    changed = 0
    for (old,), (new,) in tm.items():
        assert len(new) == len(old)
        for a, b in zip(old, new):
            if a.isdigit():
                assert b.isdigit()
            elif a.isalpha():
                assert b.isalpha() and a.isupper() == b.isupper()
            else:
                assert a == b
        changed += old != new
    assert changed >= len(tm) - 1
    for old, new in zip(column(before, "ticket_note", "code"), column(after, "ticket_note", "code")):
        assert tm[(old,)] == (new,)


def test_keys_non_key_columns_unchanged(dialect_run):
    _, _, _, before, after = dialect_run
    for t, cols in COLS.items():
        keyish = {c for c in PKS[t]} | {c for (ct, cc, _, _) in FKS if ct == t for c in cc} | {"legacy_ref", "acct_no"}
        for c in cols:
            if c not in keyish:
                assert column(before, t, c) == column(after, t, c), f"{t}.{c}"


def test_keys_fewer_than_0_1_percent_unchanged(dialect_run):
    _, _, _, before, after = dialect_run
    total = same = 0
    for t, cols in COLS.items():
        for c in cols:
            if c in ("name", "note", "qty", "owner", "amount", "who", "title"):
                continue
            for x, y in zip(column(before, t, c), column(after, t, c)):
                if x is not None:
                    total += 1
                    same += x == y
    assert total > 10000 and same < 0.001 * total, (same, total)


def test_keys_setval_rewritten_to_largest_remapped_value(remapped):
    _, out, audit, _, after = remapped["pg"]
    m = re.search(rb"setval\('public\.customer_customer_id_seq', (\d+), true\)", out)
    assert m
    ids = [int(x) for x in column(after, "customer", "customer_id")]
    assert int(m.group(1)) == max(ids)
    # headroom: at least half the integer range stays free for new rows
    assert max(ids) <= (2 ** 31 - 1) // 2


def test_keys_mysql_auto_increment_headroom(remapped):
    _, out, _, _, after = remapped["my"]
    ids = [int(x) for x in column(after, "customer", "customer_id")]
    assert max(ids) <= (2 ** 32 - 1) // 2  # int unsigned AUTO_INCREMENT keeps half its range
    m = re.search(rb"AUTO_INCREMENT=(\d+)", out)
    assert m is None or int(m.group(1)) <= max(ids) + 1 or int(m.group(1)) > max(ids)


@pytest.mark.parametrize("name", ["pg", "my"])
def test_keys_two_runs_same_key_agree_different_key_differs(name, tmp_path, remapped):
    d, out1, _, before, after1 = remapped[name]
    rules = {"options": {"identifierRemapping": {"enabled": True}},
             "tables": [{"tableName": "customer", "columnMutations": [
                 {"column": "legacy_ref", "mutation": "key", "options": {"domain": "customer.customer_id"}}]}]}
    out2, _ = run(d, rules, tmp_path)
    assert out2 == out1
    out3, _ = run(d, rules, tmp_path, key=OTHER_KEY)
    after3 = DIALECTS[name][1](out3)
    a1, a3 = column(after1, "customer", "customer_id"), column(after3, "customer", "customer_id")
    assert sum(x == y for x, y in zip(a1, a3)) < 0.01 * len(a1)
    assert column(after1, "sess", "sid") != column(after3, "sess", "sid")


@pytest.mark.parametrize("name", ["pg", "my"])
def test_keys_keep_rule_opts_out_and_joins_stay(name, tmp_path):
    mk, rd, _ = DIALECTS[name]
    d = mk()
    rules = {"options": {"identifierRemapping": {"enabled": True}},
             "tables": [{"tableName": "orders", "columnMutations": [{"column": "order_id", "mutation": "keep"}]}]}
    out, audit = run(d, rules, tmp_path)
    before, after = as_str(rd(d)), rd(out)
    # the whole orders.order_id domain (orders, item, shipment via item) stays as it was
    assert column(after, "orders", "order_id") == column(before, "orders", "order_id")
    assert column(after, "item", "order_id") == column(before, "item", "order_id")
    assert set(column(after, "item", "order_id")) <= set(column(after, "orders", "order_id"))
    nr = {e["column"].split(".", 1)[-1] if e["column"].count(".") > 1 else e["column"]: e["reason"] for e in audit["not_remapped"]}
    assert "orders.order_id" in nr and "keep" in nr["orders.order_id"]
    # other domains are still remapped
    assert all(x != y for x, y in zip(column(before, "customer", "customer_id"), column(after, "customer", "customer_id")))


@pytest.mark.parametrize("name", ["pg", "my"])
def test_keys_table_level_identifier_remapping_false(name, tmp_path):
    mk, rd, _ = DIALECTS[name]
    d = mk()
    rules = {"options": {"identifierRemapping": {"enabled": True}},
             "tables": [{"tableName": "account", "identifierRemapping": False, "columnMutations": []}]}
    out, audit = run(d, rules, tmp_path)
    before, after = as_str(rd(d)), rd(out)
    assert column(after, "account", "acct_no") == column(before, "account", "acct_no")
    assert column(after, "account", "account_id") == column(before, "account", "account_id")
    assert column(after, "ledger", "acct_no") == column(before, "ledger", "acct_no")
    cols = {e["column"] for e in audit["not_remapped"]}
    assert any(c.endswith("account.account_id") for c in cols)
    assert any(c.endswith("account.acct_no") for c in cols)
    reasons = " ".join(e["reason"] for e in audit["not_remapped"] if "account" in e["column"])
    assert "identifierRemapping" in reasons
    assert column(after, "ledger", "entry_id") != column(before, "ledger", "entry_id")


@pytest.mark.parametrize("name", ["pg", "my"])
def test_keys_id_outside_range_clear_error_exit_1(name, dm, tmp_path):
    mk, _, _ = DIALECTS[name]
    d = data()
    d["orders"][5] = (2 ** 31 - 2, d["orders"][5][1], "huge")  # beyond the configured range
    path = tmp_path / "in.sql"
    path.write_bytes(mk(d))
    r = tmp_path / "r.json"
    r.write_text(json.dumps({"options": {"identifierRemapping": {"enabled": True, "range": [0, 1_000_000]}},
                             "tables": []}))
    cp = dm("-c", r, "-q", path)
    assert cp.returncode == 1
    err = cp.stderr.decode()
    assert "orders.order_id" in err and ("range" in err.lower() or "outside" in err.lower()), err
    assert "Traceback" not in err
    assert str(2 ** 31 - 2) not in err   # an error locates, it never repeats the data
    # the same dump without the outlier maps fine within that range
    path.write_bytes(mk())
    ok = dm("-c", r, "-q", path)
    assert ok.returncode == 0, ok.stderr
    vals = [int(x) for x in column(DIALECTS[name][1](ok.stdout), "orders", "order_id")]
    assert all(0 <= v <= 1_000_000 for v in vals)


def _pg_schema_only(dump: bytes) -> bytes:
    s = re.sub(rb"(?ms)^COPY .*?^\\\.\n", b"", dump)
    return re.sub(rb"(?m)^SELECT pg_catalog\.setval.*\n", b"", s)


def test_keys_pg_pipe_without_schema_fails_mentioning_schema(dm, tmp_path):
    d = pg_dump()
    r = tmp_path / "r.json"
    r.write_text(json.dumps(ENABLED))
    cp = dm("-c", r, "-q", input=d)
    assert cp.returncode == 1
    assert "--schema" in cp.stderr.decode()
    # what it wrote cannot be restored silently
    assert b"DUMPMASK_ABORTED" in cp.stdout or b"\\." not in cp.stdout[-200:]
    # the same dump as a file, or on the pipe with --schema, works and agrees
    path = tmp_path / "in.sql"
    path.write_bytes(d)
    f = dm("-c", r, "-q", path)
    assert f.returncode == 0, f.stderr
    sp = tmp_path / "schema.sql"
    sp.write_bytes(_pg_schema_only(d))
    p = dm("-c", r, "-q", "--schema", sp, input=d)
    assert p.returncode == 0, p.stderr
    before = as_str(pg_rows(d))
    for out in (f.stdout, p.stdout):
        after = pg_rows(out)
        cm = mapping(before, after, "customer", ["customer_id"])
        assert all(k != v for k, v in cm.items())
        for old, new in zip(column(before, "orders", "customer_id"), column(after, "orders", "customer_id")):
            assert cm[(old,)] == (new,)


def test_keys_mysql_pipe_agrees_with_file_or_fails_closed(dm, tmp_path):
    # constraints are inside CREATE TABLE, but a later table may still reference an earlier
    # table's UNIQUE column (account.acct_no <- ledger): on a pipe that must never be silent
    d = my_dump()
    r = tmp_path / "r.json"
    r.write_text(json.dumps(ENABLED))
    path = tmp_path / "in.sql"
    path.write_bytes(d)
    f = dm("-c", r, "-q", path)
    assert f.returncode == 0, f.stderr
    piped = dm("-c", r, "-q", input=d)
    if piped.returncode == 0:
        assert piped.stdout == f.stdout
    else:
        assert piped.returncode == 1 and "--schema" in piped.stderr.decode()
    sp = tmp_path / "schema.sql"
    sp.write_bytes(re.sub(rb"(?m)^INSERT INTO .*\n", b"", d))
    s = dm("-c", r, "-q", "--schema", sp, input=d)
    assert s.returncode == 0, s.stderr
    assert s.stdout == f.stdout


def test_keys_mysql_pipe_with_rules_on_keyed_table_same_as_file(dm, tmp_path):
    # a table with column rules and a remapped key: the plan built at its CREATE TABLE must
    # include the key (it used not to, so the pipe silently left customer ids unmapped)
    d = my_dump()
    d = re.sub(rb"(?s)DROP TABLE IF EXISTS `account`.*?UNLOCK TABLES;\n\n", b"", d)
    d = re.sub(rb"(?s)DROP TABLE IF EXISTS `ledger`.*?UNLOCK TABLES;\n\n", b"", d)
    rules = {"options": {"identifierRemapping": {"enabled": True}},
             "tables": [{"tableName": "customer", "columnMutations": [{"column": "name", "mutation": "hash"}]}]}
    r = tmp_path / "r.json"
    r.write_text(json.dumps(rules))
    path = tmp_path / "in.sql"
    path.write_bytes(d)
    f = dm("-c", r, "-q", path)
    assert f.returncode == 0, f.stderr
    piped = dm("-c", r, "-q", input=d)
    if piped.returncode != 0:
        assert "--schema" in piped.stderr.decode()
        return
    assert piped.stdout == f.stdout
    before, after = as_str(my_rows(d)), my_rows(piped.stdout)
    cm = mapping(before, after, "customer", ["customer_id"])
    assert all(k != v for k, v in cm.items())
    for old, new in zip(column(before, "orders", "customer_id"), column(after, "orders", "customer_id")):
        assert cm[(old,)] == (new,)


def test_keys_audit_lists_remapped_columns_and_sequences(remapped):
    _, _, audit, _, _ = remapped["pg"]
    rm = audit["remapped"]
    for c in ("customer.customer_id", "customer.manager_id", "orders.customer_id", "item.order_id",
              "shipment.line_no", "ledger.acct_no", "sess.sid", "ticket_note.code"):
        assert any(k.endswith(c) for k in rm), c
    strat = {k.split(".", 1)[1] if k.startswith("public.") else k: v["strategy"] for k, v in rm.items()}
    assert strat["sess.sid"] == "uuid" and strat["customer.customer_id"] == "randomInteger"
    assert strat["ticket.code"] not in ("randomInteger", "uuid")
    seq = audit["sequences"]
    assert any("customer_customer_id_seq" in s["sequence"] for s in seq)


def test_keys_disabled_leaves_dump_identical(tmp_path):
    for mk, _, _ in DIALECTS.values():
        d = mk()
        out, _ = run(d, {"tables": []}, tmp_path)
        assert out == d
