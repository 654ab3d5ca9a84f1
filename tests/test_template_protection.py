"""A `template`'s protection class follows the columns it reads (#18): a value built from
masked columns is as protected as the weakest of them after their masking; a template that
reads a column kept in clear (no rule, `keep`, or a `where` that left rows unmasked) writes that
value again and is `kept`. Generated tables and rules through the library, checked against an
oracle of the test's own and against the output's bytes; the PDF read with pdftotext."""
from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dumpmask
from conftest import TEST_KEY
from dumpmask.rules import load_rules
from test_report_cli import pdf_text, squeeze

ORDER = ("kept", "reversible", "pseudonymised", "anonymised", "removed")   # weakest first
# the source columns' rules and the class each leaves (the oracle: docs/key.md, not the registry)
SOURCE_RULES = {
    "none": (None, "kept"),
    "keep": ({"mutation": "keep"}, "kept"),
    "faker": ({"mutation": "faker.firstName"}, "pseudonymised"),
    "hash": ({"mutation": "hash"}, "pseudonymised"),
    "static": ({"mutation": "static:Somewhere"}, "anonymised"),
    "prefix": ({"mutation": "generalize.prefix", "options": {"length": 2}}, "anonymised"),
    "null": ({"mutation": "null"}, "removed"),
    # a where that matches some rows only: the others stay in clear
    "faker-where": ({"mutation": "faker.lastName", "where": {"id": {"<=": 2}}}, "kept"),
    "faker-where-all": ({"mutation": "faker.lastName", "where": {"id": {">=": 1}}}, "pseudonymised"),
}
ROWS = 4


def weakest(classes):
    return min(classes, key=ORDER.index)


@st.composite
def scenarios(draw):
    n_src = draw(st.integers(1, 4))
    src = [draw(st.sampled_from(sorted(SOURCE_RULES))) for _ in range(n_src)]
    n_tpl = draw(st.integers(1, 3))
    tpls = []
    for i in range(n_tpl):
        # a template reads source columns and earlier templates (acyclic), maybe none
        pool = [f"s{j}" for j in range(n_src)] + [f"t{j}" for j in range(i)]
        reads = draw(st.lists(st.sampled_from(pool), max_size=3, unique=True))
        tpls.append((reads, draw(st.booleans())))
    return src, tpls


def _dump(n_src, n_tpl):
    cols = ["id"] + [f"s{j}" for j in range(n_src)] + [f"t{j}" for j in range(n_tpl)]
    ddl = "CREATE TABLE public.w (\n    id integer NOT NULL,\n" + ",\n".join(
        f"    {c} text" for c in cols[1:]) + "\n);\n\n"
    rows = "".join("\t".join([str(r)] + [f"orig{r}z{c}q" for c in cols[1:]]) + "\n" for r in range(1, ROWS + 1))
    return (ddl + f"COPY public.w ({', '.join(cols)}) FROM stdin;\n" + rows + "\\.\n\n").encode(), cols


