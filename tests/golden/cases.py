"""The golden cases of #12 ("keep every output byte the same"): every dataset and dump variant
the tests use, both dialects, remapping on and off, --first/--last, --strict, --template, file
and pipe input, plus preview and scan, under one fixed 256-bit key.

A case runs `python -m dumpmask ARGS` in a scratch directory where `ds` is the datasets folder
and `g` this folder, so every path in an audit or a message is the same on every machine.
tests/golden/record.py writes manifest.json (sha256 of stdout / -o output and of the audit
with its clock fields removed, and the exit code); tests/test_golden.py holds a checkout to it.
"""
from __future__ import annotations

GOLDEN_KEY = "7f3a9c1e5b2d8f4a6c0e9b7d3f1a5c8e2b6d0f4a8c3e7b1d5f9a2c6e0b4d8f3a"   # 256 bits, hex (= TEST_KEY)

PG = {"copy": "ds/pagila/pg_dump-copy.sql", "inserts": "ds/pagila/pg_dump-inserts.sql"}
MY = {"default": "ds/sakila/mariadb-dump-default.sql", "hexblob": "ds/sakila/mariadb-dump-hex-blob.sql"}
PG_SCHEMA = "ds/pagila/pg_dump-schema-only.sql"


def _mask_cases(prefix, dump, pii, keys, schema=None):
    """(name, args, stdin) for one dump."""
    pipe_keys = ["--schema", schema] if schema else []
    yield f"{prefix}-empty", ["-c", "g/rules/empty.json", dump], None
    yield f"{prefix}-pii", ["-c", pii, dump], None
    yield f"{prefix}-pii-pipe", ["-c", pii, "-"], dump
    yield f"{prefix}-keys", ["-c", keys, dump], None
    yield f"{prefix}-keys-pipe", ["-c", keys, *pipe_keys, "-"], dump
    yield f"{prefix}-wide", ["-c", "g/rules/wide.json", dump], None
    yield f"{prefix}-wide-keys", ["-c", "g/rules/wide-keys.json", dump], None
    yield f"{prefix}-first", ["-c", pii, "--first", "7", dump], None
    yield f"{prefix}-last", ["-c", pii, "--last", "7", dump], None
    yield f"{prefix}-keys-last", ["-c", keys, "--last", "7", dump], None
    yield f"{prefix}-keys-first-pipe", ["-c", keys, *pipe_keys, "--first", "5", "-"], dump
    yield f"{prefix}-strict", ["-c", pii, "--strict", dump], None
    yield f"{prefix}-wide-strict", ["-c", "g/rules/wide.json", "--strict", dump], None
    for template in ("hipaa", "pci", "gdpr", "all"):
        yield f"{prefix}-template-{template}", ["-c", pii, "--template", template, dump], None
    yield f"{prefix}-template-pci-pipe", ["-c", pii, "--template", "pci", *pipe_keys, "-"], dump


def cases():
    """Every golden case: (name, argv after `python -m dumpmask`, path fed on stdin or None).
    Masking cases get `-o out.sql --audit audit.json` appended by the runner."""
    out = []
    for variant, dump in PG.items():
        out += [(n, ["mask", *a], s) for n, a, s in
                _mask_cases(f"pg-{variant}", dump, "g/rules/pagila-pii.json", "g/rules/pagila-keys.json", PG_SCHEMA)]
    for variant, dump in MY.items():
        out += [(n, ["mask", *a], s) for n, a, s in
                _mask_cases(f"my-{variant}", dump, "g/rules/sakila-pii.json", "g/rules/sakila-keys.json")]
    out += [
        ("pg-data-only-pii", ["mask", "-c", "g/rules/pagila-pii.json", "ds/pagila/pagila-data.sql"], None),
        ("pg-data-only-keys", ["mask", "-c", "g/rules/pagila-keys.json", "ds/pagila/pagila-data.sql"], None),
        ("pg-data-only-keys-schema", ["mask", "-c", "g/rules/pagila-keys.json", "--schema", "ds/pagila/pagila-schema.sql",
                                      "ds/pagila/pagila-data.sql"], None),
        ("my-mv-data-pii", ["mask", "-c", "g/rules/sakila-pii.json", "ds/sakila/sakila-mv-data.sql"], None),
        ("my-mv-data-keys", ["mask", "-c", "g/rules/sakila-keys.json", "ds/sakila/sakila-mv-data.sql"], None),
        ("demo", ["mask", "-c", "fx/demo-rules.json", "fx/demo.sql"], None),
        ("demo-pipe", ["mask", "-c", "fx/demo-rules.json", "-"], "fx/demo.sql"),
        ("demo-template-all", ["mask", "-c", "fx/demo-rules.json", "--template", "all", "fx/demo.sql"], None),
        ("quirks-static", ["mask", "-c", "g/quirks_static/rules.json", "g/quirks_static/input.sql"], None),
        # commands beside mask whose stdout is data
        ("pg-preview", ["preview", "-c", "g/rules/pagila-pii.json", PG["copy"]], None),
        ("my-preview", ["preview", "-c", "g/rules/sakila-pii.json", MY["default"]], None),
        ("pg-scan", ["scan", PG["copy"]], None),
        ("my-scan", ["scan", MY["default"]], None),
        ("demo-scan", ["scan", "fx/demo.sql"], None),
    ]
    return out


CLOCK_FIELDS = ("started_at", "finished_at", "duration_s", "signature", "version")


def normalise_audit(audit: dict) -> dict:
    """An audit without what changes from run to run or release to release (clock, signature
    over them, the tool's version) or with the number of worker processes (-j N gives the same
    bytes and counts as -j 1; the audit says how many workers ran: options.workers)."""
    out = {k: v for k, v in audit.items() if k not in CLOCK_FIELDS}
    if isinstance(out.get("options"), dict) and "workers" in out["options"]:
        out["options"] = {k: v for k, v in out["options"].items() if k != "workers"}
    return out
