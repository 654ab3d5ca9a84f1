"""Subject erasure and extraction (issue 14) on real servers: Pagila (pg_dump file) and Sakila
(mariadb-dump file). The output is restored into a fresh database (PostgreSQL: ON_ERROR_STOP,
one transaction, every foreign key validated as it is added; MariaDB: every foreign key then
checked with a LEFT JOIN), and the rows left are compared with what the source database says
the subject's rows are.
"""
from __future__ import annotations

import json

from test_subset_restore import rules_path


def pg_orphans(pg, db, min_fks: int = 20) -> dict:
    fks = [r.split("\t") for r in pg.psql(db, """select c.conname, c.conrelid::regclass, c.confrelid::regclass,
        (select string_agg(quote_ident(attname), ',' order by k.i) from unnest(c.conkey) with ordinality k(n,i)
           join pg_attribute on attrelid=c.conrelid and attnum=k.n),
        (select string_agg(quote_ident(attname), ',' order by k.i) from unnest(c.confkey) with ordinality k(n,i)
           join pg_attribute on attrelid=c.confrelid and attnum=k.n)
        from pg_constraint c where c.contype='f' order by 1""", "-F", "\t").splitlines()]
    assert len(fks) >= min_fks
    bad = {}
    for name, child, parent, cc, pc in fks:
        cc, pc = cc.split(","), pc.split(",")
        on = " and ".join(f"c.{a} = p.{b}" for a, b in zip(cc, pc, strict=True))
        n = pg.scalar(db, f"select count(*) from {child} c left join {parent} p on {on} where "
                          + " and ".join(f"c.{a} is not null" for a in cc) + f" and p.{pc[0]} is null")
        if n != "0":
            bad[name] = n
    assert pg.scalar(db, "select count(*) from pg_constraint where not convalidated") == "0"
    return bad


def my_orphans(my, db, min_fks: int = 20) -> dict:
    fks = my.sql(db, f"""SELECT constraint_name, table_name, referenced_table_name,
        group_concat(column_name ORDER BY ordinal_position), group_concat(referenced_column_name ORDER BY ordinal_position)
        FROM information_schema.key_column_usage WHERE table_schema='{db}' AND referenced_table_name IS NOT NULL
        GROUP BY constraint_name, table_name, referenced_table_name ORDER BY 1""").strip().splitlines()
    assert len(fks) >= min_fks
    bad = {}
    for line in fks:
        name, child, parent, cc, pc = line.split("\t")
        cc, pc = cc.split(","), pc.split(",")
        on = " AND ".join(f"c.`{a}` = p.`{b}`" for a, b in zip(cc, pc, strict=True))
        n = my.scalar(db, f"SELECT count(*) FROM `{child}` c LEFT JOIN `{parent}` p ON {on} WHERE "
                          + " AND ".join(f"c.`{a}` IS NOT NULL" for a in cc) + f" AND p.`{pc[0]}` IS NULL")
        if n != "0":
            bad[name] = n
    return bad


# what a customer's erasure removes, in the source database (both samples have these tables)
GONE_RENTALS = "select count(*) from rental where customer_id in ({ids})"
GONE_PAYMENTS = ("select count(*) from payment where customer_id in ({ids}) or rental_id in "
                 "(select rental_id from rental where customer_id in ({ids}))")


def test_pagila_erase_and_only_restore(pg_server, pagila_db, datasets, dm, tmp_path):
    pg = pg_server
    src = datasets / "pagila" / "pg_dump-copy.sql"
    audit = tmp_path / "a.json"
    cp = dm("-q", "--erase", "customer:1,2", "--audit", audit, src)
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    db = pg.createdb("subjects_pagila")
    try:
        pg.restore(db, cp.stdout)
        assert pg_orphans(pg, db) == {}
        assert pg.scalar(db, "select count(*) from customer where customer_id in (1, 2)") == "0"
        assert pg.scalar(db, "select count(*) from rental where customer_id in (1, 2)") == "0"
        assert pg.scalar(db, "select count(*) from payment where customer_id in (1, 2)") == "0"
        for table, gone in (("customer", "2"), ("rental", GONE_RENTALS.format(ids="1, 2")),
                            ("payment", GONE_PAYMENTS.format(ids="1, 2"))):
            gone = int(gone if gone.isdigit() else pg.scalar(pagila_db, gone))
            assert pg.count(db, table) == pg.count(pagila_db, table) - gone > 0, table
        for table in ("film", "inventory", "staff", "store", "address"):
            assert pg.count(db, table) == pg.count(pagila_db, table), table
        a = json.loads(audit.read_text())
        assert a["subjects"]["tables"]["public.customer"] == {"removed": 2}
        assert a["subjects"]["tables"]["public.rental"]["removed"] == int(pg.scalar(pagila_db, GONE_RENTALS.format(ids="1, 2")))
        pg.dropdb(db)
        # --only, with masking and identifier remapping on
        cp = dm("-q", "-c", rules_path(datasets, "pagila-keys.json"), "--only", "customer:5", "--audit", audit, src)
        assert cp.returncode == 0, cp.stderr.decode()[-3000:]
        pg.createdb(db)
        pg.restore(db, cp.stdout)
        assert pg_orphans(pg, db) == {}
        assert pg.count(db, "customer") == 1
        assert pg.count(db, "rental") == int(pg.scalar(pagila_db, "select count(*) from rental where customer_id = 5")) > 0
        assert pg.count(db, "payment") == int(pg.scalar(pagila_db, "select count(*) from payment where customer_id = 5"))
        # the one customer kept is customer 5 (masked and remapped: its rentals' dates tell it)
        assert pg.psql(db, "select rental_date from rental order by 1") == pg.psql(
            pagila_db, "select rental_date from rental where customer_id = 5 order by 1")
        assert pg.count(db, "actor") == 0 and pg.count(db, "film") > 0   # films: parents of its inventory
        a = json.loads(audit.read_text())
        assert a["subjects"]["tables"]["public.customer"] == {"kept": 1, "subjects_and_descendants": 1,
                                                              "added_as_parents": 0}
    finally:
        pg.dropdb(db)


