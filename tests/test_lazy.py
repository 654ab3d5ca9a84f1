"""dumpmask.lazy: a module executed on first use, a pattern compiled on first use (start-up
time, issue #13). Same objects and results as the plain import and re.compile."""
from __future__ import annotations

import pickle
import re
import subprocess
import sys

from dumpmask.lazy import LazyPattern, lazy_pattern

from conftest import REPO


def test_a_lazy_pattern_compiles_on_first_use_and_takes_its_place():
    ns: dict = {}
    ns["P"] = lazy_pattern(ns, "P", r"(a+)(b)?", re.I)
    assert isinstance(ns["P"], LazyPattern)
    proxy = ns["P"]
    m = proxy.match("AAb")
    assert m.groups() == ("AA", "b")
    assert ns["P"] is re.compile(r"(a+)(b)?", re.I)        # replaced by the real pattern (re's cache)
    assert proxy.pattern == "(a+)(b)?" and proxy.flags == re.compile(r"(a+)(b)?", re.I).flags
    assert proxy.sub("x", "aab-ab") == re.sub(r"(?i)(a+)(b)?", "x", "aab-ab")


def test_a_lazy_pattern_pickles_as_its_pattern_and_keeps_another_binding():
    ns: dict = {}
    ns["Q"] = lazy_pattern(ns, "Q", rb"\d+")
    assert pickle.loads(pickle.dumps(ns["Q"])) is re.compile(rb"\d+")
    ns["Q"] = "rebound"
    lazy = LazyPattern(ns, "Q", rb"\d+")
    assert lazy.findall(b"1 22") == [b"1", b"22"]
    assert ns["Q"] == "rebound"                             # only its own binding is replaced


def test_lazy_module_is_registered_unexecuted_then_runs_on_first_use():
    code = ("import sys, types\n"
            "from dumpmask.lazy import lazy_module\n"
            "m = lazy_module('dumpmask.archive.format')\n"
            "assert sys.modules['dumpmask.archive.format'] is m\n"
            "assert type(m) is not types.ModuleType\n"
            "import dumpmask.archive\n"
            "assert dumpmask.archive.format is m\n"
            "assert m.MAGIC == b'PGDMP' and type(m) is types.ModuleType\n"
            "from dumpmask.archive.format import ArchiveError\n"
            "import dumpmask.pipeline as p\n"
            "assert p.MAGIC == m.MAGIC and p.fmt is m\n"
            "assert lazy_module('dumpmask.archive.format') is m\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
