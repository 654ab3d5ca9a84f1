"""`--verify` when the dump cannot be read again (INPUT on stdin, OUTPUT to stdout, a FIFO or a
device): the leak check runs in the work unit, on each block as it is masked, where both the
original rows and the rows as written are at hand. It is weaker than the check of `dumpmask
verify` on files (audit mode "sample"), and it says so.

What a block gives, per checked column (a column the rules mask with a mutation other than
`keep`, as `dumpmask verify` picks them), in BlockSample:
  * same-row repeats, every row: a non-NULL original value written back unchanged in its own
    row's cell. Classified as verify classifies a row's own value found in its masked cell:
    low risk when short (fewer than 4 letters/digits) or a number of fewer than 5 digits; one
    word of letters is low risk unless the column gives back its own rows' values for at least
    SYSTEMATIC_MIN rows and SYSTEMATIC_RATE of its rows (then it was not masked: a leak);
    anything else (e-mails, phone numbers, several words, longer numbers) is a leak.
  * the sample: the SAMPLE_VALUES distinct original values with the smallest keyed hash
    (BLAKE2b under a subkey of the run's key: which values are sampled cannot be predicted
    without the key, and is the same for every block split, -j N and --cluster), and the
    SAMPLE_WRITTEN distinct written values (those not equal to their own row's original) with
    the smallest hashes of the same function. Both are bottom-k sets, so the union of the
    blocks' sets, cut again, is the set of the whole column whatever the split. At the end, a
    sampled original value found among the written values of the same column (another row's
    cell) is counted as a low-risk repeat, as verify counts a value found only inside masked
    cells rewritten by their mutation (generators write names and words from pools).
What it cannot see: a value of a masked column copied into a column the rules do not mask
(free text, another table), inside a longer text, or in another table; `dumpmask verify` on
the files does.
"""
from __future__ import annotations

import hashlib
import heapq
import re
from dataclasses import dataclass, field

SAMPLE_VALUES = 1000     # distinct original values sampled per checked column
SAMPLE_WRITTEN = 4000    # distinct written values per column kept to compare the sample against
SYSTEMATIC_MIN = 2       # the thresholds of verify.SYSTEMATIC_MIN / SYSTEMATIC_RATE (tests hold them equal)
SYSTEMATIC_RATE = 0.05
_TOKEN_RE = re.compile(r"[^\W_]+")

LOW, WORD, HARD = 0, 1, 2


@dataclass
class SampleParams:
    """What a TablePlan carries to check its blocks (picklable): the sample's hash key and the
    data positions to check."""
    key: bytes
    positions: tuple


@dataclass
class ColumnSample:
    """One checked column of one block, or (merged) of the whole run."""
    rows: int = 0                                   # rows of the column seen
    checked: int = 0                                # non-NULL original values compared
    repeats: list = field(default_factory=lambda: [0, 0, 0])   # same-row repeats: LOW, WORD, HARD
    originals: list = field(default_factory=list)   # the smallest keyed hashes of distinct original values
    written: list = field(default_factory=list)     # the same of distinct written values (not the row's own)

    def merge(self, other: "ColumnSample") -> None:
        self.rows += other.rows
        self.checked += other.checked
        for i in range(3):
            self.repeats[i] += other.repeats[i]
        self.originals = _bottom(self.originals, other.originals, SAMPLE_VALUES)
        self.written = _bottom(self.written, other.written, SAMPLE_WRITTEN)

    @property
    def systematic(self) -> bool:
        """Does the column give back its own rows' values (verify's rule for one-word values)?"""
        n = sum(self.repeats)
        return n >= SYSTEMATIC_MIN and n >= SYSTEMATIC_RATE * max(self.rows, 1)

    def leaked(self) -> int:
        """Rows that gave back their own original value and are not low risk."""
        return self.repeats[HARD] + (self.repeats[WORD] if self.systematic else 0)

    def low_risk(self) -> int:
        """Low-risk repeats: same-row repeats that are low risk, and sampled originals found
        among the written values of other rows."""
        same_row = self.repeats[LOW] + (0 if self.systematic else self.repeats[WORD])
        return same_row + len(self.cross_row())

    def cross_row(self) -> set:
        """Sampled original hashes also written (another row's cell), below both sets' cut."""
        cut = min(_cut(self.originals, SAMPLE_VALUES), _cut(self.written, SAMPLE_WRITTEN))
        return {h for h in self.originals if h <= cut} & set(self.written)


def _bottom(a: list, b: list, n: int) -> list:
    return heapq.nsmallest(n, set(a) | set(b))


def _cut(hashes: list, n: int) -> int:
    """The largest hash below which the bottom-n set holds every hash of its column."""
    return max(hashes) if len(hashes) >= n else (1 << 64)


