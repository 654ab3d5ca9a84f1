"""The audit sidecar: counters per table and column, filled in on the way, written atomically
with orjson (also when the run fails)."""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import os
import time

import orjson

from dumpmask.protection import PROTECTION, weakest
from dumpmask.version import __version__


KEY_CATEGORY = "HIPAA-18 unique identifier"  # a primary / foreign key column: identifies its row


def utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ColumnStats:
    __slots__ = ("mutation", "changed", "nulls", "category", "extra", "protection", "reads")

    def __init__(self, mutation: str, category: str | None = None, extra: dict | None = None,
                 protection: str | None = None):
        self.mutation = mutation
        self.changed = 0
        self.nulls = 0
        self.category = category
        self.extra = extra or {}
        self.protection = protection  # the mutation's declared class (dumpmask/protection.py)
        self.reads: tuple[str, ...] | None = None   # a `template`: the columns of its row it builds the value from

    def protection_ran(self, rows_read: int, siblings: dict | None = None, _seen: frozenset = frozenset()) -> str:
        """The class of what ran on this column: the mutation's, or "kept" when a `where`
        condition left some rows of the table (or all: it matched none) in clear. A value
        built from other columns (`reads`: a template) is no better protected than the weakest
        of them after their own masking (`siblings`: the table's ColumnStats by name; a column
        no rule touched is kept, in clear)."""
        p = self.protection or "kept"
        matched = self.extra.get("rows_matched")
        if "where" in self.extra and isinstance(matched, int) and matched < rows_read:
            p = weakest((p, "kept"))
        if self.reads:
            p = weakest((p, *self.read_classes(rows_read, siblings, _seen).values()))
        return p

    def read_classes(self, rows_read: int, siblings: dict | None, _seen: frozenset = frozenset()) -> dict:
        """{column read: its class after masking} for a template (`reads`)."""
        out = {}
        for name in self.reads or ():
            st = _sibling(siblings, name)
            if st is None or st is self or name in _seen:   # nothing masked it (a cycle is refused at load)
                out[name] = "kept"
            else:
                out[name] = st.protection_ran(rows_read, siblings, _seen | {name})
        return out

    def to_json(self, rows_read: int = 0, siblings: dict | None = None) -> dict:
        d = {"mutation": self.mutation, "changed": self.changed, "nulls": self.nulls, "category": self.category}
        d.update(self.extra)
        d["protection"] = self.protection_ran(rows_read, siblings)
        if self.reads is not None:
            d["reads"] = self.read_classes(rows_read, siblings)
        return d


def _sibling(siblings: dict | None, name: str):
    if not siblings:
        return None
    st = siblings.get(name)
    if st is None:
        low = name.lower()
        st = next((v for k, v in siblings.items() if k.lower() == low), None)
    return st


class TableStats:
    __slots__ = ("rows_read", "rows_written", "columns", "transfer", "selection")

    def __init__(self):
        self.rows_read = 0
        self.rows_written = 0
        self.columns: dict[str, ColumnStats] = {}
        self.transfer = "full"
        self.selection: dict = {}   # which rows were kept and why (features/subset.py, features/subjects.py)

    def to_json(self) -> dict:
        return {"rows": self.rows_written, "rows_read": self.rows_read, "rows_written": self.rows_written,
                "transfer": self.transfer, **self.selection,
                "columns": {k: v.to_json(self.rows_read, self.columns) for k, v in self.columns.items()}}


