"""Pool-based fake values (Faker runs only when a pool is built, once per process and key)."""
from __future__ import annotations

import re
from functools import partial

from dumpmask.schema import Column

from . import fastprf
from .base import Param, register
from .common import (B32_TABLE, SUFFIX_BITS, SUFFIX_LEN, PoolTransformer, PrfTransformer, ascii_slug,
                     clean_text, get_pool, suffix14)
from dumpmask.lazy import lazy_pattern

LOCALE = {"locale": Param(str, "Faker locale the pool is drawn from", "en_US")}
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")  # RFC 2606, all 11 characters
RESERVED_DOMAINS_B = tuple(d.encode("ascii") for d in RESERVED_DOMAINS)
_DOTS = lazy_pattern(globals(), "_DOTS", r"[._]{2,}")

_UNIQUE_NOTE = (f"The keyed suffix carries {SUFFIX_BITS} PRF bits ({SUFFIX_LEN} lower-case Crockford base32 characters), so 10 million "
                "distinct inputs collide with probability below n^2/2^71 = 4.3e-8 (< 1e-6).")


def _email_local(fk) -> str:
    s = ascii_slug(f"{fk.first_name()}.{fk.last_name()}", "a-z0-9.")
    return _DOTS.sub(".", s).strip(".")


def _username(fk) -> str:
    first, last = fk.first_name(), fk.last_name()
    pattern = fk.random.randrange(4)
    raw = (f"{first}.{last}", f"{first}{last}", f"{first[:1]}{last}", f"{first}_{last}")[pattern]
    s = ascii_slug(raw, "a-z0-9._")
    return _DOTS.sub(".", s).strip("._")


@register
class Email(PrfTransformer):
    __doc__ = ("Fake e-mail address on a reserved domain: `mary.smith.k3j9x0a2b7qxyz@example.com`. Distinct "
               "inputs stay distinct. " + _UNIQUE_NOTE + " In varchar(n) the name part is shortened first "
               "(down to none at n=26); below 26 characters the address is truncated and uniqueness weakened.")
    name = "faker.email"
    protection = "pseudonymised"
    unique = True
    kinds = ("text",)
    digest_size = 24
    make_uses_value = False
    OVERHEAD = 1 + SUFFIX_LEN + 1 + 11  # ".", suffix, "@", domain

    def prepare(self) -> None:
        self.pool = get_pool(self.key, "email_local", _email_local, "en_US")
        self._pool_size = len(self.pool)
        L = self.column.length
        self.limit = L
        self.human_max = None if L is None else L - self.OVERHEAD
        self.ascii_fast = self._ascii_fast_fn()

    @classmethod
    def injective_for(cls, column: Column, options: dict | None = None) -> str | None:
        if column.length is not None and column.length < cls.OVERHEAD - 1:
            return (f"column {column.name!r} holds {column.length} characters, less than the {cls.OVERHEAD - 1} "
                    "a unique fake address needs")
        return None

    def check(self, column: Column) -> list[str]:
        w = super().check(column)
        if column.length is not None and column.length < self.OVERHEAD - 1:
            w.append(f"{self.name}: column {column.name!r} holds {column.length} characters, less than the "
                     f"{self.OVERHEAD - 1} a unique address needs: output truncated, uniqueness weakened")
        return w

    def make(self, d: bytes, value: str) -> str:
        local = self.pool[int.from_bytes(d[14:22], "big") % self._pool_size]
        dom = RESERVED_DOMAINS[d[22] % 3]
        sfx = suffix14(d)
        hm = self.human_max
        if hm is None:
            return f"{local}.{sfx}@{dom}"
        if hm > 0:
            local = local[:hm].rstrip(".")
            return f"{local}.{sfx}@{dom}" if local else f"{sfx}@{dom}"
        return f"{sfx}@{dom}"[: self.limit]

    def _ascii_fast_fn(self):
        """ascii_fast(raw) = make() on bytes: `raw` is the ASCII text of a value, the result the
        address as ASCII bytes that need no escaping in any dialect ([a-z0-9.@] only); the same
        address as make() (tests/test_fastpaths.py). A closure over locals: it runs per value."""
        hm = self.human_max
        # "local." as make() shortens it for this column, b"" when none is left (make() decides)
        fitted = (x if hm is None else (x[:hm].rstrip(".") if hm > 0 else "") for x in self.pool)
        fit = tuple(x.encode("ascii") + b"." if x else b"" for x in fitted)
        doms = tuple(b"@" + d for d in RESERVED_DOMAINS_B)
        hcopy, n, tr, make, frm = self._h.copy, self._pool_size, B32_TABLE, self.make, int.from_bytes
        keep_empty = not self._mask_empty

        def ascii_fast(raw: bytes) -> bytes:
            if not raw and keep_empty:
                return raw
            h = hcopy()
            h.update(raw)
            d = h.digest()
            local = fit[frm(d[14:22], "big") % n]
            if local:
                return local + d[:14].translate(tr) + doms[d[22] % 3]
            return make(d, "").encode("ascii")
        return ascii_fast

    def field_fast(self, mode: int, encode):
        """PrfTransformer.field_fast with the address assembled in one call (as ascii_fast; a
        local part shortened to nothing takes the general path)."""
        hm = self.human_max
        fitted = (x if hm is None else (x[:hm].rstrip(".") if hm > 0 else "") for x in self.pool)
        q = b"" if mode == 0 else b"'"
        heads = tuple(q + x.encode("ascii") + b"." if x else b"" for x in fitted)
        doms = tuple(b"@" + d + q for d in RESERVED_DOMAINS_B)
        return partial(self._prf.assemble, mode, not self._mask_empty, heads, 14, 22, doms, 22, SUFFIX_LEN,
                       B32_TABLE)


