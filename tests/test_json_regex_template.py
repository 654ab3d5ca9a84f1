"""json (mutations by path inside JSON documents), regex and template (issue #15): their
output, determinism under the key, their checks at load, and dumps restored into PostgreSQL
(jsonb) and MariaDB (JSON) and queried by path."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumpmask.crypto import Key
from dumpmask.errors import MaskingError, RulesError
from dumpmask.schema import classify
from dumpmask.transformers import REGISTRY
from conftest import OTHER_KEY, TEST_KEY

KEY = Key(TEST_KEY)
OTHER = Key(OTHER_KEY)


def make(name, options, type_text="text", key=KEY):
    c = classify(type_text)
    c.name = "c"
    t = REGISTRY[name](key, options, c)
    t.bind_dialect("postgres")
    return t


def inner(name, options=None, type_text="text"):
    return make(name, options or {}, type_text)


# --------------------------------------------------------------------------- json
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(["a", "b", "email", "x", "é"]), kids,
                                                              max_size=4),
    max_leaves=12)
STYLES = [dict(ensure_ascii=False), dict(ensure_ascii=False, separators=(",", ":")), dict(ensure_ascii=False, indent=2),
          dict(ensure_ascii=True)]


def expected(doc, email, redact, redact_number, redact_bool):
    """What json with {"$.email": faker.email, "$.x[*]": redact, "$.b": delete} makes of `doc`
    (a Python value), or MaskingError when a path meets a value its mutation cannot take."""
    if not isinstance(doc, dict):
        return doc
    out = {}
    for k, v in doc.items():
        if k == "b":
            continue
        if k == "email" and v is not None:
            if not isinstance(v, str):
                raise MaskingError("faker.email writes strings only")
            v = email(v)
        if k == "x" and isinstance(v, (list, dict)):
            def one(e):
                if isinstance(e, (list, dict)):
                    raise MaskingError("a container")
                if isinstance(e, bool):
                    return redact_bool("true" if e else "false") in ("true", "t")
                if isinstance(e, int):
                    return int(redact_number(str(e)))
                return e if e is None else redact(e)
            v = {j: one(e) for j, e in v.items()} if isinstance(v, dict) else [one(e) for e in v]
        out[k] = v
    return out


@given(JSON_VALUES, st.sampled_from(range(len(STYLES))))
@settings(max_examples=400, deadline=None)
def test_json_rewrites_only_the_named_values_in_the_documents_own_style(doc, style):
    style = STYLES[style]
    t = make("json", {"paths": {"$.email": "faker.email", "$.x[*]": "redact", "$.b": "delete"}}, "jsonb")
    text = json.dumps(doc, **style)
    fns = inner("faker.email"), inner("redact"), inner("redact", type_text="numeric"), inner("redact", type_text="boolean")
    try:
        want = expected(doc, *fns)
    except MaskingError:
        with pytest.raises(MaskingError) as e:
            t(text)
        assert text not in str(e.value)
        return
    got = t(text)
    assert json.loads(got) == want
    if "indent" not in style:
        assert got == json.dumps(want, **style)   # the same bytes a serializer of that style writes
    elif not isinstance(doc, dict) or "b" not in doc:
        assert got == json.dumps(want, **style)


def test_json_example_of_the_issue_keeps_types_and_order():
    t = make("json", {"paths": {"$.email": "faker.email", "$.phones[*]": "faker.phone", "$.address.street": "faker.address",
                                "$.ssn": "null", "$.notes": "delete",
                                "$.salary": {"mutation": "noise", "options": {"relative": 0.1}}}}, "jsonb")
    doc = ('{"ssn": "123-45-6789", "email": "anna@corp.example", "notes": "x", "phones": ["555-1234", "555-9999"], '
           '"salary": 5000, "address": {"zip": "02139", "street": "Main St 1"}, "tags": ["vip"]}')
    out = t(doc)
    new = json.loads(out)
    assert list(new) == ["ssn", "email", "phones", "salary", "address", "tags"]
    assert new["ssn"] is None and "notes" not in new and new["tags"] == ["vip"] and new["address"]["zip"] == "02139"
    assert new["email"] == inner("faker.email")("anna@corp.example")       # the same fake as on a column
    assert isinstance(new["salary"], int) and 4500 <= new["salary"] <= 5500
    assert all(p not in out for p in ("555-1234", "Main St 1", "anna@corp.example"))
    assert out == t(doc) and out != make("json", t.options, "jsonb", OTHER)(doc)   # keyed
    pretty = '{\n  "notes": [1, 2],\n  "email": "a@b.org"\n}'
    assert t(pretty).startswith('{\n  "email": "') and t(pretty).endswith('"\n}')


def test_json_invalid_documents():
    t = make("json", {"paths": {"$.a": "redact"}}, "jsonb")
    with pytest.raises(MaskingError) as e:
        t('{"a": "secret value"')
    assert "not valid JSON" in str(e.value) and "secret" not in str(e.value)
    for bad in ("", "nope", '{"a": 1} x', "[NaN]", '{"a" 1}'):
        with pytest.raises(MaskingError):
            t(bad)
    assert make("json", {"paths": {"$.a": "redact"}, "onInvalid": "null"})("nope") is None
    assert make("json", {"paths": {"$.a": "redact"}, "onInvalid": "keep"})("nope") == "nope"
    assert t(None) is None and t('{"b": 1}') == '{"b": 1}'


def test_json_numbers_and_containers():
    t = make("json", {"paths": {"$.n": "faker.email"}}, "jsonb")
    with pytest.raises(MaskingError, match="holds a number"):
        t('{"n": 12}')
    with pytest.raises(MaskingError, match="holds an object"):
        t('{"n": {"k": 1}}')
    assert make("json", {"paths": {"$.n": "null"}})('{"n": {"k": 1}}') == '{"n": null}'
    assert make("json", {"paths": {"$[1]": "delete"}})("[1, 2, 3]") == "[1, 3]"
    assert make("json", {"paths": {"$[*]": "delete"}})("[1, 2, 3]") == "[]"
    assert make("json", {"paths": {"$['a b'].c": "redact"}})('{"a b": {"c": "xy"}}') != '{"a b": {"c": "xy"}}'
    h = make("json", {"paths": {"$.n": {"mutation": "generalize.bucket", "options": {"width": 10}}}})
    assert h('{"n": 37}') == '{"n": 30}'


@pytest.mark.parametrize("options, type_text, says", [
    ({"paths": {"email": "redact"}}, "jsonb", "must start with $"),
    ({"paths": {"$.a[": "redact"}}, "jsonb", "supported: $, .key"),
    ({"paths": {"$.a": "redact", "$.a.b": "redact"}}, "jsonb", "can name the same value"),
    ({"paths": {"$.a[*]": "redact", "$.a[0]": "redact"}}, "jsonb", "can name the same value"),
    ({"paths": {"$.a": "faker.emial"}}, "jsonb", "unknown mutation"),
    ({"paths": {"$.a": {"mutation": "hash", "options": {"length": 1000}}}}, "jsonb", "length"),
    ({"paths": {"$.a": "key"}}, "jsonb", "cannot be a path"),
    ({"paths": {"$": "delete"}}, "jsonb", "cannot be deleted"),
    ({"paths": {}}, "jsonb", "at least one"),
])
def test_json_bad_rules_are_refused(options, type_text, says):
    with pytest.raises(RulesError) as e:
        make("json", options, type_text)
    assert says in str(e.value)


def test_json_on_an_integer_column_is_a_type_error():
    assert REGISTRY["json"].type_error(classify("integer"), {}) is not None
    assert REGISTRY["json"].type_error(classify("jsonb"), {}) is None


# --------------------------------------------------------------------------- regex
def test_regex_modes():
    v = "call 555-1234 or 555-9876, not 12-34"
    assert make("regex", {"pattern": r"\d{3}-\d{4}", "replace": "###-####"})(v) == "call ###-#### or ###-####, not 12-34"
    assert make("regex", {"pattern": r"(\d{3})-(\d{4})", "replace": r"\1-XXXX"})(v) == "call 555-XXXX or 555-XXXX, not 12-34"
    m = make("regex", {"pattern": r"\d{3}-\d{4}", "mutation": "faker.phone"})(v)
    assert "555-1234" not in m and m.endswith(", not 12-34") and m == make("regex", {"pattern": r"\d{3}-\d{4}",
                                                                                     "mutation": "faker.phone"})(v)
    g = make("regex", {"pattern": r"(?P<a>\d{3})-(\d{4})", "groups": {"2": {"mutation": "partial", "options": {"last": 0}}}})
    assert g(v) == "call 555-**** or 555-****, not 12-34"
    assert make("regex", {"pattern": "CALL", "replace": "x", "ignoreCase": True})(v).startswith("x ")


@given(st.text(alphabet="0123456789- ab", max_size=40))
@settings(max_examples=200, deadline=None)
def test_regex_replaces_every_match_and_keeps_the_rest(v):
    import re

    out = make("regex", {"pattern": r"\d", "replace": "#"})(v)
    assert out == re.sub(r"\d", "#", v) and len(out) == len(v)


@pytest.mark.parametrize("options, says", [
    ({"pattern": "(", "replace": "x"}, "not a valid regular expression"),
    ({"pattern": "a", "replace": r"\1"}, "invalid group reference"),
    ({"pattern": "a"}, "exactly one"),
    ({"pattern": "a", "replace": "b", "mutation": "redact"}, "exactly one"),
    ({"pattern": "(a)", "groups": {"3": "redact"}}, "no group"),
    ({"pattern": "a", "mutation": "key"}, "cannot be the mutation"),
])
def test_regex_bad_rules_are_refused(options, says):
    with pytest.raises(RulesError) as e:
        make("regex", options)
    assert says in str(e.value)


def test_regex_result_too_long_for_the_column_stops_the_row():
    with pytest.raises(MaskingError, match="longer than"):
        make("regex", {"pattern": "a", "replace": "aaaa"}, "varchar(5)")("aa")


# --------------------------------------------------------------------------- template
def test_template_render_and_unique_suffix():
    t = make("template", {"template": "{first_name}.{last_name}@example.com", "lower": True, "clean": True,
                          "unique": True})
    a = t.render("anna@corp.example", {"first_name": "Mary Ann", "last_name": "O'Neil"})
    b = t.render("bob@corp.example", {"first_name": "Mary Ann", "last_name": "O'Neil"})
    assert a.startswith("maryann.oneil.") and a.endswith("@example.com") and a != b
    assert len(a.split("@")[0].split(".")[-1]) == 13
    assert a == t.render("anna@corp.example", {"first_name": "Mary Ann", "last_name": "O'Neil"})
    assert t.render(None, {"first_name": "x"}) is None
    plain = make("template", {"template": "{a}-{{b}}-{a}"})
    assert plain.render("o", {"a": "X", "b": "Y"}) == "X-{b}-X" and plain.reads == ("a",)
    slot = make("template", {"template": "u{_unique}", "unique": True})
    assert len(slot.render("o", {})) == 14
    with pytest.raises(RulesError):
        make("template", {"template": "{a"})
    with pytest.raises(RulesError):
        make("template", {"template": "{_unique}"})


PG_DDL = ('CREATE TABLE "Person" (id integer PRIMARY KEY, first_name text, last_name text, '
          'email varchar(120) UNIQUE, login text, notes text, profile jsonb, doc json);')
RULES = {"tables": [{"tableName": "\"Person\"", "columnMutations": [
    {"column": "first_name", "mutation": "faker.firstName"},
    {"column": "last_name", "mutation": "faker.lastName"},
    {"column": "login", "mutation": "template", "options": {"template": "{email}"}},
    {"column": "email", "mutation": "template",
     "options": {"template": "{first_name}.{last_name}@example.com", "lower": True, "clean": True, "unique": True}},
    {"column": "notes", "mutation": "regex", "options": {"pattern": r"\d{3}-\d{4}", "replace": "###-####"}},
    {"column": "profile", "mutation": "json", "options": {"paths": {
        "$.email": "faker.email", "$.phones[*]": "faker.phone", "$.address.street": "faker.address",
        "$.ssn": "null", "$.notes": "delete", "$.salary": {"mutation": "noise", "options": {"absolute": 100}}}}},
    {"column": "doc", "mutation": "json", "options": {"paths": {"$.email": "faker.email"}, "onInvalid": "null"}}]}]}


def _rows(n=60):
    out = []
    for i in range(1, n + 1):
        first, last = ("Anna", "Zoë")[i % 2], f"Smith{i}"
        profile = {"ssn": f"123-45-{i:04d}", "email": f"p{i}@corp.example", "notes": "secret note",
                   "phones": [f"555-{i:04d}", "555-0000"], "salary": 1000 + i, "address": {"street": f"{i} Elm St"}}
        out.append((i, first, last, f"u{i}@corp.example", f"login{i}", f"call 555-{i:04d} now", json.dumps(profile),
                    '{"email":  "d%d@corp.example"}' % i))
    return out


def _check_template_rows(rows):
    """(first_name, last_name, email, login) per row: the e-mail made of the row's fake names."""
    assert rows
    for first, last, email, login in rows:
        assert email == login
        local = email.split("@")[0]
        assert local.startswith(f"{first}.{last}.".lower().replace(" ", "").replace("'", "")) and email.endswith(
            "@example.com")


