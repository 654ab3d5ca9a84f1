"""Where the work unit runs: in the engine's process, or in N worker processes (-j N).

The engine hands every data block to an Output: `submit(planned, block, on_done)` and
`emit(bytes)` keep the input order. In-process (one job) a block is masked at once and
written. With workers, a block of at least MIN_PARALLEL bytes goes to a worker process as
its pickled (plan, block) and its result is written when every result before it is; a
smaller block (a one-row INSERT) is masked in-process, in order, because shipping it costs
more than masking it. At most 2 x N blocks are in flight (memory stays bounded; the reader
waits for the writer). `drain()` is the barrier the engine calls before anything that
depends on what the blocks did (a statement a stage rewrites from the largest key written,
the end of a COPY block, the end of the run).

A worker's error is not trusted for its message: the block is masked again in the engine's
process with the exact row count before it (known once every earlier block is merged), so
an error reads the same with -j N as with -j 1.
"""
from __future__ import annotations

import collections
import io
import os

from dumpmask.work import DataBlock, mask_block, runtime

MIN_PARALLEL = 64 << 10      # bytes: smaller blocks are masked in-process
IN_FLIGHT_PER_WORKER = 4         # blocks a worker has in hand or queued (and their results not yet written)


def pool_slots(workers: int) -> int:
    """Shared-memory slots for a -j N run's pool. Each block in flight holds one until its
    result is written (IN_FLIGHT_PER_WORKER a worker, and one more while the oldest is being
    completed): with fewer than that plus one, a submit finds every slot held by a view not yet
    written and the run stops (RuntimeError). The compressed output's chunks go through the
    same pool (compression.IN_FLIGHT_PER_WORKER a worker); they give their slot back when
    received, and with a slot each they never wait for one."""
    from dumpmask.compression import IN_FLIGHT_PER_WORKER as compressing

    return (IN_FLIGHT_PER_WORKER + compressing) * workers + 2


def jobs_count(jobs: int | None) -> int:
    """-j N as a number of worker processes: 0 = every core; 1 = none (in-process)."""
    if jobs is None:
        return 1
    if jobs == 0:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return jobs


class Output:
    """In-process: each block masked when submitted, results written in order."""

    workers = 1

    def __init__(self, write):
        self.write = write

    def submit(self, planned, block, on_done, exact_row0=None) -> None:
        """Mask `block` with `planned`'s plan; on_done(counts) once its counts are merged.
        exact_row0() gives the block's row0 as it stands when every block before it is done
        (INSERT blocks: the table's rows so far), for an exact error message."""
        self._finish(planned, on_done, *mask_block(planned.plan, block))

    def _finish(self, planned, on_done, data: bytes, counts) -> None:
        """A block's result, in its turn: counts merged, then its bytes written."""
        planned.merge(counts)
        on_done(counts)
        if data:
            self.write(data)

    def emit(self, data: bytes) -> None:
        self.write(data)

    def drain(self) -> None:
        pass

    def close(self) -> None:
        pass


def _work(plan, kind, first_line, row0, keep, rows, parsed, data):
    """In a worker process: a block's masked bytes and (True, counts), or b"" and (False, the
    exception's type name): the engine's process masks the block again to report it exactly."""
    try:
        out, counts = mask_block(plan, DataBlock(kind, data, first_line, row0, keep=keep, rows=rows, parsed=parsed))
    except Exception as e:  # noqa: BLE001 - reported by the engine's own re-run of the block
        return b"", (False, type(e).__name__)
    return out, (True, counts)


class _Pending:
    """A block waiting for its turn: its worker's future (None: masked here when its turn comes)."""

    __slots__ = ("future", "planned", "block", "on_done", "exact_row0")

    def __init__(self, future, planned, block, on_done, exact_row0):
        self.future, self.planned, self.block, self.on_done, self.exact_row0 = future, planned, block, on_done, exact_row0


