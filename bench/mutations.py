#!/usr/bin/env python3
"""The cost of every built-in mutation per DISTINCT value, on one core.

    .venv/bin/python bench/mutations.py            # 20,000 values a cell, best of 3
    .venv/bin/python bench/mutations.py --quick    # 2,000 values a cell
    taskset -c 0 .venv/bin/python bench/mutations.py --only faker.email,faker.phone

Each value goes through the function the engine runs on a memo miss (work.py's field
functions: pg_field_fns' COPY miss, my_field_fns' literal miss): the raw field as the dump
holds it (COPY text escapes / a quoted MySQL literal) -> decoded -> the mutation -> encoded
for the dump. Only distinct values, so neither the field memo nor a transformer's memo
hides anything; the COPY/INSERT parsing is not included (bench/run.py measures it). Pools are
built before the clock starts. Inputs per column: ASCII, accented Latin, Greek, CJK, and
mixed text with escapes (newline, tab, backslash, quote); date and timestamp columns get dates.
The table goes to stdout and bench/mutations.md. Each cell is CPU time (time.process_time), not
wall time: on a shared machine a wall clock counts the other processes' time slices too.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from dumpmask import transformers  # noqa: E402
from dumpmask.crypto import Key  # noqa: E402
from dumpmask.dialects import mysql_lex, postgres  # noqa: E402
from dumpmask.schema import Column  # noqa: E402
from dumpmask.work import Tally, my_field_fns, pg_field_fns  # noqa: E402

SCRIPTS = ("ascii", "accented", "greek", "cjk", "escaped")
WORDS = {
    "ascii": ("mary", "smith", "john", "oak", "street", "main", "jones"),
    "accented": ("josé", "müller", "françois", "søren", "łukasz", "gómez", "zoë"),
    "greek": ("μαρία", "παπαδοπούλου", "γιώργος", "οδός", "ερμού", "αθήνα", "ελένη"),
    "cjk": ("王伟", "李娜", "佐藤", "花子", "東京都", "丸の内", "김민준"),
    "escaped": ("line\none", "tab\there", "back\\slash", "it's", 'say "hi"', "Grüße\n", "東京\t"),
}
# the column each mutation is measured on (its usual one), and the input kind
TEXT = Column(name="c", type="text", kind="text")
COLUMNS = {
    "faker.date": Column(name="d", type="date", kind="date"),
    "faker.dateTime": Column(name="t", type="timestamp without time zone", kind="timestamp"),
}
ARGUMENT = {"static": "masked"}
#: options of the mutations that need some; json gets a ~300-byte document with 3 paths
OPTIONS = {"json": {"paths": {"$.email": "faker.email", "$.phones[*]": "faker.phone",
                              "$.address.street": "faker.address"}}}
TARGET = {"json": 10.0}      # microseconds a value (a row's document for json, issue #15)
COLUMNS["json"] = Column(name="profile", type="jsonb", kind="json")
# the options a mutation needs (as tests/conftest.py REQUIRED_OPTIONS) and the column kind it
# is for: every registered mutation is measured (a new one without an entry here fails loudly)
OPTIONS.update({"choice": {"values": ["alpha", "beta", "gamma"]}, "faker": {"provider": "job"},
                "list": {"mutation": "faker.email", "separator": ","}, "noise": {"relative": 0.1},
                "regex": {"pattern": "[0-9]", "replace": "#"}, "generalize.prefix": {"length": 3},
                "generalize.bucket": {"width": 10}, "generalize.topcode": {"max": 100000},
                "generalize.date": {"to": "month"}, "partial": {"first": 2, "last": 2},
                "template": {"template": "{c}@example.com"}})
for _n in ("generalize.bucket", "generalize.topcode", "noise"):
    COLUMNS[_n] = Column(name="n", type="integer", kind="int")
COLUMNS["generalize.date"] = Column(name="d", type="date", kind="date")
#: `key` measured twice: the text strategy (codes, any string) and, as `key.int`, the integer
#: strategy most primary keys take (a 32-bit range: the Feistel round tables)
COLUMNS["key.int"] = Column(name="id", type="integer", kind="int")


def documents(script: str, n: int, salt: int) -> list[str]:
    """n distinct JSON documents of ~300 bytes (ASCII; more in other scripts), the shape issue
    #15 names: an e-mail, two phones in an array, an address object, and members no path names."""
    import json

    out = []
    for i, v in enumerate(values(script, n, salt)):
        k = salt * n + i
        out.append(json.dumps({"id": k, "email": f"mary.smith{k}@example.com", "name": v,
                               "phones": [f"+1 555 01{k % 100:02d}", f"+1 555 02{k % 97:02d}"],
                               "address": {"street": f"{k} Oak Street", "city": "Springfield", "zip": "12345",
                                           "country": "US"},
                               "tags": ["customer", "newsletter"], "active": True, "score": 12.5,
                               "created": "2021-03-04T05:06:07Z"}, ensure_ascii=False))
    return out


