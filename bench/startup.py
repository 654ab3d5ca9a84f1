#!/usr/bin/env python3
"""Start-up: the CPU time (user + sys) and the wall time of a tiny run, where the interpreter, the
imports and the fake pools are all there is (issue #13: under 0.2 s, pools drawn or cached).

    .venv/bin/python bench/startup.py                       # this checkout
    .venv/bin/python bench/startup.py --runs 9 --tree /tmp/base --tree .   # A and B in one run

Each tree is a checkout of dumpmask (its C extension built in place) run by this Python with
the tree first on PYTHONPATH (it wins over the venv's editable install). Its package is
compiled to bytecode first, as `pip install` does: without .pyc files (PYTHONDONTWRITEBYTECODE=1
and an editable install never compiled) every run compiles the whole package again, ~0.08 s
more, which is not what an installed dumpmask costs.

Measured per tree, `--runs` rounds interleaved across trees and commands, lowest CPU time and
lowest wall time of the rounds, each its own lowest (the machine is shared; the lowest is the
least disturbed; pin it, `taskset -c 1`, so that the child runs on one core as the parent):
  interpreter   python -c pass (this Python, its site-packages)
  --version, --help
  mask, drawn   `dumpmask -c RULES tiny.sql -o out.sql`, DUMPMASK_POOL_CACHE=off: every pool drawn
                with Faker, as on the first run for a key and locale
  mask, cached  the same with a pool cache (a temporary directory, filled by one run first)
The tiny dump is `gen.py --size 20kB` (pg or mysql), the key fixed (DUMPMASK_KEY). Every mask
run's output is hashed: all of them must be the same bytes, across trees and cache modes.

Then one `-X importtime` pass (--importtime-runs runs, each module's lowest self time) of both
mask runs of each tree, summed by package: where the import time goes.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BENCH_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
TARGET = 0.2      # seconds, issue #13
ENTRY = "import sys; from dumpmask.commands import main; sys.exit(main())"   # the console script's body


def cpu_of(cmd: list[str], env: dict) -> float:
    """user + sys CPU seconds of one child process (it must exit 0)."""
    return times_of(cmd, env)[0]


def times_of(cmd: list[str], env: dict) -> tuple[float, float]:
    """(user + sys CPU seconds, wall seconds) of one child process (it must exit 0). It runs in the
    temporary directory: `python -c` puts the working directory first on sys.path, before
    PYTHONPATH."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=env["DUMPMASK_BENCH_DIR"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def tree_env(tree: Path, cache: str, work: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), DUMPMASK_KEY=os.environ.get("DUMPMASK_KEY", BENCH_KEY),
               DUMPMASK_POOL_CACHE=cache, DUMPMASK_BENCH_DIR=str(work))
    env.pop("PYTHONSTARTUP", None)
    return env


def commands(python: str, tree: Path, rules: Path, dump: Path, out: Path, cache_dir: Path) -> dict:
    """name -> (argv, env) of every measured command of one tree."""
    mask = [python, "-c", ENTRY, "-q", "-c", str(rules), str(dump), "-o", str(out)]
    off = tree_env(tree, "off", dump.parent)
    return {
        "interpreter": ([python, "-c", "pass"], off),
        "--version": ([python, "-c", ENTRY, "--version"], off),
        "--help": ([python, "-c", ENTRY, "--help"], off),
        "mask, pools drawn": (mask, off),
        "mask, pools cached": (mask, tree_env(tree, str(cache_dir), dump.parent)),
    }


