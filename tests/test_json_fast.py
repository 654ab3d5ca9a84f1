"""json (issue #15): the C path against its pure twin, on generated documents.

- JsonPaths.__call__ (C json_spans finds the spans, Python mutates and splices) against the
  walker (_walk_call): the same str, or the same error, for every document;
- a whole raw field (C json_field: COPY text / mysqldump '...' decoded, masked, encoded) through
  work.py's field functions against the general path with the walker (copy_decode or
  decode_literal, the walker, copy_encode or encode_string): the same bytes or the same error.

Documents: nested objects and arrays, duplicate keys, keys escaped or not, strings with escaped
quotes, backslashes, control characters, \\uXXXX (either case), surrogate pairs and lone
surrogates, raw non-ASCII and (fields) bytes that are not UTF-8, numbers of every shape, the
whitespace styles of jsonb, MySQL, compact and pretty JSON; and broken ones (a character
dropped, added or changed, a document cut short).
"""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TEST_KEY, unavailable
from dumpmask import speedups
from dumpmask.crypto import Key
from dumpmask.dialects import mysql_lex, postgres
from dumpmask.errors import DumpmaskError
from dumpmask.schema import classify
from dumpmask.transformers import REGISTRY, jsonpaths
from dumpmask.work import UNCHANGED, Tally, my_field_fns, pg_field_fns

KEY = Key(TEST_KEY.encode())

RULES = [
    {"$.email": "faker.email", "$.phones[*]": "faker.phone", "$.address.street": "faker.address"},
    {"$.a": "redact", "$.b": "null", "$.c": "delete", "$.d[*]": "delete", "$.x[1]": "delete"},
    {"$.*": "redact"},
    {"$[0]": "hash", "$[2].a": {"mutation": "noise", "options": {"absolute": 3}}, "$[1].e": "delete",
     "$[3][*]": "redact", "$[4].*.e": "delete"},
    {"$": "redact"},
    {"$.a.b": "keep", "$.*.c": "null", "$.a['k\u00e9']": "redact", "$.b['we\"ird']": "faker.email",
     "$.x['\udcff']": "redact"},
    {"$.e": "faker.email", "$.n": "hash", "$.t": "redact", "$.a[*].b[*]": "faker.name"},
    {"$.a[0]": "static:x\"\\\u00e9\U0001f600", "$.b": "static:\t\n", "$.c.*": "delete"},
    {"$.a": "static:\u00e9\U0001f600", "$.b[*]": "static:\x7f\x01/", "$.c.*": "faker.email"},
]
KEYS = ["a", "b", "email", "c", "d", "e", "n", "t", "x", "phones", "address", "street", "k\u00e9", 'we"ird',
        "\udcff", "0", ""]
CHARS = "ab\"\\/\b\f\n\r\t\x01\x1f\x7f \u00e9\u6771\U0001f600"
ASCII = "ab\"\\/\b\f\n\r\t\x01\x1f\x7f "


def make(options, type_text="jsonb", on_invalid="error"):
    c = classify(type_text)
    c.name = "doc"
    t = REGISTRY["json"](KEY, {"paths": options, "onInvalid": on_invalid}, c)
    t.bind_dialect("postgres")
    return t


def _need_c():
    if speedups.PURE:
        pytest.skip("DUMPMASK_PURE is set: the C path is off (the engine runs below compare both)")
    if jsonpaths._C_SPANS is None or jsonpaths._C_FIELD is None:
        unavailable("dumpmask._speedups is not built (or has no json_spans / json_field)")


@pytest.fixture(scope="module")
def transformers():
    _need_c()
    return {(i, inv): make(r, on_invalid=inv) for i, r in enumerate(RULES) for inv in ("error", "keep", "null")}


# ----------------------------------------------------------------------------- documents

