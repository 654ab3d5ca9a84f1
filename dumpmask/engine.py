"""The engine owns the loop: bytes -> events -> plans -> masked blocks -> bytes.

A dialect's lexer turns the input into events (statements, COPY data, INSERTs); the engine
learns the schema from the DDL among them (learn.py), builds one plan per table and data
column list (work.TablePlan: rules resolved, with what the stages add), runs the stages
(features/: detection, key remapping, partial transfer, in their declared order; their row
filters compose), hands each block of rows to the work unit (work.mask_block) and writes
the results in input order, filling the audit on the way. Untouched statements and rows are
copied as bytes.
"""
from __future__ import annotations

import io
import itertools
import os
import stat

from dumpmask.audit import Audit, ColumnStats, HashingReader, HashingWriter
from dumpmask.crypto import Key, as_key
from dumpmask.dialects import get_dialect, peek_dialect
from dumpmask.dialects.base import Block, LineReader, counted_lines, rows_of, tuple_lines
from dumpmask.dialects.fast import copy_spans, tuple_spans
from dumpmask.errors import DumpmaskError, DumpSyntaxError, MaskingError, RulesError, StrictError
from dumpmask.idents import display_name, qualname_text, quote
from dumpmask.learn import LEARNERS
from dumpmask.memory import Budget, LineLimit
from dumpmask.parallel import Output, ParallelOutput
from dumpmask.progress import Progress
from dumpmask.speedups import count_nl, keep_heap
from dumpmask.rules import RuleSet
from dumpmask.schema import Column, TableSchema
from dumpmask.work import ColumnSpec, DataBlock, MutationFactory, TablePlan, keep_built

POISON = b"\n-- dumpmask: the input was invalid or masking failed; this line makes the restore fail.\nDUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;\n"
CACHE_MAX = 200_000
_NOT_IDENTIFIER_KINDS = frozenset({"date", "timestamp", "time", "bool", "year", "interval", "bit"})  # in a key, not an id


class ColumnPlan:
    """One masked position of a data column list, engine side: the work unit's ColumnSpec and
    the audit's ColumnStats it counts into."""

    __slots__ = ("spec", "stats")

    def __init__(self, spec: ColumnSpec, stats: ColumnStats):
        self.spec, self.stats = spec, stats

    @property
    def index(self) -> int:
        return self.spec.index

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def transformer(self):
        return self.spec.factory.build()

    value_fn = transformer     # str | None -> str | None (preview shows what it gives)


class PlannedTable:
    """A table's plan for one data column list (what mask_block needs) and, beside it, what
    the engine adds its counts into."""

    __slots__ = ("plan", "columns", "verify_sink")

    def __init__(self, plan: TablePlan, columns: list[ColumnPlan]):
        self.plan, self.columns = plan, columns
        self.verify_sink = None   # --verify on a pipe: takes each block's samples (features/verification.py)

    def __iter__(self):
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def merge(self, counts) -> None:
        """A block's counts (work.BlockCounts) into the audit and the stages' state."""
        for j, entry in enumerate(self.columns):
            entry.stats.changed += counts.changed[j]
            entry.stats.nulls += counts.nulls[j]
            observed = counts.observed[j]
            if observed is not None:
                entry.spec.factory.merge(observed)
            if counts.matched and entry.spec.condition is not None:
                entry.stats.extra["rows_matched"] += counts.matched[j]
        if counts.verify is not None and self.verify_sink is not None:
            self.verify_sink(self.plan, counts.verify)


class RowFilters:
    """The stages' row filters of one data statement, composed in the stages' order: a row
    goes on while each filter returns it (None drops it). A filter with flush() holds rows
    back (the last N rows); what it releases at the end goes through the filters after it."""

    def __init__(self, filters: list):
        self.filters = filters
        self.holds = any(hasattr(f, "flush") for f in filters)

    def __call__(self, fields):
        for f in self.filters:
            fields = f(fields)
            if fields is None:
                return None
        return fields

    @property
    def across(self):
        """A filter's `across` holder (rows held back over several COPY blocks: --last N of a
        partitioned table on a pipe), or None: the block is then written where the holder
        releases it (Engine.release_held), not in place."""
        for f in self.filters:
            holder = getattr(f, "across", None)
            if holder is not None:
                return holder
        return None

    @property
    def take(self):
        """take(nrows) -> the offsets kept among the next nrows rows, when the only filter keeps
        rows by their position (partial transfer from a file): no fields needed. Else None."""
        return getattr(self.filters[0], "take", None) if len(self.filters) == 1 else None

    def flush(self) -> list:
        pending: list = []
        for f in self.filters:
            pending = [r for r in map(f, pending) if r is not None]
            if hasattr(f, "flush"):
                pending += f.flush()
        return pending


class WrittenRows:
    """Which input rows of each table the row filters let through (--verify on a file: the leak
    check pairs an original row with the row it became in the output, whatever --first, --last,
    --erase, --only or a drop rule removed). Per table (display name): one byte per input row
    of its data statements that went through row filters, in order (1: written). A table whose
    rows went through a filter that holds rows back, or partly through no filter, is `unknown`:
    its rows cannot be paired (verify says so). Memory: one byte per input row of a filtered
    table (10 MB for 10 million rows)."""

    __slots__ = ("flags", "unknown", "budget", "total")

    def __init__(self, budget: Budget | None = None):
        self.flags: dict = {}
        self.unknown: set = set()
        self.budget = budget      # --max-memory: the record stays within its share ("record")
        self.total = 0

    def add(self, key, nrows: int, kept) -> None:
        self.total += nrows
        share = self.budget.share("record") if self.budget is not None else None
        if share is not None and self.total > share:
            self.budget.fail("record", self.total, where=_qual(key), at_least=True,
                             hint="or run dumpmask verify on the output after the masking run")
        f = self.flags.setdefault(_qual(key), bytearray())
        n0 = len(f)
        f.extend(bytes(nrows))
        for k in kept:
            f[n0 + k] = 1

    def unpaired(self, key) -> None:
        self.unknown.add(_qual(key))

    def filtered(self, key) -> None:
        """A statement of a table with no row filter: fine unless an earlier one had one."""
        if _qual(key) in self.flags:
            self.unknown.add(_qual(key))


class TableState:
    __slots__ = ("key", "schema", "rules", "plans", "stats", "remap", "checked", "plans_used")

    def __init__(self, key):
        self.key = key            # (schema, name)
        self.schema: TableSchema | None = None
        self.rules = None         # list[TableRule], resolved lazily
        self.plans: dict = {}
        self.stats = None
        self.remap: dict = {}     # column -> remapper (issue: identifier remapping)
        self.checked = False
        self.plans_used = False   # a data statement went through build_plan


_qual = display_name


