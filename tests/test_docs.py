"""The README documents every command, every option of the masking command and every
mutation: a new one that nobody documented fails here."""
from pathlib import Path

from dumpmask.cli import main
from dumpmask.transformers import REGISTRY

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_command_is_in_the_readme():
    missing = [name for name in main.commands if f"dumpmask {name}" not in README and f"`{name}`" not in README]
    assert not missing, f"commands not documented in README.md: {missing}"


def test_every_mask_option_is_in_the_readme():
    opts = [o for p in main.commands["mask"].params for o in getattr(p, "opts", []) if o.startswith("--")]
    missing = [o for o in opts if o not in README]
    assert not missing, f"options not documented in README.md: {missing}"


def test_every_mutation_is_in_the_readme():
    missing = [name for name in REGISTRY if name not in README]
    assert not missing, f"mutations not documented in README.md: {missing}"


def test_readme_opens_with_the_two_setup_commands():
    head = README[:2500]
    assert "make demo" in head and "make test" in head
