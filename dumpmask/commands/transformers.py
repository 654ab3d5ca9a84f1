"""`dumpmask transformers`: the mutation registry, as help text."""
from __future__ import annotations

import sys

import click

from dumpmask.commands.guard import guarded


@click.command("transformers")
@guarded
def transformers_cmd():
    """List every mutation with its help and options."""
    from dumpmask.transformers import describe_all

    for described in describe_all():
        click.echo(described["name"] + ("  (distinct inputs stay distinct)" if described.get("unique") else ""))
        for line in (described.get("help") or "").splitlines():
            click.echo(f"    {line}")
        for param in described.get("params", []):
            click.echo(f"    option {param['name']} ({param.get('type')}, default {param.get('default')!r}): "
                       f"{param.get('help', '')}")
        click.echo("")
    sys.stdout.flush()  # a closed pipe shows here, inside the guard (exit 141)
