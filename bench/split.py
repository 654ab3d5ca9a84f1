"""One big table in a directory archive: unsplit vs split into parts (`--split-size`), with
-j 1, -j 2 and a local Dask cluster of two single-thread worker processes.

    .venv/bin/python bench/split.py --archive DIR.dir --rules bench/rules-intl3.json [--runs 3]

DIR.dir: a pg_dump -Fd archive whose data is one big table (e.g. the intl3 100 MB dump loaded
into a server and dumped with pg_dump -Fd, or -Fd -Z0). For each configuration: the wall time,
the CPU time (user + sys) of dumpmask and its worker processes (and of the Dask workers, by
their own getrusage), and the sha256 of the output's table data inflated (the same SQL in
every configuration, checked). Lowest wall time of the runs; runs interleaved.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIGS = [
    ("-j 1, unsplit", ["-j", "1", "--split-size", "0"]),
    ("-j 2, unsplit", ["-j", "2", "--split-size", "0"]),
    ("-j 2, split 64MB (default)", ["-j", "2"]),
    ("-j 2, split 16MB", ["-j", "2", "--split-size", "16MB"]),
    ("cluster 2 workers, unsplit", ["--cluster", None, "--split-size", "0"]),
    ("cluster 2 workers, split 16MB", ["--cluster", None, "--split-size", "16MB"]),
]


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _worker_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def data_sha(out: Path) -> str:
    """sha256 of every table file's SQL, inflated (gzip members read on), by name."""
    h = hashlib.sha256()
    for f in sorted(out.iterdir()):
        if f.name == "toc.dat":
            continue
        data = f.read_bytes()
        if f.name.endswith(".gz"):
            parts = []
            while data:
                z = zlib.decompressobj(31)
                parts.append(z.decompress(data))
                data = z.unused_data
            data = b"".join(parts)
        h.update(f.name.encode() + b"\0" + data)
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archive", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", help="comma-separated configuration numbers (1-based)")
    args = ap.parse_args()
    configs = CONFIGS if not args.only else [CONFIGS[int(i) - 1] for i in args.only.split(",")]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.setdefault("DUMPMASK_KEY", "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0")
    cluster = client = None
    if any("--cluster" in c for _, c in configs):
        import distributed

        cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                           dashboard_address=None)
        client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    results: dict = {name: [] for name, _ in configs}
    shas = set()
    work = Path(tempfile.mkdtemp(prefix="dumpmask-split-bench-"))
    try:
        for _ in range(args.runs):
            for name, extra in configs:
                extra = [cluster.scheduler_address if x is None else x for x in extra]
                out = work / "out.dir"
                shutil.rmtree(out, ignore_errors=True)
                before = _cpu_children()
                wbefore = sum(client.run(_worker_cpu).values()) if "--cluster" in extra else 0.0
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "dumpmask", "-q", "-c", args.rules, args.archive, "-o", str(out),
                                *extra], env=env, check=True)
                wall = time.perf_counter() - t0
                cpu = _cpu_children() - before
                if "--cluster" in extra:
                    cpu += sum(client.run(_worker_cpu).values()) - wbefore
                results[name].append((wall, cpu))
                shas.add(data_sha(out))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if client is not None:
            client.close()
            cluster.close()
    if len(shas) != 1:
        raise SystemExit(f"the configurations wrote different SQL: {sorted(shas)}")
    print(f"| {Path(args.archive).name} | runs: wall s | lowest wall s | CPU s (at the lowest) |")
    print("|---|---|---:|---:|")
    for name, runs in results.items():
        best = min(runs)
        print(f"| {name} | {' / '.join(f'{w:.2f}' for w, _ in runs)} | {best[0]:.2f} | {best[1]:.2f} |")
    print(f"\nevery configuration wrote the same SQL (sha256 of the inflated table data {shas.pop()[:16]}...)")


if __name__ == "__main__":
    main()
