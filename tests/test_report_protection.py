"""Protection classes and residual risk in the audit and the PDF (issue #18): real runs
through the CLI on a generated pg_dump-style dump, the PDF read back with pdftotext."""
from __future__ import annotations

import json

import pytest

from conftest import TEST_KEY
from test_report_cli import pdf_text, squeeze

from dumpmask.protection import PROTECTION, weakest
from dumpmask.transformers import REGISTRY

DUMP = b"""CREATE TABLE public.people (
    id integer NOT NULL,
    full_name text,
    email text,
    contact_email text,
    city text,
    notes text,
    status text
);

ALTER TABLE ONLY public.people
    ADD CONSTRAINT people_pkey PRIMARY KEY (id);

COPY public.people (id, full_name, email, contact_email, city, notes, status) FROM stdin;
""" + b"".join(b"%d\tName %d\tp%d@example.org\tc%d@example.org\tTown%d\tnote %d\tactive\n" % (i, i, i, i, i, i)
               for i in range(1, 41)) + b"\\.\n\n"

RULES = {"options": {"identifierRemapping": {"enabled": True}},
         "tables": [{"tableName": "people", "columnMutations": [
             {"column": "full_name", "mutation": "faker.name"},
             {"column": "email", "mutation": "faker.email"},
             {"column": "contact_email", "mutation": "keep"},
             {"column": "city", "mutation": "static:Somewhere"},
             {"column": "notes", "mutation": "null"},
             {"column": "status", "mutation": "redact", "where": {"status": {"in": ["closed"]}}}]}]}


def _run(dm, tmp_path, *extra, rules=RULES):
    (tmp_path / "in.sql").write_bytes(DUMP)
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    cp = dm("-c", tmp_path / "rules.json", tmp_path / "in.sql", "-o", tmp_path / "out.sql",
            "--audit", tmp_path / "a.json", "--report", tmp_path / "r.pdf", *extra)
    assert cp.returncode == 0, cp.stderr.decode()[-2000:]
    return json.loads((tmp_path / "a.json").read_text())


def test_every_builtin_mutation_declares_a_protection_class():
    assert all(cls.protection in PROTECTION for cls in REGISTRY.values()), \
        [n for n, c in REGISTRY.items() if c.protection not in PROTECTION]
    assert weakest(["removed", "pseudonymised", "anonymised"]) == "pseudonymised"
    assert REGISTRY["json"].protection_of({"paths": {"$.a": "null", "$.b": "keep"}}) == "kept"
    assert REGISTRY["json"].protection_of({"paths": {"$.a": "null", "$.b": "static:x"}}) == "anonymised"


def test_audit_and_pdf_show_all_five_classes_from_what_ran(dm, tmp_path):
    a = _run(dm, tmp_path)
    cols = a["tables"]["public.people"]["columns"]
    got = {c: e["protection"] for c, e in cols.items()}
    assert got == {"id": "reversible", "full_name": "pseudonymised", "email": "pseudonymised",
                   "contact_email": "kept", "city": "anonymised", "notes": "removed",
                   "status": "kept"}  # its where matched no row: every row kept in clear
    assert cols["status"]["rows_matched"] == 0
    text = " ".join(pdf_text(tmp_path / "r.pdf").split())
    assert "removed: 1; anonymised: 1; pseudonymised: 2; reversible with the key: 1; kept: 2" in text
    assert "PSEUDONYMISED, not anonymised" in text
    assert "164.514(c)" in text and "Recital 26" in text
    for cls in ("removed", "anonymised", "pseudonymised", "reversible with the key", "kept"):
        assert cls in text


def test_residual_risk_lists_a_detected_column_kept_in_clear_first(dm, tmp_path):
    _run(dm, tmp_path)
    text = squeeze(pdf_text(tmp_path / "r.pdf"))
    risk = text[text.index("Residual risk"):]
    assert "Verification was not run" in risk
    findings = risk[risk.index("Detection findings not covered by a rule"):]
    assert "contact_email" in findings and "KEPT IN CLEAR" in findings
    # listed first: before any other finding row
    first = findings.split("\n")[2:6]
    assert any("contact_email" in line for line in first), first


