"""Where an archive's files are: a local path, or a URL that fsspec opens (s3://bucket/prod.dir,
ftp://host/backups/prod.dir, file:///backups/prod.dir, any protocol fsspec knows, when fsspec
and the protocol's package are installed: `pip install "dumpmask[cluster]"` brings fsspec with
Dask, and s3fs).

Every function takes a local path or a URL; a local path goes to `open` / `os` exactly as
before, a URL to fsspec. Credentials come from the protocol's own configuration (environment,
~/.aws, fsspec's FSSPEC_<PROTOCOL>_<OPTION> variables) on every machine that opens the URL; a
URL with a password in it (ftp://user:secret@host/...) is refused, since messages and the
audit name the URL.

Errors are StorageError (exit 1) naming the public URL and the error's type, never a server's
message (which may quote what it was sent); a URL that cannot be opened at all (fsspec or the
protocol's package missing, an unknown protocol) is a StorageUsageError (exit 2).
"""
from __future__ import annotations

import os
import posixpath

from dumpmask.errors import DumpmaskError
from dumpmask.lazy import lazy_pattern

_URL = lazy_pattern(globals(), "_URL", r"^[A-Za-z][A-Za-z0-9+.\-]*(?:::[A-Za-z][A-Za-z0-9+.\-]*)*://")
INSTALL = 'pip install "dumpmask[cluster]"'


class StorageError(DumpmaskError):
    """A URL's file could not be read or written (exit 1)."""


class StorageNotFound(StorageError, FileNotFoundError):
    """A URL's file that is not there: also a FileNotFoundError, as a missing local file is
    (callers that name what they were reading catch OSError)."""

    def __init__(self, message: str):
        import errno

        FileNotFoundError.__init__(self, errno.ENOENT, "No such file or directory")
        self.message = message

    def __str__(self) -> str:
        return self.message


class StorageUsageError(DumpmaskError):
    """A URL dumpmask cannot open at all (exit 2): fsspec or the protocol's package missing."""

    exit_code = 2


def is_url(path) -> bool:
    return isinstance(path, str) and _URL.match(path) is not None


def public(path: str) -> str:
    """`path` for messages and the audit: a URL without the user and password it may carry."""
    if not is_url(path):
        return path
    scheme, _, rest = path.partition("://")
    host, slash, tail = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{tail}"


def _fs(url: str):
    """(fsspec filesystem, path inside it) for a URL; StorageUsageError when it cannot be opened
    (or carries a password: the audit names the URL)."""
    if ":" in url.partition("://")[2].partition("/")[0].rpartition("@")[0]:
        raise StorageUsageError(f"{public(url)}: give the password through the protocol's configuration (e.g. "
                                "FSSPEC_FTP_PASSWORD, ~/.aws/credentials), not in the URL: messages and the audit "
                                "name the URL")
    try:
        import fsspec.core
    except ImportError:
        raise StorageUsageError(f"{public(url)}: reading and writing URLs needs fsspec, which is not installed: "
                                f"{INSTALL}") from None
    protocol = url.partition("://")[0].rpartition("::")[2]
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError:
        from fsspec.registry import known_implementations

        hint = known_implementations.get(protocol, {}).get("err") or f"install the fsspec implementation of {protocol}://"
        raise StorageUsageError(f"{public(url)}: {hint}") from None
    except ValueError:
        raise StorageUsageError(f"{public(url)}: fsspec knows no protocol {protocol}://") from None
    except Exception as e:  # noqa: BLE001 - a filesystem that fails to start (a refused connection, bad options)
        raise StorageError(f"{public(url)}: cannot connect ({_kind(e)})") from None


