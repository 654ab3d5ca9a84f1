"""Row conditions (`where` on a column mutation and on a table rule, issue #14): the language,
its checks at load, and masking only the rows it holds for, with the server as the oracle:
the rows whose value changed are exactly the rows the same predicate selects in SQL."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumpmask.conditions import compile_condition, validate
from dumpmask.errors import RulesError
from dumpmask.rules import load_rules
from dumpmask.schema import parse_create_table

TABLE = parse_create_table(b'CREATE TABLE public.p (id integer, status text, amount numeric(8,2), born date, '
                           b'seen timestamptz, active boolean, "Note" text);', "postgres")


def cond(spec):
    validate(spec, "$.where", None)
    return compile_condition(spec, TABLE, "postgres", "$.where", None)


# --------------------------------------------------------------------------- the language
@pytest.mark.parametrize("spec, row, expected", [
    ({"status": "active"}, {"status": "active"}, True),
    ({"status": {"in": ["active", "trial"]}}, {"status": "closed"}, False),
    ({"status": {"not in": ["active"]}}, {"status": "closed"}, True),
    ({"amount": {">=": 100}}, {"amount": "100.00"}, True),
    ({"amount": {">=": 100}}, {"amount": "99.99"}, False),
    ({"amount": 12.5}, {"amount": "12.50"}, True),                 # numbers as numbers, not text
    ({"amount": {"in": [1, 2]}}, {"amount": "2.00"}, True),
    ({"born": {"<": "1990-01-01"}}, {"born": "1989-12-31"}, True),
    ({"seen": {">=": "2020-01-01 00:00:00+00"}}, {"seen": "2020-01-01 01:00:00+02"}, False),   # UTC
    ({"active": True}, {"active": "t"}, True),
    ({"active": 0}, {"active": "f"}, True),
    ({'"Note"': {"like": "%corp\\_x%"}}, {"Note": "at corp_x here"}, True),
    ({'"Note"': {"like": "%corp\\_x%"}}, {"Note": "at corpAx here"}, False),
    ({'"Note"': {"not like": "a%"}}, {"Note": "bcd"}, True),
    ({"status": {"regex": "^A"}}, {"status": "Abc"}, True),
    ({"status": None}, {"status": None}, True),
    ({"status": {"is null": False}}, {"status": None}, False),
    ({"status": {"!=": "x"}}, {"status": None}, False),            # a comparison with NULL is false
    ({"not": {"status": "x"}}, {"status": None}, True),            # not negates it
    ({"or": [{"status": "x"}, {"amount": {"<": 0}}]}, {"status": "y", "amount": "-1"}, True),
    ({"and": [{"status": "x"}, {"amount": {"<": 0}}]}, {"status": "x", "amount": "1"}, False),
    ({"status": "x", "amount": {"<": 0}}, {"status": "x", "amount": "-3"}, True),   # one object: and
    ({"born": {">": "2000-01-01"}}, {"born": "infinity"}, False),  # not a date: false
])
def test_condition(spec, row, expected):
    assert cond(spec)(row) is expected


@given(st.decimals(min_value=-10**6, max_value=10**6, places=2),
       st.decimals(min_value=-10**6, max_value=10**6, places=2),
       st.sampled_from(["<", "<=", ">", ">=", "=", "!="]))
@settings(max_examples=200, deadline=None)
def test_numeric_comparison_is_numeric(value, literal, op):
    import operator

    ops = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq,
           "!=": operator.ne}
    c = cond({"amount": {op: float(literal)}})
    assert c({"amount": str(value)}) is ops[op](value, Decimal(str(float(literal))))


@pytest.mark.parametrize("spec, where, says", [
    ({"nope": 1}, "$.where.nope", "does not have"),
    ({"amount": {">": "abc"}}, "$.where.amount.>", "not a number"),
    ({"born": {"<": "yesterday"}}, "$.where.born.<", "not a date"),
    ({"status": {"between": [1, 2]}}, "$.where.status.between", "unknown operator"),
    ({"status": {"in": "a"}}, "$.where.status.in", "list"),
    ({"status": {"regex": "("}}, "$.where.status.regex", "regular expression"),
    ({"status": {"is null": "yes"}}, "$.where.status.is null", "true or false"),
    ({"or": []}, "$.where.or", "non-empty list"),
    ({}, "$.where", "non-empty object"),
])
def test_bad_conditions_name_their_json_path(spec, where, says):
    with pytest.raises(RulesError) as e:
        cond(spec)
    assert e.value.where == where and says in str(e.value)


def test_rules_file_where_and_action():
    rs = load_rules("r.json", json.dumps({"tables": [{"tableName": "t", "where": {"a": 1}, "columnMutations": [
        {"column": "x", "mutation": "redact", "where": {"b": 2}}, {"column": "y", "mutation": "redact"}]}]}).encode())
    x, y = rs.tables[0].columns
    assert x.condition == {"and": [{"a": 1}, {"b": 2}]} and y.condition == {"a": 1}
    for bad, where in [({"tableName": "t", "action": "drop"}, "$.tables[0].action"),
                       ({"tableName": "t", "action": "erase", "where": {"a": 1}}, "$.tables[0].action"),
                       ({"tableName": "t", "where": {"a": {"~": 1}}}, "$.tables[0].where.a.~")]:
        with pytest.raises(RulesError) as e:
            load_rules("r.json", json.dumps({"tables": [bad]}).encode())
        assert e.value.where == where


# --------------------------------------------------------------------------- end to end
PG = """CREATE TABLE "Kunde" (id integer PRIMARY KEY, email text, status text, amount numeric(8,2), born date,
  note text);
