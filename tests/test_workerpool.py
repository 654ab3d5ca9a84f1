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


@pytest.mark.parametrize("slot_bytes", [1 << 20, 4096])    # 4096: the larger results come by pipe
def test_view_results_stay_in_their_slot_until_released(slot_bytes):
    pool = WorkerPool(1, slots=3, slot_bytes=slot_bytes)
    try:
        blocks = [os.urandom(n) for n in (0, 10, 3000, 70_000, 500)] * 3
        for i, b in enumerate(blocks):
            f = pool.submit(_reverse, b"#%d" % i, b, view=True)
            data, (_pid, n) = f.result()
            want = b[::-1] + b"#%d" % i
            in_slot = len(want) <= slot_bytes
            assert type(data) is (memoryview if in_slot else bytes)
            assert bytes(data) == want and n == len(b)
            held = len(pool.free)
            # while held, the slot is no one else's: other calls come back through the other slots
            others = [pool.submit(_reverse, b"", b"x" * 100) for _ in range(4)]
            assert [o.result()[0] for o in others] == [b"x" * 100] * 4
            assert bytes(data) == want
            f.release()
            f.release()       # (a second release changes nothing)
            assert len(pool.free) == held + in_slot
            if in_slot:
                with pytest.raises(ValueError):
                    bytes(data)      # the view is released with its slot
        failed = pool.submit(_fail, b"data", view=True)
        with pytest.raises(WorkerError):
            failed.result()
        failed.release()
        assert len(pool.free) == 3
    finally:
        pool.shutdown()


def test_every_slot_held_fails_instead_of_waiting_forever():
    pool = WorkerPool(1, slots=2)
    try:
        held = [pool.submit(_reverse, b"", b"abc", view=True) for _ in range(2)]
        for f in held:
            assert bytes(f.result()[0]) == b"cba"
        with pytest.raises(RuntimeError):
            pool.submit(_reverse, b"", b"abc")
        held[0].release()
        assert pool.submit(_reverse, b"", b"abc").result()[0] == b"cba"
    finally:
        pool.shutdown()


def test_keep_heap_tunes_glibc_malloc():
    import platform

    from dumpmask.workerpool import keep_heap

    got = keep_heap()
    if platform.libc_ver()[0] == "glibc":
        assert got is True
    else:
        assert got in (True, False)


def test_parallel_output_writes_from_slots_only_into_a_buffered_writer():
    """A BufferedWriter copies what it is given before write returns; any other writer may
    keep it, so it gets bytes (a view would change under it when its slot is reused)."""
    import io

    from dumpmask.parallel import ParallelOutput

    kept: list = []
    for write, views in ((io.BufferedWriter(io.BytesIO()).write, True), (kept.append, False)):
        out = ParallelOutput(write, 1)
        try:
            assert out.views is views
        finally:
            out.close()


def _failed_block(data):
    return b"", (False, "ValueError")     # what parallel._work returns for a block it could not mask


def test_a_block_masked_again_in_process_gives_its_slot_back(monkeypatch):
    import io
    from types import SimpleNamespace

    import dumpmask.parallel as parallel

    sink = io.BytesIO()
    writer = io.BufferedWriter(sink)
    out = parallel.ParallelOutput(writer.write, 1)
    try:
        assert out.views
        monkeypatch.setattr(parallel, "mask_block", lambda plan, block: (b"masked here;", "counts"))
        planned = SimpleNamespace(plan=None, merge=lambda counts: None)
        for _ in range(3 * out.pool.nslots):     # a slot lost per block would run out
            future = out.pool.submit(_failed_block, b"x" * 1000, view=True)
            out.pending.append(parallel._Pending(future, planned, SimpleNamespace(data=b"x" * 1000), lambda c: None, None))
            out.drain()
        assert len(out.pool.free) == out.pool.nslots
        writer.flush()
        assert sink.getvalue() == b"masked here;" * (3 * out.pool.nslots)
    finally:
        out.close()


def test_keep_heap_in_c_and_through_ctypes_and_in_a_one_process_run(monkeypatch):
    """speedups.keep_heap: the C mallopt call and the ctypes fallback (no extension) both tune
    glibc's malloc (True there), and a -j 1 run calls it too (the schema pass and the blocks of
    a one-process run fault their buffers in as well)."""
    import io
    import platform

    import dumpmask
    from dumpmask import engine, speedups
    from dumpmask.crypto import Key
    from conftest import TEST_KEY

    if platform.libc_ver()[0] == "glibc":
        assert speedups.keep_heap() is True
        with monkeypatch.context() as m:
            m.setattr(speedups, "function", lambda name: None)
            assert speedups.keep_heap() is True
    calls = []
    monkeypatch.setattr(engine, "keep_heap", lambda: calls.append(1) or True)
    dump = b"-- PostgreSQL database dump\nCREATE TABLE public.t (\n    a text\n);\nCOPY public.t (a) FROM stdin;\nx\n\\.\n"
    dumpmask.mask(io.BytesIO(dump), io.BytesIO(), rules=None, key=Key(TEST_KEY), dialect="postgres",
                  warn=lambda m: None)
    assert calls == [1]


