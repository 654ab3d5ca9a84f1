"""A rules file as a JSON document, for commands that write one (`scan --write-rules`)."""
from __future__ import annotations

import orjson


def read_rules_document(path: str) -> dict:
    """The rules file's JSON document as written (to extend it), not the loaded RuleSet."""
    with open(path, "rb") as fh:
        return orjson.loads(fh.read())


def write_rules_document(path: str, document: dict) -> None:
    """Write `document` as a rules file (2-space indent), after checking that it loads: a
    file dumpmask writes is one dumpmask reads (RulesError, exit 2, and no file otherwise)."""
    from dumpmask.rules import load_rules

    data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    load_rules(path, data)
    from dumpmask.atomic import write_atomically

    write_atomically(path, data, "rules file")
