"""Forked worker processes that take their input from, and put their result into, memory
shared with the parent (-j N; parallel.py and the compression of the output use it).

What a call costs is what it copies. concurrent.futures' process pool pickles a 1 MB block
into a pipe and back (about four copies each way, through a feeder and a manager thread): ~4.5
s of CPU per GB on this kind of machine, as much as a sixth of the masking. Here the block is
copied once into a slot of a shared anonymous mapping made before the workers are forked,
the worker copies it out and copies its result back in, and the parent copies the result out:
~0.35 s per GB. Only a small header and a small pickle of the call (the function, its small
arguments, the counts of the result) go through each worker's own pair of pipes; what does
not fit in a slot (a block larger than SLOT_BYTES, a large pickle) goes through the pipe.

    pool = WorkerPool(2)
    future = pool.submit(fn, arg1, data)     # data (bytes) last: through a slot
    future.result()                          # fn(arg1, data); a bytes result (or the bytes of
                                             # a (bytes, extra) result) comes back through it
    pool.submit(fn, args..., shared=(token, obj))   # obj sent once per worker: fn(obj, ...)

    future = pool.submit(fn, data, view=True)   # the result's bytes as a memoryview of the
    future.result(); ...; future.release()      # slot, valid until release() (no copy out)

Each worker serves its calls in the order it got them; the parent gives a call to the worker
with the fewest calls outstanding (completed results are collected first, without waiting).
Deadlock-free by construction: the parent's writes to a worker are a header of at most
SMALL_CALL bytes (a worker has at most MAX_PER_WORKER outstanding, so they fit in the pipe's
buffer) unless the worker has nothing outstanding (then it is reading), and the parent never
writes while a worker waits for it to read.

A worker that dies (killed, out of memory) is noticed at the next read or write on its pipes:
WorkerLost (a DumpmaskError: the run fails closed), and every later call fails too. An
exception in the called function comes back as WorkerError with the exception's type name
only (a message may quote data).
"""
from __future__ import annotations

import collections
import gc
import mmap
import os
import pickle
import select
import signal
import struct
import time

from dumpmask.errors import DumpmaskError
from dumpmask.speedups import keep_heap   # glibc keeps freed blocks: the pool and, through the fork, its workers

SLOT_BYTES = 8 << 20        # one call's input and (after it) its result; larger goes by pipe
SMALL_CALL = 3072           # pickled call bytes sent in the header message (more: in the slot)
MAX_PER_WORKER = 12         # outstanding calls per worker (x SMALL_CALL < a pipe's 64 KiB)

_TASK = struct.Struct("<iIQB")      # slot, pickled call length, data length, flags
_CALL_IN_SLOT, _DATA_IN_SLOT, _HAS_DATA, _ON_PIPE = 1, 2, 4, 8
_RESULT = struct.Struct("<BBIQB")   # status, shape, pickled extra length, payload length, in slot
_OK, _RAISED = 0, 1
_SHAPE_BYTES, _SHAPE_PAIR, _SHAPE_OTHER = 0, 1, 2


class WorkerLost(DumpmaskError):
    """A worker process died (or its pipe broke) with calls outstanding: the run cannot finish."""


