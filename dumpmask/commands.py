"""More commands on the `dumpmask` group: scan and verify (imported at the end of cli.py)."""
from __future__ import annotations

import sys

import click

from dumpmask.cli import _run_guarded, main
from dumpmask.errors import DumpmaskError

TEMPLATES = click.Choice(["hipaa", "pci", "gdpr", "all"])


def _input(path: str):
    if path == "-":
        return sys.stdin.buffer
    from dumpmask.inputs import check_path

    check_path(path)
    try:
        open(path, "rb").close()
    except OSError as e:
        raise DumpmaskError(f"cannot open input {path}: {e.strerror}") from None
    return path


@main.command("scan")
@click.argument("input", default="-", required=False)
@click.option("-c", "--config", "rules_path", metavar="RULES", help="Rules file: show which rule covers each column.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of findings instead of a table.")
@click.option("--write-rules", "write_rules", metavar="FILE",
              help="Write a ready rules file: RULES (if given) plus a suggested rule for every uncovered finding.")
@click.option("--template", type=TEMPLATES, help="Only the categories a compliance template requires.")
@click.option("--dialect", type=click.Choice(["postgres", "mysql"]), help="Dump dialect (detected by default).")
@click.option("--sample", type=click.IntRange(min=0), default=100, show_default=True, metavar="N",
              help="Rows sampled per table for content detection (0: names only).")
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
    def run():
        import orjson

        from dumpmask.rules import load_rules
        from dumpmask.scan import build_rules_document, format_table, scan

        rules = load_rules(rules_path) if rules_path else None
        rows, smp = scan(_input(input), dialect, sample, rules, template,
                         source="<stdin>" if input == "-" else input)
        if write_rules:
            doc_in = None
            if rules_path:
                with open(rules_path, "rb") as fh:
                    doc_in = orjson.loads(fh.read())
            doc = build_rules_document(rows, rules, doc_in, template, smp.dialect, smp.tables)
            data = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
            load_rules(write_rules, data)  # what we write must load
            try:
                with open(write_rules, "wb") as fh:
                    fh.write(data)
            except OSError as e:
                raise DumpmaskError(f"cannot write rules file {write_rules}: {e.strerror}") from None
        if as_json:
            sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
            sys.stdout.flush()
        else:
            click.echo(format_table(rows, bool(rules_path)))
        if write_rules:
            n = sum(1 for r in rows if r["covered_by"] is None)
            click.echo(f"dumpmask: wrote {write_rules} ({n} suggested rule(s))", err=True)
            kept = [r for r in rows if r["covered_by"] is None and r.get("no_fit")]
            for r in kept:
                click.echo(f"dumpmask: warning: {r['table']}.{r['column']}: {r['category']}: no mutation restores into "
                           f"type {r['type']} (NOT NULL): written as \"keep\" (in clear); review it", err=True)
            nkeys = sum(1 for r in rows if r["covered_by"] is None and r["suggested"] == "key")
            if nkeys:
                click.echo(f"dumpmask: {nkeys} detected column(s) are keys: covered by identifier remapping "
                           "(options.identifierRemapping.enabled: true), not by a value mutation", err=True)
    _run_guarded(run)


@main.command("verify")
@click.argument("original", metavar="ORIGINAL")
@click.argument("masked", metavar="MASKED")
@click.option("-c", "--config", "rules_path", required=True, metavar="RULES", help="The rules file of the masking run.")
@click.option("--all", "fail_all", is_flag=True, help="Low-risk values fail the run too.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--dialect", type=click.Choice(["postgres", "mysql"]), help="Dump dialect (detected by default).")
def verify_cmd(original, masked, rules_path, fail_all, as_json, dialect):
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
    Memory is bounded by the original's masked values (keyed 64-bit hashes in a Bloom filter,
    never values in clear), not by the size of MASKED.
    """
    def run():
        import orjson

        from dumpmask.rules import load_rules
        from dumpmask.verify import format_result, verify

        rules = load_rules(rules_path)
        res = verify(_input(original), _input(masked), rules, dialect,
                     progress=None)
        if as_json:
            sys.stdout.buffer.write(orjson.dumps({
                "ok": not res.failed(fail_all), "leaks": res.leaks, "low_risk": res.low_risk,
                "values_checked": res.values_checked, "bloom_bytes": res.bloom_bytes,
            }, option=orjson.OPT_INDENT_2) + b"\n")
            sys.stdout.flush()
        else:
            click.echo(format_result(res, fail_all))
        if res.failed(fail_all):
            sys.exit(1)
    _run_guarded(run)