def test_pg_jsonb_template_regex_restored_and_queried(tmp_path, dm, pg_server):
    db = pg_server.createdb("jrt_src")
    values = ",".join("({}, '{}', '{}', '{}', '{}', '{}', '{}', '{}')".format(*r) for r in _rows())
    pg_server.psql(db, f"{PG_DDL} INSERT INTO \"Person\" VALUES {values};")
    dump = tmp_path / "in.sql"
    dump.write_bytes(pg_server.dump(db))
    (tmp_path / "r.json").write_text(json.dumps(RULES))
    r = dm("-c", tmp_path / "r.json", dump)
    assert r.returncode == 0, r.stderr.decode()
    out = pg_server.createdb("jrt_out")
    pg_server.restore(out, r.stdout)
    got = pg_server.psql(out, "SELECT first_name, last_name, email, login FROM \"Person\" ORDER BY id", "-At", "-F\t")
    _check_template_rows([line.split("\t") for line in got.splitlines()])
    assert pg_server.scalar(out, "SELECT count(*) FROM \"Person\" WHERE profile ? 'notes' OR profile->>'ssn' IS NOT NULL "
                                 "OR profile->>'email' LIKE '%corp.example' OR doc->>'email' LIKE '%corp.example'") == "0"
    assert pg_server.scalar(out, "SELECT count(*) FROM \"Person\" WHERE jsonb_typeof(profile->'salary') = 'number' "
                                 "AND abs((profile->>'salary')::int - 1000 - id) <= 100 AND notes LIKE 'call ###-#### now' "
                                 "AND profile#>>'{address,street}' NOT LIKE '% Elm St'") == "60"
    again = dm("-c", tmp_path / "r.json", dump)
    assert again.stdout == r.stdout   # deterministic under the key


