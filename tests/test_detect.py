"""Personal-data detection: names (tokens, quirks, false positives), content patterns,
combination, templates, suggestions, and the real Pagila/Sakila schemas."""
from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

import pytest

from hypothesis import given, settings, strategies as st

from dumpmask.detect import (
    TEMPLATES, ContentSampler, Finding, combine, detect_by_name, detect_table, in_template,
    is_people_table, is_system_timestamp_name, match_value, normalise, suggest_rule,
)
from dumpmask.schema import Column, TableSchema, classify



def col(name: str, type_text: str = "text", nullable: bool = True) -> Column:
    c = classify(type_text)
    c.name = name
    c.nullable = nullable
    return c


# --------------------------------------------------------------------------- normalise

@pytest.mark.parametrize("name, tokens", [
    ("customerEmail", ["customer", "email"]),
    ("CustomerEmail", ["customer", "email"]),
    ("email_address", ["email", "address"]),
    ("billing_zip", ["billing", "zip"]),
    ("phone2", ["phone", "2"]),
    ("CCNumber", ["cc", "number"]),
    ("date-of-birth", ["date", "of", "birth"]),
    ("IPAddress", ["ip", "address"]),
    ("IPv4", ["ipv", "4"]),
    ("address_line_1", ["address", "line", "1"]),
    ("SSN", ["ssn"]),
    ("__weird__Name__", ["weird", "name"]),
    ("", []),
])
def test_normalise(name, tokens):
    assert normalise(name) == tokens


@given(st.text(max_size=30))
@settings(max_examples=200)
def test_normalise_never_crashes_and_is_lower(name):
    toks = normalise(name)
    assert all(t and t == t.lower() for t in toks)
    assert detect_by_name(name) is None or isinstance(detect_by_name(name), Finding)


# --------------------------------------------------------------------------- names

