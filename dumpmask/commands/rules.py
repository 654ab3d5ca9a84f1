"""`dumpmask rules init` / `dumpmask rules diff`: write a complete rules file; list what changed."""
from __future__ import annotations

import sys

import click

from dumpmask.commands.guard import guarded
from dumpmask.commands.options import dialect_option, input_argument, json_option


@click.group("rules")
def rules_cmd():
    """Complete rules files: `rules init DUMP` names every column, `rules diff RULES DUMP`
    lists the columns added since (for CI on schema migrations)."""


@rules_cmd.command("init")
@input_argument()
@click.option("-o", "--output", "output", metavar="FILE", help="Write the rules here (default: stdout).")
@dialect_option()
@click.option("--sample", type=click.IntRange(min=0), default=100, show_default=True, metavar="N",
              help="Rows sampled per table for content detection (0: names only).")
@guarded
def init_cmd(input, output, dialect, sample):
    """Write a complete rules file for a dump: every table and column, detected personal data
    with the rule scan suggests, declared keys through identifier remapping, everything else
    "keep", and "unlisted": "fail" so that a column added later stops the run. The file is
    checked to load before it is written. Review it: "keep" means sent in clear."""
    import orjson

    from dumpmask.rules import load_rules
    from dumpmask.rules_io import write_rules_document
    from dumpmask.scan import rules_init_document
    from dumpmask.run import checked_input

    doc, summary = rules_init_document(checked_input(input), dialect, sample, source="<stdin>" if input == "-" else input)
    if output:
        write_rules_document(output, doc)
    else:
        data = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
        load_rules("<rules init>", data)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    click.echo(f"dumpmask: rules for {summary['tables']} table(s): {summary['detected']} detected column(s) "
               f"({summary['keys']} keys, remapped), {summary['kept']} kept in clear; review them", err=True)


@rules_cmd.command("diff")
@click.argument("rules_path", metavar="RULES", type=click.Path(dir_okay=False))
@input_argument()
@json_option(help="Print {added, removed} as JSON instead of lines.")
@dialect_option()
@guarded
def diff_cmd(rules_path, input, as_json, dialect):
    """Columns of the dump that RULES does not name (+, added since the rules were written; a
    key column counts as named when RULES turns identifier remapping on) and rules naming a
    table or column the dump does not have (-). Exit 1 when a column was added, else 0."""
    import orjson

    from dumpmask.rules import load_rules
    from dumpmask.scan import rules_diff
    from dumpmask.run import checked_input

    rules = load_rules(rules_path)
    result = rules_diff(rules, checked_input(input), dialect, source="<stdin>" if input == "-" else input)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
    else:
        for a in result["added"]:
            click.echo(f"+ {a['table']}.{a['column']}  {a['type'] or ''}".rstrip())
        for r in result["removed"]:
            click.echo(f"- {r['table']}" + (f".{r['column']}" if r["column"] else "") + f"  ({r['rule']})")
        click.echo(f"{len(result['added'])} column(s) not in the rules, {len(result['removed'])} rule(s) "
                   "naming what the dump does not have", err=True)
    if result["added"]:
        sys.exit(1)
