"""--template and --strict: detection while masking.

* `--template T`: every detected column in template T that the rules file does not mention
  gets the suggested mutation (detect.suggest_rule); explicit rules win, `keep` included.
  The HIPAA template also turns identifier remapping on (features.install adds KeyRemapping).
* `--strict` (fail closed): a detected column that no rule covers (neither the rules file nor
  the template; `keep` is an explicit, audited decision) stops the run with StrictError
  (exit 1) before that table's data is written, listing every uncovered column known and a
  rules snippet to paste.

Where the evidence comes from:
* by name: every CREATE TABLE seen (a pre-pass in strict mode on a regular file, else the
  tables seen so far on a pipe);
* by content: on a regular input file, a bounded pre-pass samples the first N rows of every
  table (engine.sample_input) before anything is written; with --strict the run then fails
  before its first byte of output if anything is uncovered, listing all of it.
  On a pipe nothing can be read twice: the adapter holds back the first N rows of each
  table's first data statement (a COPY block's first N rows; the rows of the first INSERT
  statement, at most N) and hands them to sample() before writing any of that table's data,
  so content detection runs on those rows and --strict still fails before the table's data.
"""
from __future__ import annotations

import os
import stat

import orjson

from dumpmask.errors import StrictError
from dumpmask.features.base import Stage
from dumpmask.rules import ColumnRule, NamePattern
from dumpmask.idents import display_name as qualname


def _regular_file(path) -> bool:
    if not path:
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def explicit_rules(*args):
    """coverage.explicit_rules (dumpmask.coverage and dumpmask.detect are imported when a run
    detects: --strict or --template; a run without them does not compile their patterns)."""
    from dumpmask.coverage import explicit_rules

    return explicit_rules(*args)


def rules_snippet(*args):
    from dumpmask.coverage import rules_snippet

    return rules_snippet(*args)


