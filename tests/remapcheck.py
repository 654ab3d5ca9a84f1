""""Remapping did happen": compare a restored database with its source.

For a source database and the database restored from its remapped dump (both on the same
server), `assert_remapped_pg` / `assert_remapped_my` check that

  * every table has as many rows as in the source;
  * every declared primary-key and foreign-key column of a remappable kind (integer, UUID,
    text) changed in every row: no value of the column in the restore is one of its values in
    the source (a row that kept its id would be in both), except the columns named in
    `unchanged` ("table.column": partition keys, opted-out columns, timestamps in keys are
    never compared);
  * every foreign key still joins: no orphan child row, and as many joined rows as in the
    source.

Values are compared inside the server (the restore and the source on one server), so nothing
is fetched row by row. Returns a summary dict (columns checked, fks checked) for the test to
assert on.
"""
from __future__ import annotations

PG_KINDS = ("smallint", "integer", "bigint", "numeric", "uuid", "text", "character varying", "character")
MY_KINDS = ("tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "char", "varchar", "binary")


def _pg_rows(pg, db, sql):
    return [r.split("\t") for r in pg.psql(db, sql, "-F", "\t").splitlines() if r]


def _pgq(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def assert_remapped_pg(pg, src: str, dst: str, unchanged=(), schema: str = "public") -> dict:
    unchanged = set(unchanged)
    tables = [r[0] for r in _pg_rows(pg, src, f"""select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = '{schema}' and c.relkind = 'r' order by 1""")]
    for t in tables:
        a = pg.scalar(src, f"select count(*) from {_pgq(schema)}.{_pgq(t)}")
        b = pg.scalar(dst, f"select count(*) from {_pgq(schema)}.{_pgq(t)}")
        assert a == b, f"{t}: {a} rows in the source, {b} in the restore"
    keycols = _pg_rows(pg, src, f"""select distinct cl.relname, a.attname, format_type(a.atttypid, a.atttypmod)
        from pg_constraint c join pg_class cl on cl.oid = c.conrelid join pg_namespace n on n.oid = cl.relnamespace
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)
        where c.contype in ('p', 'f') and n.nspname = '{schema}' and cl.relkind = 'r' order by 1, 2""")
    # the restore is in another database: the source's values go into a temporary table there
    checked = []
    for t, col, typ in keycols:
        if f"{t}.{col}" in unchanged or not typ.startswith(PG_KINDS):
            continue
        src_vals = pg.psql(src, f"select distinct {_pgq(col)}::text from {_pgq(schema)}.{_pgq(t)} where {_pgq(col)} is not null")
        if not src_vals.strip():
            continue
        same = pg.scalar(dst, "create temporary table _remapcheck (v text);\ncopy _remapcheck from stdin;\n"
                              + src_vals.replace("\\", "\\\\") + "\\.\n"
                              f"select count(*) from {_pgq(schema)}.{_pgq(t)} d join _remapcheck s on s.v = d.{_pgq(col)}::text;")
        assert same == "0", f"{t}.{col}: {same} rows kept their original value (not remapped)"
        checked.append(f"{t}.{col}")
    fks = _pg_rows(pg, src, f"""select c.conname, cl.relname, pl.relname,
        (select string_agg(quote_ident(attname), ',' order by k.i) from unnest(c.conkey) with ordinality k(n, i)
           join pg_attribute on attrelid = c.conrelid and attnum = k.n),
        (select string_agg(quote_ident(attname), ',' order by k.i) from unnest(c.confkey) with ordinality k(n, i)
           join pg_attribute on attrelid = c.confrelid and attnum = k.n)
        from pg_constraint c join pg_class cl on cl.oid = c.conrelid join pg_class pl on pl.oid = c.confrelid
        join pg_namespace n on n.oid = cl.relnamespace
        where c.contype = 'f' and n.nspname = '{schema}' and cl.relkind = 'r' order by 1""")
    for name, child, parent, cc, pc in fks:
        cc, pc = cc.split(","), pc.split(",")
        on = " and ".join(f"c.{a} = p.{b}" for a, b in zip(cc, pc))
        notnull = " and ".join(f"c.{a} is not null" for a in cc)
        q_orphans = (f"select count(*) from {_pgq(schema)}.{_pgq(child)} c where {notnull} and not exists "
                     f"(select 1 from {_pgq(schema)}.{_pgq(parent)} p where {on})")
        q_join = f"select count(*) from {_pgq(schema)}.{_pgq(child)} c join {_pgq(schema)}.{_pgq(parent)} p on {on}"
        assert pg.scalar(dst, q_orphans) == "0", f"fk {name} ({child} -> {parent}): orphan rows after the restore"
        a, b = pg.scalar(src, q_join), pg.scalar(dst, q_join)
        assert a == b, f"fk {name} ({child} -> {parent}): {a} joined rows in the source, {b} in the restore"
    return {"columns": checked, "fks": len(fks)}


def _myq(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def assert_remapped_my(my, src: str, dst: str, unchanged=()) -> dict:
    unchanged = set(unchanged)
    tables = my.sql(src, f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{src}' "
                         "AND table_type = 'BASE TABLE' ORDER BY 1").split()
    for t in tables:
        a, b = my.count(src, t), my.count(dst, t)
        assert a == b, f"{t}: {a} rows in the source, {b} in the restore"
    keycols = [r.split("\t") for r in my.sql(src, f"""SELECT DISTINCT k.table_name, k.column_name, c.data_type
        FROM information_schema.key_column_usage k JOIN information_schema.columns c
          ON c.table_schema = k.table_schema AND c.table_name = k.table_name AND c.column_name = k.column_name
        JOIN information_schema.table_constraints tc ON tc.constraint_schema = k.constraint_schema
          AND tc.table_name = k.table_name AND tc.constraint_name = k.constraint_name
        WHERE k.table_schema = '{src}' AND tc.constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')
        ORDER BY 1, 2""").splitlines() if r]
    checked = []
    for t, col, typ in keycols:
        if f"{t}.{col}" in unchanged or typ.lower() not in MY_KINDS:
            continue
        same = my.scalar(None, f"SELECT count(*) FROM {_myq(dst)}.{_myq(t)} d WHERE d.{_myq(col)} IN "
                               f"(SELECT s.{_myq(col)} FROM {_myq(src)}.{_myq(t)} s WHERE s.{_myq(col)} IS NOT NULL)")
        assert same == "0", f"{t}.{col}: {same} rows kept their original value (not remapped)"
        checked.append(f"{t}.{col}")
    fks = [r.split("\t") for r in my.sql(src, f"""SELECT constraint_name, table_name, referenced_table_name,
        group_concat(column_name ORDER BY ordinal_position SEPARATOR ','),
        group_concat(referenced_column_name ORDER BY ordinal_position SEPARATOR ',')
        FROM information_schema.key_column_usage WHERE table_schema = '{src}' AND referenced_table_name IS NOT NULL
        GROUP BY constraint_name, table_name, referenced_table_name ORDER BY 1""").splitlines() if r]
    for name, child, parent, cc, pc in fks:
        cc, pc = cc.split(","), pc.split(",")
        on = " AND ".join(f"c.{_myq(a)} = p.{_myq(b)}" for a, b in zip(cc, pc))
        notnull = " AND ".join(f"c.{_myq(a)} IS NOT NULL" for a in cc)
        orphans = my.scalar(dst, f"SELECT count(*) FROM {_myq(child)} c WHERE {notnull} AND NOT EXISTS "
                                 f"(SELECT 1 FROM {_myq(parent)} p WHERE {on})")
        assert orphans == "0", f"fk {name} ({child} -> {parent}): {orphans} orphan rows after the restore"
        q = f"SELECT count(*) FROM {_myq(child)} c JOIN {_myq(parent)} p ON {on}"
        a, b = my.scalar(src, q), my.scalar(dst, q)
        assert a == b, f"fk {name} ({child} -> {parent}): {a} joined rows in the source, {b} in the restore"
    return {"columns": checked, "fks": len(fks)}
