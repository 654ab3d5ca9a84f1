"""`dumpmask report`: the PDF compliance report of an audit sidecar."""
from __future__ import annotations

import click

from dumpmask.commands.guard import guarded
from dumpmask.commands.options import output_option


@click.command("report")
@click.argument("audit_path", metavar="AUDIT")
@output_option(help="Where to write the PDF.", metavar="PDF", required=True)
@guarded
def report_cmd(audit_path, output):
    """Render the PDF compliance report from an audit sidecar."""
    from dumpmask.audit_files import render_report_file

    render_report_file(audit_path, output)
