#!/bin/bash
# Placeholder demo (the lead refines it): mask fixtures/demo.sql with fixtures/demo-rules.json,
# show a few rows before and after, and summarise the audit sidecar.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DM=.venv/bin/dumpmask
IN=${DEMO_IN:-fixtures/demo.sql}
RULES=${DEMO_RULES:-fixtures/demo-rules.json}
AUDIT=/tmp/dumpmask-demo-audit.json
OUT=$(mktemp /tmp/dumpmask-demo-out.XXXXXX.sql)
trap 'rm -f "$OUT"' EXIT

[ -x "$DM" ] || { echo "demo: $DM missing; run 'make venv' first" >&2; exit 1; }
for f in "$IN" "$RULES"; do [ -f "$f" ] || { echo "demo: $f missing" >&2; exit 1; }; done
export DUMPMASK_KEY=${DUMPMASK_KEY:-demo-key}

# Tables named in the rules (" customer address "), to show only those.
TABLES=" $(.venv/bin/python -c 'import json,sys; print(" ".join(t.get("tableName","").split(".")[-1] for t in json.load(open(sys.argv[1])).get("tables", [])))' "$RULES") "

# The first N data rows of those tables: COPY lines (pg_dump) or INSERT tuples (mysqldump).
rows() {
  LC_ALL=C awk -v n="${2:-3}" -v tables="$TABLES" '
    function want(t) { gsub(/`/, "", t); sub(/^.*\./, "", t); return index(tables, " " t " ") > 0 }
    /^COPY .* FROM stdin;$/ { copy = 1; k = want($2) ? 0 : n; if (k < n) print "  " $2; next }
    copy && /^\\\.$/        { copy = 0; next }
    copy                    { if (k++ < n) print "    " $0; next }
    /^INSERT INTO /         { ins = 1; k = want($3) ? 0 : n; if (k < n) print "  " $3; if ($0 ~ /VALUES \(/) { sub(/^.*VALUES /, ""); if (k++ < n) print "    " substr($0, 1, 200) } next }
    ins && /^\(/            { if (k++ < n) print "    " substr($0, 1, 200); if ($0 ~ /;$/) ins = 0; next }
    { ins = 0 }' "$1"
}

echo "== before ($IN)"
rows "$IN"
"$DM" -c "$RULES" --audit "$AUDIT" -q "$IN" > "$OUT"
echo
echo "== after (dumpmask -c $RULES --audit $AUDIT $IN)"
rows "$OUT"
echo
echo "== audit summary ($AUDIT)"
.venv/bin/python - "$AUDIT" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
for k in ("status", "dialect", "duration_s", "reproducible"):
    if k in a:
        print(f"  {k}: {a[k]}")
tables = a.get("tables") or {}
items = tables.items() if isinstance(tables, dict) else ((t.get("name"), t) for t in tables)
for name, t in items:
    cols = ", ".join(f"{c}={s.get('mutation')} ({s.get('changed')} changed)"
                     for c, s in (t.get("columns") or {}).items())
    print(f"  {name}: {t.get('rows', '?')} rows" + (f"; {cols}" if cols else ""))
PY
