"""Every mutation dumpmask knows, by name. Importing this package registers them all."""
from __future__ import annotations

import copy

from dumpmask.errors import RulesError
from dumpmask.schema import Column

from . import basic, faker_based, computed, key, generalize, shapes, jsonpaths, patterns, templates  # noqa: F401  (register on import, in this order)
from .base import REGISTRY, Param, Transformer, register
from .names import get, parse_mutation, suggest

__all__ = ["REGISTRY", "Param", "Transformer", "register", "get", "parse_mutation", "describe_all", "suggest",
           "valid_for", "injective_mutations", "type_error", "uniqueness_error", "element_column", "target_column"]


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return "|".join(_type_name(x) for x in t)
    return getattr(t, "__name__", str(t))


def describe_all() -> list[dict]:
    """One dict per transformer, sorted by name: name, help, params, unique, kinds, and the
    plugin that registered it (installed plugins' entry points are read first)."""
    from .plugins import ORIGIN, load_entry_points

    load_entry_points()
    out = []
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        out.append({
            "name": name,
            "help": cls.help(),
            "params": [{"name": p, "type": _type_name(spec.type), "default": spec.default, "help": spec.help,
                        **({"choices": list(spec.choices)} if spec.choices else {})}
                       for p, spec in cls.params.items()],
            "unique": cls.unique,
            "protection": cls.protection,
            "kinds": list(cls.kinds) if cls.kinds is not None else None,
            "takes_argument": cls.takes_argument,
            **({"plugin": ORIGIN[name]} if name in ORIGIN else {}),
        })
    return out


# --- what fits a column: used by the engine (rules) and by scan --write-rules (detect) -------

#: injective mutations, best first (the order suggestions use)
INJECTIVE_ORDER = ("hash", "faker.email", "faker.userName", "key", "keep")


def element_column(column: Column, resolve=None) -> Column:
    """The Column of one element of an array column (`text[]` -> text). `resolve` maps a type
    text to the Column the dump's enums and domains make of it (default: classify)."""
    from dumpmask.schema import classify

    from .arrays import element_type

    et = element_type(column.type or "")
    c = resolve(et) if resolve is not None else classify(et)
    c = copy.copy(c)
    c.name = column.name
    c.type = c.type or et.lower()
    c.nullable = True  # NULL elements are kept as NULL
    return c


def target_column(cls: type[Transformer], column: Column, resolve=None) -> Column:
    """The column a mutation writes into: an array's element for element-wise mutations."""
    if column.kind == "array" and cls.elementwise:
        return element_column(column, resolve)
    return column


def type_error(cls: type[Transformer], options: dict, argument: str | None, column: Column,
               dialect: str | None = None, resolve=None) -> str | None:
    """Why a mutation (class, validated options, static's argument) cannot write valid values
    into `column`, or None."""
    return cls.type_error(target_column(cls, column, resolve), options, argument, dialect)


def uniqueness_error(cls: type[Transformer], column: Column, constraint: str, dialect: str | None = None,
                     options: dict | None = None) -> str | None:
    """The message for a non-injective mutation on a column of a PRIMARY KEY / UNIQUE
    constraint / unique index (`constraint` describes it), or None when the mutation is injective
    on this column (with these options)."""
    why = cls.injective_for(target_column(cls, column), options)
    if why is None:
        return None
    alts = injective_mutations(column, dialect)
    if not cls.unique:
        why = getattr(cls, "not_injective", None) or "is not injective (two different values can get the same output)"
    else:
        why = f"is not injective here: {why}"
    return (f"{cls.name} {why} but column {column.name!r} is in {constraint}: the restore would fail on "
            f"duplicates; use one of {', '.join(alts) or 'keep'}")


def valid_for(mutation: str, options: dict | None, column: Column, *, unique: bool = False,
              dialect: str | None = None, resolve=None, table=None) -> str | None:
    """None when the rule {"mutation": mutation, "options": options} writes values that restore
    into `column`, else the error message dumpmask would stop with (exit 2).

    unique: the column is in a PRIMARY KEY, UNIQUE constraint or unique index; then the
        mutation must be injective on it. `table` (a TableSchema) works it out instead
        (dumpmask.schema.unique_constraint_of).
    dialect: "postgres" / "mysql" (a few checks differ), None when unknown.
    resolve: type text -> Column with the dump's enums and domains (Engine.resolve_type), for
        the elements of array columns; pass the column through Engine.resolve_column first so
        that a domain's CHECK is known."""
    try:
        cls, arg = parse_mutation(mutation)
        opts = cls.validate_options(dict(options or {}))
    except RulesError as e:
        return str(e)
    err = type_error(cls, opts, arg, column, dialect, resolve)
    if err:
        return err
    where = "a unique constraint" if unique else None
    if where is None and table is not None:
        from dumpmask.schema import unique_constraint_of

        where = unique_constraint_of(table, column.name)
    if where:
        return uniqueness_error(cls, column, where, dialect, opts)
    return None


def injective_mutations(column: Column, dialect: str | None = None, resolve=None) -> list[str]:
    """Names of the mutations that keep distinct values distinct and can write into `column`'s
    type, best first (from: hash, faker.email, faker.userName, key, keep). `keep` is always
    last and always there."""
    out = []
    for name in INJECTIVE_ORDER:
        cls = REGISTRY[name]
        if not cls.unique:
            continue
        if name in ("key", "keep"):
            if name == "key":
                from .validity import is_network

                keyable = (column.kind in ("int", "uuid") or (column.kind == "text" and not is_network(column))
                           or (column.kind == "numeric" and not column.scale))
                if not keyable:
                    continue
            out.append(name)
            continue
        opts = cls.validate_options({})
        if type_error(cls, opts, None, column, dialect, resolve) is None and \
                cls.injective_for(target_column(cls, column, resolve), opts) is None:
            out.append(name)
    return out
