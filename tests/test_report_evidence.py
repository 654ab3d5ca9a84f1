"""Evidence that says what happened (issue 11, issue 17's credentials): the PDF's Compliance
Status, checklists and Credentials section come from the audit's record of the run (the
columns of `remapped`, the `columns_detected` inventory, per-table counters), never from the
options the run was given.

Real runs through the CLI (conftest's dm) on Pagila and on a small schema this module creates
in the real PostgreSQL server and dumps with the real pg_dump; the PDF is read back with
pdftotext (poppler-utils; under CI=true a missing tool is a failure, never a skip).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from conftest import REPO, TEST_KEY, unavailable

from dumpmask.categories import hipaa_item

CLINIC_SQL = r"""
CREATE TABLE patients (
    id serial PRIMARY KEY,
    full_name text NOT NULL,
    dob date,
    admission_date date,
    email text,
    password_digest text,
    api_token text,
    favourite_colour text
);
CREATE TABLE tokens (
    token_id uuid PRIMARY KEY,
    patient_id int NOT NULL REFERENCES patients(id),
    issued date
);
CREATE TABLE "Patient Records" (
    "RecordId" uuid PRIMARY KEY,
    patient_id int NOT NULL REFERENCES patients(id),
    "DateOfBirth" date,
    note text
);
INSERT INTO patients (full_name, dob, admission_date, email, password_digest, api_token, favourite_colour)
SELECT 'Person ' || g, date '1950-01-01' + g * 97, date '2024-01-01' + g, 'p' || g || '@example.org',
       md5('pw' || g), 'tok_' || md5('t' || g), 'blue'
FROM generate_series(1, 40) g;
INSERT INTO tokens SELECT md5('k' || g)::uuid, g, date '2024-01-01' FROM generate_series(1, 40) g;
INSERT INTO "Patient Records"
SELECT md5('r' || g)::uuid, g, date '1950-01-01' + g * 97, 'n' || g FROM generate_series(1, 40) g;
"""


def _pdftotext() -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        unavailable("pdftotext not installed (poppler-utils)")
    return exe


def pdf_text(pdf) -> str:
    cp = subprocess.run([_pdftotext(), "-layout", str(pdf), "-"], capture_output=True, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode()
    return re.sub(r"[ \t]+", " ", cp.stdout.decode("utf-8"))


def compliance(text: str) -> str:
    """The Compliance Status box (page 1), one line per label."""
    box = text.split("COMPLIANCE STATUS - THIS RUN", 1)[1].split("This report documents", 1)[0]
    # the box may start on the next page (a long error message above it): drop the running
    # footer and header pdftotext puts between
    box = "\n".join(ln for ln in box.splitlines()
                    if not re.match(r"\s*(dumpmask \S+ masking audit \||dumpmask masking audit report \||Page \d+ of \d+)", ln))
    return re.sub(r"\n\s*(?![A-Z][A-Za-z ]+:)", " ", box.strip())


def hipaa_row(text: str, n: int) -> str:
    """Item n of the HIPAA checklist with its wrapped lines."""
    part = text.split("HIPAA Safe Harbor checklist", 1)[1].split("PCI DSS checklist", 1)[0]
    m = re.search(rf"^ ?{n} .*?(?=^ ?{n + 1} |\Z)", part, re.M | re.S)
    assert m, f"HIPAA item {n} not found"
    return re.sub(r"\s+", " ", m.group(0))


def section(text: str, title: str, nxt: str) -> str:
    return re.sub(r"\s+", " ", text.split(title, 1)[1].split(nxt, 1)[0])


def run(dm, tmp_path, src, *args, name="run", ok=True):
    audit, pdf = tmp_path / f"{name}.json", tmp_path / f"{name}.pdf"
    cp = dm("-q", *args, "--audit", audit, "--report", pdf, "-o", tmp_path / f"{name}.sql", src)
    if ok:
        assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    return cp, json.loads(audit.read_text()), pdf_text(pdf)


def _dm(*args):
    """conftest's dm, for module-scoped runs shared by several tests."""
    import os
    import sys

    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "dumpmask", *map(str, args)], env=env, cwd=REPO,
                          capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def clinic_plain(clinic, tmp_path_factory):
    """The clinic dump masked with no rules, no template, no --strict."""
    return run(lambda *a: _dm(*a), tmp_path_factory.mktemp("plain"), clinic / "clinic.sql")


