"""partial, partial.email, noise, choice, faker (any provider) and list (issue #15): their
shapes, determinism under the key, their checks at load, and dumps that restore."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumpmask.crypto import Key
from dumpmask.errors import RulesError
from dumpmask.schema import classify
from dumpmask.transformers import REGISTRY
from conftest import OTHER_KEY, TEST_KEY

KEY = Key(TEST_KEY)
OTHER = Key(OTHER_KEY)


def make(name, options, type_text="text", key=KEY):
    c = classify(type_text)
    c.name = "c"
    t = REGISTRY[name](key, options, c)
    t.bind_dialect("postgres")
    return t


@given(st.text(min_size=0, max_size=40), st.integers(0, 8), st.integers(0, 8))
@settings(max_examples=300, deadline=None)
def test_partial_keeps_length_and_ends(value, first, last):
    out = make("partial", {"first": first, "last": last})(value)
    assert len(out) == len(value)
    if len(value) > first + last:
        assert out[:first] == value[:first] and (last == 0 or out[-last:] == value[-last:])
        assert set(out[first:len(value) - last]) == {"*"}
    else:
        assert set(out) <= {"*"}


def test_partial_email():
    assert make("partial.email", {})("anna@corp.example") == "a***@corp.example"
    assert make("partial.email", {"keep": "none", "fill": "#"})("anna@corp.example") == "####@corp.example"
    assert make("partial.email", {})("no-at-sign") == "*" * 10


@given(st.decimals(min_value=-10**6, max_value=10**6, places=2))
@settings(max_examples=300, deadline=None)
def test_noise_relative_stays_within_bounds_and_is_keyed(v):
    t = make("noise", {"relative": 0.1}, "numeric(12,2)")
    out = Decimal(t(str(v)))
    assert abs(out - v) <= abs(v) * Decimal("0.1") + Decimal("0.01")
    assert t(str(v)) == make("noise", {"relative": 0.1}, "numeric(12,2)")(str(v))   # deterministic
    assert len(t(str(v)).split(".")[1]) == 2


def test_noise_changes_with_the_key_and_keeps_types():
    vals = [str(i * 7) for i in range(1, 200)]
    a = [make("noise", {"absolute": 50}, "integer")(v) for v in vals]
    b = [make("noise", {"absolute": 50}, "integer", OTHER)(v) for v in vals]
    assert a != b and all(x.lstrip("-").isdigit() for x in a)
    assert make("noise", {"absolute": 50}, "smallint")("32760") <= "32767"
    d = make("noise", {"days": 30}, "timestamptz")("2020-05-17 10:11:12+02")
    assert d.endswith(" 10:11:12+02") and d != "2020-05-17 10:11:12+02"


def test_choice_weights_and_determinism():
    t = make("choice", {"values": ["a", "b", "c"], "weights": [1, 1, 8]})
    picks = [t(str(i)) for i in range(4000)]
    assert picks == [make("choice", {"values": ["a", "b", "c"], "weights": [1, 1, 8]})(str(i)) for i in range(4000)]
    assert 0.75 < picks.count("c") / len(picks) < 0.85


def test_faker_any_provider_and_list():
    job = make("faker", {"provider": "job"})
    assert job("x") == job("x") and job("x") != "x"
    assert make("faker", {"provider": "numerify", "args": {"text": "###-###"}})("x")[3] == "-"
    out = make("list", {"mutation": "faker.email"})("a@x.org, b@y.org,,c@z.org")
    parts = out.split(",")
    assert len(parts) == 4 and parts[2] == "" and parts[1].startswith(" ") and "a@x.org" not in out
    assert make("list", {"mutation": "faker.email"})("a@x.org").split(",")[0] == parts[0]


@pytest.mark.parametrize("name, options, type_text, says", [
    ("faker", {"provider": "no_such_provider"}, "text", "no provider"),
    ("faker", {"provider": "seed_instance"}, "text", "not a value generator"),
    ("faker", {"provider": "pylist"}, "text", "not text"),
    ("noise", {"relative": 0.1, "absolute": 1}, "integer", "exactly one"),
    ("noise", {"relative": -1}, "integer", "> 0"),
    ("list", {"mutation": "list"}, "text", "cannot be"),
    ("list", {"mutation": "faker.emial"}, "text", "unknown mutation"),
    ("partial", {"fill": "ab"}, "text", "one character"),
    ("choice", {"values": []}, "text", "non-empty"),
    ("choice", {"values": ["a", "b"], "weights": [1]}, "text", "one number"),
])
def test_bad_options_are_rules_errors(name, options, type_text, says):
    with pytest.raises(RulesError) as e:
        make(name, options, type_text)
    assert says in str(e.value)


# --------------------------------------------------------------------------- restores
RULES = {"tables": [{"tableName": "acct", "columnMutations": [
    {"column": "card", "mutation": "partial", "options": {"first": 6, "last": 4}},
    {"column": "email", "mutation": "partial.email"},
    {"column": "balance", "mutation": "noise", "options": {"relative": 0.05}},
    {"column": "opened", "mutation": "noise", "options": {"days": 60}},
    {"column": "tier", "mutation": "choice", "options": {"values": ["gold", "silver", "bronze"]}},
    {"column": "job", "mutation": "faker", "options": {"provider": "job"}},
    {"column": "cc", "mutation": "list", "options": {"mutation": "faker.email", "separator": ";"}}]}]}


def _rows(n=200):
    return [(i, f"4111{i:012d}", f"user{i}@corp.example", f"{i * 13.25:.2f}", f"20{10 + i % 10}-0{1 + i % 9}-1{i % 9}",
             ["gold", "silver"][i % 2], "Ωμέγα engineer", f"a{i}@x.org;b{i}@y.org") for i in range(1, n + 1)]


def _check(before_text: str, after_text: str):
    for i in (1, 50, 200):
        assert f"user{i}@corp.example" not in after_text and f"a{i}@x.org" not in after_text
        assert f"4111{i:012d}" not in after_text
    assert "411100******" in after_text and "@corp.example" in after_text


def test_restores_pg(tmp_path, dm, pg_server):
    db = pg_server.createdb("shapes_src")
    values = ",".join("({}, '{}', '{}', {}, '{}', '{}', '{}', '{}')".format(*r) for r in _rows())
    pg_server.psql(db, "CREATE TABLE acct (id integer PRIMARY KEY, card char(16), email text, balance numeric(10,2), "
                       "opened date, tier text CHECK (tier IN ('gold','silver','bronze')), job varchar(200), cc text);"
                       f"INSERT INTO acct VALUES {values};")
    dump = tmp_path / "in.sql"
    dump.write_bytes(pg_server.dump(db))
    (tmp_path / "r.json").write_text(json.dumps(RULES))
    r = dm("-c", tmp_path / "r.json", dump)
    assert r.returncode == 0, r.stderr.decode()
    out = pg_server.createdb("shapes_out")
    pg_server.restore(out, r.stdout)
    _check(dump.read_text(), pg_server.psql(out, "SELECT * FROM acct"))
    total = Decimal(pg_server.scalar(db, "SELECT sum(balance) FROM acct"))
    assert abs(Decimal(pg_server.scalar(out, "SELECT sum(balance) FROM acct")) - total) < total * Decimal("0.05")


def test_restores_mysql(tmp_path, dm, my_server):
    db = my_server.create("shapes_src")
    values = ",".join("({}, '{}', '{}', {}, '{}', '{}', '{}', '{}')".format(*r) for r in _rows())
    my_server.sql(db, "CREATE TABLE acct (id int PRIMARY KEY, card char(16), email varchar(80), balance decimal(10,2), "
                      "opened date, tier enum('gold','silver','bronze'), job varchar(200), cc text);"
                      f"INSERT INTO acct VALUES {values};")
    dump = tmp_path / "in.sql"
    dump.write_bytes(my_server.dump(db))
    (tmp_path / "r.json").write_text(json.dumps(RULES))
    r = dm("-c", tmp_path / "r.json", dump)
    assert r.returncode == 0, r.stderr.decode()
    out = my_server.create("shapes_out")
    my_server.restore(out, r.stdout)
    _check(dump.read_text(), my_server.sql(out, "SELECT * FROM acct"))


def test_a_choice_value_that_is_not_of_the_type_stops_the_run(tmp_path, dm):
    dump = "CREATE TABLE public.t (id integer, n integer);\nCOPY public.t (id, n) FROM stdin;\n1\t5\n\\.\n"
    (tmp_path / "r.json").write_text(json.dumps({"tables": [{"tableName": "t", "columnMutations": [
        {"column": "n", "mutation": "choice", "options": {"values": ["1", "two"]}}]}]}))
    r = dm("-c", tmp_path / "r.json", input=dump.encode())
    assert r.returncode == 2 and "'two'" in r.stderr.decode()