def test_mariadb_json_template_restored_and_queried(tmp_path, dm, my_server):
    db = my_server.create("jrt_src")
    values = ",".join("({}, '{}', '{}', '{}', '{}', '{}', '{}', '{}')".format(*r) for r in _rows())
    my_server.sql(db, "CREATE TABLE Person (id int PRIMARY KEY, first_name varchar(40), last_name varchar(40), "
                      "email varchar(120) UNIQUE, login varchar(120), notes text, profile JSON, doc JSON);"
                      f"INSERT INTO Person VALUES {values};")
    dump = tmp_path / "in.sql"
    dump.write_bytes(my_server.dump(db))
    (tmp_path / "r.json").write_text(json.dumps(RULES))
    r = dm("-c", tmp_path / "r.json", dump)
    assert r.returncode == 0, r.stderr.decode()
    out = my_server.create("jrt_out")
    my_server.restore(out, r.stdout)
    got = my_server.sql(out, "SELECT first_name, last_name, email, login FROM Person ORDER BY id")
    _check_template_rows([line.split("\t") for line in got.splitlines() if line and not line.startswith("first_name")])
    assert my_server.scalar(out, "SELECT count(*) FROM Person WHERE JSON_EXISTS(profile, '$.notes') OR "
                                 "JSON_VALUE(profile, '$.email') LIKE '%corp.example' OR "
                                 "JSON_TYPE(JSON_EXTRACT(profile, '$.ssn')) <> 'NULL'") == "0"
    assert my_server.scalar(out, "SELECT count(*) FROM Person WHERE ABS(JSON_VALUE(profile, '$.salary') - 1000 - id) "
                                 "<= 100 AND notes = 'call ###-#### now'") == "60"