def _string(draw, text: str, key: bool = False) -> str:
    out = ['"']
    escapes = not key or draw(st.integers(0, 9)) == 0     # keys: escaped now and then
    for ch in text:
        o = ord(ch)
        how = draw(st.integers(0, 5)) if escapes else 5
        short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                 "/": "\\/"}.get(ch)
        if o < 0x20 or ch in '"\\':
            out.append(short if short and how < 3 else f"\\u{o:04x}" if how < 5 else f"\\u{o:04X}")
        elif o > 0xFFFF:
            if how < 2:
                v = o - 0x10000
                out.append(f"\\u{0xD800 + (v >> 10):04x}\\u{0xDC00 + (v & 0x3FF):04X}")
            else:
                out.append(ch)
        elif how == 0:
            out.append(short or f"\\u{o:04x}")
        else:
            out.append(ch)
    if escapes and draw(st.integers(0, 9)) == 0:
        out.append(draw(st.sampled_from(["\\ud800", "\\udc00", "\\uDBFF\\u0041", "\\ud83d\\ude00"])))
    out.append('"')
    return "".join(out)


_NUMBER = st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,6})?([eE][-+]?[0-9]{1,3})?", fullmatch=True)
_WS = st.sampled_from(["", "", " ", "  ", "\n", "\n    ", "\t", "\r\n", " \t "])


@st.composite
def documents(draw):
    chars = draw(st.sampled_from([CHARS, ASCII]))

    def value(depth):
        # the top mostly an object, strings the commonest values below it (paths name them)
        kind = draw(st.integers(0, 9)) if depth else draw(st.sampled_from([0, 2, 6, 7, 7, 7, 7, 7, 7, 7]))
        if depth >= 4 and kind >= 6:
            kind = 2
        if kind <= 2:
            return _string(draw, draw(st.text(chars, max_size=6) | st.sampled_from(["mary@example.com", "1", ""])))
        if kind == 3:
            return draw(_NUMBER)
        if kind == 4:
            return draw(st.sampled_from(["true", "false", "null"]))
        if kind <= 6:
            items = [value(depth + 1) for _ in range(draw(st.integers(0, 4)))]
            return "[" + draw(_WS) + ("," + draw(_WS)).join(items) + draw(_WS) + "]"
        members = []
        for _ in range(draw(st.integers(0, 5))):
            k = draw(st.sampled_from(KEYS[:4] * 3 + KEYS))
            members.append(_string(draw, k, key=True) + draw(_WS) + ":" + draw(_WS) + value(depth + 1))
        return "{" + draw(_WS) + ("," + draw(_WS)).join(members) + draw(_WS) + "}"

    doc = draw(_WS) + value(0) + draw(_WS)
    if draw(st.integers(0, 4)) == 0 and doc:      # broken: one character dropped, added or changed, or cut
        i = draw(st.integers(0, len(doc) - 1))
        how = draw(st.integers(0, 3))
        junk = draw(st.sampled_from(list('{}[],:"\\ \x01tfnu0-.eE+x\u00e9') + ["NaN", "Infinity", "-Infinity"]))
        doc = (doc[:i] + doc[i + 1:], doc[:i] + junk + doc[i:], doc[:i] + junk + doc[i + 1:], doc[:i])[how]
    return doc


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except DumpmaskError as e:
        return type(e).__name__, str(e)


SETTINGS = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(rules=st.integers(0, len(RULES) - 1), inv=st.sampled_from(["error", "keep", "null"]), doc=documents())
def test_c_spans_give_the_walkers_result(transformers, rules, inv, doc):
    t = transformers[(rules, inv)]
    assert outcome(t, doc) == outcome(t._walk_call, doc)


def _no_constant(name):
    raise ValueError(name)


@SETTINGS
@given(doc=documents())
def test_c_reads_every_json_document_and_nothing_else(doc):
    """Under a trie that names no keys (no escaped key to leave to the walker), json_spans gives
    hits exactly when json.loads reads the document (NaN and Infinity refused): C is never less
    strict than the walker (C's None is only the walker's turn: not a wrong result, a slower one),
    and never stricter on these shallow documents."""
    _need_c()
    t = make({"$[1]": "redact"})
    words, keys, _leaves = t._ctable
    try:
        json.loads(doc, parse_constant=_no_constant)
        valid = True
    except ValueError:
        valid = False
    assert (jsonpaths._C_SPANS(doc.encode("utf-8", "surrogatepass"), words, keys) is not None) == valid


