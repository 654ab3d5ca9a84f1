"""`dumpmask verify ORIGINAL MASKED -c RULES`: a leak check after masking.

Every original value of a masked column (a column a rule of RULES names with a mutation other
than `keep`) is looked for in the whole masked dump, in every column of every table: as a whole
value, as a token inside text, and (values of several words) as a run of consecutive tokens
inside text. Comparison is case-insensitive on tokens: text is split on every character that is
not a letter or a digit, so `MARY.SMITH@sakilacustomer.org` is the token run
`mary smith sakilacustomer org` and is found inside "write to mary.smith@sakilacustomer.org!".
Runs are compared on their first MAX_TOKENS (8) tokens.

Low risk (reported, does not fail the run unless --all) -- a value that cannot single anyone
out alone, or whose presence proves no leak:
  1. short: fewer than 4 letters/digits in all (`JON`, `ANN`, `12`);
  2. a number of fewer than 5 digits (`1913`, a street number or a small id);
  3. one token (no space or punctuation inside) that also appears in a column of the ORIGINAL
     dump that RULES do not mask (MARY naming a customer and an actor; a postal code equal to
     a payment id): it is in the masked output by the rules' choice;
  4. found only inside cells of masked columns of MASKED (rewritten by their mutation) and
     a. not an original value of that same row (rows are matched by their position in the
        table; when a table's row counts differ this excuse is void): the generators write
        names, postcodes, words from pools, so values of other rows turn up by chance; or
     b. one word of letters only even on its own row (a generated first name can be the
        row's own), unless that column gives back its own row's value for at least 2 rows
        and 5% of its rows (the column was not masked at all: a leak).
Everything else found is a leak, exit 1: e-mails, phone numbers, addresses, user names,
password hashes, numbers of 5 digits or more, multi-word values, and any value of a masked
column found in a column RULES do not mask (a free-text column, a copy) unless 1-3 apply.

Memory: pass 1 puts keyed 64-bit hashes (verifyfast.HASH with a random per-run seed: no value
is kept in clear) of the original values, of value@row and of each value's first token into
exact sets while they are small (up to SET_MAX hashes each) and into blocked Bloom filters of a
fixed BLOOM_BYTES beyond (memory flat; more values only raise the false-positive rate, which
costs time and never hides a finding: a value@row false positive makes a generated hit a
suspect); pass 2 reads the MASKED dump as a stream and keeps only hits (candidates: hash,
counts, a few redacted locations; suspect rows in compact arrays); pass 3 re-reads ORIGINAL to
confirm candidates exactly (64-bit keyed hash equality) and to learn which ones also occur in
unmasked columns. Each pass reads a piece at a time (a COPY chunk, a MySQL INSERT) in C
(verifyfast.learn_piece, search_piece, confirm_piece: decoding, tokenising and hashing without
a Python object per row; pure-Python twins). What is found is bounded as well: at most
MAX_CANDIDATES distinct values are examined and MAX_SUSPECTS suspect rows kept; past either,
the rest is counted, the report says how many, and verify fails closed. Memory never grows
with the number of original values past SET_MAX nor with the size of the masked dump.
"""
from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from array import array
from bisect import bisect_left

from dumpmask.errors import DumpmaskError
from dumpmask.rules import RuleSet
from dumpmask.idents import column_named, display_name
from dumpmask.verifyfast import (HASH, bloom_add, bloom_add_all, bloom_has, confirm_piece, learn_piece, search_piece,
                                 tokens_of)

MAX_TOKENS = 8
MAX_LOCATIONS = 5
_TOKEN_RE = re.compile(r"[^\W_]+")


# --------------------------------------------------------------------------- helpers


def tokens(value: str) -> list[str]:
    return [t.casefold() for t in _TOKEN_RE.findall(value)]


def redact(text: str) -> str:
    """`MARY.SMITH@sakilacustomer.org` -> `MA***@***.org`; `1913 Hanoi Way` -> `19***`."""
    t = text.strip()
    if "@" in t:
        local, _, dom = t.partition("@")
        tld = dom.rsplit(".", 1)[-1] if "." in dom else ""
        return f"{local[:2]}***@***" + (f".{tld}" if tld and len(tld) <= 6 else "")
    keep = 2 if len(t) >= 6 else 1
    return t[:keep] + "***"


SYSTEMATIC_RATE = 0.05
SYSTEMATIC_MIN = 2
MAX_SUSPECTS = 2_000_000     # suspect hits kept (21 bytes each: at most ~42 MB)
MAX_CANDIDATES = 200_000     # distinct values found that are examined one by one (~0.5 KB each)


