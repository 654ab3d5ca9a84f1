"""workerpool.WorkerPool (-j N): calls run in forked processes, inputs and results through
shared-memory slots or, when larger than a slot, through the worker's pipe; the same values
in every case, in order; an exception comes back by its type name only; a killed worker fails
every later call (WorkerLost, a DumpmaskError)."""
from __future__ import annotations

import os
import signal

import pytest

from dumpmask.errors import DumpmaskError
from dumpmask.workerpool import SMALL_CALL, WorkerError, WorkerLost, WorkerPool


def _reverse(tag, data):
    return data[::-1] + tag, (os.getpid(), len(data))


def _grow(factor, data):
    return data * factor


def _with_shared(table, key, data):
    return table[key] + data


def _echo_args(*args):
    return args


def _fail(data):
    raise ValueError("the value 4111 1111 1111 1111 must not travel")


def _children_alive(pool) -> list[int]:
    return [w.pid for w in pool.workers]


@pytest.mark.parametrize("slot_bytes", [1 << 20, 4096])    # 4096: nearly everything by pipe
def test_results_come_back_in_order_through_slots_and_pipes(slot_bytes):
    pool = WorkerPool(2, slot_bytes=slot_bytes)
    try:
        blocks = [os.urandom(n) for n in (0, 1, 100, 4095, 4096, 4097, 70_000, 300_000, 5000, 1)] * 3
        futures = [pool.submit(_reverse, b"#%d" % i, b) for i, b in enumerate(blocks)]
        pids = set()
        for i, (b, f) in enumerate(zip(blocks, futures, strict=True)):
            data, (pid, n) = f.result()
            assert data == b[::-1] + b"#%d" % i and n == len(b)
            pids.add(pid)
        assert pids == set(_children_alive(pool))           # both workers took calls
        big = pool.submit(_grow, 40, os.urandom(3000))       # a result far larger than its input
        assert len(big.result()) == 120_000
    finally:
        pool.shutdown()


def test_large_arguments_and_shared_objects():
    pool = WorkerPool(2, slot_bytes=64 << 10)
    try:
        table = {i: b"v%d" % i for i in range(20_000)}      # pickled: ~200 KB, larger than a slot
        futures = [pool.submit(_with_shared, i, b"-%d" % i, shared=("t1", table)) for i in range(0, 20_000, 997)]
        assert [f.result() for f in futures] == [b"v%d-%d" % (i, i) for i in range(0, 20_000, 997)]
        assert all("t1" in w.seen for w in pool.workers)
        args = list(range(SMALL_CALL))                       # a call pickle larger than the header's share
        assert pool.submit(_echo_args, args, "x").result() == (args, "x")
        assert pool.submit(_echo_args, args, b"y" * 30_000).result() == (args, b"y" * 30_000)
    finally:
        pool.shutdown()


def test_an_exception_comes_back_by_its_type_name_only():
    pool = WorkerPool(1)
    try:
        f = pool.submit(_fail, b"1234")
        with pytest.raises(WorkerError) as e:
            f.result()
        assert e.value.name == "ValueError" and "4111" not in str(e.value)
        assert pool.submit(_reverse, b"", b"ab").result()[0] == b"ba"     # the worker goes on
    finally:
        pool.shutdown()


def test_a_killed_worker_fails_the_calls_after_it():
    pool = WorkerPool(2)
    try:
        assert pool.submit(_reverse, b"", b"ab").result()[0] == b"ba"
        victim = pool.workers[0].pid
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(WorkerLost) as e:
            for _ in range(20):                              # sent to it, or its result awaited
                pool.submit(_reverse, b"", os.urandom(10_000)).result()
        assert isinstance(e.value, DumpmaskError)
        assert f"pid {victim}" in str(e.value) and "SIGKILL" in str(e.value)
        with pytest.raises(WorkerLost):
            pool.submit(_reverse, b"", b"ab")
    finally:
        pool.shutdown()


def test_shutdown_reaps_every_worker():
    pool = WorkerPool(3)
    pids = _children_alive(pool)
    futures = [pool.submit(_reverse, b"", os.urandom(50_000)) for _ in range(6)]
    futures[0].result()
    pool.shutdown(cancel_futures=True)                      # calls outstanding: stopped, not awaited
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)                      # reaped: no zombie left
    with pytest.raises(WorkerLost):
        pool.submit(_reverse, b"", b"ab")
