"""`dumpmask verify-audit`: check an audit's signature."""
from __future__ import annotations

import sys

import click

from dumpmask.commands.guard import guarded
from dumpmask.commands.options import key_file_option, weak_key_ok_option


@click.command("verify-audit")
@click.argument("audit_path", metavar="AUDIT")
@key_file_option()
@weak_key_ok_option()
@guarded
def verify_audit_cmd(audit_path, key_file, weak_key_ok):
    """Check an audit's HMAC signature with the run's key: exit 1 if anything changed."""
    from dumpmask.audit_files import verify_audit_file

    intact, reason = verify_audit_file(audit_path, key_file, weak_key_ok=weak_key_ok)
    click.echo(f"{audit_path}: {'intact' if intact else 'NOT INTACT'}: {reason}")
    sys.exit(0 if intact else 1)
