"""Partial transfer (issue 7; parents kept since issue 14) on real servers: Pagila (pg_dump
file) and Sakila (mariadb-dump file), --first 50 and --last 50, with masking and identifier
remapping on.

The masked subset is restored into a fresh database (psql ON_ERROR_STOP --single-transaction:
every foreign key is validated when it is added; mariadb); then
  - no table that had rows is empty (customer, staff, rental, payment were, before issue 14),
  - every table holds the rows the cut selected (at most 50) plus the rows added as parents,
    as the audit says, and the restored count is that sum,
  - no foreign key (read from the restored catalog) has an orphan row (a LEFT JOIN per FK),
  - pg: no constraint is left NOT VALID,
  - actor holds the first / last 50 rows of the dump (and the parents film_actor needs),
  - masked columns hold no source value.
"""
from __future__ import annotations

import json
import re

import pytest

from servers import ServerError
from test_subset import pg_dump as small_pg_dump
from test_subset import sql_tuples

MODES = ["first", "last"]


def rules_path(datasets, name):
    p = datasets.parent / "checks" / "rules" / name
    if not p.exists():
        pytest.fail(f"acceptance rules {p} missing")
    r = json.loads(p.read_text())
    assert r["options"]["identifierRemapping"]["enabled"] is True
    return p


def dump_copy_block(path, table) -> list[str]:
    """The data lines of `COPY public.<table>` in a pg_dump file."""
    text = path.read_text("utf-8")
    m = re.search(r"^COPY public\." + table + r" \([^)]*\) FROM stdin;\n(.*?)^\\\.\n", text, re.M | re.S)
    assert m, table
    return m.group(1).splitlines()


def dump_insert_rows(path, table) -> list[tuple]:
    text = path.read_bytes().decode("utf-8", "surrogateescape")  # blobs (staff.picture) are not UTF-8
    rows = []
    for m in re.finditer(r"^INSERT INTO `" + table + r"` VALUES\s*(.*?);\n", text, re.M | re.S):
        rows += sql_tuples(m.group(1))
    assert rows, table
    return rows


# --------------------------------------------------------------------------- PostgreSQL