def test_residual_risk_shows_a_real_verify_run(dm, tmp_path):
    # without the where rule: --verify counts a column whose rule matched no row as a leak
    rules = {**RULES, "tables": [{"tableName": "people",
                                  "columnMutations": RULES["tables"][0]["columnMutations"][:-1]}]}
    a = _run(dm, tmp_path, "--verify", rules=rules)
    v = a["verification"]
    assert v["result"] == "passed" and v["values_checked"] > 0
    text = " ".join(pdf_text(tmp_path / "r.pdf").split())
    risk = text[text.index("Residual risk"):]
    assert "Values checked" in risk and f"{v['values_checked']:,}" in risk
    assert "Leaks found 0" in risk and "Verification was not run" not in risk


def test_key_label_and_weak_key_warning_render(dm, tmp_path):
    from dumpmask.crypto import Key
    from dumpmask.signing import serialise, sign

    a = _run(dm, tmp_path)
    a.pop("signature", None)
    a["key"] = {**a["key"], "label": "staging-2026-q4", "source": "env", "weak_key_ok": True}
    (tmp_path / "l.json").write_bytes(serialise(sign(a, Key.from_env_or_file(env={"DUMPMASK_KEY": TEST_KEY}))))
    cp = dm("report", tmp_path / "l.json", "-o", tmp_path / "l.pdf")
    assert cp.returncode == 0, cp.stderr
    text = squeeze(pdf_text(tmp_path / "l.pdf"))
    assert "staging-2026-q4" in text and "a weak key was accepted" in text


def test_header_never_cuts_a_long_non_ascii_input_name(dm, tmp_path):
    from dumpmask.signing import serialise

    a = _run(dm, tmp_path)
    name = "/données/" + "é" * 130 + "/Zürich-" + "ß" * 140 + "-fin.sql"
    assert len(name) >= 290
    a.pop("signature", None)
    a["input"]["name"] = name
    (tmp_path / "n.json").write_bytes(serialise(a))
    assert dm("report", tmp_path / "n.json", "-o", tmp_path / "n.pdf").returncode == 0
    page1 = pdf_text(tmp_path / "n.pdf", 1, 1)
    band = next(line for line in page1.splitlines() if "/données/" in line)
    assert "\u2026" in band and "-fin.sql" in band   # shortened in the middle: both ends there


@pytest.mark.parametrize("content", [b'{"tool": "other"}', b"%PDF-1.4\n%\xe2\xe3\n", bytes(range(256)) * 4, b""],
                         ids=["json-not-audit", "pdf", "random-bytes", "empty"])
def test_report_refuses_what_is_not_an_audit(dm, tmp_path, content):
    f = tmp_path / "x.json"
    f.write_bytes(content)
    cp = dm("report", f, "-o", tmp_path / "x.pdf")
    assert cp.returncode == 2, cp.stderr
    assert b"not a dumpmask audit" in cp.stderr and b"Traceback" not in cp.stderr
    assert not (tmp_path / "x.pdf").exists()


PLUGIN = '''
"""A plugin mutation."""
from dumpmask.transformers import Transformer, register


@register
class Upper(Transformer):
    """Upper-cases the value."""

    name = "upper"
    kinds = ("text",)
    PROTECTION_LINE

    def __call__(self, value):
        return None if value is None else value.upper()
'''


@pytest.mark.parametrize("line,expected", [("", "kept"), ('protection = "anonymised"', "anonymised"),
                                           ('protection = "safe"', None)], ids=["undeclared", "declared", "invalid"])
def test_a_plugin_declares_its_protection_class_or_is_reported_as_kept(dm, tmp_path, line, expected):
    (tmp_path / "upper_plugin.py").write_text(PLUGIN.replace("PROTECTION_LINE", line))
    rules = {"tables": [{"tableName": "people", "columnMutations": [{"column": "full_name", "mutation": "upper"}]}]}
    (tmp_path / "in.sql").write_bytes(DUMP)
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    cp = dm("--plugin", tmp_path / "upper_plugin.py", "-c", tmp_path / "rules.json", tmp_path / "in.sql",
            "-o", tmp_path / "out.sql", "--audit", tmp_path / "a.json")
    if expected is None:
        assert cp.returncode == 2 and b"declares protection" in cp.stderr and b"Traceback" not in cp.stderr
        return
    assert cp.returncode == 0, cp.stderr.decode()
    a = json.loads((tmp_path / "a.json").read_text())
    assert a["tables"]["public.people"]["columns"]["full_name"]["protection"] == expected
    warned = any("declares no protection class" in w for w in a["warnings"])
    assert warned == (expected == "kept")
