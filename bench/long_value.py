"""One very long value: time and peak RSS of dumpmask on a dump whose one row holds a value of
SIZE MB (a PostgreSQL COPY line; a MySQL extended INSERT), passed through and masked.

    .venv/bin/python bench/long_value.py              # 200 MB, both dialects
    .venv/bin/python bench/long_value.py --mb 50 --dialects pg

Each run is a fresh `python -m dumpmask` process (pinned to one core with taskset when it
exists); peak RSS is that process's, from RUSAGE_CHILDREN. Inputs go to a temp directory and
are removed afterwards."""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORD = b"lorem ipsum dolor sit amet "


def write_dump(path: Path, dialect: str, size: int) -> None:
    with open(path, "wb") as f:
        if dialect == "pg":
            f.write(b"-- PostgreSQL database dump\nCREATE TABLE public.t (\n    id integer NOT NULL,\n"
                    b"    note text\n);\nCOPY public.t (id, note) FROM stdin;\n1\tshort\n2\t")
        else:
            f.write(b"-- MariaDB dump 10.19\nCREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `note` longtext\n);\n"
                    b"INSERT INTO `t` VALUES (1,'short'),(2,'")
        block = WORD * ((1 << 20) // len(WORD))
        left = size
        while left > 0:
            piece = block[:left]
            f.write(piece)
            left -= len(piece)
        f.write(b"\n3\tx\n\\.\n" if dialect == "pg" else b"'),(3,'x');\n")


def run(args: list[str]) -> tuple[float, int, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cmd = [sys.executable, "-m", "dumpmask", *args]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    env = dict(os.environ, DUMPMASK_KEY="0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0", PYTHONPATH=str(REPO))
    t0 = time.monotonic()
    cp = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    dt = time.monotonic() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if cp.returncode:
        raise SystemExit(f"failed: {cp.stderr.decode(errors='replace').strip().splitlines()[-1:]}")
    return dt, max(rss, before), cp.returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--dialects", default="pg,mysql")
    a = ap.parse_args()
    size = a.mb << 20
    with tempfile.TemporaryDirectory(prefix="dumpmask-long-") as d:
        d = Path(d)
        (d / "empty.json").write_text(json.dumps({"tables": []}))
        (d / "mask.json").write_text(json.dumps({"tables": [{"tableName": "t", "columnMutations": [
            {"column": "note", "mutation": "faker.text"}]}]}))
        print(f"| dialect | value | scenario | seconds | MB/s | peak RSS MB | RSS / value |")
        print("|---|---|---|---|---|---|---|")
        for dialect in a.dialects.split(","):
            f = d / f"{dialect}.sql"
            write_dump(f, dialect, size)
            for scen in ("empty", "mask"):
                # a fresh process per run: RUSAGE_CHILDREN's maximum is over all children, so
                # each measurement runs in its own interpreter
                out = subprocess.run([sys.executable, "-c", (
                    "import sys; sys.path.insert(0, %r); from bench.long_value import run; "
                    "dt, rss, _ = run(%r); print(dt, rss)") % (str(REPO), ["-q", "-c", str(d / f"{scen}.json"), str(f)])],
                    capture_output=True, text=True, cwd=REPO)
                if out.returncode:
                    print(f"| {dialect} | {a.mb} MB | {scen} | failed: {out.stderr.strip()[-200:]} |")
                    continue
                dt, rss = out.stdout.split()
                dt, rss_mb = float(dt), int(rss) / 1024
                print(f"| {dialect} | {a.mb} MB | {'pass-through' if scen == 'empty' else 'faker.text'} | {dt:.1f} | "
                      f"{a.mb / dt:.0f} | {rss_mb:.0f} | {rss_mb / a.mb:.2f} |", flush=True)
            f.unlink()


if __name__ == "__main__":
    main()