@pytest.mark.parametrize("mode", MODES)
def test_pagila_subset_restores(pg_server, pagila_db, datasets, dm, tmp_path, mode):
    pg = pg_server
    src = datasets / "pagila" / "pg_dump-copy.sql"
    audit = tmp_path / "a.json"
    cp = dm("-q", "-c", rules_path(datasets, "pagila-keys.json"), f"--{mode}", "50", "--audit", audit, src)
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    out = tmp_path / "out.sql"
    out.write_bytes(cp.stdout)
    db = pg.createdb(f"subset_pagila_{mode}")
    try:
        pg.restore(db, out)  # -v ON_ERROR_STOP=1 --single-transaction -f out.sql
        tables = [r.split("\t") for r in pg.psql(db, "select schemaname, tablename from pg_tables where schemaname "
                                                     "not in ('pg_catalog', 'information_schema') order by 1, 2",
                                                 "-F", "\t").splitlines()]
        assert len(tables) >= 20 and ["public", "payment"] in tables
        counts = {f"{s}.{t}": pg.count(db, f'"{s}"."{t}"') for s, t in tables}
        a = json.loads(audit.read_text())
        assert a["status"] == "ok" and a["transfer_empty_tables"] == []
        for name, t in a["tables"].items():
            assert t["rows_selected"] == min(50, t["rows_read"]) or name.startswith("public.payment_p"), name
            assert t["rows_written"] == t["rows_selected"] + t["rows_added_as_parents"], name
            if name in counts:
                assert counts[name] == t["rows_written"], name
        # the payments are one partitioned table: 50 rows selected in all
        assert sum(t["rows_selected"] for n, t in a["tables"].items() if n.startswith("public.payment_p")) == 50
        for name in ("customer", "staff", "rental", "payment", "store", "address", "inventory"):
            assert counts[f"public.{name}"] > 0, name   # emptied by the cut before issue 14
        assert counts["public.customer"] > 50 and a["tables"]["public.customer"]["rows_added_as_parents"] > 0
        assert counts["public.category"] == 16 and counts["public.language"] == 6
        # every foreign key: no orphan (conparentid = 0: partitions' clones are checked through their parent)
        fks = [r.split("\t") for r in pg.psql(db, """select c.conname, c.conrelid::regclass, c.confrelid::regclass,
            (select string_agg(quote_ident(attname), ',' order by k.i) from unnest(c.conkey) with ordinality k(n,i)
               join pg_attribute on attrelid=c.conrelid and attnum=k.n),
            (select string_agg(quote_ident(attname), ',' order by k.i) from unnest(c.confkey) with ordinality k(n,i)
               join pg_attribute on attrelid=c.confrelid and attnum=k.n)
            from pg_constraint c where c.contype='f' order by 1""", "-F", "\t").splitlines()]
        assert len(fks) >= 20
        for name, child, parent, cc, pc in fks:
            cc, pc = cc.split(","), pc.split(",")
            on = " and ".join(f"c.{a} = p.{b}" for a, b in zip(cc, pc))
            notnull = " and ".join(f"c.{a} is not null" for a in cc)
            orphans = pg.scalar(db, f"select count(*) from {child} c left join {parent} p on {on} "
                                    f"where {notnull} and p.{pc[0]} is null")
            assert orphans == "0", f"fk {name} ({child} -> {parent}): {orphans} orphan rows"
        assert pg.scalar(db, "select count(*) from pg_constraint where not convalidated") == "0"
        # actor: the first / last 50 rows of the dump, and those film_actor's rows need (ids are remapped)
        lines = dump_copy_block(src, "actor")
        want = lines[:50] if mode == "first" else lines[-50:]
        want = sorted("\t".join(f.split("\t")[1:3]) for f in want)
        got = sorted(pg.psql(db, "select first_name, last_name from actor", "-F", "\t").splitlines())
        assert not set(want) - set(got) and len(got) == 50 + a["tables"]["public.actor"]["rows_added_as_parents"]
        # remapping: the kept actors' ids are not their source ids
        src_ids = {f.split("\t")[0] for f in lines}
        dst_ids = set(pg.psql(db, "select actor_id from actor").split())
        assert len(dst_ids) == len(got) and len(dst_ids & src_ids) <= len(got) // 10
        # masking: no customer or staff row kept carries a source email
        for t in ("customer", "staff"):
            src_emails = set(pg.psql(pagila_db, f"select email from {t} where email is not null").split())
            dst_emails = set(pg.psql(db, f"select email from {t} where email is not null").split())
            assert not (dst_emails & src_emails), t
        # the sequences stay past every kept key: new rows get fresh ids
        pg.psql(db, """BEGIN;
            INSERT INTO customer(store_id, first_name, last_name, address_id) SELECT store_id, 'x', 'y', address_id FROM customer LIMIT 1;
            INSERT INTO actor(first_name, last_name) VALUES ('x', 'y');
            INSERT INTO film(title, language_id) SELECT 'new film', language_id FROM film LIMIT 1;
            ROLLBACK;""")
        assert a["tables"]["public.actor"]["rows_read"] == 200
        assert a["tables"]["public.actor"]["rows_selected"] == 50
        assert a["tables"]["public.actor"]["transfer"] == f"{mode} 50"
        assert counts["public.customer"] == a["tables"]["public.customer"]["rows_written"]
    finally:
        pg.dropdb(db)


def test_small_pg_dump_and_subset_restore(pg_server, dm, tmp_path):
    """The hand-made dump of test_subset.py is a valid dump, and its --first / --last subsets restore."""
    p = tmp_path / "small.sql"
    p.write_bytes(small_pg_dump(meas_fk=True))
    db = pg_server.createdb("subset_small")
    try:
        pg_server.restore(db, p)
        assert pg_server.count(db, "meas") == 6 and pg_server.count(db, "t_a") == 5
        p.write_bytes(small_pg_dump())
        for mode in ("--first", "--last"):
            cp = dm("-q", mode, "3", p)
            assert cp.returncode == 0, cp.stderr.decode()
            pg_server.createdb(db)
            pg_server.restore(db, cp.stdout)
            assert pg_server.count(db, "t_a") == 4   # 3 and a parent
            assert pg_server.count(db, "meas") == 3
            assert pg_server.scalar(db, "select count(*) from pg_constraint where not convalidated") == "0"
    finally:
        pg_server.dropdb(db)


def test_small_pg_fk_on_partitioned_table_restores(pg_server, dm, tmp_path):
    p = tmp_path / "small.sql"
    p.write_bytes(small_pg_dump(meas_fk=True))
    cp = dm("-q", "--first", "3", p)
    assert cp.returncode == 0, cp.stderr.decode()
    db = pg_server.createdb("subset_small_fk")
    try:
        pg_server.restore(db, cp.stdout)  # the source restores: test_small_pg_dump_and_subset_restore
    finally:
        pg_server.dropdb(db)