def _echo_block(data):
    import time

    time.sleep(0.003)      # slower than the parent: calls stay outstanding, holding their slots
    return bytes(data), (True, None)       # what parallel._work returns for a masked block


def test_blocks_and_compressed_chunks_in_flight_never_run_out_of_slots(monkeypatch):
    """The pool a -j N run makes holds every block in flight (IN_FLIGHT_PER_WORKER a worker,
    each holding its result's view until written) and the compressed output's chunks in flight
    in the same pool: with both at their limits a submit still finds a slot (a RuntimeError
    'every slot is held' otherwise), and the bytes come out in order."""
    import io
    from types import SimpleNamespace

    import dumpmask.parallel as parallel
    from dumpmask import compression

    monkeypatch.setattr(compression, "CHUNK", 64 << 10)
    sink = io.BytesIO()
    comp = compression.Compressing(sink, compression.OutputCompression("gzip", 1))
    writer = io.BufferedWriter(comp, buffer_size=1 << 16)
    workers = 2
    out = parallel.ParallelOutput(writer.write, workers)
    try:
        assert out.views and out.pool.nslots == parallel.pool_slots(workers)
        comp.use_pool(out.pool, workers)
        monkeypatch.setattr(out, "_dispatch", lambda planned, block: out.pool.submit(
            _echo_block, block.data, view=True))
        planned = SimpleNamespace(plan=None, merge=lambda counts: None)
        blocks = [bytes([65 + i % 26]) * (parallel.MIN_PARALLEL + 7 * i) for i in range(6 * out.pool.nslots)]
        for data in blocks:
            out.submit(planned, SimpleNamespace(data=data), lambda c: None)
        out.drain()
        writer.flush()
        comp.detach_pool()
        comp.finish()
    finally:
        out.close()
    got = b"".join(_gunzip_members(sink.getvalue()))
    assert got == b"".join(blocks)


def _gunzip_members(blob: bytes):
    import zlib

    while blob:
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        yield d.decompress(blob)
        blob = d.unused_data


class _Recording:
    path = ""
    work = None


def _recording_work(plan, *args):
    """parallel._work, writing down (in the worker) whether the plan's runtime was there already."""
    from dumpmask import work

    with open(_Recording.path, "a") as f:
        f.write(f"{os.getpid()} {plan.token in work._RUNTIMES}\n")
    return _Recording.work(plan, *args)


def test_a_lazy_pool_forks_at_its_first_call_and_a_run_s_workers_inherit_the_built_plan(tmp_path, monkeypatch):
    """WorkerPool(lazy=True) forks nothing until its first submit (nor when stopped before one).
    A -j 2 run builds the first block's value functions and pools before that fork, so every
    worker finds them built (work._RUNTIMES) instead of building its own; the bytes are the
    -j 1 run's."""
    import io
    import json

    import dumpmask
    import dumpmask.parallel as parallel
    from dumpmask import work
    from dumpmask.crypto import Key
    from dumpmask.rules import load_rules
    from conftest import TEST_KEY

    idle = WorkerPool(2, lazy=True)
    assert not idle.started and idle.workers == []
    idle.shutdown()
    assert idle.workers == []
    with pytest.raises(WorkerLost):
        idle.submit(_echo_block, b"x")

    seen = tmp_path / "seen"
    monkeypatch.setattr(_Recording, "path", str(seen))
    monkeypatch.setattr(_Recording, "work", parallel._work)
    monkeypatch.setattr(parallel, "_work", _recording_work)
    here = []
    real_mask_block = parallel.mask_block
    monkeypatch.setattr(parallel, "mask_block", lambda plan, block: here.append(os.getpid()) or real_mask_block(plan, block))
    # MySQL INSERTs of ~200 KB: every block goes to a worker, none is masked in this process
    inserts = b"".join(b"INSERT INTO `t` VALUES " + b",".join(
        b"(%d,'person%d@example.org')" % (i, i) for i in range(k * 8000 + 1, k * 8000 + 8001)) + b";\n" for k in range(6))
    dump = (b"-- MariaDB dump 10.19\nCREATE TABLE `t` (\n  `id` int NOT NULL,\n  `email` varchar(200)\n);\n"
            + inserts)
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "t", "columnMutations": [
        {"column": "email", "mutation": "faker.email"}]}]}))
    outs = {}
    for jobs in (1, 2):
        work._RUNTIMES.clear()
        here.clear()
        dst = io.BytesIO()
        dumpmask.mask(io.BytesIO(dump), dst, load_rules(str(rules)), Key(TEST_KEY.encode()), jobs=jobs)
        outs[jobs] = dst.getvalue()
    assert here == []       # (-j 2: no block masked in this process)
    assert outs[1] == outs[2]
    lines = seen.read_text().split()
    pids, inherited = set(lines[0::2]), lines[1::2]
    assert len(inherited) >= 2 and os.getpid() not in {int(p) for p in pids}
    assert set(inherited) == {"True"}
