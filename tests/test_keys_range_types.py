"""options.identifierRemapping.range applies to every key component, but a component gets only
the part of it that its columns' types can hold: a range made for unsigned bigint ids
([0, 2^64-1]) must not write 64-bit values into an int AUTO_INCREMENT key of another table
(MariaDB clamps them to 2147483647: duplicate keys at the restore, after an exit 0). The
audit's per-column range says what was used. Real mariadb-dump and restore."""
from __future__ import annotations

import json

import pytest

U64 = (1 << 64) - 1

SCHEMA = """
CREATE TABLE lat (id bigint unsigned PRIMARY KEY, email varchar(60));
CREATE TABLE child (id int PRIMARY KEY AUTO_INCREMENT, lat_id bigint unsigned, small smallint, FOREIGN KEY (lat_id) REFERENCES lat(id));
CREATE TABLE tiny (id tinyint unsigned PRIMARY KEY, note varchar(10));
INSERT INTO lat VALUES (18446744073709551615, 'a@b.example'), (1, 'c@d.example'), (9223372036854775808, NULL);
INSERT INTO child (lat_id, small) VALUES (18446744073709551615, 1), (1, 2), (9223372036854775808, 3);
INSERT INTO tiny VALUES (0, 'x'), (255, 'y'), (17, 'z');
"""


@pytest.fixture
def source(my_server):
    db = my_server.create("range_types_src")
    my_server.sql(db, SCHEMA)
    yield db
    my_server.drop(db)


@pytest.mark.parametrize("opts", [(), ("--skip-extended-insert",), ("--hex-blob", "--skip-comments")])
def test_a_wide_range_fits_each_component_to_its_types(dm, tmp_path, my_server, source, opts):
    dump = tmp_path / "in.sql"
    dump.write_bytes(my_server.dump(source, *opts))
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "lat", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}],
                                 "options": {"identifierRemapping": {"enabled": True, "range": [0, U64]}}}))
    out, audit = tmp_path / "out.sql", tmp_path / "a.json"
    cp = dm("-c", rules, dump, "-o", out, "--audit", audit)
    assert cp.returncode == 0, cp.stderr.decode()
    dst = my_server.create("range_types_dst")
    try:
        my_server.restore(dst, out)
        assert my_server.scalar(dst, "SELECT count(*) FROM child c JOIN lat l ON l.id = c.lat_id") == "3"
        ids = [int(v) for v in my_server.sql(dst, "SELECT id FROM child").split()]
        assert len(set(ids)) == 3 and all(0 <= v <= 2147483647 for v in ids)
        assert sorted(int(v) for v in my_server.sql(dst, "SELECT id FROM tiny").split()) != [0, 17, 255]
        lat = {int(v) for v in my_server.sql(dst, "SELECT id FROM lat").split()}
        assert lat.isdisjoint({1, 9223372036854775808, U64}) or len(lat) == 3
    finally:
        my_server.drop(dst)
    remapped = json.loads(audit.read_text())["remapped"]
    assert remapped["child.id"]["range"] == [0, 2147483647]
    assert remapped["tiny.id"]["range"] == [0, 255]
    assert remapped["lat.id"]["range"] == remapped["child.lat_id"]["range"] == [0, U64]


def test_a_range_no_key_type_can_hold_is_a_rules_error(dm, tmp_path, my_server, source):
    dump = tmp_path / "in.sql"
    dump.write_bytes(my_server.dump(source))
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"tables": [], "options": {"identifierRemapping": {"enabled": True, "range": [300, 400]}}}))
    cp = dm("-c", rules, dump, "-o", tmp_path / "out.sql")
    assert cp.returncode == 2, cp.stderr
    assert b"tiny.id (tinyint" in cp.stderr and b"range" in cp.stderr and b"Traceback" not in cp.stderr
    assert not (tmp_path / "out.sql").exists()