class Engine:
    def __init__(self, rules: RuleSet | None = None, key: Key | None = None, dialect: str | None = None,
                 source: str = "<stdin>", strict: bool = False, progress: bool = False, warn=None,
                 input_path: str | None = None, schema_path: str | None = None, template: str | None = None,
                 transfer: dict | None = None, output_name: str = "-", jobs: int = 1, cluster: str | None = None,
                 cluster_timeout: float | None = None):
        self.rules = rules or RuleSet()
        self.jobs = jobs          # worker processes for the data blocks (parallel.jobs_count)
        self.cluster = cluster    # a Dask scheduler's address: the data blocks go to its workers (cluster.py)
        self.cluster_timeout = cluster_timeout
        self.output = None        # parallel.Output: where blocks are masked and results written, in order
        self.key = key or Key.random()
        self.dialect_name = dialect
        self.source = source
        self.strict = strict
        self.progress = progress
        self.warn_cb = warn
        self.input_path = input_path
        self.schema_path = schema_path
        self.template = template
        self.transfer = transfer
        self.output_name = output_name
        self.audit = Audit()
        self.tables: dict[tuple, TableState] = {}
        self.domains: dict[str, str] = {}
        self.sequence_values: dict[str, int] = {}   # sequence name -> last value (pg setval seen in a pre-pass)
        self.domain_checks: dict[str, str] = {}     # domain name (lower case) -> its CHECK expressions
        self.stages = []          # features.Stage objects, in their declared order (features.install)
        self.dialect = None       # the dialect object (set_dialect), once the input's first bytes are read
        self.learner = None
        self.data_tables: dict = {}   # table key -> line of its first data statement (seen in a pre-pass)

    # ------------------------------------------------------------------ helpers
    def warn(self, msg: str) -> None:
        self.audit.warn(msg, self.warn_cb)

    def rewritten(self, st) -> bytes:
        """A passed-through statement as it is written: extensions may replace it (setval,
        AUTO_INCREMENT after remapped ids)."""
        raw = st.raw
        for stage in self.stages:
            hook = getattr(stage, "rewrite_statement", None)
            if hook is not None:
                new = hook(self, st)
                if new is not None:
                    raw = new
        return raw

    def table_state(self, key) -> TableState:
        state = self.tables.get(key)
        if state is None:
            # a table first seen unqualified may later be seen qualified (and vice versa); the
            # keys by bare name, so that a schema of thousands of tables stays linear
            by = self.__dict__.get("_by_name")
            if by is None or self._by_name_of != (id(self.tables), len(self.tables)):
                by = self._by_name = {}
                for k in self.tables:
                    by.setdefault(k[1], []).append(k)
                self._by_name_of = (id(self.tables), len(self.tables))
            for k in by.get(key[1], ()):
                v = self.tables.get(k)
                if v is not None and (k[0] is None or key[0] is None) and self.dialect.same_name(k[1], key[1]):
                    return v
            state = self.tables[key] = TableState(key)
            by.setdefault(key[1], []).append(key)
            self._by_name_of = (id(self.tables), len(self.tables))
        return state

    def table_rules(self, state: TableState):
        """The rules of a table, including its partitioned parent's: pg_dump writes a partitioned
        table's data per partition, and a rule naming the parent must reach those rows."""
        if state.rules is None:
            rules = self.rules.for_table(state.key[0], state.key[1], self.dialect.name)
            parent = state.schema.partition_of if state.schema is not None else None
            if parent and parent != state.key:
                rules = rules + [r for r in self.table_rules(self.table_state(parent)) if r not in rules]
            state.rules = rules
            for r in rules:
                r.matched = True
        return state.rules

    # ------------------------------------------------------------------ plans
    def build_plan(self, state: TableState, columns: list[str], line: int | None) -> PlannedTable:
        """For a column list as the data statement gives it: which positions get which function."""
        cache_key = tuple(columns)
        planned = state.plans.get(cache_key)
        if planned is not None:
            state.plans_used = True
            return planned
        plan = []
        rules = self.table_rules(state)
        qual = _qual(state.key)
        used = set()
        pg = self.dialect.name == "postgres"
        for tr in rules:
            for cr in tr.columns:
                idx = None
                for i, c in enumerate(columns):
                    if cr.column.name == c if (cr.column.name_quoted and pg) else self.dialect.col_eq(cr.column.name, c):
                        idx = i
                        break
                if idx is None:
                    self._rule_without_column(state, cr, qual)
                    continue
                cr.matched = True
                if idx in used:
                    raise RulesError(f"two rules for column {columns[idx]!r} of {qual}", self.rules.path, cr.where)
                used.add(idx)
                col = (state.schema.column(columns[idx]) if state.schema else None) or Column(name=columns[idx], kind="other")
                p = self.make_column_plan(state, idx, col, cr)
                if cr.condition is not None:
                    p.spec.condition = self.row_condition(state, cr, columns)
                    p.stats.extra.setdefault("where", p.spec.condition.text)
                    p.stats.extra.setdefault("rows_matched", 0)
                plan.append(p)
        for stage in self.stages:
            plan = stage.extend_plan(self, state, columns, plan)
        plan.sort(key=lambda p: p.index)
        self.template_reads(state, columns, plan)
        planned = state.plans[cache_key] = PlannedTable(
            TablePlan(self.dialect.name, qual, self.source, tuple(columns), tuple(p.spec for p in plan)), plan)
        for stage in self.stages:
            hook = getattr(stage, "checked_plan", None)   # --verify on a pipe: the blocks are checked (sample)
            if hook is not None:
                hook(self, state, planned)
        keep_built(planned.plan)
        state.plans_used = True
        return planned

    def row_condition(self, state: TableState, cr, columns):
        """A rule's row condition compiled for this table (conditions.py): its columns resolved
        against the data columns and its literals checked against their types (RulesError,
        exit 2, before the table's data)."""
        from dumpmask.conditions import compile_condition

        where = f"{cr.where}.where"
        cond = compile_condition(cr.condition, state.schema if state.schema is not None and state.schema.columns else None,
                                 self.dialect.name, where, self.rules.path, columns=columns)
        absent = [c for c in cond.columns if c not in columns]
        if absent:
            raise RulesError(f"{_qual(state.key)}: the condition reads {', '.join(absent)}, which the dump's data does "
                             "not hold (a generated column)", self.rules.path, where)
        return cond

    def template_reads(self, state: TableState, columns, plan) -> None:
        """Each `template` rule's columns resolved to data positions (spec.template: ((name as
        written, index), ...)); an unknown column or a cycle of templates reading each other is
        a RulesError (exit 2, before the table's data). The work unit evaluates them in
        dependency order (work.template_order)."""
        from dumpmask.transformers.templates import Template

        qual = _qual(state.key)
        templates = {}
        for p in plan:
            t = p.transformer
            if type(t) is not Template:
                continue
            reads = []
            for name in t.reads:
                idx = next((i for i, c in enumerate(columns) if self.dialect.col_eq(name, c)), None)
                if idx is None:
                    raise RulesError(f"{qual}.{p.name}: the template reads {name!r}, which the table's data does not "
                                     "have", self.rules.path, self._rule_where(state, p.name))
                reads.append((name, idx))
            p.spec.template = tuple(reads)
            p.stats.reads = tuple(dict.fromkeys(columns[i] for _n, i in reads))   # its class follows them (audit)
            templates[p.index] = p
        from dumpmask.work import template_order

        try:
            template_order([p.spec for p in templates.values()])
        except ValueError as e:
            cycle = " -> ".join(columns[i] for i in e.args[0])
            raise RulesError(f"{qual}: templates read each other in a cycle ({cycle})", self.rules.path,
                             self._rule_where(state, columns[e.args[0][0]])) from None

    def _rule_where(self, state: TableState, column: str) -> str | None:
        for tr in self.table_rules(state):
            for cr in tr.columns:
                if self.dialect.col_eq(cr.column.name, column):
                    return cr.where
        return None

    @staticmethod
    def column_plan(spec: ColumnSpec, stats: ColumnStats) -> ColumnPlan:
        """A stage's masked position (extend_plan): the work unit's spec and the audit's stats."""
        return ColumnPlan(spec, stats)

    def _rule_without_column(self, state: TableState, cr, qual: str) -> None:
        col = state.schema.column(cr.column.name) if state.schema else None
        if col is None and state.schema is not None:
            # the same name but for case or quoting: a misspelling whose column would pass in clear
            loose = _loose_name(cr.column.text or cr.column.name)
            near = [c.name for c in state.schema.columns if _loose_name(c.name) == loose and not c.generated]
            if near:
                raise RulesError(f"the column rule's name, {cr.column.text or cr.column.name}, is not a column of {qual}, "
                                 f"but {near[0]} is, and its values would pass in clear: write it as "
                                 f"{quote(near[0], self.dialect.name)}", self.rules.path, cr.where)
        why = "a generated column (not in the dump's data)" if col is not None and col.generated else "no such column in the dump"
        msg = f"rule {cr.where} ({cr.column.text or cr.column.name}): {qual} has {why}"
        if self.strict:
            raise StrictError(f"{self.rules.path or 'rules'}: {msg} (--strict)")
        self.warn(msg)
        self.audit.data["unmatched_rules"].append({"table": qual, "column": cr.column.name, "where": cr.where, "message": msg})
        cr.matched = True  # reported once here, not again at the end

    def make_column_plan(self, state: TableState, idx: int, col: Column, cr) -> ColumnPlan:
        """A rule's mutation on column `col` at data position `idx`: the transformer built and
        checked against the column (its type, the dump's domains and enums, the table's unique
        constraints: RulesError, exit 2, before any output), its parameters as a ColumnSpec."""
        from dumpmask.schema import unique_constraint_of
        from dumpmask.transformers import target_column, uniqueness_error
        from dumpmask.transformers.arrays import ElementWise, delimiter_for, element_type

        dialect = self.dialect.name
        col = self.resolve_column(col)
        tcol = target_column(cr.cls, col, self.resolve_type)
        try:
            t = cr.cls(self.key, cr.options, tcol, cr.argument)
            t.bind_dialect(dialect)
            warnings = t.check(tcol) or []
            u = unique_constraint_of(state.schema, col.name) if state.schema is not None else None
            if u:
                err = uniqueness_error(cr.cls, col, u, dialect, cr.options)
                if err:
                    raise RulesError(err)
        except RulesError as e:
            raise RulesError(f"{_qual(state.key)}.{col.name}: {str(e).split(': ', 1)[-1] if e.where else e}", self.rules.path, cr.where) from None
        for w in warnings:
            self.warn(f"{_qual(state.key)}.{col.name}: {w}")
        delimiter = None
        where = f"{_qual(state.key)}.{col.name}"
        if tcol is not col:
            delimiter = delimiter_for(element_type(col.type))
            t = ElementWise(t, delimiter, where=where)
        if cr.cls.protection is None:
            self.warn(f"{where}: mutation {cr.cls.name} declares no protection class: reported as kept")
        stats = self.audit.table(_qual(state.key)).columns.setdefault(
            col.name, ColumnStats(cr.mutation, getattr(cr, "category", None), protection=cr.cls.protection_of(cr.options, cr.argument)))
        factory = MutationFactory(cr.cls, self.key, cr.options, tcol, cr.argument, dialect, delimiter, where, built=t)
        return ColumnPlan(ColumnSpec(idx, col.name, col.kind, cr.mutation, factory), stats)

    # ------------------------------------------------------------------ column types
    def resolve_type(self, type_text: str) -> Column:
        """A type as a column of the dump declares it -> Column, with the dump's enums and
        domains resolved (a domain's CHECK kept in domain_check, an integer range CHECK
        narrowing int_min/int_max)."""
        from dumpmask.schema import classify, domain_enum_values, domain_int_range, unquote_type

        key = " ".join(type_text.lower().split())
        c = classify(self.domains.get(key, type_text))
        c.type = " ".join(unquote_type(type_text).lower().split())
        chk = self.domain_checks.get(key)
        if chk:
            r = domain_int_range(chk) if c.kind == "int" else None
            labels = domain_enum_values(chk) if r is None and c.kind == "text" else None
            if labels:
                c.kind, c.enum_values = "enum", labels   # a text domain that takes a list of values
            elif r is not None:
                lo, hi = r
                if lo is not None:
                    c.int_min = lo if c.int_min is None else max(c.int_min, lo)
                if hi is not None:
                    c.int_max = hi if c.int_max is None else min(c.int_max, hi)
            else:
                c.domain_check = chk
        return c

    def resolve_column(self, col: Column) -> Column:
        """`col` with its domain's CHECK applied (see resolve_type); the same object when its
        type is no domain with a CHECK."""
        import copy as _copy

        key = " ".join((col.type or "").lower().split())
        if not key or key not in self.domain_checks:
            return col
        r = self.resolve_type(col.type)
        c = _copy.copy(col)
        c.int_min, c.int_max, c.domain_check = r.int_min, r.int_max, r.domain_check
        if r.kind == "enum" and col.kind == "text":
            c.kind, c.enum_values = r.kind, r.enum_values
        return c

    def rule_error(self, state: TableState, column: str, mutation: str, options: dict | None = None) -> str | None:
        """The error a rule {"column", "mutation", "options"} on `column` of `state` would stop the
        run with (exit 2), or None when its values restore: the dump's enums and domains, array
        elements, and the table's PRIMARY KEY / UNIQUE constraints / unique indexes taken into
        account (the same checks as make_column_plan). For scan --write-rules and templates."""
        from dumpmask.transformers import valid_for

        col = state.schema.column(column) if state.schema is not None else None
        if col is None:
            col = Column(name=column, kind="other")
        return valid_for(mutation, options, self.resolve_column(col), dialect=self.dialect.name,
                         resolve=self.resolve_type, table=state.schema)

    def unique_learned(self, state: TableState, cols: tuple, line: int | None) -> None:
        """A PRIMARY KEY / UNIQUE constraint / unique index on `cols` was just read. Before the
        table's data: plans are rebuilt (and checked) when the data comes. After it (a dump on
        a pipe, without --schema: pg_dump writes these after the data): a non-injective rule
        on one of `cols` has already written values that may collide, so the run fails here."""
        from dumpmask.schema import unique_constraint_of
        from dumpmask.transformers import uniqueness_error

        if not state.plans_used:
            state.plans.clear()
            return
        seen = set()
        for planned in state.plans.values():
            for p in planned.columns:
                t = p.transformer
                inner = getattr(t, "inner", t)
                cls = type(inner)
                if p.name not in cols or p.name in seen or not hasattr(cls, "injective_for") or \
                        cls.injective_for(getattr(inner, "column", None) or Column(name=p.name), getattr(inner, "options", None)) is None:
                    continue
                seen.add(p.name)
                where = None
                for tr in self.table_rules(state):
                    for cr in tr.columns:
                        if cr.cls is cls and self.dialect.col_eq(cr.column.name, p.name):
                            where = cr.where
                col = state.schema.column(p.name) or Column(name=p.name)
                err = uniqueness_error(cls, col, unique_constraint_of(state.schema, p.name) or "a unique constraint",
                                       self.dialect.name, getattr(inner, "options", None))
                head, _, alts = err.rpartition("; use one of ")
                raise RulesError(f"{_qual(state.key)}.{p.name}: {head}; the constraint comes after the table's data "
                                 f"({self.source}:{line}), which was already written: give the dump as a file or pass "
                                 "--schema FILE (pg_dump --schema-only) so that this is known before any output; "
                                 f"use one of {alts}", self.rules.path, where)

    def check_all_rules_early(self) -> None:
        """With the whole schema known before the data (a file's pre-pass, --schema), every
        table's rules are checked before the first byte of output."""
        for state in list(self.tables.values()):
            if state.schema is not None and state.schema.columns:
                self.check_table_rules_early(state, state.schema.line)
        self.refuse_misspelled_rules()

    def refuse_misspelled_rules(self) -> None:
        """A table rule that names no table of the dump while a table of the dump has the same
        name but for case or quoting (`Customer` against PostgreSQL's "Customer", `Kunden `Liste``
        against MySQL's `Kunden ``Liste```) is a misspelling whose table would flow through in
        clear: an error (RulesError, exit 2), never the warning an absent table gets. Called when
        the schema is complete (before any output) and at the end of the run (a pipe: the output
        then ends with the failure, and its restore fails)."""
        seen = {}
        for state in self.tables.values():
            if state.schema is not None or state.plans_used:
                seen.setdefault(_loose_name(display_name(state.key)), state.key)
                seen.setdefault(_loose_name(state.key[1]), state.key)
        for tr in self.rules.tables:
            if tr.matched:
                continue
            key = seen.get(_loose_name(tr.table.text))
            if key is None:
                continue
            exact = qualname_text(key[0], key[1], self.dialect.name)
            how = ("unquoted names fold to lower case, a double-quoted one is exact" if self.dialect.name == "postgres"
                   else "backticks quote a name, a backtick inside it is written twice")
            raise RulesError(f"the table rule's name, {tr.table.text}, names no table of the dump, but the dump has "
                             f"{display_name(key)}, whose data would pass in clear ({how}): write it as {exact}",
                             self.rules.path, tr.where)

    def data_columns(self, state: TableState, stmt_cols, line) -> list[str]:
        if stmt_cols is not None:
            return stmt_cols
        if state.schema is None:
            raise DumpSyntaxError(f"data for {_qual(state.key)} has no column list and no CREATE TABLE was seen before it: "
                                  "cannot tell which value is which column (a data-only dump: pass --schema FILE with "
                                  "a schema-only dump, or dump with column lists: pg_dump --column-inserts, "
                                  "mysqldump --complete-insert)", line, self.source)
        return state.schema.data_columns()

    def check_table_rules_early(self, state: TableState, line: int | None) -> None:
        """Validate the rules of a table as soon as its CREATE TABLE is seen (before its data)."""
        if state.schema is None or not self.table_rules(state):
            return
        used = state.plans_used
        self.build_plan(state, state.schema.data_columns(), line)
        state.plans_used = used  # a check, not data

    # ------------------------------------------------------------------ run
    def run(self, src, dst) -> dict:
        audit = self.audit
        a = audit.data
        a["input"]["name"] = self.source
        a["output"]["name"] = self.output_name
        a["key"] = self.key.audit_entry()
        a["reproducible"] = not self.key.ephemeral
        if self.key.ephemeral:
            self.warn("no key given (DUMPMASK_KEY or --key-file): a random per-run key was used; this run is not reproducible")
        a["rules"] = {"file": self.rules.path, "sha256": self.rules.sha256}
        a["options"] = {"strict": self.strict, "template": self.template,
                        "identifierRemapping": self.rules.remapping, "transfer": self.transfer or self.rules.transfer}
        # what identifier remapping did (features.keys fills it in when it runs)
        a["identifierRemapping"] = {"enabled": False, "requested_by": None, "strategy": None, "inferKeys": False,
                                    "columns": 0, "inferred": [], "unlinked": [], "partition_keys": []}
        # before the schema pass, for every -j: freed block buffers reused, not faulted in again
        # (speedups.keep_heap; the workers of -j N inherit it through the fork)
        keep_heap()
        hin = HashingReader(src)
        self.destination = dst    # (--verify reads a file output back before it is renamed into place)
        reader = io.BufferedReader(self.bounded(hin, self.source), buffer_size=1 << 20)
        compressing = self._compressing = self._compressed_output(dst)
        hout = HashingWriter(compressing or dst)
        out = io.BufferedWriter(hout, buffer_size=1 << 20)
        self.out = out
        self._in_copy_cols = None
        try:
            from dumpmask.inputs import checked

            hin._raw = checked(src, self.source)
            self._decompressing = hin._raw.compression   # a compressed input: what it was (the audit)
            name = peek_dialect(reader, self.source, self.dialect_name)
            a["dialect"] = name
            self.set_dialect(name)
            for stage in self.stages:
                stage.start(self)
            if self.schema_path:
                self.read_schema_file(self.schema_path)
            elif self.needs_schema_pass():
                self.schema_prepass()
            for stage in self.stages:
                stage.schema_ready(self)
            if self.schema_complete:
                self.check_all_rules_early()
            self.output = ParallelOutput(out.write, self.jobs) if self.jobs > 1 else Output(out.write)
            if self.jobs > 1:
                a["options"]["workers"] = self.jobs
                if compressing is not None:
                    compressing.use_pool(self.output.pool, self.jobs)   # chunks compressed in the workers
            if self.cluster is not None:
                self.output = self.cluster_output(out.write)
            if self.jobs > 1 or self.cluster is not None:
                self.output.max_bytes = self.memory.share("inflight")
            self.write_dump(LineReader(reader, self.source), out)
            self.finish_checks()
            for stage in self.stages:
                stage.finish(self)
            self.record_evidence()
            out.flush()
            if compressing is not None:
                compressing.finish()
            for stage in self.stages:
                hook = getattr(stage, "output_written", None)   # the whole output written, not yet in place
                if hook is not None:
                    hook(self)
        except DumpmaskError as e:
            self._stop_compressing_in_workers()
            self._close_output()
            self._poison(out)
            self._finish_compressed_output()
            self._record_evidence_of_failed_run()
            self._finish_audit(hin, hout, "failed", str(e))
            raise
        except BaseException as e:
            self._stop_compressing_in_workers()
            self._close_output()
            if not isinstance(e, (BrokenPipeError, ConnectionResetError)):
                self._poison(out)  # a bug or an interrupt: the output must not restore as if complete
                self._finish_compressed_output()
            self._record_evidence_of_failed_run()
            from dumpmask.errors import describe_internal

            self._finish_audit(hin, hout, "failed", describe_internal(e))
            raise
        self._close_output()
        self._finish_audit(hin, hout, "ok", None)
        return audit.data

    def cluster_output(self, write):
        """--cluster: the Output that masks blocks on the Dask workers (cluster.py), connected;
        the audit's options.cluster says where, also when it cannot connect."""
        from dumpmask.cluster import ClusterOutput, audit_info

        self.audit.data["options"]["cluster"] = info = audit_info(self.cluster)
        return ClusterOutput(write, self.cluster, self.cluster_timeout, info=info)

    def run_archive(self, job) -> dict:
        """A pg_dump archive (pipeline.ArchiveJob) through the same run as a plain dump: the
        definitions of its TOC are learnt first (job.schema_text(): the whole schema, keys and
        constraints included, is known before any data, as with a file's pre-pass), then
        job.write_entries(self) masks each data entry through this engine's COPY path (or the
        work unit per table file) and rewrites its statements as write_dump does. A failed run
        calls job.abort(), which leaves no output (nothing that could restore as if complete)."""
        a = self.audit.data
        self._start_audit()
        a["input"].update(job.input_description())
        try:
            a["dialect"] = "postgres"
            self.set_dialect("postgres")
            for stage in self.stages:
                stage.start(self)
            if self.schema_path:
                self.read_schema_file(self.schema_path)
            self.learn_schema(LineReader(io.BytesIO(job.schema_text(self)), job.source))
            self.schema_complete = True
            for stage in self.stages:
                stage.schema_ready(self)
            self.check_all_rules_early()
            self.output = job.make_output(self)
            if self.jobs > 1:
                a["options"]["workers"] = self.jobs
            job.write_entries(self)
            self.finish_checks()
            for stage in self.stages:
                stage.finish(self)
            self.record_evidence()
            job.finish()
        except BaseException as e:
            self._close_output()
            job.abort()
            self._record_evidence_of_failed_run()
            from dumpmask.errors import describe_internal

            self._finish_audit(job.hin, job.hout, "failed", str(e) if isinstance(e, DumpmaskError) else describe_internal(e))
            raise
        self._close_output()
        self._finish_audit(job.hin, job.hout, "ok", None)
        a["output"].update(job.output_description())
        return a

    def _start_audit(self) -> None:
        """What a run's audit says before anything is read (run_archive; run() says the same)."""
        a = self.audit.data
        a["input"]["name"] = self.source
        a["output"]["name"] = self.output_name
        a["key"] = self.key.audit_entry()
        a["reproducible"] = not self.key.ephemeral
        if self.key.ephemeral:
            self.warn("no key given (DUMPMASK_KEY or --key-file): a random per-run key was used; this run is not reproducible")
        a["rules"] = {"file": self.rules.path, "sha256": self.rules.sha256}
        a["options"] = {"strict": self.strict, "template": self.template,
                        "identifierRemapping": self.rules.remapping, "transfer": self.transfer or self.rules.transfer}
        a["identifierRemapping"] = {"enabled": False, "requested_by": None, "strategy": None, "inferKeys": False,
                                    "columns": 0, "inferred": [], "unlinked": [], "partition_keys": []}

    _compressing = None     # compression.Compressing: the output, compressed (-o x.sql.gz, --compress)
    memory = Budget()       # --max-memory (memory.py): no limit unless build_engine is given one

    def bounded(self, raw, source: str):
        """A raw input stream, as the readers get it: with --max-memory, one line longer than its
        share of the budget stops the run (memory.LineLimit, exit 1) before it is gathered."""
        share = self.memory.share("line")
        return raw if share is None else LineLimit(raw, share, self.memory, source)

    _decompressing = None   # compression.Decompressing: the input, when it was compressed
    output_compression = None   # compression.OutputCompression (build_engine), or None: plain output

    def _compressed_output(self, dst):
        if self.output_compression is None:
            return None
        from dumpmask.compression import Compressing

        return Compressing(dst, self.output_compression)

    def _stop_compressing_in_workers(self) -> None:
        """A failed run: the chunks the workers compress are written before they stop."""
        if self._compressing is not None:
            try:
                self._compressing.detach_pool()
            except (BrokenPipeError, OSError, ValueError):
                pass

    def _finish_compressed_output(self) -> None:
        """A failed run: its last chunk (with the poison line) ends the compressed file."""
        if self._compressing is not None:
            try:
                self._compressing.finish()
            except (BrokenPipeError, OSError, ValueError):
                pass

    def _close_output(self) -> None:
        """Stop the worker processes (a failed run: what they still hold is dropped)."""
        if self.output is not None:
            try:
                self.output.close()
            finally:
                self.output = None

    # ------------------------------------------------------------------ the loop
    def set_dialect(self, name: str) -> None:
        self.dialect = get_dialect(name)
        self.learner = LEARNERS[name](self)

    def learn_schema(self, lines: LineReader) -> None:
        """A quick pass over a whole dump (or a --schema-only file) that skips table data."""
        dialect, learner = self.dialect, self.learner
        for ev in dialect.events(lines):
            if ev.event == "copy":
                if ev.table is not None:
                    self.note_data_table(ev.table, ev.stmt.line)
            elif ev.event == "insert":
                if ev.table is not None:
                    self.note_data_table(ev.table, ev.stmt.line)
            elif ev.kind == "create_table" or dialect.is_schema_statement(ev):
                learner.learn(ev)
            elif ev.kind == "setval":
                parsed = dialect.parse_setval(ev.raw)
                if parsed is not None:
                    self.sequence_values[parsed[0][1]] = parsed[1]

    def write_dump(self, lines: LineReader, out) -> None:
        """The writing pass: every event of the input, in order, to `out`."""
        dialect, learner = self.dialect, self.learner
        progress = Progress(self.progress)
        write = out.write
        count = self.audit.count_passthrough
        insert = self.insert_rebuilt if dialect.insert_style == "rebuild" else self.insert_spliced
        output = self.output
        for ev in dialect.events(lines):
            kind = ev.event
            if self._held and kind != "copy" and getattr(ev, "kind", None) != "blank":
                self.release_held(out)    # the data of the held blocks' tables is over
            if kind == "insert":
                insert(ev, output.emit)   # INSERTs in a row go to the workers side by side
                progress.update(_bytes_written(out), None)
                continue
            # the barrier: what follows may depend on what the blocks did (a setval rewritten
            # from the largest key written, AUTO_INCREMENT at UNLOCK TABLES)
            output.drain()
            if kind == "copy":
                self.copy_data(ev, out, progress)
                continue
            if ev.kind == "create_table":
                state = learner.learn(ev)  # (a pre-pass already knows it: learn_table keeps that)
                if state is not None:
                    self.check_table_rules_early(state, ev.line)  # rule errors before this table's data
            elif not self.schema_complete and dialect.is_schema_statement(ev):
                learner.learn(ev)   # an enum before its tables; a unique index after the data (on a pipe)
            write(self.rewritten(ev))
            label = dialect.label(ev)
            if label:
                count(label)
            progress.update(_bytes_written(out), None)
        if self._held:
            self.release_held(out)
        output.drain()
        progress.done()

    _held: list = []    # holders of COPY blocks written later (RowFilters.across), in the order they came

    def release_held(self, out) -> None:
        """Write the COPY blocks the holders kept back, each with the rows its holder kept
        (masked as any rows), in the order the blocks came."""
        output = self.output
        output.drain()
        holders, self._held = self._held, []
        for holder in holders:
            for block, rows in holder.release():
                out.write(block.header)
                written = [0]

                def done(counts, written=written) -> None:
                    written[0] += counts.rows_written
                if rows:
                    output.submit(block.planned, DataBlock("copy", b"".join(b"\t".join(f) + b"\n" for _r, f in rows),
                                                           block.first_line, rows[0][0], rows=[r for r, _f in rows]), done)
                    output.drain()
                out.write(block.end)
                block.tstats.rows_written += written[0]

    def table_wanted(self, state: TableState) -> bool:
        """Does a table's data go through masking: rules for it, or a stage that must see it
        (every stage is asked about every table: key remapping records what it wrote)."""
        return any([bool(self.table_rules(state))] + [stage.wants_table(self, state) for stage in self.stages])

    def row_filters(self, state: TableState, columns, line, sql: bool = False) -> RowFilters | None:
        filters = [f for stage in self.stages if (f := stage.row_filter(self, state, columns, line, sql=sql)) is not None]
        return RowFilters(filters) if filters else None

    def sample(self, state: TableState, columns, rows) -> None:
        """The first rows of a table's data, decoded, to the stages that look at content."""
        for stage in self.stages:
            if stage.wants_sample(self, state):
                stage.sample(self, state, columns, rows)

    def copy_data(self, ev, out, progress) -> None:
        """A COPY block: passed through as bytes when nothing applies to its table; else its
        chunks (row filters first) through mask_block."""
        st = ev.stmt
        write = out.write
        if not ev.readable:
            raise DumpSyntaxError("cannot parse COPY statement", st.line, self.source, st.raw[:60])
        state = self.table_state(ev.table)
        tstats = self.audit.table(_qual(state.key))
        if not self.table_wanted(state):
            write(st.raw)
            self.audit.count_passthrough("COPY (unmasked table)")
            n = ev.passthrough(write)
            write(ev.end)
            tstats.rows_read += n
            tstats.rows_written += n
            return
        if not ev.text_format:
            raise MaskingError(f"{self.source}:{st.line}: COPY for masked table {_qual(state.key)} is not in text format")
        columns = self.data_columns(state, ev.columns, st.line)
        chunks = ev.chunks()
        if any(stage.wants_sample(self, state) for stage in self.stages):
            held, rows = _first_copy_rows(chunks, self.dialect.sample_rows)
            self.sample(state, columns, [[self.dialect.decode_copy_field(f) for f in ln.rstrip(b"\r\n").split(b"\t")] for ln in rows])
            chunks = itertools.chain(held, chunks)
        planned = self.build_plan(state, columns, st.line)
        filters = self.row_filters(state, columns, st.line)
        across = filters.across if filters is not None else None
        record = self.written_rows
        if record is not None and (filters is None or filters.holds):
            (record.filtered if filters is None else record.unpaired)(state.key)
            record = None
        if across is None:
            write(st.raw)
        self._in_copy_cols = len(columns)
        name = _qual(state.key)
        row0 = 0
        written = [0]
        merged = [0]      # rows read by the blocks merged so far

        def done(counts) -> None:
            written[0] += counts.rows_written
            merged[0] += counts.rows_read

        output = self.output
        for chunk in chunks:
            if filters is None:
                # not counted here (mask_block counts them): the rows before the block are those
                # merged so far, exact in-process; with workers only an error message needs them,
                # and a block that fails is masked again in its turn, with exact_row0
                block = DataBlock("copy", chunk, ev.first_line + merged[0], merged[0])
                output.submit(planned, block, done, exact_row0=lambda: merged[0])
                progress.update(_bytes_written(out), name)
                continue
            if filters.take is not None and chunk.endswith(b"\n") and type(copy_spans(chunk, len(columns), ())) is list:
                # rows kept by their position: counted, not split (a bad line takes the path below: its error)
                nrows = count_nl(chunk)
                kept = filters.take(nrows)
                if record is not None:
                    record.add(state.key, nrows, kept)
                if not kept:
                    row0 += nrows
                    continue
                lines = chunk.split(b"\n")
                block = DataBlock("copy", b"".join(lines[k] + b"\n" for k in kept), ev.first_line, row0,
                                  rows=[row0 + k for k in kept])
            else:
                block, nrows = _filtered_copy_block(chunk, filters, len(columns), ev.first_line, row0, name, self.source)
                if record is not None:
                    record.add(state.key, nrows, [r - row0 for r in block.rows])
            output.submit(planned, block, done)
            row0 += nrows
            progress.update(_bytes_written(out), name)
        output.drain()
        if filters is None:
            row0 = merged[0]
        if across is not None:
            output.drain()
            across.hold_block(st.raw, ev.end, planned, ev.first_line, tstats)   # written by release_held
            if across not in self._held:
                self._held = [*self._held, across]
            self._in_copy_cols = None
            tstats.rows_read += row0
            tstats.rows_written += written[0]
            return
        if filters is not None and filters.holds:
            held_rows = filters.flush()
            if held_rows:
                output.submit(planned, DataBlock(
                    "copy", b"".join(b"\t".join(fields) + b"\n" for fields in held_rows), ev.first_line, row0,
                    rows=list(range(row0 - len(held_rows), row0))), done)
                output.drain()
        write(ev.end)
        self._in_copy_cols = None
        tstats.rows_read += row0
        tstats.rows_written += written[0]

    def _insert_start(self, ev, write):
        """What both INSERT paths share: the table, and the statement passed through when
        nothing applies to it. None when it was written as it is."""
        st = ev.stmt
        if ev.table is None:
            raise DumpSyntaxError("cannot read the table name of this INSERT", st.line, self.source)
        state = self.table_state(ev.table)
        wanted = self.table_wanted(state)
        tstats = self.audit.table(_qual(state.key))
        if not wanted:
            write(st.raw)
            self.audit.count_passthrough("INSERT (unmasked table)")
            n = self.dialect.count_rows_unparsed(st.raw)
            tstats.rows_read += n
            tstats.rows_written += n
            return None
        return state

    def _insert_block(self, state, raw: bytes, line: int, ins, columns, write) -> None:
        """An INSERT of a masked table through the row filters and mask_block."""
        tstats = self.audit.table(_qual(state.key))
        planned = self.build_plan(state, columns, line)
        filters = self.row_filters(state, columns, line, sql=True)
        keep = None
        nrows = self._plain_tuple_count(raw, line, ins, len(columns)) if filters is not None and filters.take else None
        if nrows is not None:
            keep = filters.take(nrows)   # rows kept by their position: counted by the C scanner, not parsed
        elif filters is not None:
            if ins is None:
                ins = self.dialect.parse_insert(raw, line, self.source)
            nrows = len(ins.tuples)
            keep = [k for k, (_t0, _t1, fields) in enumerate(ins.tuples)
                    if len(fields) == len(columns) and filters([raw[s:e] for s, e in fields]) is not None]
        if self.written_rows is not None:
            if filters is None:
                self.written_rows.filtered(state.key)
            elif filters.holds:
                self.written_rows.unpaired(state.key)
            else:
                self.written_rows.add(state.key, nrows, keep)
        def done(counts) -> None:
            tstats.rows_read += counts.rows_read
            tstats.rows_written += counts.rows_written

        self.output.submit(planned, DataBlock("insert", raw, line, tstats.rows_read, keep=keep, parsed=ins), done,
                           exact_row0=lambda: tstats.rows_read)

    def _plain_tuple_count(self, raw: bytes, line: int, ins, ncols: int):
        """The tuples of a MySQL INSERT in mysqldump's plain shape with ncols fields each (the C
        tuple scanner), or None (PostgreSQL, another shape: parsed as before)."""
        if self.dialect.name != "mysql" or ins is not None or ncols < 1:
            return None
        head = self.dialect.parse_insert(raw, line, self.source, tuples=False)
        spans = tuple_spans(raw, head.values_start, ncols, (0,)) if head.values_start >= 0 else None
        return None if spans is None else len(spans) // 2

    def insert_rebuilt(self, ev, write) -> None:
        """PostgreSQL: INSERT ... VALUES rebuilt from its tuples when masked; any other INSERT
        (... SELECT) only passes when nothing applies to its table."""
        st = ev.stmt
        if ev.head is not None and ev.head[2] < 0:
            state = self.table_state(ev.head[0])
            if self.table_rules(state) or any(stage.wants_table(self, state) for stage in self.stages):
                raise MaskingError(f"{self.source}:{st.line}: cannot parse an INSERT into masked table {_qual(state.key)}; refusing to pass it through")
            write(st.raw)
            self.audit.count_passthrough("INSERT (unparsed)")
            return
        state = self._insert_start(ev, write)
        if state is None:
            return
        ins = self.dialect.parse_insert(st.raw, st.line, self.source)
        columns = self.dialect.with_generated(state.schema, ins, self.data_columns(state, ins.columns, st.line))
        if any(stage.wants_sample(self, state) for stage in self.stages):
            decode = self.dialect.decode_sql_field
            self.sample(state, columns, [[decode(st.raw[s:e]) for s, e in f] for _, _, f in ins.tuples[:self.dialect.sample_rows]])
        self._insert_block(state, st.raw, st.line, ins, columns, write)

    def insert_spliced(self, ev, write) -> None:
        """MySQL: the masked literals spliced into the statement (errors located in it)."""
        st = ev.stmt
        try:
            state = self._insert_start(ev, write)
            if state is None:
                return
            self._insert_spliced(state, st, write)
        except MaskingError as e:
            if str(e).startswith(f"{self.source}:"):
                raise
            raise MaskingError(f"{self.source}:{st.line}: {e}") from None

    def _insert_spliced(self, state, st, write) -> None:
        dialect = self.dialect
        raw = st.raw
        head = dialect.parse_insert(raw, st.line, self.source, tuples=False)
        if head.values_start >= 0 and any(stage.wants_sample(self, state) for stage in self.stages):
            # content detection on a pipe: the rows of this first INSERT (at most sample_rows),
            # decoded, before anything of the table's data is written
            ins = dialect.parse_insert(raw, st.line, self.source)
            columns = dialect.with_generated(state.schema, ins, self.data_columns(state, ins.columns, st.line))
            decode = dialect.decode_sql_field
            self.sample(state, columns, [[decode(raw[s:e]) for s, e in spans] for _, _, spans in ins.tuples[:dialect.sample_rows]])
        if head.values_start < 0:
            raise MaskingError(f"{self.source}:{st.line}: INSERT ... SET/SELECT into masked table {_qual(state.key)} "
                               "cannot be masked; refusing to pass it through")
        columns = self.data_columns(state, head.columns, st.line)
        ins = None
        if head.columns is None and state.schema is not None and len(state.schema.columns) != len(columns):
            # generated columns: mariadb-dump writes their values too (dialect.with_generated)
            ins = dialect.parse_insert(raw, st.line, self.source)
            columns = dialect.with_generated(state.schema, ins, columns)
        self._insert_block(state, raw, st.line, ins, columns, write)

    # ------------------------------------------------------------------ reading rows (scan, verify, preview, subsets)
    def blocks(self, lines: LineReader, want=None, learner=None, pieces: bool = False):
        """Every data statement of a dump as a Block (rows undecoded). Schema statements are
        learnt on the way (self.tables), so callers can look at types. `want(table_key) -> bool`
        skips tables nobody asked for, cheaply. pieces (verify's C passes): a COPY block comes as
        Block("copy_chunks", items = its ~1 MB chunks of whole lines, lineno() = the header's
        line), a MySQL INSERT in mysqldump's plain shape as Block("values", items = (statement,
        offset of its first tuple), fields() = the Block parsed, or None, for when the tuples
        are not in that shape after all, lineno() = its first line)."""
        dialect = self.dialect
        learner = learner or self.learner
        for ev in dialect.events(lines):
            kind = ev.event
            if kind == "copy":
                if not ev.readable or not ev.text_format or (want is not None and not want(ev.table)):
                    continue
                state = self.table_state(ev.table)
                try:
                    columns = self.data_columns(state, ev.columns, ev.stmt.line)
                except DumpSyntaxError:
                    continue
                if pieces:
                    yield Block("copy_chunks", state.key, columns, ev.chunks(), _copy_fields, dialect.decode_copy_field,
                                None, lambda line=lines.lineno: line)
                    continue
                items, lineno = counted_lines(ev.rows(), lines.lineno)
                yield Block("copy", state.key, columns, items, _copy_fields, dialect.decode_copy_field, lambda line: line, lineno)
            elif kind == "insert":
                st = ev.stmt
                if ev.table is None or (ev.head is not None and ev.head[2] < 0) or (want is not None and not want(ev.table)):
                    continue
                head = self._plain_head(ev) if pieces and dialect.name == "mysql" else None
                if head is not None:
                    yield Block("values", self.table_state(ev.table).key, head[0], (st.raw, head[1]),
                                lambda ev=ev: self._insert_rows_block(ev, plain=False), dialect.decode_sql_field, None,
                                lambda line=st.line: line)
                    continue
                block = self._insert_rows_block(ev, plain=dialect.name == "mysql")
                if block is not None:
                    yield block
            elif ev.kind == "create_table" or dialect.is_schema_statement(ev):
                learner.learn(ev)  # enum types before the tables; unique indexes (after the data) for scan

    def _insert_rows_block(self, ev, plain: bool):
        """The Block of an INSERT's tuples (read by the C tuple scanner when `plain` and in that
        shape, else parsed), or None when it is not read (no VALUES, columns not known)."""
        dialect = self.dialect
        st = ev.stmt
        tuples = self._plain_tuples(ev) if plain else None
        if tuples is not None:
            columns, tuples = tuples
        else:
            ins = dialect.parse_insert(st.raw, st.line, self.source)
            if ins.values_start < 0:
                return None
            state = self.table_state(ev.table)
            try:
                columns = dialect.with_generated(state.schema, ins, self.data_columns(state, ins.columns, st.line))
            except DumpSyntaxError:
                return None
            tuples = ins.tuples
        state = self.table_state(ev.table)
        raw = st.raw
        items, lineno = tuple_lines(raw, tuples, st.line)
        return Block("insert", state.key, columns, items, lambda it, raw=raw: [raw[s:e] for s, e in it[2]],
                     dialect.decode_sql_field, (lambda it, raw=raw: raw[it[0]:it[1]]) if dialect.name == "mysql" else (lambda it: None),
                     lineno)

    def rows(self, lines: LineReader, want=None, learner=None):
        """Every data row of a dump, decoded: yields (table_key, columns, values, line)."""
        return rows_of(self.blocks(lines, want, learner))

    def sample_input(self, limit: int):
        """The first `limit` rows of each table of the input file, read once before the
        writing pass (content detection: coverage.sample_rows)."""
        return sample_dump(self.input_path, self.dialect.name, limit, self.source)

    def read_rows(self, path: str):
        """The rows of the input file again (a first pass of partial transfer), with a learner
        of its own: (table_key, columns, values, line)."""
        with open(path, "rb") as fh:
            yield from self.rows(LineReader(io.BufferedReader(self.bounded(fh, path), 1 << 20), path),
                                 learner=LEARNERS[self.dialect.name](self))

    def _plain_tuples(self, ev):
        """(columns, tuples as parse_insert gives them) of a MySQL INSERT in mysqldump's plain
        shape, read by the C tuple scanner (a tuple is its fields between "(" and ")"); None
        when it is not in that shape, or generated columns may count (then parsed)."""
        head = self._plain_head(ev)
        if head is None:
            return None
        columns, values_start = head
        n = len(columns)
        raw = ev.stmt.raw
        spans = tuple_spans(raw, values_start, n, tuple(range(n)))
        if not spans:
            return None
        k = 2 * n
        tuples = []
        for i in range(0, len(spans), k):
            fields = list(zip(spans[i:i + k:2], spans[i + 1:i + k:2], strict=True))
            tuples.append((fields[0][0] - 1, fields[-1][1] + 1, fields))
        return columns, tuples

    def _plain_head(self, ev):
        """(columns, offset of the first tuple) of a MySQL INSERT whose tuples may be in
        mysqldump's plain shape, or None (no VALUES, columns not known, or generated columns
        may count: then parsed)."""
        st = ev.stmt
        head = self.dialect.parse_insert(st.raw, st.line, self.source, tuples=False)
        if head.values_start < 0:
            return None
        state = self.table_state(ev.table)
        try:
            columns = self.data_columns(state, head.columns, st.line)
        except DumpSyntaxError:
            return None
        n = len(columns)
        if not n or head.columns is None and state.schema is not None and len(state.schema.columns) != n:
            return None
        return columns, head.values_start

    def key_blocks(self, path: str, needed_of, skip=None):
        """The first pass of partial transfer, cheaper than read_rows: the same data statements
        (with a learner of its own), without decoding the rows. `needed_of(table key, columns)`
        -> the column indexes whose values are wanted; yields (table key, columns, nrows,
        raw(r) -> the raw fields at those indexes of the piece's row r, decode(raw field) ->
        str | None) per piece (a COPY chunk, an INSERT). A MySQL INSERT is counted and read by
        the C tuple scanner where it has mysqldump's plain shape, else parsed as read_rows does.
        skip(table key) -> True: that data statement is passed over unread (not yielded)."""
        mysql = self.dialect.name == "mysql"
        dialect = self.dialect
        with open(path, "rb") as fh:
            lines = LineReader(io.BufferedReader(self.bounded(fh, path), 1 << 20), path)
            learner = LEARNERS[dialect.name](self)
            for ev in dialect.events(lines):
                if skip is not None and ev.event in ("insert", "copy") and ev.table is not None and skip(ev.table):
                    continue
                if ev.event == "insert" and mysql:
                    got = self._key_insert(ev, needed_of, tuple_spans)
                    if got is not None:
                        yield got
                        continue
                    yield from self._key_pieces_parsed(ev, needed_of)
                elif ev.event == "copy":
                    if not ev.readable or not ev.text_format:
                        continue
                    state = self.table_state(ev.table)
                    try:
                        columns = self.data_columns(state, ev.columns, ev.stmt.line)
                    except DumpSyntaxError:
                        continue
                    idxs = needed_of(state.key, columns)
                    for chunk in ev.chunks():
                        if not chunk:
                            continue
                        yield (state.key, columns, chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1),
                               _copy_chunk_fields(chunk, idxs), dialect.decode_copy_field)
                elif ev.event == "insert":
                    yield from self._key_pieces_parsed(ev, needed_of)
                elif ev.kind == "create_table" or dialect.is_schema_statement(ev):
                    learner.learn(ev)

    def _key_insert(self, ev, needed_of, tuple_spans):
        """key_blocks' piece of a MySQL INSERT from the C tuple scanner, or None when it is
        not in the plain shape (or has no column list where generated columns could count)."""
        st = ev.stmt
        if ev.table is None or (ev.head is not None and ev.head[2] < 0):
            return None
        raw = st.raw
        head = self.dialect.parse_insert(raw, st.line, self.source, tuples=False)
        if head.values_start < 0:
            return None
        state = self.table_state(ev.table)
        try:
            columns = self.data_columns(state, head.columns, st.line)
        except DumpSyntaxError:
            return None
        if head.columns is None and state.schema is not None and len(state.schema.columns) != len(columns):
            return None   # (with_generated looks at the first tuple)
        idxs = list(needed_of(state.key, columns))
        if not columns:
            return None
        spans = tuple_spans(raw, head.values_start, len(columns), tuple(idxs) or (0,))
        if spans is None:
            return None
        k = max(1, len(idxs))
        nrows = len(spans) // (2 * k)
        n = len(idxs)

        def fields(r):
            base = 2 * k * r
            return [raw[spans[base + 2 * j]:spans[base + 2 * j + 1]] for j in range(n)]

        def column(j):
            """The raw fields of the j-th wanted column, every row (closure._look's one-column needs)."""
            it = iter(spans[2 * j::2 * k])
            ends = iter(spans[2 * j + 1::2 * k])
            return [raw[a:b] for a, b in zip(it, ends, strict=True)]
        fields.column = column
        return state.key, columns, nrows, fields, self.dialect.decode_sql_field

    def _key_pieces_parsed(self, ev, needed_of):
        """key_blocks' piece of an INSERT parsed as blocks() parses it."""
        st = ev.stmt
        if ev.table is None or (ev.head is not None and ev.head[2] < 0):
            return
        ins = self.dialect.parse_insert(st.raw, st.line, self.source)
        if ins.values_start < 0:
            return
        state = self.table_state(ev.table)
        try:
            columns = self.dialect.with_generated(state.schema, ins, self.data_columns(state, ins.columns, st.line))
        except DumpSyntaxError:
            return
        idxs = needed_of(state.key, columns)
        raw, tuples = st.raw, ins.tuples

        def fields(r):
            spans = tuples[r][2]
            return [raw[spans[i][0]:spans[i][1]] if i < len(spans) else None for i in idxs]
        yield state.key, columns, len(tuples), fields, self.dialect.decode_sql_field

    def record_evidence(self) -> None:
        """What the run did, for the audit and the report (never what was configured): the
        columns of every table whose CREATE TABLE was seen, classified by name (and by content
        where detection sampled them) with what happened to each (audit.record_columns), and
        whether key remapping was asked for and what it remapped (audit.record_remapping)."""
        from dumpmask.detect import detect_by_name

        dialect = self.dialect
        pg = dialect is not None and dialect.name == "postgres"
        det = next((e for e in self.stages if hasattr(e, "findings") and hasattr(e, "content")), None)
        tables, unclassified = [], []
        for key, state in list(self.tables.items()):
            q = _qual(key)
            s = state.schema
            if s is None or not s.columns:
                if q in self.audit.tables:
                    unclassified.append(q)  # its data came through, its columns are unknown
                continue
            cols = s.data_columns()
            if det is not None:  # detection ran: name and sampled content, as it judged them
                found = {c: f for c, (_col, f) in det.findings(self, state, cols).items()}
            else:
                found = {c.name: f for c in s.columns if (f := detect_by_name(c.name, c, s.name)) is not None}
            explicit = {}  # column -> mutation of the rules file's rule for it (build_plan's matching)
            for tr in (self.table_rules(state) if dialect is not None else ()):
                for cr in tr.columns:
                    for c in cols:
                        if c not in explicit and (cr.column.name == c if (cr.column.name_quoted and pg)
                                                  else dialect.col_eq(cr.column.name, c)):
                            explicit[c] = cr.mutation
                            break
            keys = {c for c in set(s.primary_key) | {c for fk in s.foreign_keys for c in fk.columns}
                    if s.column(c) is None or s.column(c).kind not in _NOT_IDENTIFIER_KINDS}
            tables.append((q, [(c, found.get(c), explicit.get(c), c in keys) for c in cols]))
        self.audit.record_columns(tables, unclassified)
        # remapping was asked for when its feature runs (features.install: identifierRemapping,
        # a template that turns it on, or a `key` rule); by name: the engine names no stage class
        self.audit.record_remapping(any(type(e).__name__ == "KeyRemapping" for e in self.stages))

    def _record_evidence_of_failed_run(self) -> None:
        """A failed run's audit still says what was seen; when that cannot be worked out either,
        the fields stay absent (the report then says "not recorded") and a warning says why."""
        try:
            self.record_evidence()
        except Exception as e:  # noqa: BLE001 - the run's own error is the one reported
            from dumpmask.errors import describe_internal

            self.audit.data.pop("columns_detected", None)
            self.audit.data.pop("columns_unclassified", None)
            why = str(e) if isinstance(e, DumpmaskError) else describe_internal(e)   # (a bug's text may hold data)
            self.audit.data["warnings"].append(f"column inventory not recorded: {type(e).__name__}: {why}")

    def _poison(self, out) -> None:
        """End the output so that psql (ON_ERROR_STOP) or mysql fails and a single-transaction
        restore rolls back: an open COPY block gets a row with too many fields first."""
        try:
            if self._in_copy_cols is not None:
                out.write(b"\t" * (self._in_copy_cols + 1) + b"dumpmask: aborted\n\\.\n")
            out.write(POISON)
            out.flush()
        except (BrokenPipeError, OSError, ValueError, DumpmaskError):
            pass   # (an output that cannot be written: its run fails anyway, and a file is not kept)

    def _finish_audit(self, hin, hout, status, error):
        a = self.audit.data
        for stage in self.stages:
            hook = getattr(stage, "finish_audit", None)
            if hook is not None:
                hook(self)   # what the run did (also when it failed)
        a["input"]["bytes"] = hin.bytes
        a["input"]["sha256"] = hin.sha.hexdigest()  # of the bytes read (all of them when the run is ok)
        a["output"]["bytes"] = hout.bytes
        a["output"]["sha256"] = hout.sha.hexdigest()
        # compressed: bytes and sha256 are the file's (what sha256sum says), the SQL's beside them
        for side, stream, hashed in (("input", self._decompressing, hin), ("output", self._compressing, hout)):
            if stream is not None:
                a[side]["compression"] = dict(stream.describe(), sql_bytes=hashed.bytes, sql_sha256=hashed.sha.hexdigest())
                a[side]["bytes"] = stream.compressed_bytes if side == "input" else stream.bytes
                a[side]["sha256"] = (stream.compressed_sha if side == "input" else stream.sha).hexdigest()
        self.audit.finish(status, error)

    def finish_checks(self) -> None:
        self.refuse_misspelled_rules()
        for tr in self.rules.tables:
            if not tr.matched:
                msg = f"rule {tr.where}: table {tr.table.text!r} never appears in the dump"
                self.audit.data["unmatched_rules"].append({"table": tr.table.text, "column": None, "where": tr.where, "message": msg})
                if self.strict:
                    raise StrictError(f"{self.rules.path or 'rules'}: {msg} (--strict)")
                self.warn(msg)
            else:
                for cr in tr.columns:
                    if not cr.matched:
                        msg = f"rule {cr.where}: column {cr.column.text!r} of table {tr.table.text!r} never appears in the dump's data"
                        self.audit.data["unmatched_rules"].append({"table": tr.table.text, "column": cr.column.name, "where": cr.where, "message": msg})
                        if self.strict:
                            raise StrictError(f"{self.rules.path or 'rules'}: {msg} (--strict)")
                        self.warn(msg)
        # a ruled table that was declared but whose data never came through its rules: empty, or
        # its data is in the dump under a name that did not resolve to it (then it passed as is)
        for state in self.tables.values():
            rules = state.rules or []
            if rules and any(tr.columns for tr in rules) and state.schema is not None and not state.plans_used:
                self.warn(f"{_qual(state.key)}: rules apply to this table but no data of it was masked "
                          "(an empty table, or data under a name that did not resolve to it)")

    # ------------------------------------------------------------------ schema
    def input_is_file(self) -> bool:
        """Can the input be read twice (a regular file)?"""
        if not self.input_path:
            return False
        try:
            return stat.S_ISREG(os.stat(self.input_path).st_mode)
        except OSError:
            return False

    def needs_schema_pass(self) -> bool:
        if not self.input_is_file():
            return False
        return any(stage.needs_schema for stage in self.stages) or self.strict or self.rules_need_constraints()

    def rules_need_constraints(self) -> bool:
        """pg_dump writes primary keys, UNIQUE constraints and unique indexes after the data: a
        rule that is not injective on every column (all but keep and key: hash and the unique
        fakes are not in narrow columns) can only be checked against them with a pre-pass."""
        return self.prepass_for_constraints and self.dialect is not None and self.dialect.name == "postgres" and any(
            cr.cls.name not in ("keep", "key") for tr in self.rules.tables for cr in tr.columns)

    def schema_prepass(self) -> None:
        from dumpmask.inputs import checked

        with open(self.input_path, "rb") as fh:
            # checked: a compressed file is read through its decompressor again
            self.learn_schema(LineReader(io.BufferedReader(self.bounded(checked(fh, self.input_path), self.input_path),
                                                           1 << 20), self.input_path))
        self.schema_complete = True

    def read_schema_file(self, path: str) -> None:
        from dumpmask.inputs import check_path, checked

        check_path(path, "the --schema file")
        try:
            fh = open(path, "rb")
        except OSError as e:
            raise DumpmaskError(f"cannot read schema file {path}: {e.strerror}") from None
        with fh:
            self.learn_schema(LineReader(io.BufferedReader(checked(fh, path, "the --schema file"), 1 << 20), path))
        self.schema_complete = True

    schema_complete = False
    verify = False               # --verify: the leak check of the run's own output (features/verification.py)
    written_rows = None          # with --verify: a WrittenRows (the input rows each table wrote)
    destination = None           # the output stream run() writes to
    prepass_for_constraints = True   # preview turns it off: it writes no dump

    def resolve_ref(self, ref: str, child_key) -> TableState:
        """The table a FOREIGN KEY ... REFERENCES names, relative to the referencing table."""
        from dumpmask.schema import _split_qual

        schema, name = _split_qual(ref, self.dialect.name == "postgres")
        if schema is None:
            schema = child_key[0]
        return self.table_state((schema, name))

    def learn_table(self, tschema: TableSchema, line: int | None) -> TableState:
        state = self.table_state((tschema.schema, tschema.name))
        if state.schema is None or not state.schema.columns:
            tschema.line = line
            state.schema = tschema
        else:
            # seen in a pre-pass (or a --schema file): keep the constraints learnt there; an
            # extension may check that the dump's own CREATE TABLE says the same
            for stage in self.stages:
                hook = getattr(stage, "table_redeclared", None)
                if hook is not None:
                    hook(self, state, tschema, line)
        return state

    def note_data_table(self, key, line: int | None) -> None:
        """A schema pass saw data (COPY / INSERT) for this table."""
        state = self.table_state(key)
        self.data_tables.setdefault(state.key, line)


