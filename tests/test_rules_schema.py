"""docs/rules.schema.json (the JSON Schema editors validate rules files with) agrees with the
loader, dumpmask.rules.load_rules: every rules file the project ships validates and loads,
invalid documents are refused by both, and every registered mutation is in the schema."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jsonschema
import pytest

from dumpmask.errors import RulesError
from dumpmask.rules import load_rules
from dumpmask.transformers import REGISTRY

from conftest import REPO

SCHEMA_PATH = REPO / "docs" / "rules.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

REPO_RULES = sorted({*REPO.glob("fixtures/*.json"), *REPO.glob("bench/rules-*.json"),
                     *REPO.glob("tests/golden/**/*rules*.json"), *REPO.glob("tests/golden/rules/*.json")})


def schema_accepts(doc) -> bool:
    return VALIDATOR.is_valid(doc)


def loader_accepts(doc) -> bool:
    try:
        load_rules("rules.json", json.dumps(doc).encode())
    except RulesError:
        return False
    return True


def generator():
    spec = importlib.util.spec_from_file_location("rules_schema", REPO / "scripts" / "rules_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_committed_schema_is_what_the_generator_writes():
    assert generator().build() == SCHEMA, (
        "docs/rules.schema.json is out of date: .venv/bin/python scripts/rules_schema.py > docs/rules.schema.json")


def test_every_registered_mutation_is_in_the_schema():
    spelled = SCHEMA["$defs"]["columnRule"]["properties"]["mutation"]["anyOf"]
    names = set(spelled[0]["enum"]) | {alt["description"].split(":")[0] for alt in spelled[1:]}
    assert names == set(REGISTRY), f"registry and schema differ: {sorted(set(REGISTRY) ^ names)}"
    with_options = {branch["if"]["properties"]["mutation"].get("const")
                    or branch["if"]["properties"]["mutation"]["pattern"][1:-1].replace("[.]", ".")
                    for branch in SCHEMA["$defs"]["columnRule"]["allOf"]}
    assert with_options == set(REGISTRY)


def test_repo_has_rules_files_to_check():
    assert len(REPO_RULES) >= 5, REPO_RULES


@pytest.mark.parametrize("path", REPO_RULES, ids=lambda p: str(p.relative_to(REPO)))
def test_repo_rules_files_validate_and_load(path: Path):
    doc = json.loads(path.read_bytes())
    errors = [e.message for e in VALIDATOR.iter_errors(doc)]
    assert not errors, errors
    load_rules(str(path))


def test_shared_check_rules_files_validate_and_load(shared_rules):
    paths = sorted(shared_rules.glob("*.json"))
    assert paths
    for path in paths:
        doc = json.loads(path.read_bytes())
        assert not [e.message for e in VALIDATOR.iter_errors(doc)], path
        load_rules(str(path))


def table(*column_rules, **extra) -> dict:
    return {"tables": [{"tableName": "customer", "columnMutations": list(column_rules), **extra}]}


def rule(mutation, **extra) -> dict:
    return {"column": "email", "mutation": mutation, **extra}


VALID = {
    "empty object": {},
    "bare list": [{"tableName": "customer", "columnMutations": [rule("faker.email")]}],
    "every top-level key": {"$schema": "./docs/rules.schema.json", "version": 1, "description": "x", "tables": []},
    "remapping true": {"options": {"identifierRemapping": True}},
    "remapping settings": {"options": {"identifierRemapping": {"enabled": True, "strategy": "randomInteger",
                                                               "range": [1, 1000], "inferKeys": True}}},
    "transfer first": {"options": {"transfer": {"mode": "first", "rows": 0, "referentialIntegrity": False}}},
    "transfer full without rows": {"options": {"transfer": {"mode": "full"}}},
    "table overrides": table(identifierRemapping={"enabled": False}, transfer={"mode": "last", "rows": 5},
                             description="audit log"),
    "table remapping false": table(identifierRemapping=False),
    "static with a value": table(rule("static:true")),
    "static empty value": table(rule("static:")),
    "options null": table(rule("keep", options=None)),
    "faker locale": table(rule("faker.name", options={"locale": "de_DE", "empty": "mask"})),
    "hash length": table(rule("hash", options={"length": 16})),
    "key domain": table(rule("key", options={"domain": "customer.customer_id"})),
    "key domain null": table(rule("key", options={"domain": None})),
    "redact value": table(rule("redact", options={"value": "x"})),
    "iban country": table(rule("faker.iban", options={"country": "GB"})),
    "column description": table(rule("null", description="not needed")),
    "single table object": {"tableName": "customer", "columnMutations": [rule("faker.email")]},
    "unlisted fail": {"options": {"unlisted": "fail"}},
    "unlisted mask with defaults": {"options": {"unlisted": "mask", "typeDefaults": {
        "text": "redact", "date": {"mutation": "faker.date", "options": {"preserveYear": True}}}}},
    "column where": table(rule("redact", where={"status": {"in": ["a", "b"]}, "n": {">=": 1}})),
    "table where and drop": table(where={"or": [{"a": None}, {"not": {"b": {"like": "x%"}}}]}, action="drop"),
    "quoted names": {"tables": [{"tableName": 'public."Audit Log"', "columnMutations": [{"column": '"E-mail"', "mutation": "hash"}]}]},
}

INVALID = {
    "not an object or list": "rules",
    "unknown top-level key": {"tabels": []},
    "tables not a list": {"tables": {}},
    "options not an object": {"options": []},
    "unknown option": {"options": {"remap": True}},
    "remapping enabled not bool": {"options": {"identifierRemapping": {"enabled": "yes"}}},
    "unknown strategy": {"options": {"identifierRemapping": {"strategy": "random"}}},
    "unknown remapping key": {"options": {"identifierRemapping": {"enabeld": True}}},
    "range of one": {"options": {"identifierRemapping": {"range": [1]}}},
    "range not integers": {"options": {"identifierRemapping": {"range": [1.5, 3]}}},
    "range with uuid": {"options": {"identifierRemapping": {"strategy": "uuid", "range": [1, 9]}}},
    "inferKeys not bool": {"options": {"identifierRemapping": {"inferKeys": 1}}},
    "transfer unknown mode": {"options": {"transfer": {"mode": "sample", "rows": 5}}},
    "transfer first without rows": {"options": {"transfer": {"mode": "first"}}},
    "transfer negative rows": {"options": {"transfer": {"mode": "last", "rows": -1}}},
    "transfer rows not integer": {"options": {"transfer": {"mode": "last", "rows": "5"}}},
    "transfer unknown key": {"options": {"transfer": {"mode": "full", "ri": True}}},
    "referentialIntegrity not bool": {"options": {"transfer": {"mode": "full", "referentialIntegrity": "no"}}},
    "table not an object": {"tables": ["customer"]},
    "table without name": {"tables": [{"columnMutations": []}]},
    "blank table name": {"tables": [{"tableName": "  "}]},
    "unknown table key": {"tables": [{"tableName": "t", "columns": []}]},
    "columnMutations not a list": {"tables": [{"tableName": "t", "columnMutations": {}}]},
    "table remapping strategy": table(identifierRemapping={"strategy": "uuid"}),
    "table remapping not bool": table(identifierRemapping="off"),
    "column rule not an object": table("email"),
    "column missing": table({"mutation": "hash"}),
    "blank column": table({"column": "", "mutation": "hash"}),
    "mutation missing": table({"column": "email"}),
    "mutation not a string": table(rule(["hash"])),
    "unknown mutation": table(rule("faker.emial")),
    "static without value": table(rule("static")),
    "argument to a plain mutation": table(rule("hash:16")),
    "unknown column key": table(rule("hash", opts={})),
    "mutation options not an object": table(rule("hash", options=[16])),
    "unknown mutation option": table(rule("hash", options={"size": 16})),
    "option of another mutation": table(rule("faker.email", options={"locale": "de_DE"})),
    "option wrong type": table(rule("hash", options={"length": "16"})),
    "bool for an int option": table(rule("hash", options={"length": True})),
    "hash length too small": table(rule("hash", options={"length": 3})),
    "hash length too large": table(rule("hash", options={"length": 129})),
    "choice not allowed": table(rule("faker.iban", options={"country": "FR"})),
    "empty option value": table(rule("faker.city", options={"empty": "drop"})),
    "options on keep": table(rule("keep", options={"domain": "a.b"})),
    "options on static": table(rule("static:x", options={"empty": "mask"})),
    "bool option as string": table(rule("faker.date", options={"preserveYear": "yes"})),
    "unknown unlisted policy": {"options": {"unlisted": "drop"}},
    "typeDefaults unknown mutation": {"options": {"unlisted": "mask", "typeDefaults": {"text": "faker.emial"}}},
    "unknown condition operator": table(rule("redact", where={"a": {"between": [1, 2]}})),
    "empty condition": table(rule("redact", where={})),
    "in without a list": table(rule("redact", where={"a": {"in": 3}})),
    "unknown action": table(where={"a": 1}, action="erase"),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_documents_pass_both(name):
    doc = VALID[name]
    assert schema_accepts(doc), [e.message for e in VALIDATOR.iter_errors(doc)]
    assert loader_accepts(doc)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_documents_are_refused_by_both(name):
    doc = INVALID[name]
    assert not schema_accepts(doc), "the schema accepts it"
    assert not loader_accepts(doc), "the loader accepts it"
