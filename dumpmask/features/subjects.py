"""Subject erasure and extraction: `--erase TABLE:KEY[,KEY...]` removes a data subject's row and
every row that references it, transitively along the foreign keys (a customer, their rentals,
their payments); `--only TABLE:KEY[,KEY...]` keeps just those subjects, every row that
references them (transitively) and every row those rows reference (the parents a restore
needs), nothing else. Both keep every constraint valid and need INPUT as a regular file: the
rows to remove or keep are found in passes over it before anything is written
(features/closure.py; memory: the ordinals and key-column values of the rows removed or
kept). The rules' `options.subjects` ({"erase": [...], "only": [...]}, the same strings) asks
for the same.

KEY is the primary key's value as the dump holds it, as text; a composite key is written in
parentheses, its values in the key's column order: `order_line:(7,2)`; a value holding a comma,
a parenthesis or a double quote is written in double quotes ("" for a quote in it). The audit's
`subjects` section lists per table the rows removed (erase) or kept (only), and how many keys
were asked for and found, never the keys themselves (the audit travels with the copy; the
subject of a deletion request must not be named in it).

With partial transfer (--first / --last) as well, erasure comes first: the cut picks the
first / last N of the rows erasure leaves, and partial transfer's filter writes the result
(this stage's own filter is then not installed: one filter counts the rows). --only with
partial transfer is refused (two selections of the rows to keep).
"""
from __future__ import annotations

import sys

from dumpmask.errors import MaskingError, RulesError
from dumpmask.features import closure
from dumpmask.features.base import Stage
from dumpmask.idents import display_name
from dumpmask.subject_keys import parse_subject

_qual = display_name


def subjects_of(engine) -> dict:
    """{"erase": [(option text, table, keys)], "only": [...]} from the CLI and the rules."""
    got: dict = {"erase": [], "only": []}
    opts = engine.rules.options.get("subjects") or {}
    for mode in ("erase", "only"):
        for text in opts.get(mode, ()):
            got[mode].append((text, *parse_subject(text, f"options.subjects.{mode}")))
        for text in (getattr(engine, "subjects", None) or {}).get(mode, ()):
            got[mode].append((text, *parse_subject(text, f"--{mode}")))
    return got


