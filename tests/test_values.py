"""Every mutation's output is valid for its column and restores (issues 11 and 17):
type-aware redact/static (PostgreSQL enums, json, uuid, numeric, dates, intervals, bit, inet,
domains, arrays), refusals of rules that cannot restore (exit 2 naming the rule), injective
mutations on PRIMARY KEY / UNIQUE columns, empty strings kept empty, arrays masked element-wise.
Against the real servers: schemas created here, dumped with the real pg_dump / mariadb-dump."""
from __future__ import annotations

import json
import re

import pytest

from dumpmask.schema import classify
from conftest import TEST_KEY

pytestmark = pytest.mark.servers

TYPED = r"""
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'it''s "fine"');
CREATE TYPE public."Level" AS ENUM ('Low', 'High');
CREATE DOMAIN public.year AS integer CONSTRAINT year_check CHECK (((VALUE >= 1901) AND (VALUE <= 2155)));
CREATE DOMAIN public.zip AS text CHECK (VALUE ~ '^\d{5}$');
CREATE DOMAIN public.color AS varchar(10) CHECK (VALUE IN ('red', 'green'));
CREATE TABLE public.typed (
    id integer PRIMARY KEY,
    m public.mood NOT NULL,
    lv public."Level",
    y public.year NOT NULL,
    z public.zip,
    j json NOT NULL,
    jb jsonb NOT NULL,
    u uuid NOT NULL,
    n numeric(5,2) NOT NULL,
    d date NOT NULL,
    ts timestamp with time zone NOT NULL,
    t time NOT NULL,
    iv interval NOT NULL,
    b bit(8) NOT NULL,
    vb bit varying(5) NOT NULL,
    ip inet NOT NULL,
    net cidr NOT NULL,
    mac macaddr NOT NULL,
    mo money NOT NULL,
    by bytea NOT NULL,
    tags text[] NOT NULL,
    nums integer[] NOT NULL,
    p point,
    phone text NOT NULL,
    colour public.color NOT NULL
);
INSERT INTO public.typed VALUES
 (1, 'sad', 'Low', 1999, '12345', '{"a": 1}', '{"b": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 123.45,
  '2001-02-03', '2001-02-03 04:05:06+00', '04:05:06', '1 day 02:00:00', B'10101010', B'101', '10.1.2.3', '10.0.0.0/8',
  '08:00:2b:01:02:03', 12.34, '\x0102', '{alpha,"be ta",NULL}', '{1,2,3}', '(1,2)', '555-0100', 'green'),
 (2, 'it''s "fine"', NULL, 2000, NULL, '[]', '{}', 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', -1.5,
  '1999-12-31', '1999-12-31 23:59:59+00', '23:59:59', '3 mons', B'00000001', B'1', '192.168.0.1', '192.168.0.0/16',
  '08:00:2b:01:02:04', 0, '', '{}', '{}', NULL, '', 'red');
"""


def rules(table: str, *cms) -> dict:
    return {"tables": [{"tableName": table, "columnMutations": [dict(c) for c in cms]}]}


def col(c: str, mutation: str, **options) -> dict:
    d = {"column": c, "mutation": mutation}
    if options:
        d["options"] = options
    return d


@pytest.fixture(scope="module")
def typed_dump(pg_server):
    db = pg_server.createdb("values_typed")
    pg_server.psql(db, TYPED)
    return pg_server.dump(db, "--no-owner")


def _inproc(tmp_path, dump: bytes, rules_doc: dict):
    """Run the engine in this process (the checks under test are the engine's): -> (error
    message or None, output bytes). The CLI's exit code for a RulesError is 2."""
    import io

    from dumpmask.crypto import Key
    from dumpmask.engine import Engine
    from dumpmask.errors import RulesError
    from dumpmask.rules import load_rules

    rp = tmp_path / "rules.json"
    rp.write_text(json.dumps(rules_doc))
    dp = tmp_path / "in.sql"
    dp.write_bytes(dump)
    out = io.BytesIO()
    eng = Engine(rules=load_rules(str(rp)), key=Key(TEST_KEY), input_path=str(dp), source=str(dp))
    try:
        with open(dp, "rb") as fh:
            eng.run(fh, out)
    except RulesError as e:
        return str(e), out.getvalue()
    return None, out.getvalue()