@register
class UserName(PrfTransformer):
    __doc__ = ("Fake user name: `mary.smith_k3j9x0a2b7qxyz` (ASCII). Distinct inputs stay distinct. " + _UNIQUE_NOTE +
               " In varchar(n) the name part is shortened first; below 14 characters the suffix is truncated "
               "and uniqueness weakened.")
    name = "faker.userName"
    protection = "pseudonymised"
    unique = True
    kinds = ("text",)
    digest_size = 24
    make_uses_value = False

    def prepare(self) -> None:
        self.pool = get_pool(self.key, "username", _username, "en_US")
        self._pool_size = len(self.pool)
        L = self.column.length
        self.limit = L
        self.human_max = hm = None if L is None else L - SUFFIX_LEN - 1
        self._fit_b = tuple((x if hm is None else (x[:hm].rstrip("._") if hm > 0 else "")).encode("ascii")
                            for x in self.pool)

    @classmethod
    def injective_for(cls, column: Column, options: dict | None = None) -> str | None:
        if column.length is not None and column.length < SUFFIX_LEN:
            return (f"column {column.name!r} holds {column.length} characters, less than the {SUFFIX_LEN} "
                    "a unique fake user name needs")
        return None

    def check(self, column: Column) -> list[str]:
        w = super().check(column)
        if column.length is not None and column.length < SUFFIX_LEN:
            w.append(f"{self.name}: column {column.name!r} holds {column.length} characters, less than the "
                     f"{SUFFIX_LEN} a unique user name needs: output truncated, uniqueness weakened")
        return w

    def make(self, d: bytes, value: str) -> str:
        human = self.pool[int.from_bytes(d[14:22], "big") % self._pool_size]
        sfx = suffix14(d)
        hm = self.human_max
        if hm is None:
            return f"{human}_{sfx}"
        if hm > 0:
            human = human[:hm].rstrip("._")
            return f"{human}_{sfx}" if human else sfx
        return sfx[: self.limit]

    def ascii_fast(self, raw: bytes) -> bytes:
        """make() on bytes (see Email.ascii_fast): [a-z0-9._] only; '' stays '' like __call__."""
        if not raw and not self._mask_empty:
            return raw
        h = self._h.copy()
        h.update(raw)
        d = h.digest()
        human = self._fit_b[int.from_bytes(d[14:22], "big") % self._pool_size]
        if human:
            return b"%s_%s" % (human, d[:14].translate(B32_TABLE))
        return self.make(d, "").encode("ascii")

    def field_fast(self, mode: int, encode):
        """PrfTransformer.field_fast with the name assembled in one call (as ascii_fast; a name
        shortened to nothing takes the general path)."""
        q = b"" if mode == 0 else b"'"
        heads = tuple(q + x + b"_" if x else b"" for x in self._fit_b)
        return partial(self._prf.assemble, mode, not self._mask_empty, heads, 14, 22, (q,), 0, SUFFIX_LEN,
                       B32_TABLE)


@register
class Name(PoolTransformer):
    """Fake full name ("First Last") from a pool of Faker names."""

    name = "faker.name"
    protection = "pseudonymised"
    params = LOCALE

    @staticmethod
    def build(fk) -> str:
        return f"{fk.first_name()} {fk.last_name()}"


@register
class FirstName(PoolTransformer):
    """Fake first name from a pool of Faker first names."""

    name = "faker.firstName"
    protection = "pseudonymised"
    params = LOCALE

    @staticmethod
    def build(fk) -> str:
        return fk.first_name()


@register
class LastName(PoolTransformer):
    """Fake last name from a pool of Faker last names."""

    name = "faker.lastName"
    protection = "pseudonymised"
    params = LOCALE

    @staticmethod
    def build(fk) -> str:
        return fk.last_name()


