"""The command line as a package of thin wrappers: command modules import no other command,
the library imports no command, and the one guard turns each domain error into its
documented exit code (2 rules/usage, 1 data, 128 + n signals, 70 a bug) without a traceback."""
from __future__ import annotations

import ast
import os
import pathlib
import signal
import subprocess
import sys
import time

import click
import pytest
from click.testing import CliRunner

import dumpmask
from dumpmask.commands import COMMANDS, main
from dumpmask.commands.guard import guarded, run_guarded
from dumpmask.errors import (DumpmaskError, DumpSyntaxError, KeyError_, MaskingError, RulesError, StrictError,
                             Terminated)

PACKAGE = pathlib.Path(dumpmask.__file__).parent
COMMANDS_DIR = PACKAGE / "commands"
SHARED = {"dumpmask.commands.options", "dumpmask.commands.guard"}


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every dumpmask module `path` imports (a `from X import name` counts X and X.name);
    relative imports are resolved from the module's package."""
    package = ["dumpmask", *path.relative_to(PACKAGE).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([module] if module else []))
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return {name for name in names if name == "dumpmask" or name.startswith("dumpmask.")}


def command_modules() -> list[pathlib.Path]:
    return sorted(path for path in COMMANDS_DIR.glob("*.py") if path.stem not in ("__init__", "options", "guard"))


def test_every_command_module_imports_no_other_command_module():
    modules = command_modules()
    assert {path.stem for path in modules} >= {"mask", "scan", "verify", "preview", "report", "verify_audit",
                                               "transformers"}
    for path in modules:
        commands = {name for name in imported_modules(path)
                    if name in ("dumpmask.cli", "dumpmask.commands") or name.startswith("dumpmask.commands.")}
        # `from dumpmask.commands.guard import guarded` names dumpmask.commands.guard.guarded too
        outside = {name for name in commands if not any(name == s or name.startswith(s + ".") for s in SHARED)}
        assert not outside, f"commands/{path.name} imports {sorted(outside)}"


def test_no_library_module_imports_a_command():
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("commands", "cli.py", "__main__.py"):
            continue
        commands = {name for name in imported_modules(path) if name.split(".")[:2] in (["dumpmask", "cli"],
                                                                                      ["dumpmask", "commands"])}
        assert not commands, f"{rel} imports {sorted(commands)}"


def test_every_command_module_is_on_the_group_and_guarded():
    assert sorted(main.commands) == sorted(command.name for command in COMMANDS)
    assert sorted(main.commands) == ["kanon", "key", "mask", "preview", "report", "rules", "scan", "transformers", "verify",
                                     "verify-audit"]
    for command in COMMANDS:
        for leaf in getattr(command, "commands", {}).values() or [command]:   # a group: its subcommands
            assert leaf.callback.__wrapped__, f"{leaf.name} does not run in the guard"


def test_the_0_3_0_entry_point_is_the_same_group():
    from dumpmask.cli import main as old_main

    assert old_main is main


def raising(exc: BaseException):
    @click.command()
    @guarded
    def cmd():
        """Raise the exception under test."""
        raise exc
    return cmd


@pytest.fixture
def signal_handlers():
    """The guard installs SIGTERM / SIGHUP handlers: put the test process's back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("exc, code", [
    (RulesError("tables[0]: unknown mutation", path="rules.json"), 2),
    (click.UsageError("--first and --last cannot be used together"), 2),
    (DumpSyntaxError("unterminated COPY block", line=7, source="dump.sql"), 1),
    (MaskingError("public.person.email: cannot mask"), 1),
    (StrictError("--strict: 1 column(s) hold personal data"), 1),
    (KeyError_("key file k is empty"), 2),   # a usage error since session 8 (#18)
    (DumpmaskError("cannot open input x.sql: No such file or directory"), 1),
    (FileNotFoundError(2, "No such file or directory", "x.sql"), 1),
    (MemoryError(), 1),
    (Terminated(signal.SIGTERM), 143),
    (Terminated(signal.SIGHUP), 129),
    (KeyboardInterrupt(), 130),
], ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value))
def test_guard_turns_each_domain_error_into_its_exit_code(exc, code, signal_handlers, monkeypatch):
    monkeypatch.delenv("DUMPMASK_DEBUG", raising=False)
    result = CliRunner().invoke(raising(exc), [])
    assert result.exit_code == code, (result.output, result.exception)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    if isinstance(exc, DumpmaskError):
        assert result.stderr == f"dumpmask: error: {exc}\n"
    elif isinstance(exc, Terminated):
        assert result.stderr.startswith(f"dumpmask: error: terminated by {exc.name}; the output is incomplete")
    elif not isinstance(exc, click.UsageError):
        assert result.stderr.startswith("dumpmask: error: ")


def test_guard_reports_a_bug_as_exit_70_without_its_message(signal_handlers, monkeypatch):
    """An unexpected exception's message may quote data: only its type and place are shown."""
    monkeypatch.delenv("DUMPMASK_DEBUG", raising=False)
    result = CliRunner().invoke(raising(UnicodeDecodeError("utf-8", b"QZXSECRET\xff", 9, 10, "bad")), [])
    assert result.exit_code == 70
    assert result.stderr.startswith("dumpmask: error: internal error (UnicodeDecodeError at ")
    assert "QZXSECRET" not in result.stderr and "Traceback" not in result.stderr


def test_guard_lets_a_command_exit_code_through(signal_handlers):
    """verify and verify-audit exit 1 by sys.exit when they find something: not an error."""
    result = CliRunner().invoke(raising(SystemExit(1)), [])
    assert result.exit_code == 1 and result.stderr == ""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_real_signal_inside_the_guard_exits_128_plus_n_and_ignores_the_next(sig, signal_handlers):
    seen = {}

    def run():
        os.kill(os.getpid(), sig)
        for _ in range(1000):  # the handler raises at the next bytecode; never reached
            time.sleep(0.01)
        seen["ran on"] = True

    with pytest.raises(SystemExit) as exit_info:
        run_guarded(run)
    assert exit_info.value.code == 128 + int(sig) and not seen
    other = signal.SIGHUP if sig == signal.SIGTERM else signal.SIGTERM
    assert signal.getsignal(sig) is signal.SIG_IGN and signal.getsignal(other) is signal.SIG_IGN


def test_a_closed_pipe_exits_141_quietly(tmp_path):
    """`dumpmask transformers | head -1`: the reader went away; no message, no traceback."""
    code = ("import click, sys\n"
            "from dumpmask.commands.guard import guarded\n"
            "@click.command()\n@guarded\ndef cmd():\n    raise BrokenPipeError(32, 'Broken pipe')\n"
            "cmd()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 141 and done.stderr == b"" and done.stdout == b""
