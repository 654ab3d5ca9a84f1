"""dumpmask: a streaming SQL dump sanitizer.

    from dumpmask import mask
    audit = mask(open("dump.sql", "rb"), sys.stdout.buffer, rules=load_rules("rules.json"))
"""
from dumpmask.version import __version__  # noqa: E402,F401

from dumpmask.errors import (DumpmaskError, DumpSyntaxError, KeyError_, MaskingError, RulesError,  # noqa: E402,F401
                             StrictError, WeakKeyError)
from dumpmask.crypto import Key  # noqa: E402,F401


def mask(src, dst, rules=None, key=None, *, weak_key_ok=False, **options):
    """Mask the dump read from `src` into binary stream `dst`; returns the audit dict.

    src: a binary stream or a path. rules: a RuleSet (`dumpmask.rules.load_rules(path)`), a
    rules file's path, or None. key: a `dumpmask.Key`, the key as str/bytes, or None
    for a random per-run key; a str/bytes key under 128 bits is refused as the CLI refuses it
    (`WeakKeyError`, a `KeyError_`) unless `weak_key_ok=True` (the CLI's --weak-key-ok; the
    audit records it), and `Key(...)` refuses it the same way (`Key(secret, weak_key_ok=True)`;
    `Key(secret, label=...)` is the CLI's --key-label). options as the CLI's: dialect, strict, template, first, last,
    schema_path, warn (a callable taking each warning), source, input_path, jobs, compress
    ("gzip" / "zstd": the output compressed, dumpmask.compression) and compress_level. A
    compressed src (gzip, zstd, bzip2, xz, lz4) is read by its first bytes. The run is built
    like the CLI's (`dumpmask.engine.build_engine`): the same rules and key give the same
    bytes. A regular file given as src (or as an open file) is read twice when the rules need
    the schema first, as the CLI does with an INPUT file. Raises DumpmaskError subclasses.

    pg_dump archives are masked into the same format, as the CLI does: src a custom archive
    (-Fc: a path, or a binary stream that begins with PGDMP, read as it comes) and dst a binary
    stream or a path; src a directory archive (-Fd: the directory's path) and dst the path of
    a new directory. The archive keeps its own compression (`compress` is refused)."""
    import os
    import stat

    from dumpmask.crypto import as_key
    from dumpmask.engine import build_engine
    from dumpmask.rules import RuleSet, load_rules

    key = as_key(key, weak_key_ok=weak_key_ok, where="the key given to dumpmask.mask()")
    if rules is None:
        rules = RuleSet()
    elif isinstance(rules, (str, os.PathLike)):
        rules = load_rules(os.fspath(rules))
    own = None
    from dumpmask.pipeline import archive_kind, stream_kind

    if isinstance(src, (str, os.PathLike)):
        from dumpmask.inputs import check_path

        path = os.fspath(src)
        kind = archive_kind(path)
        if kind is not None:
            return _mask_archive(path, kind, None, dst, rules, key, options)
        check_path(path)
        own = src = open(path, "rb")
    else:
        kind, src = stream_kind(src)
        if kind is not None:
            name = getattr(src, "name", None)
            return _mask_archive(name if isinstance(name, str) else "<stream>", kind, src, dst, rules, key, options)
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


def _mask_archive(name, kind, stream, dst, rules, key, options):
    """mask() for a pg_dump archive: the CLI's run (run._mask_archive) on what the caller gave."""
    import os

    from dumpmask.engine import build_engine
    from dumpmask.pipeline import ArchiveJob, mask_archive

    if options.get("compress") not in (None, "none") or options.get("compress_level") is not None:
        raise RulesError(f"{name}: a pg_dump archive is written back with its own compression (pg_dump -Z); "
                         "compress / compress_level are for plain dumps")
    if options.get("dialect") not in (None, "postgres"):
        raise DumpmaskError(f"{name}: a pg_dump archive is PostgreSQL, not dialect {options['dialect']}")
    opts = {k: v for k, v in options.items() if k not in ("compress", "compress_level", "input_path")}
    opts["dialect"] = "postgres"
    opts.setdefault("source", name)
    if isinstance(dst, (str, os.PathLike)):
        opts.setdefault("output_name", os.fspath(dst))
    engine = build_engine(rules, key, **opts)
    job = ArchiveJob(opts["source"], kind, dst, jobs=engine.jobs, stream=stream)
    return mask_archive(job, engine)
