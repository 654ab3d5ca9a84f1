"""generalize.topcode with "percentile" / "minRows" (dumpmask/features/topcode.py): the cap is
the nearest-rank percentile of the column's non-NULL values (docs/reference.md), computed here
independently; minRows lowers it; a pipe is refused before any output; restores into the real
servers with every value <= the cap by a SQL query."""
from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TYPES = {"int": "integer", "num": "numeric(12,2)", "flt": "double precision"}


def oracle(values, p, min_rows):
    """Nearest rank: the ceil(p/100 * n)-th smallest; then, when fewer than min_rows values are
    >= it, the min_rows-th largest value."""
    vals = sorted(Decimal(v) for v in values if v is not None)
    n = len(vals)
    rank = max(1, math.ceil(Decimal(str(p)) * n / 100))
    thr = vals[rank - 1]
    lowered = sum(1 for v in vals if v >= thr) < min_rows
    if lowered:
        thr = sorted(vals, reverse=True)[min_rows - 1]
    return thr, lowered


def pg_dump_text(col_type, values) -> bytes:
    null = "\\N"
    rows = "".join(f"{i}\t{null if v is None else v}\n" for i, v in enumerate(values, 1))
    return (f"CREATE TABLE public.t (\n    id integer NOT NULL,\n    v {col_type}\n);\n\n"
            f"COPY public.t (id, v) FROM stdin;\n{rows}\\.\n\n").encode()


def rules(tmp_path, options, column="v", table="t"):
    p = tmp_path / "rules.json"
    p.write_text(json.dumps({"tables": [{"tableName": table, "columnMutations": [
        {"column": column, "mutation": "generalize.topcode", "options": options}]}]}))
    return p


def out_values(sql: bytes):
    lines = sql.decode().split("FROM stdin;\n", 1)[1].split("\\.\n", 1)[0].splitlines()
    return [None if f == "\\N" else f for f in (ln.split("\t")[1] for ln in lines)]


def topcode_record(audit_path):
    """Every "topcode" entry of the audit (a column entry's)."""
    found = []

    def walk(x):
        if isinstance(x, dict):
            if isinstance(x.get("topcode"), dict):
                found.append(x["topcode"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(json.loads(audit_path.read_text()))
    return found


values_of = {
    "int": st.integers(-10**6, 10**6).map(str),
    "num": st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False).map(lambda d: f"{d:.2f}"),
    "flt": st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32).map(repr),
}


@pytest.mark.parametrize("kind", sorted(TYPES))
@given(data=st.data())
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_cap_is_the_nearest_rank_percentile(tmp_path, dm, kind, data):
    vals = data.draw(st.lists(st.one_of(st.none(), values_of[kind]), min_size=1, max_size=60)
                     .filter(lambda xs: sum(x is not None for x in xs) >= 3))
    p = data.draw(st.sampled_from([1, 10, 25, 50, 75, 90, 99, 99.5, 33.3]))
    min_rows = data.draw(st.integers(1, 3))
    dump = tmp_path / "d.sql"
    dump.write_bytes(pg_dump_text(TYPES[kind], vals))
    audit = tmp_path / "a.json"
    r = dm("-c", rules(tmp_path, {"percentile": p, "minRows": min_rows}), dump, "--audit", audit)
    assert r.returncode == 0, r.stderr
    thr, lowered = oracle(vals, p, min_rows)
    rec, = topcode_record(audit)
    assert Decimal(rec["threshold"]) == thr and rec["lowered_for_min_rows"] == lowered
    assert rec["values"] == sum(v is not None for v in vals) and rec["source"] == "percentile"
    assert rec["rows_at_or_above"] == sum(1 for v in vals if v is not None and Decimal(v) >= thr)
    got = out_values(r.stdout)
    assert len(got) == len(vals)
    for before, after in zip(vals, got, strict=True):
        if before is None:
            assert after is None
        elif Decimal(before) <= thr:
            assert after == before            # values at or below the cap are kept as written
        else:
            assert Decimal(after) == thr      # the rest become the cap
    assert (b"lowered" in r.stderr) == lowered


def test_min_rows_lowers_the_cap_and_fewer_values_stop_the_run(tmp_path, dm):
    vals = [str(v) for v in range(1, 21)]   # 1..20: the 99th percentile is 20, one row at it
    dump = tmp_path / "d.sql"
    dump.write_bytes(pg_dump_text("integer", vals))
    audit = tmp_path / "a.json"
    r = dm("-c", rules(tmp_path, {"percentile": 99, "minRows": 4}), dump, "--audit", audit)
    assert r.returncode == 0, r.stderr
    rec, = topcode_record(audit)
    assert rec["threshold"] == "17" and rec["lowered_for_min_rows"] and rec["rows_at_or_above"] == 4
    assert out_values(r.stdout) == vals[:16] + ["17"] * 4
    assert b"lowered" in r.stderr
    # minRows above the number of values: exit 1, before any output, no traceback
    r = dm("-c", rules(tmp_path, {"percentile": 50, "minRows": 21}), dump)
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    assert b"COPY" not in r.stdout and b"minRows" in r.stderr and b"t.v" in r.stderr
    # with a lower fixed max, the max wins and the audit says so
    r = dm("-c", rules(tmp_path, {"percentile": 90, "max": 5, "minRows": 1}), dump, "--audit", audit)
    assert r.returncode == 0, r.stderr
    rec, = topcode_record(audit)
    assert rec["source"] == "max" and Decimal(rec["threshold"]) == 5
    assert out_values(r.stdout) == vals[:5] + ["5"] * 15


