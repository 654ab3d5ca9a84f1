"""`dumpmask verify`: the leak check of a masked dump against its original."""
from __future__ import annotations

import sys

import click

from dumpmask.commands.guard import guarded
from dumpmask.commands.options import dialect_option, json_option, max_memory_option, plugin_option, rules_option


@click.command("verify")
@click.argument("original", metavar="ORIGINAL")
@click.argument("masked", metavar="MASKED")
@rules_option(help="The rules file of the masking run.", required=True)
@click.option("--all", "fail_all", is_flag=True, help="Low-risk values fail the run too.")
@json_option(help="Print the findings as JSON.")
@dialect_option()
@plugin_option()
@max_memory_option()
@guarded
def verify_cmd(original, masked, rules_path, fail_all, as_json, dialect, plugins, max_memory):
    """Leak check: look for every original value of a masked column in the whole MASKED dump.

    \b
    The original values of every column RULES masks (any mutation but `keep`) are looked for
    in every column of every table of MASKED, case-insensitively, as a whole value, as a token
    inside text (text is split on every character that is not a letter or a digit) and, for
    values of several tokens, as that run of consecutive tokens inside text. Exit 1 when one
    is found; where it was found is printed (table.column:line), values redacted.
    \b
    Low risk (reported, exit 0 unless --all) -- values that cannot single anyone out alone:
      1. fewer than 4 letters/digits in all (JON, ANN);
      2. a number of fewer than 5 digits;
      3. one token (no space or punctuation inside) that also appears in a column of ORIGINAL
         that RULES do not mask (MARY: a customer's and an actor's first name);
      4. found only inside cells of masked columns of MASKED, and either not the original
         value of that same row (generators write names and postcodes from pools, so other
         rows' values turn up by chance), or one word of letters on its own row, unless that
         column gives back its own row's value for at least 2 rows and 5% of its rows (then
         the column was not masked at all: a leak).
    Anything else is a leak: e-mails, phone numbers, addresses, user names, password hashes,
    numbers of 5 digits or more, multi-word values, and any value of a masked column found in
    a column RULES do not mask (a free-text column, a copy) unless 1-3 apply.
    \b
    Rows are paired by their position in each table. When a table's row counts differ
    (--first, --last, --erase, --only, a drop rule), a value found in its masked cells cannot
    be told from the row's own: it fails as "not verifiable" (the masking run's --verify
    pairs the rows by its record of which rows it wrote).
    \b
    Memory is bounded: the original's masked values are keyed 64-bit hashes (exact sets, then
    fixed-size Bloom filters; never values in clear), and what is found is bounded too (past
    200,000 distinct values found or 2,000,000 suspect rows, verify counts the rest, says so
    and fails closed).
    """
    import orjson

    from dumpmask.rules import load_rules
    from dumpmask.run import checked_input
    from dumpmask.verify import format_result, verify

    from dumpmask.transformers.plugins import load_plugins

    from dumpmask.memory import Budget

    budget = Budget.parse(max_memory)   # a bad SIZE: exit 2 before anything is read
    load_plugins(plugins)
    rules = load_rules(rules_path)
    result = verify(checked_input(original), checked_input(masked), rules, dialect, progress=None, budget=budget)
    if as_json:
        doc = {"ok": not result.failed(fail_all), "leaks": result.leaks, "low_risk": result.low_risk,
               "values_checked": result.values_checked, "bloom_bytes": result.bloom_bytes}
        if result.not_examined:   # past verify's bounds (verify.MAX_CANDIDATES, MAX_SUSPECTS): said, never dropped silently
            doc["not_examined"] = {"values": result.not_examined, "found": result.not_examined_found}
        if result.suspects_not_kept:
            doc["suspects_not_kept"] = result.suspects_not_kept
        if result.misaligned:   # rows that cannot be paired: what was found in their masked cells fails as not verifiable
            doc["unpaired_tables"] = {t: {"rows_original": o, "rows_masked": m} for t, (o, m) in result.row_counts.items()}
            doc["not_verifiable"] = result.unpaired
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
    else:
        click.echo(format_result(result, fail_all))
    if result.failed(fail_all):
        sys.exit(1)