def test_sakila_erase_and_only_restore(my_server, sakila_db, datasets, dm, tmp_path):
    my = my_server
    src = datasets / "sakila" / "mariadb-dump-default.sql"
    cp = dm("-q", "--erase", "customer:1,2", src)
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    db = my.create("subjects_sakila")
    try:
        my.restore(db, cp.stdout)
        assert my_orphans(my, db) == {}
        for table, gone in (("customer", "2"), ("rental", GONE_RENTALS.format(ids="1, 2")),
                            ("payment", GONE_PAYMENTS.format(ids="1, 2"))):
            gone = int(gone if gone.isdigit() else my.scalar(sakila_db, gone))
            assert my.count(db, table) == my.count(sakila_db, table) - gone > 0, table
        assert my.scalar(db, "SELECT count(*) FROM rental WHERE customer_id IN (1, 2)") == "0"
        for table in ("film", "inventory", "staff", "store", "address"):
            assert my.count(db, table) == my.count(sakila_db, table), table
        my.drop(db)
        cp = dm("-q", "-c", rules_path(datasets, "sakila-keys.json"), "--only", "customer:5", src)
        assert cp.returncode == 0, cp.stderr.decode()[-3000:]
        my.create(db)
        my.restore(db, cp.stdout)
        assert my_orphans(my, db) == {}
        assert my.count(db, "customer") == 1
        assert my.count(db, "rental") == int(my.scalar(sakila_db, "SELECT count(*) FROM rental WHERE customer_id = 5")) > 0
        assert my.sql(db, "SELECT rental_date FROM rental ORDER BY 1") == my.sql(
            sakila_db, "SELECT rental_date FROM rental WHERE customer_id = 5 ORDER BY 1")
    finally:
        my.drop(db)


INACTIVE = "select customer_id from customer where active = 0"


def drop_rules(tmp_path):
    p = tmp_path / "drop.json"
    p.write_text(json.dumps({"tables": [{"tableName": "customer", "action": "drop", "where": {"active": 0}}]}))
    return p


def test_pagila_drop_rule_restores(pg_server, pagila_db, datasets, dm, tmp_path):
    pg = pg_server
    audit = tmp_path / "a.json"
    cp = dm("-q", "-c", drop_rules(tmp_path), "--audit", audit, datasets / "pagila" / "pg_dump-copy.sql")
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    db = pg.createdb("drop_pagila")
    try:
        pg.restore(db, cp.stdout)
        assert pg_orphans(pg, db) == {}
        inactive = pg.psql(pagila_db, INACTIVE).split()
        assert inactive and pg.scalar(db, "select count(*) from customer where active = 0") == "0"
        ids = ", ".join(inactive)
        for table, gone in (("customer", str(len(inactive))), ("rental", GONE_RENTALS.format(ids=ids)),
                            ("payment", GONE_PAYMENTS.format(ids=ids))):
            gone = int(gone if gone.isdigit() else pg.scalar(pagila_db, gone))
            assert pg.count(db, table) == pg.count(pagila_db, table) - gone, table
        s = json.loads(audit.read_text())["subjects"]
        assert s["drop_rules"][0]["rows_matched"] == len(inactive)
    finally:
        pg.dropdb(db)