class _Suspects:
    """The suspect hits of pass 2 (a candidate found inside a masked cell of MASKED that is the
    row's own original value, by value@row): per table, in the order read (row ordinals
    ascending), as arrays: ordinal, candidate hash, column; at most `limit` in all, past it only
    counted. Pass 3 takes a row's hits of a candidate once."""

    __slots__ = ("tables", "columns", "column_ids", "n", "dropped", "limit")

    def __init__(self, limit: int | None = None):
        self.tables: dict = {}
        self.columns: list = []
        self.column_ids: dict = {}
        self.n = self.dropped = 0
        self.limit = MAX_SUSPECTS if limit is None else limit

    def add(self, table: str, ordinal: int, hv: int, column: str) -> bool:
        """False (counted, not kept) past the limit."""
        if self.n >= self.limit:
            self.dropped += 1
            return False
        t = self.tables.get(table)
        if t is None:
            t = self.tables[table] = (array("Q"), array("Q"), array("I"), bytearray())
        cid = self.column_ids.get(column)
        if cid is None:
            cid = self.column_ids[column] = len(self.columns)
            self.columns.append(column)
        t[0].append(ordinal)
        t[1].append(hv)
        t[2].append(cid)
        t[3].append(0)
        self.n += 1
        return True

    def take(self, table: str, ordinal: int, hv: int) -> list:
        """The columns of row `ordinal` of `table` where candidate hv was a suspect (each once)."""
        t = self.tables.get(table)
        if t is None:
            return []
        ordinals, hashes, cols, used = t
        j = bisect_left(ordinals, ordinal)
        out = []
        while j < len(ordinals) and ordinals[j] == ordinal:
            if hashes[j] == hv and not used[j]:
                used[j] = 1
                if self.columns[cols[j]] not in out:
                    out.append(self.columns[cols[j]])
            j += 1
        return out


@dataclass(slots=True)
class Candidate:
    """A value found in MASKED whose hash is an original value's. Small (slots; the sets are
    shared empty frozensets until something is added), so MAX_CANDIDATES of them stay bounded."""
    count: int = 0                                   # every occurrence in MASKED
    hard: int = 0                                    # occurrences in unmasked columns of MASKED
    locations: tuple = ()                            # (table.column, line) of hard/suspect hits
    excused_locations: tuple = ()
    sample: str = ""                                 # redacted text as found in MASKED
    overflow: bool = False                           # a suspect hit past MAX_SUSPECTS (not kept)
    excused_tables: frozenset = frozenset()          # tables with hits inside rewritten masked cells
    same_row: frozenset = frozenset()                # confirmed: columns giving back their row's value
    confirmed: bool = False
    sources: frozenset = frozenset()                 # original masked columns holding it
    source_columns: frozenset = frozenset()          # the same as (table, column) pairs (the in-job audit)
    in_unmasked: frozenset = frozenset()             # original unmasked columns holding it (one token)
    short: bool = False
    small_number: bool = False
    single: bool = False
    word: bool = False

    def risk(self, misaligned: set, systematic: set) -> str | None:
        """None when this is a leak, UNPAIRED when verify cannot tell (found only inside masked
        cells of tables whose rows it cannot pair with the original's), else why it is low risk."""
        if self.short:
            return "short (fewer than 4 letters/digits)"
        if self.small_number:
            return "a number of fewer than 5 digits"
        if self.single and self.in_unmasked:
            cols = sorted(self.in_unmasked)
            return "also in unmasked column " + ", ".join(cols[:3]) + (" ..." if len(cols) > 3 else "") + " of the original"
        if self.hard or self.overflow:
            return None
        if self.excused_tables & misaligned:
            return UNPAIRED
        if self.same_row:
            if self.word and not self.same_row & systematic:
                return "one word, generated by chance in its own row's masked cell"
            return None
        return "only inside masked cells rewritten by their mutation (generated, not the row's own value)"


UNPAIRED = "unpaired"   # Candidate.risk: found in masked cells of a table whose rows verify cannot pair


class _MaskedColumns:
    """Which positions of a data column list the rules mask (mutation other than keep)."""

    def __init__(self, rules: RuleSet, dialect: str):
        self.rules, self.dialect = rules, dialect
        self.cache: dict = {}

    def __call__(self, key, columns) -> frozenset:
        ck = (key, tuple(columns))
        r = self.cache.get(ck)
        if r is None:
            idx = set()
            for tr in self.rules.for_table(key[0], key[1], self.dialect):
                for cr in tr.columns:
                    if cr.mutation == "keep":
                        continue
                    for i, c in enumerate(columns):
                        if column_named(cr.column.name, cr.column.name_quoted, c, self.dialect):
                            idx.add(i)
                            break
            r = self.cache[ck] = frozenset(idx)
        return r

    def conditions(self, key, columns, schema) -> tuple:
        """((position, conditions.Condition), ...) of the masked columns whose rule has a `where`
        (a table rule's or its own): the rows it does not hold for keep their values in clear,
        as the rules ask, so those values are not masked values."""
        ck = ("where", key, tuple(columns))
        r = self.cache.get(ck)
        if r is None:
            from dumpmask.conditions import compile_condition

            out = []
            for tr in self.rules.for_table(key[0], key[1], self.dialect):
                for cr in tr.columns:
                    if cr.mutation == "keep" or cr.condition is None:
                        continue
                    for i, c in enumerate(columns):
                        if column_named(cr.column.name, cr.column.name_quoted, c, self.dialect):
                            out.append((i, compile_condition(cr.condition, schema if schema is not None and schema.columns
                                                             else None, self.dialect, f"{cr.where}.where",
                                                             self.rules.path, columns=list(columns))))
                            break
            r = self.cache[ck] = tuple(out)
        return r


