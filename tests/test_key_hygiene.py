"""Key hygiene (#18): `dumpmask key new`, weak keys refused, --weak-key-ok and --key-label in
the audit, the key file's mode, the signed audit still verifies. The real CLI in a subprocess."""
from __future__ import annotations

import json
import os
import re
import secrets

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TEST_KEY
from dumpmask.crypto import weakness

DUMP = (b"CREATE TABLE public.t (\n    id integer NOT NULL,\n    email text\n);\n\n"
        b"COPY public.t (id, email) FROM stdin;\n1\ta@b.example\n\\.\n\n")
RULES = {"tables": [{"tableName": "t", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]}


def _rules(tmp_path):
    p = tmp_path / "rules.json"
    p.write_text(json.dumps(RULES))
    return str(p)


def test_key_new_writes_a_0600_file_of_64_hex_and_refuses_overwrite(dm, tmp_path):
    kf = tmp_path / "k.key"
    cp = dm("key", "new", "-o", kf)
    assert cp.returncode == 0 and cp.stdout == b""
    assert os.stat(kf).st_mode & 0o777 == 0o600
    text = kf.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}\n", text)
    again = dm("key", "new", "-o", kf)
    assert again.returncode == 2 and b"exists" in again.stderr and kf.read_text() == text
    other = dm("key", "new").stdout.decode()
    assert re.fullmatch(r"[0-9a-f]{64}\n", other) and other != text


weak_keys = st.one_of(
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=15),
    st.builds(lambda u, n: (u * n)[:max(16, len(u) * 2)], st.text("abcdefXYZ0123!", min_size=1, max_size=6),
              st.integers(3, 20)),
    st.text("0123456789abcdef", min_size=16, max_size=31),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weak_keys)
def test_weak_keys_exit_2_without_output_or_key_text(dm, tmp_path, key):
    assert weakness(key.encode()) is not None
    out = tmp_path / f"o{secrets.token_hex(4)}.sql"
    cp = dm("-c", _rules(tmp_path), "-o", out, input=DUMP, env={"DUMPMASK_KEY": key})
    assert cp.returncode == 2 and cp.stdout == b"" and not out.exists()
    assert b"DUMPMASK_KEY" in cp.stderr and b"Traceback" not in cp.stderr
    if len(key) >= 4:
        assert key.encode() not in cp.stderr.replace(b"DUMPMASK_KEY", b"")


def test_weak_key_in_a_file_names_the_file(dm, tmp_path):
    kf = tmp_path / "weak.key"
    kf.write_text("ab" * 32)
    kf.chmod(0o600)
    cp = dm("-c", _rules(tmp_path), "--key-file", kf, input=DUMP, env={"DUMPMASK_KEY": None})
    assert cp.returncode == 2 and cp.stdout == b"" and str(kf).encode() in cp.stderr and b"abab" not in cp.stderr


def test_strong_random_keys_are_accepted_and_recorded(dm, tmp_path):
    audit = tmp_path / "a.json"
    key = secrets.token_hex(32)
    cp = dm("-c", _rules(tmp_path), "--audit", audit, "--key-label", "staging-2026-q4", input=DUMP,
            env={"DUMPMASK_KEY": key})
    assert cp.returncode == 0 and b"COPY public.t" in cp.stdout
    k = json.loads(audit.read_text())["key"]
    assert k["label"] == "staging-2026-q4" and k["source"] == "env" and k["weak_key_ok"] is False
    assert k["ephemeral"] is False and isinstance(k["fingerprint"], str)
    assert dm("verify-audit", audit, env={"DUMPMASK_KEY": key}).returncode == 0


def test_weak_key_ok_accepts_and_audit_records_it_only_when_weak(dm, tmp_path):
    audit = tmp_path / "a.json"
    cp = dm("-c", _rules(tmp_path), "--weak-key-ok", "--audit", audit, input=DUMP, env={"DUMPMASK_KEY": "k"})
    assert cp.returncode == 0
    k = json.loads(audit.read_text())["key"]
    assert k["weak_key_ok"] is True and k["label"] is None
    assert dm("verify-audit", "--weak-key-ok", audit, env={"DUMPMASK_KEY": "k"}).returncode == 0
    assert dm("verify-audit", audit, env={"DUMPMASK_KEY": "k"}).returncode == 2
    cp = dm("-c", _rules(tmp_path), "--weak-key-ok", "--audit", audit, input=DUMP, env={"DUMPMASK_KEY": TEST_KEY})
    assert cp.returncode == 0 and json.loads(audit.read_text())["key"]["weak_key_ok"] is False


def test_group_readable_key_file_warns_and_still_works(dm, tmp_path):
    kf = tmp_path / "k.key"
    assert dm("key", "new", "-o", kf).returncode == 0
    kf.chmod(0o640)
    audit = tmp_path / "a.json"
    cp = dm("-c", _rules(tmp_path), "--key-file", kf, "--audit", audit, input=DUMP, env={"DUMPMASK_KEY": None})
    assert cp.returncode == 0 and f"chmod 600 {kf}".encode() in cp.stderr
    assert json.loads(audit.read_text())["key"]["source"] == "file"
    assert dm("verify-audit", "--key-file", kf, audit, env={"DUMPMASK_KEY": None}).returncode == 0
    empty = tmp_path / "e.key"
    empty.write_text("\n")
    cp = dm("-c", _rules(tmp_path), "--key-file", empty, input=DUMP, env={"DUMPMASK_KEY": None})
    assert cp.returncode == 2 and cp.stdout == b""
