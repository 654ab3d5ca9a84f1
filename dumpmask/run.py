"""A masking run as the `mask` command makes it: the rules file, the key, the input and the
output opened by name ("-" is stdin / stdout), the engine built and run, and the audit and
report written at the end, also when the run fails. `dumpmask.mask()` is the same run on
streams the caller opened."""
from __future__ import annotations

import sys

from dumpmask.errors import DumpmaskError, RulesError


def open_input(path: str):
    """(binary stream, source name for messages, input_path) for INPUT: stdin for "-" (no
    path: it cannot be read twice), else the checked, opened file."""
    if path == "-":
        return sys.stdin.buffer, "<stdin>", None
    from dumpmask.inputs import check_path

    check_path(path)
    try:
        return open(path, "rb"), path, path
    except OSError as e:
        raise DumpmaskError(f"cannot open input {path}: {e.strerror}") from None


def open_output(path: str):
    """The binary stream for OUTPUT: stdout for "-", else an atomic.AtomicFile: written under a
    temporary name beside it, renamed to `path` only when the run succeeded (commit)."""
    from dumpmask.atomic import NamedOutput, open_atomic

    if path == "-":
        return NamedOutput(sys.stdout.buffer, "stdout")
    from dumpmask.storage import is_url, public

    if is_url(path):
        from dumpmask.errors import RulesError

        raise RulesError(f"{public(path)}: dumpmask writes URLs only for directory archives (pg_dump -Fd): write a "
                         "plain dump to standard output (dumpmask ... | aws s3 cp - URL)")
    return open_atomic(path)


def checked_input(path: str):
    """For the tools that open INPUT themselves (scan, verify): stdin's binary stream for "-",
    else `path`, once it is known to be a file that opens."""
    if path == "-":
        return sys.stdin.buffer
    from dumpmask.inputs import check_path

    check_path(path)
    try:
        open(path, "rb").close()
    except OSError as e:
        raise DumpmaskError(f"cannot open input {path}: {e.strerror}") from None
    return path


def _print_error(message: str) -> None:
    print(f"dumpmask: error: {message}", file=sys.stderr)


def mask_files(input_name: str = "-", output_name: str = "-", *, rules_path: str | None = None,
               key_file: str | None = None, audit_path: str | None = None, report_path: str | None = None,
               dialect: str | None = None, schema_path: str | None = None, strict: bool = False,
               template: str | None = None, first: int | None = None, last: int | None = None,
               progress: bool = False, warn=None, error=None, jobs: int | None = 1, compress: str | None = None,
               compress_level: int | None = None, cluster: str | None = None,
               cluster_timeout: float | None = None, split_size: int | None = None,
               k_report_only: bool = False, erase=None, only=None, verify: bool = False, max_memory=None,
               weak_key_ok: bool = False, key_label: str | None = None) -> dict:
    """Mask INPUT into OUTPUT by name; returns the audit dict. In this order: the rules file is
    loaded (RulesError), the key read (`crypto.Key.from_env_or_file`), INPUT opened, OUTPUT
    opened, the engine built and run. Once it has run, successfully or not, the audit is
    written to `audit_path` (signed; a failure to write it goes to `error`, a callable taking
    a message, stderr by default, and does not change the outcome) and the PDF to `report_path`. `warn` takes
    each warning. `verify`: the leak check of the output in the same job (--verify;
    features/verification.py). `max_memory`: a memory.Budget (--max-memory), or None (no limit).
    Raises the run's DumpmaskError (or Terminated) after that."""
    from dumpmask.crypto import Key
    from dumpmask.engine import build_engine
    from dumpmask.rules import load_rules

    error = error or _print_error
    rules = load_rules(rules_path)
    key = Key.from_env_or_file(key_file, weak_ok=weak_key_ok, warn=warn)
    key.label = key_label
    from dumpmask.compression import output_compression

    compressed_output = output_compression(output_name, compress, compress_level)   # a bad level: refused before OUTPUT is opened
    from dumpmask.pipeline import archive_kind

    kind = archive_kind(input_name)
    stdin = None
    if input_name == "-":
        from dumpmask.pipeline import stream_kind

        kind, stdin = stream_kind(sys.stdin.buffer)   # a pg_dump -Fc on a pipe: read as it comes
    if kind is None and split_size is not None:
        from dumpmask.errors import RulesError

        raise RulesError("--split-size is for pg_dump archives (a directory archive's table files); a plain dump "
                         "is already masked in blocks of about 1 MB with -j N")
    if kind is not None and (erase or only):
        from dumpmask.errors import RulesError

        raise RulesError(f"{input_name}: --erase and --only work on a plain dump file (pg_dump -Fp, mysqldump), "
                         "not on a pg_dump archive")
    if kind is not None and verify:
        from dumpmask.errors import RulesError

        raise RulesError(f"{input_name}: --verify checks plain dumps (pg_dump -Fp, mysqldump), not a pg_dump archive: "
                         "mask it without --verify, or mask a plain dump (pg_restore -f - ARCHIVE | dumpmask ...)")
    if kind is not None:
        if compressed_output is not None:
            from dumpmask.errors import RulesError

            raise RulesError(f"{input_name}: a pg_dump archive is written back with its own compression "
                             "(pg_dump -Z); --compress and a .gz / .zst OUTPUT name are for plain dumps")
        # a pg_dump -Fc / -Fd archive: the same format out (pipeline.py)
        return _mask_archive(input_name, kind, output_name, rules, key, audit_path=audit_path, report_path=report_path,
                             dialect=dialect, schema_path=schema_path, strict=strict, template=template, first=first,
                             last=last, progress=progress, warn=warn, error=error, jobs=jobs, cluster=cluster,
                             cluster_timeout=cluster_timeout, stream=stdin, split_size=split_size,
                             k_report_only=k_report_only, max_memory=max_memory)
    src, source, input_path = open_input(input_name)
    if stdin is not None:
        src = stdin
    dst = open_output(output_name)
    engine = build_engine(rules, key, dialect=dialect, source=source, strict=strict, progress=progress,
                          warn=warn, input_path=input_path, schema_path=schema_path, template=template,
                          first=first, last=last, output_name=output_name, jobs=jobs, compress=compress,
                          compress_level=compress_level, cluster=cluster, cluster_timeout=cluster_timeout,
                          erase=erase, only=only, k_report_only=k_report_only, verify=verify, max_memory=max_memory)
    masked = False
    audit_failure = None
    try:
        engine.run(src, dst)
        masked = True
    finally:
        try:
            audit_failure = _write_evidence(engine, key, audit_path, report_path, masked, error)
            if output_name != "-" and masked and audit_failure is None:
                dst.commit()     # the output appears under its name only now
        finally:
            if output_name != "-":
                dst.close()      # not committed: the temporary file is removed
            if input_path is not None:
                src.close()
    _fail_without_audit(audit_failure, kept=output_name == "-")
    return engine.audit.data