@dataclass
class VerifyResult:
    leaks: list          # dicts (see _finding_dict)
    low_risk: list
    values_checked: int
    bloom_bytes: int
    candidates: int
    unmasked_columns: list = field(default_factory=list)  # masked columns giving back their rows' values
    misaligned: list = field(default_factory=list)         # tables whose rows cannot be paired (counts differ, no record)
    not_examined: int = 0        # distinct values found past MAX_CANDIDATES (a lower bound past SET_MAX)
    not_examined_found: int = 0  # their occurrences
    suspects_not_kept: int = 0   # suspect hits past MAX_SUSPECTS (their values are leaks: fail closed)
    unpaired: list = field(default_factory=list)           # findings only inside masked cells of those tables
    row_counts: dict = field(default_factory=dict)         # misaligned table -> (rows in ORIGINAL, rows in MASKED)
    paired_by_record: list = field(default_factory=list)   # tables whose rows were paired by the run's record of them
    limits: object = None                                  # the Limits it ran with

    def failed(self, fail_all: bool) -> bool:
        return bool(self.leaks or self.not_examined or self.unpaired or (fail_all and self.low_risk))


def _finding_dict(c: Candidate, why: str | None) -> dict:
    return {"value": c.sample, "found": c.count, "where": [f"{tc}:{line}" for tc, line in c.locations],
            "from": sorted(c.sources), "low_risk": why}


SET_MAX = 1 << 19   # hashes kept in an exact set up to this many (~40 MB), a Bloom filter beyond
BLOOM_BYTES = 1 << 24   # the Bloom filter a set becomes: 16 MiB, whatever the input's size