def _run(dm, tmp_path, dump: bytes, rules_doc: dict, *args, pipe: bool = False):
    rp = tmp_path / "rules.json"
    rp.write_text(json.dumps(rules_doc))
    if pipe:
        return dm("-q", "-c", rp, *args, input=dump)
    dp = tmp_path / "in.sql"
    dp.write_bytes(dump)
    return dm("-q", "-c", rp, *args, dp)


def test_fixed_values_restore(pg_server, typed_dump, dm, tmp_path):
    """redact's default and static values for each type restore (PG enum: its first label,
    before the fix '*****' made the restore fail); the domain with a range CHECK gets its lower
    bound, not the integer minimum."""
    r = rules("typed",
              col("m", "redact"), col("lv", "static:High"), col("y", "redact"), col("j", "static:{\"x\": [1]}"),
              col("jb", "redact"), col("u", "redact"), col("n", "static:999.99"), col("d", "redact"),
              col("ts", "redact"), col("t", "redact"), col("iv", "redact"), col("b", "redact"), col("vb", "redact"),
              col("ip", "redact"), col("net", "redact"), col("mac", "redact"), col("mo", "redact"),
              col("by", "redact"), col("tags", "redact"), col("nums", "static:{7,8}"), col("p", "null"),
              col("colour", "redact"))
    cp = _run(dm, tmp_path, typed_dump, r)
    assert cp.returncode == 0, cp.stderr.decode()
    db = pg_server.createdb("values_typed_out")
    pg_server.restore(db, cp.stdout)
    row = pg_server.scalar(db, "SELECT row_to_json(r) FROM (SELECT m, lv, y, j, jb, u, n, d, ts, t, iv, b, vb, ip, net, "
                               "mac, mo::numeric AS mo, encode(by, 'hex') AS by, tags, nums, p, colour FROM typed WHERE id = 1) r")
    got = json.loads(row)
    assert got["m"] == "sad" and got["lv"] == "High" and got["y"] == 1901
    assert got["j"] == {"x": [1]} and got["jb"] == {}
    assert got["u"] == "00000000-0000-0000-0000-000000000000"
    assert got["n"] == 999.99 and got["d"] == "1900-01-01" and got["t"] == "00:00:00"
    assert got["b"] == "00000000" and got["vb"] == "0"
    assert got["ip"] == "0.0.0.0" and got["net"] == "0.0.0.0/32" and got["mac"] == "00:00:00:00:00:00"
    assert got["mo"] == 0 and got["by"] == "" and got["tags"] == [] and got["nums"] == [7, 8] and got["p"] is None
    assert got["colour"] == "red"


REFUSED = [
    # (column, mutation, options, words expected in the message)
    ("m", "static:happy", {}, ["'sad'", "labels"]),
    ("m", "redact", {"value": "*****"}, ["labels"]),
    ("m", "faker.name", {}, ["public.mood"]),
    ("lv", "static:high", {}, ["labels"]),
    ("j", "static:not json", {}, ["JSON"]),
    ("jb", "hash", {}, ["jsonb"]),
    ("u", "static:nil", {}, ["UUID"]),
    ("n", "static:1000", {}, ["numeric(5,2)"]),
    ("d", "static:31/12/1999", {}, ["YYYY-MM-DD"]),
    ("d", "redact", {"value": "2001-02-30"}, ["calendar"]),
    ("iv", "static:soon", {}, ["interval"]),
    ("b", "static:101", {}, ["exactly 8"]),
    ("vb", "redact", {"value": "111111"}, ["at most 5"]),
    ("ip", "faker.name", {}, ["inet"]),
    ("ip", "redact", {"value": "x"}, ["inet"]),
    ("mac", "faker.ipv4", {}, ["macaddr"]),
    ("nums", "static:1,2", {}, ["array literal"]),
    ("nums", "faker.email", {}, ["integer"]),
    ("p", "redact", {}, ["null or keep"]),
    ("p", "static:(0,0)", {}, ["null or keep"]),
    ("z", "faker.postcode", {}, ["CHECK"]),
    ("z", "redact", {}, ["CHECK"]),
    ("y", "static:1800", {}, ["out of range"]),
    ("by", "static:\\q", {}, ["bytea"]),
    ("colour", "static:blue", {}, ["'red', 'green'"]),
    ("colour", "faker.name", {}, ["public.color"]),
]


