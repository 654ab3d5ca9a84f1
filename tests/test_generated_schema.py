"""A generated application schema (~200 tables: partitions LIST/RANGE/HASH with key columns,
inheritance, quoted and non-ASCII names, loose keys, secrets, unique constraints and indexes,
enum and geometric types, arrays; realistic rows) created in the real PostgreSQL and dumped by
the real pg_dump, then the path a new user takes: `scan --write-rules new.json`, a masking run
`-c new.json --strict` on the file, a restore with psql -v ON_ERROR_STOP=1
--single-transaction, and `dumpmask verify`. Every step must exit 0, the restore must hold
every row, and no e-mail or secret written into a detected column may remain in clear."""
from __future__ import annotations

import json

import pytest

from schemagen import postgres_schema


@pytest.fixture(scope="module")
def generated(pg_server, tmp_path_factory):
    g = postgres_schema(seed=17, groups=60)
    db = pg_server.createdb("gen_src")
    pg_server.psql(db, g.sql)
    d = tmp_path_factory.mktemp("gen")
    dump = d / "orig.sql"
    dump.write_bytes(pg_server.dump(db))
    yield g, dump, d
    pg_server.dropdb(db)


def _scan(dm, dump, *args):
    cp = dm("scan", "--json", dump, *args)
    assert cp.returncode == 0, cp.stderr.decode()
    return {f"{r['table']}.{r['column']}": r for r in json.loads(cp.stdout)}


def test_generated_schema_detection(dm, generated):
    """What detection must find on the generated schema, and how it resolves it."""
    g, dump, _ = generated
    rows = _scan(dm, dump)
    missing = {c: w for c, w in g.expect.items() if c not in rows}
    assert not missing, f"not detected: {sorted(missing)[:20]}"
    for c, what in g.expect.items():
        r = rows[c]
        if what == "key":
            assert r["suggested"] == "key" and r["key"], (c, r)
        else:
            cats = [r["category"], *r["also"]]
            assert any(x.startswith(what) for x in cats), (c, r)
            assert r["suggested"] != "key" or r["key"], (c, r)
    # type and shape: 14-digit versions are no phones, enum/bool/integer columns no secrets
    assert not any(k.startswith("public.schema_migrations.") for k in rows)
    for k, r in rows.items():
        col = k.rsplit(".", 1)[-1]
        assert col not in ("mood", "tokens_count", "salted", "created_at"), (k, r)
        if r["unique"]:
            assert r["suggested"] in ("hash", "faker.email", "faker.userName", "key"), (k, r)
        assert r["suggested"] != "redact" or r["type"].split("(")[0] in ("text", "character varying", "character", "jsonb", "json", "bytea") \
            or r["type"].endswith("[]"), (k, r)


def test_generated_schema_write_rules_strict_restore_verify(dm, generated, pg_server):
    g, dump, d = generated
    rules = d / "new.json"
    cp = dm("scan", dump, "--write-rules", rules)
    assert cp.returncode == 0, cp.stderr.decode()
    doc = json.loads(rules.read_bytes())
    assert doc["options"]["identifierRemapping"]["enabled"] is True  # key findings: remapping

    masked = d / "masked.sql"
    audit = d / "audit.json"
    cp = dm("-q", "--strict", "-c", rules, "--audit", audit, dump, "-o", masked)
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]

    data = masked.read_bytes()
    leaked = sorted(v for v in g.sensitive if v.encode() in data)
    assert not leaked, f"{len(leaked)} sensitive value(s) in clear, e.g. {leaked[:3]}"

    db = pg_server.createdb("gen_masked")
    try:
        pg_server.restore(db, masked)  # psql -v ON_ERROR_STOP=1 --single-transaction
        tables = list(g.row_counts)
        got = pg_server.psql(db, " UNION ALL ".join(f"SELECT {i}, count(*) FROM {t}" for i, t in enumerate(tables)) + ";")
        counts = {tables[int(i)]: int(n) for i, n in (line.split("|") for line in got.split())}
        assert counts == g.row_counts
    finally:
        pg_server.dropdb(db)

    cp = dm("verify", dump, masked, "-c", rules)
    assert cp.returncode == 0, cp.stdout.decode()[-3000:] + cp.stderr.decode()[-2000:]


def test_generated_mariadb_schema_write_rules_strict_restore_verify(dm, my_server, tmp_path):
    from schemagen import mysql_schema

    g = mysql_schema(seed=23, groups=24)
    src = my_server.create("gen_my_src")
    try:
        my_server.sql(src, g.sql)
        dump = tmp_path / "orig.sql"
        dump.write_bytes(my_server.dump(src))
    finally:
        my_server.drop(src)
    rules = tmp_path / "new.json"
    rows = _scan(dm, dump, "--write-rules", rules)  # the findings, and the rules they suggest
    missing = sorted(c for c in g.expect if c not in rows)
    assert not missing, f"not detected: {missing[:20]}"
    for c, what in g.expect.items():
        r = rows[c]
        assert (r["suggested"] == "key" and r["key"]) if what == "key" else \
            any(x.startswith(what) for x in [r["category"], *r["also"]]), (c, r)
    assert not any(k.startswith("schema_migrations.") or k.endswith((".mood", ".tokens_count", ".salted"))
                   for k in rows), sorted(rows)

    masked = tmp_path / "masked.sql"
    cp = dm("-q", "--strict", "-c", rules, dump, "-o", masked)
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    data = masked.read_bytes()
    leaked = sorted(v for v in g.sensitive if v.encode() in data)
    assert not leaked, f"{len(leaked)} sensitive value(s) in clear, e.g. {leaked[:3]}"
    db = my_server.create("gen_my_masked")
    try:
        my_server.restore(db, masked)
        tables = list(g.row_counts)
        got = my_server.sql(db, " UNION ALL ".join(f"SELECT {i}, count(*) FROM {t}" for i, t in enumerate(tables)) + ";")
        counts = {tables[int(i)]: int(n) for i, n in (line.split("\t") for line in got.splitlines() if line.strip())}
        assert counts == g.row_counts
    finally:
        my_server.drop(db)
    cp = dm("verify", dump, masked, "-c", rules)
    assert cp.returncode == 0, cp.stdout.decode()[-3000:] + cp.stderr.decode()[-2000:]
