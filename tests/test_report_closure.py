"""Subsets that keep parents (#14) in the audit and the PDF: --first N and --only add the parent
rows kept rows reference; the audit's tables[T] counts and `parents_added` (per foreign key, how
many added rows it reached) and the PDF's "Partial transfer: rows kept per table" and "Why
parent rows were added" grids, checked against an oracle of the test's own on generated dumps
(hypothesis: random references, NULLs, two foreign keys to one parent, a chain of three
tables); --only and --erase row counts per table in the PDF. PDFs read with pdftotext."""
from __future__ import annotations

import io
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dumpmask
from conftest import TEST_KEY
from test_report_cli import pdf_text


@st.composite
def graphs(draw):
    """p(id); c(id, p_id -> p, q_id -> p); g(id, c_id -> c): rows and their references."""
    n_p, n_c, n_g = draw(st.integers(3, 25)), draw(st.integers(3, 25)), draw(st.integers(3, 25))
    ref = lambda n: st.one_of(st.none(), st.integers(1, n))   # noqa: E731
    c = [(draw(ref(n_p)), draw(ref(n_p))) for _ in range(n_c)]
    g = [draw(ref(n_c)) for _ in range(n_g)]
    return n_p, c, g, draw(st.integers(1, 4))


def _dump(n_p, c, g) -> bytes:
    def v(x):
        return "\\N" if x is None else str(x)
    out = ["-- PostgreSQL database dump\n",
           "CREATE TABLE public.p (\n    id integer NOT NULL,\n    name text\n);\n\n",
           "CREATE TABLE public.c (\n    id integer NOT NULL,\n    p_id integer,\n    q_id integer\n);\n\n",
           "CREATE TABLE public.g (\n    id integer NOT NULL,\n    c_id integer\n);\n\n",
           "COPY public.p (id, name) FROM stdin;\n", *(f"{i}\tn{i}\n" for i in range(1, n_p + 1)), "\\.\n\n",
           "COPY public.c (id, p_id, q_id) FROM stdin;\n",
           *(f"{i}\t{v(a)}\t{v(b)}\n" for i, (a, b) in enumerate(c, 1)), "\\.\n\n",
           "COPY public.g (id, c_id) FROM stdin;\n", *(f"{i}\t{v(x)}\n" for i, x in enumerate(g, 1)), "\\.\n\n"]
    for t in ("p", "c", "g"):
        out.append(f"ALTER TABLE ONLY public.{t}\n    ADD CONSTRAINT {t}_pkey PRIMARY KEY (id);\n\n")
    for t, col, ref in (("c", "p_id", "p"), ("c", "q_id", "p"), ("g", "c_id", "c")):
        out.append(f"ALTER TABLE ONLY public.{t}\n    ADD CONSTRAINT {t}_{col}_fkey FOREIGN KEY ({col}) "
                   f"REFERENCES public.{ref}(id);\n\n")
    return "".join(out).encode()


def _my_dump(n_p, c, g) -> bytes:
    """The same tables as mariadb-dump writes them (foreign keys inside CREATE TABLE)."""
    def v(x):
        return "NULL" if x is None else str(x)
    fk = "  CONSTRAINT `{0}` FOREIGN KEY (`{1}`) REFERENCES `{2}` (`id`)"
    out = ["-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n",
           "CREATE TABLE `p` (\n  `id` int(11) NOT NULL,\n  `name` text DEFAULT NULL,\n  PRIMARY KEY (`id`)\n"
           ") ENGINE=InnoDB;\n",
           "CREATE TABLE `c` (\n  `id` int(11) NOT NULL,\n  `p_id` int(11) DEFAULT NULL,\n  `q_id` int(11) DEFAULT NULL,\n"
           "  PRIMARY KEY (`id`),\n" + fk.format("c_p", "p_id", "p") + ",\n" + fk.format("c_q", "q_id", "p")
           + "\n) ENGINE=InnoDB;\n",
           "CREATE TABLE `g` (\n  `id` int(11) NOT NULL,\n  `c_id` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n"
           + fk.format("g_c", "c_id", "c") + "\n) ENGINE=InnoDB;\n",
           "INSERT INTO `p` VALUES " + ",".join(f"({i},'n{i}')" for i in range(1, n_p + 1)) + ";\n",
           "INSERT INTO `c` VALUES " + ",".join(f"({i},{v(a)},{v(b)})" for i, (a, b) in enumerate(c, 1)) + ";\n",
           "INSERT INTO `g` VALUES " + ",".join(f"({i},{v(x)})" for i, x in enumerate(g, 1)) + ";\n"]
    return "".join(out).encode()