# --------------------------------------------------------------------------- MariaDB

@pytest.mark.parametrize("mode", MODES)
def test_sakila_subset_restores(my_server, sakila_db, datasets, dm, tmp_path, mode):
    my = my_server
    src = datasets / "sakila" / "mariadb-dump-default.sql"
    audit = tmp_path / "a.json"
    cp = dm("-q", "-c", rules_path(datasets, "sakila-keys.json"), f"--{mode}", "50", "--audit", audit, src)
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    a = json.loads(audit.read_text())
    assert a["status"] == "ok" and a["transfer_empty_tables"] == []
    db = my.create(f"subset_sakila_{mode}")
    try:
        my.restore(db, cp.stdout)
        tables = my.sql(db, f"SELECT table_name FROM information_schema.tables WHERE table_schema='{db}' "
                            "AND table_type='BASE TABLE' ORDER BY 1").split()
        assert len(tables) >= 16
        counts = {t: my.count(db, t) for t in tables}
        by_name = {n.rsplit(".", 1)[-1]: t for n, t in a["tables"].items()}
        for name, n in counts.items():
            t = by_name[name]
            assert t["rows_selected"] == min(50, t["rows_read"]), name
            assert n == t["rows_written"] == t["rows_selected"] + t["rows_added_as_parents"], name
            assert n > 0 or not t["rows_read"], name
        assert counts["customer"] > 50 and counts["store"] > 0 and counts["staff"] > 0
        assert counts["category"] == 16 and counts["language"] == 6
        # FOREIGN_KEY_CHECKS was off during the restore: check every foreign key's rows here
        fks = my.sql(db, f"""SELECT constraint_name, table_name, referenced_table_name,
            group_concat(column_name ORDER BY ordinal_position), group_concat(referenced_column_name ORDER BY ordinal_position)
            FROM information_schema.key_column_usage WHERE table_schema='{db}' AND referenced_table_name IS NOT NULL
            GROUP BY constraint_name, table_name, referenced_table_name ORDER BY 1""").strip().splitlines()
        assert len(fks) >= 20
        for line in fks:
            name, child, parent, cc, pc = line.split("\t")
            cc, pc = cc.split(","), pc.split(",")
            on = " AND ".join(f"c.`{a}` = p.`{b}`" for a, b in zip(cc, pc))
            orphans = my.scalar(db, f"SELECT count(*) FROM `{child}` c LEFT JOIN `{parent}` p ON {on} WHERE "
                                    + " AND ".join(f"c.`{a}` IS NOT NULL" for a in cc) + f" AND p.`{pc[0]}` IS NULL")
            assert orphans == "0", f"fk {name} ({child} -> {parent}): {orphans} orphan rows"
        # actor: the first / last 50 rows of the dump and the parents film_actor needs (ids remapped; names unmasked)
        rows = dump_insert_rows(src, "actor")
        want = rows[:50] if mode == "first" else rows[-50:]
        got = sorted(tuple(r.split("\t")) for r in my.sql(db, "SELECT first_name, last_name FROM actor").splitlines())
        assert not {(r[1], r[2]) for r in want} - set(got) and len(got) == counts["actor"]
        # remapping: the kept actors' ids are not their source ids
        dst_ids = {int(x) for x in my.sql(db, "SELECT actor_id FROM actor").split()}
        assert len(dst_ids) == len(got) and len(dst_ids & {r[0] for r in rows}) <= len(got) // 10
        # masking: no customer or staff row kept carries a source email
        for t in ("customer", "staff"):
            src_emails = set(my.sql(sakila_db, f"SELECT email FROM {t} WHERE email IS NOT NULL").split())
            dst_emails = set(my.sql(db, f"SELECT email FROM {t} WHERE email IS NOT NULL").split())
            assert not (dst_emails & src_emails), t
        # with the checks on, new rows still fit (AUTO_INCREMENT past the remapped ids)
        my.sql(db, "SET FOREIGN_KEY_CHECKS=1; INSERT INTO actor(first_name, last_name) VALUES ('x', 'y'); "
                   "INSERT INTO film(title, language_id) SELECT 'new film', language_id FROM film LIMIT 1;")
    finally:
        my.drop(db)
