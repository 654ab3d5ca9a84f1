"""Key strength through the library (#18): `Key(...)`, `dumpmask.mask(key=...)` and
`build_engine` refuse a weak key as the CLI does (crypto.weakness), with WeakKeyError (a
DumpmaskError, exit_code 2), unless `weak_key_ok=True`, which the audit records. These are the
tests that use weak keys on purpose; every other test uses TEST_KEY / OTHER_KEY."""
from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dumpmask
from conftest import OTHER_KEY, TEST_KEY
from dumpmask.crypto import Key, weakness
from dumpmask.engine import build_engine
from dumpmask.errors import DumpmaskError, KeyError_, WeakKeyError
from dumpmask.rules import load_rules

DUMP = (b"CREATE TABLE public.t (\n    id integer NOT NULL,\n    email text\n);\n\n"
        b"COPY public.t (id, email) FROM stdin;\n1\ta@b.example\n2\tc@d.example\n\\.\n\n")
RULES = {"tables": [{"tableName": "t", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]}

# weak by each of crypto.weakness's rules: short, short hex, few distinct bytes, a short unit repeated
weak_keys = st.one_of(
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=15),
    st.text("0123456789abcdef", min_size=16, max_size=31),
    st.text("abcdefg", min_size=16, max_size=40),
    st.builds(lambda u, n: (u * n)[:max(16, len(u) * 2)], st.text("abcdefXYZ0123!", min_size=1, max_size=6),
              st.integers(3, 20)),
)


def _rules():
    return load_rules(None, json.dumps(RULES).encode())


@settings(max_examples=40, deadline=None)
@given(weak_keys, st.booleans())
def test_key_refuses_weak_keys_with_weak_key_error(key, as_bytes):
    why = weakness(key.encode())
    assert why is not None
    with pytest.raises(WeakKeyError) as ei:
        Key(key.encode() if as_bytes else key)
    e = ei.value
    assert isinstance(e, KeyError_) and isinstance(e, DumpmaskError) and e.exit_code == 2
    assert e.reason == why and why in str(e) and "weak_key_ok=True" in str(e)
    if len(key) >= 4:
        assert key not in str(e), "the error repeats the key"
    k = Key(key, weak_key_ok=True)
    assert k.audit_entry()["weak_key_ok"] is True and k.audit_entry()["source"] == "api"


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weak_keys)
def test_mask_refuses_a_weak_key_before_any_output(tmp_path, key):
    dst = io.BytesIO()
    with pytest.raises(WeakKeyError) as ei:
        dumpmask.mask(io.BytesIO(DUMP), dst, rules=_rules(), key=key)
    assert dst.getvalue() == b""
    assert "dumpmask.mask()" in str(ei.value)
    # a path, bytes, and a pg_dump custom archive (the key is checked before the archive is read)
    src = tmp_path / "d.sql"
    src.write_bytes(DUMP)
    with pytest.raises(WeakKeyError):
        dumpmask.mask(str(src), dst, rules=_rules(), key=key.encode())
    arch = tmp_path / "d.dump"
    arch.write_bytes(b"PGDMP\x01\x0e\x00 not really an archive")
    out = tmp_path / "o.dump"
    with pytest.raises(WeakKeyError):
        dumpmask.mask(str(arch), str(out), rules=_rules(), key=key)
    assert dst.getvalue() == b"" and not out.exists()


def test_mask_weak_key_ok_is_recorded_and_gives_the_cli_bytes(dm, tmp_path):
    rp = tmp_path / "rules.json"
    rp.write_text(json.dumps(RULES))
    audit = tmp_path / "a.json"
    cp = dm("-c", rp, "--weak-key-ok", "--audit", audit, input=DUMP, env={"DUMPMASK_KEY": "k"})
    assert cp.returncode == 0, cp.stderr
    for key in ("k", b"k", Key("k", weak_key_ok=True)):
        dst = io.BytesIO()
        a = dumpmask.mask(io.BytesIO(DUMP), dst, rules=str(rp), key=key, weak_key_ok=True)
        assert dst.getvalue() == cp.stdout
        assert a["key"]["weak_key_ok"] is True and a["key"]["source"] == "api"
        assert a["key"]["fingerprint"] == json.loads(audit.read_text())["key"]["fingerprint"]
    # a weak Key made with weak_key_ok needs nothing more from mask()
    a = dumpmask.mask(io.BytesIO(DUMP), io.BytesIO(), rules=str(rp), key=Key(b"k", weak_key_ok=True))
    assert a["key"]["weak_key_ok"] is True


def test_a_strong_key_records_weak_key_ok_false_even_with_the_flag():
    for key, flag in ((TEST_KEY, True), (TEST_KEY.encode(), False), (Key(OTHER_KEY, label="staging-2026-q4"), True)):
        a = dumpmask.mask(io.BytesIO(DUMP), io.BytesIO(), rules=_rules(), key=key, weak_key_ok=flag)
        assert a["status"] == "ok" and a["key"]["weak_key_ok"] is False and a["key"]["source"] == "api"
    assert a["key"]["label"] == "staging-2026-q4"
    r = dumpmask.mask(io.BytesIO(DUMP), io.BytesIO(), rules=_rules())
    assert r["key"]["ephemeral"] is True and r["key"]["weak_key_ok"] is False


def test_build_engine_checks_a_str_key_and_takes_a_key_object():
    with pytest.raises(WeakKeyError):
        build_engine(_rules(), "short")
    assert build_engine(_rules(), TEST_KEY).key.fingerprint() == Key(TEST_KEY).fingerprint()


@pytest.mark.parametrize("bad", [b"", "", b"   \n", 12345, None])
def test_empty_or_wrong_type_keys_are_key_errors_not_crashes(bad):
    if bad is None:
        assert dumpmask.mask(io.BytesIO(DUMP), io.BytesIO(), rules=_rules(), key=None)["key"]["ephemeral"]
        return
    with pytest.raises(KeyError_) as ei:
        Key(bad)
    assert ei.value.exit_code == 2
    with pytest.raises(KeyError_):
        dumpmask.mask(io.BytesIO(DUMP), io.BytesIO(), rules=_rules(), key=bad)


def test_a_weak_key_built_by_plugin_code_is_a_clear_exit_2_not_a_traceback(dm, tmp_path):
    """Library code run by the CLI (a plugin) that builds Key(b"short") stops the run with the
    WeakKeyError's message, exit 2, no traceback, no output."""
    plugin = tmp_path / "weak_plugin.py"
    plugin.write_text("from dumpmask.crypto import Key\nK = Key(b'short')\n")
    rp = tmp_path / "rules.json"
    rp.write_text(json.dumps(RULES))
    cp = dm("-c", rp, "--plugin", plugin, input=DUMP)
    assert cp.returncode == 2 and cp.stdout == b""
    assert b"too weak" in cp.stderr and b"weak_key_ok=True" in cp.stderr and b"Traceback" not in cp.stderr
    assert b"short" not in cp.stderr.replace(b"weak_plugin", b"")