@pytest.mark.parametrize("name, category", [
    # camelCase / PascalCase / snake / kebab
    ("customerEmail", "HIPAA-6 email"),
    ("EmailAddress", "HIPAA-6 email"),
    ("email_address", "HIPAA-6 email"),
    ("emailAddr", "HIPAA-6 email"),
    ("e_mail", "HIPAA-6 email"),
    ("contact-email", "HIPAA-6 email"),
    # prefixes / suffixes
    ("billing_zip", "HIPAA-2 geographic"),
    ("zip_code", "HIPAA-2 geographic"),
    ("postal_code", "HIPAA-2 geographic"),
    ("postcode", "HIPAA-2 geographic"),
    ("phone", "HIPAA-4 phone"),
    ("phone2", "HIPAA-4 phone"),
    ("mobile", "HIPAA-4 phone"),
    ("home_phone_number", "HIPAA-4 phone"),
    ("fax", "HIPAA-5 fax"),
    ("first_name", "HIPAA-1 name"),
    ("firstname", "HIPAA-1 name"),
    ("FirstName", "HIPAA-1 name"),
    ("last_name", "HIPAA-1 name"),
    ("surname", "HIPAA-1 name"),
    ("full_name", "HIPAA-1 name"),
    ("customer_name", "HIPAA-1 name"),
    ("address", "HIPAA-2 geographic"),
    ("address2", "HIPAA-2 geographic"),
    ("street", "HIPAA-2 geographic"),
    ("city", "HIPAA-2 geographic"),
    ("district", "HIPAA-2 geographic"),
    ("county", "HIPAA-2 geographic"),
    ("latitude", "GDPR geolocation"),
    ("lng", "GDPR geolocation"),
    ("dob", "GDPR date of birth"),
    ("birth_date", "GDPR date of birth"),
    ("date_of_birth", "GDPR date of birth"),
    ("birthday", "GDPR date of birth"),
    ("DateOfBirth", "GDPR date of birth"),
    ("death_date", "HIPAA-3 date"),
    ("admission_date", "HIPAA-3 date"),
    ("discharged_at", "HIPAA-3 date"),
    ("visit_date", "HIPAA-3 date"),
    ("ssn", "HIPAA-7 SSN"),
    ("social_security_number", "HIPAA-7 SSN"),
    ("mrn", "HIPAA-8 medical record number"),
    ("medical_record_number", "HIPAA-8 medical record number"),
    ("health_plan_number", "HIPAA-9 health plan beneficiary number"),
    ("beneficiary", "HIPAA-9 health plan beneficiary number"),
    ("account_number", "HIPAA-10 account number"),
    ("acct", "HIPAA-10 account number"),
    ("license_number", "HIPAA-11 certificate/license number"),
    ("licence_number", "HIPAA-11 certificate/license number"),
    ("certificate", "HIPAA-11 certificate/license number"),
    ("vin", "HIPAA-12 vehicle identifier"),
    ("license_plate", "HIPAA-12 vehicle identifier"),
    ("device_id", "HIPAA-13 device identifier"),
    ("serial_number", "HIPAA-13 device identifier"),
    ("imei", "HIPAA-13 device identifier"),
    ("mac_address", "HIPAA-13 device identifier"),
    ("url", "HIPAA-14 URL"),
    ("website", "HIPAA-14 URL"),
    ("homepage", "HIPAA-14 URL"),
    ("ip", "HIPAA-15 IP address"),
    ("ip_address", "HIPAA-15 IP address"),
    ("IPAddress", "HIPAA-15 IP address"),
    ("ipv6_address", "HIPAA-15 IP address"),
    ("IPv4Address", "HIPAA-15 IP address"),
    ("work_email_addr", "HIPAA-6 email"),
    ("last_login_ip", "HIPAA-15 IP address"),
    ("fingerprint", "HIPAA-16 biometric"),
    ("retina_scan", "HIPAA-16 biometric"),
    ("photo", "HIPAA-17 photo"),
    ("picture", "HIPAA-17 photo"),
    ("avatar", "HIPAA-17 photo"),
    ("profile_image", "HIPAA-17 photo"),
    ("customer_number", "HIPAA-18 unique identifier"),
    ("pan", "PCI PAN"),
    ("card_number", "PCI PAN"),
    ("CCNumber", "PCI PAN"),
    ("cc_number", "PCI PAN"),
    ("credit_card", "PCI PAN"),
    ("cvv", "PCI CVV"),
    ("cvc", "PCI CVV"),
    ("cvv2", "PCI CVV"),
    ("card_exp", "PCI expiry"),
    ("card_expiry_date", "PCI expiry"),
    ("cardholder", "PCI cardholder name"),
    ("card_holder", "PCI cardholder name"),
    ("name_on_card", "PCI cardholder name"),
    ("pin", "PCI PIN"),
    ("pin_block", "PCI PIN"),
    ("gender", "GDPR gender"),
    ("sex", "GDPR gender"),
    ("national_id", "GDPR national id"),
    ("nino", "GDPR national id"),
    ("tax_id", "GDPR tax id"),
    ("tin", "GDPR tax id"),
    ("passport_number", "GDPR passport"),
    ("iban", "GDPR IBAN"),
    ("salary", "GDPR salary"),
    ("annual_income", "GDPR salary"),
    ("password", "credential password"),
    ("passwd", "credential password"),
    ("pwd", "credential password"),
    ("password_hash", "credential password"),
    ("username", "credential username"),
    ("user_name", "credential username"),
    ("login", "credential username"),
])
def test_name_detected(name, category):
    f = detect_by_name(name)
    assert f is not None, name
    assert f.category == category
    assert f.evidence == "name"
    assert f.framework in ("hipaa", "pci", "gdpr", "credential")


@pytest.mark.parametrize("name", [
    "shipping",            # pin is a token, not a substring
    "shipping_method",
    "pinned",
    "description", "notes", "comment",          # free text: not by name
    "address_id", "city_id", "customer_id", "staff_id", "phone_id",  # foreign keys
    "last_update", "created_at", "updated_at", "rental_date", "return_date",
    "payment_date", "create_date", "last_updated",  # system timestamps
    "email_verified", "is_email_confirmed", "phone_type", "address_type", "login_count",
    "password_changed_at", "email_sent_at", "last_login",
    "expiration", "expires_at",   # not card data without card context
    "company_name", "file_name", "product_name", "country", "state",
    "zipper", "description_long", "rating", "amount", "length", "title",
    "special_features", "fulltext", "release_year",
    "name",  # bare name without a table
])
def test_name_not_detected(name):
    assert detect_by_name(name) is None, detect_by_name(name)


