"""The audit sidecar as a file: read and check one, render its PDF report, check its
signature, and render the report at the end of a masking run. Raises DumpmaskError (exit 1)
with the file's name; never repeats what the file holds."""
from __future__ import annotations

import os

import orjson

from dumpmask.errors import DumpmaskError, NotAnAudit


def load_audit_file(audit_path: str) -> dict:
    """The audit in `audit_path`, parsed and validated (`audit.validate_audit`)."""
    from dumpmask.audit import validate_audit

    try:
        with open(audit_path, "rb") as fh:
            data = orjson.loads(fh.read())
    except OSError as e:
        raise DumpmaskError(f"cannot read audit {audit_path}: {e.strerror}") from None
    except orjson.JSONDecodeError as e:
        raise NotAnAudit(f"{audit_path}: not a dumpmask audit: not a JSON audit ({e.msg})") from None
    try:
        validate_audit(data)
    except DumpmaskError as e:
        raise NotAnAudit(f"{audit_path}: {e}") from None
    return data


def render_report_file(audit_path: str, pdf_path: str) -> None:
    """`dumpmask report`: the PDF report of the audit in `audit_path`, with the file's SHA-256."""
    from dumpmask.report import render
    from dumpmask.signing import audit_sha256

    audit = load_audit_file(audit_path)
    render(audit, pdf_path, audit_sha256=audit_sha256(audit_path))


def verify_audit_file(audit_path: str, key_file: str | None = None, weak_key_ok: bool = False) -> tuple[bool, str]:
    """`dumpmask verify-audit`: (intact, reason) for the audit file's signature under the key
    of `key_file`, else DUMPMASK_KEY (read after the file, so a missing file is reported
    first). Without a key it refuses: only the key of the run that wrote the audit checks it."""
    from dumpmask.crypto import Key
    from dumpmask.signing import verify_bytes

    try:
        with open(audit_path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise DumpmaskError(f"cannot read audit {audit_path}: {e.strerror}") from None
    key = Key.from_env_or_file(key_file, weak_ok=weak_key_ok)
    if key.ephemeral:
        raise DumpmaskError("no key: set DUMPMASK_KEY or pass --key-file (the key of the run that wrote the audit)")
    return verify_bytes(raw, key)


def render_run_report(audit: dict, report_path: str, audit_path: str | None, key) -> None:
    """`mask --report`: the PDF of a run's audit. When the audit file was written, the report
    is of that file (its bytes' SHA-256 printed); else of the audit signed in memory."""
    from dumpmask.report import render
    from dumpmask.signing import audit_sha256, sign

    sha = None
    if audit_path and os.path.exists(audit_path):
        sha = audit_sha256(audit_path)
        with open(audit_path, "rb") as fh:
            data = orjson.loads(fh.read())
    else:
        data = sign(dict(audit), key)
    render(data, report_path, audit_sha256=sha)