@dataclass(frozen=True)
class Limits:
    """What verify may hold: exact sets up to set_max hashes, then Bloom filters of bloom_bytes
    (five of them: values, value@row, first tokens, the candidates' first tokens, the values
    not examined), at most max_candidates distinct values examined and max_suspects suspect hits
    kept. Without --max-memory the constants above (about 130 MB at most); with it, scaled to
    memory.Budget.share("verify"): a smaller filter costs time (false positives, never a
    finding), values past the candidates' bound make verify fail closed, as without a limit."""
    set_max: int = SET_MAX
    bloom_bytes: int = BLOOM_BYTES
    max_candidates: int = MAX_CANDIDATES
    max_suspects: int = MAX_SUSPECTS
    bounded: bool = False   # scaled to --max-memory

    MIN_SHARE = 8 << 20   # below this (--max-memory under 16M) verify refuses to start

    @classmethod
    def of(cls, budget) -> Limits:
        share = budget.share("verify") if budget else None
        if share is None:
            return cls(SET_MAX, BLOOM_BYTES, MAX_CANDIDATES, MAX_SUSPECTS)   # (read now: tests lower them)
        if share < cls.MIN_SHARE:
            budget.fail("verify", cls.MIN_SHARE, hint="verify's smallest filters and bounds")
        bloom = 1 << 16
        while bloom * 2 <= min(BLOOM_BYTES, share // 10):
            bloom *= 2
        # 5 filters (or exact sets of about the same size: ~48 bytes a hash), the candidates
        # (~0.5 KB each) on a quarter, the suspects (21 bytes each) on an eighth
        return cls(set_max=min(SET_MAX, bloom // 48), bloom_bytes=bloom,
                   max_candidates=min(MAX_CANDIDATES, share // 4 // 512),
                   max_suspects=min(MAX_SUSPECTS, share // 8 // 21), bounded=True)


class _HashSet:
    """Keyed 64-bit hashes: an exact set while small (fast, C-level probes), then a blocked
    Bloom filter of a fixed BLOOM_BYTES (verifyfast: 6 bits in one 64-byte block per hash), so
    memory stays flat. Its false-positive rate grows with the hashes it holds: about 2e-6 at
    1 million, 1e-3 at 8 million, 2% at 16 million; a false positive costs time (a row looked
    at, a candidate that pass 3 does not confirm), never a finding."""

    __slots__ = ("set", "bloom", "limit", "n", "pre", "bloom_bytes")

    def __init__(self, limit: int = SET_MAX, bloom_bytes: int = BLOOM_BYTES):
        self.set: set | None = set()
        self.bloom: bytearray | None = None
        self.pre: bytearray | None = None
        self.limit = limit
        self.bloom_bytes = bloom_bytes
        self.n = 0

    def add(self, h: int) -> None:
        s = self.set
        if s is None:
            if bloom_add(self.bloom, h):
                self.n += 1
            return
        s.add(h)
        self.pre = None
        if len(s) > self.limit:
            self._to_bloom()

    def update(self, hashes: array) -> None:
        """Adds an array('Q') of hashes."""
        s = self.set
        if s is None:
            self.n += bloom_add_all(self.bloom, hashes)
            return
        s.update(hashes)
        self.pre = None
        if len(s) > self.limit:
            self._to_bloom()

    def _to_bloom(self) -> None:
        b = self.bloom = bytearray(self.bloom_bytes)
        bloom_add_all(b, array("Q", self.set))
        self.n = len(self.set)
        self.set = None

    @property
    def probe(self) -> tuple:
        """What the C passes look hashes up in: (Bloom filter, exact set or None). An exact set
        gets a small filter in front (8 bytes a hash: about 5e-7 false positives), built once."""
        if self.set is None:
            return (self.bloom, None)
        if self.pre is None:
            blocks = 1
            while blocks * 8 < len(self.set) and blocks * 64 < self.bloom_bytes:
                blocks *= 2
            pre = bytearray(64 * blocks)
            bloom_add_all(pre, array("Q", self.set))
            self.pre = pre
        return (self.pre, self.set)

    def __contains__(self, h: int) -> bool:
        s = self.set
        return h in s if s is not None else bloom_has(self.bloom, h)

    def any_of(self, hashes) -> bool:
        """True when one of the hashes (an iterable) may be in."""
        s = self.set
        if s is not None:
            return not s.isdisjoint(hashes)
        b = self.bloom
        for h in hashes:
            if bloom_has(b, h):
                return True
        return False

    @property
    def count(self) -> int:
        """Hashes held (past the exact set: those that set a new bit, a lower bound)."""
        return len(self.set) if self.set is not None else self.n

    @property
    def nbytes(self) -> int:
        import sys

        if self.set is not None:
            return sys.getsizeof(self.set) + 36 * len(self.set) + (len(self.pre) if self.pre is not None else 0)
        return len(self.bloom)


# --------------------------------------------------------------------------- pieces


def _each_piece(dump, run) -> None:
    """Calls run(table key, columns, layout, data, start, line0, decode) -> rows read, or None
    (not in the plain shape), for every piece of the dump's data in order (verifyfast's
    layouts: 0 a COPY chunk, 1 a MySQL VALUES list, 2 a list of (line, raw fields) rows); a
    VALUES list the C scanner finds not in mysqldump's plain shape comes again as its parsed
    rows."""
    for b in dump.blocks(pieces=True):
        if b.kind == "copy_chunks":
            line = b.lineno()
            for chunk in b.items:
                line += run(b.key, b.columns, 0, chunk, 0, line, b.decode)
            continue
        if b.kind == "values":
            raw, start = b.items
            if run(b.key, b.columns, 1, raw, start, b.lineno(), b.decode) is not None:
                continue
            b = b.fields()   # not in the plain shape after all: parsed
            if b is None:
                continue
        fields, lineno = b.fields, b.lineno
        run(b.key, b.columns, 2, [(lineno(), fields(it)) for it in b.items], 0, 0, b.decode)


def _unmatched_as_null(layout: int, data, start: int, ncols: int, line0: int, decode, cols, conds) -> list | None:
    """The rows of a piece as a row list (layout 2) in which a field whose rule's `where` does
    not hold for its row is NULL (the masking run kept it in clear: not a masked value), or
    None (not in the plain shape). Python, row by row: only for tables with such rules."""
    from dumpmask.verifyfast import _piece_rows

    rows = _piece_rows(layout, data, start, ncols, line0)
    if rows is None:
        return None
    null = next(n for n in (b"\\N", b"NULL") if decode(n) is None)
    need = sorted({cols.index(c) for _i, cond in conds for c in cond.columns if c in cols})
    out = []
    for line, fields in rows:
        raw = [f for f, _s, _e in fields]
        values = {cols[i]: decode(raw[i]) for i in need if i < len(raw)}
        for i, cond in conds:
            if i < len(raw) and not cond(values):
                raw[i] = null
        out.append((line, raw))
    return out


def _raw_field(layout: int, data, k: int, f: int, fs: int, fe: int) -> bytes:
    """The raw bytes of field f of row k of a piece (a hit's fs:fe span, or the row list's)."""
    return data[k][1][f] if layout == 2 else data[fs:fe]


def _column(cols, f: int) -> str:
    return cols[f] if f < len(cols) else f"(field {f + 1})"


def verify(original, masked, rules: RuleSet, dialect: str | None = None, progress=None, written=None,
           budget=None) -> VerifyResult:
    """The leak check of ORIGINAL against MASKED (see the module's docstring): three passes,
    each a method of _LeakCheck, then the verdict on every confirmed candidate. `written`: the
    masking run's engine.WrittenRows (which input rows each filtered table wrote), or None.
    `budget`: a memory.Budget (--max-memory): verify's sets and bounds scaled to its share."""
    if not rules.tables:
        raise DumpmaskError("verify needs a rules file (-c RULES) naming the masked columns")
    check = _LeakCheck(rules, dialect, written, budget)
    check.learn_original(original)
    if progress:
        progress(f"pass 1: {check.n_values} values of masked columns, {check.values.count} distinct, "
                 f"filters {check.filter_bytes} bytes")
    check.search_masked(masked)
    if progress:
        progress(f"pass 2: {len(check.candidates)} candidate value(s) found in the masked dump")
    if check.candidates:
        check.confirm_in_original(original)
    return check.result()


class _LeakCheck:
    """The state of one verify run. Every hash is a keyed 64-bit hash (xxh3_64 with a random
    per-run seed) of UTF-8 bytes; a token run is its tokens joined by one space."""

    def __init__(self, rules: RuleSet, dialect: str | None, written=None, budget=None):
        self.rules, self.dialect = rules, dialect
        self.seed = int.from_bytes(os.urandom(8), "little")
        # the masking run's record of the input rows each filtered table wrote (engine.WrittenRows,
        # --verify): an original row is paired with the row it became, not the row at its position
        self.kept: dict = {} if written is None else {t: f for t, f in written.flags.items() if t not in written.unknown}
        self.unknown: set = set() if written is None else set(written.unknown)
        # pass 1: the original values of masked columns, value@row, and their first tokens
        # (pass 2 builds token runs only from tokens that begin a value)
        self.limits = Limits.of(budget)
        lim = self.limits
        self.values = _HashSet(lim.set_max, lim.bloom_bytes)
        self.row_values = _HashSet(lim.set_max, lim.bloom_bytes)
        self.first_tokens = _HashSet(lim.set_max, lim.bloom_bytes)
        self.lengths: set[int] = set()       # token counts of the original values (<= MAX_TOKENS)
        self.n_values = 0
        self.columns_seen: set = set()       # (table, column) of the masked columns with data (the in-job audit)
        self.original_rows: dict[str, int] = {}
        # pass 2: hits in the masked dump
        self.candidates: dict[int, Candidate] = {}
        self.candidate_first = _HashSet(lim.set_max, lim.bloom_bytes)   # first tokens of the candidates (pass 3 skips rows without any)
        self.masked_rows: dict[str, int] = {}
        self.suspects = _Suspects(lim.max_suspects)
        self.not_examined = _HashSet(lim.set_max, lim.bloom_bytes)     # distinct values found past MAX_CANDIDATES
        self.not_examined_found = 0
        # pass 3: masked columns giving back their own row's value, and how often
        self.same_row_count: dict[str, int] = {}

    @property
    def filter_bytes(self) -> int:
        return self.values.nbytes + self.row_values.nbytes + self.first_tokens.nbytes

    # ------------------------------------------------------------------ pass 1

    def learn_original(self, original) -> None:
        """Pass 1: keyed hashes of the original values of masked columns (and of value@row),
        and of their first tokens (verifyfast.learn_piece, a piece at a time)."""
        from dumpmask.rows import DumpRows

        seed = self.seed
        dump = DumpRows(original, self.dialect)
        masked_cols = _MaskedColumns(self.rules, dump.dialect)
        hashes = array("Q")
        written: dict = {}   # table -> rows written so far (the masked ordinal), for tables in self.kept

        def run(key, cols, layout, data, start, line0, decode):
            table = display_name(key)
            ordinal = self.original_rows.get(table, 0)
            idx = masked_cols(key, cols)
            self.columns_seen.update((table, cols[i]) for i in idx)
            conds = masked_cols.conditions(key, cols, dump.table(key)) if idx else ()
            if conds:
                # rows a `where` does not hold for: that column's value is not a masked value
                got = _unmatched_as_null(layout, data, start, len(cols), line0, decode, cols, conds)
                if got is None:
                    return None
                layout, data, start, line0 = 2, got, 0, 0
            flags = self.kept.get(table)
            if flags is None:
                got = learn_piece(layout, data, start, len(cols), line0, decode, tuple(sorted(idx)), seed,
                                  table.encode("utf-8", "surrogatepass"), ordinal)
            else:
                got = learn_piece(layout, data, start, len(cols), line0, decode, tuple(sorted(idx)), seed,
                                  table.encode("utf-8", "surrogatepass"), written.get(table, 0),
                                  memoryview(flags)[min(ordinal, len(flags)):])
                if got is not None:
                    written[table] = written.get(table, 0) + flags.count(1, ordinal, ordinal + got[0])
            if got is None:
                return None
            nrows, runs, firsts, rows, lengths, nvalues = got
            if nvalues:
                for packed, into in ((runs, self.values), (firsts, self.first_tokens), (rows, self.row_values)):
                    del hashes[:]
                    hashes.frombytes(packed)
                    into.update(hashes)
                self.lengths.update(n for n in range(1, MAX_TOKENS + 1) if lengths >> n & 1)
                self.n_values += nvalues
            self.original_rows[table] = ordinal + nrows
            return nrows

        try:
            _each_piece(dump, run)
        finally:
            dump.close()

    # ------------------------------------------------------------------ pass 2

    def search_masked(self, masked) -> None:
        """Pass 2: the masked dump, streamed (verifyfast.search_piece, a piece at a time); only
        hits are kept: every run of 1..MAX_TOKENS tokens of a value that is an original value,
        looked for only from tokens that begin one."""
        from dumpmask.rows import DumpRows

        seed = self.seed
        first, values, row_values = self.first_tokens.probe, self.values.probe, self.row_values.probe
        lengths = tuple(sorted(self.lengths)) or (1,)
        dump = DumpRows(masked, self.dialect)
        masked_cols = _MaskedColumns(self.rules, dump.dialect)

        def run(key, cols, layout, data, start, line0, decode):
            table = display_name(key)
            ordinal = self.masked_rows.get(table, 0)
            idx = masked_cols(key, cols)
            got = search_piece(layout, data, start, len(cols), line0, decode, seed, first, values, lengths, row_values,
                               tuple(idx), table.encode("utf-8", "surrogatepass"), ordinal)
            if got is None:
                return None
            nrows, hits = got
            columns = [_column(cols, f) for f in range(max((hit[1] for hit in hits), default=-1) + 1)]
            names = [f"{table}.{col}" for col in columns]
            get = self.candidates.get
            for k, f, line, fs, fe, i, n, h, own in hits:
                c = get(h)
                if c is None:
                    c = self.new_candidate(h, decode(_raw_field(layout, data, k, f, fs, fe)), i, n)
                    if c is None:
                        continue
                if not own and f in idx:
                    # the common case, inline (self.hit's first branch): written by the mutation
                    c.count += 1
                    if table not in c.excused_tables:
                        c.excused_tables |= {table}
                    if len(c.excused_locations) < MAX_LOCATIONS:
                        c.excused_locations += ((names[f], line),)
                    continue
                self.hit(c, h, table, columns[f], names[f], f in idx, own, ordinal + k + 1, line)
            self.masked_rows[table] = ordinal + nrows
            return nrows

        try:
            _each_piece(dump, run)
        finally:
            dump.close()

    def new_candidate(self, hv: int, v: str, i: int, n: int) -> Candidate | None:
        """The candidate for hash hv, first found as tokens i..i+n-1 of the masked dump's value v
        (None past MAX_CANDIDATES: counted, not kept)."""
        if len(self.candidates) >= self.limits.max_candidates:
            self.not_examined.add(hv)
            self.not_examined_found += 1
            return None
        spans = [m.span() for m in _TOKEN_RE.finditer(v)]
        c = self.candidates[hv] = Candidate(sample=redact(v[spans[i][0]:spans[i + n - 1][1]]))
        self.candidate_first.add(HASH(tokens_of(v)[i], self.seed))
        return c

    def hit(self, c: Candidate, hv: int, table: str, col: str, name: str, in_masked: bool, own: bool, ordinal: int,
            line: int) -> None:
        """Candidate c found in column `name` (table.col) of MASKED: counted, with where it was
        found (a hit in a masked cell that is not the row's own original value is excused: the
        mutation wrote it)."""
        c.count += 1
        loc = (name, line)
        if in_masked:
            if not own:
                # not an original value of this row: the mutation wrote it
                if table not in c.excused_tables:
                    c.excused_tables |= {table}
                if len(c.excused_locations) < MAX_LOCATIONS:
                    c.excused_locations += (loc,)
                return
            if not self.suspects.add(table, ordinal, hv, col):
                c.overflow = True
        else:
            c.hard += 1
        if len(c.locations) < MAX_LOCATIONS:
            c.locations += (loc,)

    # ------------------------------------------------------------------ pass 3

    def confirm_in_original(self, original) -> None:
        """Pass 3: exact confirmation against the original (verifyfast.confirm_piece, a piece at
        a time), and which candidates also live in unmasked columns."""
        from dumpmask.rows import DumpRows

        seed = self.seed
        candidates = self.candidates
        exact = _HashSet(limit=len(candidates) + 1)
        exact.update(array("Q", candidates))
        target = exact.probe
        dump = DumpRows(original, self.dialect)
        masked_cols = _MaskedColumns(self.rules, dump.dialect)
        rows_seen: dict[str, int] = {}
        written: dict = {}   # table -> rows written before this piece, for tables in self.kept

        def run(key, cols, layout, data, start, line0, decode):
            table = display_name(key)
            ordinal = rows_seen.get(table, 0)
            got = confirm_piece(layout, data, start, len(cols), line0, decode, seed, target, tuple(masked_cols(key, cols)))
            if got is None:
                return None
            nrows, hits = got
            flags = self.kept.get(table)
            pairs = None
            if flags is not None:
                # row k of this piece is row pairs[k] of the masked dump (0: not written)
                m0 = written.get(table, 0)
                part = flags[ordinal:ordinal + nrows]
                part += bytes(nrows - len(part))
                pairs = [m0 + n if w else 0 for n, w in zip(itertools.accumulate(part), part, strict=True)]
                written[table] = m0 + part.count(1)
            rows_seen[table] = ordinal + nrows
            if not hits:
                return nrows
            # the masked ordinals of this piece's rows that have suspect hits (pass 2): a hit of a
            # confirmed candidate elsewhere, in a column already among its sources, changes nothing
            sus = self.suspects.tables.get(table)
            sus_rows: set = set()
            if sus is not None:
                lo, hi = (ordinal + 1, ordinal + nrows) if pairs is None else (m0 + 1, written[table])
                sus_rows = set(sus[0][bisect_left(sus[0], lo):bisect_left(sus[0], hi + 1)])
            names = [_column(cols, f) for f in range(max(len(cols), max(hit[1] for hit in hits) + 1))]
            get = candidates.get
            for k, f, fs, fe, h, in_masked in hits:
                c = get(h)
                if c is None:
                    continue
                if in_masked:
                    o = ordinal + k + 1 if pairs is None else pairs[k]
                    if c.confirmed and o not in sus_rows and (table, names[f]) in c.source_columns:
                        continue
                    v = None if c.confirmed else decode(_raw_field(layout, data, k, f, fs, fe))
                    self.confirm(c, h, v, table, o, names[f])
                elif len(c.in_unmasked) < 10:
                    name = f"{table}.{names[f]}"
                    if name not in c.in_unmasked:
                        c.in_unmasked |= {name}
            return nrows

        try:
            _each_piece(dump, run)
        finally:
            dump.close()

    def confirm(self, c: Candidate, hv: int, v: str | None, table: str, ordinal: int, column: str) -> None:
        """Candidate `c` is the original value `v` of masked column `column` of row `ordinal`:
        what kind of value it is, and whether a masked cell of that same row gave it back."""
        if not c.confirmed:
            toks = tokens(v)[:MAX_TOKENS]
            c.confirmed = True
            joined = "".join(toks)
            c.single = len(toks) == 1
            c.word = c.single and joined.isalpha()
            c.short = len(joined) < 4
            c.small_number = joined.isdigit() and len(joined) < 5
        for masked_column in self.suspects.take(table, ordinal, hv):
            full = f"{table}.{masked_column}"
            if full not in c.same_row:
                c.same_row |= {full}
            self.same_row_count[full] = self.same_row_count.get(full, 0) + 1
        if len(c.sources) < 10 and f"{table}.{column}" not in c.sources:
            c.sources |= {f"{table}.{column}"}
        if (table, column) not in c.source_columns:
            c.source_columns |= {(table, column)}

    # ------------------------------------------------------------------ verdict

    def result(self) -> VerifyResult:
        """Leaks and low-risk values among the confirmed candidates (a Bloom false positive is
        never confirmed), most found first."""
        original_rows, masked_rows = self.original_rows, self.masked_rows
        paired = set()   # tables whose rows the run's record pairs up (the record matches both dumps)
        for t, flags in self.kept.items():
            if len(flags) == original_rows.get(t, 0) and flags.count(1) == masked_rows.get(t, 0):
                paired.add(t)
        misaligned = {t for t in set(original_rows) | set(masked_rows)
                      if t not in paired and (original_rows.get(t, 0) != masked_rows.get(t, 0) or t in self.kept
                                              or t in self.unknown)}
        systematic = set()
        for full, n in self.same_row_count.items():
            table = full.rsplit(".", 1)[0]
            if n >= SYSTEMATIC_MIN and n >= SYSTEMATIC_RATE * max(masked_rows.get(table, 0), 1):
                systematic.add(full)
        leaks, low, unpaired = [], [], []
        self.verdicts = []   # (candidate, why it is low risk or None): the in-job audit counts them per column
        for c in self.candidates.values():
            if not c.confirmed:
                continue  # a Bloom false positive
            why = c.risk(misaligned, systematic)
            self.verdicts.append((c, why))
            if not c.locations:
                c.locations = c.excused_locations
            if why == UNPAIRED:
                d = _finding_dict(c, None)
                d["tables"] = sorted(c.excused_tables & misaligned)
                unpaired.append(d)
                continue
            (low if why else leaks).append(_finding_dict(c, why))
        for x in (leaks, low, unpaired):
            x.sort(key=lambda x: -x["found"])
        return VerifyResult(leaks, low, self.n_values, self.filter_bytes, len(self.candidates),
                            sorted(systematic), sorted(misaligned), self.not_examined.count, self.not_examined_found,
                            self.suspects.dropped, unpaired=unpaired,
                            row_counts={t: (original_rows.get(t, 0), masked_rows.get(t, 0)) for t in misaligned},
                            paired_by_record=sorted(paired), limits=self.limits)


def verification(original, masked, rules: RuleSet, dialect: str | None = None, written=None, budget=None) -> dict:
    """The leak check of verify() as the audit's `verification` section of a masking run that
    checks its own output (`--verify` on a file, mode "file"): per original masked column
    (table, column) the number of distinct values that leak from it, never the values; past
    verify's bounds (MAX_CANDIDATES) the values not examined are one leak entry of table and
    column "*" (verify fails closed there)."""
    if not rules.tables:
        raise DumpmaskError("--verify needs a rules file (-c RULES) naming the masked columns")
    check = _LeakCheck(rules, dialect, written, budget)
    check.learn_original(original)
    check.search_masked(masked)
    if check.candidates:
        check.confirm_in_original(original)
    res = check.result()
    per_column: dict = {}
    for c, why in check.verdicts:
        if why is None:
            for pair in c.source_columns:
                per_column[pair] = per_column.get(pair, 0) + 1
    leaks = [{"table": t, "column": col, "values": n} for (t, col), n in sorted(per_column.items())]
    if res.not_examined or (res.leaks and not per_column):
        leaks.append({"table": "*", "column": "*", "values": res.not_examined or len(res.leaks)})
    section = {"mode": "file", "values_checked": res.values_checked, "columns_checked": len(check.columns_seen),
               "leaks": leaks, "low_risk_repeats": len(res.low_risk),
               "result": "leaks" if leaks else ("unverified" if res.unpaired else "passed")}
    if res.paired_by_record:
        section["rows_paired_by_record"] = res.paired_by_record
    if res.misaligned:
        # tables whose rows cannot be paired with the original's: values found in their masked
        # cells are neither excused nor leaks, they are counted here (and fail the run)
        per_table = {t: 0 for t in res.misaligned}
        for f in res.unpaired:
            for t in f["tables"]:
                per_table[t] += 1
        section["unpaired"] = [{"table": t, "rows_original": res.row_counts[t][0], "rows_masked": res.row_counts[t][1],
                                "values": n} for t, n in sorted(per_table.items())]
    return section


def format_result(res: VerifyResult, fail_all: bool, max_lines: int = 50) -> str:
    out = []
    for title, items, _fails in (("LEAK", res.leaks, True), ("low risk", res.low_risk, fail_all)):
        for f in items[:max_lines]:
            where = ", ".join(f["where"]) + (f" (+{f['found'] - len(f['where'])} more)" if f["found"] > len(f["where"]) else "")
            why = f" [{f['low_risk']}]" if f["low_risk"] else ""
            out.append(f"{title}: {f['value']} (original {', '.join(f['from'])}) found in {where}{why}")
        if len(items) > max_lines:
            out.append(f"{title}: ... and {len(items) - max_lines} more")
    for f in res.unpaired[:max_lines]:
        where = ", ".join(f["where"]) + (f" (+{f['found'] - len(f['where'])} more)" if f["found"] > len(f["where"]) else "")
        out.append(f"NOT VERIFIABLE: {f['value']} (original {', '.join(f['from'])}) found in {where}, only inside masked "
                   f"cells of {', '.join(f['tables'])}, whose rows cannot be paired with the original's: generated by "
                   "chance or the row's own value, verify cannot tell")
    if len(res.unpaired) > max_lines:
        out.append(f"NOT VERIFIABLE: ... and {len(res.unpaired) - max_lines} more")
    for col in res.unmasked_columns:
        out.append(f"LEAK: column {col} gives back its own rows' original values (was it masked?)")
    if res.not_examined:
        out.append(f"LEAK: {res.not_examined} more value(s) of masked columns found ({res.not_examined_found} time(s)) past "
                   f"the {(res.limits or Limits.of(None)).max_candidates:,} distinct values verify examines one by one"
                   + (" (bounded by --max-memory)" if res.limits and res.limits.bounded else "")
                   + ": not classified, so verify fails")
    if res.suspects_not_kept:
        out.append(f"note: {res.suspects_not_kept} find(s) of a row's own value in its masked cell past the "
                   f"{(res.limits or Limits.of(None)).max_suspects:,} kept: the values found there are counted as leaks")
    if res.misaligned:
        shown = ", ".join(f"{t} ({res.row_counts[t][0]} rows in ORIGINAL, {res.row_counts[t][1]} in MASKED)"
                          for t in res.misaligned[:5])
        out.append(f"note: the rows of {shown}{' ...' if len(res.misaligned) > 5 else ''} cannot be paired with the "
                   "original's (row counts differ and no record of which rows the run wrote; `dumpmask --verify` "
                   "pairs them in the masking job): a value found in their masked cells cannot be told from the "
                   "row's own, and fails the check as not verifiable")
    out.append(f"verify: {res.values_checked} original value(s) of masked columns checked; "
               f"{len(res.leaks)} leaked, {len(res.unpaired)} not verifiable, {len(res.low_risk)} low-risk value(s) found"
               + (" (--all: low-risk values fail too)" if fail_all else ""))
    out.append("verify: " + ("FAILED" if res.failed(fail_all) else "ok"))
    return "\n".join(out)


class InJobTools:
    """What the in-job leak check (--verify, features/verification.py) uses of this tool,
    handed to the engine by the command (a feature must not import a tool: the layers)."""

    def __init__(self):
        self.verification = verification
        self.masked_columns = _MaskedColumns

    def __bool__(self) -> bool:
        return True