INSERT INTO "Kunde" SELECT g, 'user' || g || '@corp.example',
  (ARRAY['active','trial','closed',NULL])[1 + g % 4], (g * 37 % 1000) / 10.0,
  CASE WHEN g % 5 = 0 THEN NULL ELSE date '1950-01-01' + g * 11 END,
  CASE WHEN g % 3 = 0 THEN E'tab\\there ' || g ELSE 'Ωμέγα ' || g END
FROM generate_series(1, 400) g;
"""
RULES = {"tables": [{"tableName": '"Kunde"', "columnMutations": [
    {"column": "email", "mutation": "faker.email", "where": {"status": {"in": ["active", "trial"]}}},
    {"column": "note", "mutation": "redact",
     "where": {"or": [{"amount": {">=": 50}}, {"born": {"is null": True}}, {"note": {"like": "tab%"}}]}}]}]}
SQL_EMAIL = "status IN ('active', 'trial')"
SQL_NOTE = "amount >= 50 OR born IS NULL OR note LIKE 'tab%'"


def _changed_ids(before: dict, after: dict, col: int) -> set:
    return {k for k in before if before[k][col] != after[k][col]}


@pytest.mark.parametrize("dump_args", [(), ("--inserts",), ("--column-inserts", "--rows-per-insert=7")],
                         ids=["copy", "inserts", "multi-row-inserts"])
def test_where_masks_exactly_the_rows_sql_selects_pg(tmp_path, dm, pg_server, dump_args):
    db = pg_server.createdb("cond_src")
    pg_server.psql(db, PG)
    dump = tmp_path / "in.sql"
    dump.write_bytes(pg_server.dump(db, *dump_args))
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps(RULES))
    r = dm("-c", rules, dump, "--audit", tmp_path / "a.json")
    assert r.returncode == 0, r.stderr.decode()
    r2 = dm("-c", rules, dump, "-j", "2")
    assert r2.returncode == 0 and r2.stdout == r.stdout           # the condition travels to the workers
    out = pg_server.createdb("cond_out")
    pg_server.restore(out, r.stdout)

    def rows(d):
        return {int(line.split("|")[0]): line.split("|") for line in
                pg_server.psql(d, 'SELECT id, email, note FROM "Kunde" ORDER BY id').splitlines()}

    before, after = rows(db), rows(out)
    want_email = {int(x) for x in pg_server.psql(db, f'SELECT id FROM "Kunde" WHERE {SQL_EMAIL}').split()}
    want_note = {int(x) for x in pg_server.psql(db, f'SELECT id FROM "Kunde" WHERE {SQL_NOTE}').split()}
    assert _changed_ids(before, after, 1) == want_email
    assert _changed_ids(before, after, 2) == want_note
    audit = json.loads((tmp_path / "a.json").read_text())["tables"]["public.Kunde"]["columns"]
    assert audit["email"]["rows_matched"] == len(want_email) == audit["email"]["changed"]
    assert audit["note"]["rows_matched"] == len(want_note)


MY = """CREATE TABLE kunde (id int PRIMARY KEY, email varchar(80), status varchar(10), amount decimal(8,2),
  born date, note text);