@pytest.mark.parametrize("change, says", [
    ({"column": "login", "mutation": "template", "options": {"template": "{login}"}}, "cycle (login -> login)"),
    ({"column": "login", "mutation": "template", "options": {"template": "{nosuch}"}}, "'nosuch'"),
])
def test_template_cycles_and_unknown_columns_stop_before_output(tmp_path, dm, change, says):
    dump = ("CREATE TABLE public.p (id integer, email text, login text);\n"
            "COPY public.p (id, email, login) FROM stdin;\n1\ta@b.org\tx\n\\.\n")
    rules = {"tables": [{"tableName": "p", "columnMutations": [
        {"column": "email", "mutation": "template", "options": {"template": "{login}@x.org"}}, change]}]}
    if "nosuch" in says:
        rules["tables"][0]["columnMutations"][0] = {"column": "email", "mutation": "faker.email"}
    (tmp_path / "r.json").write_text(json.dumps(rules))
    r = dm("-c", tmp_path / "r.json", input=dump.encode())
    assert r.returncode == 2 and says in r.stderr.decode() and b"COPY" not in r.stdout


def test_two_templates_reading_each_other_are_a_cycle(tmp_path, dm):
    dump = "CREATE TABLE public.p (id integer, a text, b text);\nCOPY public.p (id, a, b) FROM stdin;\n1\tx\ty\n\\.\n"
    (tmp_path / "r.json").write_text(json.dumps({"tables": [{"tableName": "p", "columnMutations": [
        {"column": "a", "mutation": "template", "options": {"template": "{b}"}},
        {"column": "b", "mutation": "template", "options": {"template": "{a}"}}]}]}))
    r = dm("-c", tmp_path / "r.json", input=dump.encode())
    assert r.returncode == 2 and "cycle (a -> b -> a)" in r.stderr.decode()


