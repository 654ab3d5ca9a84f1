"""Write docs/rules.schema.json, the JSON Schema of the rules file, from dumpmask.rules (its keys
and shapes, written out below) and the mutation registry (names and parameters):

    .venv/bin/python scripts/rules_schema.py > docs/rules.schema.json
    .venv/bin/python scripts/rules_schema.py --plugin my_mutations > rules.schema.json   # with plugins

Installed plugins (entry point group dumpmask.transformers) are in it too when installed.

tests/test_rules_schema.py fails when the committed file differs from what this prints, and
holds the schema to the loader (dumpmask.rules.load_rules): the rules files the project ships
validate and load, and invalid documents are refused by both.
"""
from __future__ import annotations

import json
import sys

from dumpmask.rules import STRATEGIES
from dumpmask.transformers import describe_all

#: JSON types of a parameter's declared Python type (transformers.base.Param.type)
JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "list": "array", "dict": "object"}

#: bounds a mutation's validate_options checks beyond the declared type (transformers/basic.py)
BOUNDS = {("hash", "length"): {"minimum": 4, "maximum": 128}}


def param_schema(mutation: str, param: dict) -> dict:
    out: dict = {"description": param["help"]}
    types = [JSON_TYPES[t] for t in param["type"].split("|")]
    if param["default"] is None:
        types.append("null")  # "not given": the loader accepts null for a parameter without default
    out["type"] = types[0] if len(types) == 1 else types
    if param.get("choices"):
        out["enum"] = list(param["choices"])
    if param["default"] is not None:
        out["default"] = param["default"]
    out.update(BOUNDS.get((mutation, param["name"]), {}))
    return out


def options_schema(mutation: dict) -> dict:
    return {
        "type": ["object", "null"],
        "properties": {p["name"]: param_schema(mutation["name"], p) for p in mutation["params"]},
        "additionalProperties": False,
    }


def column_rule(mutations: list[dict]) -> dict:
    plain = [m["name"] for m in mutations if not m["takes_argument"]]
    with_argument = [m["name"] for m in mutations if m["takes_argument"]]
    spelled = [{"enum": plain}] + [
        {"type": "string", "pattern": f"^{name.replace('.', '[.]')}:", "description": f"{name}:VALUE"}
        for name in with_argument]
    options_by_mutation = []
    for m in mutations:
        match = ({"pattern": f"^{m['name'].replace('.', '[.]')}:"} if m["takes_argument"] else {"const": m["name"]})
        options_by_mutation.append({
            "if": {"properties": {"mutation": match}, "required": ["mutation"]},
            "then": {"properties": {"options": options_schema(m)}},
        })
    return {
        "type": "object",
        "description": "One column's rule: the mutation that masks it (`dumpmask transformers` lists them).",
        "required": ["column", "mutation"],
        "properties": {
            "column": {"type": "string", "pattern": r"\S",
                       "description": "Column name; double-quoted for an exact PostgreSQL name (\"Email\")."},
            "mutation": {"type": "string", "anyOf": spelled,
                         "description": "faker.email, hash, redact, static:VALUE, null, keep, key, ..."},
            "options": {"type": ["object", "null"], "description": "The mutation's parameters."},
            "where": {"$ref": "#/$defs/condition"},
            "description": {"type": "string"},
        },
        "additionalProperties": False,
        "allOf": options_by_mutation,
    }


def transfer() -> dict:
    return {
        "type": "object",
        "description": "Partial transfer: the first or last N rows of each table (mode full: every row), or on a "
                       "table rule the rows a condition selects (where); with referential integrity every row they "
                       "reference is kept too.",
        "properties": {
            "mode": {"enum": ["first", "last", "full", "where"], "default": "full"},
            "rows": {"type": "integer", "minimum": 0},
            "where": {"$ref": "#/$defs/condition"},
            "referentialIntegrity": {"type": "boolean", "default": True,
                                     "description": "Keep every row a kept row references (needs INPUT as a file)."},
        },
        "additionalProperties": False,
        "if": {"properties": {"mode": {"enum": ["first", "last"]}}, "required": ["mode"]},
        "then": {"required": ["rows"]},
    }


def subjects() -> dict:
    key = {"type": "string", "pattern": "^.+:.+$",
           "description": "TABLE:KEY[,KEY...], KEY the primary key's value; a composite key as (a,b)."}
    return {
        "type": "object",
        "description": "Data subjects: erase removes each one's row and every row referencing it, transitively; "
                       "only keeps just them, their descendants and the parents those need. Needs INPUT as a file.",
        "properties": {"erase": {"type": "array", "items": key}, "only": {"type": "array", "items": key}},
        "additionalProperties": False,
    }


def run_remapping() -> dict:
    return {
        "description": "Identifier remapping for the whole run: true/false or its settings.",
        "oneOf": [
            {"type": "boolean"},
            {
                "type": "object",
                "properties": {
                    "enabled": {"type": "boolean", "default": True},
                    "strategy": {"enum": list(STRATEGIES), "default": "auto"},
                    "range": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2,
                              "description": "[lo, hi], integers with lo < hi: a keyed bijection of that range "
                                             "(integer keys only)"},
                    "inferKeys": {"type": "boolean",
                                  "description": "Link loose keys (<table>_id columns no foreign key declares)."},
                },
                "additionalProperties": False,
                "if": {"properties": {"strategy": {"enum": ["uuid", "text"]}}, "required": ["strategy"]},
                "then": {"not": {"required": ["range"]}},
            },
        ],
    }


