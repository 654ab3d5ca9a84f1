"""The pool cache (dumpmask/poolcache.py): a pool read back is the pool Faker draws, byte for byte,
without importing Faker; anything that decides a pool selects another file; a file that is not
exactly what was written is not used (the pool is drawn again and the file replaced); an
ephemeral key, `off` or a directory that cannot be written only cost time."""
from __future__ import annotations

import collections
import importlib.machinery
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from conftest import OTHER_KEY, REPO, TEST_KEY
from dumpmask import poolcache
from dumpmask.crypto import Key
from dumpmask.schema import Column
from dumpmask.transformers import common, get

KEY = Key(TEST_KEY)
TEXT = Column("c", type="text", kind="text")
SAMPLES = ["alice@example.com", "Bob O'Brien", "caf\u00e9 \u65e5\u672c", "42", "x" * 300]
#: (mutation, locale): each draws its own pool (email and userName: their own builders)
POOLED = [("faker.firstName", "en_US"), ("faker.lastName", "de_DE"), ("faker.name", "ja_JP"),
          ("faker.email", None), ("faker.userName", None), ("faker.address", "fr_FR"), ("faker.phone", "en_US"),
          ("faker.text", None)]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "pools"
    monkeypatch.setenv("DUMPMASK_POOL_CACHE", str(folder))
    monkeypatch.setattr(poolcache, "STATS", collections.Counter())
    new_process(monkeypatch)
    return folder


def new_process(monkeypatch) -> None:
    """What a new run starts with: no pool and no Faker in memory."""
    monkeypatch.setattr(common, "_POOLS", {})
    monkeypatch.setattr(common, "_FAKERS", {})


def masker(name: str, locale: str | None = None, key: Key = KEY):
    return get(name)(key, {"locale": locale} if locale else {}, TEXT, None)


