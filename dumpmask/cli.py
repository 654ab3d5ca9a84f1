"""The command line. click only; the one place where library errors become exit codes.

Exit codes: 0 ok; 1 the data could not be masked safely (bad dump, strict finding, leak found,
audit changed); 2 usage or rules-file error; 70 internal error (a bug); 141 the downstream pipe
was closed.
"""
from __future__ import annotations

import os
import sys

import click

from dumpmask import __version__
from dumpmask.errors import DumpmaskError

EXIT_PIPE = 141


def _err(msg: str) -> None:
    click.echo(f"dumpmask: error: {msg}", err=True)


def _warn_printer(quiet: bool):
    def warn(msg: str) -> None:
        if not quiet:
            click.echo(f"dumpmask: warning: {msg}", err=True)
    return warn


class DefaultGroup(click.Group):
    """`dumpmask [options] [INPUT]` masks: `mask` is the default command."""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["mask", *args]
        return super().parse_args(ctx, args)


def _on_signal(signum, frame):
    """SIGTERM / SIGHUP: raise Terminated where the program is, so the engine poisons the
    output and writes the failed audit on its way out. Later signals are ignored meanwhile."""
    import signal

    from dumpmask.errors import Terminated

    for s in _SIGNALS:
        try:
            signal.signal(s, signal.SIG_IGN)
        except (ValueError, OSError):
            pass
    raise Terminated(signum)


_SIGNALS: list = []


def _install_signals() -> None:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    _SIGNALS.clear()
    for name in ("SIGTERM", "SIGHUP"):
        s = getattr(signal, name, None)
        if s is None:
            continue
        try:
            if signal.getsignal(s) is signal.SIG_IGN:
                continue  # nohup: the user asked for this signal to be ignored
            signal.signal(s, _on_signal)
            _SIGNALS.append(s)
        except (ValueError, OSError):
            pass


def _run_guarded(fn):
    """Turn domain errors into messages and exit codes; never a traceback."""
    from dumpmask.errors import Terminated

    _install_signals()
    try:
        return fn()
    except Terminated as e:
        _err(f"{e}; the output is incomplete and ends with a line that makes the restore fail")
        sys.exit(128 + e.signum)
    except DumpmaskError as e:
        _err(str(e))
        sys.exit(e.exit_code)
    except BrokenPipeError:
        try:
            sys.stdout = None  # silence the flush at exit
        except Exception:
            pass
        os._exit(EXIT_PIPE)
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
    except MemoryError:
        _err("out of memory")
        sys.exit(1)
    except OSError as e:
        _err(f"{getattr(e, 'filename', None) or ''}{': ' if getattr(e, 'filename', None) else ''}{e.strerror or e}")
        sys.exit(1)
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
        raise
    except Exception as e:  # a bug: say so plainly, never a traceback (DUMPMASK_DEBUG=1 shows it)
        if os.environ.get("DUMPMASK_DEBUG"):
            raise
        from dumpmask.errors import describe_internal

        _err(f"internal error ({describe_internal(e)}); the output is incomplete and ends with a line that "
             "makes the restore fail. Please report this with DUMPMASK_DEBUG=1 output.")
        sys.exit(70)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dumpmask")
def main():
    """dumpmask: mask personal data in pg_dump and mysqldump output, streaming.

    \b
      pg_dump prod | DUMPMASK_KEY=... dumpmask -c rules.json --audit run.json | psql test
      mysqldump prod | dumpmask -c rules.json | mysql test

    Masking is the default command: `dumpmask [OPTIONS] [INPUT]` is `dumpmask mask ...`.
    """


def _open_in(path: str):
    if path == "-":
        return sys.stdin.buffer, "<stdin>", None
    from dumpmask.inputs import check_path

    check_path(path)
    try:
        return open(path, "rb"), path, path
    except OSError as e:
        raise DumpmaskError(f"cannot open input {path}: {e.strerror}") from None


@main.command("mask")
@click.option("-c", "--config", "rules_path", metavar="RULES", help="Rules file (JSON).")
@click.option("--audit", "audit_path", metavar="FILE", help="Write the JSON audit sidecar here (also when the run fails).")
@click.option("--report", "report_path", metavar="FILE", help="Also render the PDF compliance report here.")
@click.option("--dialect", type=click.Choice(["postgres", "mysql"]), help="Dump dialect (detected from the header by default).")
@click.option("--key-file", metavar="FILE", help="Read the masking key from FILE (else DUMPMASK_KEY; else a random per-run key).")
@click.option("--schema", "schema_path", metavar="FILE", help="A schema-only dump, for keys declared after the data in a piped dump.")
@click.option("--strict", is_flag=True, help="Fail closed: unmatched rules and uncovered personal data are errors.")
@click.option("--template", type=click.Choice(["hipaa", "pci", "gdpr", "all"]), help="Derive rules for detected personal data not in RULES.")
@click.option("--first", "first_n", type=click.IntRange(min=0), metavar="N", help="Keep only the first N rows of each table.")
@click.option("--last", "last_n", type=click.IntRange(min=0), metavar="N", help="Keep only the last N rows of each table.")
@click.option("-o", "--output", default="-", metavar="OUTPUT", help="Output file (default: stdout).")
@click.option("-q", "--quiet", is_flag=True, help="No progress line and no warnings on stderr.")
@click.argument("input", default="-", required=False)
def mask_cmd(rules_path, audit_path, report_path, dialect, key_file, schema_path, strict, template, first_n, last_n, output, quiet, input):
    """Mask a dump: read INPUT (default stdin), write the masked dump to OUTPUT (default stdout)."""
    def run():
        from dumpmask.crypto import Key
        from dumpmask.engine import build_engine
        from dumpmask.rules import load_rules

        if first_n is not None and last_n is not None:
            raise click.UsageError("--first and --last cannot be used together")
        rules = load_rules(rules_path)
        key = Key.from_env_or_file(key_file)
        src, source, input_path = _open_in(input)
        if output == "-":
            dst = sys.stdout.buffer
        else:
            try:
                dst = open(output, "wb")
            except OSError as e:
                raise DumpmaskError(f"cannot open output {output}: {e.strerror}") from None
        progress = not quiet and sys.stderr.isatty()
        eng = build_engine(rules, key, dialect=dialect, source=source, strict=strict, progress=progress,
                           warn=_warn_printer(quiet), input_path=input_path, schema_path=schema_path, template=template,
                           first=first_n, last=last_n, output_name=output)
        try:
            eng.run(src, dst)
        finally:
            if audit_path:
                try:
                    eng.audit.write(audit_path, key)
                except OSError as e:
                    _err(f"cannot write audit {audit_path}: {e.strerror}")
            if report_path:
                _write_report(eng.audit.data, report_path, audit_path, key)
            if output != "-":
                dst.close()
    _run_guarded(run)


