"""Options and arguments more than one command takes. Each command passes its own help text
where the wording differs (it is what `--help` and the README show)."""
from __future__ import annotations

import click

DIALECTS = click.Choice(["postgres", "mysql"])
TEMPLATES = click.Choice(["hipaa", "pci", "gdpr", "all"])


def rules_option(help: str, required: bool = False):
    """-c/--config RULES, passed as `rules_path`."""
    return click.option("-c", "--config", "rules_path", metavar="RULES", required=required, help=help)


def dialect_option(help: str = "Dump dialect (detected by default)."):
    return click.option("--dialect", type=DIALECTS, help=help)


def key_file_option(help: str = "Key file (else DUMPMASK_KEY)."):
    """--key-file FILE; the key itself is read by the library (crypto.Key.from_env_or_file)."""
    return click.option("--key-file", metavar="FILE", help=help)


def weak_key_ok_option():
    """--weak-key-ok: accept a key under 128 bits (tests and demos); the audit records it."""
    return click.option("--weak-key-ok", "weak_key_ok", is_flag=True,
                        help="Accept a weak key (under 128 bits: tests and demos only); the audit records it.")


def template_option(help: str):
    return click.option("--template", type=TEMPLATES, help=help)


def json_option(help: str):
    return click.option("--json", "as_json", is_flag=True, help=help)


def input_argument(name: str = "input"):
    """An optional dump argument, "-" (stdin) by default."""
    return click.argument(name, default="-", required=False)


def output_option(help: str, metavar: str = "OUTPUT", required: bool = False):
    """-o/--output; "-" (stdout) by default unless required."""
    if required:
        return click.option("-o", "--output", required=True, metavar=metavar, help=help)
    return click.option("-o", "--output", default="-", metavar=metavar, help=help)


def plugin_option():
    """--plugin MODULE (repeatable): a module name or a .py file registering mutations."""
    return click.option("--plugin", "plugins", multiple=True, metavar="MODULE",
                        help="Load third-party mutations from MODULE (a module name or a .py file); repeatable.")


def max_memory_option():
    """--max-memory SIZE, passed as `max_memory` (the text; memory.Budget.parse reads it: exit 2
    on a bad SIZE)."""
    return click.option("--max-memory", "max_memory", metavar="SIZE",
                        help="Keep what grows with the input (a long line, k-anonymity counts, blocks in flight) "
                             "under SIZE (512M, 2G): spill to a temporary file or exit 1 naming what needs more "
                             "(default: no limit).")