class DumpRows:
    """Holds the engine state (schemas learnt) while rows are iterated."""

    def __init__(self, path_or_stream, dialect: str | None = None, source: str | None = None):
        from dumpmask.inputs import OpenedDump

        self._opened = OpenedDump(path_or_stream, source)
        self.reader, self.source = self._opened.reader, self._opened.source
        self.dialect = peek_dialect(self.reader, self.source, dialect)
        self.engine = Engine(dialect=self.dialect, source=self.source)
        self.engine.set_dialect(self.dialect)

    def rows(self, want=None):
        """Yields (table_key (schema, name), columns, values, line)."""
        return self.engine.rows(LineReader(self.reader, self.source), want)

    def blocks(self, lines: LineReader | None = None, want=None, pieces: bool = False):
        """The data statements as blocks of undecoded rows (dialects.base.Block; `pieces`: see
        Engine.blocks)."""
        return self.engine.blocks(lines or LineReader(self.reader, self.source), want, pieces=pieces)

    def table(self, key):
        """The TableSchema learnt for a table key (None if no CREATE TABLE was seen)."""
        state = self.engine.tables.get(key)
        return state.schema if state else None

    @property
    def tables(self):
        return {k: v.schema for k, v in self.engine.tables.items()}

    def close(self):
        self._opened.close()