def test_sakila_drop_rule_restores(my_server, sakila_db, datasets, dm, tmp_path):
    my = my_server
    cp = dm("-q", "-c", drop_rules(tmp_path), datasets / "sakila" / "mariadb-dump-default.sql")
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    db = my.create("drop_sakila")
    try:
        my.restore(db, cp.stdout)
        assert my_orphans(my, db) == {}
        inactive = my.sql(sakila_db, INACTIVE).split()
        assert inactive and my.scalar(db, "SELECT count(*) FROM customer WHERE active = 0") == "0"
        ids = ", ".join(inactive)
        for table, gone in (("customer", str(len(inactive))), ("rental", GONE_RENTALS.format(ids=ids)),
                            ("payment", GONE_PAYMENTS.format(ids=ids))):
            gone = int(gone if gone.isdigit() else my.scalar(sakila_db, gone))
            assert my.count(db, table) == my.count(sakila_db, table) - gone, table
    finally:
        my.drop(db)


# a generated schema with the shapes the passes must follow: quoted non-ASCII names, a cycle
# (two tables referencing each other), a self reference, a composite key, a partitioned table
GENERATED = """
CREATE SCHEMA "Läden";
CREATE TABLE "Läden"."Filiale" (id int PRIMARY KEY, "Leiter" int);
CREATE TABLE "Läden"."Mitarbeiter" (id int PRIMARY KEY, filiale int REFERENCES "Läden"."Filiale",
                                    chef int REFERENCES "Läden"."Mitarbeiter");
ALTER TABLE "Läden"."Filiale" ADD FOREIGN KEY ("Leiter") REFERENCES "Läden"."Mitarbeiter";
CREATE TABLE "Läden".bestellung (nr int, pos int, ma int REFERENCES "Läden"."Mitarbeiter", PRIMARY KEY (nr, pos));
CREATE TABLE "Läden".lieferung (id int PRIMARY KEY, nr int, pos int, at date NOT NULL,
                                 FOREIGN KEY (nr, pos) REFERENCES "Läden".bestellung);
CREATE TABLE "Läden".log (id int, at date NOT NULL, ma int REFERENCES "Läden"."Mitarbeiter", PRIMARY KEY (id, at))
    PARTITION BY RANGE (at);
CREATE TABLE "Läden".log_1 PARTITION OF "Läden".log FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE "Läden".log_2 PARTITION OF "Läden".log FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
INSERT INTO "Läden"."Filiale" SELECT g, NULL FROM generate_series(1, 40) g;
INSERT INTO "Läden"."Mitarbeiter" SELECT g, 1 + (g * 7) % 40, CASE WHEN g > 1 THEN 1 + (g * 13) % (g - 1) END
    FROM generate_series(1, 300) g;
UPDATE "Läden"."Filiale" SET "Leiter" = 1 + (id * 17) % 300;
INSERT INTO "Läden".bestellung SELECT g / 3, g % 3, 1 + (g * 11) % 300 FROM generate_series(3, 900) g;
INSERT INTO "Läden".lieferung SELECT g, 300 - g / 3, g % 3, date '2020-01-01' + g FROM generate_series(3, 890) g;
INSERT INTO "Läden".log SELECT g, date '2020-06-01' + g % 400, 1 + (g * 29) % 300 FROM generate_series(1, 500) g;
"""


def test_generated_schema_pg_dump_subsets_restore(pg_server, dm, tmp_path):
    pg = pg_server
    src = pg.createdb("closure_gen_src")
    db = "closure_gen_out"
    try:
        pg.psql(src, GENERATED)
        dump = tmp_path / "gen.sql"
        dump.write_bytes(pg.dump(src))
        for args in (["--first", "3"], ["--last", "5"], ["--erase", '"Läden"."Mitarbeiter":1'],
                     ["--only", '"Läden".bestellung:(100,1)']):
            audit = tmp_path / "a.json"
            cp = dm("-q", *args, "--audit", audit, dump)
            assert cp.returncode == 0, (args, cp.stderr.decode()[-2000:])
            pg.createdb(db)
            pg.restore(db, cp.stdout)
            assert pg_orphans(pg, db, min_fks=6) == {}, args
            counts = {t: pg.count(db, f'"Läden".{t}') for t in ('"Filiale"', '"Mitarbeiter"', "bestellung", "lieferung", "log")}
            a = json.loads(audit.read_text())
            if args[0] in ("--first", "--last"):
                assert a["transfer_empty_tables"] == [] and all(counts.values()), (args, counts)
                assert counts['"Mitarbeiter"'] > int(args[1])    # parents of the cut rows of every table
            elif args[0] == "--erase":
                assert pg.scalar(db, 'select count(*) from "Läden"."Mitarbeiter" where id = 1') == "0"
                # every employee is below employee 1 (chef), so all go, and with them all that references them
                assert counts['"Mitarbeiter"'] == 0 and counts["bestellung"] == 0 and counts['"Filiale"'] == 0
            else:
                assert counts["bestellung"] == 1 and counts["lieferung"] == int(pg.scalar(
                    src, 'select count(*) from "Läden".lieferung where nr = 100 and pos = 1'))
            pg.dropdb(db)
    finally:
        pg.dropdb(src)
