"""The transformer registry. A transformer is small and self-describing: a name, a docstring
that is its help text, declared parameters, check(column) -> warnings, __call__(value) -> value.

Values are Python str (decoded by the dialect; raw bytes that are not UTF-8 arrive as
surrogate escapes and must be left that way) or None for SQL NULL. Output the same way: the
dialect re-encodes. A transformer never sees escaped dump text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from dumpmask.crypto import Key
from dumpmask.errors import RulesError
from dumpmask.schema import Column


@dataclass(frozen=True)
class Param:
    type: type | tuple          # bool, int, str, list ... checked when the rules are loaded
    help: str
    default: Any = None
    required: bool = False
    choices: tuple = ()


REGISTRY: dict[str, type["Transformer"]] = {}


def register(cls):
    """Class decorator: adds a transformer to the registry, refusing duplicate names."""
    if cls.name in REGISTRY:
        raise RuntimeError(f"duplicate transformer name {cls.name!r}")
    REGISTRY[cls.name] = cls
    return cls


class Transformer:
    name: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}
    #: column kinds it can write into; None = any
    kinds: ClassVar[tuple[str, ...] | None] = None
    #: True when distinct inputs give distinct outputs (UNIQUE columns survive)
    unique: ClassVar[bool] = False
    #: the `static:VALUE` form: the text after the colon
    takes_argument: ClassVar[bool] = False

    def __init__(self, key: Key, options: dict | None = None, column: Column | None = None, argument: str | None = None):
        self.key = key
        self.options = self.validate_options(options or {})
        self.column = column or Column(name="?", kind="text")
        self.argument = argument
        self.setup()

    # --- declared behaviour -------------------------------------------------
    @classmethod
    def validate_options(cls, options: dict, where: str = "options") -> dict:
        if not isinstance(options, dict):
            raise RulesError("options must be an object", where=where)
        out = {}
        for k, v in options.items():
            p = cls.params.get(k)
            if p is None:
                known = ", ".join(sorted(cls.params)) or "none"
                raise RulesError(f"unknown option {k!r} for {cls.name} (known: {known})", where=f"{where}.{k}")
            if v is None and p.default is None and not p.required:
                out[k] = None  # "not given" (defaults filled in by an earlier validation)
                continue
            if p.type is not None and not isinstance(v, p.type) or (p.type is int and isinstance(v, bool)):
                raise RulesError(f"option {k!r} of {cls.name} must be {getattr(p.type, '__name__', p.type)}", where=f"{where}.{k}")
            if p.choices and v not in p.choices:
                raise RulesError(f"option {k!r} of {cls.name} must be one of {', '.join(map(str, p.choices))}", where=f"{where}.{k}")
            out[k] = v
        for k, p in cls.params.items():
            if k not in out:
                if p.required:
                    raise RulesError(f"option {k!r} is required for {cls.name}", where=where)
                out[k] = p.default
        return out

    def setup(self) -> None:
        """Build pools etc. once per column (called from __init__)."""

    def check(self, column: Column) -> list[str]:
        """Warnings (or raise RulesError) for this transformer on `column`, before data flows."""
        if self.kinds is not None and column.kind not in self.kinds and column.kind != "other":
            raise RulesError(f"{self.name} cannot write into column {column.name!r} of type {column.type or column.kind}")
        return []

    def __call__(self, value: str | None) -> str | None:
        raise NotImplementedError

    @classmethod
    def help(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")
