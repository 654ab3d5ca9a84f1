"""Identifier remapping on real servers: Pagila (pg_dump file) and Sakila (mariadb-dump).

After restore every constraint holds, row counts are equal, and for every foreign key the
multiset of (child non-key columns, parent non-key columns) pairs joined through it is the
same as in the source (masked columns left out): the joins mean the same thing.
"""
from __future__ import annotations

import hashlib
import json

import pytest

KEY_RULES = {"options": {"identifierRemapping": {"enabled": True, "strategy": "randomInteger"}},
             "tables": [
                 {"tableName": "customer", "columnMutations": [
                     {"column": "first_name", "mutation": "faker.firstName"},
                     {"column": "last_name", "mutation": "faker.lastName"},
                     {"column": "email", "mutation": "faker.email"}]},
                 {"tableName": "staff", "columnMutations": [
                     {"column": "email", "mutation": "faker.email"},
                     {"column": "username", "mutation": "faker.userName"},
                     {"column": "password", "mutation": "hash"}]}]}
MASKED = {("customer", "first_name"), ("customer", "last_name"), ("customer", "email"),
          ("staff", "email"), ("staff", "username"), ("staff", "password")}


def rules_file(tmp_path, datasets, name):
    shared = datasets.parent / "checks" / "rules" / name
    p = tmp_path / name
    p.write_text(shared.read_text() if shared.exists() else json.dumps(KEY_RULES))
    assert json.loads(p.read_text())["options"]["identifierRemapping"]["enabled"] is True
    return p


def digest(rows: list[str]) -> tuple[int, str]:
    return len(rows), hashlib.md5("\n".join(sorted(rows)).encode()).hexdigest()


# --------------------------------------------------------------------------- PostgreSQL

def pg_rows(pg, db, sql):
    out = pg.psql(db, sql, "-F", "\t")
    return out.splitlines()


def test_pagila_keys_restore_joins_preserved(pg_server, pagila_db, datasets, dm, tmp_path):
    pg = pg_server
    rules = rules_file(tmp_path, datasets, "pagila-keys.json")
    audit = tmp_path / "a.json"
    cp = dm("-c", rules, "-q", "--audit", audit, datasets / "pagila" / "pg_dump-copy.sql")
    assert cp.returncode == 0, cp.stderr.decode()[-2000:]
    db = pg.createdb("keys_pagila")
    try:
        # single transaction, ON_ERROR_STOP: every FK is validated when it is added
        pg.restore(db, cp.stdout)
        tables = pg_rows(pg, pagila_db, "select relname from pg_class c join pg_namespace n on n.oid=c.relnamespace "
                                        "where n.nspname='public' and relkind in ('r','p') order by 1")
        assert len(tables) >= 20
        for t in tables:
            assert pg.count(db, f'public."{t}"') == pg.count(pagila_db, f'public."{t}"'), t
        fks = pg_rows(pg, pagila_db, """select c.conname, cl.relname, pl.relname,
            (select string_agg(attname, ',' order by k.i) from unnest(c.conkey) with ordinality k(n,i) join pg_attribute on attrelid=c.conrelid and attnum=k.n),
            (select string_agg(attname, ',' order by k.i) from unnest(c.confkey) with ordinality k(n,i) join pg_attribute on attrelid=c.confrelid and attnum=k.n)
            from pg_constraint c join pg_class cl on cl.oid=c.conrelid join pg_class pl on pl.oid=c.confrelid
            where c.contype='f' and cl.relkind='r' order by 1""")
        assert len(fks) >= 30
        # every constraint of the source exists (and was validated) in the restore
        n_src = pg.scalar(pagila_db, "select count(*) from pg_constraint where contype in ('p','f','u') and convalidated")
        n_dst = pg.scalar(db, "select count(*) from pg_constraint where contype in ('p','f','u') and convalidated")
        assert n_src == n_dst
        keycols = {tuple(r.split("\t")) for r in pg_rows(pg, pagila_db, """select cl.relname, a.attname from pg_constraint c
            join pg_class cl on cl.oid=c.conrelid join pg_attribute a on a.attrelid=c.conrelid and a.attnum=any(c.conkey)
            where c.contype in ('p','f')""")}
        cols = {}
        for r in pg_rows(pg, pagila_db, """select c.relname, a.attname from pg_attribute a join pg_class c on c.oid=a.attrelid
                join pg_namespace n on n.oid=c.relnamespace where n.nspname='public' and c.relkind='r' and a.attnum>0
                and not a.attisdropped and a.attgenerated='' order by a.attnum"""):
            t, c = r.split("\t")
            cols.setdefault(t, []).append(c)

        def plain(t):
            return [c for c in cols.get(t, []) if (t, c) not in keycols and (t, c) not in MASKED]

        for line in fks:
            name, child, parent, cc, pc = line.split("\t")
            on = " and ".join(f'c."{a}" = p."{b}"' for a, b in zip(cc.split(","), pc.split(",")))
            sel = ", ".join([f'c."{x}"' for x in plain(child)] + [f'p."{y}"' for y in plain(parent)]) or "1"
            q = f'select {sel} from "{child}" c join "{parent}" p on {on}'
            a, b = digest(pg_rows(pg, pagila_db, q)), digest(pg_rows(pg, db, q))
            assert a == b, f"fk {name} ({child} -> {parent}): {a} vs {b}"
        # integer primary keys changed
        for t, pk in (("customer", "customer_id"), ("film", "film_id"), ("rental", "rental_id"), ("address", "address_id")):
            s = set(pg_rows(pg, pagila_db, f"select {pk} from {t}"))
            d = set(pg_rows(pg, db, f"select {pk} from {t}"))
            assert len(s & d) <= 0.01 * len(s), t
        # new rows through the sequences
        pg.psql(db, """BEGIN;
            INSERT INTO customer(store_id, first_name, last_name, address_id) SELECT store_id, 'x', 'y', address_id FROM customer LIMIT 1;
            INSERT INTO rental(rental_date, inventory_id, customer_id, staff_id) SELECT now(), inventory_id, customer_id, staff_id FROM rental LIMIT 1;
            INSERT INTO film(title, language_id) SELECT 'new film', language_id FROM film LIMIT 1;
            INSERT INTO address(address, district, city_id, phone) SELECT 'a', 'd', city_id, '1' FROM address LIMIT 1;
            ROLLBACK;""")
        a = json.loads(audit.read_text())
        assert a["status"] == "ok" and a["sequences"], "setval statements were not rewritten"
    finally:
        pg.dropdb(db)


