"""The fast paths give the results of the general ones, byte for byte.

- Email / userName `ascii_fast` (bytes in, bytes out) == make() on the decoded value, for every
  column length (the local part is shortened differently as varchar(n) shrinks).
- The generated row loop (dialects.base.row_masker) and the span loop (span_masker) == the
  per-field loop they replace: same output and the same changed / NULL counts.
- A COPY block masked through the chunked path == the same block with CRLF line ends (which
  takes the row-by-row path), once the line ends are normalised.
"""
from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumpmask.crypto import Key
from dumpmask.dialects.base import UNCHANGED, row_masker, span_masker
from dumpmask.dialects.fast import splice
from dumpmask.schema import classify
from dumpmask.transformers import get
from conftest import TEST_KEY

KEY = Key(TEST_KEY)
ASCII = st.text(alphabet=string.printable.replace("\\", ""), max_size=60)


def _col(t):
    c = classify(t)
    c.name = "c"
    return c


@pytest.mark.parametrize("name", ["faker.email", "faker.userName"])
@pytest.mark.parametrize("ctype", ["text", "varchar(80)", "varchar(50)", "varchar(40)", "varchar(30)",
                                   "varchar(27)", "varchar(26)", "varchar(20)", "varchar(15)", "varchar(14)",
                                   "varchar(8)"])
@settings(max_examples=150, deadline=None)
@given(value=ASCII)
def test_ascii_fast_is_make_on_bytes(name, ctype, value):
    t = get(name)(KEY, {}, _col(ctype))
    fast = t.ascii_fast(value.encode("ascii"))
    slow = t(value)
    assert fast == slow.encode("ascii")
    assert t.uncached(value).encode("ascii") == fast
    # needs no escaping anywhere: COPY text, MySQL and PostgreSQL string literals
    assert not set(fast.decode()) & set("\\'\"\t\n\r")


def _reference(rows, idxs, caches, misses, null):
    """The per-field loop of the row-by-row path."""
    out, counts = [], [0] * (2 * len(idxs))
    for line in rows:
        f = line.split(b"\t")
        for j, i in enumerate(idxs):
            raw = f[i]
            v = caches[j].get(raw)
            if v is None:
                v = misses[j](raw)
            if v is UNCHANGED:
                counts[2 * j + 1] += raw == null
            else:
                f[i] = v
                counts[2 * j] += 1
                counts[2 * j + 1] += v is null
        out.append(b"\t".join(f))
    return out, tuple(counts)


NULL = b"\\N"


def _miss_fn(cache, mode):
    def miss(raw):
        if mode == "upper":
            r = raw.upper() if raw != NULL else UNCHANGED
        elif mode == "null":
            r = NULL
        elif mode == "keep":
            r = UNCHANGED
        else:   # static, NULL included
            r = b"S"
        if r is not UNCHANGED and r == raw:
            r = UNCHANGED
        cache[raw] = r
        return r
    return miss


FIELD = st.sampled_from([b"a", b"b", b"B", b"\\N", b"", b"xyz", b"\\\\t"])


@settings(max_examples=300, deadline=None)
@given(data=st.data(), ncols=st.integers(1, 6))
def test_row_masker_equals_the_per_field_loop(data, ncols):
    idxs = tuple(sorted(data.draw(st.sets(st.integers(0, ncols - 1), min_size=1))))
    rows = [b"\t".join(data.draw(st.lists(FIELD, min_size=ncols, max_size=ncols))) for _ in range(data.draw(st.integers(0, 12)))]
    modes = [data.draw(st.sampled_from(["upper", "null", "keep", "static"])) for _ in idxs]
    c1 = [{} for _ in idxs]
    c2 = [{} for _ in idxs]
    ref = _reference(rows, idxs, c1, [_miss_fn(c, m) for c, m in zip(c1, modes)], NULL)
    out, bad, counts = row_masker(ncols, idxs)(rows, c2, [_miss_fn(c, m) for c, m in zip(c2, modes)], UNCHANGED, NULL)
    assert bad == -1
    assert (out, counts) == ref


def test_row_masker_reports_the_first_row_with_a_wrong_field_count():
    rows = [b"a\tb", b"c\td", b"e", b"f\tg"]
    out, bad, counts = row_masker(2, (1,))(rows, [{}], [lambda r: r + b"!"], UNCHANGED, NULL)
    assert bad == 2
    assert out == [b"a\tb!", b"c\td!"] and counts == (2, 0)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), k=st.integers(1, 4))
