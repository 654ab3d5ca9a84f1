"""Domain errors. Only dumpmask/commands/guard.py turns them into exit codes and messages."""


class DumpmaskError(Exception):
    """Base of every error dumpmask raises on purpose. exit_code is what the CLI returns."""

    exit_code = 1


class RulesError(DumpmaskError):
    """The rules file is malformed or asks for something impossible (usage error: exit 2)."""

    exit_code = 2

    def __init__(self, message: str, path: str | None = None, where: str | None = None):
        self.path = path  # the rules file
        self.where = where  # JSON path inside it, e.g. $.tables[0].columnMutations[2].mutation
        self.message = message  # without the location
        loc = ":".join(x for x in (path, where) if x)
        super().__init__(f"{loc}: {message}" if loc else message)


class DumpSyntaxError(DumpmaskError):
    """The dump cannot be read: truncated, malformed, or not what it claims to be."""

    def __init__(self, message: str, line: int | None = None, source: str = "<stdin>", snippet: bytes | None = None):
        # `snippet` (the bytes where reading stopped) is accepted and dropped: an error locates
        # (file:line) but never repeats what the dump holds, on stderr, in the audit or the PDF
        self.line = line
        self.source = source
        self.snippet = None
        self.message = message
        loc = f"{source}:{line}" if line is not None else source
        super().__init__(f"{loc}: {message}")


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (timeout, systemd, CI cancellation): handled like Ctrl-C,
    the output ends with the poison line, the audit says failed, exit 128 + signal."""

    def __init__(self, signum: int):
        self.signum = signum
        import signal

        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        self.name = name
        super().__init__(f"terminated by {name}")


def describe_internal(e: BaseException) -> str:
    """An unexpected exception, for users and the audit: its type and where it was raised in
    dumpmask (file:line), never its message, which may hold data (a codec error quotes the
    bytes it could not decode, a parser the text it could not read)."""
    import os
    import traceback

    if isinstance(e, KeyboardInterrupt):
        return "interrupted"
    if isinstance(e, Terminated):
        return str(e)
    where = ""
    try:
        frames = traceback.extract_tb(e.__traceback__)
        ours = [f for f in frames if f"{os.sep}dumpmask{os.sep}" in f.filename] or frames
        if ours:
            f = ours[-1]
            where = f" at {os.path.basename(f.filename)}:{f.lineno}"
    except Exception:
        pass
    return f"{type(e).__name__}{where}"


class MaskingError(DumpmaskError):
    """A value or statement could not be masked safely (fail closed)."""


class StrictError(DumpmaskError):
    """--strict found something the rules do not cover."""


class KeyError_(DumpmaskError):
    """The masking key is missing, unreadable, weak or unusable (exit 2)."""

    exit_code = 2


class WeakKeyError(KeyError_):
    """The key holds fewer than 128 bits (crypto.weakness) and no weak_key_ok / --weak-key-ok
    accepted it. `reason` says why (never the key)."""

    def __init__(self, message: str, reason: str | None = None):
        self.reason = reason
        super().__init__(message)


class NotAnAudit(DumpmaskError):
    """`dumpmask report` was given a file that is not a dumpmask audit (usage error: exit 2)."""

    exit_code = 2
