"""A table or column rule spelled like a name of the dump but for case or quoting (PostgreSQL
folds an unquoted name to lower case; MySQL reads backticks as quotes) matches nothing, and its
table or column would pass in clear with only a warning: it is refused (exit 2, naming the rule,
the dump's name and how to write it), before any output on a file and with a poisoned end on a
pipe. A rule written as SQL writes the name always matches. Names are generated: non-ASCII,
spaces, dots, both quote characters, mixed case."""
from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dumpmask
from conftest import TEST_KEY
from dumpmask.crypto import Key
from dumpmask.errors import RulesError
from dumpmask.idents import qualname_text, quote
from dumpmask.rules import load_rules

KEY = Key(TEST_KEY.encode())
SECRET = "secret.value@example.org"
names = st.text(st.sampled_from(list("abcXYZ _.-\"`'éÜ名前;")), min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and s.strip(".") == s)


def _dump(dialect: str, table: str, column: str) -> bytes:
    if dialect == "postgres":
        t, c = qualname_text("public", table, dialect), quote(column, dialect)
        return (f"CREATE TABLE {t} (id integer, {c} text);\nCOPY {t} (id, {c}) FROM stdin;\n"
                f"1\t{SECRET}\n\\.\n").encode()
    t, c = quote(table, dialect), quote(column, dialect)
    return (f"CREATE TABLE {t} (id int, {c} text);\nINSERT INTO {t} VALUES (1,'{SECRET}');\n").encode()


def _rules(tmp_path, table: str, column: str):
    f = tmp_path / "rules.json"
    f.write_text(json.dumps({"tables": [{"tableName": table, "columnMutations": [
        {"column": column, "mutation": "faker.email"}]}]}))
    return load_rules(str(f))


def _mask(dump: bytes, rules, dialect: str, as_file=None) -> bytes:
    out = io.BytesIO()
    src = str(as_file) if as_file is not None else io.BytesIO(dump)
    if as_file is not None:
        as_file.write_bytes(dump)
    dumpmask.mask(src, out, rules=rules, key=KEY, dialect=dialect, warn=lambda m: None)
    return out.getvalue()


settings_ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
@settings_
@given(table=names, column=names)
def test_a_rule_written_as_sql_writes_the_name_masks(tmp_path, dialect, table, column):
    dump = _dump(dialect, table, column)
    out = _mask(dump, _rules(tmp_path, qualname_text(None, table, dialect), quote(column, dialect)), dialect)
    assert SECRET.encode() not in out and b"@example." in out


def _loose(text: str) -> str:
    return " ".join(text.replace('"', "").replace("`", "").casefold().split())


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
@pytest.mark.parametrize("as_file", [False, True])
@settings_
@given(table=names, column=names, data=st.data())
def test_a_misspelled_table_rule_is_refused_and_nothing_passes_in_clear(tmp_path, dialect, as_file, table, column, data):
    # the rule as a user might write it: the bare name, upper- or lower-cased
    spelled = data.draw(st.sampled_from([table, table.upper(), table.lower(), table.replace('"', "").replace("`", "")]))
    assume(spelled.strip() and _loose(spelled) == _loose(table))
    try:
        rules = _rules(tmp_path, spelled, quote(column, dialect))
    except RulesError as e:             # a quote left open: not a name (exit 2 at load)
        assert "cannot read the name" in str(e) and ('"' in spelled or "`" in spelled)
        return
    dump = _dump(dialect, table, column)
    try:
        out = _mask(dump, rules, dialect, tmp_path / "in.sql" if as_file else None)
    except RulesError as e:
        msg = str(e)
        assert "names no table of the dump" in msg and msg.endswith(qualname_text("public" if dialect == "postgres" else None, table, dialect)), msg
        assert SECRET not in msg
        return
    # no error: then the rule matched the table and masked it
    assert SECRET.encode() not in out


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_misspelled_rules_in_examples(tmp_path, dialect):
    """The two cases seen from outside: a PostgreSQL name with capitals written unquoted, and a
    MySQL name holding backticks written with single ones. And a misspelled column."""
    table = 'Kunden "Liste"' if dialect == "postgres" else "Kunden `Liste`"
    # PostgreSQL: an unquoted rule folds to lower case; MySQL (columns compare without case):
    # an unquoted dot splits the name
    column, spelled = ("E-Mail", "e-mail") if dialect == "postgres" else ("e.mail", "e.mail")
    dump = _dump(dialect, table, column)
    for rule_table, rule_col, what in ((table, quote(column, dialect), "table"), (qualname_text(None, table, dialect), spelled, "column")):
        with pytest.raises(RulesError) as e:
            _mask(dump, _rules(tmp_path, rule_table, rule_col), dialect, tmp_path / "in.sql")
        assert ("names no table" if what == "table" else "is not a column of") in str(e.value)
        assert str(e.value).endswith(qualname_text("public" if dialect == "postgres" else None, table, dialect)
                                     if what == "table" else quote(column, dialect))
    # a rule for a table that is simply not in this dump stays a warning
    warnings = []
    out = io.BytesIO()
    f = tmp_path / "in.sql"
    f.write_bytes(dump)
    dumpmask.mask(str(f), out, rules=_rules(tmp_path, "orders", "email"), key=KEY, dialect=dialect, warn=warnings.append)
    assert any("never appears" in w for w in warnings) and SECRET.encode() in out.getvalue()


def test_cli_pipe_ends_poisoned(dm, tmp_path):
    dump = _dump("postgres", "Customer", "email")
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "Customer", "columnMutations": [
        {"column": "email", "mutation": "faker.email"}]}]}))
    cp = dm("-c", rules, input=dump)
    assert cp.returncode == 2, cp.stderr
    assert b"names no table of the dump" in cp.stderr and cp.stderr.rstrip().endswith(b'write it as "public"."Customer"')
    assert cp.stdout.rstrip().endswith(b"DUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;")
    f = tmp_path / "in.sql"
    f.write_bytes(dump)
    cp = dm("-c", rules, f, "-o", tmp_path / "out.sql")
    assert cp.returncode == 2 and not (tmp_path / "out.sql").exists()
    assert SECRET.encode() not in cp.stdout
