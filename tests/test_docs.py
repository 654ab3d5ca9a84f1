"""The docs are held to the code: every command and every option of every command (walked from
the click group, as `--help` shows them) is in docs/reference.md, under that command; every
registered mutation and its parameters are in its Mutations table; every field a masking run
writes into the audit is in docs/audit.md. A new option, mutation or audit field that nobody
documented fails here. The README stays short: what dumpmask is, the two commands, one pipe."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import click
import pytest

from dumpmask.cli import main
from dumpmask.transformers import describe_all

from conftest import REPO

README = (REPO / "README.md").read_text()
REFERENCE = (REPO / "docs" / "reference.md").read_text()
AUDIT_DOC = (REPO / "docs" / "audit.md").read_text()


def command_section(name: str) -> str:
    """The text of docs/reference.md under "### `dumpmask NAME ...`", up to the next heading."""
    match = re.search(rf"^### `dumpmask {re.escape(name)}(?: [^`]*)?`\n(.*?)(?=^##)", REFERENCE, re.M | re.S)
    assert match, f"docs/reference.md has no section ### `dumpmask {name} ...`"
    return match.group(1)


def table_rows(text: str) -> list[tuple[str, str]]:
    """(first cell, whole row) of every markdown table row in text."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            rows.append((line.split(" | ")[0], line))
    return rows


def all_params(cmd: click.Command) -> list:
    """A command's parameters; for a group (`rules init|diff`), those of its subcommands too."""
    return list(cmd.params) + [p for sub in getattr(cmd, "commands", {}).values() for p in sub.params]


def documented_options(cmd: click.Command):
    ctx = click.Context(cmd, info_name=cmd.name)
    help_option = cmd.get_help_option(ctx)
    for param in all_params(cmd):
        if isinstance(param, click.Option) and not param.hidden and param is not help_option:
            yield param


COMMANDS = sorted(main.commands)


def test_the_group_has_commands():
    assert {"mask", "scan", "verify", "preview", "report", "verify-audit", "transformers"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_of_every_command_is_in_its_section(name):
    cmd = main.commands[name]
    rows = table_rows(command_section(name))
    missing = []
    for option in documented_options(cmd):
        flags = option.opts + option.secondary_opts
        row = next((r for first, r in rows if all(f"{flag}" in re.findall(r"-{1,2}[\w-]+", first) for flag in flags)),
                   None)
        if row is None:
            missing.append(", ".join(flags))
            continue
        if isinstance(option.type, click.Choice):
            absent = [c for c in option.type.choices if c not in row]
            assert not absent, f"dumpmask {name} {flags[-1]}: choices {absent} not documented"
    assert not missing, f"dumpmask {name}: options not documented in docs/reference.md: {missing}"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_argument_of_every_command_is_in_its_section(name):
    section = command_section(name)
    for param in all_params(main.commands[name]):
        if isinstance(param, click.Argument):
            assert f"`{param.human_readable_name}" in section, (name, param.human_readable_name)


def test_help_and_version_are_documented():
    assert "`-h, --help`" in REFERENCE and "`dumpmask --version`" in REFERENCE


def test_documented_options_exist():
    """No option stays documented after it is removed."""
    for name in COMMANDS:
        real = {flag for option in all_params(main.commands[name]) for flag in getattr(option, "opts", [])}
        for first, _ in table_rows(command_section(name)):
            for flag in re.findall(r"(?<![\w-])-{1,2}[a-z][\w-]*", first):
                assert flag in real, f"docs/reference.md documents dumpmask {name} {flag}, which does not exist"


MUTATIONS = describe_all()


def mutation_rows() -> dict[str, str]:
    section = REFERENCE[REFERENCE.index("## Mutations"):]
    section = section[:section.index("\n## ", 1)]
    return {re.match(r"\| `([^`:]+)", first).group(1): row for first, row in table_rows(section)
            if first.startswith("| `")}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m["name"])
def test_every_mutation_and_its_parameters_are_documented(mutation):
    rows = mutation_rows()
    assert mutation["name"] in rows, f"mutation {mutation['name']} is not in the Mutations table of docs/reference.md"
    for param in mutation["params"]:
        if param["name"] == "empty":  # every value mutation has it: one paragraph, "Empty strings"
            assert '"options": {"empty": "mask"}' in REFERENCE
        else:
            assert f"`{param['name']}`" in rows[mutation["name"]], (mutation["name"], param["name"])


def test_documented_mutations_exist():
    assert set(mutation_rows()) == {m["name"] for m in MUTATIONS}


