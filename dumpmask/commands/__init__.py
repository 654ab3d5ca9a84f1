"""The command line: thin click wrappers over the library, one module per command.

Each command parses its options (shared ones in options.py), calls one library function and
prints; guard.py is the one place where library errors become messages and exit codes.
Command modules import options and guard only, never each other; nothing outside this
package (and cli.py, the 0.3.0 entry point) imports it. To add a command: a module here with
a `@click.command` function decorated `@guarded`, added to COMMANDS below.
"""
from __future__ import annotations

import click

from dumpmask import __version__
from dumpmask.commands.kanon import kanon_cmd
from dumpmask.commands.key import key_cmd
from dumpmask.commands.mask import mask_cmd
from dumpmask.commands.preview import preview_cmd
from dumpmask.commands.report import report_cmd
from dumpmask.commands.rules import rules_cmd
from dumpmask.commands.scan import scan_cmd
from dumpmask.commands.transformers import transformers_cmd
from dumpmask.commands.verify import verify_cmd
from dumpmask.commands.verify_audit import verify_audit_cmd

COMMANDS = (mask_cmd, transformers_cmd, report_cmd, verify_audit_cmd, preview_cmd, scan_cmd, verify_cmd, rules_cmd, kanon_cmd, key_cmd)


class DefaultGroup(click.Group):
    """`dumpmask [options] [INPUT]` masks: `mask` is the default command."""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["mask", *args]
        return super().parse_args(ctx, args)

    def main(self, args=None, *more, **options):
        """As click's; a run on the process's own command line (args None: the console script,
        `python -m dumpmask`) ends with gc.freeze(): the process is about to exit, and the
        interpreter's collection at exit then skips every object alive (~5% of a tiny run's
        instructions). Cyclic garbage left at exit is then not finalized, as for any object
        still alive at exit: dumpmask closes its files and removes its temporary files itself
        (no __del__ or weakref finalizer does it). CliRunner and other callers pass args."""
        if args is not None:
            return super().main(args, *more, **options)
        try:
            return super().main(args, *more, **options)
        finally:
            import gc

            gc.freeze()


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dumpmask")
def main():
    """dumpmask: mask personal data in pg_dump and mysqldump output, streaming.

    \b
      pg_dump prod | DUMPMASK_KEY=... dumpmask -c rules.json --audit run.json | psql test
      mysqldump prod | dumpmask -c rules.json | mysql test

    Masking is the default command: `dumpmask [OPTIONS] [INPUT]` is `dumpmask mask ...`.
    """


for command in COMMANDS:
    main.add_command(command)
