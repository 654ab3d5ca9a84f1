"""The work unit: mask one block of a table's rows with that table's plan.

    mask_block(plan, block) -> (bytes, BlockCounts)

It is a pure function of (plan, block): the same bytes and counts in the engine's process, in
a worker process or on a cluster worker, so the masking of a dump can be split across them
with no coordination beyond keeping the blocks in input order.

TablePlan (what is sent): plain data that pickles. The dialect's name, the table's name (for
messages) and the source's name, the data column list of the statement, and per masked
position a ColumnSpec: the position, the column's name and kind, the mutation's name and
category (for the audit), and a factory holding the parameters of the value function: a
rule's mutation (transformer class, key, options, the column it is for, the array element
delimiter) or a key remapping's permutation (strategy, range, domain, key). `plan.token`
names the plan; a process that receives one builds its value functions and their memos once
(`runtime(plan)`, cached by token), the process that built the plan reuses the functions it
already made (factories keep them, but do not pickle them).

DataBlock (what is masked): undecoded bytes and where they came from. "copy": a chunk of
whole lines of a COPY block (text format); "insert": one INSERT statement, whose tuples
`keep` (indexes, or None for all) survived the row filters the engine ran before.
`first_line` and `row0` (rows of the same statement before this block) locate errors; `rows`
maps a filtered COPY block's k-th line to its row in the statement (0-based).

BlockCounts (what comes back): rows read and written, per ColumnSpec the values changed and
the NULLs written, and what a value function observed (a key remapping's largest value
written), for the engine to add into the audit and the stages. The first three are the same
wherever a block runs; what is observed depends on the process's memo (a repeated value is
not computed again), but its merge over all of a plan's blocks (the maximum) does not.
"""
from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from functools import partial

from dumpmask.dialects import postgres
from dumpmask.dialects.base import (HUGE_FIELD, MEMO_MAX_FIELD, UNCHANGED, FieldFns, counting, has_huge_span,
                                    mask_spans_huge, remember, row_masker, span_masker)
from dumpmask.dialects.fast import c_copy_spans, copy_spans, splice, tuple_spans
from dumpmask import speedups
from dumpmask.speedups import count_nl
from dumpmask.errors import DumpSyntaxError, MaskingError
from dumpmask.keyspans import c_key_spans
from dumpmask.lazy import lazy_module
from dumpmask.transformers.basic import Keep


# mysql_lex is used here only for MySQL data, and a PostgreSQL run then never executes it (its
# ~30 patterns compiled: start-up time). A MySQL run reads it from its dialect's set-up on
# (dialects.mysql imports from it), before any data.
mysql_lex = lazy_module("dumpmask.dialects.mysql_lex")

CACHE_MAX = 32_768            # raw field -> masked field memo of one column (cleared when full)
NULL_COPY = postgres.NULL_FIELD
NULL_SQL = b"NULL"
_NUMBER_OUT = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


# --------------------------------------------------------------------------- what is sent

class MutationFactory:
    """A rule's mutation as parameters: build() -> the value function (a transformer)."""

    def __init__(self, cls, key, options, column, argument, dialect: str, delimiter: str | None = None,
                 where: str | None = None, built=None):
        self.cls, self.key, self.options, self.column, self.argument = cls, key, options, column, argument
        self.dialect, self.delimiter, self.where = dialect, delimiter, where
        self._built = built

    def build(self):
        if self._built is None:
            from dumpmask.transformers.arrays import ElementWise

            t = self.cls(self.key, self.options, self.column, self.argument)
            t.bind_dialect(self.dialect)
            if self.delimiter is not None:
                t = ElementWise(t, self.delimiter, where=self.where)
            self._built = t
        return self._built

    def merge(self, observed) -> None:
        pass

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_built"} | {"_built": None}


class RemapFactory:
    """A key remapping of one column as parameters (remap.Remapper's strategy, range, domain
    and the key): build() -> the value function, with .raw_int and .observed."""

    def __init__(self, remapper, column, where: str):
        self.key, self.strategy, self.lo, self.hi = remapper.key, remapper.strategy, remapper.lo, remapper.hi
        self.domain, self.split, self.column, self.where = remapper.domain, remapper.split, column, where
        self._remapper = remapper     # the engine's, which keeps the largest value written (setval)
        self._built = None

    def build(self):
        if self._built is None:
            from dumpmask.remap import Remapper

            r = self._remapper or Remapper(self.key, self.strategy, self.lo, self.hi, self.domain, split=self.split)
            self._built = r.for_column(self.column, self.where)
        return self._built

    def merge(self, observed) -> None:
        """In the engine's process: what a block's function observed, into the engine's remapper."""
        if observed is not None and self._remapper is not None:
            self._remapper.observe(self.where, observed)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_built", "_remapper")} | {"_built": None, "_remapper": None}


@dataclass
class ColumnSpec:
    """One masked position of a data column list."""

    index: int
    name: str
    kind: str                 # the column's kind (schema.Column.kind): how a new value is written
    mutation: str             # for the audit ("key" for a remapped key)
    factory: object           # MutationFactory | RemapFactory
    condition: object = None  # conditions.Condition: the rows it applies to (None: every row)
    suppress: object = None   # features.kanon.SmallClass: rows whose field is written as NULL instead
    template: tuple | None = None   # a `template` rule: ((name, index), ...) of the columns it reads
                                    # (their new values), evaluated after the row's other columns

    @property
    def transformer(self):
        return self.factory.build()


_TOKENS = itertools.count(1)


@dataclass
class TablePlan:
    """How the rows of one table, as one data statement lists its columns, are masked."""

    dialect: str
    table: str                       # display name, for messages
    source: str                      # the input's name, for messages
    columns: tuple                   # the statement's data columns
    specs: tuple                     # ColumnSpec, by position
    token: str = field(default_factory=lambda: f"{os.getpid()}-{next(_TOKENS)}")
    verify: object = None            # verifysample.SampleParams: --verify on a pipe checks each block (None: not)

    @property
    def ncols(self) -> int:
        return len(self.columns)


@dataclass
class DataBlock:
    kind: str                        # "copy" | "insert"
    data: bytes
    first_line: int                  # the line of the block's first row (of the statement for "insert")
    row0: int = 0                    # rows of the same statement (COPY) / table (INSERT) before this block
    keep: list | None = None         # "insert": indexes of the tuples kept by the row filters (None: all)
    rows: list | None = None         # "copy" after a row filter: each line's row in the statement (0-based);
                                     # then first_line is the line of the statement's row 0
    parsed: object = None            # "insert": the parsed statement (tuples), when the engine parsed it already


