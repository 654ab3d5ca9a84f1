"""Third-party mutations (issue #15): installed packages that declare an entry point in the
group `dumpmask.transformers`, and modules named with `--plugin MODULE` (a module name or a
.py file). A plugin registers Transformer subclasses with `register`, exactly as the
built-ins do (an entry point may also name the class itself). Entry points are read the first
time a mutation name is not a built-in one, and by `dumpmask transformers` (describe_all):
a run that names only built-ins does not pay for the scan of the installed packages.

A plugin that fails to import, registers a name that exists, or declares a mutation without
a name, help text or typed options stops the run (RulesError, exit 2) with the plugin named.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys

from dumpmask.errors import MaskingError, RulesError

from .base import REGISTRY, Param, Transformer, register

GROUP = "dumpmask.transformers"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")
#: mutation name -> the plugin that registered it (an entry point "dist:name" or the --plugin text)
ORIGIN: dict[str, str] = {}
_state = {"entry_points": False}
_loaded: set = set()


def load_entry_points() -> None:
    """Every installed entry point of the group, once per process."""
    if _state["entry_points"]:
        return
    _state["entry_points"] = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None)
        label = f"entry point {ep.name} = {ep.value}" + (f" (package {dist})" if dist else "")
        _load(label, ep.load)


def load_plugin(spec: str) -> None:
    """A `--plugin MODULE`: an importable module name, or the path of a .py file."""
    if spec in _loaded:
        return
    _loaded.add(spec)
    if spec.endswith(".py") or os.sep in spec or "/" in spec:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise RulesError(f"plugin {spec}: no such file")
        stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
        name = f"dumpmask_plugin_{stem}"

        def imp():
            mod_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(mod_spec)
            sys.modules[name] = module       # pickling a plan names its classes by module
            try:
                mod_spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            return module
        _load(f"plugin {spec}", imp, require=True)
    else:
        _load(f"plugin {spec}", lambda: importlib.import_module(spec), require=True,
              already=spec in sys.modules)


def load_plugins(specs) -> None:
    for spec in specs or ():
        load_plugin(spec)


def _load(label: str, load, require: bool = False, already: bool = False) -> None:
    before = set(REGISTRY)
    try:
        obj = load()
        if isinstance(obj, type) and issubclass(obj, Transformer) and REGISTRY.get(getattr(obj, "name", None)) is not obj:
            register(obj)
    except RulesError as e:
        raise RulesError(f"{label}: {e}") from None
    except Exception as e:  # noqa: BLE001  (any error of third-party code at import: named, exit 2)
        why = str(e) if isinstance(e, RuntimeError) and "duplicate transformer" in str(e) else f"{type(e).__name__}: {e}"
        raise RulesError(f"{label}: cannot load it: {why}") from None
    added = [n for n in REGISTRY if n not in before]
    if require and not added and not already:
        raise RulesError(f"{label}: registers no mutation (decorate a Transformer subclass with "
                         "dumpmask.transformers.register)")
    for name in added:
        ORIGIN[name] = label
        err = declaration_error(REGISTRY[name])
        if err:
            del REGISTRY[name]
            raise RulesError(f"{label}: mutation {name!r}: {err}")
        _guard(REGISTRY[name], label, name)


def _guard(cls, label: str, name: str) -> None:
    """Third-party code at run time: an exception of the plugin's __call__, or a result that is
    not text (or None), becomes a MaskingError naming the plugin, the mutation and the column
    (the row's file:line and table are added where the value is masked: exit 1, the poison
    line). The exception's message is not repeated: it may quote the value."""
    call = cls.__call__
    if getattr(call, "_dumpmask_guarded", False):
        return

    def guarded(self, value):
        col = getattr(getattr(self, "column", None), "name", "?")
        try:
            out = call(self, value)
        except MaskingError:
            raise
        except Exception as e:  # noqa: BLE001  (any error of third-party code: named, exit 1)
            raise MaskingError(f"{label}: mutation {name!r} on column {col!r} raised "
                               f"{type(e).__name__} (its message is not shown: it may hold the value)") from None
        if out is not None and not isinstance(out, str):
            raise MaskingError(f"{label}: mutation {name!r} on column {col!r} returned "
                               f"{type(out).__name__}, not text (str) or None")
        n = getattr(getattr(self, "column", None), "length", None)
        if out is not None and n is not None and len(out) > n and out != value:
            # the restore would refuse it (or MySQL truncate it): stop the row, as built-ins do
            raise MaskingError(f"{label}: mutation {name!r} on column {col!r}: the result is longer than the "
                               f"column's {n} characters")
        return out

    guarded._dumpmask_guarded = True
    guarded.__doc__ = call.__doc__
    cls.__call__ = guarded


def declaration_error(cls) -> str | None:
    """What a plugin's class lacks of a built-in's declaration, or None."""
    if not isinstance(getattr(cls, "name", None), str) or not _NAME.match(cls.name):
        return "name must be letters, digits, '_', '.', '-', starting with a letter"
    if ":" in cls.name:
        return "name must not hold ':'"
    if not cls.help().strip():
        return "it has no help text (the class docstring)"
    if not isinstance(cls.params, dict):
        return "params must be a dict of Param"
    for p, spec in cls.params.items():
        if not isinstance(spec, Param):
            return f"option {p!r} is not declared with Param"
        types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
        if not all(t in (str, int, float, bool, list, dict) for t in types):
            return f"option {p!r} has type {spec.type!r}: str, int, float, bool, list, dict or a tuple of them"
    if cls.kinds is not None and not isinstance(cls.kinds, tuple):
        return "kinds must be a tuple of column kinds or None"
    if cls.__call__ is Transformer.__call__:
        return "it does not define __call__(value)"
    return None
