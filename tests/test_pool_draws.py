"""Every pool dumpmask draws is the pool upstream Faker draws: a plain `faker.Faker(locale)` (every
provider, none of dumpmask's shortcuts) seeded as get_pool seeds it, the same builder called
`size` times, duplicates and empty values dropped in order. The shortcuts checked here are
common._light_faker (five providers, made without faker's __init__ and its config scan),
common._random_element (Faker's random_element in one call), _Weights and _CumulativeRandom;
over several keys, locales and every pooled mutation, in this process and in a new one (where
`faker` was never imported before the first pool)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import OTHER_KEY, REPO, TEST_KEY
from dumpmask.crypto import Key
from dumpmask.schema import Column
from dumpmask.transformers import common, faker_based, get, shapes

TEXT = Column("c", type="text", kind="text")
KEYS = [Key(TEST_KEY), Key(OTHER_KEY), Key("0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0")]
LOCALES = ["en_US", "de_DE", "fr_FR", "ja_JP", "zh_CN", "pt_BR", "el_GR", "ar_AA", "ru_RU", "hi_IN", "ko_KR",
           "en-GB", "es_MX", "it_IT", "pl_PL", "nl_BE"]
#: the mutations that take a locale (each its own pool), and those drawn in en_US only
LOCALISED = ["faker.name", "faker.firstName", "faker.lastName", "faker.address", "faker.company", "faker.city",
             "faker.postcode", "faker.phone"]
EN_ONLY = ["faker.email", "faker.userName", "faker.url", "faker.text"]
#: the generic `faker` mutation: methods of the light providers and of others (the full Faker)
PROVIDERS = [{"provider": "street_name"}, {"provider": "catch_phrase"}, {"provider": "job"},
             {"provider": "iban"}, {"provider": "sentence", "args": {"nb_words": 4}}, {"provider": "color_name"}]


_UPSTREAM: dict[str, object] = {}


def reference_pool(key: Key, name: str, builder, locale: str, size: int) -> tuple[str, ...]:
    from faker import Faker

    fk = _UPSTREAM.get(locale)
    if fk is None:
        fk = _UPSTREAM[locale] = Faker(locale)     # seed_instance below reseeds it for every pool
    fk.seed_instance(int.from_bytes(key.subkey(f"pool:{name}:{locale}")[:8], "big"))
    gen = fk.factories[0]
    seen: dict[str, None] = {}
    for _ in range(size):
        v = builder(gen)
        if v and v not in seen:
            seen[v] = None
    return tuple(seen)


@pytest.fixture
def drawn(monkeypatch):
    """Masker -> the (key, name, builder, locale, size, pool) of each pool it drew (cache off,
    nothing in memory)."""
    monkeypatch.setenv("DUMPMASK_POOL_CACHE", "off")
    monkeypatch.setattr(common, "_POOLS", {})
    monkeypatch.setattr(common, "_FAKERS", {})
    calls = []
    real = common.get_pool

    def recording(key, name, builder, locale="en_US", size=common.POOL_SIZE):
        pool = real(key, name, builder, locale, size)
        calls.append((key, name, builder, locale, size, pool))
        return pool

    for module in (common, faker_based, shapes):
        monkeypatch.setattr(module, "get_pool", recording)

    def draw(name: str, options: dict):
        del calls[:]
        get(name)(options.pop("key"), options, TEXT, None)
        assert calls, name
        return list(calls)
    return draw


def _check(calls) -> None:
    for key, name, builder, locale, size, pool in calls:
        assert type(pool) is tuple and len(pool) > 10, (name, locale)
        assert pool == reference_pool(key, name, builder, locale, size), (name, locale)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("mutation", LOCALISED)
def test_localised_pools_are_upstream_fakers(drawn, mutation, locale):
    key = KEYS[(LOCALES.index(locale) + LOCALISED.index(mutation)) % len(KEYS)]
    _check(drawn(mutation, {"key": key, "locale": locale}))


@pytest.mark.parametrize("key", range(len(KEYS)))
@pytest.mark.parametrize("mutation", EN_ONLY)
def test_en_us_pools_are_upstream_fakers(drawn, mutation, key):
    _check(drawn(mutation, {"key": KEYS[key]}))


@pytest.mark.parametrize("locale", ["en_US", "de_DE", "ja_JP", "fr_FR"])
@pytest.mark.parametrize("options", PROVIDERS, ids=lambda o: o["provider"])
def test_faker_provider_pools_are_upstream_fakers(drawn, options, locale):
    _check(drawn("faker", {"key": KEYS[0], "locale": locale, **json.loads(json.dumps(options))}))


def test_the_usual_faker_draws_the_same(drawn, monkeypatch):
    """The way _light_faker stands aside for (Faker(locale, providers=light)) gives the same."""
    monkeypatch.setattr(common, "_light_faker", lambda locale: None)
    for mutation in ("faker.firstName", "faker.address", "faker.phone"):
        _check(drawn(mutation, {"key": KEYS[1], "locale": "de_DE"}))


def test_the_shortcuts_can_fail(drawn, monkeypatch):
    """The comparison above sees a draw that is not upstream's: here random_element takes the
    first key of a table instead of drawing."""
    def first(provider, original, elements):
        return next(iter(elements))

    monkeypatch.setattr(common, "_random_element", first)
    key, name, builder, locale, size, pool = drawn("faker.firstName", {"key": KEYS[0], "locale": "en_US"})[0]
    assert pool != reference_pool(key, name, builder, locale, size)


def test_an_unknown_locale_is_a_rules_error(drawn):
    from dumpmask.errors import RulesError

    with pytest.raises(RulesError, match="unknown Faker locale 'xx_XX'"):
        drawn("faker.firstName", {"key": KEYS[0], "locale": "xx_XX"})


NEW_PROCESS = r"""
import json, sys
from dumpmask.crypto import Key
from dumpmask.schema import Column
from dumpmask.transformers import common, get

