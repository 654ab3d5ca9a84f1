"""The test plumbing itself: the markers conftest sets, and its list of slow tests."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import conftest
from conftest import REPO, SERVER_FIXTURES, SLOW_TESTS


class Item:
    """What pytest_collection_modifyitems reads of a collected test, and the marks it adds."""

    def __init__(self, module: str, name: str, fixturenames: tuple[str, ...]):
        self.path = REPO / "tests" / module
        self.name = self.originalname = name
        self.fixturenames = fixturenames
        self.marks: list[str] = []

    def add_marker(self, mark) -> None:
        self.marks.append(mark.name)


@pytest.mark.parametrize("fixture", sorted(SERVER_FIXTURES))
def test_a_test_using_a_server_fixture_is_marked_servers(fixture):
    # fixturenames holds every fixture a test needs, also through other fixtures
    item = Item("test_x.py", "test_x", ("dm", "tmp_path", fixture))
    conftest.pytest_collection_modifyitems(None, [item])
    assert item.marks == ["servers"]


def test_a_test_without_servers_is_not_marked():
    item = Item("test_x.py", "test_x", ("dm", "datasets", "tmp_path"))
    conftest.pytest_collection_modifyitems(None, [item])
    assert item.marks == []


def test_a_listed_slow_test_is_marked_slow():
    module, names = next(iter(SLOW_TESTS.items()))
    item = Item(module, sorted(names)[0], ())
    conftest.pytest_collection_modifyitems(None, [item])
    assert item.marks == ["slow"]


def test_every_slow_entry_names_a_test_of_its_module():
    stale = []
    for module, names in SLOW_TESTS.items():
        path = REPO / "tests" / module
        defined = set()
        if path.exists():
            defined = {node.name for node in ast.walk(ast.parse(path.read_text()))
                       if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
        stale += [f"{module}::{name}" for name in sorted(names - defined)]
    assert not stale, f"SLOW_TESTS in tests/conftest.py names tests that do not exist: {stale}"


def test_markers_are_registered():
    text = Path(REPO / "pyproject.toml").read_text()
    assert '"servers: ' in text and '"slow: ' in text and '--strict-markers' in text