@dataclass
class BlockCounts:
    rows_read: int
    rows_written: int
    changed: tuple
    nulls: tuple
    observed: tuple                  # per spec: {"max": m} from a key remapping, or None
    matched: tuple = ()              # per spec with a row condition: the rows it held for (else 0)
    verify: tuple | None = None      # per checked position a verifysample.ColumnSample (--verify on a pipe)


# --------------------------------------------------------------------------- what a process builds

class Tally:
    """Values changed and NULLs written by one column's field functions (reset per block)."""

    __slots__ = ("changed", "nulls", "matched")

    def __init__(self):
        self.changed = self.nulls = self.matched = 0


class ColumnRuntime:
    """A ColumnSpec made runnable in this process: raw-field functions with their memo."""

    __slots__ = ("index", "name", "kind", "fn", "stats", "value_fn", "key_fast", "condition", "suppress", "template",
                 "block")

    def __init__(self, spec: ColumnSpec, dialect: str):
        self.index, self.name, self.kind = spec.index, spec.name, spec.kind
        self.condition = spec.condition
        self.suppress = getattr(spec, "suppress", None)
        self.template = getattr(spec, "template", None)
        self.stats = Tally()
        t = spec.factory.build()
        self.value_fn = t
        self.fn = (pg_field_fns if dialect == "postgres" else my_field_fns)(t, spec.kind, spec.name, self.stats)
        # plain-digit fields in C (keyspans): a remapped integer key (its segments), a kept column
        self.key_fast = None
        if c_key_spans is not None:
            if hasattr(t, "key_segments"):
                self.key_fast = t.key_segments
            elif type(t) is Keep:
                self.key_fast = _KEEP
        # for the C block functions: memo, miss and the C path of a plain field (or None)
        spec = c_fake_spec(self.fn.plain, self.fn.miss)
        self.block = (self.fn.cache, self.fn.miss, spec,
                      _new_memo() if spec is not None and spec[0] in (_PICK, _ASSEMBLE) else None)


class Runtime:
    __slots__ = ("columns", "observers", "conditional")

    def __init__(self, plan: TablePlan):
        self.columns = [ColumnRuntime(s, plan.dialect) for s in plan.specs]
        self.observers = [getattr(c.value_fn, "observed", None) for c in self.columns]
        self.conditional = any(c.condition is not None or c.suppress is not None or c.template is not None
                               for c in self.columns)

    def reset(self) -> None:
        for c in self.columns:
            c.stats.changed = c.stats.nulls = c.stats.matched = 0
        for o in self.observers:
            if o is not None:
                o["max"] = -1

    def counts(self, rows_read: int, rows_written: int) -> BlockCounts:
        return BlockCounts(rows_read, rows_written, tuple(c.stats.changed for c in self.columns),
                           tuple(c.stats.nulls for c in self.columns),
                           tuple(dict(o) if o is not None else None for o in self.observers),
                           tuple(c.stats.matched for c in self.columns) if self.conditional else ())


_RUNTIMES: dict[str, Runtime] = {}
RUNTIMES_MAX = 256
_BUILT_HERE: dict[str, TablePlan] = {}   # plans made in this process, with their built functions


def keep_built(plan: TablePlan) -> None:
    """The engine's process registers the plans it builds: a worker forked from it finds the
    value functions already built (the fake pools cost ~0.1-0.3 s a column to build) instead
    of rebuilding them from the plan it receives. Only a speed-up: a worker that does not
    have it (spawned, on another machine, a plan made after the fork) rebuilds them."""
    _BUILT_HERE[plan.token] = plan


def runtime(plan: TablePlan) -> Runtime:
    """The plan's value functions and memos in this process (built once per plan token)."""
    rt = _RUNTIMES.get(plan.token)
    if rt is None:
        if len(_RUNTIMES) >= RUNTIMES_MAX:
            _RUNTIMES.pop(next(iter(_RUNTIMES)))
        rt = _RUNTIMES[plan.token] = Runtime(_BUILT_HERE.get(plan.token, plan))
    return rt


def forget(plan: TablePlan) -> None:
    _RUNTIMES.pop(plan.token, None)
    _BUILT_HERE.pop(plan.token, None)


# --------------------------------------------------------------------------- field functions

_C_MEMO_FIRST = speedups.function("memo_first")


def _plain_first(plain, slow, cache: dict, cache_max: int):
    """A memo miss that tries the transformer's plain-field path first (`plain(raw)`: the new
    bytes of a field that needs no unescaping, most of them; None: `slow`, the general path).
    In C when built (memo_first in _speedups.c, the STRFIELD section: the same steps as `miss`
    below, its twin, without a Python frame per distinct value)."""
    if _C_MEMO_FIRST is not None and type(cache) is dict:
        return partial(_C_MEMO_FIRST, plain, slow, cache, cache_max, MEMO_MAX_FIELD, UNCHANGED)

    def miss(raw: bytes):
        r = plain(raw)
        if r is None:
            return slow(raw)
        if r == raw:
            r = UNCHANGED
        if len(raw) <= MEMO_MAX_FIELD:   # remember(), inline: this runs per distinct value
            if len(cache) >= cache_max:
                cache.clear()
            cache[raw] = r
        return r
    return miss