# ----------------------------------------------------------------------------- raw fields

def _my_encode(s):
    return b"NULL" if s is None else mysql_lex.encode_string(s.encode("utf-8", "surrogateescape"))


def _walker(t):
    """The general path's value function with the walker (no C path, no field_fast)."""
    return lambda v: None if v is None else t._walk_call(v)


@st.composite
def copy_fields(draw):
    """A COPY text field of a document: copy_encode's, with some bytes written as \\NNN, \\xHH
    or an escape COPY does not need (\\q -> q), and bytes that are not UTF-8."""
    raw = bytearray(postgres.copy_encode(draw(documents())))
    for _ in range(draw(st.integers(0, 3))):
        if not raw:
            break
        i = draw(st.integers(0, len(raw) - 1))
        if raw[i] == 0x5C or (i and raw[i - 1] == 0x5C):
            continue
        c = raw[i]
        how = draw(st.integers(0, 3))
        if how == 0:
            raw[i:i + 1] = b"\\%03o" % c
        elif how == 1:
            raw[i:i + 1] = b"\\x%02x" % c
        elif how == 2 and chr(c).isalpha() and chr(c) not in "bfnrtvxN":
            raw[i:i + 1] = b"\\" + bytes([c])
        else:
            raw[i:i] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xb2\x80", b"\r", b"\\r"]))
    return bytes(raw)


@st.composite
def my_literals(draw):
    """A mysqldump '...' literal of a document: encode_string's, with quotes doubled ('') instead of
    \\', and \\% \\_ \\Z \\0, and bytes that are not UTF-8; sometimes not one plain literal."""
    body = draw(documents()).encode("utf-8", "surrogatepass")
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        i = draw(st.integers(0, len(body)))
        body = body[:i] + draw(st.sampled_from([b"\xff", b"'", b"%", b"_", b"\x1a", b"\x00"])) + body[i:]
    lit = mysql_lex.encode_string(body)
    if draw(st.integers(0, 4)) == 0:    # escapes mysqldump does not write: \% and \_ keep their backslash
        lit = lit.replace(b"%", b"\\%").replace(b"_", b"\\_").replace(b"a", b"\\a")
    if draw(st.booleans()):
        lit = b"'" + lit[1:-1].replace(b"\\'", b"''") + b"'"
    if draw(st.integers(0, 9)) == 0:
        lit = draw(st.sampled_from([lit + b" ", b"_utf8mb4" + lit, lit[:-1], lit + b" 'x'", b"NULL"]))
    return lit


def _general_and_fast(t, fns_of, raw):
    general = fns_of(_walker(t), "json", "doc", Tally())
    fast = fns_of(t, "json", "doc", Tally())
    return outcome(general.miss, raw), outcome(fast.miss, raw)


@SETTINGS
@given(rules=st.integers(0, len(RULES) - 1), inv=st.sampled_from(["error", "keep", "null"]), raw=copy_fields())
def test_copy_field_in_c_gives_the_general_paths_bytes(transformers, rules, inv, raw):
    t = transformers[(rules, inv)]
    general, fast = _general_and_fast(t, pg_field_fns, raw)
    assert fast == general
    direct = t.field_fast(0, postgres.copy_encode)(raw)
    if direct is not None:      # C did it: the general path's bytes (raw itself: unchanged)
        assert general[0] == "ok" and (general[1] is UNCHANGED if direct == raw else direct == general[1])


@SETTINGS
@given(rules=st.integers(0, len(RULES) - 1), inv=st.sampled_from(["error", "keep", "null"]), raw=my_literals())
def test_mysql_literal_in_c_gives_the_general_paths_bytes(transformers, rules, inv, raw):
    t = transformers[(rules, inv)]
    general, fast = _general_and_fast(t, my_field_fns, raw)
    assert fast == general
    direct = t.field_fast(1, _my_encode)(raw)
    if direct is not None:
        assert general[0] == "ok" and (general[1] is UNCHANGED if direct == raw else direct == general[1])