@register
class Address(PoolTransformer):
    """Fake postal address on one line ("street, city, state zip") from a pool of Faker addresses."""

    name = "faker.address"
    protection = "pseudonymised"
    params = LOCALE

    @staticmethod
    def build(fk) -> str:
        return fk.address()


@register
class Company(PoolTransformer):
    """Fake company name from a pool of Faker companies."""

    name = "faker.company"
    protection = "pseudonymised"
    params = LOCALE

    @staticmethod
    def build(fk) -> str:
        return fk.company()


@register
class City(PoolTransformer):
    """Fake city name from a pool of Faker cities."""

    name = "faker.city"
    protection = "pseudonymised"
    params = LOCALE

    @staticmethod
    def build(fk) -> str:
        return fk.city()


@register
class Postcode(PoolTransformer):
    """Fake postal code from a pool of Faker postcodes (text: codes can have leading zeros)."""

    name = "faker.postcode"
    protection = "pseudonymised"
    params = LOCALE

    @staticmethod
    def build(fk) -> str:
        return fk.postcode()


@register
class Phone(PoolTransformer):
    """Fake phone number from a pool of Faker numbers. Into an integer column: digits only
    (extension dropped, shortened to fit the type)."""

    name = "faker.phone"
    protection = "pseudonymised"
    params = LOCALE
    kinds = ("text", "int")

    @staticmethod
    def build(fk) -> str:
        return fk.phone_number()

    def prepare(self) -> None:
        super().prepare()
        col = self.column
        if col.kind == "int":
            k = len(str(col.int_max)) - 1 if col.int_max is not None else 18
            k = max(k, 1)
            out = []
            for v in self.pool:
                digits = re.sub(r"\D", "", re.split(r"[xX]", v)[0])
                digits = digits[-k:].lstrip("0") or "0"
                out.append(digits)
            self._fitted = tuple(out)
            self._pool_size = len(out)


@register
class Url(PrfTransformer):
    """Fake URL on a reserved domain: `https://www.example.org/lorem-ipsum-dolor/k3j9x0a2`."""

    name = "faker.url"
    protection = "pseudonymised"
    kinds = ("text",)
    ascii_output = True
    digest_size = 24
    make_uses_value = False

    def prepare(self) -> None:
        self.pool = get_pool(self.key, "url_path", lambda fk: "-".join(ascii_slug(w, "a-z0-9") for w in fk.words(3)), "en_US")
        self._pool_size = len(self.pool)
        self.limit = self.column.length

    def check(self, column: Column) -> list[str]:
        w = super().check(column)
        if column.length is not None and column.length < 40:
            w.append(f"{self.name}: column {column.name!r} holds {column.length} characters: URLs may be truncated")
        return w

    def fake_spec(self):
        pool = fastprf.unescaped_ascii(self.pool)
        return None if pool is None else (fastprf.FAKE_URL, self.limit, (pool, RESERVED_DOMAINS_B))

    def make(self, d: bytes, value: str) -> str:
        host = ("www.", "")[d[23] & 1] + RESERVED_DOMAINS[d[22] % 3]
        path = self.pool[int.from_bytes(d[14:22], "big") % self._pool_size]
        s = f"https://{host}/{path}/{suffix14(d)[:8]}"
        return s if self.limit is None else s[: self.limit]


@register
class Text(PrfTransformer):
    """Lorem-like sentences. In varchar(n) at most n characters; otherwise about as long as the
    original (capped at 4000 characters). An empty original stays empty."""

    name = "faker.text"
    protection = "pseudonymised"
    kinds = ("text",)
    MAX = 4000

    def prepare(self) -> None:
        self.pool = get_pool(self.key, "lorem", lambda fk: fk.sentence(), "en_US")
        self._pool_size = len(self.pool)
        self.limit = self.column.length

    def fake_spec(self):
        pool = fastprf.unescaped_ascii(self.pool)   # (clean_text then changes nothing: no line break)
        if pool is None or self.MAX != 4000:
            return None
        return (fastprf.FAKE_TEXT, self.limit, (pool,))

    def make(self, d: bytes, value: str) -> str:
        target = min(len(value), self.MAX)
        if self.limit is not None:
            target = min(target, self.limit)
        if target <= 0:
            return ""
        pool, n = self.pool, self._pool_size
        i = int.from_bytes(d[:8], "big") % n
        s = pool[i]
        if len(s) < target:      # more sentences, every `step`-th of the pool
            step = int.from_bytes(d[8:16], "big") % max(n - 1, 1) + 1
            parts = [s]
            total = len(s)
            while total < target:
                i = (i + step) % n
                s = pool[i]
                parts.append(s)
                total += len(s) + 1
            s = " ".join(parts)
        if len(s) > target:
            cut = s[:target]
            if s[target] != " ":
                sp = cut.rfind(" ")
                if sp >= target // 3:
                    cut = cut[:sp]
            s = cut.rstrip() or cut
        return clean_text(s) if "\n" in s else s
