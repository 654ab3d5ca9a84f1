"""Errors locate (file:line, table, column, row) but never repeat the dump's data: a unique
marker planted in the data rows of dumps broken in many ways must not appear on stderr, in the
audit (its `error` field or anywhere else) or in the PDF report's text."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TEST_KEY, unavailable
from dumpmask.cli import main

MARK = "QZXMARK7"

PG_HEAD = """-- PostgreSQL database dump
SET client_encoding = 'UTF8';
CREATE TABLE public.person (
    id integer NOT NULL,
    email text,
    note text
);
"""
PG_TAIL = """ALTER TABLE ONLY public.person
    ADD CONSTRAINT person_pkey PRIMARY KEY (id);
"""
MY_HEAD = """-- MariaDB dump 10.19
CREATE TABLE `person` (
  `id` int(11) NOT NULL,
  `email` varchar(200) DEFAULT NULL,
  `note` text,
  PRIMARY KEY (`id`)
);
"""

RULES = {"options": {"identifierRemapping": True},
         "tables": [{"tableName": "person", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]}


def _pg(rows: str, tail: str = PG_TAIL) -> str:
    return PG_HEAD + "COPY public.person (id, email, note) FROM stdin;\n" + rows + tail


def _pg_copy(rows: list[str]) -> str:
    return _pg("".join(r + "\n" for r in rows) + "\\.\n")


def _my(values: str) -> str:
    return MY_HEAD + f"INSERT INTO `person` VALUES {values};\n"


def broken_dumps(m: str) -> dict[str, str]:
    """name -> dump text; every one must fail, every one holds `m` in its data."""
    ok = "1\ta@example.org\tfine"
    return {
        "pg: too many fields": _pg_copy([ok, f"2\t{m}@x.org\t{m}\textra"]),
        "pg: too few fields": _pg_copy([ok, f"2\t{m}@x.org"]),
        "pg: non-integer remapped key": _pg_copy([ok, f"{m}\tb@x.org\tn"]),
        "pg: key with digits and marker": _pg_copy([ok, f"12{m}\tb@x.org\tn"]),
        "pg: truncated COPY": _pg(f"{ok}\n2\t{m}@x.org\t{m} and more\n", tail=""),
        "pg: truncated mid row": _pg(f"{ok}\n2\t{m}@x.org\t{m}", tail=""),
        "pg: unterminated INSERT": PG_HEAD + f"INSERT INTO public.person VALUES (1, '{m}@x.org', '{m}\n",
        "pg: INSERT expression": PG_HEAD + f"INSERT INTO public.person VALUES (1, '{m}@x.org' || 'y', '{m}');\n" + PG_TAIL,
        "pg: INSERT wrong count": PG_HEAD + f"INSERT INTO public.person VALUES (1, '{m}@x.org', '{m}', 4);\n" + PG_TAIL,
        "pg: INSERT non-integer key": PG_HEAD + f"INSERT INTO public.person VALUES ('{m}', 'a@x.org', 'n');\n" + PG_TAIL,
        "pg: INSERT garbage after": PG_HEAD + f"INSERT INTO public.person VALUES (1, 'a@x.org', 'n') {m};\n" + PG_TAIL,
        "pg: bad escape and text format": _pg_copy([ok, f"2\t\\x{m}\\\t{m}\\"]) + f"COPY public.person FROM stdin WITH (FORMAT csv);\n1,{m},x\n\\.\n",
        "my: wrong count": _my(f"(1,'a@x.org','n'),(2,'{m}@x.org','{m}',3)"),
        "my: too few": _my(f"(1,'{m}@x.org')"),
        "my: unterminated string": MY_HEAD + f"INSERT INTO `person` VALUES (1,'{m}@x.org','{m}\\');\n",
        "my: non-integer key": _my(f"(1,'a@x.org','n'),('{m}','b@x.org','n')"),
        "my: expression": _my(f"(1,CONCAT('{m}','@x.org'),'n')"),
        "my: truncated statement": MY_HEAD + f"INSERT INTO `person` VALUES (1,'a@x.org','n'),(2,'{m}@x.org','{m}'",
        "my: bad hex": _my(f"(1,0x{m},'n')"),
    }


def _pdftotext() -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        unavailable("pdftotext (poppler-utils) not installed")
    return exe


def _run(tmp_path, dump: bytes, rules=RULES, extra=()):
    inp = tmp_path / "in.sql"
    inp.write_bytes(dump)
    rp = tmp_path / "rules.json"
    rp.write_text(json.dumps(rules))
    audit, pdf, out = tmp_path / "run.json", tmp_path / "run.pdf", tmp_path / "out.sql"
    for p in (audit, pdf, out):
        if p.exists():
            p.unlink()
    res = CliRunner().invoke(main, ["-c", str(rp), "--audit", str(audit), "--report", str(pdf), "-o", str(out),
                                    *extra, str(inp)], env={"DUMPMASK_KEY": TEST_KEY}, catch_exceptions=False)
    return res, audit, pdf, out


def _assert_clean(res, audit, pdf, marker: str, exe: str, what: str):
    assert res.exit_code not in (0, 70), (what, res.exit_code, res.stderr)
    assert marker.lower() not in res.stderr.lower(), (what, res.stderr)
    a = audit.read_text(encoding="utf-8", errors="replace")
    assert json.loads(a)["status"] == "failed", what
    assert marker.lower() not in a.lower(), (what, json.loads(a)["error"])
    text = subprocess.run([exe, str(pdf), "-"], capture_output=True, check=True).stdout.decode("utf-8", "replace")
    assert "failed" in text.lower(), what
    flat = "".join(text.split()).lower()
    assert marker.lower() not in flat, (what, text)


@pytest.mark.parametrize("case", sorted(broken_dumps(MARK)))
def test_broken_dump_never_quoted(tmp_path, case):
    exe = _pdftotext()
    dump = broken_dumps(MARK)[case].encode()
    res, audit, pdf, _ = _run(tmp_path, dump)
    _assert_clean(res, audit, pdf, MARK, exe, case)
    # it still locates: file and line
    assert "in.sql:" in res.stderr, res.stderr


def test_masking_error_names_row_and_line(tmp_path):
    dump = _pg_copy(["1\ta@x.org\tn", "2\tb@x.org\tn", f"{MARK}\tc@x.org\tn"]).encode()
    res, _, _, _ = _run(tmp_path, dump)
    line = dump.decode().splitlines().index(f"{MARK}\tc@x.org\tn") + 1
    assert f"in.sql:{line}: public.person row 3: " in res.stderr, res.stderr
    dump = _my(f"(1,'a@x.org','n'),\n(2,'b@x.org','n'),\n('{MARK}','b@x.org','n')").encode()
    res, _, _, _ = _run(tmp_path, dump)
    line = next(i for i, ln in enumerate(dump.decode().splitlines(), 1) if MARK in ln)
    assert f"in.sql:{line}: person row 3: " in res.stderr, res.stderr


_ALNUM = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=6, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(marker=_ALNUM, case=st.sampled_from(sorted(broken_dumps("M"))), pad=st.integers(0, 30))
def test_generated_markers_never_quoted(tmp_path, marker, case, pad):
    exe = _pdftotext()
    marker = "QZ" + marker
    # good rows before the broken one, so the failure is not on the first row
    dump = broken_dumps(marker)[case]
    if case.startswith("pg: ") and "COPY public.person (id, email, note) FROM stdin;\n" in dump:
        good = "".join(f"{100 + i}\tu{i}@x.org\tok\n" for i in range(pad))
        dump = dump.replace("FROM stdin;\n", "FROM stdin;\n" + good, 1)
    res, audit, pdf, _ = _run(tmp_path, dump.encode())
    _assert_clean(res, audit, pdf, marker, exe, case)


def test_internal_error_message_is_not_repeated(tmp_path, monkeypatch):
    """An unexpected exception (a bug) whose text holds data: only its type and place are shown."""
    from dumpmask.engine import Engine

    def boom(*a, **k):
        raise ValueError(f"cannot decode {MARK}@secret.org")

    monkeypatch.setattr(Engine, "finish_checks", boom)
    exe = _pdftotext()
    rules = {"tables": [{"tableName": "person", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]}
    res, audit, pdf, _ = _run(tmp_path, _pg_copy(["1\ta@x.org\tn"]).encode(), rules=rules)
    assert res.exit_code == 70, res.stderr
    assert "ValueError at " in res.stderr
    assert MARK not in res.stderr and MARK not in audit.read_text()
    text = subprocess.run([exe, str(pdf), "-"], capture_output=True, check=True).stdout.decode()
    assert MARK not in "".join(text.split())
