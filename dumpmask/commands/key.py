"""`dumpmask key new`: a new 256-bit random masking key."""
from __future__ import annotations

import click

from dumpmask.commands.guard import guarded


@click.group("key")
def key_cmd():
    """Masking keys."""


@key_cmd.command("new")
@click.option("-o", "--output", metavar="FILE",
              help="Create FILE (mode 0600; an existing file is never overwritten) instead of printing the key.")
@guarded
def key_new_cmd(output):
    """Print a new 256-bit random key (64 hex digits), or write it to a new FILE."""
    from dumpmask.crypto import new_key_text, write_new_key

    if output and output != "-":
        write_new_key(output)
    else:
        click.echo(new_key_text(), nl=False)