def _kind(e: BaseException) -> str:
    """An exception for a message: its type and, for an OSError, its errno text; not its
    message (a server's reply may quote what it was sent)."""
    text = getattr(e, "strerror", None) if isinstance(e, OSError) else None
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _call(url: str, what: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DumpmaskError:
        raise
    except FileNotFoundError:
        raise StorageNotFound(f"{public(url)}: cannot {what}: no such file or directory") from None
    except Exception as e:  # noqa: BLE001 - whatever the protocol raised (botocore, ftplib, aiohttp ...)
        raise StorageError(f"{public(url)}: cannot {what} ({_kind(e)})") from None


class _GuardedFile:
    """An fsspec file whose errors are StorageError naming the public URL."""

    def __init__(self, fh, url: str, mode: str):
        self._fh, self.url, self._what = fh, url, "read" if "r" in mode else "write"

    def read(self, n: int = -1) -> bytes:
        return _call(self.url, self._what, self._fh.read, n)

    def write(self, data) -> int:
        return _call(self.url, self._what, self._fh.write, data)

    def seek(self, pos: int, whence: int = 0) -> int:
        return _call(self.url, self._what, self._fh.seek, pos, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def close(self) -> None:
        # (closing a file being written is what uploads it, on object stores)
        _call(self.url, self._what, self._fh.close)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:
            try:
                self._fh.close()
            except Exception:  # noqa: BLE001, S110 - the first error is the one reported
                pass


def open_file(path: str, mode: str):
    """open(path, mode) for a local path (the OSError callers expect), an fsspec file for a URL."""
    if not is_url(path):
        return open(path, mode)
    fs, inner = _fs(path)
    return _GuardedFile(_call(path, "read" if "r" in mode else "write", fs.open, inner, mode), path, mode)


def join(base: str, name: str) -> str:
    if is_url(base):
        return base.rstrip("/") + "/" + name
    return os.path.join(base, name)


def basename(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) if is_url(path) else os.path.basename(path)


def absolute(path: str) -> str:
    """An absolute local path; a URL as it is (it names the same place on every machine)."""
    return path if is_url(path) else os.path.abspath(path)


def exists(path: str) -> bool:
    if not is_url(path):
        return os.path.exists(path)
    fs, inner = _fs(path)
    return bool(_call(path, "look it up", fs.exists, inner))


def isfile(path: str) -> bool:
    if not is_url(path):
        return os.path.isfile(path)
    fs, inner = _fs(path)
    return bool(_call(path, "look it up", fs.isfile, inner))


def isdir(path: str) -> bool:
    if not is_url(path):
        return os.path.isdir(path)
    fs, inner = _fs(path)
    return bool(_call(path, "look it up", fs.isdir, inner))


def size(path: str) -> int:
    if not is_url(path):
        return os.path.getsize(path)
    fs, inner = _fs(path)
    return int(_call(path, "look it up", fs.size, inner))


def listdir(path: str) -> list[str]:
    """The names in a directory (a URL: under its prefix)."""
    if not is_url(path):
        return os.listdir(path)
    fs, inner = _fs(path)
    return [posixpath.basename(p.rstrip("/")) for p in _call(path, "list it", fs.ls, inner, detail=False)]


def makedirs(path: str) -> None:
    fs, inner = _fs(path)
    _call(path, "create it", fs.makedirs, inner, exist_ok=True)


def move(src: str, dst: str) -> None:
    """A URL's file renamed (an object store: copied, then the source deleted)."""
    fs, inner = _fs(src)
    _call(dst, "write it", fs.mv, inner, _fs(dst)[1])


def remove_tree(path: str) -> None:
    """A failed run's output directory at a URL, removed as far as the store lets it (what
    is left has no toc.dat: it does not restore)."""
    try:
        fs, inner = _fs(path)
        if fs.exists(inner):
            fs.rm(inner, recursive=True)
    except Exception:  # noqa: BLE001, S110 - a tidy-up after a failure: the failure is what is reported
        pass


def problem_on_this_machine(path: str, write: bool) -> str | None:
    """Why this machine (a cluster worker) cannot read `path` (a directory archive) or write
    into `path` (the output directory), or None. Writing is tried: a probe file is written and
    removed (an object store grants writes by key, not by directory)."""
    if not is_url(path):
        if write:
            ok = os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)
        else:
            ok = os.access(path, os.R_OK)
        return None if ok else ("cannot write" if write else "cannot read")
    try:
        if not write:
            toc = join(path, "toc.dat")
            return None if isfile(toc) else f"cannot read {public(toc)}"
        import uuid

        probe = join(path, f".dumpmask-probe-{uuid.uuid4().hex}")
        with open_file(probe, "wb") as fh:
            fh.write(b"")
        fs, inner = _fs(probe)
        _call(probe, "remove it", fs.rm, inner)
        return None
    except DumpmaskError as e:
        return str(e)