@pytest.mark.parametrize("column,mutation,options,words", REFUSED, ids=[f"{c}-{m}" for c, m, _, _ in REFUSED])
def test_refused_before_output(typed_dump, tmp_path, column, mutation, options, words):
    """A rule whose values cannot restore is a rules error (exit 2) before any output, naming
    the rule's JSON path and the column's type (before the fix these exited 0 and the restore
    failed)."""
    err, out = _inproc(tmp_path, typed_dump, rules("typed", col("id", "keep"), col(column, mutation, **options)))
    assert err is not None
    assert "rules.json:$.tables[0].columnMutations[1]" in err
    for w in words:
        assert w in err, err
    assert b"COPY" not in out and b"CREATE TABLE" not in out  # nothing but the poison line


def test_refused_cli_exit_2(typed_dump, dm, tmp_path):
    cp = _run(dm, tmp_path, typed_dump, rules("typed", col("m", "redact", value="*****")))
    assert cp.returncode == 2 and "rules.json:$.tables[0].columnMutations[0]" in cp.stderr.decode()
    assert b"COPY" not in cp.stdout and cp.stdout.rstrip().endswith(b"DUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;")


UNIQUE_SQL = """
CREATE TABLE public.person (id integer PRIMARY KEY, email text, phone text, code text, nick text,
                            CONSTRAINT person_code_nick UNIQUE (code, nick));
CREATE UNIQUE INDEX person_phone_idx ON public.person USING btree (phone);
CREATE UNIQUE INDEX person_email_lower ON public.person (lower(email));
INSERT INTO public.person SELECT g, 'user' || g || '@x.org', '555-' || g, 'c' || g, 'n' || g FROM generate_series(1, 300) g;
"""


@pytest.fixture(scope="module")
def unique_dump(pg_server):
    db = pg_server.createdb("values_unique")
    pg_server.psql(db, UNIQUE_SQL)
    return pg_server.dump(db, "--no-owner")


@pytest.mark.parametrize("column,mutation,options", [
    ("phone", "faker.phone", {}), ("email", "faker.name", {}), ("id", "static:1", {}), ("code", "redact", {}),
    ("nick", "null", {}), ("phone", "faker.city", {}), ("nick", "hash", {"length": 8}), ("id", "hash", {})])
def test_unique_columns_need_injective(unique_dump, tmp_path, column, mutation, options):
    """A non-injective mutation on a PRIMARY KEY / UNIQUE constraint / unique index column
    (pg_dump writes the index after the data: the file's pre-pass sees it) is a rules error
    (exit 2) before any output, naming the rule and the injective alternatives."""
    err, out = _inproc(tmp_path, unique_dump, rules("person", col(column, mutation, **options)))
    assert err is not None
    assert "$.tables[0].columnMutations[0]" in err and "not injective" in err
    assert "keep" in err and ("hash, " in err or "key, keep" in err)
    assert b"COPY" not in out


def test_unique_injective_restores(pg_server, unique_dump, dm, tmp_path):
    cp = _run(dm, tmp_path, unique_dump, rules("person", col("phone", "hash"), col("email", "faker.email"),
                                               col("code", "faker.userName"), col("nick", "hash", length=16)))
    assert cp.returncode == 0, cp.stderr.decode()
    db = pg_server.createdb("values_unique_out")
    pg_server.restore(db, cp.stdout)
    assert pg_server.count(db, "person") == 300


def test_unique_on_pipe_fails_closed(pg_server, unique_dump, dm, tmp_path):
    """On a pipe without --schema the unique index comes after the data that is already
    written: the run fails there (exit 2), the output ends with the poison line, the restore
    fails; with --schema the run refuses before any output."""
    r = rules("person", col("phone", "faker.phone"))
    cp = _run(dm, tmp_path, unique_dump, r, pipe=True)
    err = cp.stderr.decode()
    assert cp.returncode == 2, err
    assert "--schema" in err and "$.tables[0].columnMutations[0]" in err
    assert cp.stdout.rstrip().endswith(b"DUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;")
    schema = tmp_path / "schema.sql"
    schema.write_bytes(pg_server.dump("values_unique", "--schema-only", "--no-owner"))
    cp = _run(dm, tmp_path, unique_dump, r, "--schema", schema, pipe=True)
    assert cp.returncode == 2 and b"COPY" not in cp.stdout