def classify(value: str) -> int:
    """LOW, WORD or HARD for a value given back in its own row (verify.Candidate.risk's rules)."""
    toks = _TOKEN_RE.findall(value)
    joined = "".join(toks)
    if len(joined) < 4 or (joined.isdigit() and len(joined) < 5):
        return LOW
    if len(toks) == 1 and joined.isalpha():
        return WORD
    return HARD


def block_sample(plan, block, data: bytes) -> tuple:
    """Per position of plan.verify.positions a ColumnSample of `block` (the original) and
    `data` (the same rows as written); the rows pair one to one (a row cut by a filter was cut
    before the block, or is cut from both sides here)."""
    from dumpmask.dialects import get_dialect

    params = plan.verify
    dialect = get_dialect(plan.dialect)
    if block.kind == "copy":
        decode = dialect.decode_copy_field
        before, after = _copy_rows(block.data), _copy_rows(data)
    else:
        decode = dialect.decode_sql_field
        before = _insert_rows(plan, block.data, block.first_line, block.parsed)
        if block.keep is not None:
            keep = set(block.keep)
            before = [r for k, r in enumerate(before) if k in keep]
        after = _insert_rows(plan, data, block.first_line, None) if data else []
    if len(before) != len(after):
        from dumpmask.errors import MaskingError

        raise MaskingError(f"{plan.source}:{block.first_line}: {plan.table}: --verify cannot pair the rows of a block "
                           f"({len(before)} read, {len(after)} written)")
    base = hashlib.blake2b(key=params.key, digest_size=8)
    out = []
    conds = {s.index: s.condition for s in plan.specs if getattr(s, "condition", None) is not None}
    for i in params.positions:
        col = ColumnSample(rows=len(before))
        originals, written = set(), set()
        held = _held(conds.get(i), plan.columns, decode, before)
        for k, (row, new) in enumerate(zip(before, after, strict=True)):
            v = _value(decode, row, i)
            w = _value(decode, new, i)
            if held is not None and not held[k]:
                continue   # the rule's `where` does not hold for this row: kept in clear, as the rules ask
            if v is not None:
                col.checked += 1
                originals.add(_hash(base, v))
                if v == w:
                    col.repeats[classify(v)] += 1
                    continue
            if w is not None:
                written.add(_hash(base, w))
        col.originals = heapq.nsmallest(SAMPLE_VALUES, originals)
        col.written = heapq.nsmallest(SAMPLE_WRITTEN, written)
        out.append(col)
    return tuple(out)


def _held(cond, columns, decode, rows) -> list | None:
    """Per row: does the rule's row condition hold for it (its original values)? None: no condition."""
    if cond is None:
        return None
    at = [(c, columns.index(c)) for c in cond.columns if c in columns]
    return [bool(cond({c: _value(decode, row, j) for c, j in at})) for row in rows]


def _value(decode, row, i: int):
    if row is None or i >= len(row):
        return None
    v = decode(row[i])
    return v if isinstance(v, str) or v is None else str(v)


def _hash(base, v: str) -> int:
    h = base.copy()
    h.update(v.encode("utf-8", "surrogateescape"))
    return int.from_bytes(h.digest(), "little")


def _copy_rows(chunk: bytes) -> list:
    lines = chunk.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [ln.rstrip(b"\r").split(b"\t") for ln in lines]


def _insert_rows(plan, raw: bytes, line: int, parsed) -> list:
    """The raw fields of every tuple of an INSERT statement."""
    from dumpmask.dialects import mysql_lex, postgres

    if parsed is None:
        if plan.dialect == "postgres":
            parsed = postgres.parse_insert(raw, plan.source, line)
        else:
            parsed = mysql_lex.parse_insert(raw, tuples=True, line=line, source=plan.source)
    return [[raw[s:e].strip() for s, e in spans] for _t0, _t1, spans in parsed.tuples]


class SampleTotals:
    """The engine's side: every block's ColumnSample merged per (table, column), in any order
    (sums and bottom-k sets: the same totals for any split of the blocks)."""

    def __init__(self):
        self.columns: dict = {}

    def add(self, table: str, names, samples) -> None:
        for name, s in zip(names, samples, strict=True):
            col = self.columns.get((table, name))
            if col is None:
                self.columns[(table, name)] = s
            else:
                col.merge(s)

    def section(self) -> dict:
        """The audit's `verification` section (mode "sample")."""
        leaks = [{"table": t, "column": c, "values": n} for (t, c), s in sorted(self.columns.items())
                 if (n := s.leaked())]
        return {"mode": "sample", "values_checked": sum(s.checked for s in self.columns.values()),
                "columns_checked": len(self.columns), "leaks": leaks,
                "low_risk_repeats": sum(s.low_risk() for s in self.columns.values()),
                "result": "leaks" if leaks else "passed"}