def importtime(argv: list[str], env: dict, runs: int) -> collections.Counter:
    """package -> the sum of its modules' self import times (lowest of `runs` runs), seconds."""
    best: dict[str, int] = {}
    for _ in range(runs):
        proc = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], env=env, cwd=env["DUMPMASK_BENCH_DIR"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        for line in proc.stderr.decode().splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _, name = line[len("import time:"):].split("|")
            name = name.strip()
            best[name] = min(best.get(name, 1 << 60), int(self_us))
    groups: collections.Counter = collections.Counter()
    for name, us in best.items():
        top = name.split(".")[0]
        group = top if top in ("dumpmask", "faker", "click", "orjson") else "stdlib and others"
        groups[group] += us / 1e6
    return groups


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="rounds (lowest counts; default 7)")
    ap.add_argument("--tree", action="append", type=Path,
                    help="a dumpmask checkout to measure (repeatable; default: this one)")
    ap.add_argument("--dialect", choices=("pg", "mysql"), default="pg")
    ap.add_argument("--rules", type=Path, default=BENCH / "rules-3faker.json")
    ap.add_argument("--importtime-runs", type=int, default=3, help="runs of -X importtime per tree (0: none)")
    ap.add_argument("--no-compile", action="store_true", help="do not compile the trees to bytecode first")
    args = ap.parse_args(argv)
    python = sys.executable
    trees = [t.resolve() for t in (args.tree or [REPO])]
    work = Path(tempfile.mkdtemp(prefix="dumpmask-startup-"))
    try:
        dump = work / f"tiny-{args.dialect}.sql"
        subprocess.run([python, str(BENCH / "gen.py"), "--dialect", args.dialect, "--size", "20kB", "--seed", "1",
                        "-o", str(dump), "-q"], check=True)
        plan = {}
        for i, tree in enumerate(trees):
            if not args.no_compile:
                subprocess.run([python, "-m", "compileall", "-q", str(tree / "dumpmask")], check=True,
                               stdout=subprocess.DEVNULL)
            cache_dir = work / f"pools-{i}"
            plan[tree] = commands(python, tree, args.rules.resolve(), dump, work / f"out-{i}.sql", cache_dir)
            cpu_of(*plan[tree]["mask, pools cached"])     # fills the cache (and warms the page cache)
        best: dict = collections.defaultdict(lambda: float("inf"))
        best_wall: dict = collections.defaultdict(lambda: float("inf"))
        digests = set()
        for _ in range(args.runs):
            for tree in trees:
                for name, (cmd, env) in plan[tree].items():
                    cpu, wall = times_of(cmd, env)
                    best[tree, name] = min(best[tree, name], cpu)
                    best_wall[tree, name] = min(best_wall[tree, name], wall)
                    if name.startswith("mask"):
                        digests.add(hashlib.sha256(Path(cmd[-1]).read_bytes()).hexdigest())
        if len(digests) != 1:
            raise SystemExit(f"the mask runs wrote different outputs: {sorted(digests)}")
        names = list(plan[trees[0]])
        print(f"lowest of {args.runs} (CPU: user + sys; wall: the child's whole run, start to exit); {args.dialect} "
              f"{dump.stat().st_size} bytes, -c {args.rules.name}; every output the same bytes "
              f"(sha256 {digests.pop()[:16]}); target (#13): both mask runs under {TARGET} s\n")
        print("| command | " + " | ".join(f"{t}: CPU s | wall s" for t in trees) + " |")
        print("|---|" + "---:|---:|" * len(trees))
        for name in names:
            print(f"| {name} | " + " | ".join(f"{best[t, name]:.3f} | {best_wall[t, name]:.3f}" for t in trees) + " |")
        for t in trees:
            verdict = ", ".join(f"{n[6:]} {'met' if best[t, n] < TARGET and best_wall[t, n] < TARGET else 'NOT met'}"
                                for n in ("mask, pools drawn", "mask, pools cached"))
            print(f"\n{t}: {verdict}")
        if args.importtime_runs > 0:
            print(f"\nimport time (-X importtime, lowest self time of {args.importtime_runs} runs per module, "
                  "summed by package; importtime itself adds to it), s\n")
            cols = [(t, name) for t in trees for name in ("mask, pools drawn", "mask, pools cached")]
            sums = {c: importtime(*plan[c[0]][c[1]], args.importtime_runs) for c in cols}
            groups = sorted({g for s in sums.values() for g in s})
            print("| package | " + " | ".join(f"{t.name}: {n[6:]}" for t, n in cols) + " |")
            print("|---|" + "---:|" * len(cols))
            for g in groups + ["all"]:
                vals = [sum(sums[c].values()) if g == "all" else sums[c].get(g, 0.0) for c in cols]
                print(f"| {g} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
