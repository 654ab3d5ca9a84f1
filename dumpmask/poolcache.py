"""The fake-value pools of transformers/common.get_pool kept on disk between runs: a run with the
same key then neither imports Faker nor draws its pools again (~0.1 s of CPU per run).

A cached pool is used only when it is the pool this run would draw; anything else is drawn
again and the file rewritten:
* keyed by everything that decides a pool: its name, locale and size, the run's key (its
  fingerprint; the file's name is a keyed hash, so it tells nothing without the key), this
  dumpmask's version and the source of the code that draws pools (dumpmask/transformers/*.py
  and crypto.py, hashed), the Python version (random's algorithms) and the installed Faker (its
  distribution's name and version and the sha256 of its RECORD, the list of every installed
  file with its hash). When any of these cannot be told (no Faker distribution found beside its
  package, no source files), nothing is cached.
* verified before use: a file holds that identity and the values, then a MAC under the run's
  key; a file that does not parse, whose MAC or identity differs, or whose values are not a
  non-empty list of at most `size` distinct strings is not used.
* written atomically: a temporary file (mode 0600) in the same directory, then os.replace; the
  directory is created 0700.
* never for an ephemeral key (a random per-run key): no later run could use the pool.
The directory is $DUMPMASK_POOL_CACHE (`off` turns the cache off), else
$XDG_CACHE_HOME/dumpmask/pools, else ~/.cache/dumpmask/pools. A cache that cannot be read or
written costs only time: the pool is drawn (STATS counts what happened, for tests).

A cache, not pools shipped as package data: a pool is drawn by Faker seeded from the run's key
(get_pool), so no pool exists before the key does. A pool's name stands for its builder, as
in get_pool's in-process memo.
"""
from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import os
import sys

from dumpmask.version import __version__

ENV = "DUMPMASK_POOL_CACHE"
_MAGIC = b"dumpmask pool cache v1\n"
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
#: a larger file is not a pool this code wrote (2,000 values of a few dozen characters: < 1 MB)
_MAX_FILE = 16 << 20

#: "hit", "drawn" (no usable file), "rejected" (a file there but not used), "stored", "not stored"
STATS: collections.Counter = collections.Counter()
_fixed: dict[str, str | None] = {}


def cache_dir() -> str | None:
    """The cache directory, or None when the cache is off."""
    value = os.environ.get(ENV, "")
    if value.strip().lower() == "off":
        return None
    if value:
        return os.path.abspath(os.path.expanduser(value))
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):          # unset, or relative: the XDG spec says to ignore it
        base = os.path.join(os.path.expanduser("~"), ".cache")
        if not os.path.isabs(base):      # no home directory
            return None
    return os.path.join(base, "dumpmask", "pools")


def _source_fingerprint() -> str | None:
    """sha256 of the code that draws pools and seeds them (dumpmask/transformers/*.py, crypto.py)."""
    if "source" not in _fixed:
        h = hashlib.sha256()
        try:
            folder = os.path.join(_PACKAGE, "transformers")
            paths = sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".py"))
            for path in [*paths, os.path.join(_PACKAGE, "crypto.py")]:
                with open(path, "rb") as fh:
                    h.update(os.path.basename(path).encode() + b"\0" + fh.read() + b"\0")
            _fixed["source"] = h.hexdigest()
        except OSError:
            _fixed["source"] = None
    return _fixed["source"]


