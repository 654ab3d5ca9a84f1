"""k-anonymity (issue #14): generalizing mutations, options.kAnonymity (fail, suppress, report)
and `dumpmask kanon`, with the server counting the classes of the restored copy as the oracle."""
from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumpmask.crypto import Key
from dumpmask.errors import RulesError
from dumpmask.rules import load_rules
from dumpmask.schema import classify
from dumpmask.transformers import REGISTRY
from conftest import TEST_KEY

KEY = Key(TEST_KEY)


def make(name, options, type_text):
    c = classify(type_text)
    c.name = "c"
    return REGISTRY[name](KEY, options, c)


# --------------------------------------------------------------------------- generalizations
@given(st.integers(min_value=-2**31, max_value=2**31 - 1), st.integers(min_value=1, max_value=1000))
@settings(max_examples=300, deadline=None)
def test_bucket_is_the_lower_bound_of_its_band_and_stays_in_the_type(v, width):
    out = int(make("generalize.bucket", {"width": width}, "integer")(str(v)))
    assert -2**31 <= out <= v and (out % width == 0 or out == -2**31)
    assert v - out < width or out == -2**31


@given(st.decimals(min_value=-10**5, max_value=10**5, places=2))
@settings(max_examples=200, deadline=None)
def test_bucket_keeps_the_decimals_of_a_numeric(v):
    out = make("generalize.bucket", {"width": 2.5}, "numeric(8,2)")(str(v))
    assert len(out.split(".")[1]) == 2 and Decimal(out) <= v < Decimal(out) + Decimal("2.5")


@pytest.mark.parametrize("name, options, type_text, value, expected", [
    ("generalize.prefix", {"length": 3, "fill": "*"}, "text", "02134", "021**"),
    ("generalize.prefix", {}, "varchar(10)", "SW1A 1AA", "SW1"),
    ("generalize.prefix", {"length": 3}, "text", "Ωμέγα", "Ωμέ"),
    ("generalize.topcode", {"max": 90}, "integer", "97", "90"),
    ("generalize.topcode", {"max": 90}, "integer", "42", "42"),
    ("generalize.topcode", {"max": 1000}, "numeric(10,2)", "1500.50", "1000.00"),
    ("generalize.date", {}, "date", "1987-06-15", "1987-01-01"),
    ("generalize.date", {"to": "month"}, "timestamptz", "2020-05-17 10:11:12.5+02", "2020-05-01 00:00:00+02"),
    ("generalize.date", {}, "timestamp", "infinity", "infinity"),
])
def test_generalizations(name, options, type_text, value, expected):
    assert make(name, options, type_text)(value) == expected


@pytest.mark.parametrize("name, options, type_text", [
    ("generalize.bucket", {"width": 0}, "integer"), ("generalize.bucket", {"width": 2.5}, "integer"),
    ("generalize.topcode", {"max": 40000}, "smallint"), ("generalize.prefix", {"length": 2, "fill": "ab"}, "text"),
])
def test_generalization_options_that_cannot_hold_are_refused(name, options, type_text):
    with pytest.raises(RulesError):
        make(name, options, type_text)


@pytest.mark.parametrize("opts, where", [
    ({"k": 5}, "$.options.kAnonymity.quasiIdentifiers"),
    ({"quasiIdentifiers": {"t": []}, "k": 5}, "$.options.kAnonymity.quasiIdentifiers['t']"),
    ({"quasiIdentifiers": {"t": ["a", "a"]}, "k": 5}, "$.options.kAnonymity.quasiIdentifiers['t']"),
    ({"quasiIdentifiers": {"t": ["a"]}, "k": 1}, "$.options.kAnonymity.k"),
    ({"quasiIdentifiers": {"t": ["a"]}, "k": 3, "action": "delete"}, "$.options.kAnonymity.action"),
    ({"quasiIdentifiers": {"t": ["a"]}, "k": 3, "kk": 1}, "$.options.kAnonymity.kk"),
])
def test_bad_kanonymity_options(opts, where):
    with pytest.raises(RulesError) as e:
        load_rules("r.json", json.dumps({"options": {"kAnonymity": opts}}).encode())
    assert e.value.where == where


# --------------------------------------------------------------------------- end to end
QI = ["zip", "age", "sex"]
GENERALIZE = [{"column": "zip", "mutation": "generalize.prefix", "options": {"length": 3}},
              {"column": "age", "mutation": "generalize.bucket", "options": {"width": 10}},
              {"column": "name", "mutation": "faker.name"}]


def rules(action: str, k: int = 3, table: str = "patient") -> dict:
    return {"options": {"kAnonymity": {"quasiIdentifiers": {table: QI}, "k": k, "action": action}},
            "tables": [{"tableName": table, "columnMutations": GENERALIZE}]}


def patients(n=400, seed=7):
    rnd = random.Random(seed)
    zips = ["02134", "02139", "02141", "10001", "10003", "94110", "94117", "60614"]
    out = []
    for i in range(1, n + 1):
        z = rnd.choice(zips) if rnd.random() < 0.97 else f"{rnd.randint(0, 99999):05d}"   # some rare ZIPs
        out.append((i, z, rnd.randint(18, 95), rnd.choice("FM"), rnd.choice(["Ann", "Zoë", "Łucja", "Mei"])))
    return out


