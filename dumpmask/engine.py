"""The loop: split -> learn schema -> mask rows -> write, filling the audit on the way.

Untouched statements and rows are copied as bytes. A masked column is a function raw field
bytes -> raw field bytes (decode, transform, re-encode for the dialect) with a small cache,
so a repeated value costs one dict lookup.
"""
from __future__ import annotations

import io
import os
import stat
import sys
import time

from dumpmask.audit import Audit, ColumnStats, HashingReader, HashingWriter
from dumpmask.crypto import Key
from dumpmask.dialects import detect_dialect, get_adapter
from dumpmask.dialects.base import LineReader
from dumpmask.errors import DumpmaskError, DumpSyntaxError, MaskingError, RulesError, StrictError
from dumpmask.rules import RuleSet
from dumpmask.schema import Column, TableSchema

POISON = b"\n-- dumpmask: the input was invalid or masking failed; this line makes the restore fail.\nDUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;\n"
CACHE_MAX = 200_000
_NOT_IDENTIFIER_KINDS = frozenset({"date", "timestamp", "time", "bool", "year", "interval", "bit"})  # in a key, not an id


class ColumnPlan:
    """One masked position of a data column list: fn has .copy/.sql raw-bytes functions (with
    audit counters), value_fn is the plain str|None -> str|None function behind them."""

    __slots__ = ("index", "name", "fn", "stats", "transformer", "value_fn")

    def __init__(self, index, name, fn, stats, transformer, value_fn=None):
        self.index, self.name, self.fn, self.stats, self.transformer = index, name, fn, stats, transformer
        self.value_fn = value_fn or transformer


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


def _qual(key) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