def _write_evidence(engine, key, audit_path, report_path, masked: bool, error) -> str | None:
    """Once a run has ended, successfully or not: the signed audit to `audit_path` and the PDF
    to `report_path`. Returns the message when the audit could not be written (after a failed
    run it goes to `error` at once: the run's own error is the one raised)."""
    from dumpmask.audit_files import render_run_report

    audit_failure = None
    if audit_path:
        try:
            engine.audit.write(audit_path, key)
        except OSError as e:
            audit_failure = f"cannot write audit {audit_path}: {e.strerror}"
        except DumpmaskError as e:      # (atomic.py: the file and the system's reason)
            audit_failure = str(e).replace("cannot write ", "cannot write audit ", 1)
            if not masked:
                error(audit_failure)
    if report_path:
        render_run_report(engine.audit.data, report_path, audit_path, key)
    return audit_failure


def _fail_without_audit(audit_failure: str | None, kept: bool = True) -> None:
    """The evidence asked for is missing: the run did not do all its work (exit 1)."""
    if audit_failure is not None:
        if not kept:
            raise DumpmaskError(f"{audit_failure}: the run is not complete without its audit, so the masked output "
                                "was not kept")
        raise DumpmaskError(f"{audit_failure}: the masked output was written, but the run is not complete without its audit")


def _mask_archive(input_name: str, kind: str, output_name: str, rules, key, *, audit_path, report_path, dialect,
                  schema_path, strict, template, first, last, progress, warn, error, jobs, cluster=None,
                  cluster_timeout=None, stream=None, split_size=None, k_report_only=False, max_memory=None) -> dict:
    """mask_files for a pg_dump archive (custom or directory): OUTPUT is an archive of the same
    format (a file or "-" for custom, a new directory for directory). `stream`: the custom
    archive is read from it (stdin) rather than from the file INPUT."""
    from dumpmask.engine import build_engine
    from dumpmask.pipeline import ArchiveJob, mask_archive

    if dialect not in (None, "postgres"):
        raise DumpmaskError(f"{input_name}: a pg_dump archive is PostgreSQL, not --dialect {dialect}")
    source = "<stdin>" if stream is not None else input_name
    engine = build_engine(rules, key, dialect="postgres", source=source, strict=strict, progress=progress,
                          warn=warn, input_path=None, schema_path=schema_path, template=template,
                          first=first, last=last, output_name=output_name, jobs=jobs, cluster=cluster,
                          cluster_timeout=cluster_timeout, k_report_only=k_report_only, max_memory=max_memory)
    from dumpmask.split import DEFAULT_SIZE

    job = ArchiveJob(source, kind, output_name, jobs=engine.jobs, stream=stream,
                     split_size=DEFAULT_SIZE if split_size is None else split_size)
    masked = False
    try:
        mask_archive(job, engine)
        masked = True
    finally:
        audit_failure = _write_evidence(engine, key, audit_path, report_path, masked, error)
    _fail_without_audit(audit_failure)
    return engine.audit.data


class _Discard:
    """A binary sink: the masked dump of a counting run is not kept."""

    def write(self, data) -> int:
        return len(data)

    def flush(self) -> None:
        pass


def kanon_report(input_name: str = "-", *, rules_path: str, key_file: str | None = None,
                 dialect: str | None = None, warn=None, max_memory=None, weak_key_ok: bool = False) -> dict:
    """`dumpmask kanon`: the audit's kAnonymity section of a run that masks INPUT with RULES,
    counted as the rows are written (nothing is written anywhere): per table the achieved k,
    the classes below k and the quasi-identifier to generalize next."""
    from dumpmask.crypto import Key
    from dumpmask.engine import build_engine
    from dumpmask.rules import load_rules

    rules = load_rules(rules_path)
    if not rules.options.get("kAnonymity"):
        raise RulesError("the rules have no options.kAnonymity (quasiIdentifiers and k) to check", rules_path)
    key = Key.from_env_or_file(key_file, weak_ok=weak_key_ok, warn=warn)
    src, source, input_path = open_input(input_name)
    engine = build_engine(rules, key, dialect=dialect, source=source, warn=warn or (lambda m: None),
                          input_path=input_path, k_report_only=True, max_memory=max_memory)
    try:
        engine.run(src, _Discard())
    finally:
        if input_path is not None:
            src.close()
    return engine.audit.data["kAnonymity"]