def test_mysql_types_and_unique_key(my_server, dm, tmp_path):
    """MariaDB: UNIQUE KEY needs an injective mutation; ENUM/SET/BIT/YEAR/JSON redact restore
    (BIT was '0' characters before, SET '*****'); spatial NOT NULL columns refuse redact."""
    my_server.sql(None, "DROP DATABASE IF EXISTS values_u; CREATE DATABASE values_u")
    my_server.sql("values_u", "CREATE TABLE person (id int PRIMARY KEY, phone varchar(40), UNIQUE KEY ph (phone), "
                              "kind enum('a','b') NOT NULL, tags set('x','y') NOT NULL, b bit(12) NOT NULL, "
                              "y year NOT NULL, j json NOT NULL, loc point NOT NULL);"
                              "INSERT INTO person VALUES (1, '555-1', 'b', 'x,y', b'101010101010', 1999, '{\"a\": 1}', POINT(1, 2)),"
                              " (2, '', 'a', '', b'1', 2000, '[]', POINT(3, 4))")
    dump = my_server.dump("values_u")
    cp = _run(dm, tmp_path, dump, rules("person", col("phone", "faker.phone")))
    assert cp.returncode == 2 and "not injective" in cp.stderr.decode() and "UNIQUE (phone)" in cp.stderr.decode()
    for bad in (col("loc", "redact"), col("j", "static:nope"), col("kind", "static:c"), col("tags", "static:x,z"),
                col("y", "static:1800"), col("j", "faker.name"), col("b", "static:1")):
        err, _ = _inproc(tmp_path, dump, rules("person", bad))
        assert err is not None and "columnMutations[0]" in err, bad
    for variant in ((), ("--hex-blob",)):
        dump = my_server.dump("values_u", *variant)
        cp = _run(dm, tmp_path, dump, rules("person", col("phone", "hash", length=16), col("kind", "redact"),
                                            col("tags", "redact"), col("b", "redact"), col("y", "redact"),
                                            col("j", "redact")))
        assert cp.returncode == 0, cp.stderr.decode()
        my_server.sql(None, "DROP DATABASE IF EXISTS values_u2; CREATE DATABASE values_u2")
        my_server.restore("values_u2", cp.stdout)
        out = my_server.sql("values_u2", "SELECT id, phone, kind, tags, b + 0, y, j FROM person ORDER BY id")
        lines = [x.split("\t") for x in out.strip().splitlines()]
        assert lines[0][2:] == ["a", "", "0", "1901", "{}"], lines
        assert len(lines[0][1]) == 16
        assert lines[1][1] == ""  # an empty value stays empty


def test_empty_strings_stay_empty(pg_server, typed_dump, dm, tmp_path):
    """'' phone numbers stayed one fixed fake before the fix; now '' stays '' (COPY and
    INSERT), unless the rule says "empty": "mask"."""
    for args in ((), ("--inserts",)):
        dump = pg_server.dump("values_typed", "--no-owner", *args) if args else typed_dump
        cp = _run(dm, tmp_path, dump, rules("typed", col("phone", "faker.phone")))
        assert cp.returncode == 0, cp.stderr.decode()
        db = pg_server.createdb("values_empty")
        pg_server.restore(db, cp.stdout)
        assert pg_server.scalar(db, "SELECT phone FROM typed WHERE id = 2") == ""
        assert pg_server.scalar(db, "SELECT phone FROM typed WHERE id = 1") not in ("", "555-0100")
    cp = _run(dm, tmp_path, typed_dump, rules("typed", col("phone", "faker.phone", empty="mask")))
    assert cp.returncode == 0
    row2 = re.search(rb"\n2\t[^\n]*", cp.stdout).group(0)
    assert row2.split(b"\t")[-1] != b""


ARRAYS_SQL = r"""
CREATE TABLE public.mail (id integer PRIMARY KEY, bcc_emails text[], names varchar(40)[], grid text[][],
                          moods public.mood[]);
INSERT INTO public.mail VALUES
 (1, ARRAY['a@x.org', NULL, 'b "q" \ c@x.org', ''], '{Ann,"Bob Smith"}', '{{a,b},{c,NULL}}', '{sad,ok}'),
 (2, '{}', NULL, '{}', '{}'),
 (3, ARRAY['NULL', 'x,y', '{z}'], '{" lead"}', '{{"}"}}', NULL);
"""


