"""Tamper evidence for the JSON audit sidecar.

The signature is an HMAC-SHA256, under a subkey of the masking key, of the audit's canonical form:
the audit without its "signature" entry, serialised by orjson with sorted keys. Key order and
whitespace in the file on disk therefore do not matter; any change to any value does.

Only the holder of the masking key can sign or verify. An audit signed with an ephemeral
(per-run, random, discarded) key carries a signature nobody can ever check again, and says so.
"""
from __future__ import annotations

import hashlib
import hmac

import orjson

ALG = "HMAC-SHA256"

INTACT = "intact"
MISMATCH = "signature mismatch: the audit was changed"
NO_SIGNATURE = "no signature"
EPHEMERAL = "signed with an ephemeral key: cannot be verified"


def canonical(audit: dict) -> bytes:
    """The bytes that are signed: the audit minus "signature", keys sorted, compact."""
    body = {k: v for k, v in audit.items() if k != "signature"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def sign(audit: dict, key) -> dict:
    """Add (or replace) audit["signature"]; returns the same dict for convenience."""
    audit["signature"] = {
        "alg": ALG,
        "value": key.hmac_hex(canonical(audit)),
        "key_fingerprint": key.fingerprint(),
        "verifiable": not key.ephemeral,
    }
    return audit


def verify(audit, key) -> tuple[bool, str]:
    """Check the audit's signature with `key`. Returns (ok, reason)."""
    if not isinstance(audit, dict):
        return False, "not an audit (expected a JSON object)"
    sig = audit.get("signature")
    if not sig:
        return False, NO_SIGNATURE
    if not isinstance(sig, dict):
        return False, "malformed signature"
    if set(sig) != {"alg", "value", "key_fingerprint", "verifiable"}:
        return False, "malformed signature block (its fields were changed)"
    if sig.get("alg") != ALG:
        return False, f"unsupported signature algorithm {sig.get('alg')!r}"
    if sig.get("verifiable") is False:
        return False, EPHEMERAL
    if sig.get("verifiable") is not True:
        return False, "malformed signature block (verifiable must be true or false)"
    fp = sig.get("key_fingerprint")
    if not hmac.compare_digest(str(fp), key.fingerprint()):
        return False, f"signed with a different key (fingerprint {fp})"
    value = sig.get("value")
    if not isinstance(value, str):
        return False, "malformed signature"
    try:
        expected = key.hmac_hex(canonical(audit))
    except TypeError as e:  # values orjson cannot serialise: not something we ever signed
        return False, f"audit cannot be canonicalised: {e}"
    if not hmac.compare_digest(value, expected):
        return False, MISMATCH
    return True, INTACT


def serialise(audit: dict) -> bytes:
    """The exact bytes dumpmask writes for an audit (sorted keys, 2-space indent, final newline)."""
    return orjson.dumps(audit, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def verify_bytes(data: bytes, key) -> tuple[bool, str]:
    """verify() on a serialised audit file: an unparseable file fails, and so does a file whose
    bytes are not exactly what dumpmask wrote for that content (any changed byte, even
    whitespace, is a change)."""
    try:
        audit = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        return False, f"audit is not valid JSON: {e}"
    ok, reason = verify(audit, key)
    if ok and serialise(audit) != data:
        return False, "the file's bytes differ from the signed audit as written (the file was edited)"
    return ok, reason


def audit_sha256(path) -> str:
    """SHA-256 (hex) of the audit file's bytes, as printed on every report page."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()
