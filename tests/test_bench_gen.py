"""bench/gen.py: deterministic, well-formed, and restorable by the real tools."""
import importlib.util
import io
import re
from pathlib import Path

import pytest

GEN_PATH = Path(__file__).resolve().parent.parent / "bench" / "gen.py"
spec = importlib.util.spec_from_file_location("bench_gen", GEN_PATH)
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

SIZE = 600_000


def make(dialect, size=SIZE, seed=42):
    buf = io.BytesIO()
    counts = gen.generate(dialect, size, buf, seed)
    return buf.getvalue(), counts


@pytest.fixture(scope="module")
def pg_dump():
    return make("pg")


@pytest.fixture(scope="module")
def my_dump():
    return make("mysql")


@pytest.mark.parametrize("dialect", ["pg", "mysql"])
def test_same_args_same_bytes(dialect):
    a, _ = make(dialect)
    b, _ = make(dialect)
    assert a == b
    c, _ = make(dialect, seed=7)
    assert c != a


@pytest.mark.parametrize("dialect", ["pg", "mysql"])
def test_size_is_close_to_requested(dialect):
    data, counts = make(dialect, 2_000_000)
    assert abs(len(data) - 2_000_000) < 0.05 * 2_000_000
    assert set(counts) == {"address", "customer", "rental"}


def test_parse_size():
    assert gen.parse_size("100MB") == 100_000_000
    assert gen.parse_size("1GB") == 1_000_000_000
    assert gen.parse_size("1.5kB") == 1500
    assert gen.parse_size("4096") == 4096


def copy_blocks(data: bytes):
    """{table: (columns, [row lines])} from a pg_dump plain file."""
    blocks, lines = {}, iter(data.split(b"\n"))
    for line in lines:
        m = re.match(rb"COPY public\.(\w+) \((.*)\) FROM stdin;$", line)
        if m:
            rows = []
            for row in lines:
                if row == b"\\.":
                    break
                rows.append(row)
            else:
                pytest.fail(f"COPY {m.group(1)} not ended by \\.")
            blocks[m.group(1).decode()] = (m.group(2).split(b", "), rows)
    return blocks


def test_pg_copy_rows_have_the_right_field_count(pg_dump):
    data, counts = pg_dump
    blocks = copy_blocks(data)
    assert list(blocks) == ["address", "customer", "rental"]
    for table, (cols, rows) in blocks.items():
        assert len(rows) == counts[table]
        bad = [r for r in rows if len(r.split(b"\t")) != len(cols)]
        assert not bad, (table, bad[:3])
        for r in rows[:50]:
            r.decode("utf-8")


def test_pg_values_carry_the_quirks(pg_dump):
    data, _ = pg_dump
    _, rows = copy_blocks(data)["customer"]
    body = b"\n".join(rows)
    for quirk in (b"\\N", b"\\n", b"\\t", b"\\\\", b"'", b'"', "ü".encode(), "😀".encode()):
        assert quirk in body, quirk
    # keys: a PK and two FKs, declared after the data, and the sequences set
    tail = data[data.rindex(b"\\.\n"):]
    for s in (b"PRIMARY KEY (customer_id)", b"FOREIGN KEY (address_id) REFERENCES public.address",
              b"FOREIGN KEY (customer_id) REFERENCES public.customer",
              b"SELECT pg_catalog.setval('public.customer_customer_id_seq'"):
        assert s in tail, s


FIELD = rb"'[^'\\]*+(?:\\.[^'\\]*+)*+'|[^,()']++"
TUPLE = re.compile(rb"\((?:" + FIELD + rb")(?:,(?:" + FIELD + rb"))*\)")