def _faker_fingerprint() -> str | None:
    """The installed Faker as "<dist-info name> <sha256 of its RECORD>", without importing it; None
    when its one distribution cannot be found beside the package, or its RECORD does not list
    the package's __init__.py with the hash that file has."""
    if "faker" not in _fixed:
        _fixed["faker"] = None
        import importlib.util

        try:
            spec = importlib.util.find_spec("faker")
            package = list(spec.submodule_search_locations)[0] if spec and spec.submodule_search_locations else None
            if package is None:
                return None
            site = os.path.dirname(package)
            infos = [n for n in os.listdir(site) if n.lower().startswith("faker-") and n.endswith(".dist-info")]
            if len(infos) != 1:
                return None
            with open(os.path.join(site, infos[0], "RECORD"), "rb") as fh:
                record = fh.read()
            with open(os.path.join(package, "__init__.py"), "rb") as fh:
                init = base64.urlsafe_b64encode(hashlib.sha256(fh.read()).digest()).rstrip(b"=")
        except (OSError, ImportError, ValueError):
            return None
        listed = b"faker/__init__.py,sha256=" + init + b","
        if not any(line.startswith(listed) for line in record.splitlines()):
            return None
        _fixed["faker"] = f"{infos[0][:-len('.dist-info')]} {hashlib.sha256(record).hexdigest()}"
    return _fixed["faker"]


def _identity(key, name: str, locale: str, size: int) -> bytes | None:
    """The identity line of a pool (no secret in it), or None when the pool is not cached."""
    if key.ephemeral:
        return None
    source, faker = _source_fingerprint(), _faker_fingerprint()
    if source is None or faker is None:
        return None
    ident = {"pool": name, "locale": locale, "size": size, "key": key.fingerprint(), "dumpmask": __version__,
             "source": source, "faker": faker, "python": f"{sys.implementation.name} {sys.version_info[:3]}"}
    return json.dumps(ident, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _path(folder: str, key, ident: bytes) -> str:
    return os.path.join(folder, key.prf("pool-cache:file", ident, 16).hex() + ".pool")


def _mac(key, body: bytes) -> bytes:
    return key.prf("pool-cache:mac", body, 32).hex().encode("ascii")


def load(key, name: str, locale: str, size: int) -> tuple[str, ...] | None:
    """The cached pool, or None: drawn by the caller (then store() it)."""
    folder = cache_dir()
    ident = _identity(key, name, locale, size) if folder else None
    if ident is None:
        return None
    try:
        with open(_path(folder, key, ident), "rb") as fh:
            data = fh.read(_MAX_FILE + 1)
    except FileNotFoundError:
        STATS["drawn"] += 1
        return None
    except OSError:
        STATS["rejected"] += 1
        return None
    pool = _verified(key, ident, size, data)
    STATS["hit" if pool is not None else "rejected"] += 1
    return pool


def _verified(key, ident: bytes, size: int, data: bytes) -> tuple[str, ...] | None:
    """The pool in a cache file's bytes, or None when they are not exactly what store() wrote for
    this identity under this key."""
    signed, sep, mac = data[:-1].rpartition(b"\n")
    if len(data) > _MAX_FILE or not sep or not data.endswith(b"\n") or not hmac.compare_digest(mac, _mac(key, signed + sep)):
        return None
    head = _MAGIC + ident + b"\n"
    if not signed.startswith(head):
        return None
    try:
        pool = json.loads(signed[len(head):])
    except ValueError:
        return None
    if (type(pool) is not list or not 0 < len(pool) <= size or any(type(v) is not str for v in pool)
            or len(set(pool)) != len(pool)):
        return None
    return tuple(pool)


def store(key, name: str, locale: str, size: int, pool: tuple[str, ...]) -> None:
    """Write the pool for later runs (atomically; a failure only means it is drawn next time)."""
    folder = cache_dir()
    ident = _identity(key, name, locale, size) if folder else None
    if ident is None:
        return
    body = _MAGIC + ident + b"\n" + json.dumps(list(pool), ensure_ascii=True).encode("ascii") + b"\n"
    import tempfile

    tmp = None
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".pool")
        with os.fdopen(fd, "wb") as fh:
            fh.write(body + _mac(key, body) + b"\n")
        os.replace(tmp, _path(folder, key, ident))
        tmp = None
        STATS["stored"] += 1
    except OSError:
        STATS["not stored"] += 1
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