@pytest.fixture(scope="module")
def clinic_hipaa(clinic, tmp_path_factory):
    return run(lambda *a: _dm(*a), tmp_path_factory.mktemp("hipaa"), clinic / "clinic.sql", "--template", "hipaa")


@pytest.fixture(scope="module")
def clinic(pg_server, tmp_path_factory):
    """A pg_dump of a small clinic schema: a date of birth, an admission date, credentials,
    an integer key and a uuid key, a quoted mixed-case table and column."""
    db = pg_server.createdb("evidence_clinic")
    pg_server.psql(db, CLINIC_SQL)
    d = tmp_path_factory.mktemp("clinic")
    (d / "clinic.sql").write_bytes(pg_server.dump(db))
    (d / "clinic-data.sql").write_bytes(pg_server.dump(db, "--data-only"))
    return d


# ------------------------------------------------------------------------------------ remapping

def test_template_hipaa_run_says_remapping_active_with_the_count(dm, datasets, tmp_path):
    """Before: "Identifier Remapping: Inactive" on a --template hipaa run that remapped 58
    columns (the report read options.identifierRemapping.enabled, false for a template)."""
    _, a, text = run(dm, tmp_path, datasets / "pagila" / "pg_dump-copy.sql", "--template", "hipaa")
    n = len(a["remapped"])
    assert n >= 50
    box = compliance(text)
    assert "Inactive" not in box
    assert re.search(rf"Identifier Remapping: Active - {n} columns remapped in \d+ key domains? "
                     rf"\(Random Integer: {n}\)", box), box
    assert a["remapping"]["requested"] is True and a["remapping"]["columns"] == n
    assert a["remapping"]["by_strategy"] == {"randomInteger": n}
    assert re.search(r"Mapping table: None created \(keyed permutation\)", box)
    # each remapped column with the strategy it used, in the tables section
    tables = section(text, "Identifier remapping (", "Sequences reset")
    assert f"{n} columns remapped" in tables and "Strategy used" in tables
    assert re.search(r"public\.customer\.customer_id Random Integer", tables)


def test_strategy_shown_is_the_one_each_column_used(clinic_hipaa):
    """An integer key and a uuid key: the report shows both strategies, per column and summed,
    not one strategy for all (before: "Active (Random Integer)", the first one found)."""
    _, a, text = clinic_hipaa
    strategies = {k: v["strategy"] for k, v in a["remapped"].items()}
    assert strategies["public.tokens.token_id"] == "uuid"
    assert strategies["public.patients.id"] == strategies["public.tokens.patient_id"] == "randomInteger"
    n_int = sum(1 for v in strategies.values() if v == "randomInteger")
    n_uuid = sum(1 for v in strategies.values() if v == "uuid")
    assert n_int + n_uuid == len(strategies) and a["remapping"]["by_strategy"] == {"randomInteger": n_int, "uuid": n_uuid}
    box = compliance(text)
    assert re.search(rf"Identifier Remapping: Active - {len(strategies)} columns remapped in 2 key domains "
                     rf"\(Random Integer: {n_int}, Uuid: {n_uuid}\)", box), box
    tables = section(text, "Identifier remapping (", "Sequences reset")
    assert re.search(r"public\.tokens\.token_id Uuid uuid", tables), tables
    assert re.search(r"public\.patients\.id Random Integer int\[", tables), tables