# --------------------------------------------------------------------------- audit fields

def audit_rows() -> dict[str, str]:
    section = AUDIT_DOC[AUDIT_DOC.index("## Audit sidecar"):]
    section = section[:section.index("\n## ", 1)]
    fields = {}
    for first, row in table_rows(section):
        for name in re.findall(r"`([^`]+)`", first):
            fields[name] = row
    return fields


@pytest.fixture(scope="module")
def demo_audit(tmp_path_factory) -> dict:
    import subprocess
    import sys

    from conftest import TEST_KEY

    out = tmp_path_factory.mktemp("audit")
    cp = subprocess.run([sys.executable, "-m", "dumpmask", "-q", "-c", "fixtures/demo-rules.json",
                         "--audit", str(out / "run.json"), "-o", str(out / "masked.sql"), "fixtures/demo.sql"],
                        cwd=REPO, env={"DUMPMASK_KEY": TEST_KEY, "PATH": "/usr/bin:/bin",
                             "DUMPMASK_POOL_CACHE": os.environ["DUMPMASK_POOL_CACHE"]}, capture_output=True)
    assert cp.returncode == 0, cp.stderr.decode()
    return json.loads((out / "run.json").read_bytes())


#: audit blocks with fixed keys (the others are keyed by table or column names)
FIXED_BLOCKS = ("input", "output", "key", "rules", "options", "identifierRemapping", "remapping", "signature")


def test_every_audit_field_is_documented(demo_audit):
    rows = audit_rows()
    missing = [field for field in demo_audit if field not in rows]
    assert not missing, f"audit fields not documented in docs/audit.md: {missing}"
    words = {field: set(re.findall(r"\w+", row)) for field, row in rows.items()}
    nested_missing = [f"{field}.{key}" for field in FIXED_BLOCKS for key in demo_audit[field]
                      if key not in words[field]]
    for table in demo_audit["tables"].values():
        for column in table["columns"].values():
            nested_missing += [f"tables.*.{key}" for key in [*table, *column] if key not in words["tables"]]
    for column in demo_audit["remapped"].values():
        nested_missing += [f"remapped.*.{key}" for key in column if key not in words["remapped"]]
    for rewrite in demo_audit["sequences"]:
        nested_missing += [f"sequences.*.{key}" for key in rewrite if key not in words["sequences"]]
    assert not nested_missing, f"audit fields not documented in docs/audit.md: {nested_missing}"


# --------------------------------------------------------------------------- README

def test_readme_opens_with_what_it_is_and_the_two_commands():
    head = README[:2500]
    assert head.startswith("# dumpmask\n\ndumpmask is ")
    assert "make demo" in head and "make test" in head


def test_readme_has_one_complete_pipe_example():
    example = re.search(r"^## One pipe, end to end\n\n(.*?)\n\n[^ ]", README, re.M | re.S).group(1)
    assert "set -o pipefail" in example and "DUMPMASK_KEY" in example
    assert re.search(r"pg_dump prod \| dumpmask -c rules\.json .*\n?.*\| psql -v ON_ERROR_STOP=1 --single-transaction",
                     example)
    rules = re.search(r"cat > rules\.json <<'EOF'\n(.*?)\n    EOF", example, re.S).group(1)
    from dumpmask.rules import load_rules

    assert load_rules("README.md rules", "\n".join(line[4:] for line in rules.splitlines()).encode()).tables


def test_readme_stays_short_and_links_the_docs():
    assert len(README.splitlines()) < 120, "the long reference belongs in docs/"
    for link in re.findall(r"\]\(([^)#]+)\)", README):
        assert (REPO / link).exists(), f"README links {link}, which does not exist"


@pytest.mark.parametrize("doc", ["reference.md", "audit.md", "architecture.md"])
def test_docs_links_resolve(doc):
    path = REPO / "docs" / doc
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", path.read_text()):
        if not link.startswith("http"):
            assert (path.parent / link).exists(), f"{doc} links {link}, which does not exist"


def test_exit_codes_and_failure_behaviour_are_in_the_reference():
    assert "## Exit codes" in REFERENCE and "## Failure behaviour" in REFERENCE
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 70 |", "| 130 |", "| 141 |"):
        assert code in REFERENCE


def test_the_docs_are_where_the_readme_says():
    for doc in ("reference.md", "audit.md", "architecture.md", "rules.schema.json"):
        assert Path(REPO / "docs" / doc).is_file(), doc
