"""`dumpmask scan`: find personal data in a dump, and optionally write a rules file for it."""
from __future__ import annotations

import sys

import click

from dumpmask.commands.guard import guarded
from dumpmask.commands.options import dialect_option, input_argument, json_option, rules_option, template_option


@click.command("scan")
@input_argument()
@rules_option(help="Rules file: show which rule covers each column.")
@json_option(help="Print a JSON array of findings instead of a table.")
@click.option("--write-rules", "write_rules", metavar="FILE",
              help="Write a ready rules file: RULES (if given) plus a suggested rule for every uncovered finding.")
@template_option(help="Only the categories a compliance template requires.")
@dialect_option()
@click.option("--sample", type=click.IntRange(min=0), default=100, show_default=True, metavar="N",
              help="Rows sampled per table for content detection (0: names only).")
@guarded
def scan_cmd(input, rules_path, as_json, write_rules, template, dialect, sample):
    """Find personal data in a dump: by column name (every table's columns) and by content
    (the first N rows of each table).

    \b
    Prints: table, column, type, category (e.g. "HIPAA-6 email", "PCI PAN"), evidence
    ("name", "content 97%", "name+content 100%") and the rule covering the column (-c) or a
    suggested mutation. --json keys: table ("schema.table"), column, type, category, also,
    evidence, share, review, covered_by ({mutation, where} or null), suggested,
    suggested_options, key (why the column is a key, or null), unique, no_fit.
    """
    import orjson

    from dumpmask.rules import load_rules
    from dumpmask.rules_io import read_rules_document, write_rules_document
    from dumpmask.run import checked_input
    from dumpmask.scan import build_rules_document, format_table, scan

    rules = load_rules(rules_path) if rules_path else None
    findings, sampled = scan(checked_input(input), dialect, sample, rules, template,
                             source="<stdin>" if input == "-" else input)
    if write_rules:
        given = read_rules_document(rules_path) if rules_path else None
        write_rules_document(write_rules, build_rules_document(findings, rules, given, template, sampled.dialect,
                                                               sampled.tables))
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(findings, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
    else:
        click.echo(format_table(findings, bool(rules_path)))
    if write_rules:
        _summarise_written_rules(findings, write_rules)


def _summarise_written_rules(findings: list[dict], path: str) -> None:
    """On stderr: how many rules --write-rules suggested, and which findings need a look."""
    uncovered = [finding for finding in findings if finding["covered_by"] is None]
    click.echo(f"dumpmask: wrote {path} ({len(uncovered)} suggested rule(s))", err=True)
    for finding in uncovered:
        if finding.get("no_fit"):
            click.echo(f"dumpmask: warning: {finding['table']}.{finding['column']}: {finding['category']}: no mutation "
                       f"restores into type {finding['type']} (NOT NULL): written as \"keep\" (in clear); review it",
                       err=True)
    keys = sum(1 for finding in uncovered if finding["suggested"] == "key")
    if keys:
        click.echo(f"dumpmask: {keys} detected column(s) are keys: covered by identifier remapping "
                   "(options.identifierRemapping.enabled: true), not by a value mutation", err=True)