class WorkerError(Exception):
    """The called function raised in the worker; `name` is the exception's type name."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"{name} in a worker process")


def _read_exact(fd: int, n: int) -> bytes:
    """n bytes from fd (EOFError at the end of the file before them)."""
    if n == 0:
        return b""
    first = os.read(fd, n)
    if len(first) == n:
        return first
    if not first:
        raise EOFError
    parts, got = [first], len(first)
    while got < n:
        part = os.read(fd, min(n - got, 1 << 20))
        if not part:
            raise EOFError
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _write_all(fd: int, *pieces) -> None:
    for piece in pieces:
        view = memoryview(piece)
        while view:
            view = view[os.write(fd, view):]


def _split_result(result):
    """(shape, payload bytes or None, what is pickled)."""
    if type(result) is bytes:
        return _SHAPE_BYTES, result, None
    if type(result) is tuple and len(result) == 2 and type(result[0]) is bytes:
        return _SHAPE_PAIR, result[0], result[1]
    return _SHAPE_OTHER, None, result


def _serve(task_fd: int, result_fd: int, arena: mmap.mmap, slot_bytes: int) -> None:
    """A worker's loop: one call at a time, until the parent closes the task pipe."""
    shared: dict = {}
    while True:
        try:
            head = _read_exact(task_fd, _TASK.size)
        except EOFError:
            return      # the parent closed the pipe: the run is over
        slot, call_len, data_len, flags = _TASK.unpack(head)
        base = at = slot * slot_bytes
        if flags & _CALL_IN_SLOT:
            call = arena[at:at + call_len]
            at += call_len
        else:
            call = _read_exact(task_fd, call_len)
        data = None
        if flags & _HAS_DATA:
            data = arena[at:at + data_len] if flags & _DATA_IN_SLOT else _read_exact(task_fd, data_len)
        fn, token, obj, args = pickle.loads(call)
        call = None
        if obj is not None:
            shared[token] = obj
        elif token is not None:
            obj = shared[token]
        try:
            if token is not None:
                args = (obj, *args)
            result = fn(*args) if data is None else fn(*args, data)
            status = _OK
        except Exception as e:  # noqa: BLE001 - goes back to the caller as WorkerError
            result, status = type(e).__name__, _RAISED
        data = args = None
        shape, payload, extra = _split_result(result) if status == _OK else (_SHAPE_OTHER, None, result)
        result = None
        extra_bytes = pickle.dumps(extra, pickle.HIGHEST_PROTOCOL) if extra is not None else b""
        in_slot = payload is not None and len(payload) <= slot_bytes
        if in_slot:
            arena[base:base + len(payload)] = payload
        plen = len(payload) if payload is not None else 0
        _write_all(result_fd, _RESULT.pack(status, shape, len(extra_bytes), plen, in_slot) + extra_bytes,
                   *([payload] if payload is not None and not in_slot else []))


def _child(task_fd: int, result_fd: int, arena, slot_bytes: int, close_fds) -> None:
    """The forked process: never returns (os._exit), so nothing of the parent's state (its
    buffered output, atexit handlers) is flushed or run twice."""
    code = 1
    try:
        for fd in close_fds:
            os.close(fd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C: the parent stops us
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)       # stdout may be the run's output: a worker never writes there
        os.close(null)
        _serve(task_fd, result_fd, arena, slot_bytes)
        code = 0
    except BaseException:  # noqa: BLE001, S110 - the parent sees the closed pipe (WorkerLost)
        pass
    finally:
        os._exit(code)


class _Worker:
    __slots__ = ("pid", "task_fd", "result_fd", "calls", "seen", "status")

    def __init__(self, pid: int, task_fd: int, result_fd: int):
        self.pid, self.task_fd, self.result_fd = pid, task_fd, result_fd
        self.calls: collections.deque = collections.deque()   # outstanding, in the order sent
        self.seen: set = set()        # shared tokens this worker holds
        self.status = None            # os.waitpid's status once reaped


class Call:
    """A submitted call (the part of concurrent.futures.Future that dumpmask uses)."""

    __slots__ = ("pool", "worker", "slot", "seq", "done", "value", "error", "view", "held")

    def __init__(self, pool, worker, slot, seq, view=False):
        self.pool, self.worker, self.slot, self.seq = pool, worker, slot, seq
        self.done = False
        self.value = self.error = None
        self.view = view          # submit(view=True): the payload stays in the slot until release()
        self.held = None          # that memoryview, while the slot is held

    def result(self, timeout=None):
        if not self.done:
            self.pool._until_done(self)
        if self.error is not None:
            raise self.error
        return self.value

    def cancel(self) -> bool:
        return False      # a call once sent runs; shutdown(cancel_futures=True) stops the workers

    def release(self) -> None:
        """submit(view=True): the result's memoryview is no longer used; its slot is free again."""
        held, self.held = self.held, None
        if held is not None:
            held.release()
            self.pool.free.append(self.slot)


