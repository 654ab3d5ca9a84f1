"""A progress line on stderr, for long runs in a terminal."""
from __future__ import annotations

import sys
import time


class Progress:
    """A progress line on stderr (only when it is a terminal)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.t0 = time.monotonic()
        self.last = 0.0

    def update(self, nbytes: int, table: str | None, force: bool = False) -> None:
        """force: shown now (the last figures of a run), not at most twice a second."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.5 and not force:
            return
        self.last = now
        el = max(now - self.t0, 1e-6)
        sys.stderr.write(f"\rdumpmask: {nbytes / 1e6:9.1f} MB  {nbytes / 1e6 / el:6.1f} MB/s  {table or '':<40.40}")
        sys.stderr.flush()

    def done(self):
        if self.enabled and self.last:
            sys.stderr.write("\n")

    def break_line(self):
        """End the line shown (a warning is printed next); the next update starts a new one."""
        self.done()
        self.last = 0.0