def test_remapping_requested_but_nothing_remapped_is_not_active(dm, tmp_path):
    """identifierRemapping enabled on a dump without any key: before, "Active" in the PDF."""
    dump = tmp_path / "nokeys.sql"
    dump.write_bytes(b"CREATE TABLE public.t (\n    n integer,\n    email text\n);\n\n"
                     b"COPY public.t (n, email) FROM stdin;\n1\ta@example.org\n\\.\n")
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"identifierRemapping": {"enabled": True}}, "tables": []}))
    cp, a, _ = run(dm, tmp_path, dump, "-c", rules, ok=False)
    assert a["remapped"] == {} and a["remapping"]["requested"] is True and a["remapping"]["columns"] == 0
    # the PDF of the audit, however the run ended (another check may fail such a run)
    cp = dm("report", tmp_path / "run.json", "-o", tmp_path / "again.pdf")
    assert cp.returncode == 0, cp.stderr.decode()
    box = compliance(pdf_text(tmp_path / "again.pdf"))
    assert re.search(r"Identifier Remapping: NOT ACTIVE - remapping was requested but no column was remapped", box), box
    assert "Active (" not in box


# ------------------------------------------------------------------------------------ inventory

def test_dob_kept_in_clear_reads_present_not_masked_under_3(clinic_plain):
    """No rules, no --template, no --strict: before, HIPAA #3 read "not found in this dump"
    while patients.dob was in the output in clear."""
    _, a, text = clinic_plain
    row3 = hipaa_row(text, 3)
    assert "present, NOT masked" in row3, row3
    inv = a["columns_detected"]
    assert inv["public.patients"]["dob"]["status"] == "NOT masked"
    assert "HIPAA-3 date" in [inv["public.patients"]["dob"]["category"], *inv["public.patients"]["dob"]["also"]]
    assert inv["public.patients"]["admission_date"]["category"] == "HIPAA-3 date"
    assert inv["public.Patient Records"]["DateOfBirth"]["status"] == "NOT masked"
    assert "favourite_colour" not in inv["public.patients"]
    row3 = hipaa_row(text, 3)
    assert "present, NOT masked" in row3, row3
    for c in ("public.patients.dob", "public.patients.admission_date", "public.Patient Records.DateOfBirth"):
        assert c in row3, (c, row3)
    assert "not found in this dump" not in row3
    assert "present, NOT masked" in hipaa_row(text, 6) and "public.patients.email" in hipaa_row(text, 6)
    # keys in clear are identifiers (#18) of a run that remapped nothing
    assert "present, NOT masked" in hipaa_row(text, 18) and "public.patients.id" in hipaa_row(text, 18)
    box = compliance(text)
    assert re.search(r"PII Left in Clear: \d+ columns detected and NOT masked: .*public\.patients\.dob \(date of birth\)",
                     box), box
    assert re.search(r"Identifier Remapping: Inactive - not requested; no column was remapped; \d+ key columns in clear",
                     box), box
    assert re.search(r"PII Fields Masked: 0 fields", box)


def test_dob_masked_by_template_is_listed_under_3(clinic_hipaa):
    """--template hipaa masks dob as "GDPR date of birth" (also HIPAA-3): before, #3 read "not
    found in this dump" (the report knew no HIPAA number for that category)."""
    _, a, text = clinic_hipaa
    assert a["tables"]["public.patients"]["columns"]["dob"]["category"] == "GDPR date of birth"
    row3 = hipaa_row(text, 3)
    assert row3.split(" All elements of dates (except year) ", 1)[1].startswith("masked "), row3
    for c in ("public.patients.dob", "public.patients.admission_date", "public.Patient Records.DateOfBirth"):
        assert c in row3, (c, row3)
    assert "NOT masked" not in row3
    assert re.search(r"PII Left in Clear: none", compliance(text))


def test_keep_rule_reads_kept_in_clear_not_masked(dm, clinic, tmp_path):
    rules = tmp_path / "keep.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "patients", "columnMutations": [
        {"column": "full_name", "mutation": "keep"}, {"column": "email", "mutation": "faker.email"}]}]}))
    _, a, text = run(dm, tmp_path, clinic / "clinic.sql", "-c", rules)
    p = a["columns_detected"]["public.patients"]
    assert p["full_name"]["status"] == "kept (rule)" and p["email"]["status"] == "masked"
    assert p["email"]["mutation"] == "faker.email"
    row1, row6 = hipaa_row(text, 1), hipaa_row(text, 6)
    assert "present, kept by a rule" in row1 and "kept in clear by a rule: public.patients.full_name" in row1, row1
    assert re.search(r"6 Email addresses masked public\.patients\.email", row6), row6
    box = compliance(text)
    assert re.search(r"PII Left in Clear: .*1 column kept in clear by a rule: public\.patients\.full_name", box), box


