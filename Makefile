# dumpmask developer tasks. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-install

.PHONY: all venv servers test demo bench clean

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

# Server-backed tests start private instances on free ports; with CI=true they must run.
test: venv servers
	$(VPY) -m pytest -q -p no:cacheprovider tests

demo: venv
	@scripts/demo.sh

bench: venv
	$(VPY) bench/run.py

clean:
	rm -rf build dist *.egg-info bench/out .pytest_cache .hypothesis dumpmask/_speedups*.so $(STAMP)
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
