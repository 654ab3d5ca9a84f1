"""The work unit (#12): mask_block(plan, block) is a pure function of a picklable plan and a
block. Every (plan, block) a real run hands to it, pickled and masked again in a fresh worker
process (spawned: nothing shared with the engine's process), gives the same bytes and counts;
and a plan pickles without the functions it caches."""
from __future__ import annotations

import io
import json
import multiprocessing
import pickle

import pytest

import dumpmask.parallel as parallel_module
from dumpmask.crypto import Key
from dumpmask.engine import build_engine
from dumpmask.rules import load_rules
from dumpmask.work import mask_block
from conftest import TEST_KEY

KEY = Key(TEST_KEY)


def _remask(payload: bytes):
    """In the worker: unpickle (plan, block), mask, pickle the result."""
    plan, block = pickle.loads(payload)
    data, counts = mask_block(plan, block)
    return pickle.dumps((data, counts))


def _recorded_run(monkeypatch, dump: bytes, rules: dict, **options):
    """Run the engine over `dump`; every (plan, block) -> (bytes, counts) that went through
    the work unit, pickled as it was sent."""
    calls = []
    real = parallel_module.mask_block

    def recording(plan, block):
        sent = pickle.dumps((plan, block))
        data, counts = real(plan, block)
        calls.append((sent, bytes(data), counts))
        return data, counts

    monkeypatch.setattr(parallel_module, "mask_block", recording)
    run = build_engine(load_rules(None, json.dumps(rules).encode()), KEY, **options)
    out = io.BytesIO()
    run.run(io.BytesIO(dump), out)
    return calls, out.getvalue()


RULES = {"options": {"identifierRemapping": {"enabled": True, "strategy": "auto"}},
         "tables": [{"tableName": "customer", "columnMutations": [
             {"column": "first_name", "mutation": "faker.firstName"},
             {"column": "last_name", "mutation": "faker.lastName"},
             {"column": "email", "mutation": "faker.email"}]},
             {"tableName": "address", "columnMutations": [
                 {"column": "phone", "mutation": "hash"},
                 {"column": "address2", "mutation": "null"},
                 {"column": "district", "mutation": "redact"}]}]}


@pytest.mark.slow
@pytest.mark.parametrize("dump", ["pagila/pg_dump-copy.sql", "pagila/pg_dump-inserts.sql",
                                  "sakila/mariadb-dump-default.sql"])
def test_every_block_masks_the_same_in_a_spawned_worker(datasets, tmp_path, monkeypatch, dump):
    path = datasets / dump
    calls, _ = _recorded_run(monkeypatch, path.read_bytes(), RULES, input_path=str(path), source=str(path))
    assert len(calls) > 10
    remapped = sum(1 for sent, _, _ in calls if b"RemapFactory" in sent)
    assert remapped, "no block went through key remapping"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(_remask, [sent for sent, _, _ in calls], chunksize=8)
    here: dict = {}
    there: dict = {}
    for (sent, data, counts), got in zip(calls, results, strict=True):
        got_data, got_counts = pickle.loads(got)
        assert bytes(got_data) == data
        assert (got_counts.rows_read, got_counts.rows_written, got_counts.changed, got_counts.nulls) == \
            (counts.rows_read, counts.rows_written, counts.changed, counts.nulls)
        # what a function observes depends on its memo (a repeat is not recomputed), so only the
        # merge over all of a plan's blocks is the same wherever they ran: the largest key written
        token = pickle.loads(sent)[0].token
        for j, (mine, theirs) in enumerate(zip(counts.observed, got_counts.observed, strict=True)):
            if mine is not None:
                here[token, j] = max(here.get((token, j), -1), mine["max"])
                there[token, j] = max(there.get((token, j), -1), theirs["max"])
    assert here and here == there


def test_a_plan_pickles_without_its_functions(monkeypatch):
    dump = (b"-- PostgreSQL database dump\nCREATE TABLE public.customer (\n    customer_id integer NOT NULL,\n"
            b"    first_name text,\n    email text\n);\n"
            b"COPY public.customer (customer_id, first_name, email) FROM stdin;\n1\tAnn\ta@x.org\n2\tBob\t\\N\n\\.\n"
            b"ALTER TABLE ONLY public.customer\n    ADD CONSTRAINT customer_pkey PRIMARY KEY (customer_id);\n")
    rules = dict(RULES, options={})
    calls, out = _recorded_run(monkeypatch, dump, rules)
    assert len(calls) == 1
    sent, data, counts = calls[0]
    plan, block = pickle.loads(sent)
    assert all(spec.factory._built is None for spec in plan.specs)   # rebuilt where it runs
    assert plan.columns == ("customer_id", "first_name", "email") and block.kind == "copy"
    assert counts.rows_read == counts.rows_written == 2
    assert counts.changed == (2, 1) and counts.nulls == (0, 1)
    again, again_counts = mask_block(plan, block)
    assert again == data and again_counts == counts and data in out
