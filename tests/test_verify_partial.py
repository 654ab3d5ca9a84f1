"""--verify on runs that write fewer rows than they read (--first, --last, --erase, --only, a drop
rule with `where`), on real dumps of a schema created here, PostgreSQL and MariaDB: the leak check
pairs each input row with the row it became (engine.WrittenRows), so a generated first name equal
to another row's original name is no leak, while a genuine leak in the same run is still found:
a column kept in clear that holds the e-mails a rule masks elsewhere (a copy), and a mutation that
gives back its input (a `list` whose elements are kept). Before the pairing every such fake of
the tables whose counts differ was a leak (exit 1 on the safe rules too)."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.servers

N = 240          # cust rows (ord: 2 per cust)
# common first names, so the generated first names collide with other rows' originals
NAMES = ["Mary", "John", "James", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
         "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
         "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Sandra", "Donald", "Ashley"]


def _cust_rows():
    for g in range(1, N + 1):
        email = f"person.{g}@mail.example"
        yield (g, NAMES[g % len(NAMES)], email, f"a{g}@x.example, b{g}@y.example",
               email if g % 3 == 0 else "none", ["active", "trial", "closed"][g % 3])


def _q(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _sql(dialect: str) -> str:
    q = _q
    text = "text" if dialect == "pg" else "varchar(80)"
    ddl = (f"CREATE TABLE cust (id integer PRIMARY KEY, name {text}, email {text}, tags {text}, contact {text}, "
           f"status {text});\n"
           f"CREATE TABLE ord (id integer PRIMARY KEY, cust_id integer REFERENCES cust (id), memo {text});\n")
    cust = ", ".join("(" + ", ".join([str(r[0])] + [q(v) for v in r[1:]]) + ")" for r in _cust_rows())
    ords = ", ".join(f"({g}, {1 + g % N}, 'order {g}')" for g in range(1, 2 * N + 1))
    return ddl + f"INSERT INTO cust VALUES {cust};\nINSERT INTO ord VALUES {ords};\n"


@pytest.fixture(scope="module")
def dumps(tmp_path_factory, pg_server, my_server):
    d = tmp_path_factory.mktemp("verifypartial")
    db = pg_server.createdb("verifypartial_src")
    pg_server.psql(db, _sql("pg"))
    out = {"pg": d / "pg.sql", "mysql": d / "my.sql"}
    out["pg"].write_bytes(pg_server.dump(db))
    mdb = my_server.create("verifypartial_src")
    my_server.sql(mdb, _sql("mysql"))
    out["mysql"].write_bytes(my_server.dump(mdb))
    return out


def _rules(tmp_path, leaking: bool, drop: bool):
    # (the e-mails hashed, not faked: a fake e-mail holds generated first names, and one that
    # holds its own row's original first name in two of a handful of rows is verify's
    # "column gives back its rows' values" rule, with or without a partial run)
    cols = [{"column": "name", "mutation": "faker.firstName"}, {"column": "email", "mutation": "hash"}]
    if leaking:
        # contact (a copy of the e-mail for every third row) kept in clear; tags' elements kept
        cols += [{"column": "tags", "mutation": "list", "options": {"mutation": "keep"}}]
    else:
        cols += [{"column": "tags", "mutation": "list", "options": {"mutation": "hash"}},
                 {"column": "contact", "mutation": "hash"}]
    table = {"tableName": "cust", "columnMutations": cols}
    if drop:
        table.update({"action": "drop", "where": {"status": {"in": ["closed", "trial"]}}})
    p = tmp_path / ("leak.json" if leaking else "safe.json")
    p.write_text(json.dumps({"tables": [table]}), encoding="utf-8")
    return p


CUTS = {"first": ("--first", "20"), "last": ("--last", "25"), "erase": ("--erase", "cust:7,8,9"),
        "only": ("--only", "cust:12"), "drop": ()}


@pytest.mark.parametrize("cut", list(CUTS))
@pytest.mark.parametrize("dialect", ["pg", "mysql"])
def test_verify_pairs_rows_of_partial_runs(tmp_path, dm, dumps, dialect, cut):
    src = dumps[dialect]
    safe, audit, out = _rules(tmp_path, False, cut == "drop"), tmp_path / "a.json", tmp_path / "out.sql"
    r = dm("-c", safe, src, *CUTS[cut], "--verify", "-o", out, "--audit", audit)
    assert r.returncode == 0 and out.exists(), r.stderr.decode()
    doc = json.loads(audit.read_text())
    v = doc["verification"]
    assert v["result"] == "passed" and v["leaks"] == [] and "unpaired" not in v, v
    assert "public.cust" in v["rows_paired_by_record"] or "cust" in " ".join(v["rows_paired_by_record"]), v
    # the run did write fewer rows of cust than it read (else this tests nothing)
    cust = next(t for name, t in doc["tables"].items() if name.endswith("cust"))
    assert cust["rows_written"] < cust["rows_read"] == N, cust

    leak, out2 = _rules(tmp_path, True, cut == "drop"), tmp_path / "out2.sql"
    r = dm("-c", leak, src, *CUTS[cut], "--verify", "-o", out2, "--audit", tmp_path / "a2.json")
    err = r.stderr.decode()
    assert r.returncode == 1 and not out2.exists(), err
    v = json.loads((tmp_path / "a2.json").read_text())["verification"]
    leaked = {x["column"] for x in v["leaks"]}
    # the e-mails kept in clear in contact (every third row), the tags given back
    assert "tags" in leaked, v
    if cut != "only" or 12 % 3 == 0:
        assert "email" in leaked, v
    assert "tags" in err and "person." not in err, err


def test_dumpmask_verify_after_a_partial_run_says_not_verifiable(tmp_path, dm, dumps):
    """Standalone `dumpmask verify` has no record of the rows written: when a table's counts
    differ and values turn up in its masked cells, it says so and fails (exit 1), as not
    verifiable, not as leaks."""
    out = tmp_path / "out.sql"
    rules = _rules(tmp_path, False, False)
    r = dm("-c", rules, dumps["pg"], "--last", "25", "-o", out, "--audit", tmp_path / "a.json")
    assert r.returncode == 0, r.stderr
    written = json.loads((tmp_path / "a.json").read_text())["tables"]["public.cust"]["rows_written"]
    r = dm("verify", dumps["pg"], out, "-c", rules)
    text = r.stdout.decode()
    assert r.returncode == 1, text
    assert "NOT VERIFIABLE" in text and "LEAK" not in text and "cannot be paired" in text, text
    r = dm("verify", dumps["pg"], out, "-c", rules, "--json")
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["leaks"] == [] and doc["not_verifiable"], doc
    assert doc["unpaired_tables"]["public.cust"] == {"rows_original": N, "rows_masked": written}, doc
    assert 25 <= written < N