def pg_field_fns(t, kind: str, name: str, stats, cache_max: int = CACHE_MAX) -> FieldFns:
    """A value function (str|None -> str|None) applied to raw PostgreSQL fields: `copy` for
    COPY text fields, `sql` for INSERT literals, both memoised and counting into `stats`."""
    copy_decode, copy_encode = postgres.copy_decode, postgres.copy_encode
    literal_decode, literal_encode = postgres.literal_decode, postgres.literal_encode
    fast = getattr(t, "ascii_fast", None)   # bytes -> bytes for ASCII text, no escaping needed
    field_fast = getattr(t, "field_fast", None)   # a plain raw field -> the new field (transformers.fastprf)
    t = getattr(t, "uncached", t)  # this function caches raw fields itself
    ccache: dict = {}
    scache: dict = {}
    raw_int = getattr(t, "raw_int", None)

    def copy_miss(raw: bytes):
        """raw COPY field -> UNCHANGED, or the new raw field (NULL_COPY for NULL); cached."""
        if raw_int is not None and raw.isdigit():
            return remember(ccache, raw, raw_int(raw), cache_max)
        if raw == b"\\N":
            v = None
        elif b"\\" in raw:
            v = copy_decode(raw)
        else:
            v = raw.decode("utf-8", "surrogateescape")
        nv = t(v)
        # an unchanged value keeps its original bytes (escapes as written: keep is byte for byte)
        r = UNCHANGED if nv == v else (NULL_COPY if nv is None else copy_encode(nv))
        return remember(ccache, raw, r, cache_max)

    def sql_miss(raw: bytes):
        s = raw.strip()
        if s.upper() == b"DEFAULT":
            # a generated column's placeholder (pg_dump --inserts): nothing to mask
            return remember(scache, raw, UNCHANGED, cache_max)
        lit = literal_decode(s)
        nv = t(lit.value)
        if nv == lit.value:
            r = UNCHANGED
        else:
            lead = raw[:len(raw) - len(raw.lstrip())]
            trail = raw[len(raw.rstrip()):]
            r = lead + literal_encode(nv, lit, kind) + trail
        return remember(scache, raw, r, cache_max)

    if fast is not None:
        general = copy_miss

        def copy_miss(raw: bytes):
            """ASCII text without escapes straight through the transformer's bytes path."""
            if raw.isascii() and b"\\" not in raw:   # (\N has a backslash)
                r = fast(raw)
                return remember(ccache, raw, UNCHANGED if r == raw else r, cache_max)
            return general(raw)

    # encode(None) is NULL_COPY itself (the loops count NULLs written by identity)
    plain = field_fast(0, lambda s: NULL_COPY if s is None else copy_encode(s)) if field_fast is not None else None
    if plain is not None:
        copy_miss = _plain_first(plain, copy_miss, ccache, cache_max)

    # INSERT fields keep the blanks around them: " NULL" is a NULL too
    count_sql = counting(scache, sql_miss, lambda f: f.strip().upper() == b"NULL", stats)
    return FieldFns(counting(ccache, copy_miss, NULL_COPY, stats), count_sql, ccache, copy_miss, plain)


def my_field_fns(t, kind: str, name: str, stats, cache_max: int = CACHE_MAX) -> FieldFns:
    """A value function applied to raw MySQL literals (`sql`), memoised, counting into `stats`;
    new values are written the way mysqldump writes them."""
    decode_literal, encode_hex, encode_string = mysql_lex.decode_literal, mysql_lex.encode_hex, mysql_lex.encode_string
    fast = getattr(t, "ascii_fast", None)   # bytes -> bytes for ASCII text, no escaping needed
    field_fast = getattr(t, "field_fast", None)   # a plain '...' literal -> the new literal (transformers.fastprf)
    t = getattr(t, "uncached", t)  # this function caches raw fields itself
    cache: dict = {}
    raw_int = getattr(t, "raw_int", None)

    def miss(raw: bytes):
        """raw literal -> UNCHANGED or the new literal bytes (b"NULL" for NULL); cached."""
        if raw_int is not None and raw.isdigit():
            return remember(cache, raw, raw_int(raw), cache_max)
        if raw[:1] == b"'" and b"\\" not in raw and raw.find(b"''", 1, len(raw) - 1) < 0:
            # the common case, without the general decoder (and without a copy of the body)
            literal_kind, body = "string", memoryview(raw)[1:-1]
        else:
            literal_kind, body = decode_literal(raw)
        if literal_kind == "null":
            value = None
        elif literal_kind in ("string", "binary_string", "hex", "bit"):
            value = str(body, "utf-8", "surrogateescape")
            body = None
        elif literal_kind == "number":
            value = body.decode("ascii", "surrogateescape")
        elif literal_kind == "default":
            cache[raw] = UNCHANGED  # a generated column's placeholder: nothing to mask
            return UNCHANGED
        else:
            raise MaskingError(f"column {name}: cannot mask a value written as an expression")
        out = t(value)
        if out == value:
            r = UNCHANGED
        elif out is None:
            r = NULL_SQL
        elif literal_kind == "hex":
            r = encode_hex(out.encode("utf-8", "surrogateescape"))
        elif kind in ("int", "numeric", "float", "year") and _NUMBER_OUT.fullmatch(out) and literal_kind in ("number", "null"):
            r = out.encode()
        elif literal_kind == "binary_string":
            r = b"_binary " + encode_string(out.encode("utf-8", "surrogateescape"))
        else:
            r = encode_string(out.encode("utf-8", "surrogateescape"))
        return remember(cache, raw, r, cache_max)

    if fast is not None:
        general = miss

        def miss(raw: bytes):
            """A plain ASCII string literal straight through the transformer's bytes path."""
            body = raw[1:-1]
            if raw[:1] == b"'" and raw[-1:] == b"'" and body.isascii() and b"\\" not in body and b"'" not in body:
                r = fast(body)
                return remember(cache, raw, UNCHANGED if r == body else b"'" + r + b"'", cache_max)
            return general(raw)

    plain = field_fast(1, lambda s: NULL_SQL if s is None else encode_string(s.encode("utf-8", "surrogateescape"))) \
        if field_fast is not None else None
    if plain is not None:
        miss = _plain_first(plain, miss, cache, cache_max)

    return FieldFns(None, counting(cache, miss, NULL_SQL, stats), cache, miss, plain)


# --------------------------------------------------------------------------- the block in C

# the whole block's masked fields in one C call (the BLOCK section of _speedups.c); None: the
# Python loops below (the pure twin: the same bytes and counts, tests/test_block.py)
c_block_copy = speedups.function("block_copy")
c_block_tuples = speedups.function("block_tuples")
c_block_memo = speedups.function("block_memo")
_C_PICK = speedups.function("pick_field")
_C_ASSEMBLE = speedups.function("assemble_field")
_C_TEXT_KEY = speedups.function("text_key_field")
_PICK, _ASSEMBLE, _TKEY = 1, 2, 5   # the kinds of a C path (blk_col_fast in _speedups.c)


MEMOS_MAX = 64                   # C memos (~230 KB each) a process makes; later columns run without
_memos_made = itertools.count()


def _new_memo():
    """A C memo for one more column (None past MEMOS_MAX: its fields are computed every time,
    the same bytes; a dump with hundreds of masked columns does not hold hundreds of memos)."""
    return c_block_memo() if next(_memos_made) < MEMOS_MAX else None