class Engine:
    def __init__(self, rules: RuleSet | None = None, key: Key | None = None, dialect: str | None = None,
                 source: str = "<stdin>", strict: bool = False, progress: bool = False, warn=None,
                 input_path: str | None = None, schema_path: str | None = None, template: str | None = None,
                 transfer: dict | None = None, output_name: str = "-"):
        self.rules = rules or RuleSet()
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
        self.extensions = []      # hooks added by later features (remapping, subsetting)
        self.data_tables: dict = {}   # table key -> line of its first data statement (seen in a pre-pass)

    # ------------------------------------------------------------------ helpers
    def warn(self, msg: str) -> None:
        self.audit.warn(msg, self.warn_cb)

    def rewritten(self, st) -> bytes:
        """A passed-through statement as it is written: extensions may replace it (setval,
        AUTO_INCREMENT after remapped ids)."""
        raw = st.raw
        for ext in self.extensions:
            hook = getattr(ext, "rewrite_statement", None)
            if hook is not None:
                new = hook(self, st)
                if new is not None:
                    raw = new
        return raw

    def table_state(self, key) -> TableState:
        ts = self.tables.get(key)
        if ts is None:
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
                if v is not None and (k[0] is None or key[0] is None) and self.adapter.same_name(k[1], key[1]):
                    return v
            ts = self.tables[key] = TableState(key)
            by.setdefault(key[1], []).append(key)
            self._by_name_of = (id(self.tables), len(self.tables))
        return ts

    def table_rules(self, ts: TableState):
        """The rules of a table, including its partitioned parent's: pg_dump writes a partitioned
        table's data per partition, and a rule naming the parent must reach those rows."""
        if ts.rules is None:
            rules = self.rules.for_table(ts.key[0], ts.key[1], self.adapter.name)
            parent = ts.schema.partition_of if ts.schema is not None else None
            if parent and parent != ts.key:
                rules = rules + [r for r in self.table_rules(self.table_state(parent)) if r not in rules]
            ts.rules = rules
            for r in rules:
                r.matched = True
        return ts.rules

    # ------------------------------------------------------------------ plans
    def build_plan(self, ts: TableState, columns: list[str], line: int | None) -> list[ColumnPlan]:
        """For a column list as the data statement gives it: which positions get which function."""
        cache_key = tuple(columns)
        plan = ts.plans.get(cache_key)
        if plan is not None:
            ts.plans_used = True
            return plan
        plan = []
        rules = self.table_rules(ts)
        qual = _qual(ts.key)
        used = set()
        for tr in rules:
            for cr in tr.columns:
                idx = None
                for i, c in enumerate(columns):
                    if cr.column.name == c if (cr.column.name_quoted and self.adapter.name == "postgres") else self.adapter.col_eq(cr.column.name, c):
                        idx = i
                        break
                if idx is None:
                    col = ts.schema.column(cr.column.name) if ts.schema else None
                    why = "a generated column (not in the dump's data)" if col is not None and col.generated else "no such column in the dump"
                    msg = f"rule {cr.where} ({cr.column.text or cr.column.name}): {qual} has {why}"
                    if self.strict:
                        raise StrictError(f"{self.rules.path or 'rules'}: {msg} (--strict)")
                    self.warn(msg)
                    self.audit.data["unmatched_rules"].append({"table": qual, "column": cr.column.name, "where": cr.where, "message": msg})
                    cr.matched = True  # reported once here, not again at the end
                    continue
                cr.matched = True
                if idx in used:
                    raise RulesError(f"two rules for column {columns[idx]!r} of {qual}", self.rules.path, cr.where)
                used.add(idx)
                col = (ts.schema.column(columns[idx]) if ts.schema else None) or Column(name=columns[idx], kind="other")
                plan.append(self.make_column_plan(ts, idx, col, cr))
        for ext in self.extensions:
            plan = ext.extend_plan(self, ts, columns, plan)
        plan.sort(key=lambda p: p.index)
        ts.plans[cache_key] = plan
        ts.plans_used = True
        return plan

    def make_column_plan(self, ts: TableState, idx: int, col: Column, cr) -> ColumnPlan:
        from dumpmask.schema import unique_constraint_of
        from dumpmask.transformers import target_column, uniqueness_error
        from dumpmask.transformers.arrays import ElementWise, delimiter_for, element_type

        dialect = self.adapter.name
        col = self.resolve_column(col)
        tcol = target_column(cr.cls, col, self.resolve_type)
        try:
            t = cr.cls(self.key, cr.options, tcol, cr.argument)
            t.bind_dialect(dialect)
            warnings = t.check(tcol) or []
            u = unique_constraint_of(ts.schema, col.name) if ts.schema is not None else None
            if u:
                err = uniqueness_error(cr.cls, col, u, dialect, cr.options)
                if err:
                    raise RulesError(err)
        except RulesError as e:
            raise RulesError(f"{_qual(ts.key)}.{col.name}: {str(e).split(': ', 1)[-1] if e.where else e}", self.rules.path, cr.where) from None
        for w in warnings:
            self.warn(f"{_qual(ts.key)}.{col.name}: {w}")
        if tcol is not col:
            t = ElementWise(t, delimiter_for(element_type(col.type)), where=f"{_qual(ts.key)}.{col.name}")
        stats = self.audit.table(_qual(ts.key)).columns.setdefault(col.name, ColumnStats(cr.mutation, getattr(cr, "category", None)))
        fn = self.adapter.make_field_fn(t, col, stats)
        return ColumnPlan(idx, col.name, fn, stats, t)

    # ------------------------------------------------------------------ column types
    def resolve_type(self, type_text: str) -> Column:
        """A type as a column of the dump declares it -> Column, with the dump's enums and
        domains resolved (a domain's CHECK kept in domain_check, an integer range CHECK
        narrowing int_min/int_max)."""
        from dumpmask.schema import classify, domain_enum_values, domain_int_range

        key = " ".join(type_text.lower().split())
        c = classify(self.domains.get(key, type_text))
        c.type = key
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

    def rule_error(self, ts: TableState, column: str, mutation: str, options: dict | None = None) -> str | None:
        """The error a rule {"column", "mutation", "options"} on `column` of `ts` would stop the
        run with (exit 2), or None when its values restore: the dump's enums and domains, array
        elements, and the table's PRIMARY KEY / UNIQUE constraints / unique indexes taken into
        account (the same checks as make_column_plan). For scan --write-rules and templates."""
        from dumpmask.transformers import valid_for

        col = ts.schema.column(column) if ts.schema is not None else None
        if col is None:
            col = Column(name=column, kind="other")
        return valid_for(mutation, options, self.resolve_column(col), dialect=self.adapter.name,
                         resolve=self.resolve_type, table=ts.schema)

    def unique_learned(self, ts: TableState, cols: tuple, line: int | None) -> None:
        """A PRIMARY KEY / UNIQUE constraint / unique index on `cols` was just read. Before the
        table's data: plans are rebuilt (and checked) when the data comes. After it (a dump on
        a pipe, without --schema: pg_dump writes these after the data): a non-injective rule
        on one of `cols` has already written values that may collide, so the run fails here."""
        from dumpmask.schema import unique_constraint_of
        from dumpmask.transformers import uniqueness_error

        if not ts.plans_used:
            ts.plans.clear()
            return
        seen = set()
        for plan in ts.plans.values():
            for p in plan:
                t = p.transformer
                inner = getattr(t, "inner", t)
                cls = type(inner)
                if p.name not in cols or p.name in seen or not hasattr(cls, "injective_for") or \
                        cls.injective_for(getattr(inner, "column", None) or Column(name=p.name), getattr(inner, "options", None)) is None:
                    continue
                seen.add(p.name)
                where = None
                for tr in self.table_rules(ts):
                    for cr in tr.columns:
                        if cr.cls is cls and self.adapter.col_eq(cr.column.name, p.name):
                            where = cr.where
                col = ts.schema.column(p.name) or Column(name=p.name)
                err = uniqueness_error(cls, col, unique_constraint_of(ts.schema, p.name) or "a unique constraint",
                                       self.adapter.name, getattr(inner, "options", None))
                head, _, alts = err.rpartition("; use one of ")
                raise RulesError(f"{_qual(ts.key)}.{p.name}: {head}; the constraint comes after the table's data "
                                 f"({self.source}:{line}), which was already written: give the dump as a file or pass "
                                 "--schema FILE (pg_dump --schema-only) so that this is known before any output; "
                                 f"use one of {alts}", self.rules.path, where)

    def check_all_rules_early(self) -> None:
        """With the whole schema known before the data (a file's pre-pass, --schema), every
        table's rules are checked before the first byte of output."""
        for ts in list(self.tables.values()):
            if ts.schema is not None and ts.schema.columns:
                self.check_table_rules_early(ts, ts.schema.line)

    def data_columns(self, ts: TableState, stmt_cols, line) -> list[str]:
        if stmt_cols is not None:
            return stmt_cols
        if ts.schema is None:
            raise DumpSyntaxError(f"data for {_qual(ts.key)} has no column list and no CREATE TABLE was seen before it: "
                                  "cannot tell which value is which column (a data-only dump: pass --schema FILE with "
                                  "a schema-only dump, or dump with column lists: pg_dump --column-inserts, "
                                  "mysqldump --complete-insert)", line, self.source)
        return ts.schema.data_columns()

    def check_table_rules_early(self, ts: TableState, line: int | None) -> None:
        """Validate the rules of a table as soon as its CREATE TABLE is seen (before its data)."""
        if ts.schema is None or not self.table_rules(ts):
            return
        used = ts.plans_used
        self.build_plan(ts, ts.schema.data_columns(), line)
        ts.plans_used = used  # a check, not data

    # ------------------------------------------------------------------ run
    def run(self, src, dst) -> dict:
        audit = self.audit
        a = audit.data
        a["input"]["name"] = self.source
        a["output"]["name"] = self.output_name
        a["key"] = {"fingerprint": self.key.fingerprint(), "ephemeral": self.key.ephemeral}
        a["reproducible"] = not self.key.ephemeral
        if self.key.ephemeral:
            self.warn("no key given (DUMPMASK_KEY or --key-file): a random per-run key was used; this run is not reproducible")
        a["rules"] = {"file": self.rules.path, "sha256": self.rules.sha256}
        a["options"] = {"strict": self.strict, "template": self.template,
                        "identifierRemapping": self.rules.remapping, "transfer": self.transfer or self.rules.transfer}
        # what identifier remapping did (features.keys fills it in when it runs)
        a["identifierRemapping"] = {"enabled": False, "requested_by": None, "strategy": None, "inferKeys": False,
                                    "columns": 0, "inferred": [], "unlinked": [], "partition_keys": []}
        hin = HashingReader(src)
        reader = io.BufferedReader(hin, buffer_size=1 << 20)
        hout = HashingWriter(dst)
        out = io.BufferedWriter(hout, buffer_size=1 << 20)
        self.out = out
        self._in_copy_cols = None
        try:
            from dumpmask.inputs import checked

            hin._raw = checked(src, self.source)
            head = reader.peek(65536)[:65536]
            name = self.dialect_name or detect_dialect(head)
            if name is None:
                raise DumpSyntaxError("cannot tell whether this is a PostgreSQL or a MySQL/MariaDB dump: pass --dialect", 1, self.source)
            a["dialect"] = name
            self.adapter = get_adapter(name)(self)
            for ext in self.extensions:
                ext.start(self)
            if self.schema_path:
                self.read_schema_file(self.schema_path)
            elif self.needs_schema_pass():
                self.schema_prepass()
            for ext in self.extensions:
                ext.schema_ready(self)
            if self.schema_complete:
                self.check_all_rules_early()
            self.adapter.run(LineReader(reader, self.source), out)
            self.finish_checks()
            for ext in self.extensions:
                ext.finish(self)
            self.record_evidence()
            out.flush()
        except DumpmaskError as e:
            self._poison(out)
            self._record_evidence_of_failed_run()
            self._finish_audit(hin, hout, "failed", str(e))
            raise
        except BaseException as e:
            if not isinstance(e, (BrokenPipeError, ConnectionResetError)):
                self._poison(out)  # a bug or an interrupt: the output must not restore as if complete
            self._record_evidence_of_failed_run()
            from dumpmask.errors import describe_internal

            self._finish_audit(hin, hout, "failed", describe_internal(e))
            raise
        self._finish_audit(hin, hout, "ok", None)
        return audit.data

    def record_evidence(self) -> None:
        """What the run did, for the audit and the report (never what was configured): the
        columns of every table whose CREATE TABLE was seen, classified by name (and by content
        where detection sampled them) with what happened to each (audit.record_columns), and
        whether key remapping was asked for and what it remapped (audit.record_remapping)."""
        from dumpmask.detect import detect_by_name

        adapter = getattr(self, "adapter", None)
        pg = adapter is not None and adapter.name == "postgres"
        det = next((e for e in self.extensions if hasattr(e, "findings") and hasattr(e, "content")), None)
        tables, unclassified = [], []
        for key, ts in list(self.tables.items()):
            q = _qual(key)
            s = ts.schema
            if s is None or not s.columns:
                if q in self.audit.tables:
                    unclassified.append(q)  # its data came through, its columns are unknown
                continue
            cols = s.data_columns()
            if det is not None:  # detection ran: name and sampled content, as it judged them
                found = {c: f for c, (_col, f) in det.findings(self, ts, cols).items()}
            else:
                found = {c.name: f for c in s.columns if (f := detect_by_name(c.name, c, s.name)) is not None}
            explicit = {}  # column -> mutation of the rules file's rule for it (build_plan's matching)
            for tr in (self.table_rules(ts) if adapter is not None else ()):
                for cr in tr.columns:
                    for c in cols:
                        if c not in explicit and (cr.column.name == c if (cr.column.name_quoted and pg)
                                                  else adapter.col_eq(cr.column.name, c)):
                            explicit[c] = cr.mutation
                            break
            keys = {c for c in set(s.primary_key) | {c for fk in s.foreign_keys for c in fk.columns}
                    if s.column(c) is None or s.column(c).kind not in _NOT_IDENTIFIER_KINDS}
            tables.append((q, [(c, found.get(c), explicit.get(c), c in keys) for c in cols]))
        self.audit.record_columns(tables, unclassified)
        # remapping was asked for when its feature runs (features.install: identifierRemapping,
        # a template that turns it on, or a `key` rule); by name: features import the engine
        self.audit.record_remapping(any(type(e).__name__ == "KeyRemapping" for e in self.extensions))

    def _record_evidence_of_failed_run(self) -> None:
        """A failed run's audit still says what was seen; when that cannot be worked out either,
        the fields stay absent (the report then says "not recorded") and a warning says why."""
        try:
            self.record_evidence()
        except Exception as e:  # the run's own error is the one reported
            self.audit.data.pop("columns_detected", None)
            self.audit.data.pop("columns_unclassified", None)
            self.audit.data["warnings"].append(f"column inventory not recorded: {type(e).__name__}: {e}")

    def _poison(self, out) -> None:
        """End the output so that psql (ON_ERROR_STOP) or mysql fails and a single-transaction
        restore rolls back: an open COPY block gets a row with too many fields first."""
        try:
            if self._in_copy_cols is not None:
                out.write(b"\t" * (self._in_copy_cols + 1) + b"dumpmask: aborted\n\\.\n")
            out.write(POISON)
            out.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def _finish_audit(self, hin, hout, status, error):
        a = self.audit.data
        for ext in self.extensions:
            hook = getattr(ext, "finish_audit", None)
            if hook is not None:
                hook(self)   # what the run did (also when it failed)
        a["input"]["bytes"] = hin.bytes
        a["input"]["sha256"] = hin.sha.hexdigest()  # of the bytes read (all of them when the run is ok)
        a["output"]["bytes"] = hout.bytes
        a["output"]["sha256"] = hout.sha.hexdigest()
        self.audit.finish(status, error)

    def finish_checks(self) -> None:
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
        for ts in self.tables.values():
            rules = ts.rules or []
            if rules and any(tr.columns for tr in rules) and ts.schema is not None and not ts.plans_used:
                self.warn(f"{_qual(ts.key)}: rules apply to this table but no data of it was masked "
                          "(an empty table, or data under a name that did not resolve to it)")

    # ------------------------------------------------------------------ schema
    def needs_schema_pass(self) -> bool:
        if not self.input_path:
            return False
        try:
            if not stat.S_ISREG(os.stat(self.input_path).st_mode):
                return False
        except OSError:
            return False
        return any(ext.needs_schema for ext in self.extensions) or self.strict or self.rules_need_constraints()

    def rules_need_constraints(self) -> bool:
        """pg_dump writes primary keys, UNIQUE constraints and unique indexes after the data: a
        rule that is not injective on every column (all but keep and key: hash and the unique
        fakes are not in narrow columns) can only be checked against them with a pre-pass."""
        return self.prepass_for_constraints and getattr(self, "adapter", None) is not None and self.adapter.name == "postgres" and any(
            cr.cls.name not in ("keep", "key") for tr in self.rules.tables for cr in tr.columns)

    def schema_prepass(self) -> None:
        with open(self.input_path, "rb") as fh:
            self.adapter.learn_schema(LineReader(io.BufferedReader(fh, 1 << 20), self.input_path))
        self.schema_complete = True

    def read_schema_file(self, path: str) -> None:
        from dumpmask.inputs import check_path, checked

        check_path(path, "the --schema file")
        try:
            fh = open(path, "rb")
        except OSError as e:
            raise DumpmaskError(f"cannot read schema file {path}: {e.strerror}") from None
        with fh:
            self.adapter.learn_schema(LineReader(io.BufferedReader(checked(fh, path, "the --schema file"), 1 << 20), path))
        self.schema_complete = True

    schema_complete = False
    prepass_for_constraints = True   # preview turns it off: it writes no dump

    def resolve_ref(self, ref: str, child_key) -> TableState:
        """The table a FOREIGN KEY ... REFERENCES names, relative to the referencing table."""
        from dumpmask.schema import _split_qual

        schema, name = _split_qual(ref, self.adapter.name == "postgres")
        if schema is None:
            schema = child_key[0]
        return self.table_state((schema, name))

    def learn_table(self, tschema: TableSchema, line: int | None) -> TableState:
        ts = self.table_state((tschema.schema, tschema.name))
        if ts.schema is None or not ts.schema.columns:
            tschema.line = line
            ts.schema = tschema
        else:
            # seen in a pre-pass (or a --schema file): keep the constraints learnt there; an
            # extension may check that the dump's own CREATE TABLE says the same
            for ext in self.extensions:
                hook = getattr(ext, "table_redeclared", None)
                if hook is not None:
                    hook(self, ts, tschema, line)
        return ts

    def note_data_table(self, key, line: int | None) -> None:
        """A schema pass saw data (COPY / INSERT) for this table."""
        ts = self.table_state(key)
        self.data_tables.setdefault(ts.key, line)


