"""verify under --max-memory (memory.Budget, share "verify"): its filters and bounds scale to the
share (smaller Bloom filters: more false positives, never a finding lost), values past the
candidates' bound fail closed, and a share too small to start is exit 1 naming the leak check.
A real pg_dump of a table created here, 30,000 distinct e-mails."""
from __future__ import annotations

import json

import pytest

from dumpmask.memory import Budget
from dumpmask.verify import BLOOM_BYTES, MAX_CANDIDATES, Limits

pytestmark = pytest.mark.servers

N = 30_000


@pytest.fixture(scope="module")
def dump(tmp_path_factory, pg_server):
    d = tmp_path_factory.mktemp("verifymem")
    db = pg_server.createdb("verifymem_src")
    pg_server.psql(db, "CREATE TABLE person (id integer PRIMARY KEY, email text, contact text);\n"
                       "INSERT INTO person SELECT g, 'user.' || g || '@corp.example', "
                       f"CASE WHEN g % 2 = 0 THEN 'user.' || g || '@corp.example' ELSE 'none' END "
                       f"FROM generate_series(1, {N}) g;\n")
    p = d / "in.sql"
    p.write_bytes(pg_server.dump(db))
    return p


def _rules(tmp_path, leaking: bool):
    cols = [{"column": "email", "mutation": "faker.email"}]
    if not leaking:
        cols.append({"column": "contact", "mutation": "faker.email"})   # leaking: contact, a copy, kept in clear
    p = tmp_path / ("leak.json" if leaking else "safe.json")
    p.write_text(json.dumps({"tables": [{"tableName": "person", "columnMutations": cols}]}))
    return p


def test_limits_scale_with_the_share():
    assert Limits.of(None) == Limits() == Limits.of(Budget()) and not Limits.of(None).bounded
    small = Limits.of(Budget(16 << 20))
    assert small.bloom_bytes == 512 << 10 and small.max_candidates == 4096 and small.set_max == (512 << 10) // 48
    assert Limits.of(Budget(4 << 30)).bloom_bytes == BLOOM_BYTES
    assert Limits.of(Budget(4 << 30)).max_candidates == MAX_CANDIDATES


def test_verify_under_max_memory(tmp_path, dm, dump):
    safe, out = _rules(tmp_path, False), tmp_path / "out.sql"
    assert dm("-c", safe, dump, "-o", out).returncode == 0
    # 60,000 distinct values: past the share's exact sets (10,922 hashes), into 512 KiB filters
    r = dm("verify", dump, out, "-c", safe, "--json", "--max-memory", "16M")
    doc = json.loads(r.stdout)
    assert r.returncode == 0 and doc["ok"] and doc["leaks"] == [], r.stderr
    # values and value@row in 512 KiB filters (the first tokens, a handful, stay an exact set)
    assert 2 * (512 << 10) <= doc["bloom_bytes"] < 3 * (512 << 10), doc["bloom_bytes"]
    r = dm("verify", dump, out, "-c", safe, "--json")   # no limit: exact sets, larger here
    assert r.returncode == 0 and json.loads(r.stdout)["bloom_bytes"] > doc["bloom_bytes"]

    # 15,000 e-mails kept in clear in contact: past the 4,096 distinct values examined, fail closed
    leak, out2 = _rules(tmp_path, True), tmp_path / "out2.sql"
    assert dm("-c", leak, dump, "-o", out2).returncode == 0
    r = dm("verify", dump, out2, "-c", leak, "--max-memory", "16M")
    text = r.stdout.decode()
    assert r.returncode == 1 and "4,096 distinct values" in text and "--max-memory" in text, text
    # the same run, with --verify in the job: exit 1, no output kept
    r = dm("-c", leak, dump, "--verify", "--max-memory", "16M", "-o", tmp_path / "out3.sql")
    assert r.returncode == 1 and not (tmp_path / "out3.sql").exists(), r.stderr

    # a share too small to start: exit 1 naming the leak check, no traceback
    r = dm("verify", dump, out, "-c", safe, "--max-memory", "8M")
    err = r.stderr.decode()
    assert r.returncode == 1 and "leak check" in err and "--max-memory" in err and "Traceback" not in err, err
