"""`dumpmask mask` (the default command): mask a dump into a masked dump."""
from __future__ import annotations

import sys

import click

from dumpmask.commands.guard import guarded, print_error, warning_printer
from dumpmask.commands.options import (dialect_option, input_argument, key_file_option, max_memory_option, output_option,
                                       plugin_option, rules_option, template_option, weak_key_ok_option)


@click.command("mask")
@rules_option(help="Rules file (JSON).")
@click.option("--audit", "audit_path", metavar="FILE", help="Write the JSON audit sidecar here (also when the run fails).")
@click.option("--report", "report_path", metavar="FILE", help="Also render the PDF compliance report here.")
@dialect_option(help="Dump dialect (detected from the header by default).")
@key_file_option(help="Read the masking key from FILE (else DUMPMASK_KEY; else a random per-run key).")
@weak_key_ok_option()
@click.option("--key-label", "key_label", metavar="TEXT", help="A name for the key (e.g. staging-2026-q4), kept in the audit.")
@click.option("--schema", "schema_path", metavar="FILE", help="A schema-only dump, for keys declared after the data in a piped dump.")
@click.option("--strict", is_flag=True, help="Fail closed: unmatched rules and uncovered personal data are errors.")
@template_option(help="Derive rules for detected personal data not in RULES.")
@click.option("--first", "first_n", type=click.IntRange(min=0), metavar="N", help="Keep only the first N rows of each table.")
@click.option("--last", "last_n", type=click.IntRange(min=0), metavar="N", help="Keep only the last N rows of each table.")
@click.option("--erase", "erase", multiple=True, metavar="TABLE:KEY[,KEY...]",
              help="Remove these rows (by primary key) and every row referencing them, transitively; needs INPUT as a file.")
@click.option("--only", "only", multiple=True, metavar="TABLE:KEY[,KEY...]",
              help="Keep only these rows, the rows referencing them (transitively) and the parents they need; needs a file.")
@output_option(help="Output file (default: stdout).")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=1, show_default=True, metavar="N",
              help="Mask data blocks in N worker processes (0: one per core); the output is the same bytes.")
@click.option("--compress", type=click.Choice(["gzip", "zstd", "none"]),
              help="Compress the output (default: as OUTPUT's name says: .gz gzip, .zst zstd; else none).")
@click.option("--compress-level", type=click.IntRange(1, 19), metavar="N",
              help="Compression level: gzip 1-9 (default 2), zstd 1-19 (default 3).")
@click.option("--cluster", "cluster", metavar="ADDRESS",
              help="Mask data blocks on the workers of the Dask scheduler at ADDRESS (tcp://host:port; "
                   "needs dumpmask[cluster]); the output is the same bytes.")
@click.option("--cluster-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="With --cluster: how long to wait for the scheduler, a first worker, any one block (default 60).")
@click.option("--k-report-only", "k_report_only", is_flag=True,
              help="k-anonymity (options.kAnonymity): count and record the achieved k, do not fail or suppress "
                   "(works on a pipe).")
@click.option("--split-size", "split_size", metavar="SIZE",
              help="A directory archive's table file with more SQL than SIZE is cut into parts masked in parallel "
                   "(default 64MB; 0: never).")
@click.option("--verify", "verify", is_flag=True,
              help="Run the leak check of `dumpmask verify` on the output in the same job (a file: read back before it "
                   "is kept; a pipe: on a keyed sample); leaks: exit 1, no output file.")
@max_memory_option()
@click.option("-q", "--quiet", is_flag=True, help="No progress line and no warnings on stderr.")
@plugin_option()
@input_argument()
@guarded
def mask_cmd(rules_path, audit_path, report_path, dialect, key_file, weak_key_ok, key_label, schema_path, strict, template,
             first_n, last_n,
             erase, only, output, jobs, compress, compress_level, cluster, cluster_timeout, split_size, k_report_only,
             verify, max_memory, quiet, plugins, input):
    """Mask a dump: read INPUT (default stdin), write the masked dump to OUTPUT (default stdout)."""
    from dumpmask.memory import Budget
    from dumpmask.run import mask_files
    from dumpmask.split import parse_size

    if first_n is not None and last_n is not None:
        raise click.UsageError("--first and --last cannot be used together")
    budget = Budget.parse(max_memory, output)   # a bad SIZE: exit 2 before anything is read
    if plugins:
        from dumpmask.transformers.plugins import load_plugins

        load_plugins(plugins)   # before the rules are read: they may name the plugins' mutations
    mask_files(input, output, rules_path=rules_path, key_file=key_file, audit_path=audit_path,
               report_path=report_path, dialect=dialect, schema_path=schema_path, strict=strict, template=template,
               first=first_n, last=last_n, progress=not quiet and sys.stderr.isatty(),
               warn=warning_printer(quiet), error=print_error, jobs=jobs, compress=compress,
               compress_level=compress_level, cluster=cluster, cluster_timeout=cluster_timeout,
               split_size=None if split_size is None else parse_size(split_size), k_report_only=k_report_only,
               erase=list(erase), only=list(only), weak_key_ok=weak_key_ok, key_label=key_label,
               verify=_verify_tools() if verify else False, max_memory=budget)


def _verify_tools():
    from dumpmask.verify import InJobTools

    return InJobTools()
