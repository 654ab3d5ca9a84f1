"""The identifier readers (dumpmask.idents) and every DDL / data-statement reader built on
them, one quirk per test (issue 11: quoted identifiers everywhere)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumpmask import idents, schema
from dumpmask.dialects import postgres as pgd
from dumpmask.dialects.mysql import _insert_table

PG, MY = "postgres", "mysql"


# --------------------------------------------------------------------------- idents
def test_pg_quoted_doubled_quote():
    assert idents.read_ident('"We""ird" x') == ('We"ird', 9)


def test_pg_quoted_newline_dot_space_comma_paren():
    name = 'a\nb. c, d) VALUES (e'
    assert idents.read_ident('"' + name + '"')[0] == name


def test_pg_unquoted_folds_ascii_only():
    assert idents.read_ident("MixedCase")[0] == "mixedcase"
    assert idents.read_ident("ÄRGER")[0] == "Ärger"     # a UTF-8 server folds ASCII letters only


def test_pg_quoted_keeps_case_and_keywords():
    assert idents.read_ident('"SELECT"')[0] == "SELECT"


def test_pg_unicode_escape_identifier():
    assert idents.read_ident(r'U&"d\0061t\+000061"')[0] == "data"
    assert idents.read_ident('U&"d!0061t" UESCAPE \'!\'')[0] == "dat"


def test_pg_qualname_blanks_around_dot_and_bytes():
    assert idents.read_qualname(b'public . "Po.st"\n(') == (["public", "Po.st"], 16)


def test_pg_three_part_name():
    assert idents.read_table_name('db.s."T"')[0] == ("s", "T")


def test_my_backtick_doubled():
    assert idents.read_ident("`a``b`", 0, MY)[0] == "a`b"


def test_my_ansi_double_quotes():
    assert idents.read_qualname('"db"."t""x"', 0, MY)[0] == ["db", 't"x']


def test_my_bare_name_keeps_case_and_may_start_with_digit():
    assert idents.read_ident("1Abc", 0, MY)[0] == "1Abc"


def test_ident_list_key_parts_prefix_and_desc():
    assert idents.read_ident_list("(`a`(10) DESC, b)", 0, MY, key_parts=True) == (["a", "b"], 17)


def test_ident_list_quoted_paren_and_comma():
    assert idents.read_ident_list('("a) VALUES (b", "c,d")')[0] == ["a) VALUES (b", "c,d"]


# --------------------------------------------------------------------------- CREATE TABLE
def ct(sql: str, dialect: str = PG):
    return schema.parse_create_table(sql.encode(), dialect)


def test_create_quoted_schema_and_table():
    t = ct('CREATE TABLE public."Post" (\n    id integer NOT NULL,\n    "authorId" integer\n);')
    assert (t.schema, t.name, [c.name for c in t.columns]) == ("public", "Post", ["id", "authorId"])


def test_create_pg_column_named_fulltext_kept():
    # (bit varying(3): a type sqlglot cannot parse; an old line-reader fallback dropped fulltext)
    t = ct("CREATE TABLE public.film (\n    film_id integer NOT NULL,\n    mac bit varying(3),\n    fulltext tsvector NOT NULL\n);")
    assert [c.name for c in t.columns] == ["film_id", "mac", "fulltext"]
    assert t.column("fulltext").kind == "text" and not t.column("fulltext").nullable


@pytest.mark.parametrize("word", ["key", "index", "spatial", "exclude", "period"])
def test_create_pg_unquoted_keyword_column(word):
    t = ct(f"CREATE TABLE t (\n    {word} integer,\n    x bit varying(3)\n);")
    assert [c.name for c in t.columns] == [word, "x"]


@pytest.mark.parametrize("word", ["check", "key", "primary", "unique", "index", "constraint", "foreign"])
def test_create_quoted_keyword_column_pg(word):
    t = ct(f'CREATE TABLE t (\n    "{word}" integer NOT NULL,\n    x bit varying(3)\n);')
    assert [c.name for c in t.columns] == [word, "x"]


@pytest.mark.parametrize("word", ["check", "key", "primary", "unique", "index", "fulltext", "constraint"])
def test_create_backtick_keyword_column_mysql(word):
    t = ct(f"CREATE TABLE `t` (\n  `{word}` int(11) NOT NULL,\n  `x` inet6,\n  PRIMARY KEY (`{word}`)\n) ENGINE=InnoDB;", MY)
    assert [c.name for c in t.columns] == [word, "x"] and t.primary_key == (word,)


def test_create_mysql_key_lines_are_not_columns():
    t = ct("CREATE TABLE `t` (\n  `a` int NOT NULL,\n  `b` int,\n  PRIMARY KEY (`a`),\n  UNIQUE KEY `u` (`b`),\n"
           "  KEY `idx` (`b`),\n  FULLTEXT KEY `ft` (`b`),\n  CONSTRAINT `fk` FOREIGN KEY (`b`) REFERENCES `p` (`id`)\n);", MY)
    assert [c.name for c in t.columns] == ["a", "b"]
    assert t.unique == [("b",)] and t.foreign_keys[0].columns == ("b",) and t.foreign_keys[0].name == "fk"


def test_create_quoted_column_that_looks_like_a_constraint():
    t = ct('CREATE TABLE t (\n    "PRIMARY KEY (x)" integer,\n    x integer\n);')
    assert t.primary_key == () and [c.name for c in t.columns] == ["PRIMARY KEY (x)", "x"]


def test_create_newline_and_values_in_column_names():
    t = ct('CREATE TABLE t (\n    "a\nb" integer,\n    ") VALUES (" text\n);')
    assert [c.name for c in t.columns] == ["a\nb", ") VALUES ("]


def test_create_inline_references_quoted_table():
    t = ct('CREATE TABLE "Post" ("authorId" int REFERENCES "User"(id), x int);')
    fk = t.foreign_keys[0]
    assert fk.columns == ("authorId",) and schema._split_qual(fk.ref_table, True) == (None, "User")


def test_create_composite_fk_to_dotted_schema():
    t = ct('CREATE TABLE c (a int, b int, FOREIGN KEY (a, b) REFERENCES "s.x"."P q"("K1", "K2"));')
    fk = t.foreign_keys[0]
    assert fk.ref_columns == ("K1", "K2") and schema._split_qual(fk.ref_table, True) == ("s.x", "P q")


def test_create_generated_column_and_identity():
    t = ct("CREATE TABLE t (\n    id integer GENERATED ALWAYS AS IDENTITY,\n    g integer GENERATED ALWAYS AS ((id * 2)) STORED\n);")
    assert not t.column("id").generated and t.column("g").generated
    assert t.data_columns() == ["id"]


def test_create_mysql_virtual_column():
    t = ct("CREATE TABLE `t` (\n  `id` int,\n  `g` int GENERATED ALWAYS AS (`id` * 2) VIRTUAL\n);", MY)
    assert t.column("g").generated


def test_create_default_nextval_quoted_sequence():
    t = ct("""CREATE TABLE t (\n    id integer DEFAULT nextval('public."Weird""Seq"'::regclass) NOT NULL\n);""")
    assert t.column("id").has_default_sequence == 'public."Weird""Seq"'
    assert pgd.parse_qualname(t.column("id").has_default_sequence.encode()) == ("public", 'Weird"Seq')


def test_create_string_default_holding_keywords():
    t = ct("CREATE TABLE t (\n    a text DEFAULT 'NOT NULL PRIMARY KEY (a)',\n    b int\n);")
    assert t.column("a").nullable and t.primary_key == ()


def test_create_type_as_written():
    t = ct("CREATE TABLE t (\n    a timestamp without time zone,\n    b character varying(45),\n    c numeric(5,2)\n);")
    assert [c.type for c in t.columns] == ["timestamp without time zone", "character varying(45)", "numeric(5,2)"]


def test_create_partition_of_with_bound():
    t = ct('CREATE TABLE public."p_ci 100" PARTITION OF public."p_ci" FOR VALUES IN (100);')
    assert t.partition_of == ("public", "p_ci") and t.partition_bound == "FOR VALUES IN (100)"


def test_create_partition_by_list_columns():
    t = ct('CREATE TABLE public.p (\n    id bigint,\n    "Part id" bigint\n)\nPARTITION BY LIST ("Part id", id);')
    assert t.partition_by == ("LIST", ("Part id", "id"))


def test_create_partition_by_expression_gives_the_columns_it_uses():
    t = ct("CREATE TABLE p (d date, \"Day\" int) PARTITION BY RANGE (date_trunc('day', d), (\"Day\" + 1));")
    assert t.partition_by == ("RANGE", ("d", "Day"))


def test_create_inherits_quoted_parents():
    t = ct('CREATE TABLE c (\n    x int\n)\nINHERITS (public."Par ent", other);')
    assert t.inherits == [("public", "Par ent"), (None, "other")]


def test_create_table_level_pk_with_quoted_names():
    t = ct('CREATE TABLE t (\n    "A,b" int,\n    c int,\n    CONSTRAINT "pk (x)" PRIMARY KEY ("A,b", c)\n);')
    assert t.primary_key == ("A,b", "c")


# --------------------------------------------------------------------------- ALTER TABLE & co
def at(sql: str, dialect: str = PG):
    return schema.parse_alter_table(sql.encode(), dialect)


def test_alter_only_quoted_table_fk():
    a = at('ALTER TABLE ONLY public."Post"\n    ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES public."User"(id);')
    assert a["table"] == ("public", "Post")
    fk = a["fks"][0]
    assert fk.columns == ("authorId",) and schema._split_qual(fk.ref_table, True) == ("public", "User")


def test_alter_if_exists_only_pk():
    a = at('ALTER TABLE IF EXISTS ONLY "s"."T" ADD CONSTRAINT x PRIMARY KEY ("a b", c);')
    assert a["table"] == ("s", "T") and a["pk"] == ("a b", "c")


def test_alter_unique_constraint_quoted():
    a = at('ALTER TABLE ONLY public.t ADD CONSTRAINT "u" UNIQUE ("E-mail");')
    assert a["unique"] == [("E-mail",)]


def test_alter_attach_partition_bound():
    a = at('ALTER TABLE ONLY public."P" ATTACH PARTITION public."P 1" FOR VALUES FROM (1) TO (10);')
    assert a["attach"] == ("public", "P 1") and a["bound"] == "FOR VALUES FROM (1) TO (10)"


def test_alter_set_default_nextval_quoted_sequence():
    a = at("""ALTER TABLE ONLY public."User" ALTER COLUMN "Id" SET DEFAULT nextval('public."User_Id_seq"'::regclass);""")
    assert a["seq_default"] == ("Id", 'public."User_Id_seq"')


def test_alter_add_identity_sequence_name():
    a = at('ALTER TABLE public."T" ALTER COLUMN "c Id" ADD GENERATED BY DEFAULT AS IDENTITY (\n'
           '    SEQUENCE NAME public."T_c Id_seq"\n    START WITH 1\n);')
    assert a["identity"] == ("c Id", 'public."T_c Id_seq"')


def test_alter_mysql_add_primary_key_backticks():
    a = at("ALTER TABLE `d`.`t``x` ADD PRIMARY KEY (`a`), ADD CONSTRAINT `f` FOREIGN KEY (`b`) REFERENCES `p` (`id`);", MY)
    assert a["table"] == ("d", "t`x") and a["pk"] == ("a",) and a["fks"][0].ref_columns == ("id",)


def test_owned_by_quoted_with_dots():
    o = schema.parse_owned_by(b'ALTER SEQUENCE public."a.b_seq" OWNED BY public."a.b"."c d";')
    assert o == (("public", "a.b_seq"), ("public", "a.b"), "c d")


def test_create_domain_quoted():
    assert schema.parse_create_domain(b'CREATE DOMAIN public."Year" AS integer\n\tCONSTRAINT y CHECK (VALUE > 0);') == \
        ('public."Year"', "integer")


# --------------------------------------------------------------------------- data statements
def test_copy_header_column_with_newline():
    t, cols, text = pgd.parse_copy(b'COPY public."T" (id, "a\nb") FROM stdin;')
    assert t == ("public", "T") and cols == ["id", "a\nb"] and text


def test_copy_header_column_with_values_paren():
    t, cols, _ = pgd.parse_copy(b'COPY public."x.y" (") VALUES (", "c,d") FROM stdin;')
    assert t == ("public", "x.y") and cols == [") VALUES (", "c,d"]


def test_insert_column_list_with_values_paren():
    ins = pgd.parse_insert(b'INSERT INTO public."T" (") VALUES (", b) VALUES (1, 2);')
    assert ins.table == ("public", "T") and ins.columns == [") VALUES (", "b"] and len(ins.tuples) == 1


def test_insert_default_for_generated_column_parses():
    ins = pgd.parse_insert(b"INSERT INTO public.t VALUES (1, 'a', DEFAULT), (2, 'b', DEFAULT);")
    assert [len(t[2]) for t in ins.tuples] == [3, 3]


def test_setval_quoted_sequence_in_string():
    (s, n), v, _ = pgd.parse_setval(b"""SELECT pg_catalog.setval('public."Weird""Seq"', 42, true);""")
    assert (s, n, v) == ("public", 'Weird"Seq', 42)


def test_setval_quote_in_name():
    (s, n), v, _ = pgd.parse_setval(b"""SELECT pg_catalog.setval('"it''s"', 7, false);""")
    assert (s, n, v) == (None, "it's", 7)


def test_mysql_insert_table_backticks_and_ansi():
    assert _insert_table(b"INSERT INTO `d`.`a``b.c` VALUES (1);") == ("d", "a`b.c")
    assert _insert_table(b'INSERT INTO "t ""x" ("a") VALUES (1);') == (None, 't "x')


# --------------------------------------------------------------------------- engine
def test_pg_inserts_default_for_generated_column_masks(dm, tmp_path):
    """pg_dump --inserts writes DEFAULT for a generated column: the row has one more value than
    the stored columns; it is read, the other column masked and DEFAULT written as it was."""
    dump = (b"CREATE TABLE public.t (\n    id integer NOT NULL,\n    name text,\n"
            b"    g integer GENERATED ALWAYS AS ((id * 2)) STORED\n);\n"
            b"INSERT INTO public.t VALUES (1, 'alice', DEFAULT);\n"
            b"INSERT INTO public.t VALUES (2, 'bob', DEFAULT), (3, 'carol', DEFAULT);\n")
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"tables": [{"tableName": "t", "columnMutations": [
        {"column": "name", "mutation": "faker.firstName"}]}]}))
    cp = dm("-c", rules, "-q", "--dialect", "postgres", input=dump)
    assert cp.returncode == 0, cp.stderr.decode()
    out = cp.stdout
    assert out.count(b"DEFAULT)") == 3 and b"alice" not in out and b"carol" not in out


# --------------------------------------------------------------------------- both DDL readers agree
def _creates(path: Path, dialect: str):
    from dumpmask.dialects.base import LineReader
    from dumpmask.dialects.mysql import fast_lines
    from dumpmask.dialects.mysql_lex import split_statements

    if dialect == PG:
        with open(path, "rb") as fh:
            r = pgd.PgReader(LineReader(fh, str(path)))
            for s in r.statements():
                if s.kind == "copy":
                    for _ in r.copy_rows():
                        pass
                elif s.kind == "create_table":
                    yield s.raw
    else:
        with open(path, "rb") as fh:
            for s in split_statements(fast_lines(fh), str(path)):
                if s.kind == "create_table":
                    yield s.raw


def _sqlglot_reader():
    """bench/sqlglot_compare.py's reader built on sqlglot's AST alone (sqlglot is not a
    dependency of dumpmask: docs/sqlglot.md; these tests run where it is installed)."""
    pytest.importorskip("sqlglot")
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "bench" / "sqlglot_compare.py"
    spec = importlib.util.spec_from_file_location("sqlglot_compare", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _same(raw: bytes, dialect: str, must_parse: bool = False) -> bool:
    """The token reader and sqlglot's AST read the same table wherever sqlglot parses it (type
    text aside: the token reader keeps it as written, sqlglot respells it; the kind, length,
    range, scale drawn from it must agree)."""
    text = raw.decode("utf-8", "surrogateescape")
    assert schema._tokens(text, dialect) == schema._tokens(text, dialect, fast=False)
    try:
        a = _sqlglot_reader().sqlglot_create_table(text, dialect)
    except Exception:
        a = None
    if a is None:
        assert not must_parse
        return False
    b = schema._create_tolerant(text, dialect, {})
    for k in ("schema", "name", "primary_key", "unique", "foreign_keys", "partition_of", "partition_by", "inherits"):
        assert getattr(a, k) == getattr(b, k), (k, text[:80])
    strip = lambda c: {k: v for k, v in dataclasses.asdict(c).items() if k != "type"}  # noqa: E731
    assert [strip(c) for c in a.columns] == [strip(c) for c in b.columns], text[:80]
    return True


@pytest.mark.parametrize("path,dialect", [("pagila/pg_dump-copy.sql", PG), ("pagila/pg_dump-schema-only.sql", PG),
                                          ("sakila/mariadb-dump-default.sql", MY)])
def test_token_reader_equals_sqlglot_on_samples(dataset, path, dialect):
    p = dataset(path)
    n = sum(_same(raw, dialect) for raw in _creates(p, dialect))
    assert n >= 10


_NAME = st.lists(st.sampled_from(list("abcXYZ _.,()\"'`用Σ\n") + ["id", "key", "check"]), min_size=1, max_size=8).map("".join)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(_NAME, min_size=3, max_size=5, unique_by=str.lower), st.sampled_from([PG, MY]))
def test_token_reader_equals_sqlglot_on_generated_ddl(names, dialect):
    q = idents.quote
    t, *cols = names
    typ = {PG: ["integer", "text", "character varying(20)", "numeric(5,2)", "bigint"],
           MY: ["int(11)", "text", "varchar(20)", "decimal(5,2)", "bigint(20) unsigned"]}[dialect]
    lines = [f"    {q(c, dialect)} {typ[i % len(typ)]}{' NOT NULL' if i % 2 == 0 else ''}" for i, c in enumerate(cols)]
    lines.append(f"    PRIMARY KEY ({q(cols[0], dialect)})")
    lines.append(f"    CONSTRAINT {q('fk ' + t, dialect)} FOREIGN KEY ({q(cols[1], dialect)}) REFERENCES "
                 f"{q('P.' + t, dialect)} ({q(cols[0], dialect)})")
    name = (q("s", dialect) + "." if dialect == PG else "") + q(t, dialect)
    sql = f"CREATE TABLE {name} (\n" + ",\n".join(lines) + "\n);"
    b = schema._create_tolerant(sql, dialect, {})
    assert [c.name for c in b.columns] == cols and b.primary_key == (cols[0],)
    assert schema._split_qual(b.foreign_keys[0].ref_table, dialect == PG)[1] == "P." + t
    assert schema._tokens(sql, dialect) == schema._tokens(sql, dialect, fast=False)
    try:
        _same(sql.encode(), dialect)
    except pytest.skip.Exception:
        pass


def test_owned_by_dotted_sequence_setval_rewritten(dm, tmp_path):
    """ALTER SEQUENCE public."a.b_id_seq" OWNED BY ...: the sequence is found again at its
    setval (a dotted quoted name), so the setval moves past the remapped ids."""
    dump = (b'CREATE TABLE public."a.b" (\n    id integer NOT NULL,\n    t text\n);\n'
            b'CREATE SEQUENCE public."a.b_id_seq"\n    AS integer\n    START WITH 1;\n'
            b'ALTER SEQUENCE public."a.b_id_seq" OWNED BY public."a.b".id;\n'
            b'COPY public."a.b" (id, t) FROM stdin;\n1\tx\n2\ty\n\\.\n'
            b"SELECT pg_catalog.setval('public.\"a.b_id_seq\"', 2, true);\n"
            b'ALTER TABLE ONLY public."a.b"\n    ADD CONSTRAINT "a.b_pkey" PRIMARY KEY (id);\n')
    f = tmp_path / "d.sql"
    f.write_bytes(dump)
    rules = tmp_path / "r.json"
    rules.write_text(json.dumps({"options": {"identifierRemapping": {"enabled": True}}, "tables": []}))
    audit = tmp_path / "a.json"
    cp = dm("-c", rules, "-q", "--audit", audit, f)
    assert cp.returncode == 0, cp.stderr.decode()
    seqs = json.loads(audit.read_text())["sequences"]
    assert [s["sequence"] for s in seqs] == ["public.a.b_id_seq"] and seqs[0]["value"] > 2
    assert b"setval('public.\"a.b_id_seq\"', 2," not in cp.stdout


# --------------------------------------------------------------------------- what sqlglot misread (docs/sqlglot.md)

def test_create_mysql_ansi_quoted_names_keep_their_backslashes():
    """mariadb-dump --compatible=ansi writes a column named a\\b as "a\\b": a name, not a string
    (sqlglot reads it as the string 'a<backspace>')."""
    t = ct('CREATE TABLE "t" (\n  "id" int(11) NOT NULL,\n  "a\\b" int(11) DEFAULT NULL,\n  "c\\\\d" int(11),\n'
           '  "q""t" int(11),\n  PRIMARY KEY ("id")\n);', MY)
    assert [c.name for c in t.columns] == ["id", "a\\b", "c\\\\d", 'q"t'] and t.primary_key == ("id",)


def test_create_mysql_ansi_partition_key_is_a_column():
    t = ct('CREATE TABLE "ci_builds" (\n  "id" bigint(20) NOT NULL,\n  "partition_id" int(11) NOT NULL,\n'
           '  PRIMARY KEY ("id","partition_id")\n)\n PARTITION BY LIST ("partition_id")\n(PARTITION "p100" VALUES IN (100));', MY)
    assert t.partition_by == ("LIST", ("partition_id",))


def test_create_mysql_partition_in_a_conditional_comment():
    """mysqldump writes /*!50100 PARTITION BY ... */: the server runs it, so the table is partitioned."""
    t = ct("CREATE TABLE `c` (\n  `id` int NOT NULL,\n  `K` int NOT NULL,\n  PRIMARY KEY (`id`,`K`)\n) ENGINE=InnoDB"
           " /*!50100 PARTITION BY HASH (`k`) PARTITIONS 2 */;", MY)
    assert t.partition_by == ("HASH", ("K",))


def test_create_mysql_partition_by_key_empty_is_the_primary_key():
    t = ct("CREATE TABLE `p` (`id` int NOT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB PARTITION BY KEY () PARTITIONS 2;", MY)
    assert t.partition_by == ("KEY", ("id",))


def test_create_mysql_subpartition_columns_join_the_key():
    t = ct("CREATE TABLE `p` (`id` int NOT NULL, `d` date NOT NULL) PARTITION BY RANGE (year(`d`)) "
           "SUBPARTITION BY HASH (`id`) (PARTITION p0 VALUES LESS THAN (2000));", MY)
    assert t.partition_by == ("RANGE", ("d", "id"))


def test_create_partition_key_string_is_not_a_column():
    t = ct("CREATE TABLE p (d date, day int) PARTITION BY RANGE (date_trunc('day', d));")
    assert t.partition_by == ("RANGE", ("d",))


def test_fold_per_dialect():
    assert idents.fold("ÄRGER Id", PG) == "Ärger id" and idents.fold("ÄRGER Id", MY) == "ÄRGER Id"
    assert idents.name_key("Id", MY) == idents.name_key("ID", MY) and idents.name_key("Id", PG) != idents.name_key("ID", PG)


def test_create_mysql_ansi_json_column_is_json():
    """mariadb-dump --compatible=ansi: JSON is longtext CHECK (json_valid("c")), a JSON column."""
    t = ct('CREATE TABLE "i" (\n  "id" int(11) NOT NULL,\n  "Secrets" longtext NOT NULL CHECK (json_valid("Secrets"))\n);', MY)
    assert t.column("Secrets").kind == "json"


def test_rules_unquoted_table_name_folds_ascii_only():
    """PostgreSQL folds ASCII letters only: `CREATE TABLE ÜBER` creates Über, and an unquoted
    rule name ÜBER names that table (it used to be lower-cased fully, to über)."""
    from dumpmask.rules import NamePattern

    assert NamePattern.parse("ÜBER").matches(None, "Über", PG)
    assert not NamePattern.parse("ÜBER").matches(None, "über", PG)
    assert NamePattern.parse("ÜBER").matches(None, "über", MY)


def test_split_qual_reads_sql_text():
    assert idents.split_qual('public."a.b"', PG) == ("public", "a.b")
    assert idents.split_qual("`d`.`T`", MY) == ("d", "T")
    assert schema._split_qual('S."x"', True) == ("s", "x")


def test_create_mysql_auto_increment_option_before_partition_by():
    """AUTO_INCREMENT=N is a table option; a PARTITION BY after it used to hide it (None)."""
    t = ct("CREATE TABLE `p` (`id` int NOT NULL AUTO_INCREMENT, PRIMARY KEY (`id`)) ENGINE=InnoDB AUTO_INCREMENT=17 "
           "DEFAULT CHARSET=utf8mb4 PARTITION BY HASH (`id`) PARTITIONS 4;", MY)
    assert t.auto_increment_next == 17 and t.partition_by == ("HASH", ("id",))
    assert ct("CREATE TABLE `q` (`id` int NOT NULL, `AUTO_INCREMENT` int) ENGINE=InnoDB;", MY).auto_increment_next is None


def test_domain_with_a_dot_in_its_quoted_name_found_unqualified():
    """A column that names a schema-qualified domain without its schema (`"Mail.Addr"`) gets the
    domain's base type: the alias is the part after the last dot outside quotes."""
    from dumpmask.learn import _last_part
    assert _last_part('public."mail.addr"') == '"mail.addr"'
    assert _last_part('"a.b"."c.d"') == '"c.d"'
    assert _last_part("public.email") == "email" and _last_part("email") == "email"