# ----------------------------------------------------------------------------- C is taken

DOC = ('{"id": 7, "email": "mary.smith@example.com", "name": "Mary \\"M\\" Smith\\n", "phones": ["+1 555 0100", '
       '"+1 555 0200"], "address": {"street": "7 Oak Street", "city": "Springfield"}, "score": 12.5e-3}')


def test_the_c_path_masks_the_issues_document_without_the_walker(transformers, monkeypatch):
    """The common documents never reach the walker (else C would be only a slower detour)."""
    t = transformers[(0, "error")]
    expected = t._walk_call(DOC)
    walked = []
    monkeypatch.setattr(type(t), "_walk_call", lambda self, v: walked.append(v))
    assert t(DOC) == expected and json.loads(expected)["email"] != "mary.smith@example.com"
    raw = postgres.copy_encode(DOC)
    assert t.field_fast(0, postgres.copy_encode)(raw) == postgres.copy_encode(expected)
    lit = mysql_lex.encode_string(DOC.encode())
    assert t.field_fast(1, _my_encode)(lit) == mysql_lex.encode_string(expected.encode())
    assert walked == []


def test_documents_c_leaves_to_the_walker(transformers):
    """Not JSON, nested deeper than C reads, an escaped key where the path names keys, a number
    under a mutation: C gives None and the walker decides."""
    t = transformers[(6, "error")]
    words, keys, _leaves = t._ctable
    spans = jsonpaths._C_SPANS
    assert spans(b'{"e": "x"', words, keys) is None
    assert spans(b'{"\\u0065": "x"}', words, keys) is None
    assert spans(b'{"z": ' + b"[" * 300 + b"]" * 300 + b"}", words, keys) is None
    assert spans(b'{"z": ' + b"[" * 100 + b"]" * 100 + b', "e": "x"}', words, keys) == [(0, 213, 216, 34)]
    field = t.field_fast(0, postgres.copy_encode)
    assert field(b'{"n": 5}') is None and t('{"n": 5}') != '{"n": 5}'
    assert field(b'{"e": "m@x.io"') is None


def test_a_column_with_a_length_has_no_field_path():
    _need_c()
    assert make(RULES[0], "varchar(300)").field_fast(0, postgres.copy_encode) is None
    assert make(RULES[0], "text").field_fast(0, postgres.copy_encode) is not None


# ----------------------------------------------------------------------------- whole runs

def _profiles(n: int, seed: int) -> list:
    """n documents of the issue's shape, with the values a real column holds: quotes,
    backslashes, newlines, tabs, accents, CJK, emoji, members no path names, nested arrays."""
    import random

    rnd = random.Random(seed)
    bits = ['O"Brien', "back\\slash", "line\nbreak", "tab\there", "Gr\u00fc\u00dfe", "\u6771\u4eac", "\U0001f600",
            "plain", "it's", "/slash/", "\x01ctl"]

    def text(i):
        return " ".join(rnd.sample(bits, 2)) + str(i)

    out = []
    for i in range(n):
        doc = {"id": i, "email": f"user{i}.{rnd.randrange(10**6)}@example.com", "name": text(i),
               "phones": [f"+1 555 {rnd.randrange(10**4):04d}" for _ in range(rnd.randrange(4))],
               "address": {"street": f"{i} {text(i)}", "city": "Springfield", "zip": f"{rnd.randrange(10**5):05d}"},
               "notes": text(i), "ssn": f"{rnd.randrange(10**9):09d}", "score": rnd.choice([12.5, -3, 1e21, 0, 7]),
               "tags": [[text(i)], {"k\u00e9y": text(i)}], "active": rnd.random() < 0.5, "none": None}
        if i % 7 == 0:
            doc["email"] = None
        if i % 11 == 0:
            del doc["address"]
        out.append(doc)
    return out


JSON_RULES = {"paths": {"$.email": "faker.email", "$.phones[*]": "faker.phone", "$.address.street": "faker.address",
                        "$.name": "faker.name", "$.ssn": "null", "$.notes": "delete", "$.tags[0][*]": "redact"}}