def c_fake_spec(plain, miss=None):
    """The C path of a plain-field function (FieldFns.plain) for the block functions: the
    arguments of the FAKES pick_field / assemble_field it is bound to, after its kind; for a
    remapped text key (text_key_field bound to its state and mode, behind memo_first: `miss`)
    its state, mode and the memo's bounds, so that the block's new values go through
    text_key_fields' lanes together; None when it is anything else (its fields then go through
    the column's memo and miss in Python)."""
    if type(plain) is not partial or plain.keywords or c_block_copy is None:
        return None
    if plain.func is _C_PICK and len(plain.args) == 6:
        return (_PICK, *plain.args)
    if plain.func is _C_ASSEMBLE and len(plain.args) == 10:
        return (_ASSEMBLE, *plain.args)
    if (plain.func is _C_TEXT_KEY and len(plain.args) == 2 and type(miss) is partial and miss.func is _C_MEMO_FIRST
            and len(miss.args) == 6 and miss.args[0] is plain and miss.args[5] is UNCHANGED):
        return (_TKEY, *plain.args, miss.args[3], miss.args[4])
    return None


def _block_columns(entries):
    """(idxs, cols) for c_block_copy / c_block_tuples: per masked column its index (ascending)
    and (memo, miss, C path, memo of digests); None when they do not apply (no masked column, or
    columns out of order). A kept column's C path is (3,), a remapped integer key's (4,
    segments): the segments as they are now (keyspans' key_segments), so built per block."""
    if not entries:
        return None
    idxs = tuple(e.index for e in entries)
    if list(idxs) != sorted(set(idxs)):
        return None
    cols = []
    for e in entries:
        if e.key_fast is None:
            cols.append(e.block)
        elif e.key_fast is _KEEP:
            cols.append((e.fn.cache, e.fn.miss, (3,), None))
        else:
            cols.append((e.fn.cache, e.fn.miss, (4, e.key_fast()), None))
    return idxs, tuple(cols)


def _add_counts(entries, counts) -> None:
    """The C block functions' counts: (changed, nulls) per column, then per column the largest
    key C wrote (a remapped key's observed maximum, for setval / AUTO_INCREMENT)."""
    k = len(entries)
    for j, entry in enumerate(entries):
        entry.stats.changed += counts[2 * j]
        entry.stats.nulls += counts[2 * j + 1]
        if entry.key_fast is not None and entry.key_fast is not _KEEP:
            top = counts[2 * k + j]
            observed = getattr(entry.value_fn, "observed", None)
            if observed is not None and top > observed["max"]:
                observed["max"] = top


# --------------------------------------------------------------------------- the span loop

def _KEEP():
    return None   # keyspans: segments None = the column is kept


