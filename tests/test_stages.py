"""Stages (#12): the engine runs them in their declared order, and their row filters compose
(every filter must keep a row; rows one holds back pass through the filters after it) where
the last stage's filter used to replace the others."""
from __future__ import annotations

import io
import json

from dumpmask.crypto import Key
from dumpmask.engine import RowFilters, build_engine
from dumpmask.features import stage_order
from dumpmask.features.base import Stage
from dumpmask.rules import load_rules
from conftest import TEST_KEY

KEY = Key(TEST_KEY)
DUMP = (b"-- PostgreSQL database dump\nCREATE TABLE public.t (\n    id integer NOT NULL,\n    email text\n);\n"
        b"COPY public.t (id, email) FROM stdin;\n" + b"".join(b"%d\tu%d@x.org\n" % (i, i) for i in range(1, 11)) +
        b"\\.\n")


class HoldLast:
    """Holds back every row and releases the last two (like --last 2 on a pipe)."""

    def __init__(self):
        self.rows = []

    def __call__(self, fields):
        self.rows.append(fields)
        return None

    def flush(self):
        return self.rows[-2:]


def test_two_filters_compose_in_order():
    odd = lambda fields: fields if int(fields[0]) % 2 else None   # noqa: E731
    small = lambda fields: fields if int(fields[0]) < 6 else None   # noqa: E731
    composed = RowFilters([odd, small])
    kept = [r for r in ([str(i)] for i in range(10)) if composed(r) is not None]
    assert kept == [["1"], ["3"], ["5"]]


def test_rows_held_back_pass_through_the_filters_after_it():
    even = lambda fields: fields if int(fields[0]) % 2 == 0 else None   # noqa: E731
    held = HoldLast()
    composed = RowFilters([held, even])
    assert all(composed([str(i)]) is None for i in range(1, 11))
    assert composed.flush() == [["10"]]        # 9 and 10 released; 9 is odd
    before = RowFilters([even, HoldLast()])
    assert all(before([str(i)]) is None for i in range(1, 11))
    assert before.flush() == [["8"], ["10"]]   # the even rows, then the last two of them


class KeepIds(Stage):
    """A second row filter beside partial transfer's, as a later stage (row conditions) adds."""

    def __init__(self, ids):
        self.ids = ids

    def row_filter(self, engine, state, columns, line, sql=False):
        return lambda fields: fields if int(fields[0]) in self.ids else None

    def wants_table(self, engine, state):
        return True


def test_a_stage_filter_and_partial_transfer_both_apply_in_a_run():
    rules = {"options": {"transfer": {"mode": "first", "rows": 6, "referentialIntegrity": False}},
             "tables": [{"tableName": "t", "columnMutations": [{"column": "email", "mutation": "faker.email"}]}]}
    run = build_engine(load_rules(None, json.dumps(rules).encode()), KEY)
    assert [type(s).__name__ for s in run.stages] == ["Subset"]
    run.stages.insert(0, KeepIds({2, 3, 5, 7, 8}))
    out = io.BytesIO()
    run.run(io.BytesIO(DUMP), out)
    data = out.getvalue().split(b"FROM stdin;\n", 1)[1].split(b"\\.\n", 1)[0]
    ids = [int(line.split(b"\t")[0]) for line in data.splitlines()]
    # KeepIds keeps 2, 3, 5, 7, 8; partial transfer counts the rows it sees: the first 6 of them
    assert ids == [2, 3, 5, 7, 8]
    rules["options"]["transfer"]["rows"] = 3
    run = build_engine(load_rules(None, json.dumps(rules).encode()), KEY)
    run.stages.insert(0, KeepIds({2, 3, 5, 7, 8}))
    out = io.BytesIO()
    run.run(io.BytesIO(DUMP), out)
    data = out.getvalue().split(b"FROM stdin;\n", 1)[1].split(b"\\.\n", 1)[0]
    assert [int(line.split(b"\t")[0]) for line in data.splitlines()] == [2, 3, 5]
    assert run.audit.data["tables"]["public.t"]["rows_written"] == 3


def test_stages_are_installed_in_the_declared_order(tmp_path):
    rules = {"options": {"identifierRemapping": {"enabled": True}, "transfer": {"mode": "first", "rows": 3},
                         "unlisted": "mask", "subjects": {"erase": ["t:1"]},
                         "kAnonymity": {"quasiIdentifiers": {"t": ["email"]}, "k": 2, "action": "report"}},
             "tables": [{"tableName": "t", "columnMutations": [{"column": "email", "mutation": "faker.email"},
                                                               {"column": "id", "mutation": "generalize.topcode",
                                                                "options": {"percentile": 90}}]}]}
    (tmp_path / "d.sql").write_bytes(DUMP)
    from dumpmask.verify import InJobTools

    run = build_engine(load_rules(None, json.dumps(rules).encode()), KEY, strict=True, input_path=str(tmp_path / "d.sql"),
                       verify=InJobTools())
    assert [type(s) for s in run.stages] == list(stage_order())


def test_a_run_that_fails_before_the_stages_start_still_finishes_its_audit():
    """A 3-byte input with remapping rules: the dialect cannot be told, so no stage starts; the
    audit is still written ("nothing remapped"), the error is the input's (was: AttributeError
    in the key stage's finish_audit, exit 70)."""
    import pytest

    from dumpmask.errors import DumpmaskError

    rules = {"options": {"identifierRemapping": {"enabled": True}}, "tables": []}
    run = build_engine(load_rules(None, json.dumps(rules).encode()), KEY)
    with pytest.raises(DumpmaskError, match="cannot tell whether"):
        run.run(io.BytesIO(b"PGD"), io.BytesIO())
    assert run.audit.data["status"] == "failed"
    assert run.audit.data["identifierRemapping"]["enabled"] is False
