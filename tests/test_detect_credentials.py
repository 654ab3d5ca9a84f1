"""Detection of issue 11 / 17: credentials (by name and content), HIPAA identifiers named
`*_id`, national ids, array columns, evidence that fits the type and shape, and suggestions
that restore (valid for the type, injective on unique columns, remapping on keys)."""
from __future__ import annotations

import base64
import random
import secrets
import string

import pytest
from hypothesis import given, settings, strategies as st

from dumpmask.detect import (CATEGORIES, TEMPLATES, ContentSampler, detect_by_name, fit_rule, in_template,
                             is_secret_value, secret_category, suggest_rule, valid_for)
from dumpmask.schema import Column, ForeignKey, TableSchema, classify

CREDENTIAL_CATEGORIES = ("credential password", "credential username", "credential token", "credential api key",
                         "credential private key", "credential secret", "credential digest")


def col(name: str, type_text: str = "text", nullable: bool = True) -> Column:
    c = classify(type_text)
    c.name, c.nullable = name, nullable
    return c


# --------------------------------------------------------------------------- names

@pytest.mark.parametrize("table, name, type_text, category", [
    ("api_keys", "value", "text", "credential api key"),
    ("organizations", "api_key", "varchar(64)", "credential api key"),
    ("organizations", "apiKey", "varchar(64)", "credential api key"),
    ("password_resets", "token", "varchar(255)", "credential token"),
    ("invites", "token", "text", "credential token"),
    ("oauth_access_tokens", "token", "varchar(255)", "credential token"),
    ("oauth_access_tokens", "refresh_token", "varchar(255)", "credential token"),
    ("oauth_applications", "secret", "varchar(255)", "credential secret"),
    ("personal_access_tokens", "token_digest", "varchar(64)", "credential digest"),
    ("users", "confirmation_token", "varchar(255)", "credential token"),
    ("users", "unlock_token", "varchar(255)", "credential token"),
    ("users", "reset_password_token", "varchar(255)", "credential token"),
    ("users", "access_token", "text", "credential token"),
    ("integrations", "secrets", "jsonb", "credential secret"),
    ("webhooks", "webhook_secret", "text", "credential secret"),
    ("webhooks", "signing_secret", "text", "credential secret"),
    ("users", "otp_secret", "text", "credential secret"),
    ("users", "encrypted_otp_secret", "text", "credential secret"),
    ("users", "totp", "text", "credential secret"),
    ("users", "otp_backup_codes", "text[]", "credential secret"),
    ("users", "salt", "varchar(32)", "credential secret"),
    ("users", "encrypted_api_credentials", "bytea", "credential secret"),
    ("deploy_keys", "private_key", "text", "credential private key"),
    ("ssh_keys", "key", "text", "credential api key"),
    ("sessions", "session_token", "uuid", "credential token"),
    ("users", "password_digest", "varchar(255)", "credential password"),
    ("users", "encrypted_password", "varchar(255)", "credential password"),
    ("tokens", "digest", "bytea", "credential digest"),
])
def test_credentials_by_name(table, name, type_text, category):
    f = detect_by_name(name, col(name, type_text), table)
    assert f is not None, (table, name)
    assert f.category == category
    assert f.framework == "credential"
    assert f.category.startswith("credential")


@pytest.mark.parametrize("table, name, type_text", [
    ("users", "tokens_count", "integer"),
    ("users", "token_count", "text"),
    ("users", "salted", "boolean"),
    ("users", "token_type", "text"),
    ("users", "token_expires_at", "timestamp"),
    ("users", "token_id", "integer"),          # a foreign key to tokens
    ("users", "secret_question", "text"),
    ("users", "otp_required_for_login", "boolean"),
    ("users", "reset_password_sent_at", "timestamp"),
    ("users", "email_digest", "boolean"),
    ("users", "digest_frequency", "text"),
    ("users", "token", "integer"),            # an integer is no secret
    ("users", "secret", "public.mood"),       # an enum (kind other is allowed...) see below
    ("translation_keys", "key", "text"),
    ("settings", "value", "text"),
    ("api_keys", "name", "text"),
    ("integrations", "secret_name", "text"),
])
def test_not_credentials_by_name(table, name, type_text):
    c = col(name, type_text)
    if type_text == "public.mood":
        c.kind, c.enum_values = "enum", ("a", "b")
    assert detect_by_name(name, c, table) is None, (table, name)


