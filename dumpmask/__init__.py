"""dumpmask: a streaming SQL dump sanitizer.

    from dumpmask import mask
    audit = mask(open("dump.sql", "rb"), sys.stdout.buffer, rules=load_rules("rules.json"))
"""
from dumpmask.version import __version__  # noqa: E402,F401

from dumpmask.errors import DumpmaskError, DumpSyntaxError, MaskingError, RulesError, StrictError  # noqa: E402,F401


def mask(src, dst, rules=None, key=None, **options):
    """Mask the dump read from `src` into binary stream `dst`; returns the audit dict.

    src: a binary stream or a path. rules: a RuleSet (`dumpmask.rules.load_rules(path)`), a
    rules file's path, or None. key: a `dumpmask.crypto.Key`, the key as str/bytes, or None
    for a random per-run key. options as the CLI's: dialect, strict, template, first, last,
    schema_path, warn (a callable taking each warning), source, input_path, jobs, compress
    ("gzip" / "zstd": the output compressed, dumpmask.compression) and compress_level. A
    compressed src (gzip, zstd, bzip2, xz, lz4) is read by its first bytes. The run is built
    like the CLI's (`dumpmask.engine.build_engine`): the same rules and key give the same
    bytes. A regular file given as src (or as an open file) is read twice when the rules need
    the schema first, as the CLI does with an INPUT file. Raises DumpmaskError subclasses."""
    import os
    import stat

    from dumpmask.crypto import Key
    from dumpmask.engine import build_engine
    from dumpmask.rules import RuleSet, load_rules

    if rules is None:
        rules = RuleSet()
    elif isinstance(rules, (str, os.PathLike)):
        rules = load_rules(os.fspath(rules))
    if isinstance(key, (str, bytes)):
        if not key.strip():
            from dumpmask.errors import KeyError_

            raise KeyError_("empty key")
        key = Key(key.encode("utf-8", "surrogateescape") if isinstance(key, str) else key)
    own = None
    if isinstance(src, (str, os.PathLike)):
        from dumpmask.inputs import check_path

        path = os.fspath(src)
        check_path(path)
        own = src = open(path, "rb")
    name = getattr(src, "name", None)
    if isinstance(name, str) and "input_path" not in options:
        try:
            if stat.S_ISREG(os.stat(name).st_mode) and src.seekable() and src.tell() == 0:
                options["input_path"] = name
                options.setdefault("source", name)
        except (OSError, ValueError, AttributeError):
            pass
    try:
        return build_engine(rules, key, **options).run(src, dst)
    finally:
        if own is not None:
            own.close()
