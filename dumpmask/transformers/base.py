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
from dumpmask.protection import PROTECTION, weakest  # noqa: F401  (weakest: for the composite mutations)
from dumpmask.schema import Column

from .strfield import str_field
from .validity import NETWORK, base_type, domain_check_error, is_spatial, is_unknown_type


@dataclass(frozen=True)
class Param:
    type: type | tuple          # bool, int, str, list ... checked when the rules are loaded
    help: str
    default: Any = None
    required: bool = False
    choices: tuple = ()


REGISTRY: dict[str, type["Transformer"]] = {}

#: a plugin's mutation that declares no class is reported as this (never a claim it did not make)
UNDECLARED_PROTECTION = "kept"

EMPTY_PARAM = Param(str, "an empty string: 'keep' it empty (default) or 'mask' it like any value", "keep",
                    choices=("keep", "mask"))


def register(cls):
    """Class decorator: adds a transformer to the registry, refusing duplicate names."""
    if cls.name in REGISTRY:
        raise RuntimeError(f"duplicate transformer name {cls.name!r}")
    p = getattr(cls, "protection", None)
    if p is not None and p not in PROTECTION:
        raise RulesError(f"mutation {cls.name!r} declares protection {p!r}: one of {', '.join(PROTECTION)}")
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
    #: an empty string stays empty unless the rule's options say "empty": "mask" (every value
    #: mutation; not static, null, keep, key)
    keeps_empty: ClassVar[bool] = False
    #: on an array column the mutation applies to each element (False: to the whole value)
    elementwise: ClassVar[bool] = True
    #: what the mutation leaves of a value: one of PROTECTION ("removed", "anonymised",
    #: "pseudonymised", "reversible", "kept"); None (a plugin that declares none) is reported as
    #: UNDECLARED_PROTECTION
    protection: ClassVar[str | None] = None
    #: __call__ reads nothing but the value (no row, no dialect, no state it changes) and gives
    #: a str or None: the fast field path may then call it on the value of a plain raw field
    #: decoded in C and write its result in C (field_fast, strfield.str_field). A class (a
    #: plugin's too) opts in; the bytes are those of the general path (decode, call, encode).
    call_on_plain: ClassVar[bool] = False

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if getattr(cls, "keeps_empty", False) and "empty" not in cls.params:
            cls.params = {**cls.params, "empty": EMPTY_PARAM}

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

    @classmethod
    def protection_of(cls, options: dict | None = None, argument: str | None = None) -> str:
        """The protection class of this mutation with these (validated) options; composite
        mutations (json, list, regex) override it with the weakest of what they apply."""
        return cls.protection or UNDECLARED_PROTECTION

    def setup(self) -> None:
        """Build pools etc. once per column (called from __init__)."""

    @classmethod
    def type_error(cls, column: Column, options: dict | None = None, argument: str | None = None,
                   dialect: str | None = None) -> str | None:
        """Why this mutation (with these validated options) cannot write a valid value into
        `column`, or None. A class method: no key, no pools (scan uses it through valid_for)."""
        what = f"column {column.name!r} of type {column.type or column.kind}"
        err = domain_check_error(cls.name, column)
        if err:
            return err
        if is_spatial(column):
            alt = "null or keep" if column.nullable else "keep (the column is NOT NULL)"
            return f"{cls.name} cannot write a valid value into {what} (no spatial value is masked): use {alt}"
        if base_type(column) in ("xml", "tsvector", "tsquery") and cls.name.startswith("faker."):
            # names and sentences hold '&', '<' or quotes that these types parse
            return f"{cls.name} cannot write a valid {base_type(column)} value into {what}: use hash, redact, null or keep"
        if base_type(column) in NETWORK and cls.kinds is not None and not cls.network_ok(column):
            return f"{cls.name} cannot write a valid {base_type(column)} value into {what}"
        if is_unknown_type(column) and cls.kinds is not None:
            return (f"{cls.name} cannot write a valid value into {what}: a type dumpmask does not know (use keep, "
                    "null, or static:VALUE with a literal of that type)")
        if cls.kinds is not None and column.kind not in cls.kinds and column.kind != "other":
            return f"{cls.name} cannot write into {what}"
        return None

    @classmethod
    def injective_for(cls, column: Column, options: dict | None = None) -> str | None:
        """None when distinct values of `column` stay distinct under this mutation (with these
        options); else why not. Classes marked `unique` are injective unless the column is too
        narrow for their output (then they say so)."""
        return None if cls.unique else "not injective (two different values can get the same output)"

    def bind_dialect(self, dialect: str | None) -> None:
        """The engine tells the transformer which dialect it writes for (after __init__)."""
        self.dialect = dialect

    @classmethod
    def network_ok(cls, column: Column) -> bool:
        """True when this mutation writes valid values of an inet/cidr/macaddr column."""
        return False

    def check(self, column: Column) -> list[str]:
        """Warnings (or raise RulesError) for this transformer on `column`, before data flows."""
        err = self.type_error(column, self.options, self.argument, getattr(self, "dialect", None))
        if err:
            raise RulesError(err)
        return []

    def __call__(self, value: str | None) -> str | None:
        raise NotImplementedError

    def field_fast(self, mode: int, encode):
        """raw -> the new raw field for a plain raw field (mode 0: a COPY text field, 1: a MySQL
        '...' literal; transformers.fastprf), `raw` itself when the value stays, None when the
        caller's general path must do it; encode(str | None) -> the field as the dialect writes
        it (work.py gives it). None (no fast path) unless the class says call_on_plain: then
        __call__ on the value decoded in C (strfield.str_field: the same bytes)."""
        if not self.call_on_plain:
            return None
        return str_field(mode, self.__call__, encode(None))

    @classmethod
    def help(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")
