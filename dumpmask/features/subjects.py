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

from dumpmask.errors import MaskingError, RulesError
from dumpmask.features import closure
from dumpmask.features.base import Stage
from dumpmask.idents import display_name

_qual = display_name


def parse_subject(text: str, option: str) -> tuple[str, list[tuple]]:
    """'TABLE:KEY[,KEY...]' -> (TABLE, [key tuples]); RulesError (exit 2) when malformed. The
    message quotes the option's text: it is what the user typed."""
    table, sep, rest = _split_table(text)
    if not sep or not table or not rest:
        raise RulesError(f"{option} {text!r}: expected TABLE:KEY[,KEY...] (a composite key as TABLE:(a,b))")
    keys, pos, n = [], 0, len(rest)
    while pos < n:
        if rest[pos] == "(":
            parts, pos = _values(rest, pos + 1, ")", text, option)
            keys.append(tuple(parts))
        else:
            parts, pos = _values(rest, pos, None, text, option, single=True)
            keys.append(tuple(parts))
        if pos < n:
            if rest[pos] != ",":
                raise RulesError(f"{option} {text!r}: expected ',' between keys")
            pos += 1
            if pos == n:
                raise RulesError(f"{option} {text!r}: a key is missing after the last ','")
    return table, keys


def _split_table(text: str):
    """TABLE and the rest at the first ':' outside double quotes and backquotes."""
    quote = None
    for i, ch in enumerate(text):
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in '"`':
            quote = ch
        elif ch == ":":
            return text[:i], ":", text[i + 1:]
    return text, "", ""


def _values(s: str, pos: int, close, text, option, single=False):
    """The comma-separated values from s[pos:] up to `close` (a composite key) or, single,
    one value up to the next ',' or the end; a value may be double-quoted."""
    out = []
    n = len(s)
    while True:
        if pos < n and s[pos] == '"':
            buf, pos = [], pos + 1
            while True:
                if pos >= n:
                    raise RulesError(f"{option} {text!r}: an unterminated double quote")
                if s[pos] == '"':
                    if pos + 1 < n and s[pos + 1] == '"':
                        buf.append('"')
                        pos += 2
                        continue
                    pos += 1
                    break
                buf.append(s[pos])
                pos += 1
            out.append("".join(buf))
        else:
            start = pos
            while pos < n and s[pos] not in ",()" and not (s[pos] == '"'):
                pos += 1
            if pos == start:
                raise RulesError(f"{option} {text!r}: an empty key value")
            out.append(s[start:pos])
        if single:
            if pos < n and s[pos] not in ",":
                raise RulesError(f"{option} {text!r}: a key value holding ',', '(' or '\"' must be double-quoted")
            return out, pos
        if pos < n and s[pos] == ",":
            pos += 1
            continue
        if pos < n and s[pos] == close:
            return out, pos + 1
        raise RulesError(f"{option} {text!r}: a composite key must end with ')'")


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
    needs_schema = True

    @staticmethod
    def wanted(engine) -> bool:
        cli = getattr(engine, "subjects", None) or {}
        return bool(cli.get("erase") or cli.get("only") or engine.rules.options.get("subjects"))

    def start(self, engine) -> None:
        self.asked = subjects_of(engine)
        self.mode = "only" if self.asked["only"] else "erase"
        self.kept = None          # lk -> ordinals kept (only), or None
        self.removed = None       # lk -> ordinals removed (erase), or None
        self.counters: dict = {}
        self.absorbed = any(type(s).__name__ == "Subset" for s in engine.stages)
        self.record = {"mode": self.mode, "subjects": [], "tables": {}}
        engine.audit.data["subjects"] = self.record
        if self.asked["only"] and self.absorbed:
            raise RulesError("--only keeps one subject's rows: it cannot be combined with partial transfer "
                             "(--first / --last or the rules' transfer)")
        if not engine.input_is_file():
            raise RulesError("--erase and --only read the dump twice (to find the rows that reference a subject "
                             "before writing any): give INPUT as a regular file, not a pipe or a pg_dump archive")

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
        if self.asked["erase"]:
            marks = closure.Marks(graph, up=False, down=True)
            for mode, _text, lk, pk, keys in seeds:
                if mode == "erase":
                    for key in keys:
                        marks.seed(lk, pk, key, closure.DOWN)
            marks.run(engine, path)
            passes += marks.passes
            removed = {lk: set(rows) for lk, rows in marks.rows.items() if rows}
            self._found(engine, marks, seeds, "erase")
            self.removed = removed
            for lk, rows in removed.items():
                self.record["tables"][_qual(lk)] = {"removed": len(rows)}
        if self.asked["only"]:
            marks = closure.Marks(graph, up=True, down=True, excluded=removed)
            for mode, _text, lk, pk, keys in seeds:
                if mode == "only":
                    for key in keys:
                        marks.seed(lk, pk, key, closure.DOWN)
            marks.run(engine, path)
            passes += marks.passes
            self._found(engine, marks, seeds, "only")
            kept = {lk: dict(rows) for lk, rows in marks.rows.items()}
            orphans = closure.cut_orphans(graph, kept, marks.totals, frozenset())
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
        return True

    def row_filter(self, engine, state, columns, line, sql=False):
        if self.absorbed:
            return None   # partial transfer's filter leaves out the removed rows (subset.py)
        lk = self.graph.root(state).key
        if self.kept is not None:
            return closure.PositionFilter(self.counters, lk, self.kept.get(lk, set()))
        gone = (self.removed or {}).get(lk)
        return closure.PositionFilter(self.counters, lk, gone, complement=True) if gone else None