@pytest.mark.parametrize("table", ["category", "language", "film", "country", "public.category",
                                   "product", "user_roles", "store"])
def test_bare_name_on_non_people_table_is_not_a_person(table):
    assert detect_by_name("name", col("name", "varchar(25)"), table) is None
    assert detect_by_name("title", col("title", "varchar(255)"), table) is None


@pytest.mark.parametrize("table", ["actor", "customer", "customers", "public.staff", "patients",
                                   "film_actor", "tbl_employee", "Users", "account", "author"])
def test_bare_name_on_people_table_is_a_person(table):
    f = detect_by_name("name", col("name", "varchar(45)"), table)
    assert f is not None and f.category == "HIPAA-1 name" and f.suggested == "faker.name"


def test_title_on_people_table_is_flagged_for_review():
    f = detect_by_name("title", col("title"), "employee")
    assert f.category == "HIPAA-1 name" and f.review and f.suggested == "redact"


def test_expiry_needs_card_context():
    assert detect_by_name("expiry") is None
    assert detect_by_name("expiry", table_name="credit_cards").category == "PCI expiry"
    assert detect_by_name("exp_date", table_name="payment_methods").category == "PCI expiry"
    assert detect_by_name("card_expiration").category == "PCI expiry"


def test_people_table_head_noun():
    assert is_people_table("film_actor")
    assert is_people_table("customers_2023")
    assert not is_people_table("customer_list_view_x")  # head noun is x
    assert not is_people_table("user_roles")
    assert not is_people_table(None)


def test_column_kind_filters_matches():
    assert detect_by_name("email", col("email", "boolean")) is None
    assert detect_by_name("voice", col("voice", "boolean")) is None
    assert detect_by_name("login", col("login", "timestamp")) is None
    assert detect_by_name("dob", col("dob", "date")).category == "GDPR date of birth"
    assert detect_by_name("ssn", col("ssn", "integer")).category == "HIPAA-7 SSN"


def test_ipv6_name_suggests_ipv6():
    assert detect_by_name("ipv6_address").suggested == "faker.ipv6"
    assert detect_by_name("client_ip").suggested == "faker.ipv4"


def test_longest_keyword_wins():
    assert detect_by_name("email_address").category == "HIPAA-6 email"
    assert detect_by_name("ip_address").category == "HIPAA-15 IP address"
    assert detect_by_name("mac_address").category == "HIPAA-13 device identifier"
    assert detect_by_name("card_holder_name").category == "PCI cardholder name"
    assert detect_by_name("birth_certificate").category == "HIPAA-11 certificate/license number"


def test_is_system_timestamp_name():
    for n in ("last_update", "created_at", "updatedAt", "rental_date", "payment_date", "create_date"):
        assert is_system_timestamp_name(n), n
    for n in ("dob", "birth_date", "born_on", "date_of_birth", "admitted"):
        assert not is_system_timestamp_name(n), n


def test_detect_table():
    t = TableSchema(schema="public", name="customer", columns=[
        col("customer_id", "integer", False), col("first_name", "text", False),
        col("email", "text"), col("address_id", "integer", False), col("create_date", "date", False),
        col("name", "text")])
    assert set(detect_table(t)) == {"first_name", "email", "name"}


# --------------------------------------------------------------------------- content

def _sample(values, name="c", column=None, **kw):
    s = ContentSampler(**kw)
    for v in values:
        s.add(name, v, column)
    return s, s.findings().get(name)