def oracle_first(n_p, c, g, n):
    """Kept rows (ids) per table for --first n, and the added rows each foreign key reaches."""
    kept_g = set(range(1, min(n, len(g)) + 1))
    sel_c = set(range(1, min(n, len(c)) + 1))
    kept_c = sel_c | {g[i - 1] for i in kept_g if g[i - 1] is not None}
    sel_p = set(range(1, min(n, n_p) + 1))
    by_p = {c[i - 1][0] for i in kept_c} - {None}
    by_q = {c[i - 1][1] for i in kept_c} - {None}
    kept_p = sel_p | by_p | by_q
    added_c = kept_c - sel_c
    why = {}
    if added_c:
        why["public.c"] = {("public.g", "c_id"): len(added_c)}
    p_rel = {k: len(s - sel_p) for k, s in ((("public.c", "p_id"), by_p), (("public.c", "q_id"), by_q)) if s - sel_p}
    if p_rel:
        why["public.p"] = p_rel
    return {"public.p": (len(sel_p), len(kept_p - sel_p)), "public.c": (len(sel_c), len(added_c)),
            "public.g": (len(kept_g), 0)}, why


def _why(audit):
    return {t: {(r["referenced_by"], r["columns"][0]): r["rows"] for r in rels}
            for t, rels in audit["parents_added"].items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.sampled_from(["postgres", "mysql"]))
def test_first_n_records_parents_added_per_table_and_why(tmp_path_factory, graph, dialect):
    n_p, c, g, n = graph
    path = tmp_path_factory.mktemp("closure") / "d.sql"
    path.write_bytes((_dump if dialect == "postgres" else _my_dump)(n_p, c, g))
    out = io.BytesIO()
    audit = dumpmask.mask(str(path), out, key=TEST_KEY, first=n, warn=lambda m: None)
    counts, why = oracle_first(n_p, c, g, n)
    if dialect == "mysql":   # (tables are named without a schema)
        counts = {t.split(".")[1]: v for t, v in counts.items()}
        why = {t.split(".")[1]: {(ch.split(".")[1], col): k for (ch, col), k in rels.items()} for t, rels in why.items()}
    for t, (sel, added) in counts.items():
        e = audit["tables"][t]
        assert (e["rows_selected"], e["rows_added_as_parents"]) == (sel, added), t
        assert e["rows_written"] == sel + added
    assert _why(audit) == why


def test_pdf_shows_rows_added_per_table_and_why(dm, tmp_path):
    n_p, c, g = 12, [(5, 6), (None, 7), (8, 8), (1, None), (9, 2)], [4, 5, 3, 3, None, 1]
    (tmp_path / "d.sql").write_bytes(_dump(n_p, c, g))
    cp = dm(tmp_path / "d.sql", "--first", "2", "-o", tmp_path / "o.sql", "--audit", tmp_path / "a.json",
            "--report", tmp_path / "r.pdf")
    assert cp.returncode == 0, cp.stderr.decode()
    audit = json.loads((tmp_path / "a.json").read_text())
    counts, why = oracle_first(n_p, c, g, 2)
    assert _why(audit) == why and why
    text = pdf_text(tmp_path / "r.pdf")
    section = text[text.index("Partial transfer: rows kept per table"):text.index("Residual risk")]
    total = sum(a for _s, a in counts.values())
    assert f"Partial transfer: rows kept per table ({total} added as parents)" in section
    for t, (sel, added) in counts.items():
        e = audit["tables"][t]
        assert re.search(rf"{re.escape(t)}\s+first 2\s+{e['rows_read']}\s+{sel}\s+{added}\s+0\s+{sel + added}\n", section), t
    grid = section[section.index("Why parent rows were added"):]
    assert "Why parent rows were added (2 tables)" in grid
    for parent, rels in why.items():
        for (child, col), n in rels.items():
            assert re.search(rf"{re.escape(parent)}\s+{re.escape(child)}\s+\({col}\) -> \(id\)\s+{n}\n", grid), (parent, child)


