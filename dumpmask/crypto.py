"""The run's secret key and the keyed PRF every mutation draws its randomness from.

Every masked value is a pure function of (key, mutation, options, original value): the PRF is
keyed BLAKE2b (a cryptographic PRF), personalised per purpose ("domain"), so knowing some
original -> masked pairs reveals neither the key nor any other value. xxhash is used only where
no secret is at stake (caches, sampling), never here.
"""
from __future__ import annotations

import hashlib
import os
import secrets

_FP_CONSTANT = b"dumpmask key fingerprint v1"
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _short(secret: bytes) -> str | None:
    if len(secret) < 16:
        return "it has fewer than 16 bytes"
    if all(c in _HEX for c in secret) and len(secret) < 32:
        return "it is hexadecimal with fewer than 32 digits"
    return None


def weakness(secret: bytes) -> str | None:
    """Why `secret` holds fewer than 128 bits (docs/reference.md, "Key strength"), or None.
    Never repeats the key."""
    why = _short(secret)
    if why:
        return why
    if len(set(secret)) < 8:
        return "it has fewer than 8 distinct characters"
    for p in range(1, len(secret) // 2 + 1):
        if all(secret[i] == secret[i % p] for i in range(len(secret))) and _short(secret[:p]):
            return "it repeats a short pattern"
    return None


class Key:
    """A masking key. `ephemeral` is True when it was drawn at random for this run only.

    A key is refused (errors.WeakKeyError, exit 2 in the CLI) when `weakness` finds it holds
    fewer than 128 bits, whoever builds it: the CLI (DUMPMASK_KEY, --key-file), `dumpmask.mask()`
    or a library caller. `weak_key_ok=True` accepts it (the library's --weak-key-ok); the audit
    then records `"weak_key_ok": true`."""

    __slots__ = ("_secret", "ephemeral", "_base", "_cache", "source", "label", "weak_key_ok")

    def __init__(self, secret: bytes | str, ephemeral: bool = False, source: str | None = None, *,
                 weak_key_ok: bool = False, label: str | None = None, where: str = "the key given to Key()"):
        from dumpmask.errors import KeyError_, WeakKeyError

        if isinstance(secret, str):
            secret = secret.encode("utf-8", "surrogateescape")
        if not isinstance(secret, (bytes, bytearray, memoryview)):
            raise KeyError_(f"{where} must be bytes or str, not {type(secret).__name__}")
        secret = bytes(secret)
        if not secret.strip():
            raise KeyError_(f"{where} is empty (or only whitespace)")
        why = weakness(secret)
        if why and not weak_key_ok:
            raise WeakKeyError(f"{where} is too weak ({why}; a key needs at least 128 bits): make one with "
                               "`dumpmask key new` (dumpmask.crypto.new_key_text()), or pass weak_key_ok=True "
                               "for tests and demos", reason=why)
        self.source = source or ("ephemeral" if ephemeral else "api")
        self.label: str | None = label
        self.weak_key_ok = bool(why)   # True only when the key was weak and weak_key_ok accepted it
        # Normalise any length of secret to a 32-byte BLAKE2b key.
        self._secret = hashlib.blake2b(secret, digest_size=32, person=b"dumpmask-keyv1").digest()
        self.ephemeral = ephemeral
        self._base: dict[tuple[bytes, int], object] = {}

    @classmethod
    def random(cls) -> "Key":
        return cls(secrets.token_bytes(32), ephemeral=True)

    @classmethod
    def checked(cls, secret: bytes, source: str, where: str, weak_ok: bool = False) -> "Key":
        """A key read from `where` (DUMPMASK_KEY or a file's path), refused when weak
        (`weakness`) unless `weak_ok`, with the CLI's advice (--weak-key-ok)."""
        from dumpmask.errors import WeakKeyError

        why = weakness(secret)
        if why and not weak_ok:
            raise WeakKeyError(f"the key in {where} is too weak ({why}; a key needs at least 128 bits): run "
                               "`dumpmask key new -o FILE` and pass --key-file FILE, or give --weak-key-ok for tests "
                               "and demos", reason=why)
        return cls(secret, source=source, weak_key_ok=weak_ok, where=f"the key in {where}")

    @classmethod
    def from_env_or_file(cls, key_file: str | None = None, env: dict | None = None, weak_ok: bool = False,
                         warn=None) -> "Key":
        """--key-file when given, else DUMPMASK_KEY, else a random per-run key (ephemeral).
        A weak key is refused unless `weak_ok`; `warn` is told when the file is readable or
        writable by group or others."""
        from dumpmask.errors import KeyError_

        env = os.environ if env is None else env
        if key_file:
            try:
                with open(key_file, "rb") as fh:
                    data = fh.read().strip()
            except OSError as e:
                raise KeyError_(f"cannot read key file {key_file}: {e.strerror}") from None
            if not data:
                raise KeyError_(f"key file {key_file} is empty")
            try:
                mode = os.stat(key_file).st_mode
            except OSError:
                mode = 0
            if mode & 0o077 and warn is not None:
                warn(f"key file {key_file} is readable or writable by group or others: run `chmod 600 {key_file}`")
            return cls.checked(data, "file", key_file, weak_ok)
        val = env.get("DUMPMASK_KEY")
        if val is not None:
            if not val.strip():
                raise KeyError_("DUMPMASK_KEY is set but empty (or only whitespace): set it to the key, or unset it "
                                "for a random per-run key")
            return cls.checked(val.encode("utf-8", "surrogateescape"), "env", "DUMPMASK_KEY", weak_ok)
        return cls.random()

    def audit_entry(self) -> dict:
        """The audit's "key" object: what identifies the key, never the key."""
        return {"fingerprint": self.fingerprint(), "ephemeral": self.ephemeral, "label": self.label,
                "source": self.source, "weak_key_ok": self.weak_key_ok}

    def __reduce__(self):
        """A key travels to a worker process as its normalised secret (never the text it was
        made from); the pre-keyed hashers are rebuilt there."""
        return (_restore_key, (self._secret, self.ephemeral))

    @property
    def secret(self) -> bytes:
        return self._secret

    def fingerprint(self) -> str:
        """A keyed hash of a constant: identifies the key without revealing it."""
        return hashlib.blake2b(_FP_CONSTANT, key=self._secret, digest_size=16).hexdigest()

    def hasher(self, domain: str, size: int = 8):
        """A pre-keyed BLAKE2b object for `domain`; call .copy() per value (the fast path)."""
        k = (domain.encode(), size)
        h = self._base.get(k)
        if h is None:
            # personalisation is limited to 16 bytes; put the domain in the first block instead
            h = hashlib.blake2b(key=self._secret, digest_size=size)
            h.update(hashlib.blake2b(k[0], digest_size=32).digest())
            self._base[k] = h
        return h

    def prf(self, domain: str, data: bytes, size: int = 8) -> bytes:
        h = self.hasher(domain, size).copy()
        h.update(data)
        return h.digest()

    def prf_int(self, domain: str, data: bytes, size: int = 8) -> int:
        return int.from_bytes(self.prf(domain, data, size), "big")

    def subkey(self, domain: str) -> bytes:
        return self.prf("subkey:" + domain, b"", 32)

    def hmac_hex(self, data: bytes) -> str:
        """HMAC-SHA256 under a subkey reserved for signing audits."""
        import hmac

        return hmac.new(self.subkey("audit-signature"), data, hashlib.sha256).hexdigest()


def new_key_text() -> str:
    """A new 256-bit random key, as 64 hex digits and a newline (`dumpmask key new`)."""
    return secrets.token_hex(32) + "\n"


def write_new_key(path: str) -> None:
    """Create `path` (mode 0600, refusing an existing file) holding a new key; a failure
    leaves no file."""
    from dumpmask.errors import KeyError_

    data = new_key_text().encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyError_(f"{path} exists: dumpmask key new never overwrites a key file") from None
    except OSError as e:
        raise KeyError_(f"cannot create key file {path}: {e.strerror}") from None
    try:
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
    except OSError as e:
        try:
            os.close(fd)
        except OSError:
            pass
        os.unlink(path)
        raise KeyError_(f"cannot write key file {path}: {e.strerror}") from None


def as_key(key, weak_key_ok: bool = False, where: str = "the key") -> "Key | None":
    """What a library caller gave as the key (a Key, str, bytes or None for a random per-run
    key) as a Key, checked like the CLI's (weak keys refused unless `weak_key_ok`)."""
    if key is None or isinstance(key, Key):
        return key
    return Key(key, weak_key_ok=weak_key_ok, where=where)


def _restore_key(normalised: bytes, ephemeral: bool) -> Key:
    key = Key.__new__(Key)
    key._secret, key.ephemeral, key._base = normalised, ephemeral, {}
    key.source, key.label, key.weak_key_ok = ("ephemeral" if ephemeral else "api"), None, False
    return key
