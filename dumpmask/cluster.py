"""Where the work unit runs past one machine: the workers of a Dask distributed cluster
(`mask --cluster ADDRESS`, the optional extra `dumpmask[cluster]`).

ClusterOutput is parallel.ParallelOutput with another place to send blocks: the same
`submit / emit / drain / close`, results written in input order, at most
IN_FLIGHT_PER_WORKER blocks per worker in flight, small blocks (< MIN_PARALLEL) masked
in-process, a block that fails on a worker masked again in-process for the exact message.
What is sent:

- each table plan once per worker: scattered (broadcast) with a token unique to the run, so
  that a long-lived worker never reuses the value functions of another run's plan, and with
  the fingerprint of this dumpmask's code: a worker running other code (another version,
  another Faker) would write other bytes, so it refuses the block and the run fails;
- each block as its bytes and where it came from (kind, first line, rows before it, the
  tuples or lines the row filters kept), never the engine's parsed statement.

A worker masks one block at a time (value functions and their counters are per process):
start workers with one thread each and as many processes as cores
(`dask worker ADDRESS --nworkers N --nthreads 1`).

Failures (exit 1, never a traceback, the output ends with the engine's poison line):
nothing listening at ADDRESS (a quick TCP probe says so at once), no scheduler answering or
no worker joining within the timeout, a block that killed its workers (Dask's KilledWorker),
the scheduler going away (its futures are cancelled), no block result within the timeout
(every worker gone). The timeout is `--cluster-timeout` (DEFAULT_TIMEOUT seconds). A worker
that dies while others live is Dask's to recover: its blocks run again elsewhere (a block is
a pure function of plan and bytes: the same output), or on the worker its nanny restarts.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import logging
import threading
import uuid
from pathlib import Path

from dumpmask.errors import DumpmaskError
from dumpmask.parallel import IN_FLIGHT_PER_WORKER, Output, ParallelOutput
from dumpmask.work import DataBlock, TablePlan, mask_block

DEFAULT_TIMEOUT = 60.0        # seconds: connect, first worker, any one block's result
PROBE_TIMEOUT = 10.0          # seconds: the TCP probe of a tcp:// scheduler address
INSTALL = 'pip install "dumpmask[cluster]"'


class ClusterError(DumpmaskError):
    """The cluster could not do its part of the run (exit 1)."""


class ClusterUsageError(DumpmaskError):
    """--cluster cannot be used as given (the extra is missing, the address is malformed): exit 2."""

    exit_code = 2


def require() -> None:
    """Dask distributed is importable, else a usage error with the command that installs it."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterUsageError(f"--cluster needs Dask distributed, which is not installed: {INSTALL}") from None