def test_only_lists_kept_rows_per_table_and_why_parents_were_added(dm, tmp_path):
    n_p, c, g = 6, [(2, 3), (4, None), (2, 2)], [1, 1, 2, None, 1]
    (tmp_path / "d.sql").write_bytes(_dump(n_p, c, g))
    cp = dm(tmp_path / "d.sql", "--only", "c:1", "-o", tmp_path / "o.sql", "--audit", tmp_path / "a.json",
            "--report", tmp_path / "r.pdf")
    assert cp.returncode == 0, cp.stderr.decode()
    audit = json.loads((tmp_path / "a.json").read_text())
    # the subject c 1, its descendants g 1, 2, 5, and the parents c 1 needs: p 2 (p_id), p 3 (q_id)
    assert audit["subjects"]["tables"]["public.p"] == {"kept": 2, "subjects_and_descendants": 0, "added_as_parents": 2}
    assert audit["subjects"]["tables"]["public.g"]["kept"] == 3
    assert _why(audit) == {"public.p": {("public.c", "p_id"): 1, ("public.c", "q_id"): 1}}
    text = pdf_text(tmp_path / "r.pdf")
    section = text[text.index("Rows removed or kept by row rules (mode only"):text.index("Residual risk")]
    assert re.search(r"public\.c\s+0\s+1\s+1\n", section)     # added as parents, kept, subjects and descendants
    assert re.search(r"public\.g\s+0\s+3\s+3\n", section)
    assert re.search(r"public\.p\s+2\s+2\s+0\n", section)
    assert re.search(r"public\.p\s+public\.c\s+\(p_id\) -> \(id\)\s+1\n", section)
    assert re.search(r"public\.p\s+public\.c\s+\(q_id\) -> \(id\)\s+1\n", section)
    assert "Partial transfer: rows kept per table" not in section


def test_erase_lists_rows_removed_per_table(dm, tmp_path):
    n_p, c, g = 5, [(2, 3), (4, 2), (1, 1), (None, 2)], [1, 2, 2, 3, 4, None]
    (tmp_path / "d.sql").write_bytes(_dump(n_p, c, g))
    cp = dm(tmp_path / "d.sql", "--erase", "p:2", "-o", tmp_path / "o.sql", "--audit", tmp_path / "a.json",
            "--report", tmp_path / "r.pdf")
    assert cp.returncode == 0, cp.stderr.decode()
    # p 2 goes; c 1, 2, 4 reference it (p_id or q_id); g 1, 2, 3, 5 reference those
    audit = json.loads((tmp_path / "a.json").read_text())
    assert {t: e["removed"] for t, e in audit["subjects"]["tables"].items()} == {"public.p": 1, "public.c": 3, "public.g": 4}
    assert "parents_added" not in audit
    text = pdf_text(tmp_path / "r.pdf")
    section = text[text.index("Rows removed or kept by row rules (mode erase"):text.index("Residual risk")]
    for t, n in (("p", 1), ("c", 3), ("g", 4)):
        assert re.search(rf"public\.{t}\s+{n}\n", section), t
    assert "Why parent rows were added" not in section