def _styled(doc: dict, i: int) -> str:
    return json.dumps(doc, ensure_ascii=bool(i % 2), indent=(None, 2, "\t")[i % 3],
                      separators=((", ", ": "), (",", ":"), (" , ", " : "))[i % 3] if i % 3 != 1 else None)


def _run_both(dm, tmp_path, dump: bytes, rules: dict):
    (tmp_path / "r.json").write_text(json.dumps(rules))
    (tmp_path / "in.sql").write_bytes(dump)
    outs = {}
    for pure in ("0", "1"):
        audit = tmp_path / f"a{pure}.json"
        cp = dm("-q", "-c", tmp_path / "r.json", "--audit", audit, tmp_path / "in.sql", env={"DUMPMASK_PURE": pure})
        assert cp.returncode == 0, cp.stderr.decode()[-2000:]
        outs[pure] = (cp.stdout, json.loads(audit.read_bytes())["tables"])
    assert outs["0"] == outs["1"]
    return outs["0"][0]


def test_pg_jsonb_and_json_text_runs_with_and_without_c_write_the_same_bytes(tmp_path, dm, pg_server):
    """A real pg_dump of jsonb and of JSON kept as text (every style: ensure_ascii, indented,
    compact, blanks around , and :), masked with and without the C extension: the same bytes
    and counts, and the C run restores and is masked when queried by path."""
    db = pg_server.createdb("jfast_src")
    docs = _profiles(300, 1)
    rows = ",".join("({}, '{}', '{}')".format(i, json.dumps(d).replace("'", "''"), _styled(d, i).replace("'", "''"))
                    for i, d in enumerate(docs))
    pg_server.psql(db, f"CREATE TABLE p (id int PRIMARY KEY, profile jsonb, raw text); INSERT INTO p VALUES {rows};")
    rules = {"tables": [{"tableName": "p", "columnMutations": [
        {"column": "profile", "mutation": "json", "options": JSON_RULES},
        {"column": "raw", "mutation": "json", "options": JSON_RULES}]}]}
    out = _run_both(dm, tmp_path, pg_server.dump(db), rules)
    dst = pg_server.createdb("jfast_out")
    pg_server.restore(dst, out)
    assert pg_server.scalar(dst, "SELECT count(*) FROM p WHERE profile ? 'notes' OR raw::jsonb ? 'notes' "
                                 "OR profile->>'ssn' IS NOT NULL OR profile->>'email' LIKE 'user%' "
                                 "OR raw::jsonb->>'email' LIKE 'user%' OR profile->>'id' <> id::text") == "0"
    assert pg_server.scalar(dst, "SELECT count(*) FROM p WHERE jsonb_typeof(profile->'score') = 'number' AND "
                                 "raw::jsonb->'tags'->1 = profile->'tags'->1") == "300"


def test_mariadb_json_runs_with_and_without_c_write_the_same_bytes(tmp_path, dm, my_server):
    db = my_server.create("jfast_src")
    docs = _profiles(300, 2)

    def lit(s: str) -> str:
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

    rows = ",".join(f"({i}, {lit(_styled(d, i))})" for i, d in enumerate(docs))
    my_server.sql(db, f"CREATE TABLE p (id int PRIMARY KEY, profile JSON); INSERT INTO p VALUES {rows};")
    rules = {"tables": [{"tableName": "p", "columnMutations": [
        {"column": "profile", "mutation": "json", "options": JSON_RULES}]}]}
    out = _run_both(dm, tmp_path, my_server.dump(db), rules)
    dst = my_server.create("jfast_out")
    my_server.restore(dst, out)
    assert my_server.scalar(dst, "SELECT count(*) FROM p WHERE JSON_EXISTS(profile, '$.notes') OR "
                                 "JSON_VALUE(profile, '$.email') LIKE 'user%' OR "
                                 "JSON_TYPE(JSON_EXTRACT(profile, '$.ssn')) <> 'NULL' OR "
                                 "JSON_VALUE(profile, '$.id') <> id") == "0"
    assert my_server.scalar(dst, "SELECT count(*) FROM p WHERE JSON_VALID(profile)") == "300"
