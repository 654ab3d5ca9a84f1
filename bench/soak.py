#!/usr/bin/env python3
"""Soak run: N GB through `cat FILE | dumpmask -c bench/rules-3faker.json | slow-consumer`,
with dumpmask's resident memory sampled over the whole run (issue #16: back-pressure keeps
it flat when the reader is slower than dumpmask).

    .venv/bin/python bench/soak.py                      # 10 GB, -j 1 and -j 2, reader at 100 MB/s
    .venv/bin/python bench/soak.py --size 1GB --jobs 1 --cpus 1
    .venv/bin/python bench/soak.py --rate 20 --pause 5:1   # 20 MB/s and a 1 s stall every 5 s

The input is bench/gen.py's sakila dump of that size, cached in bench/out/ as bench/run.py
does (the same file names, regenerated when gen.py changes). The consumer reads 64 KB at a
time and sleeps so that it never takes more than --rate MB/s (and, with --pause EVERY:FOR, stops
reading for FOR seconds every EVERY seconds). While the pipe runs, /proc/PID/status (VmRSS) of
dumpmask and of each of its worker processes is read every --interval seconds (0.5); at the end
the RUSAGE of dumpmask (wait4: its own peak and that of the workers it waited for) is taken.
One JSON line per run goes to stdout, then a Markdown table; nothing is written elsewhere.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from run import BENCH_KEY, DIALECT_NAME, dumpmask_cmd, ensure_input  # noqa: E402

CHUNK = 64 * 1024

CONSUMER = r"""
import os, sys, time
rate, every, pause = float(sys.argv[1]) * 1e6, float(sys.argv[2]), float(sys.argv[3])
fd, n, t0 = sys.stdin.fileno(), 0, time.monotonic()
next_pause = t0 + every if every > 0 else None
while True:
    b = os.read(fd, 65536)
    if not b:
        break
    n += len(b)
    now = time.monotonic()
    if next_pause is not None and now >= next_pause:
        time.sleep(pause)
        t0 += pause
        next_pause = time.monotonic() + every
    ahead = n / rate - (time.monotonic() - t0)
    if ahead > 0:
        time.sleep(ahead)
print(n, file=sys.stderr)
"""


def parse_size_mb(text: str) -> int:
    t = text.strip().upper().removesuffix("B")
    mult = {"G": 1000, "M": 1}
    if t and t[-1] in mult:
        return int(float(t[:-1]) * mult[t[-1]])
    return int(t)


def vmrss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def soak(src: Path, dialect: str, jobs: int, rate: float, every: float, pause: float, interval: float,
         cpus: str | None) -> dict:
    pin = ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []
    env = {**os.environ, "DUMPMASK_KEY": os.environ.get("DUMPMASK_KEY", BENCH_KEY)}
    dm = [*pin, *dumpmask_cmd(), "-c", str(BENCH / "rules-3faker.json"), "--dialect", DIALECT_NAME[dialect],
          "-q", "-j", str(jobs)]
    cat = subprocess.Popen([*pin, "cat", str(src)], stdout=subprocess.PIPE)
    proc = subprocess.Popen(dm, stdin=cat.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    cat.stdout.close()
    cons = subprocess.Popen([*pin, sys.executable, "-c", CONSUMER, str(rate), str(every), str(pause)],
                            stdin=proc.stdout, stderr=subprocess.PIPE)
    proc.stdout.close()
    samples: list[tuple[float, int, int]] = []   # (seconds, dumpmask VmRSS kB, dumpmask + workers kB)
    done = threading.Event()
    t0 = time.monotonic()

    def sample():
        while not done.is_set():
            main = vmrss_kb(proc.pid)
            tree = main + sum(vmrss_kb(c) for c in children(proc.pid))
            if main:
                samples.append((round(time.monotonic() - t0, 2), main, tree))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    err = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    reader.join()
    wall = time.monotonic() - t0
    consumed = cons.communicate()[1].decode().strip().splitlines()
    cat.wait()
    mains = [s[1] for s in samples] or [0]
    trees = [s[2] for s in samples] or [0]
    settled = [s[2] for s in samples if s[0] >= wall * 0.1] or trees   # past the first 10% (start-up, pools)
    return {
        "jobs": jobs, "input_bytes": src.stat().st_size, "rc": proc.returncode, "consumer_rc": cons.returncode,
        "bytes_out": int(consumed[-1]) if consumed and consumed[-1].isdigit() else None,
        "wall_s": round(wall, 1), "in_MBps": round(src.stat().st_size / 1e6 / wall, 1),
        "rate_MBps": rate, "pause": f"{every:g}:{pause:g}" if every > 0 else None,
        "samples": len(samples), "peak_vmrss_MB": round(max(mains) / 1024, 1),
        "peak_tree_vmrss_MB": round(max(trees) / 1024, 1),
        "settled_min_MB": round(min(settled) / 1024, 1), "settled_max_MB": round(max(settled) / 1024, 1),
        "ru_maxrss_MB": round(ru.ru_maxrss / 1024, 1),
        "stderr": err[0].decode("utf-8", "replace")[-2000:] if err and err[0] else "",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="10GB", help="input size (gen.py), e.g. 1GB, 10GB (default 10GB)")
    ap.add_argument("--dialect", choices=("pg", "mysql"), default="mysql")
    ap.add_argument("--jobs", default="1,2", help="comma-separated -j values (default 1,2)")
    ap.add_argument("--rate", type=float, default=100.0, help="the consumer's ceiling in MB/s (default 100)")
    ap.add_argument("--pause", default="0:0", metavar="EVERY:FOR",
                    help="the consumer also stops reading FOR seconds every EVERY seconds (default: never)")
    ap.add_argument("--interval", type=float, default=0.5, help="RSS sampling period in seconds (default 0.5)")
    ap.add_argument("--cpus", default=None, help="pin the pipe to these CPUs (taskset -c), e.g. 1")
    args = ap.parse_args(argv)
    every, pause = (float(x) for x in args.pause.split(":"))
    src, meta = ensure_input(args.dialect, parse_size_mb(args.size))
    rows = []
    for j in (int(x) for x in args.jobs.split(",")):
        r = soak(src, args.dialect, j, args.rate, every, pause, args.interval, args.cpus)
        print(json.dumps(r), flush=True)
        rows.append(r)
    print()
    print("| input | -j | reader | exit | wall s | MB/s in | peak VmRSS MB (main / +workers) | after 10%: min-max MB | RUSAGE maxrss MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        reader = f"{r['rate_MBps']:g} MB/s" + (f", pause {r['pause']}" if r["pause"] else "")
        print(f"| {args.dialect} {r['input_bytes'] / 1e9:.1f} GB | {r['jobs']} | {reader} | {r['rc']} | {r['wall_s']} | "
              f"{r['in_MBps']} | {r['peak_vmrss_MB']} / {r['peak_tree_vmrss_MB']} | {r['settled_min_MB']}-"
              f"{r['settled_max_MB']} | {r['ru_maxrss_MB']} |")
    return 0 if all(r["rc"] == 0 and r["consumer_rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