def test_span_masker_and_splice_equal_the_per_field_loop(data, k):
    nrows = data.draw(st.integers(0, 8))
    values = [[data.draw(st.sampled_from([b"'a'", b"NULL", b"'b'", b"7", b"''"])) for _ in range(k)] for _ in range(nrows)]
    raw = b""
    spans = []
    for row in values:
        raw += b"("
        for j, v in enumerate(row):
            if j:
                raw += b",x,"
            spans += [len(raw), len(raw) + len(v)]
            raw += v
        raw += b"),"
    modes = [data.draw(st.sampled_from(["upper", "null", "keep", "static"])) for _ in range(k)]

    def miss_fn(cache, mode):
        def miss(r):
            out = {"upper": r.upper() if r != b"NULL" else UNCHANGED, "null": b"NULL", "keep": UNCHANGED, "static": b"'S'"}[mode]
            if out is not UNCHANGED and out == r:
                out = UNCHANGED
            cache[r] = out
            return out
        return miss

    caches = [{} for _ in range(k)]
    repl, counts = span_masker(k)(raw, spans, caches, [miss_fn(c, m) for c, m in zip(caches, modes)], UNCHANGED, b"NULL")
    # reference: row by row
    exp_rows, exp_counts = [], [0] * (2 * k)
    rc = [{} for _ in range(k)]
    rm = [miss_fn(c, m) for c, m in zip(rc, modes)]
    for row in values:
        new = []
        for j, v in enumerate(row):
            r = rc[j].get(v)
            if r is None:
                r = rm[j](v)
            if r is UNCHANGED:
                exp_counts[2 * j + 1] += v == b"NULL"
                new.append(v)
            else:
                exp_counts[2 * j] += 1
                exp_counts[2 * j + 1] += r == b"NULL"
                new.append(r)
        exp_rows.append(b"(" + b",x,".join(new) + b"),")
    assert splice(raw, spans, repl) == b"".join(exp_rows)
    assert counts == tuple(exp_counts)


# ------------------------------------------------------------- the whole engine, C and pure Python

def _bench_dump(dialect: str, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    out = tmp_path / f"{dialect}.sql"
    subprocess.run([sys.executable, str(repo / "bench" / "gen.py"), "--dialect", dialect, "--size", "3MB", "-o", str(out)],
                   check=True, capture_output=True)
    return out, repo / "bench"


@pytest.mark.parametrize("dialect", ["mysql", "pg"])
@pytest.mark.parametrize("rules", ["rules-empty.json", "rules-3faker.json", "rules-keys.json"])
def test_accelerated_and_pure_python_runs_write_the_same_bytes(dm, tmp_path, dialect, rules):
    """The C scanners (MySQL) and the pure-Python fallback give byte-identical dumps and audits'
    counts, on the benchmark's generated dumps (quotes, backslashes, NULs, unicode, one row per
    line); with the empty rules both equal the input."""
    import json

    src, bench = _bench_dump(dialect, tmp_path)
    outs = {}
    for pure in ("0", "1"):
        audit = tmp_path / f"a{pure}.json"
        cp = dm("-q", "-c", bench / rules, "--audit", audit, src, env={"DUMPMASK_PURE": pure})
        assert cp.returncode == 0, cp.stderr.decode()[-2000:]
        outs[pure] = (cp.stdout, json.loads(audit.read_bytes())["tables"])
    assert outs["0"] == outs["1"]
    if rules == "rules-empty.json":
        assert outs["0"][0] == src.read_bytes()
    else:
        assert outs["0"][0] != src.read_bytes()


@pytest.mark.parametrize("dump, rules", [("sakila/mariadb-dump-default.sql", "sakila-pii.json"),
                                         ("sakila/mariadb-dump-hex-blob.sql", "sakila-keys.json"),
                                         ("pagila/pg_dump-copy.sql", "pagila-pii.json"),
                                         ("pagila/pg_dump-copy.sql", "pagila-keys.json")])
def test_accelerated_and_pure_python_agree_on_the_sample_databases(dm, datasets, tmp_path, dump, rules):
    import json

    src = datasets / dump
    rules_path = datasets.parent / "checks" / "rules" / rules
    outs = {}
    for pure in ("0", "1"):
        audit = tmp_path / f"a{pure}.json"
        cp = dm("-q", "-c", rules_path, "--audit", audit, src, env={"DUMPMASK_PURE": pure})
        assert cp.returncode == 0, cp.stderr.decode()[-2000:]
        outs[pure] = (cp.stdout, json.loads(audit.read_bytes())["tables"])
    assert outs["0"] == outs["1"]
    assert outs["0"][0] != src.read_bytes()