class ParallelOutput(Output):
    """N worker processes; results written in input order."""

    views = False     # results written from the workers' shared memory (set in __init__)

    def __init__(self, write, workers: int):
        from dumpmask.workerpool import WorkerPool

        super().__init__(write)
        self.workers = workers
        # forked: a worker starts with the modules and the value functions already built here;
        # blocks and results go through shared memory (workerpool.py)
        # forked at the first block sent (lazy), once that block's plan has its value functions
        # and fake pools built here: the workers start with them instead of each building its
        # own (~0.6 G instructions a worker for bench/rules-intl3.json's three columns)
        self.pool = WorkerPool(workers, slots=pool_slots(workers), lazy=True)
        self.pending: collections.deque = collections.deque()   # _Pending, or bytes emitted between blocks
        self.limit = IN_FLIGHT_PER_WORKER * workers
        # a result is written straight from its worker's slot (no copy out of shared memory)
        # when `write` copies what it is given before it returns, as a BufferedWriter does (it
        # hands its raw stream views of its own buffer, so nothing below it keeps a view)
        self.views = isinstance(getattr(write, "__self__", None), io.BufferedWriter)

    def submit(self, planned, block, on_done, exact_row0=None) -> None:
        if len(block.data) < MIN_PARALLEL:
            if not self.pending:
                return Output.submit(self, planned, block, on_done)
            self.pending.append(_Pending(None, planned, block, on_done, exact_row0))
            return None
        self.pending.append(_Pending(self._dispatch(planned, block), planned, block, on_done, exact_row0))
        while len(self.pending) > self.limit:
            self._complete_one()
        if self.max_bytes is not None:
            # --max-memory (memory.py): the blocks in flight also stay under their share in bytes
            while len(self.pending) > 1 and self._pending_bytes() > self.max_bytes:
                self._complete_one()
        return None

    max_bytes = None    # --max-memory's share for the blocks in flight (engine), None: only the count bounds them

    def _pending_bytes(self) -> int:
        return sum(len(p) if isinstance(p, bytes) else len(p.block.data) for p in self.pending)

    def _dispatch(self, planned, block):
        """Send a block to a worker: a future whose _result() is _work's (ok, result).
        (cluster.ClusterOutput sends it to a Dask cluster instead.)"""
        plan = planned.plan
        if not self.pool.started:
            try:
                runtime(plan)       # built here, then the fork: the workers inherit it
            except Exception:  # noqa: BLE001, S110 - only a head start: the block fails in its
                pass           # worker and is masked again here in its turn, raising it there
        return self.pool.submit(_work, block.kind, block.first_line, block.row0, block.keep, block.rows, block.parsed,
                                block.data, shared=(plan.token, plan), view=self.views)

    def _result(self, future):
        data, (ok, result) = future.result()
        return (True, (data, result)) if ok else (False, result)

    def emit(self, data: bytes) -> None:
        if self.pending:
            self.pending.append(data)   # written in its turn
        else:
            self.write(data)

    def _complete_one(self) -> None:
        item = self.pending.popleft()
        if isinstance(item, bytes):
            self.write(item)
            return
        future = item.future
        ok, result = self._result(future) if future is not None else (False, None)
        try:
            if not ok:
                # a small block, or one whose worker failed: masked here, where the rows before it
                # are known (an exact error message)
                if item.exact_row0 is not None:
                    block, row0 = item.block, item.exact_row0()
                    if block.kind == "copy" and block.rows is None:
                        block.first_line += row0 - block.row0     # (the line of the block's first row)
                    block.row0 = row0
                result = mask_block(item.planned.plan, item.block)
            self._finish(item.planned, item.on_done, *result)
        finally:
            if self.views and future is not None:
                future.release()    # the slot its result was written from (or came back empty in)

    def drain(self) -> None:
        while self.pending:
            self._complete_one()

    def close(self) -> None:
        stopping = bool(self.pending)     # a failed run: the workers are stopped, not waited for
        self.pending.clear()
        self.pool.shutdown(wait=True, cancel_futures=stopping)