def without_faker(monkeypatch) -> None:
    """`import faker` fails from here on (as if it were not installed)."""
    for mod in [m for m in sys.modules if m == "faker" or m.startswith("faker.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "faker", None)


@pytest.mark.parametrize("name,locale", POOLED)
def test_a_cached_pool_is_the_drawn_pool_and_needs_no_faker(cache, monkeypatch, name, locale):
    drawn = masker(name, locale)
    expected = drawn.pool, [drawn(v) for v in SAMPLES]
    assert poolcache.STATS == {"drawn": 1, "stored": 1}
    new_process(monkeypatch)
    without_faker(monkeypatch)
    cached = masker(name, locale)
    assert (cached.pool, [cached(v) for v in SAMPLES]) == expected
    assert type(cached.pool) is tuple
    assert poolcache.STATS["hit"] == 1


def test_without_the_cache_faker_is_needed(cache, monkeypatch):
    """The test above can fail: with the cache off, a new run draws with Faker."""
    masker("faker.firstName")
    new_process(monkeypatch)
    without_faker(monkeypatch)
    monkeypatch.setenv("DUMPMASK_POOL_CACHE", "off")
    with pytest.raises(ImportError):
        masker("faker.firstName")


def test_an_ephemeral_key_caches_nothing(cache):
    masker("faker.firstName", key=Key.random())
    assert not cache.exists()
    assert poolcache.STATS == {}


def test_off_turns_the_cache_off(cache, monkeypatch):
    monkeypatch.setenv("DUMPMASK_POOL_CACHE", "OFF")
    masker("faker.firstName")
    assert not cache.exists()
    assert poolcache.cache_dir() is None


def test_the_directory_is_xdg_cache_home_else_home_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("DUMPMASK_POOL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert poolcache.cache_dir() == str(tmp_path / "xdg" / "dumpmask" / "pools")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    assert poolcache.cache_dir() == str(tmp_path / "home" / ".cache" / "dumpmask" / "pools")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert poolcache.cache_dir() == str(tmp_path / "home" / ".cache" / "dumpmask" / "pools")


def test_files_are_private_and_hold_no_secret(cache):
    masker("faker.firstName")
    (path,) = cache.iterdir()
    assert cache.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
    data = path.read_bytes()
    assert KEY.secret.hex().encode() not in data and KEY.secret not in data
    assert KEY.fingerprint().encode() in data      # the key's public fingerprint names it


@pytest.mark.parametrize("part", ["faker", "source", "dumpmask", "key", "locale", "size"])
def test_everything_that_decides_a_pool_selects_another_file(cache, monkeypatch, part):
    pool = common.get_pool(KEY, "faker.firstName", lambda fk: fk.first_name(), "en_US", 300)
    assert poolcache.load(KEY, "faker.firstName", "en_US", 300) == pool
    key, locale, size = KEY, "en_US", 300
    if part in ("faker", "source"):
        monkeypatch.setitem(poolcache._fixed, part, poolcache._fixed[part] + " other")
    elif part == "dumpmask":
        monkeypatch.setattr(poolcache, "__version__", "0.0.0")
    elif part == "key":
        key = Key(OTHER_KEY)
    elif part == "locale":
        locale = "en_GB"
    else:
        size = 301
    before = poolcache.STATS["drawn"]
    assert poolcache.load(key, "faker.firstName", locale, size) is None
    assert poolcache.STATS["drawn"] == before + 1        # another file: not there


def test_a_changed_source_file_changes_the_source_fingerprint(tmp_path, monkeypatch):
    package = tmp_path / "dumpmask"
    shutil.copytree(REPO / "dumpmask" / "transformers", package / "transformers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dumpmask" / "crypto.py", package / "crypto.py")
    monkeypatch.setattr(poolcache, "_PACKAGE", str(package))
    monkeypatch.setattr(poolcache, "_fixed", {})
    first = poolcache._source_fingerprint()
    assert first == poolcache._source_fingerprint() is not None
    for changed in ("transformers/faker_based.py", "transformers/common.py", "crypto.py"):
        with open(package / changed, "ab") as fh:
            fh.write(b"\n")
        monkeypatch.setattr(poolcache, "_fixed", {})
        assert poolcache._source_fingerprint() not in (first, None)
        first = poolcache._source_fingerprint()
    (package / "crypto.py").unlink()
    monkeypatch.setattr(poolcache, "_fixed", {})
    assert poolcache._source_fingerprint() is None


def test_the_faker_fingerprint_is_its_installed_record():
    import hashlib
    from importlib.metadata import distribution

    dist = distribution("faker")
    record = (Path(dist._path) / "RECORD").read_bytes()
    assert poolcache._faker_fingerprint() == f"faker-{dist.version} {hashlib.sha256(record).hexdigest()}"


def fake_faker(monkeypatch, site: Path, infos: list[str], listed_init: bytes | None) -> None:
    """A Faker package at site/faker with these dist-info folders, each with a RECORD listing
    __init__.py with its true hash (listed_init None) or the given one."""
    import base64
    import hashlib

    (site / "faker").mkdir(parents=True)
    (site / "faker" / "__init__.py").write_bytes(b'VERSION = "1.0"\n')
    true = base64.urlsafe_b64encode(hashlib.sha256(b'VERSION = "1.0"\n').digest()).rstrip(b"=")
    for info in infos:
        (site / info).mkdir()
        (site / info / "RECORD").write_bytes(b"faker/__init__.py,sha256=" + (listed_init or true) + b",16\n")
    spec = importlib.machinery.ModuleSpec("faker", None, is_package=True)
    spec.submodule_search_locations = [str(site / "faker")]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: spec)
    monkeypatch.setattr(poolcache, "_fixed", {})


def test_a_faker_found_with_its_distribution_is_cached(tmp_path, monkeypatch):
    fake_faker(monkeypatch, tmp_path, ["Faker-1.0.dist-info"], None)
    assert poolcache._faker_fingerprint().startswith("Faker-1.0 ")


@pytest.mark.parametrize("infos,listed", [([], None), (["faker-1.0.dist-info", "faker-2.0.dist-info"], None),
                                          (["faker-1.0.dist-info"], b"another-hash")])
def test_no_cache_when_the_installed_faker_cannot_be_told(tmp_path, monkeypatch, cache, infos, listed):
    fake_faker(monkeypatch, tmp_path / "site", infos, listed)
    assert poolcache._faker_fingerprint() is None
    assert poolcache._identity(KEY, "faker.firstName", "en_US", 2000) is None
    poolcache.store(KEY, "faker.firstName", "en_US", 2000, ("a", "b"))
    assert not cache.exists()


def _corruptions():
    def flip(at):
        return lambda data, path, key: data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]

    def resigned(values):
        """A file with a valid MAC whose values are not a pool (as a bug in store() would write)."""
        def make(data, path, key):
            head = data[:data.index(b"\n", len(poolcache._MAGIC)) + 1]
            body = head + values + b"\n"
            return body + poolcache._mac(key, body) + b"\n"
        return make

    def other_key(data, path, key):
        other = Key(OTHER_KEY)
        pool = common.get_pool(other, "faker.firstName", lambda fk: fk.first_name(), "en_US")
        (other_file,) = [p for p in path.parent.iterdir() if p != path]
        assert pool
        return other_file.read_bytes()

    return {
        "empty": lambda data, path, key: b"",
        "truncated": lambda data, path, key: data[: len(data) // 2],
        "no last newline": lambda data, path, key: data[:-1],
        "a byte of a value": flip(300),
        "a byte of the identity": flip(len(poolcache._MAGIC) + 5),
        "a byte of the magic": flip(0),
        "a byte of the mac": flip(-5),
        "garbage appended": lambda data, path, key: data + b"x\n",
        "another key's file": other_key,
        "valid mac, duplicate values": resigned(b'["Ann", "Ann"]'),
        "valid mac, not a list": resigned(b'{"Ann": 1}'),
        "valid mac, not strings": resigned(b'["Ann", 1]'),
        "valid mac, empty": resigned(b"[]"),
        "valid mac, more than size": resigned(b"[" + b",".join(b'"v%d"' % i for i in range(2001)) + b"]"),
        "valid mac, not json": resigned(b'["Ann"'),
        "valid mac, too large": resigned(b'["' + b"A" * poolcache._MAX_FILE + b'"]'),
    }


@pytest.mark.parametrize("corruption", list(_corruptions()))
def test_a_file_not_as_written_is_not_used_and_is_replaced(cache, monkeypatch, corruption):
    def draw():
        new_process(monkeypatch)
        return common.get_pool(KEY, "faker.firstName", lambda fk: fk.first_name(), "en_US")

    expected = draw()
    (path,) = cache.iterdir()
    path.write_bytes(_corruptions()[corruption](path.read_bytes(), path, KEY))
    monkeypatch.setattr(poolcache, "STATS", collections.Counter())
    assert draw() == expected
    assert poolcache.STATS == {"rejected": 1, "stored": 1}
    without_faker(monkeypatch)
    assert draw() == expected                    # the file was written again
    assert poolcache.STATS["hit"] == 1


def test_a_directory_that_cannot_be_written_only_costs_time(tmp_path, monkeypatch, cache):
    (tmp_path / "a-file").write_bytes(b"")
    monkeypatch.setenv("DUMPMASK_POOL_CACHE", str(tmp_path / "a-file" / "pools"))
    drawn = masker("faker.firstName")
    assert poolcache.STATS == {"rejected": 1, "not stored": 1}     # opening it: NotADirectoryError
    monkeypatch.setenv("DUMPMASK_POOL_CACHE", "off")
    new_process(monkeypatch)
    assert masker("faker.firstName").pool == drawn.pool


def test_a_failed_write_leaves_no_temporary_file(cache, monkeypatch):
    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    masker("faker.firstName")
    assert poolcache.STATS["not stored"] == 1
    assert list(cache.iterdir()) == []


def test_the_cli_writes_the_same_bytes_with_the_cache_off_cold_and_warm(dm, tmp_path):
    rules, dump = REPO / "fixtures" / "demo-rules.json", REPO / "fixtures" / "demo.sql"
    folder = tmp_path / "pools"
    outputs = []
    for cache in ("off", folder, folder):
        p = dm("-q", "-c", rules, dump, env={"DUMPMASK_POOL_CACHE": cache})
        assert p.returncode == 0, p.stderr
        outputs.append(p.stdout)
        if cache != "off":
            assert sorted(f.suffix for f in folder.iterdir()) == [".pool"] * 8   # first, last, e-mail, phone, lorem, address, city, postcode
    assert outputs[0] == outputs[1] == outputs[2]
    assert b"COPY" in outputs[0]


# ---- the light Faker (common.LIGHT_PROVIDERS): the same draws as a Faker with every provider

LOCALES = ["en_US", "de_DE", "fr_FR", "ja_JP", "el_GR", "zh_CN", "pt_BR", "ar_AA"]


@pytest.mark.parametrize("locale", LOCALES)
def test_each_light_method_is_the_one_the_full_faker_resolves(monkeypatch, locale):
    """A method the light providers have must be the function the full Faker would call
    (a provider later in faker.config.PROVIDERS may define the same name: then the light Faker
    would draw other values)."""
    new_process(monkeypatch)
    light = common._faker(locale).factories[0]
    full = common.full_generator(locale, light.random)
    names = [n for n, v in vars(light).items() if not n.startswith("_") and callable(v) and hasattr(v, "__self__")]
    assert len(names) > 20
    for n in names:
        assert getattr(light, n).__func__ is getattr(full, n).__func__, n
    assert "_dm_full" not in vars(light)          # nothing so far needed the full Faker


BUILDERS = {
    "light only": lambda g: f"{g.first_name()} {g.street_address()} {g.phone_number()}",
    "full only": lambda g: f"{g.job()} {g.credit_card_number()}",
    # a light method, then one the light providers lack: the full Faker takes over mid-draw
    "both": lambda g: f"{g.last_name()}|{g.iban()}|{g.city()}|{g.license_plate()}",
}


@pytest.mark.parametrize("locale", ["en_US", "de_DE", "ja_JP"])
@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_a_light_faker_draws_what_a_full_one_draws(monkeypatch, locale, builder):
    monkeypatch.setenv("DUMPMASK_POOL_CACHE", "off")
    new_process(monkeypatch)
    light = common.get_pool(KEY, "t:" + builder, BUILDERS[builder], locale, size=300)
    new_process(monkeypatch)
    monkeypatch.setattr(common, "LIGHT_PROVIDERS", tuple(p.rsplit(".", 1)[-1] for p in _all_providers()))
    full = common.get_pool(KEY, "t:" + builder, BUILDERS[builder], locale, size=300)
    assert "_dm_full" not in vars(common._FAKERS[locale].factories[0])
    assert light == full and len(light) > 250


def _all_providers():
    from faker.config import PROVIDERS

    return PROVIDERS
