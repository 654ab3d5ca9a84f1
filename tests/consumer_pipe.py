"""A consumer that reads a little of dumpmask's standard output and goes away, without a race.

A plain `dumpmask ... | head -1` is racy when the output is smaller than the pipe's buffer
(64 KB on Linux): if head is slow to read, dumpmask writes everything into the buffer and exits
0 before head closes its end (tests/test_io_misc.py's transformers test failed so in CI). Here
the pipe's buffer is cut to one page (F_SETPIPE_SZ) and the reader closes its end after one
read: a writer with more than two pages to write cannot finish, and must see the closed pipe."""
from __future__ import annotations

import fcntl
import os
import subprocess

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PAGE = 4096


def small_pipe() -> tuple[int, int]:
    """(read fd, write fd) of a pipe holding one page."""
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, PAGE)
    return r, w


def run_into_vanishing_reader(argv, *, env=None, cwd=None, read: int = 100, stdin=subprocess.DEVNULL,
                              timeout: float = 300):
    """Run argv with its stdout on a one-page pipe; read up to `read` bytes (one read), close the
    read end. Returns (returncode, bytes read, stderr)."""
    r, w = small_pipe()
    try:
        p = subprocess.Popen(argv, stdin=stdin, stdout=w, stderr=subprocess.PIPE, env=env, cwd=cwd)
    finally:
        os.close(w)
    try:
        got = os.read(r, read)
    finally:
        os.close(r)            # the consumer goes away
    err = p.stderr.read()
    p.stderr.close()
    return p.wait(timeout=timeout), got, err