def test_invalid_json_in_a_row_names_the_row_not_the_value(tmp_path, dm):
    dump = ("CREATE TABLE public.p (id integer, doc text);\nCOPY public.p (id, doc) FROM stdin;\n"
            '1\t{"a": "x"}\n2\t{"a": "very secret\n\\.\n')
    (tmp_path / "r.json").write_text(json.dumps({"tables": [{"tableName": "p", "columnMutations": [
        {"column": "doc", "mutation": "json", "options": {"paths": {"$.a": "redact"}}}]}]}))
    r = dm("-c", tmp_path / "r.json", input=dump.encode())
    err = r.stderr.decode()
    assert r.returncode == 1 and "row 2" in err and ":4" in err and "very secret" not in err


def test_a_template_on_a_unique_column_needs_unique(tmp_path, dm):
    dump = ("CREATE TABLE public.p (id integer, name text, email text UNIQUE);\n"
            "COPY public.p (id, name, email) FROM stdin;\n1\tAnna\ta@b.org\n2\tAnna\tb@b.org\n\\.\n")
    rule = {"column": "email", "mutation": "template", "options": {"template": "{name}@example.com"}}
    (tmp_path / "r.json").write_text(json.dumps({"tables": [{"tableName": "p", "columnMutations": [rule]}]}))
    r = dm("-c", tmp_path / "r.json", input=dump.encode())
    assert r.returncode == 2 and 'add "unique": true' in r.stderr.decode()
    rule["options"]["unique"] = True
    (tmp_path / "r.json").write_text(json.dumps({"tables": [{"tableName": "p", "columnMutations": [rule]}]}))
    r = dm("-c", tmp_path / "r.json", input=dump.encode())
    assert r.returncode == 0, r.stderr.decode()
    emails = [ln.split(b"\t")[2] for ln in r.stdout.split(b"\n") if ln[:2] in (b"1\t", b"2\t")]
    assert len(set(emails)) == 2 and all(e.startswith(b"Anna.") and e.endswith(b"@example.com") for e in emails)


def test_preview_shows_templates_from_the_rows_new_values(tmp_path, dm):
    dump = ("CREATE TABLE public.p (id integer, name text, email text);\n"
            "COPY public.p (id, name, email) FROM stdin;\n1\tAnna\ta@b.org\n\\.\n")
    (tmp_path / "r.json").write_text(json.dumps({"tables": [{"tableName": "p", "columnMutations": [
        {"column": "name", "mutation": "static:Zed"},
        {"column": "email", "mutation": "template", "options": {"template": "{name}@example.com"}}]}]}))
    r = dm("preview", "-c", tmp_path / "r.json", input=dump.encode())
    assert r.returncode == 0, r.stderr.decode()
    assert "Zed@example.com" in r.stdout.decode()
