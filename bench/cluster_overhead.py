#!/usr/bin/env python3
"""What a block costs on a Dask cluster beside what masking it costs: for the scaling table
and the 1 TB estimate in bench/README.md.

    .venv/bin/python bench/cluster_overhead.py --input bench/out/pg-100MB.sql --rules bench/rules-3faker.json
    .venv/bin/python bench/cluster_overhead.py ... --scheduler tcp://host:8786   # an existing cluster

Takes the COPY blocks of the input's largest masked table as the engine cuts them (~1 MB),
then measures, each the lowest of --runs:
- mask: mask_block in this process, per block (the work itself);
- echo: a round trip of the block's bytes to a worker and back with no work (submit, ship,
  result), one at a time: the latency a block adds;
- echo pipelined: the same with 2 blocks per worker in flight: the transport's cost per
  block when round trips overlap, and the client's CPU per block (this process: pickling,
  sockets, Dask's event loop thread);
- cluster mask: the real work unit on the workers, pipelined like the engine does it.
Without --scheduler it starts a LocalCluster of --workers single-threaded worker processes on
127.0.0.1.
"""
from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _echo(data: bytes) -> bytes:
    return data


def _blocks(path: str, rules: str, limit: int):
    """(planned table, its DataBlocks) of the first masked COPY table with at least `limit` blocks."""
    from dumpmask.crypto import Key
    from dumpmask.engine import build_engine
    from dumpmask.parallel import Output
    from dumpmask.rules import load_rules

    class Keep(Output):
        def __init__(self):
            super().__init__(lambda b: None)
            self.seen = []

        def submit(self, planned, block, on_done, exact_row0=None):
            self.seen.append((planned, block))
            super().submit(planned, block, on_done, exact_row0)

    engine = build_engine(load_rules(rules), Key.random(), source=path, input_path=path)
    keep = Keep()
    import io

    import dumpmask.engine as eng

    real = eng.Output
    eng.Output = lambda write: keep       # the engine's in-process output, recording the blocks
    try:
        with open(path, "rb") as src:
            engine.run(src, io.BytesIO())
    finally:
        eng.Output = real
    by_plan = collections.defaultdict(list)
    for planned, block in keep.seen:
        by_plan[id(planned)].append((planned, block))
    best = max(by_plan.values(), key=len)
    return best[0][0], [b for _, b in best][:limit]


def _pipelined(client, fn, args_list, in_flight: int) -> float:
    q = collections.deque()
    t0 = time.perf_counter()
    for args in args_list:
        q.append(client.submit(fn, *args, pure=False))
        while len(q) > in_flight:
            q.popleft().result()
    while q:
        q.popleft().result()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--scheduler")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--blocks", type=int, default=40)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)

    import distributed

    from dumpmask.cluster import _mask_on_worker, code_fingerprint
    from dumpmask.work import mask_block

    planned, blocks = _blocks(a.input, a.rules, a.blocks)
    n = len(blocks)
    sizes = [len(b.data) for b in blocks]
    cluster = None
    if a.scheduler is None:
        cluster = distributed.LocalCluster(n_workers=a.workers, processes=True, host="127.0.0.1", threads_per_worker=1,
                                           dashboard_address=None)
    client = distributed.Client(a.scheduler or cluster.scheduler_address, set_as_default=False, direct_to_workers=True)
    try:
        nworkers = len(client.scheduler_info()["workers"])
        in_flight = 2 * nworkers
        mask_block(planned.plan, blocks[0])       # pools built
        mask_s = min(_timed(lambda: [mask_block(planned.plan, b) for b in blocks]) for _ in range(a.runs))
        out_sizes = [len(mask_block(planned.plan, b)[0]) for b in blocks]
        one = [(b.data,) for b in blocks]
        _pipelined(client, _echo, one[:4], 1)     # connections warm
        echo_seq = min(_pipelined(client, _echo, one, 1) for _ in range(a.runs))
        cpu0 = time.process_time()
        echo_pipe = min(_pipelined(client, _echo, one, in_flight) for _ in range(a.runs))
        echo_cpu = (time.process_time() - cpu0) / a.runs
        [shipped] = client.scatter([(code_fingerprint(), planned.plan)], broadcast=True, hash=False)
        work = [(shipped, b.kind, b.data, b.first_line, b.row0, b.keep, b.rows) for b in blocks]
        _pipelined(client, _mask_on_worker, work[:in_flight], in_flight)   # pools built on the workers
        cpu0 = time.process_time()
        cl_mask = min(_pipelined(client, _mask_on_worker, work, in_flight) for _ in range(a.runs))
        cl_cpu = (time.process_time() - cpu0) / a.runs
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    ms = 1000 / n
    print(f"{n} blocks of table {planned.plan.table}: {statistics.mean(sizes) / 1e6:.2f} MB sent and "
          f"{statistics.mean(out_sizes) / 1e6:.2f} MB received per block on average; {nworkers} workers, "
          f"{in_flight} in flight")
    print(f"mask in-process        {mask_s * ms:7.1f} ms/block  ({sum(sizes) / mask_s / 1e6:.1f} MB/s, one core)")
    print(f"echo one at a time     {echo_seq * ms:7.1f} ms/block  (round-trip latency of a block, no work)")
    print(f"echo pipelined         {echo_pipe * ms:7.1f} ms/block  (transport per block); client CPU "
          f"{echo_cpu * ms:.1f} ms/block")
    print(f"cluster mask pipelined {cl_mask * ms:7.1f} ms/block  ({sum(sizes) / cl_mask / 1e6:.1f} MB/s); client CPU "
          f"{cl_cpu * ms:.1f} ms/block")
    return 0


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
