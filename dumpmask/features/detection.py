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

from dumpmask.detect import in_template
from dumpmask.errors import StrictError
from dumpmask.features.base import Stage
from dumpmask.rules import ColumnRule, NamePattern
from dumpmask.coverage import DEFAULT_SAMPLE, explicit_rules, lookup_in, rules_snippet, suggestion, table_findings
from dumpmask.idents import display_name as qualname


def _regular_file(path) -> bool:
    if not path:
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


class Detection(Stage):
    @staticmethod
    def wanted(engine) -> bool:
        """--strict and --template look at every column's content."""
        return bool(engine.strict or engine.template)

    def __init__(self, sample: int = DEFAULT_SAMPLE):
        self.sample_size = sample
        self.content: dict = {}       # table key -> {column: Finding} from the content pre-pass
        self.prepass = False
        self.recorded: set = set()    # (table, column) already in the audit
        self._cache: dict = {}
        self.sampled: set = set()     # tables sampled on a pipe

    # ------------------------------------------------------------------ evidence
    def schema_ready(self, eng) -> None:
        if not _regular_file(eng.input_path):
            return
        smp = eng.sample_input(self.sample_size)
        self.prepass = True
        for key in smp.tables:
            self.content[key] = smp.content_findings(key)
            if smp.tables[key] is not None:
                ts = eng.table_state(key)
                if ts.schema is None or not ts.schema.columns:
                    ts.schema = smp.tables[key]
        km = self._keys(eng)
        if km is not None:
            km.compute(eng)  # the keys of the whole schema, before deciding what remapping covers
        if eng.strict:
            missing = self._uncovered_everywhere(eng)
            if missing:
                raise StrictError(self._message(eng, missing))

    def _content_for(self, ts) -> dict:
        c = self.content.get(ts.key)
        if c is None:
            for k, v in self.content.items():
                if k[1] == ts.key[1] and (k[0] is None or ts.key[0] is None):
                    return v
        return c or {}

    def findings(self, eng, ts, columns=None) -> dict:
        """{column: (Column, Finding)} for a table (name + content)."""
        ck = (ts.key, tuple(columns) if columns is not None else None, ts.schema is not None)
        f = self._cache.get(ck)
        if f is None:
            lookup = lookup_in({k: t.schema for k, t in eng.tables.items()})
            f = self._cache[ck] = table_findings(ts.key, ts.schema, self._content_for(ts), columns, lookup)
        return f

    def _templated(self, eng, f) -> bool:
        return bool(eng.template) and in_template(f, eng.template)

    @staticmethod
    def _keys(eng):
        from dumpmask.features.keys import KeyRemapping

        return next((e for e in eng.stages if isinstance(e, KeyRemapping)), None)

    def _remapped(self, eng, ts, cname: str) -> bool:
        """True when identifier remapping rewrites this column (it is in a remapped component)."""
        km = self._keys(eng)
        return km is not None and (ts.key, cname) in getattr(km, "node_spec", {})

    def _suggestion(self, eng, ts, col, f) -> dict:
        return suggestion(f, col, ts.schema, eng.dialect.name)

    def _template_covers(self, eng, ts, col, f) -> bool:
        """The template covers a finding: a key column only through remapping (never a value
        mutation); any other column when a mutation restores into its type."""
        if not self._templated(eng, f):
            return False
        if f.key:
            return self._remapped(eng, ts, col.name)
        sug = self._suggestion(eng, ts, col, f)
        if sug["mutation"] == "key":
            return False  # a unique small integer: only a `key` rule (a permutation) keeps it unique
        return not (sug["mutation"] == "keep" and sug.get("review"))

    def _covered(self, eng, ts, col, f) -> bool:
        return (bool(f.key) and self._remapped(eng, ts, col.name)) or self._template_covers(eng, ts, col, f)

    def _uncovered(self, eng, ts, columns) -> list[dict]:
        """Detected columns of a table (among `columns`, the data columns) that neither an
        explicit rule nor the template covers."""
        found = self.findings(eng, ts, columns)
        if not found:
            return []
        explicit = explicit_rules(eng.rules, ts.key, list(columns), eng.dialect.name, eng.table_rules(ts))
        out = []
        for cname, (col, f) in found.items():
            if cname not in columns or cname in explicit or self._covered(eng, ts, col, f):
                continue
            sug = self._suggestion(eng, ts, col, f)
            out.append({"table": qualname(ts.key), "table_key": [ts.key[0], ts.key[1]], "column": cname, "category": f.category, "evidence": f.evidence,
                        "suggested": sug["mutation"], "suggested_options": sug.get("options", {}),
                        "review": f.review, "key": f.key, "type": col.type or col.kind,
                        "no_fit": sug["mutation"] == "keep" and bool(sug.get("review"))})
        return out

    def _uncovered_everywhere(self, eng) -> list[dict]:
        out = []
        for key, ts in sorted(eng.tables.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
            if ts.schema is None or not ts.schema.columns:
                continue
            out.extend(self._uncovered(eng, ts, ts.schema.data_columns()))
        return out

    def _message(self, eng, missing: list[dict]) -> str:
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
        snippet = "[\n  " + ",\n  ".join(orjson.dumps(t).decode() for t in rules_snippet(missing, eng.dialect.name)) + "\n]"
        lines.append("rules to paste into the \"tables\" list of " + (eng.rules.path or "your rules file") + ":")
        lines.append(snippet)
        if not self.prepass:
            lines.append("(read from a pipe: columns detected in the tables seen so far, by name and by the "
                         "content of their first rows)")
        return "\n".join(lines)

    # ------------------------------------------------------------------ hooks
    def wants_sample(self, eng, ts) -> bool:
        return not self.prepass and ts.key not in self.sampled

    def sample(self, eng, ts, columns, rows) -> None:
        from dumpmask.detect import ContentSampler

        self.sampled.add(ts.key)
        s = ContentSampler(limit=self.sample_size)
        for row in rows[: self.sample_size]:
            for c, v in zip(columns, row):
                s.add(c, v, ts.schema.column(c) if ts.schema is not None else None)
        self.content[ts.key] = s.findings()
        self._cache = {k: v for k, v in self._cache.items() if k[0] != ts.key}

    def wants_table(self, eng, ts) -> bool:
        if self.wants_sample(eng, ts):
            return True  # its first rows must be looked at before anything of it is written
        cols = ts.schema.data_columns() if ts.schema is not None else None
        found = self.findings(eng, ts, cols)
        if not found:
            return False
        if eng.strict:
            return True
        return any(self._templated(eng, f) for _, f in found.values())

    def extend_plan(self, eng, ts, columns, plan):
        found = self.findings(eng, ts, columns)
        if not found:
            return plan
        qual = qualname(ts.key)
        explicit = explicit_rules(eng.rules, ts.key, list(columns), eng.dialect.name, eng.table_rules(ts))
        by_index = {p.index: p for p in plan}
        if eng.strict:
            missing = self._uncovered(eng, ts, columns)
            if missing:
                others = [m for m in self._uncovered_everywhere(eng) if m["table"] != qual]
                raise StrictError(self._message(eng, missing + others))
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
                    self._record(eng, qual, cname, f, "keep", cr.where)
                continue
            if f.key:
                # a key: identifier remapping rewrites it (its own plan), never a value mutation
                if not self._remapped(eng, ts, cname):
                    self._record(eng, qual, cname, f, "uncovered", None)
                continue
            if self._template_covers(eng, ts, col, f):
                sug = self._suggestion(eng, ts, col, f)
                cr = self._template_rule(eng, cname, sug)
                cr.category = f.category
                p = eng.make_column_plan(ts, idx, col, cr)
                plan.append(p)
                if sug["mutation"] == "keep":
                    self._record(eng, qual, cname, f, "keep", cr.where)
                continue
            self._record(eng, qual, cname, f, "uncovered", None)
        return plan

    def _template_rule(self, eng, cname: str, sug: dict) -> ColumnRule:
        from dumpmask.transformers import parse_mutation

        where = f"template:{eng.template}"
        cls, arg = parse_mutation(sug["mutation"], where)
        options = cls.validate_options(sug.get("options") or {}, where=where)
        return ColumnRule(NamePattern(None, cname, text=cname), sug["mutation"], cls, arg, options, where,
                          source=where, matched=True)

    def _record(self, eng, table: str, column: str, f, decision: str, where) -> None:
        k = (table, column)
        if k in self.recorded:
            return
        self.recorded.add(k)
        entry = {"table": table, "column": column, "category": f.category, "evidence": f.evidence, "decision": decision}
        if where:
            entry["rule"] = where
        eng.audit.data["detected_uncovered"].append(entry)
        if decision == "uncovered":
            if f.key:
                eng.warn(f"{table}.{column}: {f.category} ({f.evidence}) detected on a {f.key}, not remapped: written "
                         "unmasked (turn options.identifierRemapping on, or add a \"key\" rule)")
            else:
                eng.warn(f"{table}.{column}: {f.category} ({f.evidence}) detected, not covered by any rule: written unmasked")

    def finish(self, eng) -> None:
        # tables whose data never went through a plan (no data, or no template category):
        # their detected, uncovered columns still belong in the audit
        for key, ts in list(eng.tables.items()):
            if ts.schema is None or not ts.schema.columns:
                continue
            cols = ts.schema.data_columns()
            found = self.findings(eng, ts, cols)
            if not found:
                continue
            qual = qualname(key)
            explicit = explicit_rules(eng.rules, key, cols, eng.dialect.name, eng.table_rules(ts))
            for cname, (col, f) in found.items():
                if (qual, cname) in self.recorded or cname not in cols:
                    continue
                cr = explicit.get(cname)
                if cr is not None:
                    if cr.mutation == "keep":
                        self._record(eng, qual, cname, f, "keep", cr.where)
                    continue
                if self._covered(eng, ts, col, f):
                    continue  # the template or remapping covers it (a table without data)
                self._record(eng, qual, cname, f, "uncovered", None)
