"""Shared machinery for the keyed transformers: the PRF hot path with a bounded per-instance
cache, the process-wide pools of fake values, and helpers to make values fit a column.

Every output is a pure function of (key, mutation name, canonical options, original value):
the PRF domain is the mutation name plus its canonical options, never the table or column, so
the same original gives the same masked value wherever it appears.
"""
from __future__ import annotations

import json
import math
import os
import random
import re
import sys
from bisect import bisect_right as _bisect
from collections import OrderedDict
from itertools import accumulate
import unicodedata
from functools import partial
from typing import Callable

from dumpmask import poolcache
from dumpmask.crypto import Key
from dumpmask.errors import RulesError
from dumpmask.schema import Column

from .base import Transformer
from .fastprf import Prf, fake_field
from .validity import is_mysql_timestamp  # noqa: F401  (re-exported: its home was here)
from dumpmask.lazy import lazy_pattern

#: per-instance memo of original -> masked; cleared when it grows past this
CACHE_LIMIT = 32_768

#: pool size: entries drawn from Faker once per (key, pool, locale) per process
POOL_SIZE = 2000

_CTRL_RE = lazy_pattern(globals(), "_CTRL_RE", r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def canonical_options(options: dict) -> str:
    return json.dumps(options, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)


def domain_for(name: str, options: dict) -> str:
    """The PRF domain of a mutation: its name and canonical options (not the table/column).
    `empty` only says whether '' is masked, not how: it is not part of the domain."""
    if "empty" in options:
        options = {k: v for k, v in options.items() if k != "empty"}
    return f"mutation:{name}|{canonical_options(options)}"


def encode_value(value: str) -> bytes:
    """The bytes fed to the PRF: lossless for every str, including surrogate escapes."""
    return value.encode("utf-8", "surrogatepass")


_FEED_PIECE = 1 << 20


def feed(h, value: str) -> None:
    """h.update(encode_value(value)) without a copy of a long value: encoded 1 M characters at
    a time (UTF-8 encodes code point by code point, so the bytes are the same)."""
    if len(value) <= _FEED_PIECE:
        h.update(value.encode("utf-8", "surrogatepass"))
        return
    for i in range(0, len(value), _FEED_PIECE):
        h.update(value[i:i + _FEED_PIECE].encode("utf-8", "surrogatepass"))


#: Crockford's base32 alphabet, lower case (no i, l, o, u); byte -> alphabet[byte % 32]
B32_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
B32_TABLE = bytes(ord(B32_ALPHABET[b % 32]) for b in range(256))


def suffix14(d: bytes) -> str:
    """14 base32 characters = 70 PRF bits, from the first 14 PRF bytes (5 bits of each byte:
    256 is a multiple of 32, so every character is uniform). Needs a digest of >= 14 bytes."""
    return d[:14].translate(B32_TABLE).decode("ascii")


SUFFIX_LEN = 14
SUFFIX_BITS = 70


def clean_text(s: str) -> str:
    """No control characters, no line breaks: a pool entry is one line of printable text."""
    s = s.replace("\r\n", ", ").replace("\n", ", ")
    s = _CTRL_RE.sub(" ", s)
    return " ".join(s.split())


def ascii_slug(s: str, allowed: str = "a-z0-9.") -> str:
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(f"[^{allowed}]", "", s)


# --- pools -----------------------------------------------------------------------------------

_POOLS: dict[tuple[str, str, str], tuple[str, ...]] = {}
_FAKERS: dict[str, object] = {}


#: the providers a Faker is first made with (in faker.config.PROVIDERS' order): those of the
#: usual pools (names, addresses, phones, companies, lorem). Loading all ~25 of a locale costs
#: ~20 ms more per run; a pool that calls any other provider's method gets them all (_Lazy).
LIGHT_PROVIDERS = ("address", "company", "lorem", "person", "phone_number")


def _faker(locale: str):
    """One Faker per locale and process, made once: every pool seeds it anew (seed_instance),
    and its providers keep no state between draws. It starts with LIGHT_PROVIDERS only; the
    first call of a method none of them has loads the locale's full Faker, which shares the
    light one's random (the draw goes on from the same state: the same values as if every
    provider had been there from the start; tests/test_poolcache.py checks that each light
    method is the one the full Faker resolves)."""
    fk = _FAKERS.get(locale)
    if fk is not None:
        return fk
    fk = _light_faker(locale)
    if fk is None:
        from faker import Faker  # imported lazily: slow to import, not needed by every run
        from faker.config import PROVIDERS

        light = [p for p in PROVIDERS if p.rsplit(".", 1)[-1] in LIGHT_PROVIDERS]
        try:
            fk = Faker(locale, providers=light)
        except Exception as e:  # AttributeError for unknown locales
            raise RulesError(f"unknown Faker locale {locale!r}: {e}") from None
    _fast_draws(fk)
    if len(fk.factories) == 1:
        gen = fk.factories[0]
        gen.__class__ = _lazy_class(type(gen))
        gen._dm_locale = locale
    _FAKERS[locale] = fk
    return fk


class _OneLocale:
    """What get_pool and the callers of _faker use of a one-locale Faker proxy: its factories
    and seed_instance (which seeds each of them)."""

    def __init__(self, gen) -> None:
        self.factories = [gen]

    def seed_instance(self, seed) -> None:
        self.factories[0].seed_instance(seed)


def _faker_package_unexecuted() -> bool:
    """Make `faker` importable without running its __init__: that imports faker.config, which
    imports every provider and lists every locale directory of every provider (~0.3 G
    instructions and ~2,000 directory reads, more than half of a drawn run's start-up). The
    package module is put in sys.modules as its spec makes it, with a module __getattr__ (PEP
    562) that runs the real __init__ the first time anything asks for a name it has not got
    (`from faker import Faker`, faker.VERSION): then it is the package a plain `import faker`
    gives. Its submodules (faker.generator, faker.providers.*) import as usual meanwhile.
    True too when `faker` is a package in sys.modules already (imported, or made here before);
    False when it is there and not a package (None: not importable), has no spec, or the
    interpreter is frozen: the caller then takes the usual way."""
    if "faker" in sys.modules:
        return hasattr(sys.modules["faker"], "__path__")
    if getattr(sys, "frozen", False):       # Faker finds its locales another way there
        return False
    import importlib.util

    spec = importlib.util.find_spec("faker")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return False
    package = importlib.util.module_from_spec(spec)

    def __getattr__(name: str):
        if package.__dict__.pop("__getattr__", None) is not None:
            spec.loader.exec_module(package)
        try:
            return package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'faker' has no attribute {name!r}") from None

    package.__getattr__ = __getattr__
    sys.modules["faker"] = package
    return True


def _is_package_dir(folder: str, name: str) -> bool:
    """Whether pkgutil.iter_modules([folder]) lists `name` as a package (faker.utils.loading's
    list_module, which Faker's Factory asks whether a provider has a locale): a directory whose
    name has no dot, holding a file whose module name is __init__."""
    import inspect

    path = os.path.join(folder, name)
    if not name or "." in name or not os.path.isdir(path):
        return False
    try:
        return any(inspect.getmodulename(f) == "__init__" for f in os.listdir(path))
    except OSError:
        return False


def _light_faker(locale: str):
    """The light Faker of `locale` made as Faker(locale, providers=light) makes it (proxy.Faker,
    then factory.Factory.create), without `import faker`'s scan (_faker_package_unexecuted), or
    None when that cannot be sure of giving the same (then the caller makes it with Faker):
    `faker` not importable that way, a light provider that is not localized, or a locale that
    no light provider has (Factory.create checks a locale against every provider's: the usual
    way says whether it is valid, and raises for an unknown one).
    tests/test_pool_draws.py compares the pools drawn with upstream Faker's over keys and locales."""
    if not _faker_package_unexecuted():
        return None
    import locale as pylocale
    from importlib import import_module

    from faker.generator import Generator

    # proxy.Faker: "-" -> "_"; Factory.create: the default, then locale.normalize
    locale = locale.replace("-", "_") or "en_US"
    locale = pylocale.normalize(locale).split(".")[0]
    found = []
    for name in sorted(LIGHT_PROVIDERS):       # faker.config.PROVIDERS is sorted
        path = f"faker.providers.{name}"
        module = import_module(path)
        if not getattr(module, "localized", False):
            return None
        found.append((path, module, _is_package_dir(os.path.dirname(module.__file__), locale)))
    if not any(has for _, _, has in found):
        return None
    gen = Generator(locale=locale, use_weighting=True)
    for path, module, has in found:          # Factory.create and Factory._find_provider_class
        lang = locale if has else (getattr(module, "default_locale", "") or "en_US")
        provider = import_module(f"{path}.{lang}").Provider(gen)
        provider.__use_weighting__ = True
        provider.__provider__ = path
        provider.__lang__ = lang
        gen.add_provider(provider)
    return _OneLocale(gen)


_LAZY: dict[type, type] = {}


def _lazy_class(base: type) -> type:
    """`base` (Faker's Generator) with a fallback for methods the light providers lack: the
    full Faker of the generator's locale, made on first need, sharing its random."""
    cls = _LAZY.get(base)
    if cls is None:
        def __getattr__(self, name):
            if name.startswith("_"):
                raise AttributeError(name)
            full = self.__dict__.get("_dm_full")
            if full is None:
                full = self.__dict__["_dm_full"] = full_generator(self._dm_locale, self.random)
            return getattr(full, name)

        cls = _LAZY[base] = type("LazyGenerator", (base,), {"__getattr__": __getattr__})
    return cls


def full_generator(locale: str, rnd):
    """The Generator of a Faker of `locale` with every provider, drawing from `rnd`."""
    from faker import Faker

    full = Faker(locale)
    _fast_draws(full)
    gen = full.factories[0]
    gen.random = rnd
    return gen


class _Weights(OrderedDict):
    """A provider's weighted elements with values() as one tuple: Faker copies values() into a
    tuple on every draw (tuple() of a tuple is the tuple itself, no copy)."""

    def __init__(self, items):
        super().__init__(items)
        self._values = tuple(super().values())

    def values(self):
        return self._values


class _CumulativeRandom(random.Random):
    """random.Random whose choices(population, weights) reuses the cumulative weights of a
    weights tuple it saw: random.choices computes them with accumulate and then draws
    bisect(cum_weights, random() * total): the same draws from the same state."""

    def choices(self, population, weights=None, *, cum_weights=None, k=1):
        if weights is not None and cum_weights is None and type(weights) is tuple:
            seen = self.__dict__.setdefault("_cum", {})
            hit = seen.get(id(weights))
            if hit is None or hit[0] is not weights:
                hit = seen[id(weights)] = (weights, list(accumulate(weights)))
            return super().choices(population, cum_weights=hit[1], k=k)
        return super().choices(population, weights, cum_weights=cum_weights, k=k)


def _random_element(provider, original, elements):
    """BaseProvider.random_element(elements) of a provider that weights (Faker's default), in
    one call: the same value from the same one draw of its random. Faker goes through
    random_elements(elements, length=1) and choices_distribution to random.choices(keys,
    weights=values, k=1) for a weighted table, which is keys[bisect(cum_weights, random() *
    total, 0, n - 1)]; and to random.choice(tuple(elements)) for a sequence. Anything else
    (an OrderedDict made on the fly, a set, a table whose weights random.choices would refuse)
    goes to Faker's own method."""
    t = type(elements)
    if t is _Weights:
        table = elements.__dict__.get("_dm_table")
        if table is None:
            table = elements.__dict__["_dm_table"] = _weighted_table(elements)
        if table:
            keys, cum, total, hi = table
            return keys[_bisect(cum, provider.generator.random.random() * total, 0, hi)]
    elif t is tuple or t is list or t is str:
        return provider.generator.random.choice(elements)
    return original(elements)


def _weighted_table(elements: _Weights):
    """(keys, cumulative weights, total, n - 1) as random.choices computes them, or () when it
    would raise (Faker's own method then raises as it does)."""
    keys, weights = tuple(elements.keys()), elements.values()
    cum = list(accumulate(weights))
    if not cum or len(keys) != len(cum):
        return ()
    try:
        total = cum[-1] + 0.0
    except TypeError:
        return ()
    if not total > 0.0 or not math.isfinite(total):
        return ()
    return keys, cum, total, len(keys) - 1


def _fast_draws(fk) -> None:
    """Faker's draws for a pool made cheaper, every value the same: the providers' weighted
    tables (OrderedDicts) as _Weights on the instance, the generator's random a
    _CumulativeRandom (seed_instance seeds it like the Random it replaces), and each weighting
    provider's random_element one call (_random_element)."""
    from faker.providers import BaseProvider

    for gen in fk.factories:
        gen.random = _CumulativeRandom()    # seeded by seed_instance before every pool
        for provider in gen.providers:
            for attr, v in list(vars(type(provider)).items()) + list(vars(provider).items()):
                if type(v) is OrderedDict and v:
                    setattr(provider, attr, _Weights(v.items()))
            if type(provider).random_element is BaseProvider.random_element and provider.__use_weighting__ is True \
                    and "random_element" not in vars(provider):
                provider.random_element = partial(_random_element, provider, provider.random_element)


def get_pool(key: Key, name: str, builder: Callable, locale: str = "en_US", size: int = POOL_SIZE) -> tuple[str, ...]:
    """A tuple of distinct fake values, built once per process per (key, name, locale).

    Faker is seeded from key.subkey('pool:'+name+':'+locale), so the pool is identical on every
    machine with the same key and the same Faker version; no Faker call happens per value.
    A pool drawn by an earlier run, the same in everything that decides it, comes from the
    pool cache (dumpmask/poolcache.py) without importing Faker.
    """
    ck = (key.fingerprint(), name, locale)
    pool = _POOLS.get(ck)
    if pool is None:
        pool = poolcache.load(key, name, locale, size)
        if pool is not None:
            _POOLS[ck] = pool
    if pool is None:
        fk = _faker(locale)
        fk.seed_instance(int.from_bytes(key.subkey(f"pool:{name}:{locale}")[:8], "big"))
        # one locale: the Faker proxy hands every call to its one Generator; call that directly
        gen = fk.factories[0] if len(fk.factories) == 1 else fk
        seen: dict[str, None] = {}
        for _ in range(size):
            v = builder(gen)
            if v and v not in seen:
                seen[v] = None
        if not seen:
            raise RulesError(f"Faker produced no values for {name} in locale {locale!r}")
        pool = _POOLS[ck] = tuple(seen)
        poolcache.store(key, name, locale, size, pool)
    return pool


def fit_pool(pool: tuple[str, ...], length: int | None) -> tuple[tuple[str, ...], bool]:
    """Make every slot of `pool` fit `length` characters.

    Slot i keeps pool[i] when it fits, else the next fitting entry (cyclically), so inputs whose
    pick fits anyway get the same output whatever the column width. When nothing fits the
    entries are truncated; the bool says so (check() turns it into a warning).
    """
    if length is None or all(len(v) <= length for v in pool):
        return pool, False
    fits = [len(v) <= length for v in pool]
    if not any(fits):
        return tuple(v[:length] for v in pool), True
    n = len(pool)
    out = [""] * n
    nxt = None
    # walk backwards twice to resolve the cyclic "next fitting"
    for i in range(2 * n - 1, -1, -1):
        j = i % n
        if fits[j]:
            nxt = pool[j]
        if i < n:
            out[j] = nxt
    return tuple(out), False


# --- the PRF transformer base ----------------------------------------------------------------

class PrfTransformer(Transformer):
    """Base of the keyed transformers: NULL stays NULL, the PRF digest of the original value
    (16 bytes unless `digest_size` says otherwise) goes to make(digest, value)."""

    digest_size = 16
    keeps_empty = True
    #: make(d, value) reads `value` (False: the fast field path passes "" and skips decoding)
    make_uses_value = True
    #: make() writes only [0-9A-Za-z .:/@_-]: nothing any dialect escapes (the fast field path
    #: writes it as it is, quoted for MySQL)
    ascii_output = False

    def setup(self) -> None:
        self._mask_empty = self.options.get("empty") == "mask"
        self.domain = domain_for(self.name, self.options)
        self._prf_domain = self.domain
        self._h = self.key.hasher(self.domain, self.digest_size)
        self._cache: dict[str, str] = {}
        self.prepare()
        # the same digests as self._h (prepare may have changed its domain or size)
        self._prf = Prf(self.key, self._prf_domain, self.digest_size)
        self._digest = self._prf.digest

    def prepare(self) -> None:
        """Per-instance preparation (pools, column fitting)."""

    def make(self, d: bytes, value: str) -> str:
        raise NotImplementedError

    def uncached(self, value):
        """The same as calling it, without the memo (for callers that cache themselves)."""
        if value is None:
            return None
        if not value and not self._mask_empty:
            return value
        if len(value) > _FEED_PIECE:
            h = self._h.copy()
            feed(h, value)
            return self.make(h.digest(), value)
        return self.make(self._digest(value.encode("utf-8", "surrogatepass")), value)

    def field_fast(self, mode: int, encode: Callable[[str], bytes]) -> Callable[[bytes], bytes | None]:
        """raw -> the new raw field, or None when `raw` is not plain (see fastprf: the caller then
        decodes it); `raw` itself when the value stays. mode 0: COPY text fields, 1: MySQL '...'
        literals; encode(str) -> the field as the dialect writes it (work.py's field functions
        give it: the transformers know no dialect). The same bytes as decode, __call__, encode."""
        spec = self.fake_spec()
        if spec is not None:   # make() in C (fastprf.fake_field), when it is there
            made = fake_field(self._prf, mode, not self._mask_empty, *spec)
            if made is not None:
                return made
        field, make, uses_value = self._prf.field, self.make, self.make_uses_value
        empty = b"" if mode == 0 else b"''"
        keep_empty = not self._mask_empty
        if self.ascii_output and not uses_value:
            q = b"" if mode == 0 else b"'"

            def fast_ascii(raw: bytes):
                if raw == empty and keep_empty:
                    return raw
                d = field(mode, raw)
                if d is None:
                    return None
                return q + make(d, "").encode("ascii") + q
            return fast_ascii

        def fast(raw: bytes):
            if raw == empty and keep_empty:
                return raw
            d = field(mode, raw)
            if d is None:
                return None
            if not uses_value:
                return encode(make(d, ""))
            if b"\\" in raw:     # an escaped value: decoded by the general path
                return None
            return encode(make(d, (raw if mode == 0 else raw[1:-1]).decode()))
        return fast

    def fake_spec(self) -> tuple | None:
        """(kind, limit, params) of fastprf.fake_field when C can make this make() (the same
        bytes: tests/test_mutfast.py), else None."""
        return None

    def __call__(self, value):
        if value is None:
            return None
        if not value and not self._mask_empty:
            return value
        cache = self._cache
        r = cache.get(value)
        if r is None:
            if len(value) > (1 << 16):   # a long value is not memoised (nor held)
                return self.uncached(value)
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
            r = cache[value] = self.make(self._digest(value.encode("utf-8", "surrogatepass")), value)
        return r


class PoolTransformer(PrfTransformer):
    """Picks a value from a pool of Faker values by PRF(value) mod len(pool)."""

    kinds = ("text",)
    pool_name: str = ""
    localized = True
    make_uses_value = False

    @staticmethod
    def build(fk) -> str:
        raise NotImplementedError

    def prepare(self) -> None:
        locale = self.options.get("locale") or "en_US"
        builder = self.build
        self.pool = get_pool(self.key, self.pool_name or self.name, lambda fk: clean_text(builder(fk)), locale)
        self._fitted, self._truncated = fit_pool(self.pool, self.column.length)
        self._pool_size = len(self._fitted)

    def make(self, d: bytes, value: str) -> str:
        return self._fitted[int.from_bytes(d[:8], "big") % self._pool_size]

    def field_fast(self, mode: int, encode: Callable[[str], bytes]) -> Callable[[bytes], bytes | None]:
        """make() as one C call: the pool already written as the dialect writes it."""
        return partial(self._prf.pick, mode, tuple(encode(v) for v in self._fitted), 0, 8, not self._mask_empty)

    def check(self, column: Column) -> list[str]:
        warnings = super().check(column)
        if column.length is not None:
            _, truncated = fit_pool(self.pool, column.length)
            if truncated:
                warnings.append(f"{self.name}: no value fits {column.name!r} ({column.length} chars): output truncated")
        return warnings


def fixed_width_warning(name: str, column: Column, natural: int) -> list[str]:
    if column.length is not None and column.length < natural and column.kind in ("text", "other"):
        return [f"{name}: output needs {natural} characters, column {column.name!r} has {column.length}: truncated"]
    return []
