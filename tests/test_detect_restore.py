"""Detection end to end on the real servers (issues 11 and 17): HIPAA identifiers named `*_id`
and `cell` are masked by --template hipaa (they passed --strict in clear), a key flagged by its
name is remapped (never hashed: the restore failed on the FK), credentials are found and fail
--strict until covered, 14-digit versions are no phone numbers, and the rules scan writes for
Sakila restore (no `redact` into its NOT NULL geometry)."""
from __future__ import annotations

import json

import pytest

SCHEMA = """
CREATE TABLE public.taxes (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.fees (id serial PRIMARY KEY, amount numeric(10,2) NOT NULL);
CREATE TABLE public.fees_taxes (fee_id integer NOT NULL REFERENCES public.fees(id),
    tax_id uuid NOT NULL REFERENCES public.taxes(id), PRIMARY KEY (fee_id, tax_id));
CREATE TABLE public.patients (id serial PRIMARY KEY, first_name text, cell varchar(30),
    member_id varchar(20), insurance_id varchar(20), account_id varchar(20), license_id text);
CREATE TABLE public.lab_results (id serial PRIMARY KEY, patient_id varchar(12), result text);
CREATE TABLE public.api_keys (id serial PRIMARY KEY, name text NOT NULL, value text NOT NULL UNIQUE,
    tokens_count integer NOT NULL, salted boolean NOT NULL);
CREATE TABLE public.users (id serial PRIMARY KEY, confirmation_token varchar(64), otp_secret text);
CREATE UNIQUE INDEX users_confirmation_token ON public.users (confirmation_token);
CREATE TABLE public.schema_migrations (version character varying NOT NULL PRIMARY KEY);
INSERT INTO public.taxes VALUES ('6f1c2a9e-4b1d-4c3a-9e2f-0a1b2c3d4e5f', 'VAT'), ('1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d', 'GST');
INSERT INTO public.fees (amount) VALUES (10.5), (20), (30);
INSERT INTO public.fees_taxes VALUES (1, '6f1c2a9e-4b1d-4c3a-9e2f-0a1b2c3d4e5f'), (2, '1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d'),
    (3, '6f1c2a9e-4b1d-4c3a-9e2f-0a1b2c3d4e5f');
INSERT INTO public.patients (first_name, cell, member_id, insurance_id, account_id, license_id) VALUES
    ('Ann', '+1 (415) 555-0134', 'MBR83920177', 'INS-4471923', 'ACCT-99120355', 'DL77120934'),
    ('Bob', '+1 (212) 555-0188', 'MBR83920178', 'INS-4471924', 'ACCT-99120356', 'DL77120935');
INSERT INTO public.lab_results (patient_id, result) VALUES ('PT-5512093', 'ok'), ('PT-5512094', 'ok');
INSERT INTO public.api_keys (name, value, tokens_count, salted) VALUES
    ('ci', 'ghp_Zk3mQ8rT1vX9bN2cL7pW4sD6fH0jK5aYeU1o', 3, true),
    ('billing', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', 0, false);
INSERT INTO public.users (confirmation_token, otp_secret) VALUES
    ('Xq7Rk2Lm9Tz4Wp1Nv8Bc3Hd6', 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'), ('Yt5Gh8Jk2Lz7Qw4Er1Ty9Ui3', 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU');
INSERT INTO public.schema_migrations VALUES ('20240101120000'), ('20240215093000'), ('20240301101500'),
    ('20240412174500'), ('20240503080000');
"""
CLEAR = [b"MBR83920177", b"INS-4471923", b"ACCT-99120355", b"DL77120934", b"PT-5512093", b"555-0134"]
SECRETS = [b"ghp_Zk3mQ8rT1vX9bN2cL7pW4sD6fH0jK5aYeU1o", b"sk_live_4eC39HqLyjWDarjtT1zdp7dc",
           b"Xq7Rk2Lm9Tz4Wp1Nv8Bc3Hd6", b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"]


@pytest.fixture(scope="module")
def app_dump(pg_server, tmp_path_factory):
    db = pg_server.createdb("detect_app")
    pg_server.psql(db, SCHEMA)
    p = tmp_path_factory.mktemp("detect") / "app.sql"
    p.write_bytes(pg_server.dump(db))
    yield p
    pg_server.dropdb(db)


def test_hipaa_template_masks_identifiers_and_remaps_flagged_keys(dm, pg_server, app_dump, tmp_path):
    out = tmp_path / "masked.sql"
    cp = dm("-q", "--strict", "--template", "hipaa", app_dump, "-o", out)
    assert cp.returncode == 0, cp.stderr.decode()
    data = out.read_bytes()
    for v in CLEAR + SECRETS:
        assert v not in data, v
    db = pg_server.createdb("detect_app_hipaa")
    try:
        pg_server.restore(db, out)  # tax_id (a tax id by name) is a FK: remapped with taxes.id
        assert pg_server.count(db, "public.fees_taxes") == 3
        assert pg_server.scalar(db, "SELECT count(*) FROM public.fees_taxes f JOIN public.taxes t ON t.id = f.tax_id") == "3"
        assert pg_server.count(db, "public.schema_migrations") == 5
    finally:
        pg_server.dropdb(db)


def test_strict_fails_on_credentials_left_in_clear(dm, app_dump, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"tables": [
        {"tableName": "patients", "columnMutations": [
            {"column": c, "mutation": "hash"} for c in ("cell", "member_id", "insurance_id", "account_id", "license_id")]
            + [{"column": "first_name", "mutation": "faker.firstName"}]},
        {"tableName": "lab_results", "columnMutations": [{"column": "patient_id", "mutation": "hash"}]}]}))
    cp = dm("-q", "--strict", "-c", rules, app_dump, "-o", tmp_path / "o.sql")
    assert cp.returncode == 1
    err = cp.stderr.decode()
    for c in ("public.api_keys.value: credential", "public.users.confirmation_token: credential token",
              "public.users.otp_secret: credential secret"):
        assert c in err, err
    assert "tokens_count" not in err and "salted" not in err and "schema_migrations" not in err
    assert "fees_taxes.tax_id" in err and "not remapped" in err  # a key: remapping, not a value mutation
    for v in SECRETS:
        assert v.decode() not in err