def test_credentials_in_every_template():
    for c in CREDENTIAL_CATEGORIES:
        assert c in CATEGORIES
        for t in ("hipaa", "pci", "gdpr", "all"):
            assert c in TEMPLATES[t], (c, t)
    f = detect_by_name("api_key")
    assert all(in_template(f, t) for t in ("hipaa", "pci", "gdpr", "all"))


@pytest.mark.parametrize("table, name, type_text, category", [
    ("members", "member_id", "varchar(20)", "HIPAA-9"),
    ("claims", "insurance_id", "text", "HIPAA-9"),
    ("payments", "account_id", "varchar(30)", "HIPAA-10"),
    ("drivers", "license_id", "text", "HIPAA-11"),
    ("lab_results", "patient_id", "varchar(12)", "HIPAA-8"),
    ("patients", "cell", "varchar(30)", "HIPAA-4"),
    ("contacts", "cell_phone", "text", "HIPAA-4"),
    ("members", "cell_number", "text", "HIPAA-4"),
    ("people", "tax_identification_number", "text", "GDPR tax id"),
    ("people", "tin", "text", "GDPR tax id"),
    ("companies", "vat_number", "text", "GDPR tax id"),
    ("people", "national_insurance_number", "text", "GDPR national id"),
    ("people", "nino", "char(9)", "GDPR national id"),
    ("people", "nif", "text", "GDPR national id"),
    ("people", "codice_fiscale", "varchar(16)", "GDPR national id"),
    ("people", "cpf", "varchar(14)", "GDPR national id"),
    ("people", "aadhaar", "varchar(12)", "GDPR national id"),
    ("people", "pesel", "char(11)", "GDPR national id"),
    ("messages", "bcc_emails", "text[]", "HIPAA-6"),
    ("messages", "cc_emails", "varchar(120)[]", "HIPAA-6"),
])
def test_identifiers_and_national_ids_by_name(table, name, type_text, category):
    f = detect_by_name(name, col(name, type_text), table)
    assert f is not None, (table, name)
    assert f.category.startswith(category), f.category


@pytest.mark.parametrize("table, name, type_text", [
    ("grid", "cell", "text"),               # a spreadsheet cell, not a phone
    ("batteries", "cell", "integer"),
    ("stores", "location", "smallint"),     # a small integer code, not a geolocation
    ("stores", "geo", "integer"),
    ("invoices", "vat", "numeric(5,2)"),    # an amount
    ("orders", "customer_id", "integer"),   # a plain reference
])
def test_identifier_false_positives(table, name, type_text):
    assert detect_by_name(name, col(name, type_text), table) is None


def test_integer_coordinates_need_a_coordinate_word_and_32_bits():
    assert detect_by_name("latitude_e7", col("latitude_e7", "integer")) is not None
    assert detect_by_name("lat", col("lat", "smallint")) is None
    assert detect_by_name("lat", col("lat", "numeric(9,6)")) is not None


# --------------------------------------------------------------------------- content

def _rand(n, alphabet=string.ascii_letters + string.digits, seed=0):
    r = random.Random(seed)
    return "".join(r.choice(alphabet) for _ in range(n))


SECRETS = [
    "ghp_" + _rand(36, seed=1), "gho_" + _rand(36, seed=2), "github_pat_" + _rand(22, seed=3) + "_" + _rand(59, seed=4),
    "glpat-" + _rand(20, seed=5), "sk_live_" + _rand(24, seed=6), "sk_test_" + _rand(24, seed=7),
    "rk_live_" + _rand(24, seed=8), "xoxb-123456789012-1234567890123-" + _rand(24, seed=9),
    "xoxp-123456789012-1234567890123-" + _rand(24, seed=10), "AKIA" + _rand(16, string.ascii_uppercase + string.digits, 11),
    "ASIA" + _rand(16, string.ascii_uppercase + string.digits, 12), "AIza" + _rand(35, seed=13),
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA" + _rand(40, seed=14) + "\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n-----END OPENSSH PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQ",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "$2a$10$" + _rand(53, "./" + string.ascii_letters + string.digits, 15),
    "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
    '{"api_key": "sk_live_' + _rand(24, seed=16) + '"}',
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
]
NOT_SECRETS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # a checksum (hex)
    "5d41402abc4b2a76b9719d911017c592", "da39a3ee5e6b4b0d3255bfef95601890afd80709",  # md5/sha1 hex
    "3f2504e0-4f89-11d3-9a0c-0305e82c3301",  # a UUID
    "CustomerAccountNumber2020X", "ProductCategoryDescriptionV2", "HelloWorld12ThisIsAName",
    "The quick brown fox jumps over the lazy dog", "mary.smith@example.org", "https://example.com/a/b",
    "2024-01-01 12:00:00", "20240101120000", "user_profile_settings_2020", "short",
]