def build_engine(rules: RuleSet | None = None, key: Key | None = None, *, dialect: str | None = None,
                 source: str = "<stdin>", strict: bool = False, progress: bool = False, warn=None,
                 input_path: str | None = None, schema_path: str | None = None, template: str | None = None,
                 first: int | None = None, last: int | None = None, transfer: dict | None = None,
                 output_name: str = "-") -> Engine:
    """The one way a run is put together (CLI, preview, library): an Engine with the features
    its rules and options ask for (identifier remapping, detection / templates, partial
    transfer) installed, so the same rules and options give the same bytes everywhere.

    first / last: keep only the first / last N rows of each table (the CLI's --first / --last;
    `transfer` is the same as a dict, {"mode": "first", "rows": N})."""
    from dumpmask.features import install

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
    eng = Engine(rules=rules, key=key, dialect=dialect, source=source, strict=strict, progress=progress, warn=warn,
                 input_path=input_path, schema_path=schema_path, template=template, transfer=transfer,
                 output_name=output_name)
    install(eng)
    return eng


class Progress:
    """A progress line on stderr (only when it is a terminal)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.t0 = time.monotonic()
        self.last = 0.0

    def update(self, nbytes: int, table: str | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.5:
            return
        self.last = now
        el = max(now - self.t0, 1e-6)
        sys.stderr.write(f"\rdumpmask: {nbytes / 1e6:9.1f} MB  {nbytes / 1e6 / el:6.1f} MB/s  {table or '':<40.40}")
        sys.stderr.flush()

    def done(self):
        if self.enabled and self.last:
            sys.stderr.write("\n")
