"""json (issue #15): the quirks that must fail closed or stay byte for byte -- integers longer
than Python's int-string limit, errors of a path's mutation or of nesting under onInvalid
"keep", a result too long for a varchar column, the path trie through pickle (-j workers) --
and mysqldump's \\" escapes of a JSON literal, read without the general unescaper."""
from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumpmask.crypto import Key
from dumpmask.dialects import mysql_lex
from dumpmask.errors import MaskingError
from dumpmask.schema import classify
from dumpmask.transformers import REGISTRY, jsonpaths

from conftest import TEST_KEY

KEY = Key(TEST_KEY.encode())


def make(options, type_text="jsonb"):
    c = classify(type_text)
    c.name = "doc"
    t = REGISTRY["json"](KEY, options, c)
    t.bind_dialect("postgres")
    return t


BIG = "7" * 5000        # over sys.get_int_max_str_digits() (4300)


@pytest.mark.parametrize("on_invalid", ["error", "keep", "null"])
def test_json_integer_over_4300_digits_is_kept_as_text(on_invalid):
    t = make({"paths": {"$.email": "faker.email"}, "onInvalid": on_invalid})
    doc = '{"email": "mary@example.com", "n": ' + BIG + ', "m": [-' + BIG + 'e5]}'
    out = t(doc)
    assert out is not None and out != doc and "mary@example.com" not in out
    assert out.endswith(', "n": ' + BIG + ', "m": [-' + BIG + 'e5]}')
    json.loads(out.replace(BIG, "7"))     # still JSON


def test_json_numeric_mutation_on_a_huge_integer_stops_the_row_even_with_keep():
    t = make({"paths": {"$.n": {"mutation": "noise", "options": {"absolute": 3}}}, "onInvalid": "keep"})
    doc = '{"n": ' + BIG + '}'
    try:
        out = t(doc)
    except MaskingError as e:
        assert BIG[:20] not in str(e)
    else:    # noise may take it: then the number must have changed, never "kept as invalid"
        assert out != doc


def test_json_nested_too_deeply_is_an_error_not_an_invalid_document_kept():
    deep = "[" * 100_000 + "]" * 100_000
    doc = '{"email": "mary@example.com", "deep": ' + deep + '}'
    for choice in ("keep", "null", "error"):
        with pytest.raises(MaskingError, match="nested too deeply"):
            make({"paths": {"$.email": "faker.email"}, "onInvalid": choice})(doc)


def test_json_keep_still_keeps_only_invalid_documents():
    t = make({"paths": {"$.email": "faker.email"}, "onInvalid": "keep"})
    assert t('{"email": "mary@example.com"') == '{"email": "mary@example.com"'
    assert t("[NaN]") == "[NaN]"
    out = t('{"email": "mary@example.com"}')
    assert "mary@example.com" not in out


def test_json_result_longer_than_a_varchar_column_stops_the_row():
    t = make({"paths": {"$.email": "faker.email"}}, "varchar(30)")
    with pytest.raises(MaskingError, match="longer than the column's 30 characters") as e:
        t('{"email": "m@x.io"}')
    assert "m@x.io" not in str(e.value)
    roomy = make({"paths": {"$.email": "faker.email"}}, "varchar(300)")
    assert json.loads(roomy('{"email": "m@x.io"}'))["email"] != "m@x.io"


def test_json_path_trie_survives_pickle_wildcards_and_deletes():
    """-j workers get the rule pickled (work.MutationFactory) and a path parsed in one process
    may be walked in another: the trie's markers must unpickle as themselves."""
    from dumpmask.work import MutationFactory

    assert pickle.loads(pickle.dumps(jsonpaths.WILD)) is jsonpaths.WILD
    assert pickle.loads(pickle.dumps(jsonpaths.HAS_DELETE)) is jsonpaths.HAS_DELETE
    paths = pickle.loads(pickle.dumps([jsonpaths.parse_path(p) for p in ("$.phones[*]", "$.a.*", "$['x'][0]")]))
    assert paths == [("phones", jsonpaths.WILD), ("a", jsonpaths.WILD), ("x", 0)]
    options = {"paths": {"$.phones[*]": "faker.phone", "$.a.*": "redact", "$.notes": "delete"}}
    c = classify("jsonb")
    c.name = "doc"
    f = MutationFactory(REGISTRY["json"], KEY, options, c, None, "postgres")
    doc = '{"phones": ["1", "2"], "a": {"x": "s", "y": "t"}, "notes": "n", "k": 1}'
    out = f.build()(doc)
    again = pickle.loads(pickle.dumps(f, pickle.HIGHEST_PROTOCOL)).build()(doc)
    assert again == out and '"notes"' not in out and '"1"' not in out and out.endswith('"k": 1}')


def _reference_unescape(quoted: bytes) -> bytes:
    """mysql_lex's general unescaper (the regex), the reference of its shortcut."""
    q = quoted[0]
    table = mysql_lex._UNESC_TABLE
    return mysql_lex._UNESC_RE[q].sub(lambda m: bytes((q,)) if m.group(1) is None else table[m.group(1)[0]],
                                      quoted[1:-1])


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40).map(lambda b: bytes(c for c in b if c not in b"'")) |
       st.lists(st.sampled_from([b"a", b"\\", b'"', b"\\\"", b"\\\\", b"n", b"\xc3\xa9", b"''"]), max_size=12)
       .map(b"".join))
def test_mysql_unescape_of_backslash_quote_only_literals_matches_the_general_one(body):
    for q in (b"'", b'"'):
        quoted = q + body + q
        if body.endswith(b"\\") and not body.endswith(b"\\\\"):
            continue    # the closing quote would be escaped: not a literal
        assert mysql_lex._unescape_one(quoted) == _reference_unescape(quoted)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda k: st.lists(k, max_size=3) | st.dictionaries(st.text(max_size=4), k, max_size=3),
                    max_leaves=8))
def test_mysql_json_literal_round_trip(value):
    doc = json.dumps(value, ensure_ascii=False).encode()
    assert mysql_lex.decode_literal(mysql_lex.encode_string(doc)) == ("string", doc)


def test_json_too_long_for_varchar_stops_the_mysql_run_without_a_traceback(tmp_path, dm):
    dump = ("CREATE TABLE `p` (\n  `id` int NOT NULL,\n  `doc` varchar(40) DEFAULT NULL\n) ENGINE=InnoDB;\n"
            "INSERT INTO `p` VALUES (1,'{\\\"email\\\": \\\"m@x.io\\\"}');\n")
    (tmp_path / "r.json").write_text(json.dumps({"tables": [{"tableName": "p", "columnMutations": [
        {"column": "doc", "mutation": "json", "options": {"paths": {"$.email": "faker.email"}}}]}]}))
    r = dm("-c", tmp_path / "r.json", "--dialect", "mysql", input=dump.encode())
    err = r.stderr.decode()
    assert r.returncode == 1 and "longer than the column's 40 characters" in err, err
    assert "Traceback" not in err and "m@x.io" not in err and b"m@x.io" not in r.stdout
