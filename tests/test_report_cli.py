"""The compliance report and the signed audit (issue 6) through the CLI, on Pagila.

`dumpmask --audit run.json --report run.pdf` and `dumpmask report run.json -o r.pdf` are read
back with poppler's pdftotext / pdftoppm (installed by `make servers`; under CI=true a missing
tool is a failure, never a skip). `dumpmask verify-audit` accepts a fresh audit and rejects any
changed value.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess

import pytest

from conftest import TEST_KEY, unavailable


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        unavailable(f"{tool} not installed (poppler-utils: run `make servers` or apt-get install poppler-utils)")
    return path


def pdf_text(pdf, first: int | None = None, last: int | None = None) -> str:
    args = [need("pdftotext"), "-layout"]
    if first:
        args += ["-f", str(first)]
    if last:
        args += ["-l", str(last)]
    cp = subprocess.run([*args, str(pdf), "-"], capture_output=True, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode()
    return cp.stdout.decode("utf-8")


def squeeze(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text)


@pytest.fixture(scope="module")
def pagila_run(tmp_path_factory, datasets):
    """One masking run of Pagila with the keys rules, --audit and --report; then `report`."""
    import os
    import sys

    from conftest import REPO

    d = tmp_path_factory.mktemp("report")
    rules = datasets.parent / "checks" / "rules" / "pagila-keys.json"
    assert rules.exists(), rules
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, PYTHONPATH=str(REPO))
    src = datasets / "pagila" / "pg_dump-copy.sql"
    cp = subprocess.run([sys.executable, "-m", "dumpmask", "-q", "-c", str(rules), "--audit", str(d / "run.json"),
                         "--report", str(d / "run.pdf"), "-o", str(d / "out.sql"), str(src)],
                        capture_output=True, env=env, timeout=600)
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    cp = subprocess.run([sys.executable, "-m", "dumpmask", "report", str(d / "run.json"), "-o", str(d / "r.pdf")],
                        capture_output=True, env=env, timeout=600)
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    return d, src


def test_report_holds_every_section_and_the_run_figures(pagila_run):
    d, src = pagila_run
    audit = json.loads((d / "run.json").read_text())
    assert audit["status"] == "ok"
    audit_sha = hashlib.sha256((d / "run.json").read_bytes()).hexdigest()
    input_sha = hashlib.sha256(src.read_bytes()).hexdigest()
    assert audit["input"]["sha256"] == input_sha
    for pdf in ("run.pdf", "r.pdf"):
        assert (d / pdf).read_bytes()[:5] == b"%PDF-", pdf
        text = squeeze(pdf_text(d / pdf))
        for s in ("COMPLIANCE STATUS", "Identifier Remapping", "Partial Transfer", "Safe Harbor", "PCI",
                  "PII Fields Masked", "Mapping table", "not a legal certification"):
            assert s in text, (pdf, s)
        assert re.search(r"Identifier Remapping: Active", text), pdf
        assert re.search(r"Partial Transfer: Full Transfer", text), pdf
        # the customer table with its 599 rows read and written
        assert re.search(r"public\.customer full 599 599\b", text), pdf
        assert re.search(r"public\.rental full 16,044 16,044\b", text), pdf
        # the input's SHA-256 (from the file itself) and the audit file's SHA-256
        assert input_sha in text, pdf
        assert audit_sha in text.replace("\n", ""), pdf
        assert audit_sha[:16] in text, pdf  # the footer of every page
        # masked columns with their mutation
        assert re.search(r"public\.customer email faker\.email", text), pdf
        # HIPAA items: email masked; 16 and 17 always a manual check
        assert re.search(r"6 Email addresses masked public\.customer\.email", text), pdf
        assert re.search(r"16 Biometric identifiers manual verification required", text), pdf
        # 17: staff.picture is in clear (no rule for it): said first, the manual check with it
        assert re.search(r"17 Full-face photographs and comparable images present, NOT .*?public\.staff\.picture.*?"
                         r"manual\s+verification\s+required", text, re.S), pdf
    # the page count: footer "Page 1 of N" on every page
    text = pdf_text(d / "r.pdf")
    m = re.search(r"Page 1 of (\d+)", text)
    assert m and text.count(" of " + m.group(1)) >= int(m.group(1))


def test_report_footer_hash_matches_on_every_page(pagila_run):
    d, _ = pagila_run
    audit_sha = hashlib.sha256((d / "run.json").read_bytes()).hexdigest()
    pages = pdf_text(d / "r.pdf").split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 3
    for i, p in enumerate(pages, 1):
        assert audit_sha[:16] in p, f"page {i}"


def test_report_of_a_first_50_run_shows_the_partial_transfer(dm, datasets, tmp_path):
    rules = datasets.parent / "checks" / "rules" / "pagila-keys.json"
    src = datasets / "pagila" / "pg_dump-copy.sql"
    cp = dm("-q", "-c", rules, "--first", "50", "--audit", tmp_path / "a.json", "--report", tmp_path / "a.pdf",
            "-o", tmp_path / "o.sql", src)
    assert cp.returncode == 0, cp.stderr.decode()[-2000:]
    text = squeeze(pdf_text(tmp_path / "a.pdf"))
    assert re.search(r"Partial Transfer: First 50 rows", text), text[:3000]
    assert "Full Transfer" not in text
    a = json.loads((tmp_path / "a.json").read_text())
    # the table section shows the mode and rows read / written from the audit
    assert a["tables"]["public.actor"]["rows_written"] == 50
    assert re.search(r"public\.actor first 50 200 50\b", text)
    assert re.search(r"public\.customer first 50 599 " + str(a["tables"]["public.customer"]["rows_written"]) + r"\b", text)


def test_failed_run_still_writes_audit_and_report(dm, datasets, tmp_path):
    src = (datasets / "pagila" / "pg_dump-copy.sql").read_bytes()
    i = src.index(b"COPY public.customer ")
    trunc = tmp_path / "trunc.sql"
    trunc.write_bytes(src[:src.index(b"\n", i + 2000)])  # ends inside customer's COPY block
    rules = datasets.parent / "checks" / "rules" / "pagila-pii.json"
    cp = dm("-q", "-c", rules, "--audit", tmp_path / "f.json", "--report", tmp_path / "f.pdf", "-o", tmp_path / "o.sql",
            trunc)
    assert cp.returncode == 1, cp.stderr.decode()
    a = json.loads((tmp_path / "f.json").read_text())
    assert a["status"] == "failed" and a["error"]
    page1 = squeeze(pdf_text(tmp_path / "f.pdf", 1, 1))
    assert "RUN FAILED" in page1
    assert "Run status FAILED" in page1
    assert "must not be used" in page1
    # the error itself (multi_cell wraps it where the temporary path's length puts a line end)
    assert "unterminated COPY" in " ".join(page1.split()), a["error"]
    # a failed audit verifies too (it is evidence of the failure)
    v = dm("verify-audit", tmp_path / "f.json")
    assert v.returncode == 0, v.stdout.decode() + v.stderr.decode()


# ------------------------------------------------------------------ verify-audit

def test_verify_audit_fresh_and_changed(dm, pagila_run, tmp_path):
    d, _ = pagila_run
    ok = dm("verify-audit", d / "run.json")
    assert ok.returncode == 0, ok.stdout.decode() + ok.stderr.decode()
    assert b"intact" in ok.stdout
    raw = (d / "run.json").read_bytes()
    # change one byte of a value: customer's rows_read 599 -> 598
    m = re.search(rb'"public\.customer": \{.*?"rows_read": 599', raw, re.S)
    assert m
    pos = m.end() - 1
    changed = raw[:pos] + b"8" + raw[pos + 1:]
    assert len(changed) == len(raw) and sum(a != b for a, b in zip(raw, changed)) == 1
    p = tmp_path / "changed.json"
    p.write_bytes(changed)
    bad = dm("verify-audit", p)
    assert bad.returncode == 1
    assert b"NOT INTACT" in bad.stdout
    # the acceptance check's change: the first table's "rows" + 1, rewritten by json.dump
    a = json.loads(raw)
    t = next(iter(a["tables"].values()))
    t["rows"] = t.get("rows", 0) + 1
    p.write_text(json.dumps(a))
    assert dm("verify-audit", p).returncode == 1


def test_verify_audit_rejects_any_changed_value_byte(pagila_run, monkeypatch):
    """In process, for many single-byte changes of the file (every non-blank byte sampled):
    none verifies."""
    from dumpmask.crypto import Key
    from dumpmask.signing import verify_bytes

    d, _ = pagila_run
    monkeypatch.setenv("DUMPMASK_KEY", TEST_KEY)
    key = Key.from_env_or_file(None)
    raw = (d / "run.json").read_bytes()
    assert verify_bytes(raw, key)[0] is True
    # the signature object's own bytes: see test_verify_audit_rejects_a_changed_signature_block
    s0 = raw.index(b'"signature": {')
    s1 = raw.index(b"}", s0)
    positions = [i for i in range(0, len(raw), 13) if raw[i:i + 1] not in b" \n\t\r" and not s0 <= i <= s1]
    assert len(positions) > 200
    for i in positions:
        c = raw[i]
        new = ord("0") + (c - ord("0") + 1) % 10 if chr(c).isdigit() else (ord("x") if c != ord("x") else ord("y"))
        ok, reason = verify_bytes(raw[:i] + bytes([new]) + raw[i + 1:], key)
        assert not ok, f"byte {i} ({raw[max(0, i - 30):i + 10]!r}) changed and the audit still verifies"
    # a space inside a string value is a value byte too
    name = re.search(rb'"name": "[^"]*"', raw)
    assert name
    j = name.start() + len(b'"name": "')
    assert not verify_bytes(raw[:j] + b" " + raw[j + 1:], key)[0]


def test_verify_audit_rejects_a_changed_signature_block(dm, pagila_run, tmp_path):
    d, _ = pagila_run
    raw = (d / "run.json").read_bytes()
    assert b"\"key_fingerprint\": \"" in raw[raw.index(b"\"signature\": {"):]  # the field inside the signature block
    s0 = raw.index(b'"signature": {')
    i = raw.index(b'"key_fingerprint"', s0) + len(b'"key_fing')
    p = tmp_path / "sig.json"
    p.write_bytes(raw[:i] + b"X" + raw[i + 1:])  # "key_fingXrprint"
    cp = dm("verify-audit", p)
    assert cp.returncode == 1, cp.stdout.decode()


def test_verify_audit_without_key_fails_clearly(dm, pagila_run):
    d, _ = pagila_run
    cp = dm("verify-audit", d / "run.json", env={"DUMPMASK_KEY": None})
    assert cp.returncode not in (0, 70), cp
    err = cp.stderr.decode()
    assert "key" in err.lower() and ("DUMPMASK_KEY" in err or "--key-file" in err)
    assert b"intact" not in cp.stdout.lower() or b"not intact" in cp.stdout.lower()
    assert "Traceback" not in err


def test_verify_audit_with_another_key_fails(dm, pagila_run, tmp_path):
    d, _ = pagila_run
    cp = dm("verify-audit", d / "run.json", env={"DUMPMASK_KEY": "5e0c2a9b7d4f1e3a8c6b0d2f4a9e7c1b3d5f8a0c2e4b6d9f1a3c5e7b0d2f4a6c"})
    assert cp.returncode == 1
    assert b"NOT INTACT" in cp.stdout
    kf = tmp_path / "k"
    kf.write_text(TEST_KEY)
    assert dm("verify-audit", "--key-file", kf, d / "run.json", env={"DUMPMASK_KEY": None}).returncode == 0


def test_ephemeral_key_audit_says_it_cannot_be_verified(dm, datasets, tmp_path):
    src = datasets / "pagila" / "pg_dump-copy.sql"
    cp = dm("-q", "--audit", tmp_path / "e.json", "--report", tmp_path / "e.pdf", "-o", tmp_path / "o.sql", src,
            env={"DUMPMASK_KEY": None})
    assert cp.returncode == 0, cp.stderr.decode()[-2000:]
    a = json.loads((tmp_path / "e.json").read_text())
    assert a["key"]["ephemeral"] is True and a["signature"]["verifiable"] is False
    v = dm("verify-audit", tmp_path / "e.json")
    assert v.returncode == 1 and b"ephemeral" in v.stdout
    text = squeeze(pdf_text(tmp_path / "e.pdf"))
    assert "EPHEMERAL" in text and "cannot be verified" in text


def test_report_for_a_missing_or_bad_audit_fails_clearly(dm, tmp_path):
    cp = dm("report", tmp_path / "nope.json", "-o", tmp_path / "x.pdf")
    assert cp.returncode == 1 and b"nope.json" in cp.stderr and b"Traceback" not in cp.stderr
    (tmp_path / "bad.json").write_text("{not json")
    cp = dm("report", tmp_path / "bad.json", "-o", tmp_path / "x.pdf")
    assert cp.returncode == 2 and b"not a JSON audit" in cp.stderr
    assert not (tmp_path / "x.pdf").exists()


# ------------------------------------------------------------------ page 1 as an image

def test_page_one_renders_not_blank(pagila_run, tmp_path):
    from PIL import Image

    d, _ = pagila_run
    cp = subprocess.run([need("pdftoppm"), "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(d / "r.pdf"),
                         str(tmp_path / "p1")], capture_output=True, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode()
    png = tmp_path / "p1.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(png).convert("RGB")
    w, h = img.size
    assert h > w > 300  # A4 portrait
    px = img.load()
    total = w * h
    non_white = sum(1 for y in range(0, h, 2) for x in range(0, w, 2) if sum(px[x, y]) < 720) * 4
    assert 0.03 * total < non_white < 0.7 * total, non_white / total
    # the navy title band at the top, and dark text further down
    top = [px[x, 5] for x in range(10, w - 10, 10)]
    assert all(sum(p) < 400 for p in top), top[:3]
    dark_rows = {y for y in range(h // 4, h) for x in range(0, w, 3) if sum(px[x, y]) < 200}
    assert len(dark_rows) > 50
