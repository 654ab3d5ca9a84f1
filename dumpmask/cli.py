"""The console entry point of 0.3.0 (`dumpmask.cli:main`), kept for scripts that import it;
the commands live in dumpmask/commands/."""
from dumpmask.commands import main  # noqa: F401
