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
suspect, counted toward MAX_SUSPECTS, past which verify fails closed); pass 2
reads the MASKED dump as a stream and keeps only hits (candidates: hash, counts, a few redacted
locations). Pass 2 tokenises a row's raw bytes (no decoding, when its escapes cannot glue
letters; the ASCII tokens in C, verifyfast.probe_tokens) and looks further only at rows, then
fields, holding a token that begins an original value; pass 3 re-reads ORIGINAL to confirm
candidates exactly (64-bit keyed hash equality) and
to learn which ones also occur in unmasked columns, skipping rows without a token that begins
a candidate. Memory grows with the hits (bounded by MAX_SUSPECTS rows), never with the
number of original values past SET_MAX nor with the size of the masked dump.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from itertools import repeat

from dumpmask.errors import DumpmaskError
from dumpmask.rules import RuleSet
from dumpmask.idents import column_named, display_name
from dumpmask.verifyfast import HASH, bloom_add, bloom_has, probe_tokens

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


# --------------------------------------------------------------------------- fast tokenising

# bytes -> tokens: ASCII letters and digits are kept (upper case folded), every other ASCII byte
# is a separator; bytes >= 0x80 stay inside their chunk, which is split exactly as `tokens` does
# (a UTF-8 sequence never contains an ASCII byte, so chunks start and end on characters)
_TRANS = bytes((c + 32 if 65 <= c <= 90 else c) if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c >= 128)
               else 32 for c in range(256))


def _fix_nonascii(chunks: list) -> list:
    out = []
    for t in chunks:
        if t.isascii():
            out.append(t)
        else:
            out.extend(x.casefold().encode("utf-8", "surrogatepass")
                       for x in _TOKEN_RE.findall(t.decode("utf-8", "surrogateescape")))
    return out


def btokens(b: bytes) -> list:
    """The tokens of UTF-8 text, as UTF-8 bytes: [t.encode() for t in tokens(b.decode())]."""
    toks = b.translate(_TRANS).split()
    return toks if b.isascii() else _fix_nonascii(toks)


def _stokens(v: str) -> list:
    """tokens(v) as UTF-8 bytes."""
    if v.isascii():
        return v.encode("ascii").translate(_TRANS).split()
    return [t.casefold().encode("utf-8", "surrogatepass") for t in _TOKEN_RE.findall(v)]


SYSTEMATIC_RATE = 0.05
SYSTEMATIC_MIN = 2
MAX_SUSPECTS = 2_000_000


@dataclass
class Candidate:
    count: int = 0                                   # every occurrence in MASKED
    hard: int = 0                                    # occurrences in unmasked columns of MASKED
    locations: list = field(default_factory=list)    # (table.column, line) of hard/suspect hits
    excused_locations: list = field(default_factory=list)
    sample: str = ""                                 # redacted text as found in MASKED
    suspects: dict = field(default_factory=dict)     # (table, row ordinal) -> {column}: masked-cell hits
    overflow: bool = False
    excused_tables: set = field(default_factory=set)  # tables with hits inside rewritten masked cells
    same_row: set = field(default_factory=set)       # confirmed: columns giving back their row's value
    confirmed: bool = False
    sources: set = field(default_factory=set)        # original masked columns holding it
    in_unmasked: set = field(default_factory=set)    # original unmasked columns holding it (one token)
    short: bool = False
    small_number: bool = False
    single: bool = False
    word: bool = False

    def risk(self, misaligned: set, systematic: set) -> str | None:
        """None when this is a leak, else why it is low risk."""
        if self.short:
            return "short (fewer than 4 letters/digits)"
        if self.small_number:
            return "a number of fewer than 5 digits"
        if self.single and self.in_unmasked:
            cols = sorted(self.in_unmasked)
            return "also in unmasked column " + ", ".join(cols[:3]) + (" ..." if len(cols) > 3 else "") + " of the original"
        if self.hard or self.overflow or self.excused_tables & misaligned:
            return None
        if self.same_row:
            if self.word and not self.same_row & systematic:
                return "one word, generated by chance in its own row's masked cell"
            return None
        return "only inside masked cells rewritten by their mutation (generated, not the row's own value)"


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


@dataclass
class VerifyResult:
    leaks: list          # dicts (see _finding_dict)
    low_risk: list
    values_checked: int
    bloom_bytes: int
    candidates: int
    unmasked_columns: list = field(default_factory=list)  # masked columns giving back their rows' values
    misaligned: list = field(default_factory=list)         # tables whose row counts differ

    def failed(self, fail_all: bool) -> bool:
        return bool(self.leaks or (fail_all and self.low_risk))