def test_data_only_dump_says_which_tables_were_not_classified(dm, clinic, tmp_path):
    """No CREATE TABLE: the columns are unknown, so nothing may read "not found in this dump"."""
    _, a, text = run(dm, tmp_path, clinic / "clinic-data.sql")
    assert set(a["columns_unclassified"]) == {"public.patients", "public.tokens", "public.Patient Records"}
    assert a["columns_detected"] == {}
    assert "not found in this dump" not in text
    assert re.search(r"not found \(3 tables not\s.*classified\)", hipaa_row(text, 7)), hipaa_row(text, 7)
    assert re.search(r"3 tables NOT classified \(no CREATE TABLE seen\)", compliance(text))


# ------------------------------------------------------------------------------------ credentials

def test_credentials_in_clear_is_an_attention_line_on_page_1(clinic_plain):
    _, a, text = clinic_plain
    assert a["columns_detected"]["public.patients"]["password_digest"]["category"].startswith("credential")
    page1 = text.split("\f", 1)[0]
    box = compliance(page1)
    assert re.search(r"Credentials: (\d+) of \1 credential columns? LEFT IN CLEAR: .*public\.patients\.password_digest",
                     box), box
    creds = section(text, "4. Credentials", "5. Tables")
    assert re.search(r"public\.patients\.password_digest credential password LEFT IN CLEAR \(no rule\)", creds), creds


def test_credentials_hashed_and_redacted_say_so(dm, clinic, tmp_path):
    rules = tmp_path / "creds.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "patients", "columnMutations": [
        {"column": "password_digest", "mutation": "hash"}, {"column": "api_token", "mutation": "redact"}]}]}))
    _, a, text = run(dm, tmp_path, clinic / "clinic.sql", "-c", rules)
    box = compliance(text)   # (the box may run onto page 2 since the protection lines)
    assert re.search(r"Credentials: \d+ columns?, none in clear \(hashed: 1", box), box
    creds = section(text, "4. Credentials", "5. Tables")
    assert re.search(r"public\.patients\.password_digest credential password hashed", creds), creds
    assert "LEFT IN CLEAR" not in creds


def test_sakila_credentials_and_names_in_clear(dm, datasets, tmp_path):
    """A MariaDB dump, no rules: staff.password in clear is said on page 1 and in its section."""
    _, a, text = run(dm, tmp_path, datasets / "sakila" / "mariadb-dump-default.sql")
    staff = next(t for t in a["columns_detected"] if t.endswith("staff"))
    assert a["columns_detected"][staff]["password"]["status"] == "NOT masked"
    box = compliance(text)
    assert re.search(rf"Credentials: \d+ of \d+ credential columns? LEFT IN CLEAR: .*{re.escape(staff)}\.password", box), box
    assert "present, NOT masked" in hipaa_row(text, 1)


# ------------------------------------------------------------------------------------ outcome

def test_failed_run_states_failed_first(dm, clinic, tmp_path):
    src = (clinic / "clinic.sql").read_bytes()
    i = src.index(b"COPY public.patients ")
    trunc = tmp_path / "trunc.sql"
    trunc.write_bytes(src[:src.index(b"\n", i + 300) + 1])  # ends inside the patients COPY block
    cp, a, text = run(dm, tmp_path, trunc, ok=False)
    assert cp.returncode == 1 and a["status"] == "failed"
    box = compliance(text)
    first = box.strip().splitlines()[0]
    assert first.startswith("Run outcome: FAILED - this run did not complete"), box
    assert "columns_detected" in a  # what was seen is recorded for a failed run too