def test_write_rules_on_the_app_restores(dm, pg_server, app_dump, tmp_path):
    rules = tmp_path / "new.json"
    cp = dm("scan", app_dump, "--write-rules", rules)
    assert cp.returncode == 0, cp.stderr.decode()
    doc = json.loads(rules.read_bytes())
    assert doc["options"]["identifierRemapping"]["enabled"] is True
    muts = {(t["tableName"], c["column"]): c["mutation"] for t in doc["tables"] for c in t["columnMutations"]}
    assert ("fees_taxes", "tax_id") not in muts          # remapped, no value mutation
    assert muts[("api_keys", "value")] == "hash"         # unique: injective
    assert muts[("users", "confirmation_token")] == "hash"
    assert muts[("lab_results", "patient_id")] == "hash"
    assert not any(t == "schema_migrations" for t, _ in muts)
    out = tmp_path / "masked.sql"
    cp = dm("-q", "--strict", "-c", rules, app_dump, "-o", out)
    assert cp.returncode == 0, cp.stderr.decode()
    data = out.read_bytes()
    for v in CLEAR + SECRETS:
        assert v not in data, v
    db = pg_server.createdb("detect_app_rules")
    try:
        pg_server.restore(db, out)
        assert pg_server.count(db, "public.api_keys") == 2
    finally:
        pg_server.dropdb(db)


def test_sakila_write_rules_restore(dm, my_server, datasets, tmp_path):
    from dumpmask.rules import load_rules

    src = datasets / "sakila" / "mariadb-dump-default.sql"
    rules = tmp_path / "new.json"
    cp = dm("scan", src, "--write-rules", rules)
    assert cp.returncode == 0, cp.stderr.decode()
    doc = json.loads(rules.read_bytes())
    muts = {(t["tableName"], c["column"]): c["mutation"] for t in doc["tables"] for c in t["columnMutations"]}
    assert muts[("address", "location")] != "redact"  # NOT NULL geometry: nothing restores but keep
    assert b"address.location" in cp.stderr and b"review" in cp.stderr
    assert load_rules(str(rules))
    out = tmp_path / "masked.sql"
    cp = dm("-q", "--strict", "-c", rules, src, "-o", out)
    assert cp.returncode == 0, cp.stderr.decode()
    db = my_server.create("sakila_masked")
    try:
        my_server.restore(db, out)
        assert my_server.count(db, "customer") == 599
    finally:
        my_server.drop(db)


def test_strict_on_a_pipe_fails_on_credentials(dm, app_dump):
    cp = dm("-q", "--strict", input=app_dump.read_bytes())
    assert cp.returncode == 1
    err = cp.stderr.decode()
    assert "credential" in err
    for v in SECRETS:
        assert v.decode() not in err