class WorkerPool:
    """N forked worker processes with shared-memory slots (see the module's docstring)."""

    def __init__(self, workers: int, slots: int | None = None, slot_bytes: int = SLOT_BYTES, lazy: bool = False):
        """lazy=True: the workers are forked by the first submit (start()), so that they start
        with what this process built until then instead of building it again each."""
        self.slot_bytes = slot_bytes
        self.nslots = slots if slots is not None else 4 * workers + 4
        # anonymous and shared: the workers forked below see the same pages; only the pages
        # a call touches are ever allocated
        self.arena = mmap.mmap(-1, self.nslots * slot_bytes)
        self.free = list(range(self.nslots - 1, -1, -1))
        self.workers: list[_Worker] = []
        self.broken: WorkerLost | None = None
        self._seq = 0
        self._next = 0
        self._frozen = False
        self._to_start = workers
        if not lazy:
            self.start()

    @property
    def started(self) -> bool:
        return not self._to_start

    def start(self) -> None:
        """Fork the workers (once; submit calls it)."""
        if not self._to_start:
            return
        if self.broken is not None:
            raise self.broken
        n, self._to_start = self._to_start, 0
        # what exists now (modules, pools, plans) is left alone by the garbage collector until
        # shutdown: in the workers its pages stay shared instead of being copied by the first
        # collection, and here a collection no longer walks it (~4% of this process's time)
        gc.freeze()
        self._frozen = True
        keep_heap()     # here and, through the fork, in the workers
        try:
            for _ in range(n):
                self._fork()
        except BaseException:
            self.shutdown(cancel_futures=True)
            raise

    @property
    def size(self) -> int:
        return len(self.workers)

    def _fork(self) -> None:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        close_in_child = [task_w, result_r] + [fd for w in self.workers for fd in (w.task_fd, w.result_fd)]
        pid = os.fork()
        if pid == 0:
            _child(task_r, result_w, self.arena, self.slot_bytes, close_in_child)
        os.close(task_r)
        os.close(result_w)
        self.workers.append(_Worker(pid, task_w, result_r))

    # -- sending

    def submit(self, fn, *args, shared=None, view: bool = False) -> Call:
        """fn(*args) in a worker (fn(obj, *args) with shared=(token, obj)); a bytes-like last
        argument goes through a slot. view=True: a bytes result that came back through the slot
        is a memoryview of it (not copied out), valid until the call's release()."""
        if self.broken is not None:
            raise self.broken
        if self._to_start:
            self.start()
        data = None
        if args and isinstance(args[-1], (bytes, bytearray, memoryview)):
            data, args = args[-1], args[:-1]
        worker = self._pick()
        token, obj = shared if shared is not None else (None, None)
        send_obj = obj if token is not None and token not in worker.seen else None
        call = pickle.dumps((fn, token, send_obj, args), pickle.HIGHEST_PROTOCOL)
        slot = self._take_slot()
        base = at = slot * self.slot_bytes
        flags = _HAS_DATA if data is not None else 0
        dlen = len(data) if data is not None else 0
        pipe: list = []
        if len(call) > SMALL_CALL:
            if len(call) + dlen <= self.slot_bytes:
                flags |= _CALL_IN_SLOT
                self.arena[at:at + len(call)] = call
                at += len(call)
            else:
                flags |= _ON_PIPE
                pipe.append(call)
        else:
            pipe.append(call)
        if data is not None:
            if not flags & _ON_PIPE and at + dlen <= base + self.slot_bytes:
                flags |= _DATA_IN_SLOT
                self.arena[at:at + dlen] = data
            else:
                flags |= _ON_PIPE
                pipe.append(data)
        if flags & _ON_PIPE:
            # more than a header: only to a worker that is waiting for its next call
            while worker.calls:
                self._receive(worker)
        self._seq += 1
        c = Call(self, worker, slot, self._seq, view)
        try:
            _write_all(worker.task_fd, _TASK.pack(slot, len(call), dlen, flags), *pipe)
        except OSError:
            self.free.append(slot)
            raise self._lost(worker) from None
        if send_obj is not None:
            worker.seen.add(token)
        worker.calls.append(c)
        return c

    def _pick(self) -> _Worker:
        """The worker with the fewest outstanding calls (results already there are taken
        first); in turn among equals."""
        busy = [w for w in self.workers if w.calls]
        if busy:
            poller = select.poll()      # (not select(): a descriptor may be above FD_SETSIZE)
            for w in busy:
                poller.register(w.result_fd, select.POLLIN)
            ready = {fd for fd, _ in poller.poll(0)}
            for w in busy:
                if w.result_fd in ready:
                    self._receive(w)
        while True:
            n = len(self.workers)
            order = [self.workers[(self._next + i) % n] for i in range(n)]
            worker = min(order, key=lambda w: len(w.calls))
            if len(worker.calls) < MAX_PER_WORKER:
                self._next = (self.workers.index(worker) + 1) % n
                return worker
            self._receive_oldest()

    def _take_slot(self) -> int:
        while not self.free:
            if not any(w.calls for w in self.workers):
                raise RuntimeError("every slot is held by a result not yet released")
            self._receive_oldest()
        return self.free.pop()

    # -- receiving

    def _receive_oldest(self) -> None:
        worker = min((w for w in self.workers if w.calls), key=lambda w: w.calls[0].seq)
        self._receive(worker)

    def _until_done(self, call: Call) -> None:
        while not call.done:
            self._receive(call.worker)

    def _receive(self, worker: _Worker) -> None:
        """The result of the worker's oldest outstanding call."""
        if self.broken is not None:
            raise self.broken
        try:
            head = _read_exact(worker.result_fd, _RESULT.size)
            status, shape, extra_len, plen, in_slot = _RESULT.unpack(head)
            extra = pickle.loads(_read_exact(worker.result_fd, extra_len)) if extra_len else None
            call = worker.calls[0]
            payload = None
            held = False
            if shape != _SHAPE_OTHER:
                if in_slot:
                    at = call.slot * self.slot_bytes
                    if call.view and status == _OK:
                        payload = call.held = memoryview(self.arena)[at:at + plen]
                        held = True
                    else:
                        payload = self.arena[at:at + plen]
                else:
                    payload = _read_exact(worker.result_fd, plen)
        except (OSError, EOFError):
            raise self._lost(worker) from None
        worker.calls.popleft()
        if not held:
            self.free.append(call.slot)     # (held: when the caller releases the view)
        call.done = True
        if status == _RAISED:
            call.error = WorkerError(extra)
        elif shape == _SHAPE_BYTES:
            call.value = payload
        elif shape == _SHAPE_PAIR:
            call.value = (payload, extra)
        else:
            call.value = extra

    def _lost(self, worker: _Worker) -> WorkerLost:
        if self.broken is None:
            for _ in range(100):     # its pipe closes as it exits: the status follows at once
                self._reap(worker, wait=False)
                if worker.status is not None:
                    break
                time.sleep(0.01)
            how = _how_it_ended(worker.status)
            self.broken = WorkerLost(f"a worker process (-j, pid {worker.pid}) {how} with work outstanding; "
                                     "the run cannot complete")
        return self.broken

    def _reap(self, worker: _Worker, wait: bool) -> None:
        if worker.status is not None:
            return
        try:
            pid, status = os.waitpid(worker.pid, 0 if wait else os.WNOHANG)
        except ChildProcessError:
            worker.status = -1
            return
        if pid:
            worker.status = status

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Stop the workers: they finish the call in hand (or are killed at once with
        cancel_futures, or when a call is still outstanding) and exit."""
        workers, self.workers = self.workers, []
        self._to_start = 0      # (a pool stopped before its first call never forks)
        for w in workers:
            if cancel_futures or w.calls:
                try:
                    os.kill(w.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for fd in (w.task_fd, w.result_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
        for w in workers:
            self._reap(w, wait=True)
        if self.broken is None:
            self.broken = WorkerLost("the worker processes were stopped")
        if self._frozen:
            self._frozen = False
            gc.unfreeze()
        try:
            self.arena.close()
        except BufferError:
            pass


def _how_it_ended(status) -> str:
    if status is None:
        return "closed its pipe"
    if status == -1:
        return "is gone"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"was killed by {name}"
    return f"exited with status {os.WEXITSTATUS(status)}"