def public_address(address: str) -> str:
    """The scheduler address for messages and the audit: scheme://host:port, no credentials."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    host = rest.rpartition("@")[2]
    return f"{scheme}://{host}"


def check_address(address: str) -> str:
    """A scheduler address as Dask takes it (tcp://host:port, tls://..., or host:port);
    ClusterUsageError (exit 2) otherwise. Returns it as Dask will be given it."""
    require()
    from distributed.comm.addressing import parse_address, parse_host_port

    if not isinstance(address, str) or not address.strip():
        raise ClusterUsageError("--cluster needs the Dask scheduler's address, e.g. tcp://scheduler:8786")
    address = address.strip()
    if "@" in address:
        raise ClusterUsageError(f"--cluster {public_address(address)}: give the address without credentials "
                                "(Dask takes TLS settings from its configuration)")
    try:
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError:
        raise ClusterUsageError(f"--cluster {address!r} is not a Dask scheduler address (e.g. tcp://scheduler:8786)") from None
    return address


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """What decides the output bytes besides the key and rules: this dumpmask's Python source
    and the Faker version its pools come from."""
    from importlib.metadata import version

    package = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(b"faker " + version("faker").encode())
    from dumpmask.version import __version__

    return f"{__version__}+{h.hexdigest()[:16]}"


# --------------------------------------------------------------------------- on a worker

_ONE_AT_A_TIME = threading.Lock()   # a plan's runtime (memos, counters) is per process


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:      # not in a worker (tests calling the function directly)
        return "local"


def _mask_on_worker(shipped, kind: str, data: bytes, first_line: int, row0: int, keep, rows):
    """On a Dask worker: ("ok", ((bytes, counts), worker)) | ("error", exception type name)
    (the engine masks the block again to report it exactly) | ("mismatch", (worker, code))."""
    fingerprint, plan = shipped
    mine = code_fingerprint()
    if mine != fingerprint:
        return "mismatch", (_worker_address(), mine)
    block = DataBlock(kind, data, first_line, row0, keep=keep, rows=rows)
    with _ONE_AT_A_TIME:
        try:
            result = mask_block(plan, block)
        except Exception as e:  # noqa: BLE001 - reported by the engine's own re-run of the block
            return "error", type(e).__name__
    return "ok", (result, _worker_address())


def _file_on_worker(fingerprint: str, fn, args):
    """On a Dask worker: a per-file work unit fn(args) -> (ok, result) (pipeline._file_work:
    the worker reads and writes the table file itself), as ("ok" | "error", result, worker)."""
    mine = code_fingerprint()
    if mine != fingerprint:
        return "mismatch", (_worker_address(), mine), None
    with _ONE_AT_A_TIME:
        ok, result = fn(args)
    return ("ok" if ok else "error"), result, _worker_address()


def _paths_on_worker(readable, writable) -> list:
    """On every worker before per-file work: (path, why) for each path (a local path or an
    fsspec URL: storage.py) it cannot read or write."""
    from dumpmask.storage import problem_on_this_machine

    found = [(p, problem_on_this_machine(p, write=False)) for p in readable]
    found += [(p, problem_on_this_machine(p, write=True)) for p in writable]
    return [(p, why) for p, why in found if why]


async def _forget_on_worker(tokens) -> int:
    """On every worker at the end of a run: drop the value functions of the run's plans (a
    coroutine: Client.run(wait=False) takes only those)."""
    from types import SimpleNamespace

    from dumpmask.work import forget

    for token in tokens:
        forget(SimpleNamespace(token=token))
    return len(tokens)


# --------------------------------------------------------------------------- in the engine's process

def _probe(address: str, timeout: float) -> None:
    """A tcp:// scheduler: is anything listening? (Dask itself retries a refused connection
    until its timeout; a probe says at once.)"""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme != "tcp":
        return
    host, port = parse_host_port(location)
    where = public_address(address)
    try:
        socket.create_connection((host, port), timeout=min(timeout, PROBE_TIMEOUT)).close()
    except ConnectionRefusedError:
        raise ClusterError(f"cannot connect to the Dask scheduler at {where}: connection refused "
                           "(is `dask scheduler` running there?)") from None
    except socket.gaierror:
        raise ClusterError(f"cannot connect to the Dask scheduler at {where}: unknown host") from None
    except TimeoutError:
        raise ClusterError(f"cannot connect to the Dask scheduler at {where}: no answer in "
                           f"{min(timeout, PROBE_TIMEOUT):g} s") from None
    except OSError as e:
        raise ClusterError(f"cannot connect to the Dask scheduler at {where}: {e.strerror or type(e).__name__}") from None


class _QuietDistributed:
    """distributed logs its reconnect attempts and their tracebacks on stderr; during a run the
    messages are dumpmask's own (ClusterError), so its loggers are raised above CRITICAL."""

    NAMES = ("distributed", "distributed.client", "distributed.core", "distributed.comm", "distributed.batched")

    def __init__(self):
        self.saved = {}

    def __enter__(self):
        for name in self.NAMES:
            logger = logging.getLogger(name)
            self.saved[name] = logger.level
            logger.setLevel(logging.CRITICAL + 1)
        return self

    def restore(self) -> None:
        for name, level in self.saved.items():
            logging.getLogger(name).setLevel(level)
        self.saved = {}


def audit_info(address: str) -> dict:
    """The audit's options.cluster before anything was masked (ClusterOutput fills it in)."""
    return {"scheduler": public_address(address), "workers": 0, "blocks": 0, "bytes_sent": 0, "bytes_received": 0,
            "files": 0}