def sample_dump(inp, dialect: str | None = None, limit: int | None = None, source: str | None = None):
    """Read a dump (path, "-" or a binary stream) once, keeping the first `limit` rows of each
    table (coverage.sample_rows; scan and the detection stage)."""
    from dumpmask.coverage import DEFAULT_SAMPLE, sample_rows

    dump_rows = DumpRows(inp, dialect, source)
    try:
        return sample_rows(dump_rows, DEFAULT_SAMPLE if limit is None else limit)
    finally:
        dump_rows.close()


def build_engine(rules: RuleSet | None = None, key: Key | None = None, *, dialect: str | None = None,
                 source: str = "<stdin>", strict: bool = False, progress: bool = False, warn=None,
                 input_path: str | None = None, schema_path: str | None = None, template: str | None = None,
                 first: int | None = None, last: int | None = None, transfer: dict | None = None,
                 output_name: str = "-", jobs: int | None = 1, compress: str | None = None,
                 compress_level: int | None = None, cluster: str | None = None,
                 cluster_timeout: float | None = None, erase=None, only=None, k_report_only: bool = False,
                 verify: bool = False, max_memory: Budget | None = None) -> Engine:
    """The one way a run is put together (CLI, preview, library): an Engine with the features
    its rules and options ask for (identifier remapping, detection / templates, partial
    transfer) installed, so the same rules and options give the same bytes everywhere.

    first / last: keep only the first / last N rows of each table (the CLI's --first / --last;
    `transfer` is the same as a dict, {"mode": "first", "rows": N}).
    jobs: worker processes for the data blocks (1: none; 0: one per core; parallel.py); the
    output is the same bytes for every value.
    compress / compress_level: the output compressed with gzip or zstd ("none": plain), else
    as output_name says (x.sql.gz, x.sql.zst); compression.output_compression.
    cluster: a Dask scheduler's address (cluster.py; needs the extra dumpmask[cluster]): the
    data blocks are masked on its workers, the same bytes again; `cluster_timeout` (seconds,
    cluster.DEFAULT_TIMEOUT by default) bounds every wait for it. Not with jobs > 1.
    erase / only: lists of "TABLE:KEY[,KEY...]" (the CLI's --erase / --only; features/subjects.py).
    verify: the leak check of `dumpmask verify` on the run's own output (--verify;
    features/verification.py).
    max_memory: a memory.Budget (--max-memory): what grows with the input stays under it, spills
    to a temporary file or stops the run (exit 1) naming the structure."""
    from dumpmask.features import install
    from dumpmask.parallel import jobs_count

    key = as_key(key, where="the key given to build_engine()")

    if first is not None and last is not None:
        raise RulesError("--first and --last cannot be used together")
    for name, n in (("first", first), ("last", last)):
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise RulesError(f"{name} must be a non-negative integer")
            if transfer is not None:
                raise RulesError(f"give either {name} or transfer, not both")
            transfer = {"mode": name, "rows": n}
    if template is not None and template not in ("hipaa", "pci", "gdpr", "all"):
        raise RulesError(f"unknown template {template!r} (hipaa, pci, gdpr or all)")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0):
        raise RulesError("jobs must be a non-negative integer (0: one worker per core)")
    if cluster is not None:
        if jobs not in (None, 1):
            raise RulesError("--cluster masks the data blocks on the cluster's workers: -j/--jobs does not apply "
                             "(leave it at 1)")
        from dumpmask.cluster import check_address

        cluster = check_address(cluster)
        if cluster_timeout is not None and (isinstance(cluster_timeout, bool) or not isinstance(cluster_timeout, (int, float))
                                            or not cluster_timeout > 0):
            raise RulesError("cluster_timeout must be a positive number of seconds")
    engine = Engine(rules=rules, key=key, dialect=dialect, source=source, strict=strict, progress=progress, warn=warn,
                    input_path=input_path, schema_path=schema_path, template=template, transfer=transfer,
                    output_name=output_name, jobs=jobs_count(jobs), cluster=cluster, cluster_timeout=cluster_timeout)
    from dumpmask.compression import output_compression

    engine.output_compression = output_compression(output_name, compress, compress_level)
    if erase or only:
        from dumpmask.features.subjects import subjects_of

        engine.subjects = {"erase": list(erase or ()), "only": list(only or ())}
        subjects_of(engine)   # a malformed TABLE:KEY: exit 2 before anything is read
        if not engine.input_is_file():
            raise RulesError("--erase and --only read the dump twice (to find the rows that reference a subject "
                             "before writing any): give INPUT as a regular file, not a pipe")
    engine.k_report_only = k_report_only   # k-anonymity counted and reported, not enforced (features/kanon.py)
    engine.verify = verify   # the leak check of the output in the same job (features/verification.py)
    install(engine)
    if max_memory is not None:
        # the shares of what this run keeps, scaled to stay under the ceiling together
        engine.memory = max_memory.for_structures(
            ["line"] + (["inflight"] if engine.jobs > 1 or engine.cluster is not None else [])
            + [s for stage in engine.stages for s in stage.memory_structures] + (["record"] if verify else []))
    engine.written_rows = WrittenRows(engine.memory) if verify else None   # the rows it pairs up
    return engine