def test_arrays_elementwise_restore(pg_server, dm, tmp_path):
    db = pg_server.createdb("values_arr")
    pg_server.psql(db, "CREATE TYPE public.mood AS ENUM ('sad', 'ok');" + ARRAYS_SQL)
    for args in ((), ("--inserts",)):
        dump = pg_server.dump(db, "--no-owner", *args)
        cp = _run(dm, tmp_path, dump, rules("mail", col("bcc_emails", "faker.email"), col("names", "faker.firstName"),
                                            col("grid", "hash", length=8), col("moods", "redact")))
        assert cp.returncode == 0, cp.stderr.decode()
        out = pg_server.createdb("values_arr_out")
        pg_server.restore(out, cp.stdout)
        rows = {r["id"]: r for r in json.loads(pg_server.scalar(out, "SELECT json_agg(m) FROM mail m"))}
        e = rows[1]["bcc_emails"]
        assert len(e) == 4 and e[1] is None and e[3] == "" and all("@example." in x for x in (e[0], e[2]))
        assert rows[2]["bcc_emails"] == [] and rows[2]["names"] is None
        assert len(rows[3]["bcc_emails"]) == 3 and all("@example." in x for x in rows[3]["bcc_emails"])
        g = rows[1]["grid"]
        assert len(g) == 2 and len(g[0]) == 2 and g[1][1] is None and all(len(x) == 8 for x in (g[0][0], g[0][1], g[1][0]))
        assert rows[1]["moods"] == [] and rows[3]["moods"] is None
        assert all(len(x) <= 40 for x in rows[1]["names"])
    # the element type decides what fits: an enum element takes no fake names
    cp = _run(dm, tmp_path, dump, rules("mail", col("moods", "faker.name")))
    assert cp.returncode == 2 and "public.mood" in cp.stderr.decode()


def test_valid_for_and_injective_api():
    from dumpmask.transformers import injective_mutations, valid_for

    text, integer = classify("text"), classify("integer")
    text.name = integer.name = "c"
    assert valid_for("faker.email", {}, text) is None
    assert "injective" in valid_for("faker.phone", {}, text, unique=True)
    assert valid_for("hash", {}, text, unique=True) is None
    assert "integer" in valid_for("faker.email", None, integer)
    assert valid_for("nonsense", None, text).startswith("unknown mutation")
    assert injective_mutations(text) == ["hash", "faker.email", "faker.userName", "key", "keep"]
    assert injective_mutations(integer) == ["key", "keep"]  # hash has only 31 bits there
    big = classify("bigint")
    big.name = "b"
    assert injective_mutations(big) == ["hash", "key", "keep"]
    assert "bits" in valid_for("hash", {"length": 8}, text, unique=True)
    from dumpmask.schema import TableSchema

    ts = TableSchema(schema="public", name="t", columns=[text], unique=[("c",)])
    assert "UNIQUE (c) of public.t" in valid_for("faker.name", {}, text, table=ts)
    assert valid_for("faker.email", {}, text, table=ts) is None
    x = classify("xml")
    x.name = "x"
    assert "xml" in valid_for("faker.company", {}, x) and valid_for("hash", {}, x) is None
    g = classify("public.geometry(Point,4326)")
    g.name = "g"
    assert valid_for("redact", {}, g) and "null or keep" in valid_for("redact", {}, g)


def test_refused_on_a_pipe_before_the_data(typed_dump, dm, tmp_path):
    """On a pipe the enum is learnt from CREATE TYPE in the stream: still refused before any
    of the table's data."""
    cp = _run(dm, tmp_path, typed_dump, rules("typed", col("m", "static:happy")), pipe=True)
    assert cp.returncode == 2 and "labels" in cp.stderr.decode()
    assert b"COPY public.typed" not in cp.stdout
    assert cp.stdout.rstrip().endswith(b"DUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;")


LIT_TYPES = ["date", "timestamp", "timestamp with time zone", "time", "time with time zone", "interval", "uuid",
             "numeric(5,2)", "json", "jsonb", "bit(8)", "bit varying(5)", "inet", "cidr", "macaddr", "macaddr8", "money",
             "bytea", "integer", "smallint", "boolean", "real", "double precision", "text[]", "integer[]", "date[]"]