def _finding_dict(c: Candidate, why: str | None) -> dict:
    return {"value": c.sample, "found": c.count, "where": [f"{tc}:{line}" for tc, line in c.locations],
            "from": sorted(c.sources), "low_risk": why}


SET_MAX = 1 << 19   # hashes kept in an exact set up to this many (~40 MB), a Bloom filter beyond
BLOOM_BYTES = 1 << 24   # the Bloom filter a set becomes: 16 MiB, whatever the input's size


class _HashSet:
    """Keyed 64-bit hashes: an exact set while small (fast, C-level probes), then a blocked
    Bloom filter of a fixed BLOOM_BYTES (verifyfast: 6 bits in one 64-byte block per hash), so
    memory stays flat. Its false-positive rate grows with the hashes it holds: about 2e-6 at
    1 million, 1e-3 at 8 million, 2% at 16 million; a false positive costs time (a row looked
    at, a candidate that pass 3 does not confirm), never a finding."""

    __slots__ = ("set", "bloom", "limit", "n")

    def __init__(self, limit: int = SET_MAX):
        self.set: set | None = set()
        self.bloom: bytearray | None = None
        self.limit = limit
        self.n = 0

    def add(self, h: int) -> None:
        s = self.set
        if s is None:
            if bloom_add(self.bloom, h):
                self.n += 1
            return
        s.add(h)
        if len(s) > self.limit:
            b = self.bloom = bytearray(BLOOM_BYTES)
            for x in s:
                bloom_add(b, x)
            self.n = len(s)
            self.set = None

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
    def target(self):
        """What verifyfast.probe_tokens looks hashes up in: the set or the filter."""
        return self.set if self.set is not None else self.bloom

    @property
    def count(self) -> int:
        """Hashes held (past the exact set: those that set a new bit, a lower bound)."""
        return len(self.set) if self.set is not None else self.n

    @property
    def nbytes(self) -> int:
        import sys

        if self.set is not None:
            return sys.getsizeof(self.set) + 36 * len(self.set)
        return len(self.bloom)


# --------------------------------------------------------------------------- raw rows

# a MySQL tuple whose raw text may not tokenise like its decoded values (escapes, hex and bit
# literals, adjacent string literals that concatenate): decoded first
_MY_UNSAFE = re.compile(rb"\\[0-9A-Za-z\x80-\xff]|0[xXbB]|[xXbB]'|['\"]\s+['\"]")


# a backslash escape that may glue or drop letters or digits (\n, \t, \101, \x41, \é); any
# other escaped character decodes to a separator (\\, \', \", \%), as the raw bytes do
_ESC_GLUES = re.compile(rb"\\[0-9A-Za-z\x80-\xff]")


def _copy_raw(line: bytes):
    """The bytes of a COPY line if they tokenise into (a superset of) its decoded values' tokens:
    no escape that glues letters (a whole-field \\N, NULL, only adds a harmless token "n"); else
    None."""
    if b"\\" not in line:
        return line
    s = b"\t" + (line.rstrip(b"\r\n") if line.endswith(b"\n") else line) + b"\t"
    while b"\t\\N\t" in s:
        s = s.replace(b"\t\\N\t", b"\t\t")
    return None if _ESC_GLUES.search(s) else s


def _my_raw(text: bytes):
    """A MySQL tuple as written, when its bytes tokenise like its decoded values (no escape,
    hex/bit literal or string concatenation that would glue or split tokens); else None."""
    return None if _MY_UNSAFE.search(text) else text


def _blocks(d):
    """The data of a dump as blocks of rows without decoding them (the dialect adapters' own
    readers): yields (table key, columns, items, fields(item) -> raw fields, decode(raw field)
    -> str | None, raw(item) -> bytes whose tokens include the decoded row's tokens, or None,
    lineno() -> the line `DumpRows.rows` reports)."""
    from dumpmask.dialects.base import LineReader

    lines = LineReader(d.reader, d.source)
    mysql = d.dialect == "mysql"
    for b in d.blocks(lines):
        if mysql:
            rawf = lambda it, text=b.text: _my_raw(text(it))  # noqa: E731
        elif b.kind == "copy":
            rawf = _copy_raw
        else:
            rawf = lambda it: None  # noqa: E731  PostgreSQL INSERT rows: decode them
        yield b.key, b.columns, b.items, b.fields, b.decode, rawf, b.lineno


