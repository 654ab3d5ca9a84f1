#!/usr/bin/env python3
"""Scaling: `dumpmask -j N` (and `--cluster`) on one input, wall time and memory of the whole
process tree.

    .venv/bin/python bench/jobs.py --input bench/out/pg-intl3-1000MB.sql --rules bench/rules-intl3.json
    .venv/bin/python bench/jobs.py --input FILE --rules RULES --jobs 1,2,4 --runs 3 [--cluster tcp://...]

Unlike bench/run.py nothing is pinned: -j N is meant to use N cores. Each configuration runs
`--runs` times, interleaved (1, 2, 4, 1, 2, 4, ...) so that a slow spell of this shared machine
does not land on one of them; the table shows the lowest wall time and, beside it, the ratio to
the lowest -j 1 time. Memory is sampled every 20 ms over the process and all its descendants:
`peak PSS` is the largest sum of their proportional set sizes (pages shared after the fork are
divided among the processes that share them, so the sum is what the run costs the machine),
`peak RSS` the largest single process. CPU seconds (utime + stime, sampled with the memory,
so up to 20 ms short) of the main process (reader and writer) and of all processes; in the
JSON lines also their minor page faults and the load average (1 min) when the run started.
The output goes to a file and its sha256 is compared
across configurations: a ratio is only reported for runs whose output is the same bytes.
By default it is the run's stdout redirected to the file (as `dumpmask ... > file` or a pipe
would have it); --to-file writes it with `-o FILE` instead, as a backup job does: a temporary
file, fsynced and renamed into place at the end, all inside the timing (the previous run's
file is removed before the clock starts).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BENCH_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def _mem_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in kB, 0 when it is gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def _cpu_s(pid: int) -> tuple[float, int] | None:
    """(utime + stime in seconds, minor page faults) of one process so far (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), int(fields[7])
    except (OSError, IndexError, ValueError):
        return None


def run_once(cmd: list[str], out_path: str, env: dict, to_file: bool = False) -> dict:
    if to_file and os.path.exists(out_path):
        os.unlink(out_path)        # (not timed: freeing yesterday's file is not the run's work)
    with open(os.devnull if to_file else out_path, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd + (["-o", out_path] if to_file else []), stdout=out, stderr=subprocess.PIPE,
                                env=env, cwd=REPO)
        peak_pss = peak_rss = 0
        cpu: dict[int, float] = {}     # pid -> its CPU seconds when last seen (sampled)
        faults: dict[int, int] = {}    # pid -> its minor page faults when last seen
        load1 = os.getloadavg()[0]
        while proc.poll() is None:
            pids = _tree(proc.pid)
            for p in pids:
                c = _cpu_s(p)
                if c is not None:
                    cpu[p], faults[p] = c
            mems = [_mem_kb(p) for p in pids]
            peak_pss = max(peak_pss, sum(m[0] for m in mems))
            peak_rss = max([peak_rss] + [m[1] for m in mems])
            time.sleep(0.02)
        err = proc.stderr.read().decode("utf-8", "replace")
        wall = time.perf_counter() - t0
    sha = hashlib.sha256()
    with open(out_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return {"rc": proc.returncode, "wall": wall, "pss_mb": peak_pss / 1024, "rss_mb": peak_rss / 1024,
            "main_cpu": cpu.get(proc.pid, 0.0), "all_cpu": sum(cpu.values()),
            "main_faults": faults.get(proc.pid, 0), "all_faults": sum(faults.values()), "load1": load1,
            "sha256": sha.hexdigest(), "stderr": err[-2000:]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--jobs", default="1,2,4", help="the -j values (default 1,2,4)")
    ap.add_argument("--cluster", help="also run with --cluster ADDRESS")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--extra", default="", help="more dumpmask options, space-separated")
    ap.add_argument("--results", default=str(BENCH / "jobs.md"))
    ap.add_argument("--to-file", action="store_true", help="write with -o FILE (fsync and rename inside the timing)")
    a = ap.parse_args(argv)
    exe = REPO / ".venv" / "bin" / "dumpmask"
    dm = [str(exe)] if exe.exists() else [sys.executable, "-m", "dumpmask"]
    env = dict(os.environ, DUMPMASK_KEY=os.environ.get("DUMPMASK_KEY", BENCH_KEY))
    configs = [(f"-j {n}", ["-j", n]) for n in a.jobs.split(",") if n.strip()]
    if a.cluster:
        configs.append(("--cluster", ["--cluster", a.cluster]))
    out_path = str(Path(a.input).with_suffix(".jobs-out.sql"))
    results: dict[str, list[dict]] = {name: [] for name, _ in configs}
    for _ in range(a.runs):
        for name, opts in configs:
            cmd = [*dm, "-c", a.rules, "-q", *opts, *a.extra.split(), a.input]
            r = run_once(cmd, out_path, env, a.to_file)
            results[name].append(r)
            print(json.dumps({"config": name, **{k: v for k, v in r.items() if k != "stderr"}}), flush=True)
            if r["rc"] != 0:
                print(r["stderr"], file=sys.stderr)
    os.unlink(out_path)
    size = os.path.getsize(a.input)
    shas = {r["sha256"] for rs in results.values() for r in rs if r["rc"] == 0}
    base = min((r["wall"] for r in results[configs[0][0]] if r["rc"] == 0), default=None)
    lines = ["| run | lowest wall s (of %d) | MB/s | ratio to %s | CPU s: main process / all | peak PSS MB (all processes) "
             "| peak RSS MB (largest) |" % (a.runs, configs[0][0]), "|---|---:|---:|---:|---:|---:|---:|"]
    for name, rs in results.items():
        ok = [r for r in rs if r["rc"] == 0]
        if not ok:
            lines.append(f"| {name} | failed | | | | | |")
            continue
        best = min(ok, key=lambda r: r["wall"])
        ratio = f"{best['wall'] / base:.2f}" if base else ""
        lines.append(f"| {name} | {best['wall']:.2f} | {size / best['wall'] / 1e6:.1f} | {ratio} | "
                     f"{best['main_cpu']:.1f} / {best['all_cpu']:.1f} | "
                     f"{max(r['pss_mb'] for r in ok):.0f} | {max(r['rss_mb'] for r in ok):.0f} |")
    same = "the same bytes in every run" if len(shas) == 1 else f"DIFFERENT outputs ({len(shas)} distinct sha256)"
    doc = (f"# -j scaling\n\nInput {a.input} ({size / 1e6:.0f} MB), rules {a.rules}, {os.cpu_count()} cores, "
           f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; output "
           f"{'with -o FILE (fsync, rename)' if a.to_file else 'to stdout (a file)'}: {same}.\n\n" + "\n".join(lines) + "\n")
    Path(a.results).write_text(doc)
    print(doc)
    return 0 if len(shas) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