class Audit:
    def __init__(self):
        self.started = time.time()
        self.data: dict = {
            "tool": "dumpmask", "version": __version__, "status": "running", "error": None,
            "started_at": utcnow(), "finished_at": None, "duration_s": None, "dialect": None,
            "input": {"name": None, "bytes": 0, "sha256": None},
            "output": {"name": None, "bytes": 0, "sha256": None},
            "key": {"fingerprint": None, "ephemeral": None, "label": None, "source": "ephemeral", "weak_key_ok": False}, "reproducible": None,
            "rules": {"file": None, "sha256": None},
            "options": {},
            "tables": {}, "remapped": {}, "sequences": [], "not_remapped": [],
            "unmatched_rules": [], "detected_uncovered": [], "warnings": [], "passthrough": {},
        }
        self.tables: dict[str, TableStats] = {}
        self.passthrough: dict[str, int] = {}
        self._warned: set[str] = set()

    def table(self, qualname: str) -> TableStats:
        t = self.tables.get(qualname)
        if t is None:
            t = self.tables[qualname] = TableStats()
        return t

    def warn(self, message: str, echo=None) -> None:
        if message in self._warned:
            return
        self._warned.add(message)
        self.data["warnings"].append(message)
        if echo:
            echo(message)

    def count_passthrough(self, kind: str) -> None:
        self.passthrough[kind] = self.passthrough.get(kind, 0) + 1

    def finish(self, status: str, error: str | None = None) -> dict:
        self.data["status"] = status
        self.data["error"] = error
        self.data["finished_at"] = utcnow()
        self.data["duration_s"] = round(time.time() - self.started, 3)
        self.data["tables"] = {k: v.to_json() for k, v in self.tables.items()}
        self.data["passthrough"] = dict(sorted(self.passthrough.items()))
        return self.data

    # ------------------------------------------------------------------ what the run did
    def record_columns(self, tables, unclassified=()) -> None:
        """The column inventory: `columns_detected` and `columns_unclassified` (see README).

        tables: (qualname, [(column name, Finding or None, explicit rule mutation or None,
        in a primary or foreign key)]) for every table whose CREATE TABLE was seen, data columns
        in table order. A column is listed when detection gives it a category, it is in a key
        (category "HIPAA-18 unique identifier", evidence "key") or the run masked, remapped or
        kept it; its
        status is what happened to it, read from the counters of this run (never the options):
        "remapped", "masked", "kept (rule)", "kept (template)", "NOT masked", or "no rows"
        (no rule touched it and no row of its table was written). The inventory
        is name-based on every run (content evidence too when detection sampled the data), so
        a category present in clear is known even without --strict / --template."""
        inv: dict = {}
        for qual, cols in tables:
            tstats = self.tables.get(qual)
            out = {}
            for cname, f, explicit, is_key in cols:
                st = tstats.columns.get(cname) if tstats is not None else None
                if f is None and st is None and not is_key:
                    continue
                ent: dict = {"category": None, "also": [], "evidence": None}
                if f is not None:
                    ent["category"], ent["also"], ent["evidence"] = f.category, list(f.also), f.evidence
                    if st is not None and st.category and st.category not in f.categories:
                        ent["also"].append(st.category)  # the rule's own category
                elif st is not None and st.category:
                    ent["category"], ent["evidence"] = st.category, "rule"
                elif is_key:
                    ent["category"], ent["evidence"] = KEY_CATEGORY, "key"
                if st is None and (tstats is None or not (tstats.rows_read or tstats.rows_written)):
                    ent["status"] = "no rows"  # nothing of it in the output (an empty table, a partitioned parent)
                elif st is None:
                    ent["status"] = "NOT masked"
                elif st.mutation == "key":
                    ent["status"] = "remapped"
                    ent["strategy"] = st.extra.get("strategy")
                elif st.mutation == "keep":
                    ent["status"] = "kept (rule)" if explicit == "keep" else "kept (template)"
                else:
                    ent["status"] = "masked"
                if st is not None:
                    ent["mutation"] = st.mutation
                ent["protection"] = st.protection_ran(tstats.rows_read, tstats.columns) if st is not None else "kept"
                out[cname] = ent
            if out:
                inv[qual] = out
        self.data["columns_detected"] = inv
        self.data["columns_unclassified"] = sorted(set(unclassified))

    def record_remapping(self, requested: bool) -> None:
        """`remapping`: whether the run was asked to remap keys and what it remapped (counted
        from `remapped`, the columns whose values went through a permutation)."""
        by: dict = {}
        domains = set()
        for ent in self.data.get("remapped", {}).values():
            s = ent.get("strategy") or "unknown"
            by[s] = by.get(s, 0) + 1
            domains.add(ent.get("domain"))
        self.data["remapping"] = {"requested": bool(requested), "columns": sum(by.values()),
                                  "by_strategy": dict(sorted(by.items())), "domains": len(domains),
                                  "not_remapped": len(self.data.get("not_remapped") or [])}

    def write(self, path: str, key=None) -> None:
        """Atomically: a temp file in the same folder, then rename. Signed when a key is given."""
        data = dict(self.data)
        from dumpmask.signing import serialise, sign

        if key is not None:
            data = sign(data, key)

        blob = serialise(data)
        from dumpmask.atomic import write_atomically

        write_atomically(path, blob, "audit")   # fsynced, renamed into place; /dev/null and FIFOs written in place


class HashingReader(io.RawIOBase):
    """Wraps a binary stream: counts and SHA-256s every byte read through it."""

    def __init__(self, raw):
        self._raw = raw
        self.sha = hashlib.sha256()
        self.bytes = 0

    def readable(self):
        return True

    def readinto(self, b):
        n = self._raw.readinto(b)
        if n:
            self.sha.update(memoryview(b)[:n])
            self.bytes += n
        return n