def test_mysql_inserts_are_well_formed(my_dump):
    data, counts = my_dump
    seen = {}
    for m in re.finditer(rb"INSERT INTO `(\w+)` VALUES\n(.*?);\n(?=/\*!40000|INSERT)", data, re.S):
        table, body = m.group(1).decode(), m.group(2)
        assert len(body) < gen.MYSQL_STMT_BYTES + 5000
        tuples = body.split(b",\n")
        width = len(re.findall(FIELD, tuples[0]))
        for t in tuples:
            assert TUPLE.fullmatch(t), t[:200]
            assert len(re.findall(FIELD, t)) == width, t[:200]
        seen[table] = seen.get(table, 0) + len(tuples)
    assert seen == counts
    body = data[data.index(b"INSERT INTO `customer`"):]
    for quirk in (b"NULL", b"\\n", b"\\'", b'\\"', b"\\\\", "😀".encode()):
        assert quirk in body, quirk
    assert b"CONSTRAINT `fk_rental_customer` FOREIGN KEY (`customer_id`)" in data


# ---------------------------------------------------------------- the real tools accept them

@pytest.mark.servers
def test_pg_file_restores_into_postgres(pg_server, pg_dump):
    data, counts = pg_dump
    db = pg_server.createdb("bench_gen_pg")
    try:
        pg_server.restore(db, data)
        for table, n in counts.items():
            assert pg_server.count(db, table) == n
        assert pg_server.scalar(db, "SELECT count(*) FROM customer WHERE notes LIKE "
                                    "E'%\\n%' AND notes LIKE '%line two%'") != "0"
        assert pg_server.scalar(db, "SELECT max(length(email)) <= 50 FROM customer") == "t"
    finally:
        pg_server.dropdb(db)


@pytest.mark.servers
def test_mysql_file_restores_into_mariadb(my_server, my_dump):
    data, counts = my_dump
    db = my_server.create("bench_gen_my")
    try:
        my_server.restore(db, data)
        for table, n in counts.items():
            assert my_server.count(db, table) == n
        assert my_server.scalar(db, "SELECT count(*) FROM customer WHERE last_name = "
                                    "'Smith 😀'") != "0"
        assert my_server.scalar(db, "SELECT count(*) FROM customer WHERE notes = "
                                    "'nul\\0byte'") != "0"
    finally:
        my_server.drop(db)


# ---------------------------------------------------------------- the many-table schema (--tables)

@pytest.mark.servers
@pytest.mark.parametrize("dialect", ["pg", "mysql"])
def test_schema_dump_restores_and_passes_through(dialect, request, dm, tmp_path):
    """gen.py --tables: a 60-table dump (partitions, quoted names, FKs) restores into the real
    server, passes through dumpmask with empty rules byte for byte, and every FK the generator
    wrote is known to dumpmask (the audit lists remapped key columns of every table)."""
    import json

    buf = io.BytesIO()
    counts = gen.generate_schema(dialect, 60, buf)
    data = buf.getvalue()
    if dialect == "pg":
        pg_server = request.getfixturevalue("pg_server")
        db = pg_server.createdb("bench_schema_pg")
        try:
            pg_server.restore(db, data)
            assert pg_server.scalar(db, "SELECT count(*) FROM pg_constraint WHERE contype = 'f'") == str(
                data.count(b"FOREIGN KEY"))
            assert pg_server.count(db, 'public."Order Ítems 0003"') == 3
        finally:
            pg_server.dropdb(db)
    else:
        my_server = request.getfixturevalue("my_server")
        db = my_server.create("bench_schema_my")
        try:
            my_server.restore(db, data)
            assert my_server.count(db, "Order Ítems 0003") == 3
        finally:
            my_server.drop(db)
    f = tmp_path / "s.sql"
    f.write_bytes(data)
    cp = dm("-c", GEN_PATH.parent / "rules-empty.json", "-q", f)
    assert cp.returncode == 0 and cp.stdout == data, cp.stderr.decode()[-500:]
    audit = tmp_path / "a.json"
    cp = dm("-c", GEN_PATH.parent / "rules-keys.json", "-q", "--audit", audit, f)
    assert cp.returncode == 0, cp.stderr.decode()[-500:]
    remapped = json.loads(audit.read_text())["remapped"]
    fk_cols = {c for c in remapped if c.endswith((".parent_id", ".other_id"))}
    assert len(fk_cols) == data.count(b"FOREIGN KEY"), sorted(remapped)[:20]