@pytest.mark.parametrize("value", SECRETS)
def test_secret_values(value):
    assert is_secret_value(value), value
    assert secret_category(value).startswith("credential")


@pytest.mark.parametrize("value", NOT_SECRETS)
def test_not_secret_values(value):
    assert not is_secret_value(value), value


def test_random_tokens_are_secrets_by_content():
    toks = [secrets.token_urlsafe(24) for _ in range(200)] + \
        [base64.b64encode(secrets.token_bytes(30)).decode() for _ in range(200)]
    assert sum(map(is_secret_value, toks)) / len(toks) > 0.9


def _sampler(name, values, type_text="text"):
    s = ContentSampler()
    c = col(name, type_text)
    for v in values:
        s.add(name, v, c)
    return s.findings().get(name)


def test_content_secrets_column():
    f = _sampler("value", [secrets.token_urlsafe(24) for _ in range(40)])
    assert f is not None and f.category == "credential token" and f.evidence.startswith("content")
    f = _sampler("blob", ["-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE" + _rand(30, seed=i) + "\n-----END EC PRIVATE KEY-----"
                          for i in range(10)])
    assert f.category == "credential private key"
    f = _sampler("settings", ['{"token": "ghp_%s"}' % _rand(36, seed=i) for i in range(10)], "jsonb")
    assert f is not None and f.category == "credential token"
    assert _sampler("sha", [secrets.token_hex(20) for _ in range(40)]) is None  # commit SHAs


def test_content_secrets_not_in_enum_or_integer_columns():
    s = ContentSampler()
    c = col("code", "integer")
    for i in range(20):
        s.add("code", str(10**15 + i), c)
    assert "code" not in s.findings()


def test_numeric_timestamps_are_not_phones():
    versions = [f"2024{m:02d}{d:02d}{h:02d}0000" for m in range(1, 7) for d in (1, 15) for h in (9, 17)]
    assert _sampler("version", versions, "character varying") is None
    epochs = [str(1700000000 + 86400 * i) for i in range(30)]
    assert _sampler("stamp", epochs, "varchar(20)") is None
    ms = [str(1700000000000 + 86400000 * i) for i in range(30)]
    assert _sampler("stamp", ms, "varchar(20)") is None
    phones = [f"1403{random.Random(i).randint(2000000, 9999999)}" for i in range(30)]  # 11 digits: still phones
    assert _sampler("contact", phones, "varchar(20)").category == "HIPAA-4 phone"


def test_array_elements_are_sampled():
    vals = ["{" + ",".join(f"u{i}.{j}@example.org" for j in range(3)) + "}" for i in range(10)]
    f = _sampler("recipients", vals, "text[]")
    assert f is not None and f.category == "HIPAA-6 email"
    vals = ['{"Ann Lee <ann%d@example.org>",NULL}' % i for i in range(10)]
    assert _sampler("recipients", ['{"a%d@example.org","b%d@example.com"}' % (i, i) for i in range(10)],
                    "varchar(100)[]").category == "HIPAA-6 email"


# --------------------------------------------------------------------------- suggestions

def test_never_redact_a_number_or_a_date():
    for name in ("phone", "cvv", "pin", "ssn", "salary", "latitude_e7", "account_number"):
        for t in ("integer", "bigint", "smallint", "numeric(10,0)", "float8"):
            f = detect_by_name(name, col(name, t))
            if f is None:
                continue
            assert fit_rule(f, col(name, t, nullable=False))["mutation"] != "redact", (name, t)
            assert suggest_rule(f, col(name, t))["mutation"] != "redact", (name, t)


def test_unique_columns_get_injective_mutations():
    assert fit_rule(detect_by_name("email"), col("email", "varchar(120)"), unique=True)["mutation"] == "faker.email"
    assert fit_rule(detect_by_name("username"), col("username", "text"), unique=True)["mutation"] == "faker.userName"
    assert fit_rule(detect_by_name("phone"), col("phone", "varchar(30)"), unique=True)["mutation"] == "hash"
    assert fit_rule(detect_by_name("first_name"), col("first_name", "text"), unique=True)["mutation"] == "hash"
    # a small integer cannot take a collision-free hash: a keyed permutation of its own
    assert fit_rule(detect_by_name("phone"), col("phone", "integer"), unique=True)["mutation"] == "key"


def test_nothing_fits_a_not_null_geometry():
    f = detect_by_name("location", col("location", "geometry", nullable=False), "address")
    r = fit_rule(f, col("location", "geometry", nullable=False))
    assert r["mutation"] == "keep" and r["review"] is True
    assert fit_rule(f, col("location", "geometry"))["mutation"] == "null"