def pg_table(pg_server, db, rows):
    values = ",".join(f"({i}, '{z}', {a}, '{s}', '{n}')" for i, z, a, s, n in rows)
    pg_server.psql(db, "CREATE TABLE patient (id integer PRIMARY KEY, zip text, age integer, sex text, name text);"
                       f"INSERT INTO patient VALUES {values};")


def small_classes_sql(k):
    return (f"SELECT count(*) FROM (SELECT zip, age, sex FROM patient WHERE zip IS NOT NULL "
            f"GROUP BY zip, age, sex HAVING count(*) < {k}) s")


def write(tmp_path, name, doc):
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


def test_suppress_leaves_no_class_below_k_pg(tmp_path, dm, pg_server):
    db = pg_server.createdb("kanon_src")
    pg_table(pg_server, db, patients())
    dump = tmp_path / "in.sql"
    dump.write_bytes(pg_server.dump(db))
    r = dm("-c", write(tmp_path, "r.json", rules("suppress")), dump, "--audit", tmp_path / "a.json")
    assert r.returncode == 0, r.stderr.decode()
    r2 = dm("-c", tmp_path / "r.json", dump, "-j", "2")
    assert r2.stdout == r.stdout
    out = pg_server.createdb("kanon_out")
    pg_server.restore(out, r.stdout)
    assert pg_server.scalar(out, small_classes_sql(3)) == "0"
    suppressed = int(pg_server.scalar(out, "SELECT count(*) FROM patient WHERE zip IS NULL"))
    t = json.loads((tmp_path / "a.json").read_text())["kAnonymity"]["tables"]["public.patient"]
    assert suppressed == t["rows_suppressed"] == t["rows_below_k"] > 0
    assert int(pg_server.scalar(out, "SELECT count(*) FROM patient WHERE age IS NULL AND sex IS NULL")) == suppressed
    # generalized as asked: ZIP3, decades
    assert pg_server.scalar(out, "SELECT count(*) FROM patient WHERE length(zip) <> 3 OR age % 10 <> 0") == "0"


def test_fail_stops_before_any_output_and_report_matches_sql(tmp_path, dm, pg_server):
    db = pg_server.createdb("kanon_src2")
    pg_table(pg_server, db, patients(seed=9))
    dump = tmp_path / "in.sql"
    dump.write_bytes(pg_server.dump(db))
    r = dm("-c", write(tmp_path, "f.json", rules("fail")), dump)
    assert r.returncode == 1 and b"COPY " not in r.stdout
    err = r.stderr.decode()
    assert "not 3-anonymous" in err and "Traceback" not in err
    # the same rules on a pipe, report only: the audit's figures are the server's over the copy
    r = dm("-c", tmp_path / "f.json", "--k-report-only", "--audit", tmp_path / "a.json", input=dump.read_bytes())
    assert r.returncode == 0, r.stderr.decode()
    out = pg_server.createdb("kanon_out2")
    pg_server.restore(out, r.stdout)
    sizes = [int(x) for x in pg_server.psql(out, "SELECT count(*) FROM patient GROUP BY zip, age, sex").split()]
    t = json.loads((tmp_path / "a.json").read_text())["kAnonymity"]["tables"]["public.patient"]
    assert t["achieved_k"] == min(sizes) and t["classes"] == len(sizes)
    assert t["rows_below_k"] == sum(n for n in sizes if n < 3)
    # dumpmask kanon prints the same and exits 1 (below k)
    r = dm("kanon", "-c", tmp_path / "f.json", dump, "--json")
    assert r.returncode == 1
    assert json.loads(r.stdout)["tables"]["public.patient"]["achieved_k"] == min(sizes)
    r = dm("-c", tmp_path / "f.json", input=dump.read_bytes())
    assert r.returncode == 2 and "--k-report-only" in r.stderr.decode()


def test_suppress_mysql(tmp_path, dm, my_server):
    db = my_server.create("kanon_src")
    values = ",".join(f"({i}, '{z}', {a}, '{s}', '{n}')" for i, z, a, s, n in patients(300, seed=3))
    my_server.sql(db, "CREATE TABLE patient (id int PRIMARY KEY, zip varchar(5), age int, sex char(1), name text);"
                      f"INSERT INTO patient VALUES {values};")
    dump = tmp_path / "in.sql"
    dump.write_bytes(my_server.dump(db))
    r = dm("-c", write(tmp_path, "r.json", rules("suppress", k=4)), dump)
    assert r.returncode == 0, r.stderr.decode()
    out = my_server.create("kanon_out")
    my_server.restore(out, r.stdout)
    assert my_server.scalar(out, small_classes_sql(4)) == "0"
    assert int(my_server.scalar(out, "SELECT count(*) FROM patient WHERE zip IS NULL")) > 0


def test_suppress_refuses_a_not_null_quasi_identifier(tmp_path, dm):
    dump = tmp_path / "d.sql"
    dump.write_text("CREATE TABLE public.patient (id integer, zip text NOT NULL, age integer, sex text, name text);\n"
                    "COPY public.patient (id, zip, age, sex, name) FROM stdin;\n1\t02134\t30\tF\tAnn\n\\.\n")
    r = dm("-c", write(tmp_path, "r.json", rules("suppress")), dump)
    assert r.returncode == 2 and "NOT NULL" in r.stderr.decode()