def verify(original, masked, rules: RuleSet, dialect: str | None = None, progress=None) -> VerifyResult:
    """The leak check of ORIGINAL against MASKED (see the module's docstring): three passes,
    each a method of _LeakCheck, then the verdict on every confirmed candidate."""
    if not rules.tables:
        raise DumpmaskError("verify needs a rules file (-c RULES) naming the masked columns")
    check = _LeakCheck(rules, dialect)
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

    def __init__(self, rules: RuleSet, dialect: str | None):
        self.rules, self.dialect = rules, dialect
        self.seed = int.from_bytes(os.urandom(8), "little")
        # pass 1: the original values of masked columns, value@row, and their first tokens
        # (pass 2 builds token runs only from tokens that begin a value)
        self.values = _HashSet()
        self.row_values = _HashSet()
        self.first_tokens = _HashSet()
        self.lengths: set[int] = set()       # token counts of the original values (<= MAX_TOKENS)
        self.n_values = 0
        self.original_rows: dict[str, int] = {}
        # pass 2: hits in the masked dump
        self.candidates: dict[int, Candidate] = {}
        self.candidate_first = _HashSet()   # first tokens of the candidates (pass 3 skips rows without any)
        self.masked_rows: dict[str, int] = {}
        self.n_suspects = 0
        # pass 3: masked columns giving back their own row's value, and how often
        self.same_row_count: dict[str, int] = {}

    @property
    def filter_bytes(self) -> int:
        return self.values.nbytes + self.row_values.nbytes + self.first_tokens.nbytes

    def hash_tokens(self, toks) -> int:
        return HASH(" ".join(toks).encode("utf-8", "surrogatepass"), self.seed)

    def hash_row(self, table_bytes: bytes, ordinal: int, joined: bytes) -> int:
        return HASH(b"%s\x00%d\x00%s" % (table_bytes, ordinal, joined), self.seed)

    def probe_bytes(self, raw: bytes, hashes: _HashSet) -> bool:
        """Does one of the tokens of these raw bytes hash into `hashes` (begin a value it knows)?"""
        if probe_tokens is not None:
            found = probe_tokens(raw, self.seed, hashes.target)
            if found is True or found is False:
                return found
            return hashes.any_of(map(HASH, _fix_nonascii(found), repeat(self.seed)))
        toks = raw.translate(_TRANS).split()
        if not raw.isascii():
            toks = _fix_nonascii(toks)
        return hashes.any_of(map(HASH, toks, repeat(self.seed)))

    def probed_rows(self, dump, counts: dict, probe: _HashSet):
        """The rows of dump `dump` one of whose tokens hashes into `probe` (tokenised from their raw
        bytes when that is safe, else decoded): yields (table, cols, idx, ordinal, fields, decode,
        lineno, item, vals) with vals None when the raw bytes were used. Row ordinals per table
        go into `counts`."""
        masked_cols = _MaskedColumns(self.rules, dump.dialect)
        probe_bytes = self.probe_bytes
        for key, cols, items, fields, decode, rawf, lineno in _blocks(dump):
            table = display_name(key)
            idx = masked_cols(key, cols)
            ordinal = counts.get(table, 0)
            for item in items:
                ordinal += 1
                raw = rawf(item)
                vals = None
                if raw is None:
                    vals = [decode(f) for f in fields(item)]
                    raw = "\t".join([v for v in vals if v is not None]).encode("utf-8", "surrogateescape")
                if probe_bytes(raw, probe):
                    yield table, cols, idx, ordinal, fields, decode, lineno, item, vals
            counts[table] = ordinal

    # ------------------------------------------------------------------ pass 1

    def learn_original(self, original) -> None:
        """Pass 1: keyed hashes of the original values of masked columns (and of value@row),
        and of their first tokens."""
        from dumpmask.rows import DumpRows

        hsh, seed = HASH, self.seed
        values, first_tokens, row_values, lengths = self.values, self.first_tokens, self.row_values, self.lengths
        dump = DumpRows(original, self.dialect)
        try:
            masked_cols = _MaskedColumns(self.rules, dump.dialect)
            for key, cols, items, fields, decode, _raw, _lineno in _blocks(dump):
                table = display_name(key)
                table_bytes = table.encode("utf-8", "surrogatepass")
                idx = sorted(masked_cols(key, cols))
                ordinal = self.original_rows.get(table, 0)
                if not idx:
                    for _ in items:
                        ordinal += 1
                    self.original_rows[table] = ordinal
                    continue
                for item in items:
                    ordinal += 1
                    row_fields = fields(item)
                    for i in idx:
                        v = decode(row_fields[i])
                        if v is None:
                            continue
                        toks = _stokens(v)
                        if not toks:
                            continue
                        toks = toks[:MAX_TOKENS]
                        lengths.add(len(toks))
                        joined = b" ".join(toks)
                        values.add(hsh(joined, seed))
                        first_tokens.add(hsh(toks[0], seed))
                        row_values.add(self.hash_row(table_bytes, ordinal, joined))
                        self.n_values += 1
                self.original_rows[table] = ordinal
        finally:
            dump.close()

    # ------------------------------------------------------------------ pass 2

    def search_masked(self, masked) -> None:
        """Pass 2: the masked dump, streamed; only hits are kept. A row is looked at only when
        one of its tokens begins an original value (its raw bytes are tokenised when they can
        be); a value of such a row only when one of its own tokens does."""
        from dumpmask.rows import DumpRows

        hsh, seed = HASH, self.seed
        first_tokens = self.first_tokens
        any_first = first_tokens.any_of
        probe_bytes, look_in_value = self.probe_bytes, self.look_in_value
        lengths = sorted(self.lengths)
        dump = DumpRows(masked, self.dialect)
        try:
            for table, cols, idx, ordinal, fields, decode, lineno, item, vals in \
                    self.probed_rows(dump, self.masked_rows, first_tokens):
                table_bytes = table.encode("utf-8", "surrogatepass")
                line = lineno()
                if vals is None:
                    # raw fields tokenise into (a superset of) their values' tokens too
                    for ci, f in enumerate(fields(item)):
                        if not probe_bytes(f, first_tokens):
                            continue
                        v = decode(f)
                        if v is not None:
                            look_in_value(v, lengths, table, table_bytes, cols[ci], ci in idx, ordinal, line)
                    continue
                for ci, v in enumerate(vals):
                    if v is None or not any_first(map(hsh, _stokens(v), repeat(seed))):
                        continue
                    look_in_value(v, lengths, table, table_bytes, cols[ci], ci in idx, ordinal, line)
        finally:
            dump.close()

    def look_in_value(self, v: str, lengths, table, table_bytes, col, in_masked, ordinal, line) -> None:
        """Every run of 1..MAX_TOKENS tokens of a masked dump's value that is an original value:
        a candidate, counted, with where it was found (a hit in a masked cell that is not the
        row's own original value is excused: the mutation wrote it)."""
        values, candidates = self.values, self.candidates
        spans = [(m.start(), m.end(), m.group().casefold()) for m in _TOKEN_RE.finditer(v)]
        n_tokens = len(spans)
        toks = [span[2] for span in spans]
        for n in lengths:
            if n > n_tokens:
                break
            for i in range(n_tokens - n + 1):
                gram = toks[i:i + n]
                hv = self.hash_tokens(gram)
                if hv not in values:
                    continue
                c = candidates.get(hv)
                if c is None:
                    c = candidates[hv] = Candidate(sample=redact(v[spans[i][0]:spans[i + n - 1][1]]))
                    self.candidate_first.add(self.hash_tokens(gram[:1]))
                c.count += 1
                loc = (f"{table}.{col}", line)
                if in_masked:
                    if self.hash_row(table_bytes, ordinal, " ".join(gram).encode("utf-8", "surrogatepass")) \
                            not in self.row_values:
                        # not an original value of this row: the mutation wrote it
                        c.excused_tables.add(table)
                        if len(c.excused_locations) < MAX_LOCATIONS:
                            c.excused_locations.append(loc)
                        continue
                    if self.n_suspects < MAX_SUSPECTS:
                        c.suspects.setdefault((table, ordinal), set()).add(col)
                        self.n_suspects += 1
                    else:
                        c.overflow = True
                else:
                    c.hard += 1
                if len(c.locations) < MAX_LOCATIONS:
                    c.locations.append(loc)

    # ------------------------------------------------------------------ pass 3

    def confirm_in_original(self, original) -> None:
        """Pass 3: exact confirmation against the original, and which candidates also live in
        unmasked columns; rows none of whose tokens begins a candidate cannot hold one."""
        from dumpmask.rows import DumpRows

        hsh, seed = HASH, self.seed
        candidates = self.candidates
        candidate_first = self.candidate_first
        dump = DumpRows(original, self.dialect)
        rows_seen: dict[str, int] = {}
        try:
            for table, cols, idx, ordinal, fields, decode, _lineno, item, vals in \
                    self.probed_rows(dump, rows_seen, candidate_first):
                raw_fields = None
                if vals is None:
                    raw_fields = fields(item)
                    vals = raw_fields
                for i, v in enumerate(vals):
                    if raw_fields is not None:
                        # a raw field: skipped unless one of its tokens begins a candidate
                        if not self.probe_bytes(v, candidate_first):
                            continue
                        v = decode(v)
                    if v is None:
                        continue
                    btoks = _stokens(v)
                    if not btoks:
                        continue
                    if i in idx:
                        c = candidates.get(hsh(b" ".join(btoks[:MAX_TOKENS]), seed))
                        if c is not None:
                            self.confirm(c, v, table, ordinal, cols[i])
                    else:
                        for hv in map(hsh, btoks, repeat(seed)):
                            c = candidates.get(hv)
                            if c is not None and len(c.in_unmasked) < 10:
                                c.in_unmasked.add(f"{table}.{cols[i]}")
        finally:
            dump.close()

    def confirm(self, c: Candidate, v: str, table: str, ordinal: int, column: str) -> None:
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
        hit_cols = c.suspects.pop((table, ordinal), None)
        if hit_cols:
            for masked_column in hit_cols:
                full = f"{table}.{masked_column}"
                if full not in c.same_row:
                    c.same_row.add(full)
                self.same_row_count[full] = self.same_row_count.get(full, 0) + 1
        if len(c.sources) < 10:
            c.sources.add(f"{table}.{column}")

    # ------------------------------------------------------------------ verdict

    def result(self) -> VerifyResult:
        """Leaks and low-risk values among the confirmed candidates (a Bloom false positive is
        never confirmed), most found first."""
        original_rows, masked_rows = self.original_rows, self.masked_rows
        misaligned = {t for t in set(original_rows) | set(masked_rows)
                      if original_rows.get(t, 0) != masked_rows.get(t, 0)}
        systematic = set()
        for full, n in self.same_row_count.items():
            table = full.rsplit(".", 1)[0]
            if n >= SYSTEMATIC_MIN and n >= SYSTEMATIC_RATE * max(masked_rows.get(table, 0), 1):
                systematic.add(full)
        leaks, low = [], []
        for c in self.candidates.values():
            if not c.confirmed:
                continue  # a Bloom false positive
            why = c.risk(misaligned, systematic)
            if not c.locations:
                c.locations = c.excused_locations
            (low if why else leaks).append(_finding_dict(c, why))
        leaks.sort(key=lambda x: -x["found"])
        low.sort(key=lambda x: -x["found"])
        return VerifyResult(leaks, low, self.n_values, self.filter_bytes, len(self.candidates),
                            sorted(systematic), sorted(misaligned))