def test_enum_columns_keep_or_null():
    c = col("gender", "enum('M','F')", nullable=False)
    assert fit_rule(detect_by_name("gender"), c)["mutation"] in ("keep", "redact")


_TYPES = ["text", "varchar(10)", "char(3)", "integer", "smallint", "bigint", "numeric(5,2)", "numeric(20,0)", "float8",
          "date", "timestamp", "timestamptz", "time", "interval", "bytea", "uuid", "enum('a','b')", "year", "jsonb", "json",
          "text[]", "varchar(40)[]", "integer[]", "geometry", "point", "inet", "macaddr", "bit(3)", "boolean", "citext"]
_NAMES = ["email", "phone", "dob", "picture", "cvv", "pin", "password", "username", "gender", "ssn", "salary", "ip",
          "device_id", "location", "first_name", "iban", "card_number", "admission_date", "mrn", "url", "zip", "vin",
          "fingerprint", "passport", "birth_year", "api_key", "token", "secret", "member_id", "cell", "bcc_emails",
          "tax_identification_number", "private_key", "mac_address", "salt"]


@settings(max_examples=400, deadline=None)
@given(type_text=st.sampled_from(_TYPES), name=st.sampled_from(_NAMES), nullable=st.booleans(), unique=st.booleans())
def test_fit_rule_always_restores(type_text, name, nullable, unique):
    """Whatever the finding and the column, the suggestion is valid for the type (and
    injective on a unique column), or an explicit keep for review."""
    c = col(name, type_text, nullable)
    f = detect_by_name(name, c, "patients") or detect_by_name(name, None, "patients")
    if f is None:
        return
    r = fit_rule(f, c, unique=unique, dialect="postgres")
    if r["mutation"] == "keep":
        assert r.get("review") is True or suggest_rule(f, c)["mutation"] == "keep"  # gender, birth year
        return
    assert valid_for(r["mutation"], r.get("options", {}), c, unique=unique, dialect="postgres"), (name, type_text, r)
    if r["mutation"] == "redact":
        assert c.kind not in ("int", "numeric", "float", "date", "timestamp", "time", "interval", "year")


# --------------------------------------------------------------------------- keys resolve to remapping

def _schema():
    taxes = TableSchema("public", "taxes", [col("id", "uuid", False), col("name", "text")], primary_key=("id",))
    fees_taxes = TableSchema("public", "fees_taxes", [col("fee_id", "integer", False), col("tax_id", "uuid", False)],
                             primary_key=("fee_id", "tax_id"),
                             foreign_keys=[ForeignKey(("tax_id",), "public.taxes", ("id",))])
    patients = TableSchema("public", "patients", [col("id", "integer", False), col("member_id", "text")],
                           primary_key=("id",), unique=[("member_id",)])
    labs = TableSchema("public", "lab_results", [col("id", "integer", False), col("patient_id", "integer"),
                                                 col("account_id", "varchar(20)")], primary_key=("id",))
    return {("public", t.name): t for t in (taxes, fees_taxes, patients, labs)}


def test_key_columns_resolve_to_remapping():
    from dumpmask.coverage import lookup_in, suggestion, table_findings

    tables = _schema()
    lookup = lookup_in(tables)
    f = table_findings(("public", "fees_taxes"), tables[("public", "fees_taxes")], lookup=lookup)
    col_, fd = f["tax_id"]
    assert fd.category == "GDPR tax id" and fd.suggested == "key" and fd.key.startswith("foreign key")
    assert suggestion(fd, col_, tables[("public", "fees_taxes")])["mutation"] == "key"
    # a loose key: patient_id (no FK) of the type of patients.id joins its domain
    f = table_findings(("public", "lab_results"), tables[("public", "lab_results")], lookup=lookup)
    assert f["patient_id"][1].suggested == "key"
    assert f["patient_id"][1].suggested_options == {"domain": "patients.id"}
    # no accounts table: account_id is an identifier of its own, hashed
    assert f["account_id"][1].suggested == "hash" and f["account_id"][1].key is None
    # a unique non-key identifier: injective
    f = table_findings(("public", "patients"), tables[("public", "patients")], lookup=lookup)
    assert suggestion(f["member_id"][1], f["member_id"][0], tables[("public", "patients")])["mutation"] == "hash"


