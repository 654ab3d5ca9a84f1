"""Shared fixtures.

Real servers (session-scoped, started on first use, stopped at session end):
  pg_server   tests.servers.PgServer: .psql(db, sql) -> str, .scalar, .createdb(name),
              .dropdb(name), .restore(db, bytes|path), .dump(db, *pg_dump_args) -> bytes,
              .count(db, table), .env (os.environ + PGHOST/PGPORT/PGUSER), .port, .bindir
  my_server   tests.servers.MyServer: .sql(db, sql) -> str, .scalar, .create(name),
              .drop(name), .restore(db|None, bytes|path), .dump(db, *args, tables=()) -> bytes,
              .count(db, table), .cnf (my.cnf path), .client_args, .port
  pagila_db   "src_pagila" loaded into pg_server (pagila schema + data + jsonb schema)
  sakila_db   "sakila" loaded into my_server (sakila-mv schema + data, /*!50705 -> /*!50100)
  datasets    Path of shared/datasets (env DUMPMASK_DATASETS, else ../shared/datasets)
  shared_rules  Path of shared/checks/rules, beside the datasets (the rules files the checks use)
  dataset(relative) / shared_rule(name)  a file of those, or unavailable (CI: a failure)

Every test finds the datasets and the shared rules through these fixtures, never a path of its
own, so that DUMPMASK_DATASETS moves them all.

Without server binaries the server tests are skipped, except with CI=true where they fail.
Tests using these fixtures get the ``servers`` marker automatically (``-m "not servers"``).

CLI:
  dm(*args, input=b"", env=None, cwd=REPO) -> CompletedProcess (stdout/stderr bytes),
  running ``python -m dumpmask`` with DUMPMASK_KEY=TEST_KEY unless env overrides it
  (env values of None unset a variable).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import MyServer, PgServer, my_missing, pg_missing  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TEST_KEY = "dumpmask-test-key-0123456789"
SERVER_FIXTURES = {"pg_server", "my_server", "pagila_db", "sakila_db"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def unavailable(reason: str):
    """Skip locally; in CI a missing prerequisite is a failure, never a silent skip."""
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


# --------------------------------------------------------------------------- datasets

def datasets_dir() -> Path | None:
    env = os.environ.get("DUMPMASK_DATASETS")
    cands = [Path(env)] if env else []
    cands += [REPO.parent / "shared" / "datasets", REPO / "shared" / "datasets",
              Path("/work/shared/datasets")]
    for c in cands:
        if (c / "pagila").is_dir() and (c / "sakila").is_dir():
            return c.resolve()
    return None


@pytest.fixture(scope="session")
def datasets() -> Path:
    d = datasets_dir()
    if d is None:
        unavailable("sample datasets not found (set DUMPMASK_DATASETS or put shared/datasets "
                    "beside the repo)")
    return d


@pytest.fixture(scope="session")
def shared_rules(datasets) -> Path:
    rules_dir = datasets.parent / "checks" / "rules"
    if not rules_dir.is_dir():
        unavailable(f"the shared rules files are not beside the datasets ({rules_dir})")
    return rules_dir


@pytest.fixture(scope="session")
def dataset(datasets):
    """dataset("pagila/pg_dump-copy.sql") -> its Path; unavailable when it is missing."""

    def find(relative: str) -> Path:
        path = datasets / relative
        if not path.is_file():
            unavailable(f"dataset file {relative} not found in {datasets}")
        return path

    return find


@pytest.fixture(scope="session")
def shared_rule(shared_rules):
    """shared_rule("pagila-pii.json") -> its Path; unavailable when it is missing."""

    def find(name: str) -> Path:
        path = shared_rules / name
        if not path.is_file():
            unavailable(f"shared rules file {name} not found in {shared_rules}")
        return path

    return find


# --------------------------------------------------------------------------- servers

@pytest.fixture(scope="session")
def pg_server():
    missing = pg_missing()
    if missing:
        unavailable("PostgreSQL not installed (run `make servers`): missing " + ", ".join(missing))
    server = PgServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def my_server():
    missing = my_missing()
    if missing:
        unavailable("MariaDB not installed (run `make servers`): missing " + ", ".join(missing))
    server = MyServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pagila_db(pg_server, datasets) -> str:
    """The pagila sample loaded once into database ``src_pagila``; treat it as read-only."""
    db = pg_server.createdb("src_pagila")
    for f in ("pagila-schema.sql", "pagila-data.sql", "pagila-schema-jsonb.sql"):
        pg_server.restore(db, datasets / "pagila" / f, single_transaction=False)
    return db


@pytest.fixture(scope="session")
def sakila_db(my_server, datasets) -> str:
    """The sakila sample loaded once into database ``sakila``; treat it as read-only."""
    for f in ("sakila-mv-schema.sql", "sakila-mv-data.sql"):
        data = (datasets / "sakila" / f).read_bytes().replace(b"/*!50705 ", b"/*!50100 ")
        my_server.restore(None, data)
    return "sakila"


# --------------------------------------------------------------------------- CLI

@pytest.fixture
def dm():
    """Run the CLI in a subprocess: dm(*args, input=b"", env=None, cwd=None, timeout=600)."""

    def run(*args, input: bytes | None = b"", env: dict | None = None, cwd=None,
            timeout: float = 600) -> subprocess.CompletedProcess:
        full = dict(os.environ)
        full["DUMPMASK_KEY"] = TEST_KEY
        full["PYTHONPATH"] = os.pathsep.join(
            [str(REPO)] + ([full["PYTHONPATH"]] if full.get("PYTHONPATH") else []))
        for k, v in (env or {}).items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = str(v)
        return subprocess.run([sys.executable, "-m", "dumpmask", *map(str, args)], input=input,
                              env=full, cwd=cwd or REPO, capture_output=True, timeout=timeout)

    return run