def _luhn_card(prefix: str, length: int, rnd: random.Random) -> str:
    body = prefix + "".join(str(rnd.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        cand = body + check
        total = 0
        for i, ch in enumerate(reversed(cand)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return cand


def test_content_emails():
    s, f = _sample(["MARY.SMITH@sakilacustomer.org", "a@b.co", None, "x+tag@example.com", "nope"])
    assert f.category == "HIPAA-6 email" and f.evidence == "content 75%" and f.share == 0.75
    assert f.suggested == "faker.email"


def test_content_cards_luhn():
    rnd = random.Random(1)
    cards = [_luhn_card("4", 16, rnd) for _ in range(20)]
    cards[0] = "4111 1111 1111 1111"
    cards[1] = "5500-0000-0000-0004"
    cards[2] = "378282246310005"  # Amex, 15 digits
    _, f = _sample(cards)
    assert f.category == "PCI PAN" and f.share == 1.0
    assert "HIPAA-10 account number" in f.also
    # not Luhn-valid: a random 16-digit number fails 9 times out of 10
    assert "card" not in match_value("4111111111111112")
    assert "card" not in match_value("0000000000000000")


def test_content_ssn():
    _, f = _sample(["123-45-6789", "078-05-1120", "219-09-9999"])
    assert f.category == "HIPAA-7 SSN"
    for bad in ("000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000", "123456789"):
        assert "ssn" not in match_value(bad), bad


def test_content_ips():
    _, f = _sample(["192.168.0.1", "10.0.0.255", "8.8.8.8"])
    assert f.category == "HIPAA-15 IP address" and f.suggested == "faker.ipv4"
    _, f = _sample(["2001:db8::1", "fe80::1ff:fe23:4567:890a", "::1"])
    assert f.category == "HIPAA-15 IP address" and f.suggested == "faker.ipv6"
    assert "ip" not in match_value("1.2.3")
    assert "ip" not in match_value("256.1.1.1")


def test_content_iban():
    _, f = _sample(["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606"])
    assert f.category == "GDPR IBAN" and f.share == 1.0
    assert "iban" not in match_value("GB83WEST12345698765432")  # bad checksum


def test_content_mac():
    _, f = _sample(["00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5f", "001a.2b3c.4d60"])
    assert f.category == "HIPAA-13 device identifier"


def test_content_url():
    _, f = _sample(["https://example.com/u/1", "http://foo.org", "www.example.net/x", "not a url"])
    assert f.category == "HIPAA-14 URL" and f.share == 0.75


def test_content_phones():
    _, f = _sample(["+1 415 555 2671", "(415) 555-2671", "+442071838750", "030 1234567", "555-123-4567 x12"])
    assert f.category == "HIPAA-4 phone" and f.share == 1.0
    # Sakila: bare 10-12 digit phone numbers in a varchar column
    _, f = _sample(["14033335568", "6172235589", "28303384290"], column=col("phone", "varchar(20)"))
    assert f.category == "HIPAA-4 phone"


@pytest.mark.parametrize("values", [
    [str(i) for i in range(1, 200)],                        # ids
    [str(1000000000 + i * 7919) for i in range(100)],        # big ids (no column info)
    [str(y) for y in range(1950, 2024)],                     # years
    ["19.99", "4.99", "12345.67", "0.99", "1234567.89"],    # prices
    ["2006-02-15", "2005-05-24 22:53:30", "2022-01-01"],     # dates are not phones
    ["1.2.3.4.5", "3.14", "10.5"],
    ["-1234567", "-7654321", "-1000000"],                   # negative numbers
    ["12345-6789", "90210-1234", "10001-0001"],             # ZIP+4
])
def test_content_numbers_are_not_phones(values):
    s, f = _sample(values)
    assert f is None or f.category != "HIPAA-4 phone", f


def test_bare_digits_in_int_column_are_not_phones():
    _, f = _sample([str(10_000_000_000 + i) for i in range(50)], column=col("id", "bigint"))
    assert f is None


def _birth_dates(n, seed=0):
    rnd = random.Random(seed)
    return [dt.date(rnd.randint(1940, 2005), rnd.randint(1, 12), rnd.randint(1, 28)).isoformat() for _ in range(n)]


def test_content_birth_dates():
    _, f = _sample(_birth_dates(100), name="born")
    assert f.category == "GDPR date of birth" and "HIPAA-3 date" in f.also
    assert f.suggested == "faker.date" and f.suggested_options == {"preserveYear": True}
    # with a date column: faker.date with preserveYear
    _, f = _sample(_birth_dates(100), name="bd", column=col("bd", "date"))
    assert f.suggested == "faker.date" and f.suggested_options == {"preserveYear": True}


def test_birth_dates_need_name_spread_and_80_percent():
    # a system timestamp name: never
    _, f = _sample(_birth_dates(100), name="created_at")
    assert f is None
    _, f = _sample(_birth_dates(100), name="customer.last_update")
    assert f is None
    # all in one year (an event log): no spread
    _, f = _sample([f"2006-02-{d:02d}" for d in range(1, 29)], name="d")
    assert f is None
    # recent dates (younger than 10 years) do not count
    this = dt.date.today().year
    _, f = _sample([f"{this - i % 5}-01-15" for i in range(50)], name="d")
    assert f is None
    # 70% birth-like: below the 80% bar
    vals = _birth_dates(70) + ["n/a"] * 30
    _, f = _sample(vals, name="d")
    assert f is None


def test_threshold_configurable():
    vals = ["a@b.co"] * 3 + ["x"] * 7
    _, f = _sample(vals)
    assert f is None
    _, f = _sample(vals, threshold=0.3)
    assert f.category == "HIPAA-6 email" and f.evidence == "content 30%"


def test_sampler_limit_and_full():
    s = ContentSampler(limit=3)
    assert not s.full
    for i in range(5):
        s.add("a", f"u{i}@x.org")
        s.add("b", None)
    assert len(s.samples["a"]) == 3
    assert not s.full  # b has only NULLs so far
    for i in range(3):
        s.add("b", "x")
    assert s.full
    assert set(s.findings()) == {"a"}


def test_free_text_is_not_flagged():
    _, f = _sample(["A Epic Drama of a Feminist And a Mad Scientist who must Battle a Teacher in The Canadian Rockies"] * 10)
    assert f is None


# --------------------------------------------------------------------------- combine

def test_combine():
    n = detect_by_name("fax")
    s, c = _sample(["+1 415 555 2671"] * 10)
    both = combine(n, c)
    assert both.category == "HIPAA-5 fax" and both.evidence == "name+content 100%"
    assert "HIPAA-4 phone" in both.also and both.share == 1.0
    assert combine(n, None) is n
    assert combine(None, c) is c and c.evidence == "content 100%"
    assert combine(None, None) is None
    e = combine(detect_by_name("email"), _sample(["a@b.co"] * 97 + ["x"] * 3)[1])
    assert e.evidence == "name+content 97%" and e.also == ()


# --------------------------------------------------------------------------- templates

def test_templates():
    pw = detect_by_name("password")
    user = detect_by_name("username")
    for t in ("hipaa", "pci", "gdpr", "all"):
        assert in_template(pw, t) and in_template(user, t)
    assert in_template(detect_by_name("email"), "hipaa")
    assert not in_template(detect_by_name("email"), "pci")
    assert in_template(detect_by_name("email"), "gdpr")
    assert in_template(detect_by_name("cvv"), "pci")
    assert not in_template(detect_by_name("cvv"), "hipaa")
    assert in_template(detect_by_name("card_number"), "hipaa")  # via HIPAA-10 account number
    assert in_template(detect_by_name("dob"), "hipaa")          # via HIPAA-3 date
    assert in_template(detect_by_name("cardholder"), "hipaa")   # via HIPAA-1 name
    assert not in_template(detect_by_name("gender"), "hipaa")
    assert in_template(detect_by_name("gender"), "gdpr")
    assert TEMPLATES["all"] >= TEMPLATES["hipaa"] | TEMPLATES["pci"] | TEMPLATES["gdpr"]
    with pytest.raises(KeyError):
        in_template(pw, "sox")


# --------------------------------------------------------------------------- suggestions

def test_suggest_rule_fits_the_column():
    phone = detect_by_name("phone")
    assert suggest_rule(phone, col("phone", "varchar(20)")) == {"column": "phone", "mutation": "faker.phone"}
    assert suggest_rule(phone, col("phone", "bigint"))["mutation"] == "hash"  # never the type minimum
    dob = detect_by_name("dob")
    assert suggest_rule(dob, col("dob", "date")) == {"column": "dob", "mutation": "faker.date",
                                                     "options": {"preserveYear": True}}
    assert suggest_rule(dob, col("dob", "timestamp")) == {"column": "dob", "mutation": "faker.dateTime",
                                                          "options": {"preserveYear": True}}
    pan = detect_by_name("card_number")
    assert suggest_rule(pan, col("card_number", "bigint"))["mutation"] == "faker.creditCard"
    assert suggest_rule(pan, col("card_number", "integer"))["mutation"] == "hash"
    assert suggest_rule(detect_by_name("password"), col("password", "bytea"))["mutation"] == "null"
    photo = detect_by_name("picture")
    assert photo.review
    assert suggest_rule(photo, col("picture", "bytea"))["mutation"] == "null"
    assert suggest_rule(photo, col("picture", "bytea", nullable=False))["mutation"] == "redact"
    cvv = detect_by_name("cvv")
    assert suggest_rule(cvv, col("cvv", "char(3)"))["mutation"] == "redact"
    assert suggest_rule(cvv, col("cvv", "smallint"))["mutation"] == "hash"
    assert suggest_rule(detect_by_name("pin"), col("pin", "integer"))["mutation"] == "hash"
    assert suggest_rule(detect_by_name("password"), col("password", "varchar(40)"))["mutation"] == "hash"
    assert suggest_rule(detect_by_name("ssn"), col("ssn", "integer"))["mutation"] == "hash"
    assert suggest_rule(detect_by_name("account_number"), col("a", "bigint"))["mutation"] == "hash"
    assert suggest_rule(detect_by_name("gender"), col("g", "enum('M','F')"))["mutation"] == "keep"
    assert suggest_rule(detect_by_name("email"), "email") == {"column": "email", "mutation": "faker.email"}


@given(kind_type=st.sampled_from(["text", "varchar(10)", "integer", "bigint", "numeric(5,2)", "date",
                                  "timestamp", "bytea", "uuid", "enum('a','b')", "year", "jsonb"]),
       name=st.sampled_from(["email", "phone", "dob", "picture", "cvv", "pin", "password", "gender",
                             "ssn", "salary", "ip", "device_id", "location", "first_name", "iban"]))
def test_not_null_never_gets_null(kind_type, name):
    f = detect_by_name(name) or Finding("HIPAA-1 name", "hipaa", "name", "null")
    r = suggest_rule(f, col(name, kind_type, nullable=False))
    assert r["mutation"] != "null"
    assert r["mutation"] in {"faker.email", "faker.name", "faker.firstName", "faker.lastName",
                             "faker.phone", "faker.address", "faker.company", "faker.text",
                             "faker.date", "faker.dateTime", "faker.ssn", "faker.creditCard",
                             "faker.iban", "faker.ipv4", "faker.ipv6", "faker.url", "faker.userName",
                             "faker.postcode", "faker.city", "hash", "redact", "null", "keep"}


def test_detect_by_name_with_column_fits_suggestion():
    f = detect_by_name("birth_date", col("birth_date", "date"))
    assert f.suggested == "faker.date" and f.suggested_options == {"preserveYear": True}
    f = detect_by_name("phone", col("phone", "bigint"))
    assert f.suggested == "hash"


# --------------------------------------------------------------------------- real schemas

_SKIP_WORDS = {"PRIMARY", "KEY", "UNIQUE", "CONSTRAINT", "INDEX", "FULLTEXT", "FOREIGN", "SPATIAL", "CHECK"}


def schema_columns(path: Path) -> list[tuple[str, str, str]]:
    """(table, column, type) for every CREATE TABLE, with a small regex (MySQL /*!NNNNN ...*/
    versioned comments are executed by the server, so their content counts)."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"/\*!\d+\s(.*?)\*/", r"\1", text, flags=re.S)
    out = []
    for m in re.finditer(r"CREATE TABLE\s+(?:\w+\.)?`?(\w+)`?\s*\((.*?)\n\)", text, re.S):
        for line in m.group(2).splitlines():
            mm = re.match(r"\s*`?(\w+)`?\s+(\w+(?:\s+\w+)*(?:\([^)]*\))?)", line)
            if mm and mm.group(1).upper() not in _SKIP_WORDS:
                out.append((m.group(1), mm.group(1), mm.group(2)))
    return out


# What a person would mark as personal data in Pagila (PostgreSQL). Justification:
# * names of customers, staff and actors (actors are real people: HIPAA-1);
# * contact data: e-mails, the address table (street address, address2, district: a
#   subdivision smaller than a state, postal code, phone), city (HIPAA-2);
# * staff credentials (username, password) and staff.picture (HIPAA-17, manual review).
# Not marked: country (larger than a state), ids and foreign keys, create_date/last_update/
# rental_date/return_date/payment_date (system timestamps), amounts, film data,
# category.name/language.name (not people), packages_* (package metadata).
PAGILA_EXPECTED = {
    "customer.first_name", "customer.last_name", "customer.email",
    "staff.first_name", "staff.last_name", "staff.email", "staff.username", "staff.password",
    "staff.picture",
    "actor.first_name", "actor.last_name",
    "address.address", "address.address2", "address.district", "address.postal_code", "address.phone",
    "city.city",
}
PAGILA_FALSE_POSITIVES: set[str] = set()

# Sakila (MySQL) has the same tables plus address.location (a GEOMETRY point: geolocation of a
# home address, GDPR/HIPAA-2), inside a /*!50705 ... */ versioned comment.
SAKILA_EXPECTED = (PAGILA_EXPECTED | {"address.location"})
SAKILA_FALSE_POSITIVES: set[str] = set()


@pytest.mark.parametrize("path, expected, false_positives", [
    ("pagila/pg_dump-schema-only.sql", PAGILA_EXPECTED, PAGILA_FALSE_POSITIVES),
    ("sakila/sakila-mv-schema.sql", SAKILA_EXPECTED, SAKILA_FALSE_POSITIVES),
])
def test_real_schemas(dataset, path, expected, false_positives):
    cols = schema_columns(dataset(path))
    assert len({t for t, _, _ in cols}) >= 15
    found_by_name = {f"{t}.{c}" for t, c, _ in cols if detect_by_name(c, table_name=t)}
    found_typed = {f"{t}.{c}" for t, c, ty in cols
                   if detect_by_name(c, Column(name=c, **_kind(ty)), t)}
    assert found_by_name == expected | false_positives
    assert found_typed == expected | false_positives


def _kind(type_text: str) -> dict:
    c = classify(type_text)
    return {"type": c.type, "kind": c.kind, "length": c.length}


def test_real_schema_categories(dataset):
    path = dataset("sakila/sakila-mv-schema.sql")
    cats = {f"{t}.{c}": detect_by_name(c, table_name=t).category
            for t, c, _ in schema_columns(path) if detect_by_name(c, table_name=t)}
    assert cats["address.district"] == "HIPAA-2 geographic"
    assert cats["address.location"] == "GDPR geolocation"
    assert cats["staff.picture"] == "HIPAA-17 photo"
    assert cats["staff.password"] == "credential password"
    assert cats["staff.username"] == "credential username"
    assert cats["actor.first_name"] == "HIPAA-1 name"


_TYPES = ["text", "varchar(10)", "char(3)", "integer", "smallint", "bigint", "numeric(5,2)", "float8",
          "date", "timestamp", "bytea", "uuid", "enum('a','b')", "year", "jsonb", "text[]", "geometry"]
_NAMES = ["email", "phone", "dob", "picture", "cvv", "pin", "password", "username", "gender", "ssn",
          "salary", "ip", "device_id", "location", "first_name", "iban", "card_number", "admission_date",
          "mrn", "url", "zip", "vin", "fingerprint", "passport", "birth_year"]


@pytest.mark.parametrize("type_text", _TYPES)
def test_suggestions_are_accepted_by_the_transformers(type_text):
    """Every suggestion names a registered transformer whose declared kinds fit the column."""
    from dumpmask.transformers import REGISTRY as registry

    assert registry, "no transformers registered"
    for nullable in (True, False):
        for name in _NAMES:
            f = detect_by_name(name)
            c = col(name, type_text, nullable)
            r = suggest_rule(f, c)
            cls = registry[r["mutation"]]
            assert cls.kinds is None or c.kind in cls.kinds or c.kind == "other", (name, type_text, r)
            cls.validate_options(r.get("options", {}))
            if not nullable:
                assert r["mutation"] != "null"


def test_mutation_kinds_mirror_the_registry():
    from dumpmask.detect import _MUTATION_KINDS
    from dumpmask.transformers import REGISTRY

    for name, kinds in _MUTATION_KINDS.items():
        if name in REGISTRY:
            declared = REGISTRY[name].kinds
            assert declared is None or set(kinds) <= set(declared), name