class Subjects(Stage):
    memory_structures = ("keys",)     # --max-memory (memory.Budget.for_structures)
    needs_schema = True
    drops_rows = True   # table rules with "action": "drop" (features.install refuses them without this stage)

    @staticmethod
    def wanted(engine) -> bool:
        cli = getattr(engine, "subjects", None) or {}
        return bool(cli.get("erase") or cli.get("only") or engine.rules.options.get("subjects")
                    or any(tr.action == "drop" for tr in engine.rules.tables))

    def start(self, engine) -> None:
        self.asked = subjects_of(engine)
        self.mode = "only" if self.asked["only"] else "erase" if self.asked["erase"] else "drop"
        self.kept = None          # lk -> ordinals kept (only), or None
        self.removed = None       # lk -> ordinals removed (erase, drop), or None
        self.counters: dict = {}
        self.file = engine.input_is_file()
        self.absorbed = self.file and any(type(s).__name__ == "Subset" for s in engine.stages)
        self.drop_rules = [tr for tr in engine.rules.tables if tr.action == "drop"]
        transfer = engine.transfer or engine.rules.transfer or {}
        self.ri = (engine.rules.transfer or {}).get("referentialIntegrity", transfer.get("referentialIntegrity", True))
        self.pipe = None          # drop rules on a pipe: the rows are dropped as they come (_PipeDrop)
        self._conditions: dict = {}
        self.matched: dict = {}   # rule path -> rows its condition matched
        self.record = {"mode": self.mode, "subjects": [], "tables": {}}
        if self.drop_rules:
            self.record["drop_rules"] = []
        engine.audit.data["subjects"] = self.record
        if self.asked["only"] and self.absorbed:
            raise RulesError("--only keeps one subject's rows: it cannot be combined with partial transfer "
                             "(--first / --last or the rules' transfer)")
        if (self.asked["erase"] or self.asked["only"]) and not self.file:
            raise RulesError("--erase and --only read the dump twice (to find the rows that reference a subject "
                             "before writing any): give INPUT as a regular file, not a pipe or a pg_dump archive")
        if self.drop_rules and not self.ri:
            engine.warn('"action": "drop" without referential integrity: rows that reference a dropped row are kept, '
                        "so the result may not restore with its foreign keys")
            self.record["may_not_restore"] = True

    # ---------------------------------------------------------------- drop rules
    def conditions(self, engine, state, columns) -> list:
        """[(table rule, Condition)] of the drop rules that apply to a table's data columns."""
        key = (state.key, tuple(columns))
        got = self._conditions.get(key)
        if got is None:
            from dumpmask.conditions import compile_condition

            got = self._conditions[key] = [
                (tr, compile_condition(tr.where_spec, state.schema, engine.dialect.name, f"{tr.where}.where",
                                       engine.rules.path, columns=list(columns)))
                for tr in engine.table_rules(state) if tr.action == "drop"]
        return got

    def _match(self, conds, values) -> bool:
        hit = False
        for tr, cond in conds:
            if cond(values):
                self.matched[tr.where] = self.matched.get(tr.where, 0) + 1
                hit = True
        return hit

    # ---------------------------------------------------------------- the subjects
    def _table(self, engine, table: str, option: str):
        """The TableState of a subject's TABLE (schema.name or name), with data and a primary key."""
        from dumpmask import idents

        schema, name = idents.split_qual(table, idents.PG if engine.dialect.name == "postgres" else idents.MY)
        same = engine.dialect.same_name
        hits = [s for k, s in engine.tables.items() if s.schema is not None and same(k[1], name)
                and (schema is None or k[0] is None or same(k[0], schema))]
        if not hits:
            raise RulesError(f"{option}: no table {table!r} in the dump")
        if len(hits) > 1:
            raise RulesError(f"{option}: {table!r} names several tables ({', '.join(_qual(s.key) for s in hits)}): "
                             "qualify it with its schema")
        state = hits[0]
        if not state.schema.primary_key:
            raise RulesError(f"{option}: table {_qual(state.key)} has no primary key: a subject is found by its "
                             "primary key's value")
        return state

    def schema_ready(self, engine) -> None:
        graph = self.graph = closure.Graph(engine)
        if not self.file:
            self._pipe_ready(engine)
            return
        seeds = []   # (mode, option text, lk, key cols, keys)
        for mode in ("erase", "only"):
            for text, table, keys in self.asked[mode]:
                state = self._table(engine, table, f"--{mode} {text!r}")
                pk = tuple(state.schema.primary_key)
                for key in keys:
                    if len(key) != len(pk):
                        raise RulesError(f"--{mode} {text!r}: table {_qual(state.key)} has a primary key of "
                                         f"{len(pk)} column(s) ({', '.join(pk)}): give each key as "
                                         + ("(" + ",".join("v" for _ in pk) + ")" if len(pk) > 1 else "one value"))
                lk = graph.root(state).key
                graph.columns[lk].update(pk)
                seeds.append((mode, text, lk, pk, keys))
        path = engine.input_path
        removed: dict = {}
        passes = 0
        if self.asked["erase"] or self.drop_rules:
            marks = closure.Marks(graph, up=False, down=True, what="--erase" if self.asked["erase"] else "drop rules")
            for mode, _text, lk, pk, keys in seeds:
                if mode == "erase":
                    for key in keys:
                        marks.seed(lk, pk, key, closure.DOWN)
            # a dropped row's children go too (DOWN), or, without referential integrity, it alone (UP:
            # no need follows it, since parents are not followed here)
            drop_kind = closure.DOWN if self.ri else closure.UP

            def first_pass(lk, tkey, columns, n0, nrows, raw_fields, decode, names):
                conds = self.conditions(engine, engine.table_state(tkey), columns)
                if not conds:
                    return
                for r in range(nrows):
                    values = {c: (None if f is None else decode(f)) for c, f in zip(names, raw_fields(r), strict=False)}
                    if self._match(conds, values):
                        marks.mark(lk, n0 + r, values, drop_kind)

            def columns_of(tkey, columns):
                return {c for _tr, cond in self.conditions(engine, engine.table_state(tkey), columns) for c in cond.columns}

            marks.run(engine, path, first_pass=first_pass if self.drop_rules else None,
                      columns_of=columns_of if self.drop_rules else None)
            self._record_drop_rules(engine)
            passes += marks.passes
            removed = {lk: set(rows) for lk, rows in marks.rows.items() if rows}
            self._found(engine, marks, seeds, "erase")
            self.removed = removed
            for lk, rows in removed.items():
                self.record["tables"][_qual(lk)] = {"removed": len(rows)}
        if self.asked["only"]:
            marks = closure.Marks(graph, up=True, down=True, excluded=removed, what="--only")
            for mode, _text, lk, pk, keys in seeds:
                if mode == "only":
                    for key in keys:
                        marks.seed(lk, pk, key, closure.DOWN)
            marks.run(engine, path)
            passes += marks.passes
            self._found(engine, marks, seeds, "only")
            kept = {lk: dict(rows) for lk, rows in marks.rows.items()}
            orphans = closure.cut_orphans(graph, kept, marks.totals, frozenset())
            engine.audit.data["parents_added"] = closure.parents_record(
                closure.parents_added(graph, kept, lambda _lk, _o, r: r[0] != closure.DOWN))
            self.kept = {lk: set(rows) for lk, rows in kept.items()}
            for lk in marks.totals:
                rows = kept.get(lk, {})
                down = sum(1 for r in rows.values() if r[0] == closure.DOWN)
                entry = {"kept": len(rows), "subjects_and_descendants": down, "added_as_parents": len(rows) - down}
                if orphans.get(lk):
                    entry["orphaned"] = orphans[lk]
                self.record["tables"][_qual(lk)] = entry
        self.record["passes"] = passes
        engine.rows_removed = removed   # partial transfer (subset.py) picks its rows among the others

    def _record_drop_rules(self, engine) -> None:
        self.record["drop_rules"] = [{"rule": tr.where, "table": tr.table.text, "where": _condition_text(tr),
                                      "rows_matched": self.matched.get(tr.where, 0)} for tr in self.drop_rules]

    def _found(self, engine, marks, seeds, mode: str) -> None:
        for m, text, lk, pk, keys in seeds:
            if m != mode:
                continue
            have = marks.have[(lk, pk)]
            missing = [k for k in keys if k not in have]
            self.record["subjects"].append({"option": mode, "table": _qual(lk), "keys": len(keys),
                                            "found": len(keys) - len(missing)})
            if not missing:
                continue
            shown = ", ".join("(" + ",".join(k) + ")" if len(k) > 1 else k[0] for k in missing)
            if mode == "only":
                raise MaskingError(f"--only {text!r}: no row of {_qual(lk)} has the key {shown}"
                                   + (" (or it is removed by --erase)" if marks.excluded else ""))
            engine.warn(f"--erase {text!r}: no row of {_qual(lk)} has the key {shown}: nothing of it to erase "
                        "(a key already erased, or a wrong key)")

    # ---------------------------------------------------------------- writing pass
    def wants_table(self, engine, state) -> bool:
        """A table's data is parsed when rows of it may go: on a pipe (drop rules) every table;
        with --only every table (those with no row kept are emptied); else the tables that
        lose rows (the others pass through as bytes)."""
        if self.pipe is not None:
            self.pipe.data_starts(engine, state)
            return True
        if self.kept is not None or self.removed is None:
            return True
        return bool(self.removed.get(self.graph.root(state).key))

    # ---------------------------------------------------------------- drop rules on a pipe
    def _pipe_ready(self, engine) -> None:
        """Drop rules on a pipe: each row is tested as it comes; with referential integrity, a
        dropped row's key values are remembered so that rows referencing them, later in the
        dump, are dropped too. That needs the foreign keys before the data: pg_dump writes them
        after it (give a file or --schema); mysqldump in each CREATE TABLE."""
        if self.ri and engine.dialect.name == "postgres" and not engine.schema_complete:
            raise RulesError('"action": "drop" on a pipe: pg_dump writes the foreign keys after the data, so the rows '
                             "that reference a dropped row cannot be known in time: give INPUT as a regular file, "
                             "pass --schema FILE (pg_dump --schema-only), or set \"referentialIntegrity\": false in the "
                             "rules' transfer options (then the result may not restore)")
        self.pipe = _PipeDrop(self)

    def finish(self, engine) -> None:
        if self.pipe is not None:
            self.pipe.finish(engine)
        if self.drop_rules and self.pipe is not None:
            self._record_drop_rules(engine)
            for lk, n in self.pipe.removed.items():
                self.record["tables"][_qual(lk)] = {"removed": n}

    def row_filter(self, engine, state, columns, line, sql=False):
        if self.pipe is not None:
            return self.pipe.filter(engine, state, columns, sql)
        if self.absorbed:
            return None   # partial transfer's filter leaves out the removed rows (subset.py)
        lk = self.graph.root(state).key
        if self.kept is not None:
            return closure.PositionFilter(self.counters, lk, self.kept.get(lk, set()))
        gone = (self.removed or {}).get(lk)
        return closure.PositionFilter(self.counters, lk, gone, complement=True) if gone else None


