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


# ---------------------------------------------------------------- intl3 (--scenario intl3)

INTL_SIZE = 300_000


def make_intl3(dialect, size=INTL_SIZE, seed=42):
    buf = io.BytesIO()
    counts = gen.generate_intl3(dialect, size, buf, seed)
    return buf.getvalue(), counts


def intl3_fields(data: bytes, dialect: str) -> list[list[bytes]]:
    """The rows of intl_customer, split into fields (still escaped; NULL as None)."""
    if dialect == "pg":
        cols, rows = copy_blocks(data)["intl_customer"]
        assert cols == [b"id", b"email", b"name", b"phone", b"address", b"created_at"]
        return [[None if f == b"\\N" else f for f in r.split(b"\t")] for r in rows]
    out = []
    for m in re.finditer(rb"INSERT INTO `intl_customer` VALUES\n(.*?);\n(?=/\*!40000|INSERT)",
                         data, re.S):
        for t in m.group(1).split(b",\n"):
            assert TUPLE.fullmatch(t), t[:200]
            out.append([None if f == b"NULL" else f for f in re.findall(FIELD, t[1:-1])])
    return out


@pytest.mark.parametrize("dialect", ["pg", "mysql"])
def test_intl3_is_deterministic_distinct_and_international(dialect):
    data, counts = make_intl3(dialect)
    assert make_intl3(dialect)[0] == data and make_intl3(dialect, seed=7)[0] != data
    assert abs(len(data) - INTL_SIZE) < 0.05 * INTL_SIZE
    rows = intl3_fields(data, dialect)
    assert len(rows) == counts["intl_customer"] > 1000
    assert all(len(r) == 6 for r in rows)
    assert 110 < len(data) / len(rows) < 150            # ~130-byte rows
    for col in (1, 3):                                  # e-mail and phone: distinct
        vals = [r[col] for r in rows if r[col] is not None]
        assert len(set(vals)) == len(vals)
    nulls = sum(f is None for r in rows for f in r[1:5]) / (4 * len(rows))
    assert 0.07 < nulls < 0.13, nulls
    text = b"".join(f for r in rows for f in r if f).decode()
    for script in ("Μαρία", "王", "さくら", "José", "John"):   # Greek, CJK, accented, ASCII
        assert script in text, script
    assert "@παράδειγμα.δοκιμή" in text and "\\n" in text and "\\\\" in text
    assert ("\\t" in text) if dialect == "pg" else ("\t" in text and "\\'" in text)
    # the sakila scenario is untouched by the intl3 one
    assert b"intl_customer" not in make(dialect, 100_000)[0]


@pytest.mark.servers
def test_intl3_restores_into_postgres(pg_server):
    data, counts = make_intl3("pg")
    db = pg_server.createdb("bench_intl3_pg")
    try:
        pg_server.restore(db, data)
        assert pg_server.count(db, "intl_customer") == counts["intl_customer"]
        assert pg_server.scalar(db, "SELECT count(DISTINCT email) = count(email) AND "
                                    "count(DISTINCT phone) = count(phone) FROM intl_customer") == "t"
        assert pg_server.scalar(db, "SELECT count(*) FROM intl_customer WHERE address LIKE "
                                    "E'%\\n%' OR address LIKE E'%\\t%'") != "0"
        assert pg_server.scalar(db, "SELECT count(*) FROM intl_customer WHERE name = "
                                    "'Μαρία Παπαδοπούλου' OR name LIKE '%さくら%'") != "0"
    finally:
        pg_server.dropdb(db)


@pytest.mark.servers
def test_intl3_restores_into_mariadb(my_server):
    data, counts = make_intl3("mysql")
    db = my_server.create("bench_intl3_my")
    try:
        my_server.restore(db, data)
        assert my_server.count(db, "intl_customer") == counts["intl_customer"]
        assert my_server.scalar(db, "SELECT count(DISTINCT email) = count(email) AND "
                                    "count(DISTINCT phone) = count(phone) FROM intl_customer") == "1"
        assert my_server.scalar(db, "SELECT count(*) FROM intl_customer WHERE address LIKE "
                                    "'%\\\\\\\\%'") != "0"
        assert my_server.scalar(db, "SELECT count(*) FROM intl_customer WHERE name LIKE "
                                    "'%さくら%'") != "0"
    finally:
        my_server.drop(db)