LIT_ALPHABET = "0123456789-:. TtZ+PYMDHSW{}\"abcdefx,/\\[]en$@"
LIT_WORDS = ["day", "days", "hour", "mon", "ago", "NaN", "Infinity", "null", "true", "T", "1999-01-01", "12:00", "::",
             "/8", "e5", "$", ",", "2001-02-03 04:05:06", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "08:00:2b:01:02:03",
             "\\x0102", "{1,2}", "P1D", "10.0.0.0"]


def test_accepted_literals_are_accepted_by_the_server(pg_server):
    """Soundness of the literal checks behind static/redact: every literal dumpmask accepts
    for a type, PostgreSQL accepts too (generated literals, checked in one query)."""
    import random

    from dumpmask.transformers.validity import literal_error

    rnd = random.Random(20261201)   # generated, deterministic: the same literals on every run
    pairs: list[tuple[str, str]] = []
    for t in LIT_TYPES:
        c = classify(t)
        c.name = "c"
        got: set[str] = set()
        for _ in range(4000):
            parts = [rnd.choice(LIT_WORDS) if rnd.random() < 0.3 else
                     "".join(rnd.choice(LIT_ALPHABET) for _ in range(rnd.randint(1, 4))) for _ in range(rnd.randint(1, 4))]
            v = rnd.choice(["", " "]).join(parts)
            if literal_error(v, c, "postgres") is None:
                got.add(v)
            if len(got) >= 40:
                break
        pairs += [(t, v) for v in sorted(got)]
    assert len(pairs) > 200
    db = pg_server.createdb("values_literals")
    pg_server.psql(db, """CREATE FUNCTION ok(v text, t text) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN EXECUTE format('SELECT %L::%s', v, t); RETURN true; EXCEPTION WHEN others THEN RETURN false; END $$;""")
    values = ", ".join("(" + ", ".join("'" + x.replace("'", "''") + "'" for x in p) + ")" for p in pairs)
    bad = pg_server.scalar(db, f"SELECT json_agg(json_build_array(t, v)) FROM (VALUES {values}) x(t, v) WHERE NOT ok(v, t)")
    assert not bad, bad


def test_pagila_enum_domain_array_restore(pg_server, pagila_db, dm, tmp_path):
    """Pagila's film: redact on the mpaa_rating enum (was '*****': the restore failed), on the
    `year` domain (was the integer minimum: its CHECK failed), special_features text[] masked
    element-wise."""
    dump = pg_server.dump(pagila_db, "--no-owner")
    cp = _run(dm, tmp_path, dump, rules("film", col("rating", "redact"), col("release_year", "redact"),
                                        col("special_features", "faker.lastName")))
    assert cp.returncode == 0, cp.stderr.decode()
    db = pg_server.createdb("values_pagila")
    pg_server.restore(db, cp.stdout)
    assert pg_server.scalar(db, "SELECT string_agg(DISTINCT rating::text, ',') FROM film") == "G"
    assert pg_server.scalar(db, "SELECT string_agg(DISTINCT release_year::text, ',') FROM film") == "1901"
    same = pg_server.scalar(db, "SELECT count(*) FROM film WHERE special_features && ARRAY['Trailers', 'Commentaries', "
                                "'Deleted Scenes', 'Behind the Scenes']")
    assert same == "0"
    shape = "SELECT sum(coalesce(array_length(special_features, 1), -1)) FROM film"
    assert pg_server.scalar(db, shape) == pg_server.scalar(pagila_db, shape)


def test_engine_rule_error(typed_dump, unique_dump, tmp_path):
    """Engine.rule_error (for scan --write-rules): the same verdicts as a run."""
    from dumpmask.engine import Engine

    for dump, table, good, bad in ((typed_dump, "typed", ("m", "redact"), ("m", "faker.name")),
                                   (typed_dump, "typed", ("y", "hash"), ("z", "faker.postcode")),
                                   (typed_dump, "typed", ("tags", "faker.email"), ("nums", "faker.email")),
                                   (unique_dump, "person", ("phone", "hash"), ("phone", "faker.phone"))):
        p = tmp_path / "d.sql"
        p.write_bytes(dump)
        eng = Engine(input_path=str(p))
        eng.set_dialect("postgres")
        eng.schema_prepass()
        ts = eng.table_state(("public", table))
        assert eng.rule_error(ts, good[0], good[1]) is None, good
        assert eng.rule_error(ts, bad[0], bad[1]), bad