def _write_report(audit: dict, report_path: str, audit_path: str | None, key) -> None:
    from dumpmask.report import render
    from dumpmask.signing import audit_sha256, sign

    data = audit
    sha = None
    if audit_path and os.path.exists(audit_path):
        sha = audit_sha256(audit_path)
        import orjson

        with open(audit_path, "rb") as fh:
            data = orjson.loads(fh.read())
    else:
        data = sign(dict(audit), key)
    render(data, report_path, audit_sha256=sha)


@main.command("transformers")
def transformers_cmd():
    """List every mutation with its help and options."""
    def run():
        from dumpmask.transformers import describe_all

        for d in describe_all():
            click.echo(d["name"] + ("  (distinct inputs stay distinct)" if d.get("unique") else ""))
            for line in (d.get("help") or "").splitlines():
                click.echo(f"    {line}")
            for p in d.get("params", []):
                click.echo(f"    option {p['name']} ({p.get('type')}, default {p.get('default')!r}): {p.get('help', '')}")
            click.echo("")
        sys.stdout.flush()  # a closed pipe shows here, inside the guard (exit 141)
    _run_guarded(run)


@main.command("report")
@click.argument("audit_path", metavar="AUDIT")
@click.option("-o", "--output", required=True, metavar="PDF", help="Where to write the PDF.")
def report_cmd(audit_path, output):
    """Render the PDF compliance report from an audit sidecar."""
    def run():
        import orjson

        from dumpmask.report import render
        from dumpmask.signing import audit_sha256

        try:
            with open(audit_path, "rb") as fh:
                data = orjson.loads(fh.read())
        except OSError as e:
            raise DumpmaskError(f"cannot read audit {audit_path}: {e.strerror}") from None
        except orjson.JSONDecodeError as e:
            raise DumpmaskError(f"{audit_path}: not a JSON audit ({e.msg})") from None
        from dumpmask.audit import validate_audit

        try:
            validate_audit(data)
        except DumpmaskError as e:
            raise DumpmaskError(f"{audit_path}: {e}") from None
        render(data, output, audit_sha256=audit_sha256(audit_path))
    _run_guarded(run)


@main.command("verify-audit")
@click.argument("audit_path", metavar="AUDIT")
@click.option("--key-file", metavar="FILE", help="Key file (else DUMPMASK_KEY).")
def verify_audit_cmd(audit_path, key_file):
    """Check an audit's HMAC signature with the run's key: exit 1 if anything changed."""
    def run():
        import orjson

        from dumpmask.crypto import Key
        from dumpmask.signing import verify

        from dumpmask.signing import verify_bytes

        try:
            with open(audit_path, "rb") as fh:
                raw = fh.read()
        except OSError as e:
            raise DumpmaskError(f"cannot read audit {audit_path}: {e.strerror}") from None
        key = Key.from_env_or_file(key_file)
        if key.ephemeral:
            raise DumpmaskError("no key: set DUMPMASK_KEY or pass --key-file (the key of the run that wrote the audit)")
        ok, reason = verify_bytes(raw, key)
        click.echo(f"{audit_path}: {'intact' if ok else 'NOT INTACT'}: {reason}")
        sys.exit(0 if ok else 1)
    _run_guarded(run)


@main.command("preview")
@click.option("-c", "--config", "rules_path", metavar="RULES", required=True, help="Rules file (JSON).")
@click.option("-n", "rows", default=5, show_default=True, type=click.IntRange(min=1), help="Rows per table.")
@click.option("--dialect", type=click.Choice(["postgres", "mysql"]), help="Dump dialect (detected by default).")
@click.option("--key-file", metavar="FILE", help="Key file (else DUMPMASK_KEY).")
@click.argument("input", default="-", required=False)
def preview_cmd(rules_path, rows, dialect, key_file, input):
    """Show the first rows of each ruled table before and after masking, and what no rule covers."""
    def run():
        from dumpmask.crypto import Key
        from dumpmask.preview import preview
        from dumpmask.rules import load_rules

        rules = load_rules(rules_path)
        key = Key.from_env_or_file(key_file)
        if key.ephemeral:
            click.echo("dumpmask: warning: no key (DUMPMASK_KEY or --key-file): the after values shown are for a random key",
                       err=True)
        preview(input, rules, key, n=rows, dialect=dialect, echo=click.echo)
    _run_guarded(run)


def _register_more():
    from dumpmask import commands  # noqa: F401  (scan, verify register themselves)


_register_more()
