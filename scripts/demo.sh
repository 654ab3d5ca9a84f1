#!/bin/bash
# `make demo`: mask the bundled synthetic dump (fixtures/demo.sql) with fixtures/demo-rules.json,
# show a few rows before and after, summarise the audit sidecar and render the PDF report.
# Run from anywhere; needs the venv (`make demo` creates it). Leaves its files in a temp dir
# and prints where.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DM=.venv/bin/dumpmask
PY=.venv/bin/python
IN=${DEMO_IN:-fixtures/demo.sql}
RULES=${DEMO_RULES:-fixtures/demo-rules.json}

[ -x "$DM" ] || { echo "demo: $DM missing; run 'make demo' (it creates the venv) or 'make venv'" >&2; exit 1; }
for f in "$IN" "$RULES"; do [ -f "$f" ] || { echo "demo: $f missing" >&2; exit 1; }; done

OUT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dumpmask-demo.XXXXXX")
# A new 256-bit key for this demo (0600, never overwritten). Real runs: keep the key in a secret
# store and pass it with --key-file or DUMPMASK_KEY; never put it on the command line.
unset DUMPMASK_KEY
"$DM" key new -o "$OUT_DIR/demo.key"

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }

step "1. mask: dumpmask key new -o $OUT_DIR/demo.key; dumpmask -c $RULES --key-file $OUT_DIR/demo.key --audit $OUT_DIR/audit.json $IN > $OUT_DIR/masked.sql"
"$DM" -c "$RULES" --key-file "$OUT_DIR/demo.key" --audit "$OUT_DIR/audit.json" "$IN" > "$OUT_DIR/masked.sql"
echo "exit status 0; $(wc -c < "$IN") bytes in, $(wc -c < "$OUT_DIR/masked.sql") bytes out"

step "2. preview: dumpmask preview -c $RULES -n 3 $IN (masked columns and remapped keys only)"
COLUMNS=${COLUMNS:-160} "$DM" preview -c "$RULES" --key-file "$OUT_DIR/demo.key" -n 3 "$IN"

step "3. the first customers rows, column by column (before -> after, as written in the COPY block)"
"$PY" - "$IN" "$OUT_DIR/masked.sql" <<'PY'
import sys

def copy_rows(path, table, n):
    """Header columns and the first n raw rows of one COPY block (plain pg_dump text format)."""
    cols, rows, inside = [], [], False
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not inside and line.startswith(f"COPY {table} (") and line.endswith("FROM stdin;"):
                cols = [c.strip() for c in line[line.index("(") + 1:line.rindex(")")].split(",")]
                inside = True
            elif inside:
                if line == "\\." or len(rows) == n:
                    break
                rows.append(line.split("\t"))
    return cols, rows

cols, before = copy_rows(sys.argv[1], "public.customers", 3)
_, after = copy_rows(sys.argv[2], "public.customers", 3)
width = max(map(len, cols))
for i, (b, a) in enumerate(zip(before, after), 1):
    print(f"  row {i}")
    for c, x, y in zip(cols, b, a):
        mark = "~" if x != y else " "
        print(f"   {mark} {c:<{width}}  {x}" + (f"  ->  {y}" if x != y else ""))
print("  (~ = changed; \\N is NULL and stays NULL; notes show COPY escapes such as \\t and \\\\)")
PY

step "4. audit summary ($OUT_DIR/audit.json)"
"$PY" - "$OUT_DIR/audit.json" <<'PY'
import json, sys

a = json.load(open(sys.argv[1], encoding="utf-8"))
key = a.get("key") or {}
print(f"  status: {a.get('status')}   dialect: {a.get('dialect')}   duration: {a.get('duration_s')} s")
print(f"  key fingerprint: {key.get('fingerprint')} ({'ephemeral: not reproducible' if key.get('ephemeral') else 'fixed key: reproducible'})")
for side in ("input", "output"):
    s = a.get(side) or {}
    print(f"  {side:<6} {s.get('bytes')} bytes  sha256 {s.get('sha256')}")
print("  tables (rows; masked columns: mutation x values changed):")
for name, t in (a.get("tables") or {}).items():
    cols = t.get("columns") or {}
    masked = [f"{c} {s.get('mutation')} x{s.get('changed')}" for c, s in cols.items() if s.get("mutation") != "keep"]
    kept = [c for c, s in cols.items() if s.get("mutation") == "keep"]
    print(f"    {name}: {t.get('rows')} rows")
    if masked:
        print("      " + ", ".join(masked))
    if kept:
        print("      kept on purpose: " + ", ".join(kept))
for s in a.get("sequences") or []:
    print(f"  sequence {s.get('sequence')}: setval {s.get('original')} -> {s.get('value')}")
for w in a.get("warnings") or []:
    print(f"  warning: {w}")
sig = a.get("signature") or {}
print(f"  signature: {sig.get('alg')} ({'verifiable with the key' if sig.get('verifiable') else 'not verifiable'})")
PY
"$DM" verify-audit --key-file "$OUT_DIR/demo.key" "$OUT_DIR/audit.json" | sed 's/^/  /'

step "5. PDF report: dumpmask report $OUT_DIR/audit.json -o $OUT_DIR/report.pdf"
"$DM" report "$OUT_DIR/audit.json" -o "$OUT_DIR/report.pdf"
echo "  written: $OUT_DIR/report.pdf"

step "files"
echo "  masked dump: $OUT_DIR/masked.sql"
echo "  audit:       $OUT_DIR/audit.json"
echo "  report:      $OUT_DIR/report.pdf"
echo "  try: $DM verify $IN $OUT_DIR/masked.sql -c $RULES   (leak check)"
