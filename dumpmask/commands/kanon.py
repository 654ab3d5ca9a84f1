"""`dumpmask kanon`: the achieved k-anonymity of a masking run, per table."""
from __future__ import annotations

import sys

import click

from dumpmask.commands.guard import guarded, warning_printer
from dumpmask.commands.options import (dialect_option, input_argument, json_option, key_file_option, max_memory_option,
                                       rules_option, weak_key_ok_option)


@click.command("kanon")
@rules_option(help="Rules file with options.kAnonymity (required).", required=True)
@key_file_option(help="The masking key (as for mask): fakes and remapped keys are counted as written.")
@weak_key_ok_option()
@dialect_option()
@json_option(help="Print the audit's kAnonymity object as JSON instead of a table.")
@max_memory_option()
@input_argument()
@guarded
def kanon_cmd(rules_path, key_file, weak_key_ok, dialect, as_json, max_memory, input):
    """Count, as `dumpmask mask -c RULES` would write them, each table's classes of
    quasi-identifier values (options.kAnonymity) and print the achieved k, the rows in classes
    below k, the smallest classes and the quasi-identifier to generalize next. Nothing is
    written. Exit 1 when a table is below k."""
    import orjson

    from dumpmask.memory import Budget
    from dumpmask.run import kanon_report

    budget = Budget.parse(max_memory)
    result = kanon_report(input, rules_path=rules_path, key_file=key_file, weak_key_ok=weak_key_ok, dialect=dialect,
                          warn=warning_printer(True), max_memory=budget)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
    else:
        head = ["TABLE", "QUASI-IDENTIFIERS", "ROWS", "CLASSES", "ACHIEVED K", "ROWS BELOW K", "SMALLEST", "NEXT"]
        lines = [[t, ",".join(e["quasiIdentifiers"]), e["rows"], e["classes"], e["achieved_k"], e["rows_below_k"],
                  " ".join(map(str, e["smallest_classes"])), e["generalize_next"]]
                 for t, e in sorted(result["tables"].items())]
        widths = [max(len(str(x[i])) for x in [head] + lines) for i in range(len(head))]
        for row in [head] + lines:
            click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if not lines:
            click.echo("no quasi-identifier table had data", err=True)
    if any(e["achieved_k"] is not None and e["achieved_k"] < result["k"] for e in result["tables"].values()):
        sys.exit(1)
