"""Mutation names: lookup in the registry (installed plugins read on a miss), did-you-mean
suggestions, and the `name:ARGUMENT` spelling. Apart from the package's __init__ so that
mutations made of other mutations (list, json, regex) can parse their inner names."""
from __future__ import annotations


from dumpmask.errors import RulesError

from .base import REGISTRY, Transformer


def suggest(name: str) -> str | None:
    """The registered name closest to `name`, for did-you-mean messages."""
    import difflib

    names = list(REGISTRY)
    lower = {n.lower(): n for n in names}
    if name.lower() in lower:
        return lower[name.lower()]
    m = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if not m:
        m = difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)
        m = [lower[m[0]]] if m else []
    if not m and "." not in name:
        m = difflib.get_close_matches("faker." + name, names, n=1, cutoff=0.6)
    return m[0] if m else None


def _unknown(spec: str, name: str, where: str | None) -> RulesError:
    s = suggest(name)
    hint = f" (did you mean {s!r}?)" if s else ""
    return RulesError(f"unknown mutation {spec!r}{hint}", where=where)


def _lookup(name: str):
    """REGISTRY[name], the installed plugins' entry points read first when it is no built-in."""
    cls = REGISTRY.get(name)
    if cls is None:
        from .plugins import load_entry_points

        load_entry_points()
        cls = REGISTRY.get(name)
    return cls


def get(name: str) -> type[Transformer]:
    """The transformer class registered under `name`; RulesError with a suggestion otherwise."""
    cls = _lookup(name)
    if cls is None:
        raise _unknown(name, name, None)
    return cls


def parse_mutation(spec: str, where: str | None = None) -> tuple[type[Transformer], str | None]:
    """'faker.email' -> (cls, None); 'static:VALUE' -> (cls, 'VALUE') (the text after the first
    colon, possibly empty). RulesError for unknown names (with a did-you-mean suggestion), a
    missing `static` value, or an argument given to a mutation that takes none."""
    if not isinstance(spec, str) or not spec:
        raise RulesError("mutation must be a non-empty string", where=where)
    name, sep, arg = spec.partition(":")
    cls = _lookup(name)
    if cls is None:
        raise _unknown(spec, name, where)
    if cls.takes_argument:
        if not sep:
            raise RulesError(f"{name} needs a value: {name}:VALUE", where=where)
        return cls, arg
    if sep:
        raise RulesError(f"{name} takes no ':' argument (got {spec!r}); use options", where=where)
    return cls, None




def inner_protection(mutation, options: dict | None = None) -> str:
    """The protection class of a mutation named inside another one's options (json, list,
    regex): "null" and "delete" remove; an unknown name counts as kept (the outer rule refuses it)."""
    if mutation in ("null", "delete"):
        return "removed"
    try:
        cls, arg = parse_mutation(str(mutation))
        return cls.protection_of(cls.validate_options(dict(options or {})), arg)
    except RulesError:
        return "kept"