"""


def test_where_masks_exactly_the_rows_sql_selects_mysql(tmp_path, dm, my_server):
    db = my_server.create("cond_src")
    values = ",".join(
        f"({g}, 'user{g}@corp.example', {['NULL', repr('active'), repr('trial'), repr('closed')][g % 4]}, "
        f"{(g * 37 % 1000) / 10.0}, {'NULL' if g % 5 == 0 else repr(f'19{50 + g % 49}-01-{1 + g % 27:02d}')}, "
        f"{repr(f'tab{chr(92)}there {g}') if g % 3 == 0 else repr(f'Ωμέγα {g}')})" for g in range(1, 301))
    my_server.sql(db, MY + f"INSERT INTO kunde VALUES {values};")
    dump = tmp_path / "in.sql"
    dump.write_bytes(my_server.dump(db))
    rules = json.loads(json.dumps(RULES).replace('"\\"Kunde\\""', '"kunde"'))
    p = tmp_path / "r.json"
    p.write_text(json.dumps(rules))
    r = dm("-c", p, dump)
    assert r.returncode == 0, r.stderr.decode()
    out = my_server.create("cond_out")
    my_server.restore(out, r.stdout)

    def rows(d):
        return {int(line.split("\t")[0]): line.split("\t") for line in
                my_server.sql(d, "SELECT id, email, note FROM kunde ORDER BY id").splitlines() if line[:1].isdigit()}

    before, after = rows(db), rows(out)
    sel = my_server.sql
    want_email = {int(x) for x in sel(db, f"SELECT id FROM kunde WHERE {SQL_EMAIL}").split() if x.isdigit()}
    want_note = {int(x) for x in sel(db, f"SELECT id FROM kunde WHERE {SQL_NOTE}").split() if x.isdigit()}
    assert want_email and want_note
    assert _changed_ids(before, after, 1) == want_email
    assert _changed_ids(before, after, 2) == want_note


def test_table_where_applies_to_every_column_rule(tmp_path, dm):
    dump = ("CREATE TABLE public.t (id integer, region text, email text, phone text);\n"
            "COPY public.t (id, region, email, phone) FROM stdin;\n"
            "1\tEU\ta@x.org\t555\n2\tUS\tb@x.org\t556\n\\.\n")
    rules = {"tables": [{"tableName": "t", "where": {"region": "EU"}, "columnMutations": [
        {"column": "email", "mutation": "redact"}, {"column": "phone", "mutation": "redact", "where": {"id": {">": 5}}}]}]}
    p = tmp_path / "r.json"
    p.write_text(json.dumps(rules))
    r = dm("-c", p, input=dump.encode())
    assert r.returncode == 0, r.stderr.decode()
    assert b"1\tEU\t*****\t555\n2\tUS\tb@x.org\t556\n" in r.stdout


def test_a_condition_on_an_unknown_column_stops_before_the_data(tmp_path, dm):
    dump = "CREATE TABLE public.t (id integer, email text);\nCOPY public.t (id, email) FROM stdin;\n1\tsecret@x.org\n\\.\n"
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"tables": [{"tableName": "t", "columnMutations": [
        {"column": "email", "mutation": "redact", "where": {"stauts": "x"}}]}]}))
    r = dm("-c", p, input=dump.encode())
    assert r.returncode == 2
    assert "$.tables[0].columnMutations[0].where.stauts" in r.stderr.decode()
    assert b"secret@x.org" not in r.stdout


def test_preview_shows_the_condition(tmp_path, dm):
    dump = tmp_path / "d.sql"
    dump.write_text("CREATE TABLE public.t (id integer, email text);\n"
                    "COPY public.t (id, email) FROM stdin;\n1\ta@x.org\n2\tb@x.org\n\\.\n")
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"tables": [{"tableName": "t", "columnMutations": [
        {"column": "email", "mutation": "redact", "where": {"id": 2}}]}]}))
    r = dm("preview", "-c", p, dump)
    assert r.returncode == 0, r.stderr.decode()
    text = r.stdout.decode() + r.stderr.decode()
    assert "a@x.org" in text and "*****" in text