@pytest.mark.parametrize("col_type", ["date", "text", "timestamp without time zone", "boolean"])
def test_types_other_than_numbers_are_refused_at_load(tmp_path, dm, col_type):
    dump = tmp_path / "d.sql"
    dump.write_bytes(pg_dump_text(col_type, ["2020-01-01" if "t" in col_type[:1] or col_type == "date" else "x"]))
    r = dm("-c", rules(tmp_path, {"percentile": 50}), dump)
    assert r.returncode == 2 and b"Traceback" not in r.stderr, r.stderr
    assert b"COPY" not in r.stdout


@pytest.mark.parametrize("options, where", [
    ({"percentile": 0}, "percentile"), ({"percentile": 100}, "percentile"), ({"percentile": True}, "percentile"),
    ({"percentile": 50, "minRows": 0}, "minRows"), ({"minRows": 3}, "columnMutations[0].options"),
])
def test_bad_options_exit_2_naming_the_option(tmp_path, dm, options, where):
    dump = tmp_path / "d.sql"
    dump.write_bytes(pg_dump_text("integer", ["1", "2"]))
    r = dm("-c", rules(tmp_path, options), dump)
    assert r.returncode == 2 and where.encode() in r.stderr and b"Traceback" not in r.stderr, r.stderr


def test_a_pipe_is_refused_before_any_output(tmp_path, dm):
    data = pg_dump_text("integer", [str(v) for v in range(50)])
    r = dm("-c", rules(tmp_path, {"percentile": 90}), input=data)
    assert r.returncode == 2 and b"Traceback" not in r.stderr
    assert b"COPY" not in r.stdout and b"CREATE TABLE" not in r.stdout
    assert b"regular file" in r.stderr and b"percentile" in r.stderr
    # the fixed-max form works on the same pipe
    r = dm("-c", rules(tmp_path, {"max": 10}), input=data)
    assert r.returncode == 0 and out_values(r.stdout) == [str(min(v, 10)) for v in range(50)]


def test_same_input_same_bytes(tmp_path, dm):
    dump = tmp_path / "d.sql"
    dump.write_bytes(pg_dump_text("numeric(12,2)", [f"{v * 1.37:.2f}" for v in range(200)]))
    rp = rules(tmp_path, {"percentile": 95})
    a, b = dm("-c", rp, dump), dm("-c", rp, dump)
    assert a.returncode == 0 and a.stdout == b.stdout and a.stdout != dump.read_bytes()


def test_restores_into_postgresql_capped_by_sql(tmp_path, dm, pg_server):
    db = pg_server.createdb("topcode_src")
    pg_server.psql(db, "CREATE TABLE earner (id integer PRIMARY KEY, income numeric(12,2), age integer);"
                       "INSERT INTO earner SELECT g, (g * 37 % 1000) * 101.5, g % 97 FROM generate_series(1, 500) g;")
    dump = tmp_path / "pg.sql"
    dump.write_bytes(pg_server.dump(db))
    cap = Decimal(pg_server.scalar(db, "SELECT percentile_disc(0.9) WITHIN GROUP (ORDER BY income) FROM earner"))
    r = dm("-c", rules(tmp_path, {"percentile": 90}, column="income", table="earner"), dump)
    assert r.returncode == 0, r.stderr
    out = pg_server.createdb("topcode_out")
    pg_server.restore(out, r.stdout)
    assert Decimal(pg_server.scalar(out, "SELECT max(income) FROM earner")) == cap
    above = int(pg_server.scalar(db, f"SELECT count(*) FROM earner WHERE income >= {cap}"))
    assert int(pg_server.scalar(out, f"SELECT count(*) FROM earner WHERE income = {cap}")) == above
    assert pg_server.scalar(out, "SELECT count(*) FROM earner") == "500"


def test_restores_into_mariadb_capped_by_sql(tmp_path, dm, my_server):
    db = my_server.create("topcode_src")
    my_server.sql(db, "CREATE TABLE earner (id int PRIMARY KEY, age int, income decimal(12,2));"
                      + "INSERT INTO earner VALUES " + ",".join(f"({i}, {i * 7 % 101}, {i * 13 % 977}.25)"
                                                             for i in range(1, 301)) + ";")
    dump = tmp_path / "my.sql"
    dump.write_bytes(my_server.dump(db))
    ages = [str(i * 7 % 101) for i in range(1, 301)]
    cap, _ = oracle(ages, 80, 5)
    r = dm("-c", rules(tmp_path, {"percentile": 80}, column="age", table="earner"), dump)
    assert r.returncode == 0, r.stderr
    out = my_server.create("topcode_out")
    my_server.restore(out, r.stdout)
    assert Decimal(my_server.scalar(out, "SELECT max(age) FROM earner")) == cap
    assert my_server.scalar(out, f"SELECT count(*) FROM earner WHERE age > {cap}") == "0"
    kept = sum(1 for a in ages if int(a) < cap)
    assert int(my_server.scalar(out, f"SELECT count(*) FROM earner WHERE age < {cap}")) == kept
