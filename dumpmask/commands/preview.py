"""`dumpmask preview`: the first rows of each ruled table, before and after masking."""
from __future__ import annotations

import click

from dumpmask.commands.guard import guarded
from dumpmask.commands.options import (dialect_option, input_argument, key_file_option, plugin_option, rules_option,
                                      weak_key_ok_option)


@click.command("preview")
@rules_option(help="Rules file (JSON).", required=True)
@click.option("-n", "rows", default=5, show_default=True, type=click.IntRange(min=1), help="Rows per table.")
@dialect_option()
@key_file_option()
@weak_key_ok_option()
@plugin_option()
@input_argument()
@guarded
def preview_cmd(rules_path, rows, dialect, key_file, weak_key_ok, plugins, input):
    """Show the first rows of each ruled table before and after masking, and what no rule covers."""
    from dumpmask.crypto import Key
    from dumpmask.preview import preview
    from dumpmask.rules import load_rules

    from dumpmask.transformers.plugins import load_plugins

    load_plugins(plugins)
    rules = load_rules(rules_path)
    key = Key.from_env_or_file(key_file, weak_ok=weak_key_ok,
                               warn=lambda m: click.echo(f"dumpmask: warning: {m}", err=True))
    if key.ephemeral:
        click.echo("dumpmask: warning: no key (DUMPMASK_KEY or --key-file): the after values shown are for a random key",
                   err=True)
    preview(input, rules, key, n=rows, dialect=dialect, echo=click.echo)
