# dumpmask developer tasks. `make test` is what CI runs (.ci/run); `make check` is the quick
# one to run before a commit (ruff and the tests that need no database server, no apt).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-install

.PHONY: all venv servers check test demo bench clean

all: test

# The venv is (re)installed (and the C extension rebuilt) whenever pyproject.toml, setup.py or
# dumpmask/_speedups.c changes.
venv: $(STAMP)

$(STAMP): pyproject.toml setup.py dumpmask/_speedups.c
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@$(VPY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

# PostgreSQL, MariaDB and poppler-utils from apt when missing (quiet, idempotent).
servers:
	@scripts/install-servers.sh

# Lint and the tests that start no server and are not marked slow (under two minutes on one
# core; the markers are set in tests/conftest.py). Needs only the venv: no apt, no servers.
check: venv
	$(VENV)/bin/ruff check .
	$(VPY) -m pytest -q -p no:cacheprovider -m "not servers and not slow" tests

# Server-backed tests start private instances on free ports; with CI=true they must run.
# One pytest worker per core (TEST_JOBS=1 for a serial run); a file's tests stay in one worker.
TEST_JOBS ?= auto
test: venv servers
	$(VPY) -m pytest -q -p no:cacheprovider -n $(TEST_JOBS) --dist loadfile tests

# The long fuzzing profile (tests/test_fuzz.py): a million examples per property; hours
# (FUZZ_EXAMPLES=N for a shorter campaign; one pytest worker per core).
FUZZ_EXAMPLES ?= 1000000
fuzz: venv
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VPY) -m pytest -q -p no:cacheprovider -n $(TEST_JOBS) tests/test_fuzz.py

demo: venv
	@scripts/demo.sh

bench: venv
	$(VPY) bench/run.py
	$$(command -v taskset >/dev/null && echo taskset -c 0) $(VPY) bench/mutations.py
	$(VPY) bench/startup.py --runs 9
	for d in pg mysql; do $(VPY) bench/jobs.py --input bench/out/$$d-intl3-1000MB.sql --rules bench/rules-intl3.json \
	    --jobs 1,2,4 --runs 3 --results bench/jobs-$$d.md || exit 1; done
	$(VPY) bench/jobs.py --input bench/out/mysql-intl3-1000MB.sql --rules bench/rules-intl3.json --jobs 1,2 --runs 3 \
	    --to-file --results bench/jobs-mysql-file.md

clean:
	rm -rf build dist *.egg-info bench/out .pytest_cache .hypothesis dumpmask/_speedups*.so $(STAMP)
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