def _rules(src, tpls):
    muts = []
    for j, name in enumerate(src):
        rule = SOURCE_RULES[name][0]
        if rule is not None:
            muts.append({"column": f"s{j}", **rule})
    for i, (reads, unique) in enumerate(tpls):
        text = "x" + "".join(f"/{{{c}}}" for c in reads) + "@example.com"
        muts.append({"column": f"t{i}", "mutation": "template", "options": {"template": text, "unique": unique}})
    return {"tables": [{"tableName": "w", "columnMutations": muts}]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_template_class_is_the_weakest_of_what_it_reads_after_masking(scenario):
    src, tpls = scenario
    dump, cols = _dump(len(src), len(tpls))
    out = io.BytesIO()
    audit = dumpmask.mask(io.BytesIO(dump), out, rules=load_rules(
        None, json.dumps(_rules(src, tpls)).encode()), key=TEST_KEY, warn=lambda m: None)
    expected = {f"s{j}": SOURCE_RULES[name][1] for j, name in enumerate(src)}
    for i, (reads, unique) in enumerate(tpls):
        expected[f"t{i}"] = weakest(["pseudonymised" if unique else "anonymised"] + [expected[c] for c in reads])
    got = audit["tables"]["public.w"]["columns"]
    for i, (reads, _u) in enumerate(tpls):
        c = f"t{i}"
        assert got[c]["protection"] == expected[c], (c, reads, src)
        assert got[c]["reads"] == {r: expected[r] for r in reads}
        assert audit["columns_detected"]["public.w"][c]["protection"] == expected[c]
    # the oracle against the bytes: a template whose class is kept writes an original value of its
    # row again; one that is not never does
    body = out.getvalue().split(b"FROM stdin;\n", 1)[1].split(b"\\.\n", 1)[0]
    repeats = set()
    for line in body.splitlines():
        row = dict(zip(cols, line.decode().split("\t"), strict=True))
        originals = [f"orig{row['id']}z{c}q" for c in cols[1:]]
        repeats |= {f"t{i}" for i in range(len(tpls)) if any(o in row[f"t{i}"] for o in originals)}
    assert repeats == {f"t{i}" for i in range(len(tpls)) if expected[f"t{i}"] == "kept"}


RULES = {"tables": [{"tableName": "p", "columnMutations": [
    {"column": "first_name", "mutation": "faker.firstName"},
    {"column": "zip", "mutation": "generalize.prefix", "options": {"length": 3}},
    {"column": "email", "mutation": "template", "options": {"template": "{first_name}.{last_name}@example.com"}},
    {"column": "login", "mutation": "template", "options": {"template": "{zip}-x"}}]}]}
DUMP = (b"CREATE TABLE public.p (\n    id integer NOT NULL,\n    first_name text,\n    last_name text,\n"
        b"    zip text,\n    email text,\n    login text\n);\n\nCOPY public.p (id, first_name, last_name, zip, email, "
        b"login) FROM stdin;\n" + b"".join(b"%d\tAnn%d\tLee%d\t%05d\ta%d@x.org\tl%d\n" % (i, i, i, 10000 + i, i, i)
                                           for i in range(1, 30)) + b"\\.\n\n")


def _cli(dm, tmp_path, rules):
    (tmp_path / "in.sql").write_bytes(DUMP)
    (tmp_path / "r.json").write_text(json.dumps(rules))
    cp = dm("-c", tmp_path / "r.json", tmp_path / "in.sql", "-o", tmp_path / "out.sql",
            "--audit", tmp_path / "a.json", "--report", tmp_path / "r.pdf")
    assert cp.returncode == 0, cp.stderr.decode()[-2000:]
    return json.loads((tmp_path / "a.json").read_text()), squeeze(pdf_text(tmp_path / "r.pdf"))


def test_pdf_names_a_template_that_repeats_a_column_kept_in_clear(dm, tmp_path):
    a, text = _cli(dm, tmp_path, RULES)
    cols = a["tables"]["public.p"]["columns"]
    assert cols["email"]["protection"] == "kept"
    assert cols["email"]["reads"] == {"first_name": "pseudonymised", "last_name": "kept"}
    assert cols["login"]["protection"] == "anonymised" and cols["login"]["reads"] == {"zip": "anonymised"}
    prot = text[text.index("Protection classes"):text.index("Residual risk")]
    assert "Templates that repeat a column kept in clear (1)" in prot
    leak = prot[prot.index("Templates that repeat"):prot.index("Protection per column")]
    assert "public.p email last_name" in leak and "login" not in leak
    grid = " ".join(prot[prot.index("Protection per column"):].split())
    assert "public.p email kept template reads first_name (pseudonymised), last_name (kept)" in grid
    assert "public.p login anonymised template reads zip (anonymised)" in grid
    # the counts per class include the derived classes: email and last_name kept
    assert "removed: 0; anonymised: 2; pseudonymised: 1; reversible with the key: 0; kept: 2" in " ".join(prot.split())


def test_pdf_template_of_masked_columns_is_as_protected_as_its_weakest_input(dm, tmp_path):
    rules = json.loads(json.dumps(RULES))
    rules["tables"][0]["columnMutations"].append({"column": "last_name", "mutation": "faker.lastName"})
    a, text = _cli(dm, tmp_path, rules)
    cols = a["tables"]["public.p"]["columns"]
    assert cols["email"]["protection"] == "pseudonymised"
    assert cols["email"]["reads"] == {"first_name": "pseudonymised", "last_name": "pseudonymised"}
    prot = text[text.index("Protection classes"):text.index("Residual risk")]
    assert "Templates that repeat a column kept in clear" not in prot
    grid = " ".join(prot[prot.index("Protection per column"):].split())
    assert "public.p email pseudonymised template reads first_name (pseudonymised), last_name (pseudonymised)" in grid