def values(script: str, n: int, salt: int) -> list[str]:
    """n distinct values of one script, 8-40 characters (a counter makes them distinct)."""
    w = WORDS[script]
    k = len(w)
    out = []
    for i in range(salt * n, salt * n + n):
        a, b, c = w[i % k], w[(i // k) % k], w[(i // (k * k)) % k]
        out.append(f"{a}.{b} {c}{i}" if i % 3 else f"{a} {b}{i}@{c}.example")
    return out


def dates(n: int, salt: int) -> list[str]:
    base = 631_152_000 + salt * n * 86_400   # 1990-01-01
    return [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(base + i * 86_399)) for i in range(n)]


def pg_raw(v: str) -> bytes:
    return postgres.copy_encode(v)


def my_raw(v: str) -> bytes:
    return mysql_lex.encode_string(v.encode("utf-8", "surrogateescape"))


def build(name: str, key: Key, column: Column, dialect: str):
    """The value function the engine builds for one rule (a transformer, or the remapper's
    function for `key`)."""
    if name in ("key", "key.int"):
        from dumpmask.remap import Remapper

        if name == "key.int":
            return Remapper(key, "randomInteger", 1, 2 ** 31 - 1, "bench").for_column(column, "bench.id")
        return Remapper(key, "text", None, None, "bench").for_column(column, "bench.c")
    t = transformers.get(name)(key, OPTIONS.get(name, {}), column, ARGUMENT.get(name))
    t.bind_dialect(dialect)
    t.check(column)
    return t


def cost(name: str, key: Key, dialect: str, script: str, n: int, repeats: int) -> float:
    """CPU microseconds per distinct value: best of `repeats`, each on values not seen before."""
    column = COLUMNS.get(name, TEXT)
    dialect_name = "postgres" if dialect == "pg" else "mysql"
    fns = (pg_field_fns if dialect == "pg" else my_field_fns)(
        build(name, key, column, dialect_name), column.kind, column.name, Tally())
    miss, enc = fns.miss, (pg_raw if dialect == "pg" else my_raw)
    # text keys: the engine's block path (the block's new values through the lanes together)
    from dumpmask.work import c_block_copy

    block = key_block if name == "key" and c_block_copy is not None and not os.environ.get("DUMPMASK_PURE") else None
    best = float("inf")
    for rep in range(repeats):
        if column.kind in ("date", "timestamp"):
            vals = dates(n, rep)
        elif column.kind == "json":
            vals = documents(script, n, rep)
        elif column.kind == "int":
            vals = [str(1 + rep * n + i * 7919) for i in range(n)]
        else:
            vals = values(script, n, rep)
        raws = [enc(v) for v in vals]
        fns.cache.clear()
        if name == "key" and block is not None:
            best = min(best, block(fns, raws, dialect))
            continue
        t0 = time.process_time()
        for r in raws:
            miss(r)
        best = min(best, time.process_time() - t0)
    return best / n * 1e6


def key_block(fns, raws: list[bytes], dialect: str) -> float:
    """CPU seconds of the engine's block function over `raws` as one column of ~1 MB blocks
    (COPY lines / mysqldump tuples), the column a BLK_TKEY column (work.c_fake_spec): a text
    key column's new values go through text_key_fields' lanes together, as the engine runs
    them. The parsing and writing of the block are included."""
    from dumpmask.work import UNCHANGED, c_block_copy, c_block_tuples, c_fake_spec

    spec = c_fake_spec(fns.plain, fns.miss)
    assert spec is not None and spec[0] == 5, "the text key column is not a BLK_TKEY column"
    cols = ((fns.cache, fns.miss, spec, None),)
    blocks, cur, size = [], [], 0
    for r in raws:
        cur.append(r)
        size += len(r) + 1
        if size >= 1 << 20:
            blocks.append(cur)
            cur, size = [], 0
    if cur:
        blocks.append(cur)
    head = b"INSERT INTO `t` VALUES "
    data = [b"\n".join(b) + b"\n" if dialect == "pg" else head + b",".join(b"(" + r + b")" for r in b) + b";\n"
            for b in blocks]
    t0 = time.process_time()
    for d in data:
        if dialect == "pg":
            c_block_copy(d, 1, (0,), cols, UNCHANGED, postgres.NULL_FIELD)
        else:
            c_block_tuples(d, len(head), 1, (0,), cols, UNCHANGED, b"NULL")
    return time.process_time() - t0


def column_kind(name: str) -> str:
    return COLUMNS.get(name, TEXT).kind


def machine_line() -> str:
    import platform
    import subprocess

    commit = subprocess.run(["git", "-C", str(BENCH.parent), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(BENCH.parent), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    from dumpmask.dialects import fast

    return (f"commit {commit or '?'}{' (+ uncommitted changes)' if dirty else ''}, Python "
            f"{platform.python_version()}, C extension {'in use' if fast.ACCELERATED else 'not in use'}"
            f"{', DUMPMASK_PURE=1' if os.environ.get('DUMPMASK_PURE') else ''}, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2,000 values a cell instead of 20,000")
    ap.add_argument("-n", type=int, default=0, help="values a cell")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated mutation names")
    ap.add_argument("--dialects", default="pg,mysql")
    ap.add_argument("--results", default=str(BENCH / "mutations.md"), help="'-' for none")
    a = ap.parse_args(argv)
    n = a.n or (2_000 if a.quick else 20_000)
    # template builds a value from its row (the work unit's row path), not from one field: not
    # measurable per value here
    names = [s for s in a.only.split(",") if s] or sorted([*(n for n in transformers.REGISTRY if n != "template"), "key.int"])
    dialects = [d for d in a.dialects.split(",") if d]
    key = Key(bytes.fromhex("5d1c9a7e3b8f2d6a4c0e8b1f7a3d9c5e2b6f0a4d8c1e7b3f9a5d2c6e0b8f4a17"))
    cols = [f"{d} {s}" for d in dialects for s in SCRIPTS]
    head = ("| mutation | " + " | ".join(cols) + " | worst |\n|---|" + "---:|" * (len(cols) + 1))
    print(head, flush=True)
    lines = []
    for name in names:
        cells = []
        for d in dialects:
            for s in SCRIPTS:
                if name in COLUMNS and column_kind(name) in ("date", "timestamp", "int") and s != "ascii":
                    cells.append(None)     # a date (integer) column holds dates (numbers): one input kind
                    continue
                cells.append(cost(name, key, d, s, n, a.repeats))
        worst = max(c for c in cells if c is not None)
        target = TARGET.get(name, 1.5)
        line = (f"| {name} | " + " | ".join("" if c is None else f"{c:.2f}" for c in cells)
                + f" | {'**' if worst > target else ''}{worst:.2f}{'**' if worst > target else ''} |")
        lines.append(line)
        print(line, flush=True)
    info = machine_line()
    if a.results != "-":
        Path(a.results).write_text(
            "# Cost per distinct value of every built-in mutation (microseconds, one core)\n\n"
            f"{info}; {n:,} distinct values a cell, best of {a.repeats}.\n\n{head}\n"
            + "\n".join(lines) + "\n\n"
            "Each cell (CPU time of this process, the best of the repeats): one raw field as the dump holds it (pg: COPY text; mysql: a quoted literal) "
            "through the engine's memo-miss function (work.py pg_field_fns / my_field_fns): decode, "
            "the mutation, encode. Distinct values only. Date columns (faker.date: date, "
            "faker.dateTime: timestamp) get dates, json a jsonb column and a ~300-byte document with 3 "
            "paths ($.email faker.email, $.phones[*] faker.phone, $.address.street faker.address), "
            "the others text: ASCII, accented Latin, Greek, "
            "CJK, and mixed text with newlines, tabs, backslashes and quotes (escaped). `key` is "
            "the identifier remapping's text strategy, `key.int` its integer strategy "
            "(an integer column, range [1, 2^31-1]); generalize.bucket/topcode and noise an integer column, "
            "generalize.date a date column; template (built from its row) is not measured per value. "
            "Bold: over the 1.5 us target (json: 10 us a document). Made by "
            "`bench/mutations.py" + (" --quick" if a.quick else "") + "` (`make bench`).\n")
        print(f"\n{info}\nwritten to {a.results}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
