"""PDF audit report (dumpmask.report) and audit signatures (dumpmask.signing).

The PDF is read back with poppler's pdftotext / pdftoppm: CI installs poppler-utils, so a missing
tool is a test failure, never a skip.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from dumpmask import report, signing
from dumpmask.crypto import Key
from conftest import OTHER_KEY, TEST_KEY

ROOT = Path(__file__).resolve().parent.parent
SHA_IN = "9f2c1b0e4a7d3c5b8e6f1a2d4c7b9e0f3a5d8c1b4e7f0a2d5c8b1e4f7a0d3c6b"
SHA_OUT = "1b4e7f0a2d5c8b1e4f7a0d3c6b9f2c1b0e4a7d3c5b8e6f1a2d4c7b9e0f3a5d8c"
SHA_RULES = "c0ffee00" * 8

PAGILA = [  # table, rows, masked columns (name -> (mutation, category))
    ("public.customer", 599, {
        "first_name": ("faker.first_name", "HIPAA-1 name"),
        "last_name": ("faker.last_name", "HIPAA-1 name"),
        "email": ("faker.email", "HIPAA-6 email"),
        "customer_id": ("key", "HIPAA-18 unique identifier")}),
    ("public.staff", 2, {
        "first_name": ("faker.first_name", None), "last_name": ("faker.last_name", None),
        "email": ("faker.email", None), "username": ("faker.user_name", None),
        "password": ("hash.sha256", None)}),
    ("public.address", 603, {
        "address": ("faker.street_address", "HIPAA-2 geographic"),
        "address2": ("null", "HIPAA-2 geographic"),
        "district": ("faker.state", "HIPAA-2 geographic"),
        "postal_code": ("faker.postcode", "HIPAA-2 geographic"),
        "phone": ("faker.phone_number", "HIPAA-4 phone")}),
    ("public.city", 600, {"city": ("faker.city", None)}),
    ("public.country", 109, {}),
    ("public.actor", 200, {"first_name": ("faker.first_name", None), "last_name": ("faker.last_name", None)}),
    ("public.film", 1000, {}),
    ("public.film_actor", 5462, {}),
    ("public.film_category", 1000, {}),
    ("public.category", 16, {}),
    ("public.language", 6, {}),
    ("public.inventory", 4581, {}),
    ("public.rental", 16044, {"customer_id": ("key", "HIPAA-18 unique identifier")}),
    ("public.payment", 16049, {"customer_id": ("key", "HIPAA-18 unique identifier"),
                               "card_number": ("luhn.pan", "PCI PAN"),
                               "card_expiry": ("date.shift", None)}),
    ("public.store", 2, {}),
    ("public.film_text", 1000, {}),
    ("billing.cards", 3120, {"pan": ("luhn.pan", None), "cvv": ("null", None),
                             "cardholder_name": ("faker.name", None)}),
    ("billing.invoices", 25400, {"account_number": ("faker.iban", None)}),
    ("clinic.patients", 1850, {"mrn": ("format.preserving", None), "ssn": ("faker.ssn", None),
                              "date_of_birth": ("date.year_only", None), "fax": ("faker.phone_number", None)}),
    ("clinic.visits", 9120, {"ip_address": ("faker.ipv4", None), "referrer_url": ("faker.url", None)}),
    ("clinic.devices", 77, {"serial_number": ("hash.hex", None)}),
    ("audit.login_events", 48211, {"ip": ("faker.ipv4", None)}),
    ("audit.sessions", 12000, {}),
    ("public.newsletter_subscribers", 4410, {"email": ("faker.email", None)}),
]


def make_audit(failed: bool = False, names=PAGILA) -> dict:
    tables = {}
    for tname, rows, cols in names:
        c = {}
        for i, (cname, (mut, cat)) in enumerate(cols.items()):
            nulls = (rows // 10) if cname in ("address2", "fax") else 0
            col = {"mutation": mut, "changed": rows - nulls, "nulls": nulls, "category": cat}
            if mut == "key":
                col.update(strategy="randomInteger", domain="public.customer.customer_id")
            c[cname] = col
        tables[tname] = {"rows": rows, "rows_read": rows, "rows_written": rows, "transfer": "full", "columns": c}
    if failed:
        tables = dict(list(tables.items())[:5])
    audit = {
        "tool": "dumpmask", "version": "0.1.0",
        "status": "failed" if failed else "ok",
        "error": "line 48213: COPY public.rental: row has 8 fields, table has 7 columns" if failed else None,
        "started_at": "2026-11-23T13:00:00.123Z", "finished_at": "2026-11-23T13:00:07.456Z",
        "duration_s": 7.33, "dialect": "postgres",
        "input": {"name": "pg_dump-copy.sql", "bytes": 6_811_930, "sha256": SHA_IN},
        "output": {"name": "masked.sql", "bytes": 6_790_114, "sha256": SHA_OUT},
        "key": {"fingerprint": "5d41402abc4b2a76b9719d911017c592", "ephemeral": False},
        "rules": {"file": "rules.json", "sha256": SHA_RULES},
        "options": {"strict": False, "template": "hipaa",
                    "identifierRemapping": {"enabled": True, "strategy": "randomInteger"},
                    "transfer": {"mode": "full", "rows": None, "referentialIntegrity": True}},
        "tables": tables,
        "remapped": {"public.customer.customer_id": {
            "strategy": "randomInteger", "domain": "public.customer.customer_id",
            "range": [1, 1073741823], "values": 599, "collision_bound": 0}},
        "sequences": [{"sequence": "public.customer_customer_id_seq", "column": "public.customer.customer_id",
                       "value": 1073741824}],
        "not_remapped": [{"column": "public.film_text.film_id",
                          "reason": "no foreign key and no rule: cannot tell whether it joins"}],
        "unmatched_rules": [{"table": "custmer", "column": None,
                             "message": "rule matches no table (did you mean public.customer?)"}],
        "detected_uncovered": [{"table": "public.staff", "column": "picture", "category": "HIPAA-17 photo",
                                "decision": "keep"}],
        "warnings": ["public.payment: 3 rows with NULL card_number", "MySQL-only syntax ignored: /*!40101 */"],
        "passthrough": {"CREATE TABLE": 24, "COPY": 10, "ALTER TABLE": 60, "SELECT": 13, "psql meta-command": 2},
    }
    return audit


def _require(tool: str) -> str:
    exe = shutil.which(tool)
    if not exe:
        pytest.fail(f"{tool} not found: install poppler-utils (apt-get install -y poppler-utils); "
                    "the report tests read the PDF back with it")
    return exe


def pdftext(path) -> str:
    exe = _require("pdftotext")
    return subprocess.run([exe, "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def page1_png(pdf_path, out_prefix, dpi=50) -> Path:
    exe = _require("pdftoppm")
    subprocess.run([exe, "-r", str(dpi), "-f", "1", "-l", "1", "-png", "-singlefile", str(pdf_path),
                    str(out_prefix)], check=True, capture_output=True)
    return Path(str(out_prefix) + ".png")


def write_signed(tmp_path, audit, key) -> tuple[Path, str]:
    audit["key"]["fingerprint"] = key.fingerprint()
    signing.sign(audit, key)
    p = tmp_path / "audit.json"
    p.write_bytes(orjson.dumps(audit, option=orjson.OPT_INDENT_2))
    return p, signing.audit_sha256(p)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


# ---------------------------------------------------------------------------------------------
# report


@pytest.fixture
def key():
    return Key(TEST_KEY)


def test_report_sections_counts_and_hashes(tmp_path, key):
    audit = make_audit()
    apath, asha = write_signed(tmp_path, audit, key)
    out = tmp_path / "report.pdf"
    report.render(audit, str(out), audit_sha256=asha)
    text = pdftext(out)
    flat = squash(text)
    pages = text.count("\f")
    assert pages >= 4, f"24 tables should span several pages, got {pages}"

    for title in ("Run summary", "COMPLIANCE STATUS - THIS RUN", "HIPAA Safe Harbor checklist",
                  "PCI DSS checklist", "Tables", "Masked values per table", "Masked columns", "Warnings",
                  "Unmatched rules", "Detected personal data NOT masked", "Identifier columns not remapped",
                  "Statements passed through unchanged", "Other warnings"):
        assert title in flat, title
    # hashes in full
    assert asha in text and SHA_IN in text and SHA_OUT in text
    assert key.fingerprint() in text
    # compliance lines
    # remapping as it happened: the columns of `remapped`, by the strategy each used
    assert re.search(r"Identifier Remapping:\s+Active - 3 columns remapped in 1 key domain \(Random Integer: 3\)", text)
    n_pii = sum(1 for _, _, cols in PAGILA for m, _ in cols.values() if m != "key")
    assert re.search(rf"PII Fields Masked:\s+{n_pii} fields \(", text)
    assert re.search(r"Mapping table:\s+None created \(keyed permutation\)", text)
    assert re.search(r"Partial Transfer:\s+Full Transfer \(no limit\)", text)
    assert "not a legal certification" in flat
    # checklists
    for ident in ("Names", "Geographic subdivisions smaller than a state", "Email addresses",
                  "Social Security numbers", "Medical record numbers", "Full-face photographs",
                  "Biometric identifiers"):
        assert ident in flat, ident
    # an audit without a column inventory (0.2.0) cannot say what the dump does not hold
    assert "not found in this dump" not in flat
    assert flat.count("manual verification required") >= 2  # 16 and 17
    assert "kept in clear by a rule: public.staff.picture" in flat
    hipaa_rows = {int(m.group(1)): m.group(0) for m in re.finditer(r"^[ \t]*(\d{1,2})[ \t]+\S.*$", text, re.M)
                  if 1 <= int(m.group(1)) <= 18}
    assert "public.customer.email" in hipaa_rows[6] and "masked" in hipaa_rows[6]
    assert "public.staff.email" in hipaa_rows[6]  # inferred from the name (category null)
    assert "clinic.patients.ssn" in hipaa_rows[7]
    assert "not recorded" in hipaa_rows[12]
    assert "clinic.patients.date_of_birth" in hipaa_rows[3]  # a date of birth is HIPAA #3
    assert "public.customer.customer_id" in hipaa_rows[18]
    for pci in ("billing.cards.pan", "billing.cards.cvv", "billing.cards.cardholder_name",
                "public.payment.card_expiry"):
        assert pci in flat, pci
    # per table counts
    line = next(l for l in text.splitlines() if l.strip().startswith("public.rental ") and "full" in l)
    assert "16,044" in line
    total_read = sum(r for _, r, _ in PAGILA)
    assert f"{total_read:,}" in text
    m = re.search(r"^\s*public\.customer\s+email\s+faker\.email\s+HIPAA-6 email\s+599\s+0\s*$", text, re.M)
    assert m, "customer.email row with mutation and counts"
    assert re.search(r"clinic\.patients\s+fax\s+faker\.phone_number.*\s1,665\s+185\s*$", text, re.M)
    # warnings content
    assert "custmer" in text and "public.film_text.film_id" in text
    assert re.search(r"ALTER TABLE\s+60", text) and re.search(r"psql meta-command\s+2", text)
    # footer: page numbers and audit hash prefix on every page
    assert f"Page 1 of {pages}" in text or f"Page 1 of {pages + 1}" in text
    assert text.count(asha[:16]) >= pages
    assert "signed (HMAC-SHA256" in flat


def test_failed_run_says_so_on_page_1(tmp_path, key):
    audit = make_audit(failed=True)
    _, asha = write_signed(tmp_path, audit, key)
    out = tmp_path / "failed.pdf"
    report.render(audit, str(out), audit_sha256=asha)
    page1 = squash(pdftext(out).split("\f")[0])
    assert "RUN FAILED" in page1
    assert "COPY public.rental: row has 8 fields, table has 7 columns" in page1
    assert "FAILED" in page1.split("Run status", 1)[1][:30]
    # and it is red: count strongly red pixels on page 1
    png = page1_png(out, tmp_path / "failed-p1")
    from PIL import Image

    im = Image.open(png).convert("RGB")
    px = im.tobytes()
    red = sum(1 for i in range(0, len(px), 3) if px[i] > 150 and px[i + 1] < 80 and px[i + 2] < 80)
    assert red > 50, red


def test_missing_fields_render_as_na(tmp_path):
    out = tmp_path / "empty.pdf"
    report.render({}, str(out))
    flat = squash(pdftext(out))
    assert "COMPLIANCE STATUS - THIS RUN" in flat and "n/a" in flat
    assert "No table data was recorded" in flat
    # garbage types do not crash either
    report.render({"tables": {"t": None, "u": {"columns": {"c": None}}}, "input": "x", "remapped": [],
                   "warnings": "oops", "passthrough": {"X": "many"}, "status": "failed",
                   "columns_detected": {"t": None, "u": {"c": None, "d": "x", "e": {"also": "y", "category": 3}}},
                   "columns_unclassified": "z", "remapping": [], "not_remapped": [None, {"column": 5}]}, str(out))
    assert "RUN FAILED" in pdftext(out)


UNICODE_NAMES = [
    ("клиенты", 10, {"e-mail адрес": ("faker.email", None), "имя": ("faker.first_name", None)}),
    ("顧客", 20, {"電話": ("faker.phone_number", "HIPAA-4 phone")}),
    ("Ωmega", 30, {"όνομα": ("faker.name", "HIPAA-1 name")}),
    ("public.עברית", 3, {"email": ("faker.email", None)}),
]


def test_unicode_identifiers(tmp_path, key):
    audit = make_audit(names=UNICODE_NAMES)
    out = tmp_path / "unicode.pdf"
    report.render(audit, str(out), audit_sha256="ab" * 32)
    text = pdftext(out)
    for s in ("клиенты", "e-mail адрес", "Ωmega", "όνομα", "клиенты.e-mail адрес"):
        assert s in text, s
    # the e-mail column's HIPAA category is inferred from its name
    assert re.search(r"e-mail адрес\s+faker\.email\s+HIPAA-6 email \(inferred\)", text)
    cjk_font = report.fallback_font_paths()
    if any(report._font_covers(p, "顧客") for p in cjk_font):
        assert "顧客" in text and "電話" in text
    else:  # no CJK font on this machine: the names are still unambiguous
        assert "{U+9867 U+5BA2}" in text


def test_unicode_without_any_fallback_font(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "fallback_font_paths", lambda: [])
    audit = make_audit(names=UNICODE_NAMES)
    out = tmp_path / "nofallback.pdf"
    report.render(audit, str(out))
    text = pdftext(out)
    assert "клиенты" in text and "{U+9867 U+5BA2}" in text and "{U+96FB U+8A71}" in text


def test_no_ttf_font_at_all_falls_back_to_core_font(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "find_main_fonts", lambda: None)
    out = tmp_path / "core.pdf"
    report.render(make_audit(names=UNICODE_NAMES), str(out))
    text = pdftext(out)
    assert "COMPLIANCE STATUS - THIS RUN" in text and "{U+043A" in text


def test_inactive_remapping_and_partial_transfer(tmp_path):
    audit = make_audit()
    audit["options"]["identifierRemapping"] = {"enabled": False}
    audit["options"]["template"] = None
    audit["options"]["transfer"] = {"mode": "first", "rows": 50, "referentialIntegrity": True}
    audit["remapped"] = {}
    audit["not_remapped"] = []
    for t in audit["tables"].values():
        t["transfer"] = "first"
        t["columns"] = {c: v for c, v in t["columns"].items() if v["mutation"] != "key"}
    audit["tables"]["public.payment"]["transfer"] = "last"
    audit["key"]["ephemeral"] = True
    audit["signature"] = {"alg": "HMAC-SHA256", "value": "00", "key_fingerprint": "x", "verifiable": False}
    out = tmp_path / "partial.pdf"
    report.render(audit, str(out))
    text = pdftext(out)
    flat = squash(text)
    assert re.search(r"Identifier Remapping:\s+Inactive", text)
    assert "Partial Transfer: First 50 rows per table (per-table overrides: public.payment: last)" in flat
    assert "not reproducible" in flat
    assert "cannot be verified" in flat


def test_page1_png_not_blank_and_docs_example(tmp_path, key):
    audit = make_audit()
    _, asha = write_signed(tmp_path, audit, key)
    out = tmp_path / "report.pdf"
    report.render(audit, str(out), audit_sha256=asha)
    png = page1_png(out, tmp_path / "p1")
    from PIL import Image

    im = Image.open(png).convert("L")
    w, h = im.size
    assert (w, h) > (350, 500)  # A4 at 50 dpi is 413 x 585
    dark = sum(1 for p in im.tobytes() if p < 200)
    assert dark > 0.03 * w * h, f"page 1 looks blank: {dark} non-white pixels of {w * h}"
    # the README's example page: regenerate only when asked (keeps the test side-effect free)
    if os.environ.get("DUMPMASK_UPDATE_DOCS"):
        docs = ROOT / "docs"
        docs.mkdir(exist_ok=True)
        big = page1_png(out, tmp_path / "p1-big", dpi=110)
        shutil.copy(big, docs / "report-page1.png")


# ---------------------------------------------------------------------------------------------
# signing


def test_sign_and_verify_fresh(key):
    audit = signing.sign(make_audit(), key)
    assert audit["signature"]["alg"] == "HMAC-SHA256"
    assert audit["signature"]["key_fingerprint"] == key.fingerprint()
    assert audit["signature"]["verifiable"] is True
    assert signing.verify(audit, key) == (True, "intact")
    # key order and whitespace do not matter
    shuffled = json.loads(json.dumps(audit, indent=7, sort_keys=True))
    shuffled = dict(reversed(list(shuffled.items())))
    assert signing.verify(shuffled, key) == (True, "intact")
    assert signing.canonical(shuffled) == signing.canonical(audit)
    assert b"signature" not in signing.canonical(audit)


@pytest.mark.parametrize("mutate", [
    lambda a: a["tables"]["public.customer"].__setitem__("rows", a["tables"]["public.customer"]["rows"] + 1),
    lambda a: a["tables"]["public.customer"]["columns"]["email"].__setitem__("changed", 598),
    lambda a: a.__setitem__("status", "failed"),
    lambda a: a["input"].__setitem__("sha256", "0" * 64),
    lambda a: a["warnings"].pop(),
    lambda a: a["options"].__setitem__("strict", True),
    lambda a: a["tables"].pop("public.staff"),
    lambda a: a.__setitem__("extra", 1),
], ids=["rows+1", "changed", "status", "input-sha", "warning-removed", "option", "table-removed", "added"])
def test_verify_fails_after_any_change(key, mutate):
    audit = signing.sign(make_audit(), key)
    tampered = copy.deepcopy(audit)
    mutate(tampered)
    assert signing.verify(tampered, key) == (False, "signature mismatch: the audit was changed")


def test_verify_fails_after_every_single_field_change(key):
    audit = signing.sign(make_audit(), key)

    def leaves(obj, path=()):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from leaves(v, path + (k,))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                yield from leaves(v, path + (i,))
        else:
            yield path, obj

    n = 0
    for path, val in leaves(audit):
        if path[0] == "signature":
            continue
        t = copy.deepcopy(audit)
        node = t
        for p in path[:-1]:
            node = node[p]
        if isinstance(val, bool):
            node[path[-1]] = not val
        elif isinstance(val, (int, float)):
            node[path[-1]] = val + 1
        elif isinstance(val, str):
            node[path[-1]] = val + "x"
        else:
            node[path[-1]] = 0
        ok, reason = signing.verify(t, key)
        assert not ok and "mismatch" in reason, path
        n += 1
    assert n > 200


@pytest.mark.parametrize("where", [0, 1, 10, 100, 777, 2000, 5000, 9999, -300, -120, -40, -2, -1])
def test_verify_fails_after_flipping_any_byte(tmp_path, key, where):
    audit = signing.sign(make_audit(), key)
    data = bytearray(signing.serialise(audit))  # the bytes exactly as dumpmask writes them
    assert signing.verify_bytes(bytes(data), key) == (True, "intact")
    pos = where % len(data)
    for flip in (0x01, 0x20, 0x80):
        bad = bytearray(data)
        bad[pos] ^= flip
        ok, reason = signing.verify_bytes(bytes(bad), key)
        assert not ok, (pos, flip, chr(data[pos]))
        try:
            parsed = orjson.loads(bytes(bad))
        except orjson.JSONDecodeError:
            continue  # unparseable: failing to verify is the whole requirement
        assert signing.verify(parsed, key)[0] is False


def test_verify_reasons(key):
    audit = make_audit()
    assert signing.verify(audit, key) == (False, "no signature")
    signing.sign(audit, key)
    other = Key(OTHER_KEY)
    ok, reason = signing.verify(audit, other)
    assert not ok and reason == f"signed with a different key (fingerprint {key.fingerprint()})"
    eph = Key.random()
    a2 = signing.sign(make_audit(), eph)
    assert a2["signature"]["verifiable"] is False
    assert signing.verify(a2, eph) == (False, "signed with an ephemeral key: cannot be verified")
    assert signing.verify_bytes(b"{not json", key)[0] is False


def test_audit_sha256(tmp_path):
    p = tmp_path / "a.json"
    p.write_bytes(b"hello")
    assert signing.audit_sha256(p) == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


def test_infer_categories_are_detects():
    """The report infers categories (for audits that record none) with dumpmask.detect's name
    detection: one vocabulary for scan, --template, the audit and the PDF."""
    f = report.infer_categories
    assert f("email") == ["HIPAA-6 email"]
    assert f("e-mail адрес") == ["HIPAA-6 email"]
    assert f("contactEmail") == ["HIPAA-6 email"]
    assert f("phone") == ["HIPAA-4 phone"]
    assert f("last_name") == ["HIPAA-1 name"]
    assert f("name") == [] and f("name", "public.customer") == ["HIPAA-1 name"]  # a person's only on a people table
    assert f("postal_code") == ["HIPAA-2 geographic"] and f("district") == ["HIPAA-2 geographic"]
    assert f("ssn")[0] == "HIPAA-7 SSN"
    assert f("card_number")[0] == "PCI PAN" and f("pan")[0] == "PCI PAN"
    assert f("cvv") == ["PCI CVV"]
    assert "PCI cardholder name" in f("cardholder_name")
    assert f("card_expiry") == ["PCI expiry"]
    for dob in ("dob", "date_of_birth", "birthdate"):
        assert "HIPAA-3 date" in f(dob), dob
    for d in ("admission_date", "discharge_date", "death_date"):
        assert f(d) == ["HIPAA-3 date"], d
    assert f("film_id") == [] and f("rental_rate") == []
    # a category recorded without its related ones still reaches the HIPAA item
    assert "HIPAA-3 date" in report._expand(["GDPR date of birth"])


def test_partial_transfer_line_is_what_the_tables_went_through(tmp_path):
    """Options that say "first 50" while every table was written in full (the transfer
    feature never ran): the line says what happened, not what was configured."""
    audit = make_audit()
    audit["options"]["transfer"] = {"mode": "first", "rows": 50}
    out = tmp_path / "t.pdf"
    report.render(audit, str(out))
    assert re.search(r"Partial Transfer:\s+Full Transfer \(no limit\)", pdftext(out))
    for t in audit["tables"].values():
        t["transfer"] = "first 50"
        t["rows_written"] = min(50, t["rows_read"])
    audit["options"]["transfer"] = {"mode": "full"}
    report.render(audit, str(out))
    assert re.search(r"Partial Transfer:\s+First 50 rows per table", pdftext(out))
    # a full transfer whose rows were not all written is said, in the same line
    audit = make_audit()
    audit["tables"]["public.rental"]["rows_written"] = 100
    report.render(audit, str(out))
    assert "rows NOT all written: public.rental: 100 of 16,044" in squash(pdftext(out))
