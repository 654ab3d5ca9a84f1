"""Detection inside JSON documents: `scan` finds personal data at paths of a json/jsonb column
(content: e-mails, phones, card numbers...; the last key's name: `first_name`, `email`) and
suggests the `json` mutation with a mutation per path, so `scan --write-rules` gives rules that
mask an e-mail inside `profile` instead of leaving the whole document in clear (or nulling it).
Paths use the `json` mutation's syntax for any key (dots, quotes, non-ASCII); real pg_dump and
mariadb-dump of tables the tests create, restored and queried by path."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumpmask.detect import ContentSampler, _json_strings
from dumpmask.schema import Column
from dumpmask.transformers.jsonpaths import WILD, parse_path

keys = st.text(st.sampled_from(list("ab_-$. \"'\\[]*é名0")), min_size=1, max_size=6)
docs = st.recursive(st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none()),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=4)),
                    max_leaves=20)


def _at(doc, segs):
    """The values a parsed path reaches in doc."""
    cur = [doc]
    for seg in segs:
        nxt = []
        for v in cur:
            if seg is WILD:
                nxt.extend(v if isinstance(v, list) else v.values() if isinstance(v, dict) else [])
            elif isinstance(seg, int) and isinstance(v, list) and seg < len(v):
                nxt.append(v[seg])
            elif isinstance(v, dict) and seg in v:
                nxt.append(v[seg])
        cur = nxt
    return cur


@settings(max_examples=400, deadline=None)
@given(doc=docs)
def test_every_path_found_is_a_json_path_that_reaches_its_values(doc):
    out: dict[str, list[str]] = {}
    _json_strings(json.dumps(doc, ensure_ascii=False), out, 100)
    for path, vals in out.items():
        reached = _at(doc, parse_path(path))
        for v in vals:
            assert v in reached, (path, v)


def test_not_json_and_odd_documents_give_nothing():
    out: dict[str, list[str]] = {}
    for text in ("{", "not json", "", "[1, 2", '"just a string"', "null"):
        _json_strings(text, out, 10)
    assert list(out) == ["$"]          # a top-level string is the document itself


def _sampler(docs_):
    s = ContentSampler(limit=100)
    col = Column(name="profile", type="jsonb", kind="json")
    for d in docs_:
        s.add("profile", json.dumps(d, ensure_ascii=False), col)
    return s


def test_a_document_with_personal_data_suggests_json_paths():
    rows = [{"id": i, "contact": {"email": f"user{i}@mail.example", "phones": [f"+49 30 {1000 + i} 22{i % 10}"]},
             "first_name": ["Anna", "Björn", "Chloé"][i % 3], "plan": "gold", "odd key.x": f"p{i}@x.example"}
            for i in range(40)]
    f = _sampler(rows).findings()["profile"]
    assert f.suggested == "json"
    paths = f.suggested_options["paths"]
    assert paths["$.contact.email"] == "faker.email"
    assert paths['$["odd key.x"]'] == "faker.email"
    assert paths["$.contact.phones[*]"] == "faker.phone"
    assert paths["$.first_name"] in ("faker.firstName", "faker.name")
    assert "$.plan" not in paths and "$.id" not in paths


def test_documents_without_personal_data_are_no_finding():
    rows = [{"plan": ["gold", "silver"][i % 2], "n": i, "tags": ["a", "b"]} for i in range(30)]
    assert "profile" not in _sampler(rows).findings()


PG_ROWS = 60


@pytest.fixture
def pg_json_db(pg_server):
    db = pg_server.createdb("detect_json_src")
    pg_server.psql(db, f"""
        CREATE TABLE "Kunde" (id serial PRIMARY KEY, profile jsonb, raw json);
        INSERT INTO "Kunde" (profile, raw)
        SELECT jsonb_build_object('contact', jsonb_build_object('email', 'kunde' || i || '@beispiel.example',
                                                                'phones', jsonb_build_array('+49 30 ' || (100000 + i))),
                                  'name', 'Jürgen ' || i, 'plan', 'gold', 'n', i),
               json_build_object('e-mail adresse', 'roh' || i || '@beispiel.example', 'x', i)
        FROM generate_series(1, {PG_ROWS}) i;""")
    yield db
    pg_server.dropdb(db)


def test_scan_write_rules_masks_json_paths_pg(dm, tmp_path, pg_server, pg_json_db):
    dump = tmp_path / "in.sql"
    dump.write_bytes(pg_server.dump(pg_json_db))
    rules = tmp_path / "rules.json"
    cp = dm("scan", dump, "--write-rules", rules)
    assert cp.returncode == 0, cp.stderr.decode()
    cols = {c["column"]: c for t in json.loads(rules.read_text())["tables"] for c in t["columnMutations"]}
    assert cols["profile"]["mutation"] == "json" and cols["raw"]["mutation"] == "json"
    out = tmp_path / "out.sql"
    cp = dm("-c", rules, dump, "-o", out)
    assert cp.returncode == 0, cp.stderr.decode()
    db = pg_server.createdb("detect_json_dst")
    try:
        pg_server.restore(db, out)
        assert pg_server.scalar(db, "SELECT count(*) FROM \"Kunde\" WHERE profile->'contact'->>'email' LIKE '%beispiel%' "
                                    "OR raw->>'e-mail adresse' LIKE '%beispiel%'") == "0"
        assert pg_server.scalar(db, "SELECT count(*) FROM \"Kunde\" WHERE profile->'contact'->>'email' LIKE '%@%' "
                                    "AND profile->>'plan' = 'gold' AND jsonb_typeof(profile->'n') = 'number'") == str(PG_ROWS)
        assert pg_server.scalar(db, "SELECT count(*) FROM \"Kunde\" WHERE profile->'contact'->'phones'->>0 LIKE '+49 30 1%'") == "0"
    finally:
        pg_server.dropdb(db)


def test_scan_write_rules_masks_json_paths_mariadb(dm, tmp_path, my_server):
    src = my_server.create("detect_json_src")
    try:
        my_server.sql(src, """
            CREATE TABLE kunde (id int AUTO_INCREMENT PRIMARY KEY, profile JSON);
            INSERT INTO kunde (profile) SELECT JSON_OBJECT('contact', JSON_OBJECT('email', CONCAT('k', seq, '@beispiel.example')),
                                                         'plan', 'gold', 'n', seq) FROM seq_1_to_50;""")
        dump = tmp_path / "in.sql"
        dump.write_bytes(my_server.dump(src))
    finally:
        my_server.drop(src)
    rules = tmp_path / "rules.json"
    cp = dm("scan", dump, "--write-rules", rules)
    assert cp.returncode == 0, cp.stderr.decode()
    cols = {c["column"]: c for t in json.loads(rules.read_text())["tables"] for c in t["columnMutations"]}
    assert cols["profile"] == {**cols["profile"], "mutation": "json", "options": {"paths": {"$.contact.email": "faker.email"}}}
    out = tmp_path / "out.sql"
    cp = dm("-c", rules, dump, "-o", out)
    assert cp.returncode == 0, cp.stderr.decode()
    dst = my_server.create("detect_json_dst")
    try:
        my_server.restore(dst, out)
        assert my_server.scalar(dst, "SELECT count(*) FROM kunde WHERE JSON_VALUE(profile, '$.contact.email') LIKE '%beispiel%'") == "0"
        assert my_server.scalar(dst, "SELECT count(*) FROM kunde WHERE JSON_VALUE(profile, '$.contact.email') LIKE '%@example.%' "
                                     "AND JSON_VALUE(profile, '$.plan') = 'gold'") == "50"
    finally:
        my_server.drop(dst)
