"""Rows that follow the foreign keys (issue 14), against a model: generated schemas (chains,
self references, cycles, several keys to one table, quoted non-ASCII names) with generated
rows, written as pg_dump and mysqldump files with the data in a random table order, through
the engine; the rows written must be exactly what the model says:

  --first / --last N   the first / last N rows of each table and every row they reference,
                       transitively (no table emptied by the cut)
  --erase T:K          every row but the subject and the rows that reference it, transitively
  --only T:K           the subject, the rows that reference it (transitively) and every row
                       those reference
and every foreign key of the output holds (each non-NULL reference finds its row).
"""
from __future__ import annotations

import io
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dumpmask.crypto import Key
from dumpmask.engine import build_engine
from conftest import TEST_KEY

KEY = Key(TEST_KEY)
NAMES = ["t0", "Tä 1", "t\"2", "ż3", "t4"]


@st.composite
def schemas(draw):
    n = draw(st.integers(1, 4))
    tables = []
    for i in range(n):
        nrows = draw(st.integers(0, 7))
        ids = draw(st.permutations(list(range(1, nrows + 1))))
        fks = draw(st.lists(st.integers(0, n - 1), max_size=2))   # target tables (self and later: cycles)
        tables.append({"name": NAMES[i], "ids": ids, "fks": fks})
    for t in tables:
        rows = []
        for k in t["ids"]:
            refs = []
            for j in t["fks"]:
                target = tables[j]["ids"]
                refs.append(None if not target or draw(st.booleans()) and draw(st.booleans())
                            else draw(st.sampled_from(target)))
            rows.append((k, *refs))
        t["rows"] = rows
    order = draw(st.permutations(list(range(n))))
    return tables, order


def pg_q(name):
    return '"' + name.replace('"', '""') + '"'


def my_q(name):
    return "`" + name.replace("`", "``") + "`"


def cols_of(t):
    return ["id"] + [f"r{k}" for k in range(len(t["fks"]))]


def pg_text(tables, order) -> bytes:
    out = ["--\n-- PostgreSQL database dump\n--\n\nSET client_encoding = 'UTF8';\n\n"]
    for t in tables:
        cols = ",\n".join(f"    {c} integer" + (" NOT NULL" if c == "id" else "") for c in cols_of(t))
        out.append(f"CREATE TABLE public.{pg_q(t['name'])} (\n{cols}\n);\n\n")
    for i in order:
        t = tables[i]
        out.append(f"COPY public.{pg_q(t['name'])} ({', '.join(cols_of(t))}) FROM stdin;\n")
        out += ["\t".join(r"\N" if v is None else str(v) for v in r) + "\n" for r in t["rows"]]
        out.append("\\.\n\n")
    for i, t in enumerate(tables):
        out.append(f"ALTER TABLE ONLY public.{pg_q(t['name'])}\n    ADD CONSTRAINT pk{i} PRIMARY KEY (id);\n\n")
    for i, t in enumerate(tables):
        for k, j in enumerate(t["fks"]):
            out.append(f"ALTER TABLE ONLY public.{pg_q(t['name'])}\n    ADD CONSTRAINT fk{i}_{k} FOREIGN KEY (r{k}) "
                       f"REFERENCES public.{pg_q(tables[j]['name'])}(id);\n\n")
    out.append("--\n-- PostgreSQL database dump complete\n--\n\n")
    return "".join(out).encode()


def my_text(tables, order) -> bytes:
    out = ["-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n\n",
           "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n\n"]
    for i in order:
        t = tables[i]
        lines = [f"  `{c}` int(11) " + ("NOT NULL" if c == "id" else "DEFAULT NULL") for c in cols_of(t)]
        lines.append("  PRIMARY KEY (`id`)")
        for k, j in enumerate(t["fks"]):
            lines.append(f"  CONSTRAINT `fk{i}_{k}` FOREIGN KEY (`r{k}`) REFERENCES {my_q(tables[j]['name'])} (`id`)")
        out.append(f"CREATE TABLE {my_q(t['name'])} (\n" + ",\n".join(lines) + "\n) ENGINE=InnoDB;\n\n")
        if t["rows"]:
            out.append(f"INSERT INTO {my_q(t['name'])} VALUES "
                       + ",".join("(" + ",".join("NULL" if v is None else str(v) for v in r) + ")" for r in t["rows"])
                       + ";\n\n")
    return "".join(out).encode()


