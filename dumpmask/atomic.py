"""Files that appear under their name only when complete: a temporary file in the same folder,
flushed and fsynced, renamed over the final name when the run succeeded, removed when it did
not. A failed or killed run never leaves a plausible file under the final name, and a previous
good file there stays as it was. Write errors (a full disk, EIO, a quota) name the file.
"""
from __future__ import annotations

import errno
import os
import secrets

from dumpmask.errors import DumpmaskError
from dumpmask.speedups import start_writeback

#: bytes written between two starts of the disk's writes (see AtomicFile.write)
WRITEBACK_EVERY = 8 << 20


def write_error(path: str, e: OSError) -> DumpmaskError:
    """The message for a failed write: the file and the system's reason, never the data."""
    why = e.strerror or os.strerror(e.errno or errno.EIO)
    return DumpmaskError(f"cannot write {path}: {why}" + (" (the disk or quota is full)" if e.errno in (
        errno.ENOSPC, errno.EDQUOT) else ""))


class AtomicFile:
    """A binary file written as `path`.tmp-name and renamed to `path` by commit(); discard()
    (or close() without commit) removes it. Every OSError of a write becomes a DumpmaskError
    naming `path`."""

    def __init__(self, path: str, mode: int = 0o666, what: str = "output"):
        self.path = path
        folder = os.path.dirname(os.path.abspath(path)) or "."
        base = os.path.basename(path)
        self.tmp = os.path.join(folder, f".{base}.dumpmask-{secrets.token_hex(4)}.tmp")
        self._dir = folder
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
        except OSError as e:
            raise DumpmaskError(f"cannot write {what} {path}: {e.strerror}") from None
        self._fh = os.fdopen(fd, "wb", buffering=1 << 16)
        self.done = False
        self._written = 0           # bytes given to write()
        self._started = 0           # the file's pages before this offset are on their way to the disk
        self._writeback = True      # False once the file said it does not take the hint

    # the file-object surface the engine, the compressors and HashingWriter use
    def write(self, data) -> int:
        """Every WRITEBACK_EVERY bytes the disk is told to start writing what the kernel holds
        (start_writeback), so commit()'s fsync waits for the last stretch, not the whole file:
        at 1 GB that fsync took ~1.6 s at the end of a run on the AMD EPYC VM (bench/README.md)."""
        try:
            n = self._fh.write(data)
        except OSError as e:
            raise write_error(self.path, e) from None
        self._written += n
        if self._writeback and self._written - self._started >= WRITEBACK_EVERY:
            self._writeback = start_writeback(self._fh.fileno(), self._started)
            # what is still in the 64 KiB buffer reaches the kernel later: the next call covers it
            self._started = max(self._started, self._written - (1 << 16))
        return n

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as e:
            raise write_error(self.path, e) from None

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fh.fileno()

    @property
    def closed(self) -> bool:
        return self._fh.closed

    def commit(self) -> None:
        """Flush, fsync, rename over `path`, fsync the folder."""
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.discard()
            raise write_error(self.path, e) from None
        self.done = True
        _fsync_dir(self._dir)

    def discard(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass
        try:
            os.unlink(self.tmp)
        except OSError:
            pass

    def close(self) -> None:
        if not self.done:
            self.discard()


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: str, data: bytes, what: str = "output") -> None:
    """`data` as the whole of `path`, atomically (an audit, a report, a rules file); `what` names
    it in an error ("cannot write audit PATH: ...")."""
    f = open_atomic(path, what)
    try:
        f.write(data)
        f.commit()
    finally:
        f.close()


class NamedOutput:
    """A stream (stdout) whose write errors name it; a closed downstream pipe (BrokenPipeError)
    passes through as it is (the CLI ends quietly)."""

    def __init__(self, raw, name: str):
        self._raw, self.name = raw, name

    def write(self, data) -> int:
        try:
            return self._raw.write(data)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise write_error(self.name, e) from None

    def flush(self) -> None:
        try:
            self._raw.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise write_error(self.name, e) from None

    def __getattr__(self, attr):
        return getattr(self._raw, attr)


class DirectFile(NamedOutput):
    """An output that is not a regular file (/dev/null, a FIFO, a terminal, a character
    device): written in place, since renaming a file over it would replace the device."""

    def __init__(self, path: str, what: str = "output"):
        try:
            raw = open(path, "wb")
        except OSError as e:
            raise DumpmaskError(f"cannot write {what} {path}: {e.strerror}") from None
        super().__init__(raw, path)

    def commit(self) -> None:
        self.flush()

    def close(self) -> None:
        try:
            self._raw.close()
        except OSError:
            pass


def open_atomic(path: str, what: str = "output"):
    """AtomicFile for a regular file (or a new one; through a symlink, the file it names),
    DirectFile for anything else that exists (/dev/null, a FIFO)."""
    import stat

    try:
        st = os.stat(path)
    except FileNotFoundError:
        return AtomicFile(path, what=what)
    except OSError as e:
        raise DumpmaskError(f"cannot write {what} {path}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        return DirectFile(path, what)
    return AtomicFile(os.path.realpath(path) if os.path.islink(path) else path, what=what)
