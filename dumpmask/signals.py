"""SIGTERM and SIGHUP (a timeout, systemd, a CI cancellation) end a run as Ctrl-C does: the
handler raises `Terminated` where the program is, so the engine writes the poison line that
makes the restore fail and records the failed audit on its way out; the caller exits
128 + the signal's number."""
from __future__ import annotations

import signal
import threading

from dumpmask.errors import Terminated

_HANDLED: list = []  # the signals whose handler is ours, to ignore them all once one arrived


def _on_terminate(signum, frame):
    """Raise Terminated; later signals are ignored meanwhile (the run is already ending)."""
    for handled in _HANDLED:
        try:
            signal.signal(handled, signal.SIG_IGN)
        except (ValueError, OSError):
            pass
    raise Terminated(signum)


def install_terminate_handlers() -> None:
    """Handle SIGTERM and SIGHUP as above. Only the main thread can install handlers (a
    library caller's worker thread keeps the defaults); a signal already ignored (nohup)
    stays ignored, as the user asked."""
    if threading.current_thread() is not threading.main_thread():
        return
    _HANDLED.clear()
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        try:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue
            signal.signal(signum, _on_terminate)
            _HANDLED.append(signum)
        except (ValueError, OSError):
            pass