def test_write_rules_turns_remapping_on_for_keys_and_identifier_templates():
    from dumpmask.scan import build_rules_document

    row = {"table": "public.fees_taxes", "table_key": ["public", "fees_taxes"], "column": "tax_id", "type": "uuid",
           "category": "GDPR tax id", "evidence": "name", "covered_by": None, "suggested": "key",
           "suggested_options": {}, "key": "foreign key to public.taxes(id)"}
    doc = build_rules_document([row], None, None, None)
    assert doc["options"]["identifierRemapping"]["enabled"] is True
    assert doc["tables"] == []  # covered by remapping, no value mutation
    loose = dict(row, column="patient_id", suggested_options={"domain": "patients.id"})
    doc = build_rules_document([loose], None, None, None)
    assert doc["tables"][0]["columnMutations"][0]["mutation"] == "key"
    assert doc["tables"][0]["columnMutations"][0]["options"] == {"domain": "patients.id"}
    off = {"options": {"identifierRemapping": {"enabled": False}}, "tables": []}
    doc = build_rules_document([row], None, off, None)
    assert doc["options"]["identifierRemapping"]["enabled"] is False
    assert doc["tables"][0]["columnMutations"][0]["mutation"] == "key"
    for t in ("hipaa", "gdpr", "all"):
        assert build_rules_document([], None, None, t)["options"]["identifierRemapping"]["enabled"] is True
    assert "options" not in build_rules_document([], None, None, "pci")


def test_write_rules_quotes_names_that_need_it():
    from dumpmask.rules import load_rules
    from dumpmask.coverage import rule_name
    from dumpmask.scan import build_rules_document

    assert rule_name("users") == "users" and rule_name("User") == '"User"' and rule_name('a"b') == '"a""b"'
    assert rule_name("Zażółć Klienci") == '"Zażółć Klienci"' and rule_name("e-mail") == '"e-mail"'
    assert rule_name("User", "mysql") == "User" and rule_name("a.b", "mysql") == "`a.b`"
    row = {"table": "App Schema.Zażółć", "table_key": ["App Schema", "Zażółć"], "column": "e-Mail", "type": "text",
           "category": "HIPAA-6 email", "evidence": "name", "covered_by": None, "suggested": "faker.email",
           "suggested_options": {}}
    import orjson
    doc = build_rules_document([row], None, None, None)
    rs = load_rules(None, orjson.dumps(doc))
    t = rs.tables[0]
    assert t.table.matches("App Schema", "Zażółć", "postgres") and not t.table.matches(None, "zażółć", "postgres")
    assert t.columns[0].column.name == "e-Mail" and t.columns[0].column.name_quoted


# --------------------------------------------------------------------------- connection strings

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,6}){0,2}", fullmatch=True)
users = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,10}", fullmatch=True)
pwds = st.text(st.characters(blacklist_characters="/@;&,", blacklist_categories=("Zs", "Zl", "Zp", "Cc"), min_codepoint=33,
                                  max_codepoint=0x2FF), min_size=1, max_size=16)


@settings(max_examples=300, deadline=None)
@given(scheme=st.sampled_from(["postgres", "postgresql", "mysql", "mariadb", "redis", "amqp", "mongodb+srv", "https"]),
       user=users, pw=pwds, host=hosts, form=st.integers(0, 3))
def test_a_password_inside_a_connection_string_is_a_credential(scheme, user, pw, host, form):
    value = [f"{scheme}://{user}:{pw}@{host}:5432/db",
             f"host={host} port=5432 user={user} password={pw} dbname=x",
             f"Server={host};Database=x;User Id={user};Password={pw};",
             f"jdbc:mysql://{host}/x?user={user}&password={pw}"][form]
    assert secret_category(value) == "credential password", value
    assert is_secret_value(value)


@pytest.mark.parametrize("value", ["mysql://root@db.internal/x", "https://example.com/a?b=c", "user@example.com",
                                   "the password is in the vault", "http://example.com:8080/path"])
def test_urls_without_a_password_are_not_credentials(value):
    assert secret_category(value) is None


@pytest.mark.parametrize("name", ["dsn", "connection_string", "connectionString", "conn_str", "database_url",
                                  "jdbc_url", "mongo_uri", "redis_url"])
def test_connection_string_columns_by_name(name):
    f = detect_by_name(name, col(name))
    assert f is not None and f.category == "credential password" and f.suggested == "hash", (name, f)


def test_a_column_of_connection_strings_by_content():
    s = ContentSampler()
    c = col("target")
    for i in range(30):
        s.add("target", f"postgres://svc{i}:pw{i}x9@db{i}.internal/prod", c)
    f = s.findings()["target"]
    assert f.category == "credential password" and f.suggested == "hash"
