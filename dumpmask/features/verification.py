"""`--verify`: the leak check of `dumpmask verify` on the run's own output, in the same job.

Mode "file" (INPUT a regular file, OUTPUT a file -o FILE): once the masked output is written and
before it is renamed into place (atomic.AtomicFile's temporary file), verify.verification reads
INPUT and the temporary file: every original value of a masked column looked for in the whole
masked dump, as `dumpmask verify INPUT OUTPUT -c RULES` does. Mode "sample" (INPUT on stdin, or
OUTPUT to stdout, a FIFO, a device: the dump cannot be read again): each block is checked in the
work unit as it is masked (verifysample.py: every row's own value given back, and a keyed
sample of each column's values against what the column wrote), the totals merged here.

Either way the audit gets its `verification` section ({"mode", "values_checked",
"columns_checked", "leaks": [{"table", "column", "values"}], "low_risk_repeats", "result"}) and
a leak stops the run (exit 1) naming the columns and counts, never a value: a file output is not
kept, a piped one ends with the line that makes a restore fail. pg_dump archives (-Fc / -Fd)
are refused (exit 2, run.py): verify reads plain dumps only.
"""
from __future__ import annotations

from dumpmask.errors import MaskingError, RulesError
from dumpmask.features.base import Stage


def _named(leaks: list) -> str:
    shown = ", ".join(f"{x['table']}.{x['column']} ({x['values']} value{'s' if x['values'] != 1 else ''})"
                      for x in leaks[:10])
    return shown + (f" and {len(leaks) - 10} more column(s)" if len(leaks) > 10 else "")


class Verification(Stage):
    memory_structures = ("verify",)     # --max-memory (memory.Budget.for_structures)

    @staticmethod
    def wanted(engine) -> bool:
        return bool(getattr(engine, "verify", False))

    def start(self, engine) -> None:
        if not engine.rules.tables:
            raise RulesError("--verify needs a rules file (-c RULES) naming the masked columns")
        readable_output = getattr(engine.destination, "tmp", None) is not None   # an atomic.AtomicFile
        self.mode = "file" if engine.input_is_file() and readable_output else "sample"
        if self.mode == "sample":
            from dumpmask.verifysample import SampleTotals

            self.totals = SampleTotals()
            self.sample_key = engine.key.subkey("verify-sample")
            self.masked_columns = self._tools(engine).masked_columns(engine.rules, engine.dialect.name)

    def checked_plan(self, engine, state, planned) -> None:
        """Sample mode: the plan's blocks are checked in the work unit at the positions verify
        would check (rules with a mutation other than keep) that the plan masks."""
        if self.mode != "sample":
            return
        from dumpmask.verifysample import SampleParams

        plan = planned.plan
        specs = {s.index for s in plan.specs}
        positions = tuple(sorted(i for i in self.masked_columns(state.key, list(plan.columns)) if i in specs))
        if not positions:
            return
        plan.verify = SampleParams(self.sample_key, positions)
        names = [plan.columns[i] for i in positions]
        planned.verify_sink = lambda p, samples: self.totals.add(p.table, names, samples)

    def finish(self, engine) -> None:
        if self.mode == "sample":
            self._record(engine, self.totals.section())

    def output_written(self, engine) -> None:
        if self.mode != "file":
            return
        dst = engine.destination
        dst.flush()
        self._record(engine, self._tools(engine).verification(engine.input_path, dst.tmp, engine.rules, engine.dialect.name,
                                                               getattr(engine, "written_rows", None),
                                                               getattr(engine, "memory", None)))

    @staticmethod
    def _tools(engine):
        """verify's functions, handed in by the command (verify.InJobTools): a feature does not
        import a tool."""
        tools = engine.verify
        if not hasattr(tools, "verification"):
            raise RulesError("--verify: the leak check was asked for without verify's tools (an internal wiring error)")
        return tools

    def _record(self, engine, section: dict) -> None:
        engine.audit.data["verification"] = section
        if section["result"] == "passed":
            return
        kept = ("the output file was not kept" if self.mode == "file" or getattr(engine.destination, "tmp", None)
                else "the output ends with a line that makes a restore fail")
        how = "the masked output, read back" if self.mode == "file" else "a sample of the rows as written"
        if section["result"] == "unverified":
            tables = [x for x in section.get("unpaired", []) if x["values"]]
            raise MaskingError("--verify: original values of masked columns found in masked cells of "
                               + ", ".join(f"{x['table']} ({x['values']} value{'s' if x['values'] != 1 else ''})" for x in tables)
                               + ", whose rows cannot be paired with the input's (row counts differ and the run kept no "
                               f"record of which rows it wrote): not verifiable; {kept}")
        raise MaskingError(f"--verify: original values of masked columns found in {how}: {_named(section['leaks'])}; "
                           f"{kept} (`dumpmask verify` on the files says where, values redacted)")