def table_rule() -> dict:
    return {
        "type": "object",
        "required": ["tableName"],
        "properties": {
            "tableName": {"type": "string", "pattern": r"\S",
                          "description": "Bare (any schema) or qualified (public.customer); quoted parts are exact."},
            "columnMutations": {"type": "array", "items": {"$ref": "#/$defs/columnRule"}},
            "identifierRemapping": {
                "description": "This table's override: true/false or {\"enabled\": ...} (strategy, range and "
                               "inferKeys apply to the whole run).",
                "oneOf": [{"type": "boolean"},
                          {"type": "object", "properties": {"enabled": {"type": "boolean", "default": True}},
                           "additionalProperties": False}],
            },
            "transfer": {"$ref": "#/$defs/transfer"},
            "where": {"$ref": "#/$defs/condition"},
            "action": {"enum": ["mask", "drop"],
                       "description": "mask (default): the column rules apply where `where` holds; drop: remove those rows."},
            "description": {"type": "string"},
        },
        "additionalProperties": False,
    }


def condition() -> dict:
    """A row condition (dumpmask/conditions.py): columns with a value or operators; or/and/not."""
    scalar = {"type": ["string", "number", "boolean", "null"]}
    operators = {
        **{op: {"type": ["string", "number", "boolean"]} for op in ("=", "!=", "<", "<=", ">", ">=")},
        "in": {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
        "not in": {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
        "is null": {"type": "boolean"},
        "like": {"type": "string"}, "not like": {"type": "string"}, "regex": {"type": "string"},
    }
    return {
        "type": "object",
        "description": "A predicate over the row's original values: {column: value} (equality), "
                       "{column: {operator: value}}, or/and/not; several keys: and.",
        "minProperties": 1,
        "properties": {
            "or": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}},
            "and": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}},
            "not": {"$ref": "#/$defs/condition"},
        },
        "additionalProperties": {"anyOf": [
            scalar,
            {"type": "object", "minProperties": 1, "properties": operators, "additionalProperties": False},
        ]},
    }


def type_defaults(mutations: list[dict]) -> dict:
    """{SQL type or kind: mutation} for options.unlisted "mask"; key is not a default."""
    rule = column_rule([m for m in mutations if m["name"] != "key"])
    spelled = rule["properties"]["mutation"]
    return {
        "type": "object",
        "description": "The mutation an unlisted column gets, by SQL type (length and precision ignored, "
                       "synonyms folded: varchar = character varying) or kind (text, integer, numeric, "
                       "date, timestamp, json, ...). Only with \"unlisted\": \"mask\".",
        "additionalProperties": {"anyOf": [
            spelled,
            {"type": "object", "required": ["mutation"], "additionalProperties": False,
             "properties": {"mutation": spelled, "options": {"type": ["object", "null"]}},
             "allOf": rule["allOf"]},
        ]},
    }


def build() -> dict:
    mutations = describe_all()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dumpmask rules file",
        "description": "Generated by scripts/rules_schema.py from dumpmask.rules and the mutation registry; "
                       "docs/reference.md explains every key.",
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "$schema": {"type": "string"},
                    "version": {"description": "Free-form, not read."},
                    "description": {"type": "string"},
                    "options": {
                        "type": "object",
                        "properties": {"identifierRemapping": {"$ref": "#/$defs/runRemapping"},
                                       "transfer": {"$ref": "#/$defs/transfer"},
                                       "unlisted": {"enum": ["keep", "fail", "mask"],
                                                    "description": "A column the rules do not name: keep it, "
                                                                   "fail the run, or mask it with typeDefaults."},
                                       "typeDefaults": {"$ref": "#/$defs/typeDefaults"},
                                       "subjects": subjects(),
                                       "kAnonymity": {"$ref": "#/$defs/kAnonymity"}},
                        "additionalProperties": False,
                    },
                    "tables": {"$ref": "#/$defs/tables"},
                },
                "additionalProperties": False,
            },
            {"$ref": "#/$defs/tables"},
            {"$ref": "#/$defs/tableRule"},
        ],
        "$defs": {
            "tables": {"type": "array", "items": {"$ref": "#/$defs/tableRule"}},
            "tableRule": table_rule(),
            "columnRule": column_rule(mutations),
            "transfer": transfer(),
            "runRemapping": run_remapping(),
            "typeDefaults": type_defaults(mutations),
            "condition": condition(),
            "kAnonymity": {
                "type": "object",
                "description": "After masking, every combination of a table's quasi-identifier values occurs at "
                               "least k times: fail (exit 1 before any output), suppress (NULL the "
                               "quasi-identifiers of smaller classes) or report (the audit says the achieved k).",
                "required": ["quasiIdentifiers", "k"],
                "properties": {
                    "quasiIdentifiers": {"type": "object", "minProperties": 1, "additionalProperties": {
                        "type": "array", "minItems": 1, "uniqueItems": True,
                        "items": {"type": "string", "pattern": r"\S"}}},
                    "k": {"type": "integer", "minimum": 2},
                    "action": {"enum": ["fail", "suppress", "report"]},
                },
                "additionalProperties": False,
            },
        },
    }


def main(argv=None) -> None:
    import argparse

    from dumpmask.transformers.plugins import load_plugins

    parser = argparse.ArgumentParser(description="Print the rules file's JSON Schema.")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="also the mutations of MODULE (a module name or a .py file)")
    load_plugins(parser.parse_args(argv).plugin)
    json.dump(build(), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
