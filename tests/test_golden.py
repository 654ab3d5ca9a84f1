"""Golden outputs (#12): the masked output, the audit (clock fields removed), stdout and exit
code of every case in tests/golden/cases.py, as recorded on the commit before the engine was
rebuilt (tests/golden/manifest.json). A difference is either a regression or a fix that
CHANGELOG.md lists with its reason (then re-record: python tests/golden/run.py record).
To see what differs: python tests/golden/run.py compare --keep DIR, and the same on the base."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))
import run as golden  # noqa: E402


@pytest.mark.slow
def test_every_golden_case_gives_the_recorded_bytes(datasets):
    expected = json.loads((GOLDEN / "manifest.json").read_text())
    got = golden.run_all()
    assert set(got) == set(expected), "cases.py and manifest.json list different cases: re-record"
    assert golden.differences(expected, got) == []


def test_golden_comparison_sees_a_changed_byte():
    expected = {"a": {"exit": 0, "output": "x", "audit": "y", "stdout": "z"}}
    changed = {"a": {"exit": 0, "output": "x2", "audit": "y", "stdout": "z"}}
    assert golden.differences(expected, changed) == ["a: output differ"]
    assert golden.differences(expected, expected) == []
