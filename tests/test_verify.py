"""`dumpmask verify`: leak check of a masked dump against its original."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dumpmask.verify import _HashSet, redact, tokens

FILM1 = b"A Epic Drama of a Feminist And a Mad Scientist who must Battle a Teacher in The Canadian Rockies"


@pytest.fixture(scope="module")
def pagila(dataset) -> Path:
    return dataset("pagila/pg_dump-copy.sql")


@pytest.fixture(scope="module")
def pii(shared_rule) -> Path:
    return shared_rule("pagila-pii.json")


@pytest.fixture(scope="module")
def masked(tmp_path_factory, pagila, pii):
    import os
    import subprocess
    import sys

    from conftest import REPO, TEST_KEY

    out = tmp_path_factory.mktemp("verify") / "m.sql"
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY)
    with open(out, "wb") as fh:
        cp = subprocess.run([sys.executable, "-m", "dumpmask", "-q", "-c", str(pii), str(pagila)],
                            stdout=fh, stderr=subprocess.PIPE, env=env, cwd=REPO)
    assert cp.returncode == 0, cp.stderr.decode()
    return out


def plant(src: Path, dst: Path, new_text: bytes) -> Path:
    data = src.read_bytes()
    assert data.count(FILM1) == 1
    dst.write_bytes(data.replace(FILM1, new_text))
    return dst


def test_verify_passes_a_clean_masking_run(dm, masked, pagila, pii):
    cp = dm("verify", pagila, masked, "-c", pii)
    assert cp.returncode == 0, cp.stdout.decode()[-2000:]
    assert b"0 leaked" in cp.stdout and b"verify: ok" in cp.stdout


def test_verify_fails_the_original_itself(dm, masked, pagila, pii):
    cp = dm("verify", pagila, pagila, "-c", pii)
    assert cp.returncode == 1
    out = cp.stdout.decode()
    assert "column public.customer.first_name gives back its own rows' original values" in out
    assert "MARY.SMITH" not in out  # values are shown redacted
    cp = dm("verify", pagila, pagila, "-c", pii, "--json")
    assert cp.returncode == 1
    res = json.loads(cp.stdout)
    emails = [f for f in res["leaks"] if f["value"] == "MA***@***.org" and f["from"] == ["public.customer.email"]]
    assert emails and emails[0]["where"][0].startswith("public.customer.email:")
    assert "MARY.SMITH" not in cp.stdout.decode()


def test_verify_finds_an_email_planted_in_free_text(dm, masked, pagila, pii, tmp_path):
    bad = plant(masked, tmp_path / "bad.sql", b"Call MARY.SMITH@sakilacustomer.org about this film")
    cp = dm("verify", pagila, bad, "-c", pii)
    assert cp.returncode == 1
    out = cp.stdout.decode()
    assert re.search(r"LEAK: MA\*\*\*@\*\*\*\.org \(original public\.customer\.email\) found in public\.film\.description:\d+", out), out
    assert "sakilacustomer" not in out
    # SMITH alone is a leak too: a last name found in a column the rules do not mask, and no
    # unmasked column of the original holds it
    assert re.search(r"LEAK: S\*\*\* \(original public\.customer\.last_name.*\) found in public\.film\.description:", out)
    assert "2 leaked" in out


def test_verify_finds_a_multi_word_value_and_a_phone(dm, masked, pagila, pii, tmp_path):
    # address.address "1913 Hanoi Way" and address.phone "28303384290" (address_id 5) in free text
    bad = plant(masked, tmp_path / "bad.sql", b"Meet at 1913 hanoi WAY, phone 28303384290")
    cp = dm("verify", pagila, bad, "-c", pii, "--json")
    assert cp.returncode == 1
    res = json.loads(cp.stdout)
    leaks = {(tuple(f["from"]), f["where"][0].rsplit(":", 1)[0]) for f in res["leaks"]}
    assert (("public.address.address",), "public.film.description") in leaks
    assert (("public.address.phone",), "public.film.description") in leaks
    assert res["ok"] is False


def test_low_risk_values_pass_unless_all(dm, masked, pagila, pii, tmp_path):
    # MARY: a customer's first name that also names an actor (unmasked): low risk
    bad = plant(masked, tmp_path / "bad.sql", b"Mary and Jon were here")
    cp = dm("verify", pagila, bad, "-c", pii, "--json")
    assert cp.returncode == 0, cp.stdout.decode()[-2000:]
    res = json.loads(cp.stdout)
    low = [f for f in res["low_risk"] if any(w.startswith("public.film.description:") for w in f["where"])]
    reasons = {f["value"]: f["low_risk"] for f in low}
    assert reasons["M***"].startswith("also in unmasked column public.actor.first_name")
    assert reasons["J***"].startswith("short")
    cp = dm("verify", pagila, bad, "-c", pii, "--all")
    assert cp.returncode == 1


def test_verify_needs_rules(dm, masked, pagila):
    cp = dm("verify", pagila, masked)
    assert cp.returncode == 2  # click usage error: -c is required


def test_bloom_has_no_false_negatives_and_few_false_positives():
    """Past its limit a _HashSet is a fixed-size Bloom filter (memory flat): no false
    negatives, few false positives, and its size does not grow with what it holds."""
    import random

    rnd = random.Random(1)
    b = _HashSet(limit=1000)
    items = [rnd.getrandbits(64) for _ in range(20000)]
    for h in items[:5000]:
        b.add(h)
    assert b.set is None  # became the filter
    size = b.nbytes
    for h in items[5000:]:
        b.add(h)
    assert b.nbytes == size
    assert all(h in b for h in items)
    assert b.any_of(items[-3:]) and b.count >= 19000
    fp = sum(1 for _ in range(20000) if rnd.getrandbits(64) in b)
    assert fp < 20000 * 0.01


def test_tokens_and_redaction():
    assert tokens("MARY.SMITH@sakilacustomer.org") == ["mary", "smith", "sakilacustomer", "org"]
    assert tokens("São-Paulo_2") == ["são", "paulo", "2"]
    assert redact("MARY.SMITH@sakilacustomer.org") == "MA***@***.org"
    assert redact("1913 Hanoi Way") == "19***"


def test_bytes_tokens_match_the_regex_tokens():
    from dumpmask.verifyfast import vtokens

    for s in ["MARY.SMITH@sakilacustomer.org", "São-Paulo_2", "Smith 😀x", "Straße İz", "a\tb\nc", "", "--"]:
        assert vtokens(s.encode()) == [t.casefold().encode() for t in tokens(s)], s


def _verify_in_process(original, masked_path, rules_path):
    from dumpmask.rules import load_rules
    from dumpmask.verify import verify

    return verify(str(original), str(masked_path), load_rules(str(rules_path)))


def test_verify_bounds_the_values_it_examines_and_says_so(monkeypatch, masked, pagila, pii):
    """Past MAX_CANDIDATES distinct values found, verify keeps no more of them: it counts them,
    says so, and fails (fail closed)."""
    import dumpmask.verify as v

    full = _verify_in_process(pagila, pagila, pii)
    assert full.failed(False) and not full.not_examined and full.candidates > 50
    monkeypatch.setattr(v, "MAX_CANDIDATES", 50)
    capped = _verify_in_process(pagila, pagila, pii)
    assert capped.candidates == 50 and capped.not_examined > 0 and capped.not_examined_found >= capped.not_examined
    assert capped.failed(False)
    out = v.format_result(capped, False)
    assert f"LEAK: {capped.not_examined} more value(s) of masked columns found" in out and "verify: FAILED" in out


def test_verify_bounds_the_suspect_rows_it_keeps_and_says_so(monkeypatch, pagila, pii):
    """Suspect rows (a row's own value found in its masked cell) past MAX_SUSPECTS are counted,
    not kept; the values found there are leaks, and the report says how many were not kept."""
    import dumpmask.verify as v

    full = _verify_in_process(pagila, pagila, pii)
    assert not full.suspects_not_kept
    monkeypatch.setattr(v, "MAX_SUSPECTS", 10)
    capped = _verify_in_process(pagila, pagila, pii)
    assert capped.suspects_not_kept > 0 and capped.failed(False)
    assert len(capped.leaks) >= len(full.leaks)
    assert f"note: {capped.suspects_not_kept} find(s) of a row's own value" in v.format_result(capped, False)


def test_suspects_store_takes_a_rows_hits_once():
    from dumpmask.verify import _Suspects

    s = _Suspects(limit=4)
    assert s.add("t", 3, 7, "a") and s.add("t", 3, 7, "a") and s.add("t", 3, 8, "b") and s.add("t", 9, 7, "b")
    assert not s.add("t", 10, 7, "a") and s.dropped == 1
    assert s.take("t", 3, 7) == ["a"] and s.take("t", 3, 7) == []
    assert s.take("t", 3, 8) == ["b"] and s.take("t", 9, 7) == ["b"] and s.take("u", 3, 7) == []