def _condition_text(tr) -> str:
    import orjson

    return orjson.dumps(tr.where_spec).decode()


GONE_COST = 160   # bytes, about, of one dropped row's key values in a set beyond its strings (tests/test_memory.py)


class _PipeDrop:
    """Drop rules on a pipe (see Subjects._pipe_ready): the row filter of each data statement,
    and the checks that no row referencing a dropped row was written before it was dropped."""

    def __init__(self, stage: Subjects):
        self.stage = stage
        self.gone: dict = {}            # (lk, referenced cols) -> key values of dropped rows
        self.seen: list = []            # logical tables in the order their data came
        self.removed: dict = {}         # lk -> rows dropped
        self.used = 0                   # --max-memory: bytes the key values in `gone` hold, about

    def _graph(self, engine):
        """The foreign keys learnt so far (MySQL's CREATE TABLEs come one by one), rebuilt when
        a table or a foreign key was added."""
        sig = (len(engine.tables), sum(len(s.schema.foreign_keys) for s in engine.tables.values() if s.schema is not None))
        if getattr(self, "_sig", None) != sig:
            self._sig, self._g = sig, closure.Graph(engine)
        return self._g

    def _may_drop(self, engine, graph) -> set:
        """Logical tables that can lose rows: those with a drop rule and, with referential
        integrity, every table below them."""
        roots = set()
        for state in list(engine.tables.values()):
            if state.schema is not None and any(tr.action == "drop" for tr in engine.table_rules(state)):
                roots.add(graph.root(state).key)
        if not self.stage.ri:
            return roots
        out, todo = set(roots), list(roots)
        while todo:
            lk = todo.pop()
            for _p, clk, _c in graph.down.get(lk, ()):
                if clk not in out:
                    out.add(clk)
                    todo.append(clk)
        return out

    def data_starts(self, engine, state) -> None:
        graph = self._graph(engine)
        lk = graph.root(state).key
        if lk in self.seen:
            return
        if self.stage.ri and lk in self._may_drop(engine, graph):
            for _p, clk, _c in graph.down.get(lk, ()):
                if clk == lk or clk in self.seen:
                    why = ("it references itself, and a row may come before the row it references" if clk == lk
                           else f"the data of {_qual(clk)}, which references it, came before it")
                    raise MaskingError(f"{engine.source}: \"action\": \"drop\" on a pipe: rows of {_qual(lk)} may be "
                                       f"dropped, but {why}: give INPUT as a regular file (then it is read twice)")
        self.seen.append(lk)

    def filter(self, engine, state, columns, sql: bool):
        graph = self._graph(engine)
        lk = graph.root(state).key
        conds = self.stage.conditions(engine, state, columns)
        ri = self.stage.ri
        parents = [(ccols, plk, pcols) for ccols, plk, pcols in graph.up.get(lk, ()) if ri]
        for _cc, plk, pcols in parents:
            if self.removed.get(plk) and (plk, pcols) not in self.gone:
                raise MaskingError(f"{engine.source}: \"action\": \"drop\" on a pipe: rows of {_qual(plk)} were dropped "
                                   f"and {_qual(lk)} references it by ({', '.join(pcols)}), which is not its primary key "
                                   "or a unique key: the values of the dropped rows are not known; give INPUT as a "
                                   "regular file")
        # the key values a dropped row leaves behind: those foreign keys learnt so far reference, and
        # its primary and unique keys (a table declared later can only reference those)
        offered = []
        if ri:
            root = graph.root(state)
            sch = root.schema if root.schema is not None else state.schema
            cands = [pcols for pcols, _clk, _cc in graph.down.get(lk, ())]
            if sch is not None:
                cands += ([tuple(sch.primary_key)] if sch.primary_key else []) + [tuple(u) for u in sch.unique]
            offered = [c for c in dict.fromkeys(cands) if all(x in columns for x in c)]
            for pcols in offered:
                self.gone.setdefault((lk, pcols), set())
        if not conds and not any(self.gone.get((plk, pcols)) for _c, plk, pcols in parents):
            return None
        want = {c for _tr, cond in conds for c in cond.columns}
        want |= {c for ccols, _p, _pc in parents for c in ccols} | {c for pcols in offered for c in pcols}
        idx = [(i, c) for i, c in enumerate(columns) if c in want]
        decode = engine.dialect.decode_sql_field if sql else engine.dialect.decode_copy_field
        gone, removed, match = self.gone, self.removed, self.stage._match
        cap = engine.memory.share("keys")

        def keep(fields):
            values = {c: (None if i >= len(fields) or fields[i] is None else decode(fields[i])) for i, c in idx}
            drop = match(conds, values) if conds else False
            if not drop:
                for ccols, plk, pcols in parents:
                    val = tuple(values.get(c) for c in ccols)
                    if None not in val and val in gone.get((plk, pcols), ()):
                        drop = True
                        break
            if not drop:
                return fields
            removed[lk] = removed.get(lk, 0) + 1
            for pcols in offered:
                val = tuple(values.get(c) for c in pcols)
                if None not in val:
                    gone.setdefault((lk, pcols), set()).add(val)
                    if cap is not None:
                        self._charge(engine, lk, cap, val)
            return None
        return keep

    def _charge(self, engine, lk, cap: int, val: tuple) -> None:
        """A dropped row's key values, remembered (referential integrity on a pipe): counted
        against the budget's "keys" share; past it the run stops (exit 1) naming the table."""
        self.used += GONE_COST + sum(sys.getsizeof(v) for v in val)
        if self.used > cap:
            engine.memory.fail("keys", self.used, f"{engine.source}: drop rules: table {_qual(lk)}",
                               f"{sum(self.removed.values()):,} rows dropped so far, whose key values the rows that "
                               "reference them are checked against", at_least=True)

    def finish(self, engine) -> None:
        """With the whole schema known at last: no table whose data came before a table it
        references lost rows there (a foreign key learnt after both)."""
        if not self.stage.ri:
            return
        graph = self._graph(engine)
        order = {lk: i for i, lk in enumerate(self.seen)}
        for (plk, _pcols), vals in self.gone.items():
            if not vals:
                continue
            for _p, clk, _c in graph.down.get(plk, ()):
                if clk in order and order[clk] < order.get(plk, -1):
                    raise MaskingError(f"{engine.source}: \"action\": \"drop\" on a pipe: rows of {_qual(plk)} were "
                                       f"dropped, but the data of {_qual(clk)}, which references it, came before it and "
                                       "was written: give INPUT as a regular file")
