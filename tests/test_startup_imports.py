"""What a PostgreSQL masking run through the command line leaves unexecuted, for its start-up
time (issue #13; the seconds live in bench/startup.py): with every pool drawn, faker's __init__
and its config scan (the light Faker is made without them, tests/test_pool_draws.py checks its
draws); and mysql_lex, pickle and fractions, which only MySQL data, a spill and a percentile
rule need. Not a timing: which modules ran. A MySQL run executes mysql_lex as before."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, TEST_KEY

CHILD = r"""
import json, sys, types
from dumpmask.commands import main
sys.argv = ["dumpmask", "-q", "-c", sys.argv[1], sys.argv[2], "-o", sys.argv[3]]
try:
    main()
except SystemExit as e:
    assert e.code in (0, None), e.code
lex = sys.modules.get("dumpmask.dialects.mysql_lex")
fmt = sys.modules.get("dumpmask.archive.format")
from dumpmask.lazy import LazyPattern
import dumpmask.detect as detect
HEAVY = ("dumpmask.coverage", "dumpmask.scan", "dumpmask.report", "dumpmask.preview", "dumpmask.verify",
         "dumpmask.rules_io", "dumpmask.cluster", "tempfile", "shutil", "bz2", "lzma", "fpdf", "sqlglot",
         "hypothesis", "dask", "zstandard", "jsonschema", "importlib.metadata", "pkg_resources")
print(json.dumps({
    "heavy imported": sorted(m for m in HEAVY if m in sys.modules),
    "archive.format executed": type(fmt) is types.ModuleType,
    "detect's content patterns compiled": not isinstance(detect.__dict__["_EMAIL_RE"], LazyPattern),
    "faker.config": "faker.config" in sys.modules,
    "faker.factory": "faker.factory" in sys.modules,
    "faker.generator": "faker.generator" in sys.modules,
    "mysql_lex executed": type(lex) is types.ModuleType,    # (a LazyLoader module until executed)
    "pickle": "pickle" in sys.modules,
    "fractions": "fractions" in sys.modules,
}))
"""


def _run(tmp_path, dialect: str) -> dict:
    dump = tmp_path / f"tiny-{dialect}.sql"
    subprocess.run([sys.executable, str(REPO / "bench" / "gen.py"), "--dialect", dialect, "--size", "5kB", "--seed",
                    "1", "-o", str(dump), "-q"], check=True)
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, DUMPMASK_POOL_CACHE="off", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(REPO / "bench" / "rules-3faker.json"), str(dump),
                           str(tmp_path / "out.sql")], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out.sql").stat().st_size > 0
    return json.loads(proc.stdout)


def test_a_postgres_run_with_pools_drawn_leaves_them_unexecuted(tmp_path):
    assert _run(tmp_path, "pg") == {"faker.config": False, "faker.factory": False, "faker.generator": True,
                                    "mysql_lex executed": False, "pickle": False, "fractions": False,
                                    "heavy imported": [], "archive.format executed": False,
                                    "detect's content patterns compiled": False}


@pytest.mark.parametrize("dialect", ["mysql"])
def test_a_mysql_run_executes_mysql_lex(tmp_path, dialect):
    """The check above can fail: here the module is needed and runs."""
    assert _run(tmp_path, dialect)["mysql_lex executed"] is True


def test_a_strict_run_compiles_detection_patterns(tmp_path):
    """The check above can fail: --strict samples content, imports coverage and compiles
    detect's patterns (the run then stops: the tiny dump's columns are not all covered)."""
    dump = tmp_path / "tiny-pg.sql"
    subprocess.run([sys.executable, str(REPO / "bench" / "gen.py"), "--dialect", "pg", "--size", "5kB", "--seed",
                    "1", "-o", str(dump), "-q"], check=True)
    child = CHILD.replace('"-q", "-c"', '"-q", "--strict", "-c"').replace("assert e.code in (0, None), e.code", "pass")
    env = dict(os.environ, DUMPMASK_KEY=TEST_KEY, DUMPMASK_POOL_CACHE="off", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", child, str(REPO / "bench" / "rules-3faker.json"), str(dump),
                           str(tmp_path / "out.sql")], env=env, capture_output=True, text=True, cwd=tmp_path)
    got = json.loads(proc.stdout)
    assert "dumpmask.coverage" in got["heavy imported"]
    assert got["detect's content patterns compiled"] is True