def run(tmp_path, text: bytes, **kw) -> bytes:
    p = tmp_path / "in.sql"
    p.write_bytes(text)
    engine = build_engine(None, KEY, input_path=str(p), source=str(p), **kw)
    out = io.BytesIO()
    with open(p, "rb") as fh:
        engine.run(fh, out)
    return out.getvalue()


def rows_out(out: bytes, tables, dialect) -> dict:
    got = {t["name"]: [] for t in tables}
    text = out.decode()
    for t in tables:
        if dialect == "postgres":
            m = re.search(r"^COPY public\." + re.escape(pg_q(t["name"])) + r" \([^)]*\) FROM stdin;\n(.*?)^\\\.\n",
                          text, re.M | re.S)
            lines = m.group(1).splitlines() if m else []
            got[t["name"]] = [tuple(None if f == r"\N" else int(f) for f in ln.split("\t")) for ln in lines]
        else:
            for m in re.finditer(r"^INSERT INTO " + re.escape(my_q(t["name"])) + r" VALUES (.*);$", text, re.M):
                for tup in re.findall(r"\(([^()]*)\)", m.group(1)):
                    got[t["name"]].append(tuple(None if f == "NULL" else int(f) for f in tup.split(",")))
    return got


# ------------------------------------------------------------------ the model

def parents_closure(tables, keep: dict) -> dict:
    """keep: name -> set of ids; adds every row a kept row references, transitively."""
    by = {t["name"]: {r[0]: r for r in t["rows"]} for t in tables}
    todo = [(t["name"], k) for t in tables for k in keep[t["name"]]]
    while todo:
        name, k = todo.pop()
        t = next(x for x in tables if x["name"] == name)
        for pos, j in enumerate(t["fks"]):
            v = by[name][k][1 + pos]
            pn = tables[j]["name"]
            if v is not None and v not in keep[pn]:
                keep[pn].add(v)
                todo.append((pn, v))
    return keep


def descendants(tables, name, k) -> dict:
    got = {t["name"]: set() for t in tables}
    got[name].add(k)
    todo = [(name, k)]
    while todo:
        pn, pk = todo.pop()
        for t in tables:
            for pos, j in enumerate(t["fks"]):
                if tables[j]["name"] != pn:
                    continue
                for r in t["rows"]:
                    if r[1 + pos] == pk and r[0] not in got[t["name"]]:
                        got[t["name"]].add(r[0])
                        todo.append((t["name"], r[0]))
    return got


def expected_rows(tables, keep: dict) -> dict:
    return {t["name"]: [r for r in t["rows"] if r[0] in keep[t["name"]]] for t in tables}


def assert_fks_hold(tables, got):
    for t in tables:
        for pos, j in enumerate(t["fks"]):
            ids = {r[0] for r in got[tables[j]["name"]]}
            assert all(r[1 + pos] is None or r[1 + pos] in ids for r in got[t["name"]]), (t["name"], pos)


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


@SETTINGS
@given(schemas(), st.integers(0, 4), st.sampled_from(["first", "last"]), st.sampled_from(["postgres", "mysql"]))
def test_cut_keeps_every_parent(tmp_path, schema, n, mode, dialect):
    tables, order = schema
    text = (pg_text if dialect == "postgres" else my_text)(tables, order)
    got = rows_out(run(tmp_path, text, **{mode: n}), tables, dialect)
    keep = {t["name"]: {r[0] for r in (t["rows"][:n] if mode == "first" else t["rows"][max(0, len(t["rows"]) - n):] if n else [])}
            for t in tables}
    assert got == expected_rows(tables, parents_closure(tables, keep))
    assert_fks_hold(tables, got)


@SETTINGS
@given(schemas(), st.data(), st.sampled_from(["erase", "only"]), st.sampled_from(["postgres", "mysql"]))
def test_erase_and_only(tmp_path, schema, data, mode, dialect):
    tables, order = schema
    with_rows = [t for t in tables if t["rows"]]
    if not with_rows:
        return
    t = data.draw(st.sampled_from(with_rows))
    k = data.draw(st.sampled_from(t["ids"]))
    text = (pg_text if dialect == "postgres" else my_text)(tables, order)
    subject = (pg_q(t["name"]) if dialect == "postgres" else my_q(t["name"])) + f":{k}"
    got = rows_out(run(tmp_path, text, **{mode: [subject]}), tables, dialect)
    desc = descendants(tables, t["name"], k)
    if mode == "erase":
        keep = {x["name"]: {r[0] for r in x["rows"]} - desc[x["name"]] for x in tables}
    else:
        keep = parents_closure(tables, desc)
    assert got == expected_rows(tables, keep)
    assert_fks_hold(tables, got)