text = Column("c", type="text", kind="text")
key = Key(sys.argv[1])
pools = {}
for name, options in [("faker.email", {}), ("faker.firstName", {"locale": "de_DE"}), ("faker.phone", {"locale": "ja_JP"})]:
    pools[name] = list(get(name)(key, options, text, None).pool)
seen = {"config": "faker.config" in sys.modules, "factory": "faker.factory" in sys.modules}
pools["faker:job"] = list(get("faker")(key, {"provider": "job"}, text, None).pool)   # needs the full Faker
import faker
from faker import Faker
seen["after"] = "faker.config" in sys.modules and faker.VERSION == faker.__dict__["VERSION"] and Faker is faker.proxy.Faker
print(json.dumps({"seen": seen, "pools": pools}))
"""


def test_a_new_process_draws_upstream_pools_without_fakers_init():
    env = dict(os.environ, DUMPMASK_POOL_CACHE="off", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", NEW_PROCESS, OTHER_KEY], env=env, capture_output=True, text=True,
                          check=True, cwd=REPO)
    out = json.loads(proc.stdout)
    assert out["seen"] == {"config": False, "factory": False, "after": True}
    key = Key(OTHER_KEY)
    assert tuple(out["pools"]["faker.email"]) == reference_pool(key, "email_local", faker_based._email_local,
                                                                 "en_US", common.POOL_SIZE)
    first = get("faker.firstName").build
    assert tuple(out["pools"]["faker.firstName"]) == reference_pool(
        key, "faker.firstName", lambda g: common.clean_text(first(g)), "de_DE", common.POOL_SIZE)
    phone = get("faker.phone").build
    assert tuple(out["pools"]["faker.phone"]) == reference_pool(
        key, "faker.phone", lambda g: common.clean_text(phone(g)), "ja_JP", common.POOL_SIZE)
    assert tuple(out["pools"]["faker:job"]) == reference_pool(
        key, "faker:job:{}", lambda g: common.clean_text(str(g.job())), "en_US", common.POOL_SIZE)
