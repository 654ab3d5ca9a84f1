"""The optional C extension, loaded in one place: `C` is dumpmask._speedups, or None when it is
not built or DUMPMASK_PURE=1 is set at import time; every user then runs its pure-Python twins
(the same bytes: tests/test_speedups.py). `function(name)` is one of its functions, or None when
the extension is off or was built from an older _speedups.c without it."""
from __future__ import annotations

import importlib
import os

PURE: bool = os.environ.get("DUMPMASK_PURE", "").strip().lower() in ("1", "true", "yes", "on")


def _load():
    if PURE:
        return None
    try:
        # found by name (importlib): the C extension is an optional part, not an import of the package
        return importlib.import_module("dumpmask._speedups")
    except ModuleNotFoundError as e:   # not built: the pure-Python twins (the same bytes)
        if e.name != "dumpmask._speedups":
            raise
        return None


C = _load()


def function(name: str):
    return getattr(C, name, None) if C is not None else None


def _py_count_nl(data) -> int:
    """count_nl's pure twin."""
    return data.count(b"\n")


#: data.count(b"\n"), by memchr in C (~5x faster: 0.10 against 0.51 s per GB on dump data)
count_nl = function("count_nl") or _py_count_nl


HEAP_KEEP = 32 << 20        # freed heap kept for reuse (below this much the top is not trimmed)
HEAP_MMAP = 16 << 20        # allocations from this size get their own mapping (returned when freed)


def keep_heap() -> bool:
    """Let glibc's malloc keep freed blocks for reuse instead of returning them to the kernel.
    A run allocates and frees a ~1 MB buffer or two per block; by default glibc gives the top of
    the heap back whenever more than twice the largest freed block is free, so each new buffer
    faulted its pages in again (a page fault and a cleared page per 4 KiB: ~0.6 s of CPU per GB
    of -j 2 on the AMD EPYC VM, ~26,000 faults per worker per 100 MB; a -j 1 PostgreSQL run
    ~600,000 per GB). Freed memory held this way stays below HEAP_KEEP. In C (mallopt) when the
    extension is built, else through ctypes; False, nothing done, where it is not glibc."""
    c = function("keep_heap")
    if c is not None:
        return c(HEAP_MMAP, HEAP_KEEP)
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError, TypeError):   # (TypeError: CDLL(None) off POSIX)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3     # glibc's mallopt parameters
    # the mmap threshold first: setting either one stops glibc's own adjustment of both
    return bool(mallopt(m_mmap_threshold, HEAP_MMAP)) and bool(mallopt(m_trim_threshold, HEAP_KEEP))


def _no_writeback(fd: int, offset: int) -> bool:
    """start_writeback's twin without the extension: nothing started (the commit's fsync then
    writes the whole file; the same bytes, later)."""
    return False


#: start writing a file's pages from `offset` to its end to the disk, without waiting for them
#: (Linux sync_file_range; atomic.AtomicFile calls it as its output grows)
start_writeback = function("start_writeback") or _no_writeback