def test_audit_without_the_new_fields_says_not_recorded(dm, clinic_plain, tmp_path):
    """An audit of dumpmask 0.2.0 (no columns_detected, columns_unclassified, remapping):
    nothing is guessed about the columns it does not list."""
    a = json.loads(json.dumps(clinic_plain[1]))
    for k in ("columns_detected", "columns_unclassified", "remapping"):
        a.pop(k)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(a))
    cp = dm("report", old, "-o", tmp_path / "old.pdf")
    assert cp.returncode == 0, cp.stderr.decode()
    text = pdf_text(tmp_path / "old.pdf")
    box = compliance(text)
    assert re.search(r"PII Left in Clear: not recorded", box) and re.search(r"Credentials: not recorded", box), box
    assert "not found in this dump" not in text
    assert "not recorded" in hipaa_row(text, 3)
    assert "Not recorded: this audit has no column inventory" in section(text, "4. Credentials", "5. Tables")


# ------------------------------------------------------------------------------------ generated

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dumpmask import detect, report  # noqa: E402

_STATUSES = ["masked", "remapped", "kept (rule)", "kept (template)", "NOT masked", "no rows"]
_ident = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_column = st.fixed_dictionaries({
    "category": st.sampled_from(detect.CATEGORIES),
    "also": st.lists(st.sampled_from(detect.CATEGORIES), max_size=2),
    "status": st.sampled_from(_STATUSES),
    "evidence": st.sampled_from(["name", "content 90%", "name+content 100%", "rule", "key"]),
})
_inventory = st.dictionaries(_ident, st.dictionaries(_ident, _column, min_size=1, max_size=4), max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inv=_inventory, unclassified=st.lists(_ident, max_size=2))
def test_checklist_items_follow_the_inventory(inv, unclassified):
    """For any inventory: an item reads "present, NOT masked" iff one of its columns is in
    clear; "not found in this dump" only when no column names it and every table was
    classified; a column is under HIPAA #n iff one of its categories (or a related one) is
    HIPAA-n."""
    audit = {"columns_detected": inv, "columns_unclassified": unclassified, "tables": {}}
    hipaa, pci, have_inv, uncl = report._checklist_groups(audit, {})
    assert have_inv
    for n in range(1, 19):
        expect = {f"{t}.{c}" for t, cols in inv.items() for c, e in cols.items()
                  if any(hipaa_item(x) == n for x in report._expand([e["category"], *e["also"]]))}
        assert {i["name"] for i in hipaa[n]} == expect, n
        text, tone = report._checklist_status(hipaa[n], have_inv, uncl, manual=n in (16, 17))
        clear = [i for i in hipaa[n] if i["status"] == "NOT masked"]
        assert text.startswith("present, NOT masked") == bool(clear), (n, text)
        assert (tone == "bad") == bool(clear)
        if text == "not found in this dump":
            assert not hipaa[n] and not unclassified
        if hipaa[n]:
            assert not text.startswith(("not found", "not recorded")), (n, text)
    for k, items in pci.items():
        text, _ = report._checklist_status(items, have_inv, uncl)
        assert text.startswith("present, NOT masked") == any(i["status"] == "NOT masked" for i in items)


def test_generated_inventory_renders_with_any_identifiers(tmp_path):
    """Identifiers of every kind (quotes, dots, newlines, non-ASCII) in the inventory render:
    the NOT masked column is named on its row and on page 1."""
    t, c = 'we"ird.Tab le\n', "Дата рождения"
    audit = {"status": "ok", "tables": {t: {"rows": 3, "rows_read": 3, "rows_written": 3, "columns": {}}},
             "columns_detected": {t: {c: {"category": "GDPR date of birth", "also": ["HIPAA-3 date"],
                                          "evidence": "content 100%", "status": "NOT masked"}}},
             "columns_unclassified": [], "remapped": {},
             "remapping": {"requested": False, "columns": 0, "by_strategy": {}, "domains": 0}}
    report.render(audit, str(tmp_path / "g.pdf"))
    text = pdf_text(tmp_path / "g.pdf")
    row3 = hipaa_row(text, 3)
    assert "present, NOT masked" in row3 and "{U+000A}" in row3 and "Дата рождения" in row3, row3
    assert re.search(r"PII Left in Clear: 1 column detected and NOT masked", compliance(text))
