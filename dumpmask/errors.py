"""Domain errors. Only cli.py turns them into exit codes and messages."""


class DumpmaskError(Exception):
    """Base of every error dumpmask raises on purpose. exit_code is what the CLI returns."""

    exit_code = 1


class RulesError(DumpmaskError):
    """The rules file is malformed or asks for something impossible (usage error: exit 2)."""

    exit_code = 2

    def __init__(self, message: str, path: str | None = None, where: str | None = None):
        self.path = path  # the rules file
        self.where = where  # JSON path inside it, e.g. $.tables[0].columnMutations[2].mutation
        loc = ":".join(x for x in (path, where) if x)
        super().__init__(f"{loc}: {message}" if loc else message)


class DumpSyntaxError(DumpmaskError):
    """The dump cannot be read: truncated, malformed, or not what it claims to be."""

    def __init__(self, message: str, line: int | None = None, source: str = "<stdin>", snippet: bytes | None = None):
        self.line = line
        self.source = source
        self.snippet = snippet
        self.message = message
        loc = f"{source}:{line}" if line is not None else source
        text = f"{loc}: {message}"
        if snippet:
            text += f" near {snippet[:60].decode('utf-8', 'replace')!r}"
        super().__init__(text)


class MaskingError(DumpmaskError):
    """A value or statement could not be masked safely (fail closed)."""


class StrictError(DumpmaskError):
    """--strict found something the rules do not cover."""


class KeyError_(DumpmaskError):
    """The masking key is missing, unreadable or unusable."""
