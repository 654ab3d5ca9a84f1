"""`dumpmask transformers`: the mutation registry, as help text."""
from __future__ import annotations

import sys

import click

from dumpmask.commands.guard import guarded
from dumpmask.commands.options import json_option, plugin_option


@click.command("transformers")
@json_option(help="Print the registry as JSON (name, help, params, unique, kinds, plugin), for tooling.")
@plugin_option()
@guarded
def transformers_cmd(as_json, plugins):
    """List every mutation with its help and options (installed plugins' and --plugin ones too)."""
    from dumpmask.transformers import describe_all
    from dumpmask.transformers.plugins import load_plugins

    load_plugins(plugins)
    if as_json:
        import json

        click.echo(json.dumps(describe_all(), indent=2, default=str))
        sys.stdout.flush()
        return
    for described in describe_all():
        click.echo(described["name"] + ("  (distinct inputs stay distinct)" if described.get("unique") else "")
                   + (f"  [{described['plugin']}]" if described.get("plugin") else ""))
        for line in (described.get("help") or "").splitlines():
            click.echo(f"    {line}")
        for param in described.get("params", []):
            click.echo(f"    option {param['name']} ({param.get('type')}, default {param.get('default')!r}): "
                       f"{param.get('help', '')}")
        click.echo("")
    sys.stdout.flush()  # a closed pipe shows here, inside the guard (exit 141)
