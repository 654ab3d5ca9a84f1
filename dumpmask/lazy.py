"""Modules executed the first time one of their attributes is read (start-up time, issue #13).

    fmt = lazy_module("dumpmask.archive.format")

The module is registered in sys.modules (and as its package's attribute) at once, as an import
registers it, and runs with importlib.util.LazyLoader on first use: a run that never reads it
(a plain dump: no archive code; PostgreSQL: no MySQL lexer) does not pay for its classes and
patterns. Its errors surface where it is first used, as an import's would at the import."""
from __future__ import annotations

import importlib.util
import re
import sys


def lazy_module(name: str):
    """The module `name`, imported already or lazily (a frozen or odd loader: imported now)."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
        return importlib.import_module(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


class LazyPattern:
    """re.compile(pattern, flags) the first time an attribute is read (.match, .sub, .pattern);
    the compiled pattern then takes this object's place in `namespace` (the module's globals),
    so the module's functions find the real pattern from then on, at no cost. A module
    compiles at import only what every run needs; patterns for content detection, for other
    dialects' or types' checks are compiled by the run that uses them."""

    __slots__ = ("_namespace", "_name", "_args")

    def __init__(self, namespace: dict, name: str, pattern, flags: int = 0):
        self._namespace, self._name, self._args = namespace, name, (pattern, flags)

    def compiled(self) -> re.Pattern:
        pattern = re.compile(*self._args)
        if self._namespace.get(self._name) is self:
            self._namespace[self._name] = pattern
        return pattern

    def __getattr__(self, attr):
        return getattr(self.compiled(), attr)

    def __reduce__(self):
        return re.compile, self._args

    def __repr__(self) -> str:
        return f"LazyPattern({self._args[0]!r}, {self._args[1]!r})"


def lazy_pattern(namespace: dict, name: str, pattern, flags: int = 0) -> LazyPattern:
    """`NAME = lazy_pattern(globals(), "NAME", pattern, flags)`: see LazyPattern."""
    return LazyPattern(namespace, name, pattern, flags)