def format_result(res: VerifyResult, fail_all: bool, max_lines: int = 50) -> str:
    out = []
    for title, items, _fails in (("LEAK", res.leaks, True), ("low risk", res.low_risk, fail_all)):
        for f in items[:max_lines]:
            where = ", ".join(f["where"]) + (f" (+{f['found'] - len(f['where'])} more)" if f["found"] > len(f["where"]) else "")
            why = f" [{f['low_risk']}]" if f["low_risk"] else ""
            out.append(f"{title}: {f['value']} (original {', '.join(f['from'])}) found in {where}{why}")
        if len(items) > max_lines:
            out.append(f"{title}: ... and {len(items) - max_lines} more")
    for col in res.unmasked_columns:
        out.append(f"LEAK: column {col} gives back its own rows' original values (was it masked?)")
    if res.misaligned:
        out.append("note: row counts differ for " + ", ".join(res.misaligned[:5]) + (" ..." if len(res.misaligned) > 5 else "")
                   + ": values found in their masked cells are not excused")
    out.append(f"verify: {res.values_checked} original value(s) of masked columns checked; "
               f"{len(res.leaks)} leaked, {len(res.low_risk)} low-risk value(s) found"
               + (" (--all: low-risk values fail too)" if fail_all else ""))
    out.append("verify: " + ("FAILED" if res.failed(fail_all) else "ok"))
    return "\n".join(out)