class ClusterOutput(ParallelOutput):
    """Blocks masked on a Dask cluster's workers; results written in input order.
    `info` is the audit's options.cluster: the scheduler address, the workers that masked at
    least one block, how many blocks they masked, the block bytes sent and the masked bytes
    received."""

    def __init__(self, write, address: str, timeout: float | None = None, info: dict | None = None):
        Output.__init__(self, write)
        address = check_address(address)
        self.address = address
        self.where = public_address(address)
        self.timeout = float(timeout if timeout is not None else DEFAULT_TIMEOUT)
        self.info = info if info is not None else audit_info(address)
        self.pending: collections.deque = collections.deque()
        self._used: set = set()
        self._plans: dict = {}        # plan token -> future of the scattered (fingerprint, plan)
        self._run = uuid.uuid4().hex  # the run's part of every plan token sent
        self._broken = False
        self._quiet = _QuietDistributed().__enter__()
        self.client = None
        try:
            self.client = self._connect()
            self.workers = self._check_workers()
        except BaseException:
            self.close()
            raise
        self.limit = IN_FLIGHT_PER_WORKER * self.workers

    def _fail(self, message: str) -> ClusterError:
        self._broken = True
        return ClusterError(message)

    def _connect(self):
        from distributed import Client

        _probe(self.address, self.timeout)
        try:
            # results come straight from the workers (not relayed by the scheduler); a block
            # goes with its task, through the scheduler, which can run it again if its worker dies
            client = Client(self.address, timeout=self.timeout, set_as_default=False, direct_to_workers=True)
        except (OSError, TimeoutError) as e:
            raise self._fail(f"cannot connect to the Dask scheduler at {self.where} in {self.timeout:g} s "
                             f"({type(e).__name__}; --cluster-timeout)") from None
        try:
            client.wait_for_workers(1, timeout=self.timeout)
        except (OSError, TimeoutError):
            client.close(timeout=5)
            raise self._fail(f"no Dask worker joined the scheduler at {self.where} in {self.timeout:g} s "
                             f"(start one: dask worker {self.where} --nthreads 1)") from None
        return client

    def _check_workers(self) -> int:
        """Every worker runs this dumpmask (the same code gives the same bytes): the number of
        worker processes."""
        mine = code_fingerprint()
        try:
            theirs = self.client.run(code_fingerprint)
        except Exception as e:  # noqa: BLE001 - whatever a worker raised: it cannot run dumpmask
            raise self._fail(f"a Dask worker of {self.where} cannot run dumpmask ({type(e).__name__}): every worker "
                             f"needs this dumpmask ({mine}) installed") from None
        wrong = sorted(w for w, code in theirs.items() if code != mine)
        if wrong:
            raise self._fail(f"Dask worker {wrong[0]} runs other dumpmask code ({theirs[wrong[0]]}, here {mine}): "
                             "its output would differ; install the same dumpmask on every worker")
        return max(1, len(theirs))

    # -- per-file work (a directory archive on storage every worker sees)

    def file_pool(self, readable, writable) -> _FilePool:
        """A pool-like front (submit(fn, args) -> future with result() -> (ok, result); cancel;
        shutdown) for per-file work units on the workers, once every worker can read
        `readable` and write into `writable` (absolute paths)."""
        try:
            missing = self.client.run(_paths_on_worker, list(readable), list(writable))
        except Exception as e:  # noqa: BLE001 - whatever a worker raised: it cannot do the file work
            raise self._fail(f"cannot check the archive's paths on the Dask workers of {self.where} "
                             f"({type(e).__name__})") from None
        from dumpmask.storage import is_url, public

        for worker, paths in sorted(missing.items()):
            if paths:
                path, why = paths[0]
                if is_url(path):
                    raise self._fail(f"Dask worker {worker}: {why} (with --cluster every worker opens the archive's "
                                     "URLs itself: it needs fsspec, the protocol's package and the credentials)")
                raise self._fail(f"Dask worker {worker} {why} {public(path)}: with --cluster a directory archive and "
                                 "its output must be on storage every worker sees at the same path")
        return _FilePool(self)

    def _submit_file(self, fn, args):
        """fn(args) on a worker; args with the plan's token made the run's, and the SQL of a
        part of a split table file (split.py: bytes) scattered to the workers first (a task's
        own arguments travel through the scheduler)."""
        args = tuple(dataclasses.replace(a, token=f"{self._run}-{a.token}") if isinstance(a, TablePlan) else a
                     for a in args)
        try:
            if any(isinstance(a, bytes) for a in args):
                args = tuple(self._scattered(a) if isinstance(a, bytes) else a for a in args)
            return self.client.submit(_file_on_worker, code_fingerprint(), fn, args, pure=False)
        except Exception as e:  # noqa: BLE001 - a closed client: the scheduler went away
            raise self._fail(f"cannot send a table file to the Dask cluster at {self.where} ({type(e).__name__})") from None

    def _scattered(self, data: bytes):
        [future] = self.client.scatter([data], hash=False, timeout=self.timeout)
        self.info["bytes_sent"] += len(data)
        return future

    def _file_result(self, future):
        status, result, worker = self._result_of(future, patient=True)
        if status == "mismatch":
            raise self._fail(f"Dask worker {result[0]} runs other dumpmask code ({result[1]}, here {code_fingerprint()}): "
                             "its output would differ; install the same dumpmask on every worker")
        if status != "ok":
            return False, result
        self._used.add(worker)
        self.info["workers"] = len(self._used)
        self.info["files"] += 1
        self.info["bytes_received"] += len(getattr(result, "stored", b""))   # (a part of a split file: split.py)
        return True, result

    # -- sending and receiving

    def _shipped(self, plan):
        future = self._plans.get(plan.token)
        if future is None:
            remote = dataclasses.replace(plan, token=f"{self._run}-{plan.token}")
            try:
                [future] = self.client.scatter([(code_fingerprint(), remote)], broadcast=True, hash=False,
                                               timeout=self.timeout)
            except Exception as e:  # noqa: BLE001 - the scheduler or its workers are gone
                raise self._fail(f"cannot send the plan of {plan.table} to the Dask cluster at {self.where} "
                                 f"({type(e).__name__})") from None
            self._plans[plan.token] = future
        return future

    def _dispatch(self, planned, block):
        shipped = self._shipped(planned.plan)
        try:
            future = self.client.submit(_mask_on_worker, shipped, block.kind, block.data, block.first_line, block.row0,
                                        block.keep, block.rows, pure=False)
        except Exception as e:  # noqa: BLE001 - a closed client: the scheduler went away
            raise self._fail(f"cannot send a block of {planned.plan.table} to the Dask cluster at {self.where} "
                             f"({type(e).__name__})") from None
        self.info["bytes_sent"] += len(block.data)
        return future

    def _result(self, future):
        status, payload = self._result_of(future)
        if status == "mismatch":
            worker, code = payload
            raise self._fail(f"Dask worker {worker} runs other dumpmask code ({code}, here {code_fingerprint()}): "
                             "its output would differ; install the same dumpmask on every worker")
        if status != "ok":
            return False, payload
        result, worker = payload
        self._used.add(worker)
        self.info["workers"] = len(self._used)
        self.info["blocks"] += 1
        self.info["bytes_received"] += len(result[0])
        return True, result

    def _result_of(self, future, patient: bool = False):
        """A future's value, or ClusterError for what the cluster did to it. `patient`: a table
        file or a part of one (minutes of work, not a ~1 MB block): past the timeout it is
        waited for as long as the scheduler still has workers."""
        from concurrent.futures import CancelledError

        from distributed import KilledWorker

        try:
            while True:
                try:
                    return future.result(timeout=self.timeout)
                except TimeoutError:
                    if not (patient and self._has_workers()):
                        raise
        except TimeoutError:
            raise self._fail(f"no result from the Dask cluster at {self.where} for {self.timeout:g} s "
                             "(no worker left? --cluster-timeout)") from None
        except (CancelledError, OSError) as e:   # futures cancelled, CommClosedError
            reason = getattr(e, "reason", None)
            if reason is None or "connection" in reason:
                raise self._fail(f"lost the connection to the Dask scheduler at {self.where} "
                                 f"({type(e).__name__}) in the middle of the run") from None
            raise self._fail(f"the Dask scheduler at {self.where} cancelled a block ({reason}): were its workers "
                             "lost with the plan they held?") from None
        except KilledWorker:
            raise self._fail(f"a block was lost with the Dask workers that ran it, several times (KilledWorker, "
                             f"scheduler {self.where})") from None
        except Exception as e:  # noqa: BLE001 - raised by Dask, not by the work unit (that one returns "error")
            raise self._fail(f"the Dask cluster at {self.where} failed a block ({type(e).__name__})") from None

    def _has_workers(self) -> bool:
        try:
            return bool(self.client.nthreads())
        except Exception:  # noqa: BLE001 - the scheduler cannot answer: no result will come
            return False

    def close(self) -> None:
        client, self.client = self.client, None
        futures = [item.future for item in self.pending if not isinstance(item, bytes) and item.future is not None]
        self.pending.clear()
        try:
            if client is not None:
                if not self._broken:
                    try:
                        if futures:
                            client.cancel(futures)
                        if self._plans:
                            tokens = [f"{self._run}-{token}" for token in self._plans]
                            client.cancel(list(self._plans.values()))
                            client.run(_forget_on_worker, tokens, on_error="ignore", wait=False)
                    except Exception:  # noqa: BLE001 - a tidy-up on a cluster that may be gone: close anyway
                        self._broken = True
                self._plans.clear()
                try:
                    client.close(timeout=5 if not self._broken else 2)
                except Exception:  # noqa: BLE001, S110 - closing a client whose scheduler is gone
                    pass
        finally:
            self._quiet.restore()


class _FilePool:
    """ClusterOutput's per-file work as the pipeline's pool takes it (submit / result / cancel
    / shutdown); the client is the ClusterOutput's, closed with it."""

    def __init__(self, output: ClusterOutput):
        self.output = output
        self.workers = output.workers

    def submit(self, fn, args) -> _FileFuture:
        return _FileFuture(self.output, self.output._submit_file(fn, args))

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


class _FileFuture:
    __slots__ = ("output", "future")

    def __init__(self, output: ClusterOutput, future):
        self.output, self.future = output, future

    def result(self):
        return self.output._file_result(self.future)

    def cancel(self) -> None:
        try:
            self.future.cancel()
        except Exception:  # noqa: BLE001, S110 - a failed run's tidy-up on a cluster that may be gone
            pass