# --------------------------------------------------------------------------- MariaDB

def test_sakila_keys_restore_joins_preserved(my_server, sakila_db, datasets, dm, tmp_path):
    my = my_server
    rules = rules_file(tmp_path, datasets, "sakila-keys.json")
    src_dump = tmp_path / "sakila.sql"
    src_dump.write_bytes(my.dump(sakila_db))
    cp = dm("-c", rules, "-q", src_dump)
    assert cp.returncode == 0, cp.stderr.decode()[-2000:]
    again = dm("-c", rules, "-q", src_dump)
    assert again.stdout == cp.stdout
    db = my.create("keys_sakila")
    try:
        my.restore(db, cp.stdout)
        src_tables = my.sql(sakila_db, f"SELECT table_name FROM information_schema.tables WHERE table_schema='{sakila_db}' "
                                       "AND table_type='BASE TABLE' ORDER BY 1").split()
        for t in src_tables:
            assert my.count(db, t) == my.count(sakila_db, t), t
        fks = my.sql(sakila_db, f"""SELECT constraint_name, table_name, referenced_table_name,
            group_concat(column_name ORDER BY ordinal_position), group_concat(referenced_column_name ORDER BY ordinal_position)
            FROM information_schema.key_column_usage WHERE table_schema='{sakila_db}' AND referenced_table_name IS NOT NULL
            GROUP BY constraint_name, table_name, referenced_table_name ORDER BY 1""").strip().splitlines()
        assert len(fks) >= 20
        keycols = {tuple(r.split("\t")) for r in my.sql(sakila_db, "SELECT table_name, column_name FROM "
                   f"information_schema.key_column_usage WHERE table_schema='{sakila_db}'").splitlines()}
        cols = {}
        for r in my.sql(sakila_db, f"SELECT table_name, column_name, column_type FROM information_schema.columns "
                                   f"WHERE table_schema='{sakila_db}' AND extra NOT LIKE '%GENERATED%' ORDER BY ordinal_position").splitlines():
            t, c, ty = r.split("\t")
            if "geometry" not in ty and "blob" not in ty:
                cols.setdefault(t, []).append(c)

        def plain(t):
            return [c for c in cols.get(t, []) if (t, c) not in keycols and (t, c) not in MASKED]

        for line in fks:
            name, child, parent, cc, pc = line.split("\t")
            cc, pc = cc.split(","), pc.split(",")
            on = " AND ".join(f"c.`{a}` = p.`{b}`" for a, b in zip(cc, pc))
            # constraint check (FOREIGN_KEY_CHECKS was off during the restore)
            orphans = my.scalar(db, f"SELECT count(*) FROM `{child}` c WHERE "
                                    + " AND ".join(f"c.`{a}` IS NOT NULL" for a in cc)
                                    + f" AND NOT EXISTS (SELECT 1 FROM `{parent}` p WHERE {on})")
            assert orphans == "0", f"fk {name}: {orphans} orphans"
            sel = ", ".join([f"c.`{x}`" for x in plain(child)] + [f"p.`{y}`" for y in plain(parent)]) or "1"
            q = f"SELECT {sel} FROM `{child}` c JOIN `{parent}` p ON {on}"
            a, b = digest(my.sql(sakila_db, q).splitlines()), digest(my.sql(db, q).splitlines())
            assert a == b, f"fk {name} ({child} -> {parent}): {a} vs {b}"
        # implicit reference without FK: film_text.film_id mirrors film.film_id
        assert my.scalar(db, "SELECT count(*) FROM film_text t JOIN film f USING (film_id) WHERE t.title = f.title") == \
            my.scalar(sakila_db, "SELECT count(*) FROM film")
        for t, pk in (("customer", "customer_id"), ("film", "film_id"), ("rental", "rental_id"), ("payment", "payment_id")):
            same = int(my.scalar(None, f"SELECT count(*) FROM `{sakila_db}`.`{t}` s JOIN `{db}`.`{t}` d USING (`{pk}`)"))
            assert same <= 0.01 * my.count(sakila_db, t), t
        # constraints enforced from now on, and AUTO_INCREMENT still gives free ids
        my.sql(db, "SET FOREIGN_KEY_CHECKS=1; "
                   "INSERT INTO customer(store_id, first_name, last_name, address_id, create_date) "
                   "SELECT store_id, 'x', 'y', address_id, now() FROM customer LIMIT 1; "
                   "INSERT INTO film(title, language_id) SELECT 'new film', language_id FROM film LIMIT 1; "
                   "INSERT INTO rental(rental_date, inventory_id, customer_id, staff_id) "
                   "SELECT now(), inventory_id, customer_id, staff_id FROM rental LIMIT 1; "
                   "INSERT INTO payment(customer_id, staff_id, rental_id, amount, payment_date) "
                   "SELECT customer_id, staff_id, rental_id, 1.00, now() FROM payment LIMIT 1;")
    finally:
        my.drop(db)