class Detection(Stage):
    @staticmethod
    def wanted(engine) -> bool:
        """--strict and --template look at every column's content."""
        return bool(engine.strict or engine.template)

    def __init__(self, sample: int | None = None):
        from dumpmask.coverage import DEFAULT_SAMPLE

        self.sample_size = DEFAULT_SAMPLE if sample is None else sample
        self.content: dict = {}       # table key -> {column: Finding} from the content pre-pass
        self.prepass = False
        self.recorded: set = set()    # (table, column) already in the audit
        self._cache: dict = {}
        self.sampled: set = set()     # tables sampled on a pipe

    # ------------------------------------------------------------------ evidence
    def schema_ready(self, engine) -> None:
        if not _regular_file(engine.input_path):
            return
        smp = engine.sample_input(self.sample_size)
        self.prepass = True
        for key in smp.tables:
            self.content[key] = smp.content_findings(key)
            if smp.tables[key] is not None:
                state = engine.table_state(key)
                if state.schema is None or not state.schema.columns:
                    state.schema = smp.tables[key]
        km = self._keys(engine)
        if km is not None:
            km.compute(engine)  # the keys of the whole schema, before deciding what remapping covers
        if engine.strict:
            missing = self._uncovered_everywhere(engine)
            if missing:
                raise StrictError(self._message(engine, missing))

    def _content_for(self, state) -> dict:
        c = self.content.get(state.key)
        if c is None:
            for k, v in self.content.items():
                if k[1] == state.key[1] and (k[0] is None or state.key[0] is None):
                    return v
        return c or {}

    def findings(self, engine, state, columns=None) -> dict:
        """{column: (Column, Finding)} for a table (name + content)."""
        ck = (state.key, tuple(columns) if columns is not None else None, state.schema is not None)
        f = self._cache.get(ck)
        if f is None:
            from dumpmask.coverage import lookup_in, table_findings

            lookup = lookup_in({k: t.schema for k, t in engine.tables.items()})
            f = self._cache[ck] = table_findings(state.key, state.schema, self._content_for(state), columns, lookup)
        return f

    def _templated(self, engine, f) -> bool:
        from dumpmask.detect import in_template

        return bool(engine.template) and in_template(f, engine.template)

    @staticmethod
    def _keys(engine):
        from dumpmask.features.keys import KeyRemapping

        return next((e for e in engine.stages if isinstance(e, KeyRemapping)), None)

    def _remapped(self, engine, state, cname: str) -> bool:
        """True when identifier remapping rewrites this column (it is in a remapped component)."""
        km = self._keys(engine)
        return km is not None and (state.key, cname) in getattr(km, "node_spec", {})

    def _suggestion(self, engine, state, col, f) -> dict:
        from dumpmask.coverage import suggestion

        return suggestion(f, col, state.schema, engine.dialect.name)

    def _template_covers(self, engine, state, col, f) -> bool:
        """The template covers a finding: a key column only through remapping (never a value
        mutation); any other column when a mutation restores into its type."""
        if not self._templated(engine, f):
            return False
        if f.key:
            return self._remapped(engine, state, col.name)
        sug = self._suggestion(engine, state, col, f)
        if sug["mutation"] == "key":
            return False  # a unique small integer: only a `key` rule (a permutation) keeps it unique
        return not (sug["mutation"] == "keep" and sug.get("review"))

    def _covered(self, engine, state, col, f) -> bool:
        return (bool(f.key) and self._remapped(engine, state, col.name)) or self._template_covers(engine, state, col, f)

    def _uncovered(self, engine, state, columns) -> list[dict]:
        """Detected columns of a table (among `columns`, the data columns) that neither an
        explicit rule nor the template covers."""
        found = self.findings(engine, state, columns)
        if not found:
            return []
        explicit = explicit_rules(engine.rules, state.key, list(columns), engine.dialect.name, engine.table_rules(state))
        out = []
        for cname, (col, f) in found.items():
            if cname not in columns or cname in explicit or self._covered(engine, state, col, f):
                continue
            sug = self._suggestion(engine, state, col, f)
            out.append({"table": qualname(state.key), "table_key": [state.key[0], state.key[1]], "column": cname,
                        "category": f.category, "evidence": f.evidence,
                        "suggested": sug["mutation"], "suggested_options": sug.get("options", {}),
                        "review": f.review, "key": f.key, "type": col.type or col.kind,
                        "no_fit": sug["mutation"] == "keep" and bool(sug.get("review"))})
        return out

    def _uncovered_everywhere(self, engine) -> list[dict]:
        out = []
        for key, state in sorted(engine.tables.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
            if state.schema is None or not state.schema.columns:
                continue
            out.extend(self._uncovered(engine, state, state.schema.data_columns()))
        return out

    def _message(self, engine, missing: list[dict]) -> str:
        lines = [f"--strict: {len(missing)} column(s) hold personal data that no rule covers "
                 f"(add a rule; \"keep\" lets one through on purpose, audited):"]
        for m in missing:
            if m.get("key"):
                dom = (m.get("suggested_options") or {}).get("domain")
                how = (f"a key rule {{\"column\": \"{m['column']}\", \"mutation\": \"key\", \"options\": {{\"domain\": \"{dom}\"}}}}"
                       if dom else "options.identifierRemapping.enabled: true (or a \"key\" rule)")
                lines.append(f"  {m['table']}.{m['column']}: {m['category']} ({m['evidence']}), a {m['key']}: "
                             f"not remapped; needs identifier remapping: {how}")
            elif m.get("no_fit"):
                lines.append(f"  {m['table']}.{m['column']}: {m['category']} ({m['evidence']}): no mutation restores "
                             f"into type {m.get('type')}: decide with an explicit rule (\"keep\" is audited)")
            else:
                lines.append(f"  {m['table']}.{m['column']}: {m['category']} ({m['evidence']}), suggested {m['suggested']}")
        snippet = "[\n  " + ",\n  ".join(orjson.dumps(t).decode() for t in rules_snippet(missing, engine.dialect.name)) + "\n]"
        lines.append("rules to paste into the \"tables\" list of " + (engine.rules.path or "your rules file") + ":")
        lines.append(snippet)
        if not self.prepass:
            lines.append("(read from a pipe: columns detected in the tables seen so far, by name and by the "
                         "content of their first rows)")
        return "\n".join(lines)

    # ------------------------------------------------------------------ hooks
    def wants_sample(self, engine, state) -> bool:
        return not self.prepass and state.key not in self.sampled

    def sample(self, engine, state, columns, rows) -> None:
        from dumpmask.detect import ContentSampler

        self.sampled.add(state.key)
        s = ContentSampler(limit=self.sample_size)
        for row in rows[: self.sample_size]:
            for c, v in zip(columns, row):
                s.add(c, v, state.schema.column(c) if state.schema is not None else None)
        self.content[state.key] = s.findings()
        self._cache = {k: v for k, v in self._cache.items() if k[0] != state.key}

    def wants_table(self, engine, state) -> bool:
        if self.wants_sample(engine, state):
            return True  # its first rows must be looked at before anything of it is written
        cols = state.schema.data_columns() if state.schema is not None else None
        found = self.findings(engine, state, cols)
        if not found:
            return False
        if engine.strict:
            return True
        return any(self._templated(engine, f) for _, f in found.values())

    def extend_plan(self, engine, state, columns, plan):
        found = self.findings(engine, state, columns)
        if not found:
            return plan
        qual = qualname(state.key)
        explicit = explicit_rules(engine.rules, state.key, list(columns), engine.dialect.name, engine.table_rules(state))
        by_index = {p.index: p for p in plan}
        if engine.strict:
            missing = self._uncovered(engine, state, columns)
            if missing:
                others = [m for m in self._uncovered_everywhere(engine) if m["table"] != qual]
                raise StrictError(self._message(engine, missing + others))
        for cname, (col, f) in found.items():
            try:
                idx = columns.index(cname)
            except ValueError:
                continue  # generated column: not in the data
            cr = explicit.get(cname)
            p = by_index.get(idx)
            if cr is not None:
                if p is not None and getattr(p.stats, "category", None) is None:
                    p.stats.category = f.category
                if cr.mutation == "keep":
                    self._record(engine, qual, cname, f, "keep", cr.where)
                continue
            if f.key:
                # a key: identifier remapping rewrites it (its own plan), never a value mutation
                if not self._remapped(engine, state, cname):
                    self._record(engine, qual, cname, f, "uncovered", None)
                continue
            if self._template_covers(engine, state, col, f):
                sug = self._suggestion(engine, state, col, f)
                cr = self._template_rule(engine, cname, sug)
                cr.category = f.category
                p = engine.make_column_plan(state, idx, col, cr)
                plan.append(p)
                if sug["mutation"] == "keep":
                    self._record(engine, qual, cname, f, "keep", cr.where)
                continue
            self._record(engine, qual, cname, f, "uncovered", None)
        return plan

    def _template_rule(self, engine, cname: str, sug: dict) -> ColumnRule:
        from dumpmask.transformers import parse_mutation

        where = f"template:{engine.template}"
        cls, arg = parse_mutation(sug["mutation"], where)
        options = cls.validate_options(sug.get("options") or {}, where=where)
        return ColumnRule(NamePattern(None, cname, text=cname), sug["mutation"], cls, arg, options, where,
                          source=where, matched=True)

    def _record(self, engine, table: str, column: str, f, decision: str, where) -> None:
        k = (table, column)
        if k in self.recorded:
            return
        self.recorded.add(k)
        entry = {"table": table, "column": column, "category": f.category, "evidence": f.evidence, "decision": decision}
        if where:
            entry["rule"] = where
        engine.audit.data["detected_uncovered"].append(entry)
        if decision == "uncovered":
            if f.key:
                engine.warn(f"{table}.{column}: {f.category} ({f.evidence}) detected on a {f.key}, not remapped: written "
                         "unmasked (turn options.identifierRemapping on, or add a \"key\" rule)")
            else:
                engine.warn(f"{table}.{column}: {f.category} ({f.evidence}) detected, not covered by any rule: written unmasked")

    def finish(self, engine) -> None:
        # tables whose data never went through a plan (no data, or no template category):
        # their detected, uncovered columns still belong in the audit
        for key, state in list(engine.tables.items()):
            if state.schema is None or not state.schema.columns:
                continue
            cols = state.schema.data_columns()
            found = self.findings(engine, state, cols)
            if not found:
                continue
            qual = qualname(key)
            explicit = explicit_rules(engine.rules, key, cols, engine.dialect.name, engine.table_rules(state))
            for cname, (col, f) in found.items():
                if (qual, cname) in self.recorded or cname not in cols:
                    continue
                cr = explicit.get(cname)
                if cr is not None:
                    if cr.mutation == "keep":
                        self._record(engine, qual, cname, f, "keep", cr.where)
                    continue
                if self._covered(engine, state, col, f):
                    continue  # the template or remapping covers it (a table without data)
                self._record(engine, qual, cname, f, "uncovered", None)