class HashingWriter(io.RawIOBase):
    def __init__(self, raw):
        self._raw = raw
        self.sha = hashlib.sha256()
        self.bytes = 0

    def writable(self):
        return True

    def write(self, b):
        mv = memoryview(b)
        n = self._raw.write(mv)
        if n is None:
            n = len(mv)
        self.sha.update(mv[:n])
        self.bytes += n
        return n

    def flush(self):
        self._raw.flush()


# what `dumpmask report` (and anything else that reads an audit back) requires: field -> types
_REQUIRED = {
    "tool": (str,), "version": (str,), "status": (str,), "started_at": (str,),
    "input": (dict,), "output": (dict,), "key": (dict,), "tables": (dict,),
}
_OPTIONAL = {
    "error": (str, type(None)), "finished_at": (str, type(None)), "duration_s": (int, float, type(None)),
    "dialect": (str, type(None)), "reproducible": (bool, type(None)), "rules": (dict,), "options": (dict,),
    "remapped": (dict,), "sequences": (list,), "not_remapped": (list,), "unmatched_rules": (list,),
    "detected_uncovered": (list,), "warnings": (list,), "passthrough": (dict,), "signature": (dict,),
}
_STATUSES = ("ok", "failed", "running")


def _type_names(types) -> str:
    names = {str: "a string", dict: "an object", list: "an array", bool: "true/false", int: "a number",
             float: "a number", type(None): "null"}
    return " or ".join(dict.fromkeys(names[t] for t in types))


def validate_audit(data) -> None:
    """Refuse (DumpmaskError, exit 1) anything that is not an audit dumpmask wrote: the tool
    name, the required fields and the types of every known field, the status, per-table row
    counts and columns. Says which field is wrong; never repeats values."""
    from dumpmask.errors import DumpmaskError

    def bad(msg: str):
        raise DumpmaskError(f"not a dumpmask audit: {msg}")

    if not isinstance(data, dict):
        bad("the file holds a JSON " + {list: "array", str: "string"}.get(type(data), "value") + ", not an object")
    if data.get("tool") != "dumpmask":
        bad('"tool" is not "dumpmask"' if "tool" in data else 'no "tool" field')
    for k, types in _REQUIRED.items():
        if k not in data:
            bad(f'the required field "{k}" is missing')
        if not isinstance(data[k], types):
            bad(f'"{k}" must be {_type_names(types)}')
    for k, types in _OPTIONAL.items():
        if k in data:
            v = data[k]
            if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
                bad(f'"{k}" must be {_type_names(types)}')
    if data["status"] not in _STATUSES:
        bad('"status" must be one of ' + ", ".join(_STATUSES))
    if data["status"] == "failed" and not data.get("error"):
        bad('a failed run must say why in "error"')
    for side in ("input", "output"):
        d = data[side]
        for f, types in (("bytes", (int,)), ("sha256", (str, type(None))), ("name", (str, type(None)))):
            if f in d and (not isinstance(d[f], types) or isinstance(d[f], bool)):
                bad(f'"{side}.{f}" must be {_type_names(types)}')
        if "bytes" not in d:
            bad(f'"{side}.bytes" is missing')
    if "fingerprint" not in data["key"]:
        bad('"key.fingerprint" is missing')
    for f, types in (("fingerprint", (str, type(None))), ("ephemeral", (bool, type(None))),
                     ("label", (str, type(None))), ("source", (str,)), ("weak_key_ok", (bool,))):
        v = data["key"].get(f, None)   # older audits lack label, source and weak_key_ok
        if f in data["key"] and (not isinstance(v, types) or (isinstance(v, bool) and bool not in types)):
            bad(f'"key.{f}" must be {_type_names(types)}')
    if data["key"].get("source", "env") not in ("env", "file", "ephemeral", "api"):
        bad('"key.source" must be one of env, file, ephemeral, api')
    for t, tv in data["tables"].items():
        if not isinstance(tv, dict):
            bad(f'table "{t}" must be an object')
        for f in ("rows_read", "rows_written"):
            if f in tv and (not isinstance(tv[f], int) or isinstance(tv[f], bool)):
                bad(f'"tables.{t}.{f}" must be a number')
        cols = tv.get("columns", {})
        if not isinstance(cols, dict) or not all(isinstance(c, dict) for c in cols.values()):
            bad(f'"tables.{t}.columns" must be an object of objects')
        for c, cv in cols.items():
            if "protection" in cv and cv["protection"] not in PROTECTION:  # older audits have none
                bad(f'"tables.{t}.columns.{c}.protection" must be one of ' + ", ".join(PROTECTION))
            reads = cv.get("reads", {})
            if not isinstance(reads, dict) or any(v not in PROTECTION for v in reads.values()):
                bad(f'"tables.{t}.columns.{c}.reads" must map column names to one of ' + ", ".join(PROTECTION))