def _mask_spans(data: bytes, spans, entries, null):
    """span_masker's (replacements, counts) for `entries`, with the plain-digit fields of key
    columns (remapped integer keys, kept columns) done in C by keyspans.key_spans: the same
    replacements and counts. A MaskingError re-runs the plain loop, which raises it as before
    (the same error for the same first bad field)."""
    k = len(entries)
    caches = [e.fn.cache for e in entries]
    misses = [e.fn.miss for e in entries]
    fast = [(j, e) for j, e in enumerate(entries) if e.key_fast is not None]
    if not fast:
        return span_masker(k)(data, spans, caches, misses, UNCHANGED, null)
    try:
        if len(fast) == k:
            repl, counts = [UNCHANGED] * (len(spans) // 2), [0] * (2 * k)
        else:
            repl, counts = span_masker(k, frozenset(j for j, _e in fast))(data, spans, caches, misses, UNCHANGED, null)
            counts = list(counts)
        for j, e in fast:
            changed, nulls, top = c_key_spans(data, spans, k, j, repl, e.key_fast(), caches[j], misses[j], UNCHANGED, null)
            counts[2 * j] += changed
            counts[2 * j + 1] += nulls
            observed = getattr(e.value_fn, "observed", None)
            if observed is not None and top > observed["max"]:
                observed["max"] = top
    except MaskingError:
        return span_masker(k)(data, spans, caches, misses, UNCHANGED, null)
    return repl, tuple(counts)


# --------------------------------------------------------------------------- the work unit

def mask_block(plan: TablePlan, block: DataBlock) -> tuple[bytes, BlockCounts]:
    """The masked bytes of `block` and what was counted (see the module's docstring)."""
    rt = runtime(plan)
    rt.reset()
    if rt.conditional:
        data, nread, nwritten = _mask_conditional(plan, rt.columns, block)
    elif block.kind == "copy":
        data, nread, nwritten = _mask_copy(plan, rt.columns, block)
    elif plan.dialect == "postgres":
        data, nread, nwritten = _mask_pg_insert(plan, rt.columns, block)
    else:
        data, nread, nwritten = _mask_my_insert(plan, rt.columns, block)
    counts = rt.counts(nread, nwritten)
    if plan.verify is not None:
        from dumpmask.verifysample import block_sample

        counts.verify = block_sample(plan, block, data)   # the original rows beside the rows as written
    return data, counts


# -- COPY

def _copy_error_row(block: DataBlock, k: int) -> tuple[int, int]:
    """(line, row in the statement, 1-based) of the block's k-th line (0-based)."""
    if block.rows is not None:
        return block.first_line + block.rows[k], block.rows[k] + 1
    return block.first_line + k, block.row0 + k + 1


def _mask_copy(plan: TablePlan, entries, block: DataBlock):
    """A chunk of COPY lines: ~1 MB at a time through a loop generated for this table's shape
    (or C, or the copy-free path for a very long field); lines with CR or a chunk without a
    final line break go line by line. The same bytes and counts either way."""
    chunk = block.data
    ncols = plan.ncols
    if not chunk:
        return b"", 0, 0
    try:
        if not entries or b"\r" in chunk or not chunk.endswith(b"\n"):
            return _mask_copy_lines(plan, entries, block)
        cols = _block_columns(entries) if c_block_copy is not None else None
        if cols is not None:
            # the whole chunk in C (None: a very long field, the usual path below)
            res = c_block_copy(chunk, ncols, cols[0], cols[1], UNCHANGED, NULL_COPY)
            if type(res) is int:
                _copy_field_count_error(plan, block, chunk.split(b"\n"), res)
            if res is not None:
                done, nrows, counts = res
                _add_counts(entries, counts)
                return done, nrows, nrows
        idxs = tuple(e.index for e in entries)
        caches = [e.fn.cache for e in entries]
        misses = [e.fn.miss for e in entries]
        huge = len(chunk) > HUGE_FIELD
        if huge or c_copy_spans is not None:
            # C (or, for a very long line, its Python twin) finds the masked fields; Python runs
            # per masked field only
            spans = (c_copy_spans or copy_spans)(chunk, ncols, idxs)
            if type(spans) is int:
                _copy_field_count_error(plan, block, chunk.split(b"\n"), spans)
            if huge and has_huge_span(spans):
                # a very long field: decoded in place, not copied
                repl, counts = mask_spans_huge(chunk, spans, entries, _huge_copy_field, NULL_COPY)
            else:
                repl, counts = _mask_spans(chunk, spans, entries, NULL_COPY)
            done = splice(chunk, spans, repl)
            nrows = count_nl(chunk)
        else:
            rows = chunk[:-1].split(b"\n")
            out, bad, counts = row_masker(ncols, idxs)(rows, caches, misses, UNCHANGED, NULL_COPY)
            if bad >= 0:
                _copy_field_count_error(plan, block, rows, bad)
            nrows = len(out)
            out.append(b"")
            done = b"\n".join(out)
    except MaskingError as e:
        k = _first_bad_row(chunk, entries)
        line, row = _copy_error_row(block, k - 1)
        raise MaskingError(f"{plan.source}:{line}: {plan.table} row {row}: {e}") from None
    for j, entry in enumerate(entries):
        entry.stats.changed += counts[2 * j]
        entry.stats.nulls += counts[2 * j + 1]
    return done, nrows, nrows


def _copy_field_count_error(plan, block, rows, bad: int):
    nf = rows[bad].count(b"\t") + 1
    line, _row = _copy_error_row(block, bad)
    raise DumpSyntaxError(f"COPY row for {plan.table} has {nf} fields, expected {plan.ncols}", line, plan.source,
                          rows[bad][:60])


def _mask_copy_lines(plan: TablePlan, entries, block: DataBlock):
    """Row by row (CRLF lines, a last line without a line break, a table without masked columns)."""
    chunk = block.data
    parts = chunk.split(b"\n")
    tail = parts.pop()
    lines = [ln + b"\n" for ln in parts] + ([tail] if tail else [])
    ncols = plan.ncols
    out = []
    append = out.append
    for k, line in enumerate(lines):
        if line[-1:] == b"\n":
            if line[-2:-1] == b"\r":
                body, eol = line[:-2], b"\r\n"
            else:
                body, eol = line[:-1], b"\n"
        else:
            body, eol = line, b""
        fields = body.split(b"\t")
        if len(fields) != ncols:
            where, _row = _copy_error_row(block, k)
            raise DumpSyntaxError(f"COPY row for {plan.table} has {len(fields)} fields, expected {ncols}",
                                  where, plan.source, line[:60])
        for entry in entries:
            _mask_copy_field(plan, block, k, entry, fields)
        append(b"\t".join(fields) + eol)
    return b"".join(out), len(lines), len(lines)


def _mask_copy_field(plan: TablePlan, block: DataBlock, k: int, entry, fields: list) -> None:
    """One masked field of a COPY row (the block's k-th line) through its column's memo and miss,
    counted into its tally; row by row paths (CRLF lines, row conditions)."""
    raw = fields[entry.index]
    v = entry.fn.cache.get(raw)
    if v is None:
        try:
            v = entry.fn.miss(raw)
        except MaskingError as e:
            where, row = _copy_error_row(block, k)
            raise MaskingError(f"{plan.source}:{where}: {plan.table} row {row}: {e}") from None
    if v is UNCHANGED:
        if raw == NULL_COPY:
            entry.stats.nulls += 1
    else:
        fields[entry.index] = v
        entry.stats.changed += 1
        if v is NULL_COPY:
            entry.stats.nulls += 1


def _huge_copy_field(entry, data: bytes, s: int, e: int):
    """A very long COPY field without escapes, decoded from `data` in place: the same result as
    the column's copy miss (None: not that simple case, take the usual path)."""
    if data.find(b"\\", s, e) >= 0 or data[s:s + 1].isdigit():
        return None
    v = str(memoryview(data)[s:e], "utf-8", "surrogateescape")
    nv = entry.value_fn(v)
    if nv == v:
        return UNCHANGED
    return NULL_COPY if nv is None else postgres.copy_encode(nv)


def _first_bad_row(chunk: bytes, entries) -> int:
    """The 1-based row of a chunk of COPY lines whose masked field raises MaskingError."""
    for k, line in enumerate(chunk.split(b"\n"), 1):
        fields = line.rstrip(b"\r").split(b"\t")
        for entry in entries:
            if entry.index < len(fields):
                try:
                    entry.fn.miss(fields[entry.index])
                except MaskingError:
                    return k
    return 1


# -- PostgreSQL INSERT

def _mask_pg_insert(plan: TablePlan, entries, block: DataBlock):
    """An INSERT ... VALUES statement rebuilt from its tuples (kept ones only), each masked
    field through its column's sql function; a very long field is read in place."""
    raw = block.data
    ins = block.parsed if block.parsed is not None else postgres.parse_insert(raw, plan.source, block.first_line)
    keep = set(block.keep) if block.keep is not None else None
    pieces = [raw[:ins.values_start]]
    ncols = plan.ncols
    kept = 0
    nread = 0
    for k, (t0, _t1, fields) in enumerate(ins.tuples):
        nread += 1
        if len(fields) != ncols:
            raise DumpSyntaxError(f"INSERT row for {plan.table} has {len(fields)} values, expected {ncols}",
                                  block.first_line + raw.count(b"\n", 0, t0), plan.source)
        if keep is not None and k not in keep:
            continue
        # a very long field is not copied out: a view of it (read in place when masked)
        vals = [raw[s:e] if e - s <= HUGE_FIELD else memoryview(raw)[s:e] for s, e in fields]
        try:
            for entry in entries:
                v = vals[entry.index]
                if type(v) is memoryview:
                    s, e = fields[entry.index]
                    r = _huge_insert_field(entry, raw, s, e, entry.kind)
                    vals[entry.index] = entry.fn.sql(bytes(v)) if r is None else r
                    continue
                vals[entry.index] = entry.fn.sql(v)
        except MaskingError as e:
            at = block.first_line + raw.count(b"\n", 0, t0)
            raise MaskingError(f"{plan.source}:{at}: {plan.table} row {block.row0 + nread}: {e}") from None
        if kept:
            pieces.append(b",\n\t" if b"),\n\t(" in raw else b", ")
        pieces.append(b"(" + b",".join(vals) + b")")
        kept += 1
    if kept == 0:
        return b"", nread, 0  # every row was cut: the statement disappears
    pieces.append(raw[ins.tail_start:])
    return b"".join(pieces), nread, kept


def _huge_insert_field(entry, raw: bytes, s: int, e: int, kind: str):
    """A very long INSERT value written as a plain '...' string (no doubled quote, no cast),
    decoded from the statement in place, counted into the column's tally: the same bytes as
    the column's sql function gives (a view of the original when unchanged). None: not that
    simple case (the caller takes the usual path)."""
    a, b = s, e
    while a < b and raw[a:a + 1].isspace():
        a += 1
    while b > a and raw[b - 1:b].isspace():
        b -= 1
    if b - a < 2 or raw[a:a + 1] != b"'" or raw[b - 1:b] != b"'" or raw.find(b"''", a + 1, b - 1) >= 0:
        return None
    v = str(memoryview(raw)[a + 1:b - 1], "utf-8", "surrogateescape")
    nv = entry.value_fn(v)
    if nv == v:
        return memoryview(raw)[s:e]
    entry.stats.changed += 1
    if nv is None:
        entry.stats.nulls += 1
    return raw[s:a] + postgres.literal_encode(nv, postgres.Literal(v, True, b""), kind) + raw[b:e]


# -- MySQL INSERT

def _mask_my_insert(plan: TablePlan, entries, block: DataBlock):
    """A mysqldump INSERT: the new literals spliced into the statement, everything else byte
    for byte; with a row filter, the kept tuples with the separators that preceded them."""
    raw = block.data
    try:
        return _mask_my_insert_at(plan, entries, block, raw)
    except MaskingError as e:
        if str(e).startswith(f"{plan.source}:"):
            raise
        raise MaskingError(f"{plan.source}:{_locate_my(plan, entries, block)}: {e}") from None


def _mask_my_insert_at(plan: TablePlan, entries, block: DataBlock, raw: bytes):
    ncols = plan.ncols
    ins = block.parsed
    if block.keep is None and ins is None and entries:
        head = mysql_lex.parse_insert(raw, tuples=False, line=block.first_line, source=plan.source)
        cols = _block_columns(entries) if c_block_tuples is not None else None
        if cols is not None:
            # the whole statement in C (None: not mysqldump's plain shape or a very long value)
            res = c_block_tuples(raw, head.values_start, ncols, cols[0], cols[1], UNCHANGED, NULL_SQL)
            if res is not None:
                done, nrows, counts = res
                _add_counts(entries, counts)
                return done, nrows, nrows
        spans = tuple_spans(raw, head.values_start, ncols, tuple(e.index for e in entries))
        if spans is not None:
            nrows = len(spans) // (2 * len(entries))
            return _splice_masked(raw, spans, entries), nrows, nrows
    if block.keep is not None and not block.keep and ins is None and ncols:
        # every row cut (partial transfer): counted by the C tuple scanner when it reads the statement
        head = mysql_lex.parse_insert(raw, tuples=False, line=block.first_line, source=plan.source)
        spans = tuple_spans(raw, head.values_start, ncols, (0,)) if head.values_start >= 0 else None
        if spans is not None:
            return b"", len(spans) // 2, 0
    if ins is None and block.keep is not None and ncols:
        # some rows kept (partial transfer, row rules): the C tuple scanner finds every field;
        # the kept tuples are rebuilt as below, the others cut with the separator before them
        got = _keep_tuples_scanned(plan, entries, block, raw)
        if got is not None:
            return got
    if ins is None:
        ins = mysql_lex.parse_insert(raw, tuples=True, line=block.first_line, source=plan.source)
    if block.keep is None:
        # no row is cut: splice the new literals into the statement, everything else as it was
        masked = []
        for (t0, _t1, spans) in ins.tuples:
            if len(spans) != ncols:
                raise DumpSyntaxError(f"INSERT row for {plan.table} has {len(spans)} values, expected {ncols}",
                                      block.first_line + raw.count(b"\n", 0, t0), plan.source, raw[t0:t0 + 60])
            masked.extend([x for entry in entries for x in spans[entry.index]])
        nrows = len(ins.tuples)
        return (_splice_masked(raw, masked, entries) if entries else raw), nrows, nrows
    keep = set(block.keep)
    pieces = [raw[:ins.values_start]]
    kept = 0
    prev_end = ins.values_start
    for k, (t0, t1, spans) in enumerate(ins.tuples):
        if len(spans) != ncols:
            raise DumpSyntaxError(f"INSERT row for {plan.table} has {len(spans)} values, expected {ncols}",
                                  block.first_line + raw.count(b"\n", 0, t0), plan.source, raw[t0:t0 + 60])
        sep = raw[prev_end:t0]
        prev_end = t1
        if k not in keep:
            continue
        vals = {entry.index: entry.fn.sql(raw[spans[entry.index][0]:spans[entry.index][1]]) for entry in entries}
        tup = _rebuild_tuple(raw, t0, t1, spans, dict(sorted(vals.items())))
        if kept:
            pieces.append(sep)
        pieces.append(tup)
        kept += 1
    if kept == 0:
        return b"", len(ins.tuples), 0  # every row was cut: the statement disappears
    pieces.append(raw[ins.tail_start:])
    return b"".join(pieces), len(ins.tuples), kept


def _keep_tuples_scanned(plan: TablePlan, entries, block: DataBlock, raw: bytes):
    """_mask_my_insert_at's row-filter path from tuple_spans (C) instead of the lexer: the same
    bytes; None when the statement is not in mysqldump's plain shape (the lexer's path). Only
    the first and last fields of a tuple (its bounds) and the masked ones are asked for, and
    only the kept tuples are looked at: a tuple is "(" fields ")", the text between two tuples
    their separator."""
    ncols = plan.ncols
    head = mysql_lex.parse_insert(raw, tuples=False, line=block.first_line, source=plan.source)
    if head.values_start < 0:
        return None
    idxs = sorted({0, ncols - 1, *(e.index for e in entries)})
    spans = tuple_spans(raw, head.values_start, ncols, tuple(idxs))
    if spans is None:
        return None
    width = 2 * len(idxs)
    nrows = len(spans) // width
    at = {i: 2 * j for j, i in enumerate(idxs)}
    pieces = [raw[:head.values_start]]
    kept = 0
    for k in sorted(block.keep):
        if k >= nrows:
            break
        b = width * k
        t0, t1 = spans[b] - 1, spans[b + width - 1] + 1
        if raw[t0] != 0x28 or raw[t1 - 1] != 0x29:   # "(" ... ")": else not the plain shape
            return None
        if kept:
            # the separator before this tuple: from the end of the tuple just before it
            pieces.append(raw[spans[b - 1] + 1:t0])
        row = {e.index: (spans[b + at[e.index]], spans[b + at[e.index] + 1]) for e in entries}
        vals = {e.index: e.fn.sql(raw[row[e.index][0]:row[e.index][1]]) for e in entries}
        pieces.append(_rebuild_tuple(raw, t0, t1, row, dict(sorted(vals.items()))))
        kept += 1
    if kept == 0:
        return b"", nrows, 0
    pieces.append(raw[spans[-1] + 1:])
    return b"".join(pieces), nrows, kept


def _splice_masked(raw: bytes, spans, entries) -> bytes:
    """The statement with the masked literals replaced; spans = flat (start, end) pairs of the
    masked fields, row by row in plan order."""
    if len(raw) > HUGE_FIELD and has_huge_span(spans):   # a very long value: decoded in place, not copied
        repl, counts = mask_spans_huge(raw, spans, entries, _huge_sql_field, NULL_SQL)
    else:
        repl, counts = _mask_spans(raw, spans, entries, NULL_SQL)
    for j, entry in enumerate(entries):
        entry.stats.changed += counts[2 * j]
        entry.stats.nulls += counts[2 * j + 1]
    return splice(raw, spans, repl)


def _rebuild_tuple(raw, t0, t1, spans, vals) -> bytes:
    out = []
    pos = t0
    for i, v in vals.items():
        s, e = spans[i]
        out.append(raw[pos:s])
        out.append(v)
        pos = e
    out.append(raw[pos:t1])
    return b"".join(out)


def _huge_sql_field(entry, data: bytes, s: int, e: int):
    """A very long plain string literal ('...' without escapes or doubled quotes), decoded from
    `data` in place: the same result as the column's miss (None: take the usual path)."""
    if data[s:s + 1] != b"'" or data[e - 1:e] != b"'" or e - s < 2 or data.find(b"\\", s, e) >= 0 \
            or data.find(b"''", s + 1, e - 1) >= 0:
        return None
    v = str(memoryview(data)[s + 1:e - 1], "utf-8", "surrogateescape")
    nv = entry.value_fn(v)
    if nv == v:
        return UNCHANGED
    if nv is None:
        return NULL_SQL
    return mysql_lex.encode_string(nv.encode("utf-8", "surrogateescape"))


def _locate_my(plan: TablePlan, entries, block: DataBlock) -> str:
    """Where in an INSERT a MaskingError comes from: "line: table row N" (N counted in the
    table), found by running the masked fields' functions again tuple by tuple; the
    statement's line when the tuples cannot be read."""
    raw = block.data
    try:
        ins = mysql_lex.parse_insert(raw, tuples=True, line=block.first_line, source=plan.source)
    except DumpSyntaxError:
        return str(block.first_line)
    for k, (t0, _t1, spans) in enumerate(ins.tuples):
        for entry in entries:
            if entry.index < len(spans):
                s, e = spans[entry.index]
                try:
                    entry.fn.miss(raw[s:e])
                except MaskingError:
                    at = block.first_line + raw.count(b"\n", 0, t0)
                    return f"{at}: {plan.table} row {block.row0 + k + 1}"
    return str(block.first_line)


# -- row conditions (`where`): row by row, each masked field only in the rows its rule holds for

def _condition_reader(plan: TablePlan, entries):
    """values(fields) -> {column: decoded text or None} of the columns the conditions read."""
    need = sorted({plan.columns.index(c) for e in entries for cond in (e.condition, e.suppress) if cond is not None
                   for c in cond.columns})
    names = [(i, plan.columns[i]) for i in need]
    if plan.dialect == "postgres":
        def value(raw: bytes):
            s = raw.strip()
            if s.upper() == b"DEFAULT":
                return None
            return postgres.literal_decode(s).value
    else:
        def value(raw: bytes):
            kind, v = mysql_lex.decode_literal(raw)
            if kind in ("null", "default"):
                return None
            return v.decode("utf-8", "surrogateescape") if isinstance(v, (bytes, bytearray)) else str(v)
    return names, value


def _suppress(entry, was_null: bool) -> None:
    """A field written as NULL because its row's class is below k (k-anonymity's suppress)."""
    entry.stats.nulls += 1
    if not was_null:
        entry.stats.changed += 1


def _holds(entry, values) -> bool:
    """Does the entry's rule apply to this row (counted when it does)?"""
    if entry.condition is None:
        return True
    if entry.condition(values):
        entry.stats.matched += 1
        return True
    return False


def template_order(items) -> list:
    """The `template` entries (ColumnSpec or ColumnRuntime with .template) in an order where
    each comes after the templates it reads; ValueError((index, ...)) naming a cycle."""
    by_index = {t.index: t for t in items if t.template is not None}
    done, out = set(), []

    def visit(t, path):
        if t.index in done:
            return
        if t.index in path:
            raise ValueError(tuple(path[path.index(t.index):]) + (t.index,))
        path.append(t.index)
        for _name, i in t.template:
            if i in by_index:
                visit(by_index[i], path)
        path.pop()
        done.add(t.index)
        out.append(t)

    for i in sorted(by_index):
        visit(by_index[i], [])
    return out


def _row_templates(plan: TablePlan, entries):
    """(the entries masked first, the templates in evaluation order, the decoder of a raw
    field of this dialect's INSERT literals)."""
    templates = template_order(entries)
    if not templates:
        return entries, (), None
    return [e for e in entries if e.template is None], templates, _condition_reader(plan, ())[1]


def _template_value(e, orig, new_value):
    """The template's new value for a field whose original value is `orig`."""
    return e.value_fn.render(orig, {name: new_value(i) for name, i in e.template})


def _mask_conditional(plan: TablePlan, entries, block: DataBlock):
    if block.kind == "copy":
        return _mask_copy_conditional(plan, entries, block)
    if plan.dialect == "postgres":
        return _mask_insert_conditional(plan, entries, block, postgres.parse_insert(
            block.data, plan.source, block.first_line) if block.parsed is None else block.parsed)
    ins = block.parsed if block.parsed is not None else mysql_lex.parse_insert(
        block.data, tuples=True, line=block.first_line, source=plan.source)
    return _mask_insert_conditional(plan, entries, block, ins)


def _mask_copy_conditional(plan: TablePlan, entries, block: DataBlock):
    chunk = block.data
    parts = chunk.split(b"\n")
    tail = parts.pop()
    lines = [ln + b"\n" for ln in parts] + ([tail] if tail else [])
    ncols = plan.ncols
    names, _ = _condition_reader(plan, entries)
    decode = postgres.copy_decode
    entries, templates, _ = _row_templates(plan, entries)
    out = []
    for k, line in enumerate(lines):
        body, eol = (line[:-2], b"\r\n") if line.endswith(b"\r\n") else (line[:-1], b"\n") if line.endswith(b"\n") \
            else (line, b"")
        fields = body.split(b"\t")
        if len(fields) != ncols:
            where, _row = _copy_error_row(block, k)
            raise DumpSyntaxError(f"COPY row for {plan.table} has {len(fields)} fields, expected {ncols}",
                                  where, plan.source, line[:60])
        values = {name: decode(fields[i]) for i, name in names}
        for entry in entries:
            if entry.suppress is not None and entry.suppress(values):
                _suppress(entry, fields[entry.index] == NULL_COPY)
                fields[entry.index] = NULL_COPY
                continue
            if _holds(entry, values):
                _mask_copy_field(plan, block, k, entry, fields)
        if templates:
            try:
                _copy_templates(templates, fields, values, decode)
            except MaskingError as e:
                where, row = _copy_error_row(block, k)
                raise MaskingError(f"{plan.source}:{where}: {plan.table} row {row}: {e}") from None
        out.append(b"\t".join(fields) + eol)
    return b"".join(out), len(lines), len(lines)


def _copy_templates(templates, fields, values, decode) -> None:
    """A COPY row's template fields, from its fields' new values (`fields`, masked so far)."""
    for e in templates:
        raw = fields[e.index]
        if e.suppress is not None and e.suppress(values):
            _suppress(e, raw == NULL_COPY)
            fields[e.index] = NULL_COPY
            continue
        if not _holds(e, values):
            continue
        orig = None if raw == NULL_COPY else decode(raw)
        nv = _template_value(e, orig, lambda i: None if fields[i] == NULL_COPY else decode(fields[i]))
        if nv == orig:
            if orig is None:
                e.stats.nulls += 1
            continue
        fields[e.index] = NULL_COPY if nv is None else postgres.copy_encode(nv)
        e.stats.changed += 1
        if nv is None:
            e.stats.nulls += 1


def _new_literal(raw: bytes, spans, vals: dict, decode):
    """i -> the decoded new value of an INSERT row's i-th field (`vals`: the new literals)."""
    return lambda i: decode(vals[i] if i in vals else raw[spans[i][0]:spans[i][1]])


def _insert_template(plan: TablePlan, e, field: bytes, new_value, decode):
    """An INSERT field of a template: the new literal (the field itself when unchanged)."""
    orig = decode(field)
    nv = _template_value(e, orig, new_value)
    if nv == orig:
        if orig is None:
            e.stats.nulls += 1
        return field
    e.stats.changed += 1
    if nv is None:
        e.stats.nulls += 1
        return NULL_SQL
    lead = field[:len(field) - len(field.lstrip())]
    trail = field[len(field.rstrip()):]
    if plan.dialect == "postgres":
        lit = postgres.literal_decode(field.strip()) if orig is not None else postgres.Literal("", True, b"")
        return lead + postgres.literal_encode(nv, lit, e.kind) + trail
    return lead + mysql_lex.encode_string(nv.encode("utf-8", "surrogateescape")) + trail


def _mask_insert_conditional(plan: TablePlan, entries, block: DataBlock, ins):
    """An INSERT rebuilt tuple by tuple (the kept ones, with the separators that preceded
    them), each masked field replaced only in the rows its rule's condition holds for."""
    raw = block.data
    ncols = plan.ncols
    names, value = _condition_reader(plan, entries)
    entries, templates, decode = _row_templates(plan, entries)
    keep = set(block.keep) if block.keep is not None else None
    pieces = [raw[:ins.values_start]]
    kept = 0
    prev_end = ins.values_start
    for k, (t0, t1, spans) in enumerate(ins.tuples):
        if len(spans) != ncols:
            raise DumpSyntaxError(f"INSERT row for {plan.table} has {len(spans)} values, expected {ncols}",
                                  block.first_line + raw.count(b"\n", 0, t0), plan.source)
        sep = raw[prev_end:t0]
        prev_end = t1
        if keep is not None and k not in keep:
            continue
        values = {name: value(raw[spans[i][0]:spans[i][1]]) for i, name in names}
        try:
            vals = {}
            for e in entries:
                field = raw[spans[e.index][0]:spans[e.index][1]]
                if e.suppress is not None and e.suppress(values):
                    _suppress(e, field.strip().upper() == NULL_SQL)
                    vals[e.index] = NULL_SQL
                elif _holds(e, values):
                    vals[e.index] = e.fn.sql(field)
            for e in templates:
                field = raw[spans[e.index][0]:spans[e.index][1]]
                if e.suppress is not None and e.suppress(values):
                    _suppress(e, field.strip().upper() == NULL_SQL)
                    vals[e.index] = NULL_SQL
                elif _holds(e, values):
                    vals[e.index] = _insert_template(plan, e, field, _new_literal(raw, spans, vals, decode), decode)
        except MaskingError as e:
            at = block.first_line + raw.count(b"\n", 0, t0)   # (counted only for the message: per row it was quadratic)
            raise MaskingError(f"{plan.source}:{at}: {plan.table} row {block.row0 + k + 1}: {e}") from None
        if kept:
            pieces.append(sep)
        pieces.append(_rebuild_tuple(raw, t0, t1, spans, dict(sorted(vals.items()))))
        kept += 1
    if kept == 0:
        return b"", len(ins.tuples), 0
    pieces.append(raw[ins.tail_start:])
    return b"".join(pieces), len(ins.tuples), kept
