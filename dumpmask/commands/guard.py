"""The one error guard of the command line: library errors become a message on stderr and
an exit code, never a traceback.

Exit codes: 0 ok; 1 the data could not be masked safely (bad dump, strict finding, leak found,
audit changed); 2 usage or rules-file error; 70 internal error (a bug); 128 + n a signal
(143 SIGTERM, 129 SIGHUP, 130 Ctrl-C); 141 the downstream pipe was closed.
"""
from __future__ import annotations

import functools
import os
import sys

import click

from dumpmask.errors import DumpmaskError, Terminated, describe_internal
from dumpmask.signals import install_terminate_handlers

EXIT_PIPE = 141
EXIT_INTERNAL = 70


def print_error(message: str) -> None:
    click.echo(f"dumpmask: error: {message}", err=True)


def warning_printer(quiet: bool):
    """A `warn` callable for the library: each warning on stderr, none when quiet."""
    def warn(message: str) -> None:
        if not quiet:
            click.echo(f"dumpmask: warning: {message}", err=True)
    return warn


def run_guarded(run):
    """Call `run()` with SIGTERM / SIGHUP handled (dumpmask.signals), turning what it raises
    into a message and an exit code. click's own exceptions (usage errors: exit 2) and
    sys.exit pass through."""
    install_terminate_handlers()
    try:
        return run()
    except Terminated as e:
        print_error(f"{e}; the output is incomplete and ends with a line that makes the restore fail")
        sys.exit(128 + e.signum)
    except DumpmaskError as e:
        print_error(str(e))
        sys.exit(e.exit_code)
    except BrokenPipeError:
        sys.stdout = None  # silence the flush at exit
        os._exit(EXIT_PIPE)
    except KeyboardInterrupt:
        print_error("interrupted")
        sys.exit(130)
    except MemoryError:
        print_error("out of memory")
        sys.exit(1)
    except OSError as e:
        print_error(f"{getattr(e, 'filename', None) or ''}{': ' if getattr(e, 'filename', None) else ''}{e.strerror or e}")
        sys.exit(1)
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
        raise
    except Exception as e:  # a bug: say so plainly, never a traceback (DUMPMASK_DEBUG=1 shows it)
        if os.environ.get("DUMPMASK_DEBUG"):
            raise
        print_error(f"internal error ({describe_internal(e)}); the output is incomplete and ends with a line that "
                    "makes the restore fail. Please report this with DUMPMASK_DEBUG=1 output.")
        sys.exit(EXIT_INTERNAL)


def guarded(command):
    """Decorate a command's function (below its click decorators) to run it in run_guarded."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        return run_guarded(lambda: command(*args, **kwargs))
    return run
