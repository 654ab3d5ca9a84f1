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


class Key:
    """A masking key. `ephemeral` is True when it was drawn at random for this run only."""

    __slots__ = ("_secret", "ephemeral", "_base", "_cache")

    def __init__(self, secret: bytes, ephemeral: bool = False):
        if not secret:
            raise ValueError("empty key")
        # Normalise any length of secret to a 32-byte BLAKE2b key.
        self._secret = hashlib.blake2b(secret, digest_size=32, person=b"dumpmask-keyv1").digest()
        self.ephemeral = ephemeral
        self._base: dict[tuple[bytes, int], object] = {}

    @classmethod
    def random(cls) -> "Key":
        return cls(secrets.token_bytes(32), ephemeral=True)

    @classmethod
    def from_env_or_file(cls, key_file: str | None = None, env: dict | None = None) -> "Key":
        """--key-file when given, else DUMPMASK_KEY, else a random per-run key (ephemeral)."""
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
            return cls(data)
        val = env.get("DUMPMASK_KEY")
        if val is not None:
            if not val.strip():
                raise KeyError_("DUMPMASK_KEY is set but empty (or only whitespace): set it to the key, or unset it "
                                "for a random per-run key")
            return cls(val.encode("utf-8", "surrogateescape"))
        return cls.random()

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


def _restore_key(normalised: bytes, ephemeral: bool) -> Key:
    key = Key.__new__(Key)
    key._secret, key.ephemeral, key._base = normalised, ephemeral, {}
    return key
