"""The stage interface (see the package's docstring for what each hook is for)."""
from __future__ import annotations


class Stage:
    needs_schema = False
    #: what this stage keeps that grows with the input: keys of memory.SHARES (--max-memory
    #: scales every share down when the run's structures add up to more than the whole)
    memory_structures: tuple[str, ...] = ()

    def start(self, engine) -> None:
        pass

    def schema_ready(self, engine) -> None:
        pass

    def wants_table(self, engine, state) -> bool:
        return False

    def extend_plan(self, engine, state, columns, plan):
        return plan

    def row_filter(self, engine, state, columns, line, sql=False):
        return None

    def wants_sample(self, engine, state) -> bool:
        """True when the engine should hold back the first rows of this table's data and pass
        them (decoded) to sample() before anything of that data is written."""
        return False

    def sample(self, engine, state, columns, rows) -> None:
        pass

    def finish(self, engine) -> None:
        pass