def _bytes_written(out) -> int:
    try:
        return out.raw.bytes
    except AttributeError:
        return 0


def _copy_chunk_fields(chunk: bytes, idxs):
    """raw(r) -> the fields at idxs of line r of a chunk of COPY lines (split once, when first
    asked); a missing field is None."""
    lines = []

    def fields(r):
        if not lines:
            lines.extend(chunk.split(b"\n"))
        line = lines[r]
        if r < len(lines) - 1:
            line = line.rstrip(b"\r")   # (a line that ended in a line break: _copy_fields)
        f = line.split(b"\t")
        return [f[i] if i < len(f) else None for i in idxs]
    return fields


def _copy_fields(line: bytes) -> list:
    return (line.rstrip(b"\r\n") if line.endswith(b"\n") else line).split(b"\t")


def _first_copy_rows(chunks, n: int):
    """(the chunks read, their first n lines) from a COPY block's chunks (content detection on
    a pipe: nothing of the table is written before the sample is taken)."""
    held, rows = [], []
    for chunk in chunks:
        held.append(chunk)
        lines = chunk.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        rows.extend(lines[:n - len(rows)])
        if len(rows) >= n:
            break
    return held, rows


def _filtered_copy_block(chunk: bytes, filters, ncols: int, first_line: int, row0: int, name: str, source: str):
    """A chunk of COPY lines through the row filters: (the block of the kept lines, with each
    line's row in the statement, and the number of lines read)."""
    parts = chunk.split(b"\n")
    tail = parts.pop()
    lines = [ln + b"\n" for ln in parts] + ([tail] if tail else [])
    kept, rows = [], []
    for k, line in enumerate(lines):
        body = line[:-2] if line.endswith(b"\r\n") else (line[:-1] if line.endswith(b"\n") else line)
        fields = body.split(b"\t")
        if len(fields) != ncols:
            raise DumpSyntaxError(f"COPY row for {name} has {len(fields)} fields, expected {ncols}", first_line + row0 + k,
                                  source, line[:60])
        if filters(fields) is not None:
            kept.append(line)
            rows.append(row0 + k)
    return DataBlock("copy", b"".join(kept), first_line, row0, rows=rows), len(lines)


def _loose_name(text: str) -> str:
    """A table name with its quoting and case taken away: what a misspelled rule and the
    dump's table still have in common."""
    return " ".join(text.replace('"', "").replace("`", "").casefold().split())
