"""Generalizing mutations: coarser values of the same type, for quasi-identifiers (k-anonymity).

Unlike the fakes, these keep part of the original on purpose (a ZIP3, an age band, a birth
year), so that statistics over the copy stay useful while each row hides among others; the
audit classes them as generalized, not as removed.
"""
from __future__ import annotations

import re
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from dumpmask.errors import MaskingError, RulesError
from dumpmask.schema import Column

from .base import Param, Transformer, register
from .strfield import SHAPE_PREFIX, shape_field
from dumpmask.lazy import lazy_pattern

_DATE = lazy_pattern(globals(), "_DATE", r"(-?\d{4,})-(\d\d)-(\d\d)")


@register
class Prefix(Transformer):
    """Keep the first `length` characters (default 3: ZIP3 from a ZIP code); `fill` pads
    the rest to the original length with that character ("021**"). Text columns."""

    name = "generalize.prefix"
    protection = "anonymised"
    kinds = ("text",)
    elementwise = False
    params = {"length": Param(int, "characters kept from the start", 3),
              "fill": Param(str, "a character written in place of each dropped one (default: none)", "")}

    def setup(self) -> None:
        if self.options["length"] < 0:
            raise RulesError("length must be >= 0", where="options.length")
        if len(self.options["fill"]) > 1:
            raise RulesError("fill is one character (or empty)", where="options.fill")

    def field_fast(self, mode: int, encode):
        """__call__ in C on a plain raw field (strfield.shape_field)."""
        return shape_field(mode, SHAPE_PREFIX, self.options["length"], 0, self.options["fill"], self.__call__,
                           encode(None))

    def __call__(self, value):
        if value is None:
            return None
        n, fill = self.options["length"], self.options["fill"]
        return value[:n] + fill * max(0, len(value) - n)


def _number(value: str, where: str) -> Decimal:
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise MaskingError(f"{where}: the value is not a number") from None


def _format(d: Decimal, like: str, column: Column) -> str:
    """`d` written with as many decimals as the original had (an integer column: none)."""
    if column.kind == "int":
        return str(int(d))
    frac = like.strip().split(".", 1)[1] if "." in like and "e" not in like.lower() else ""
    q = Decimal(1).scaleb(-len(frac)) if frac else Decimal(1)
    return str(d.quantize(q))


@register
class Bucket(Transformer):
    """Numbers to the lower bound of their band of `width` (default 10, age bands: 37 is written
    30, -3 is -10), with the original's decimals; within the type's range (an integer
    column's minimum caps the lowest band). Integer, numeric and float columns."""

    name = "generalize.bucket"
    protection = "anonymised"
    kinds = ("int", "numeric", "float")
    elementwise = False
    params = {"width": Param((int, float), "the width of a band", 10)}

    def setup(self) -> None:
        w = self.options["width"]
        if isinstance(w, bool) or not w > 0:
            raise RulesError("width must be a number > 0", where="options.width")
        self.width = Decimal(str(w))
        if self.column.kind == "int" and self.width != self.width.to_integral_value():
            raise RulesError(f"width {w} is not an integer: column {self.column.name!r} is {self.column.type}",
                             where="options.width")

    def __call__(self, value):
        if value is None:
            return None
        v = _number(value, self.column.name)
        if not v.is_finite():
            return value            # NaN / Infinity: nothing to band
        low = (v / self.width).to_integral_value(rounding=ROUND_FLOOR) * self.width
        if self.column.int_min is not None and low < self.column.int_min:
            low = Decimal(self.column.int_min)
        return _format(low, value, self.column)

    def field_fast(self, mode: int, encode):
        """Plain numbers without decoding or Decimal (transformers/numfast.py: the same bytes as
        __call__, None where that is not proven)."""
        from . import numfast

        plan = numfast.column_plan(numfast.OP_BUCKET, self.column)
        parts = numfast.decimal_parts(self.width, 10 ** 9, 9)
        if plan is None or parts is None or parts[0] <= 0:
            return None
        return numfast.field_function(plan + [parts[0], parts[1], 0, 0], None, None, mode)


def _decimal_limit(m, where: str) -> Decimal:
    """A "max" as an exact decimal (a number, or a numeric string)."""
    if isinstance(m, bool):
        raise RulesError("max must be a number", where=where)
    try:
        top = Decimal(m.strip()) if isinstance(m, str) else Decimal(str(m))
    except InvalidOperation:
        raise RulesError("max is not a number", where=where) from None
    if not top.is_finite():
        raise RulesError("max must be a finite number", where=where)
    return top


@register
class TopCode(Transformer):
    """Cap values above a threshold at it (top-coding: incomes, ages over 89 for HIPAA Safe
    Harbor: {"max": 90}), with the original's decimals; values at or below it are kept.
    `max` is a number (or a numeric string, for exact decimals); `percentile` (0 < p < 100)
    takes the column's p-th percentile (nearest rank, over the table's non-NULL values in the
    dump) as the threshold instead, lowered when fewer than `minRows` rows are at or above it
    so that the capped value is shared by at least that many rows; with both, the lower of the
    two. A percentile needs INPUT as a regular file (a first pass). Integer, numeric and float
    columns."""

    name = "generalize.topcode"
    protection = "anonymised"
    kinds = ("int", "numeric", "float")
    elementwise = False
    params = {"max": Param((int, float, str), "the largest value written (a number, or a numeric string)"),
              "percentile": Param((int, float), "the threshold is the column's p-th percentile (0 < p < 100; "
                                  "a first pass over a file)"),
              "minRows": Param(int, "with percentile: the fewest rows at or above the threshold (else it is "
                               "lowered to the minRows-th largest value)", 5)}

    @classmethod
    def validate_options(cls, options: dict, where: str = "options") -> dict:
        out = super().validate_options(options, where)
        m, p = out["max"], out["percentile"]
        if m is None and p is None:
            raise RulesError('generalize.topcode needs "max" or "percentile" (or both)', where=where)
        if m is not None:
            _decimal_limit(m, f"{where}.max")
        if p is not None and (isinstance(p, bool) or not 0 < p < 100):
            raise RulesError("percentile must be a number between 0 and 100 (exclusive)", where=f"{where}.percentile")
        if out["minRows"] < 1:
            raise RulesError("minRows must be >= 1", where=f"{where}.minRows")
        return out

    def setup(self) -> None:
        m = self.options["max"]
        # a percentile's threshold comes from the data: features/topcode.py computes it in a first
        # pass and gives this transformer its value as "max" (the lower of the two when both)
        self.top = None if m is None else self._limit(m)

    def _limit(self, m) -> Decimal:
        top = _decimal_limit(m, "options.max")
        c = self.column
        if c.kind == "int" and (top != top.to_integral_value()
                                or (c.int_max is not None and top > c.int_max)
                                or (c.int_min is not None and top < c.int_min)):
            raise RulesError(f"max {m} is not a value of column {c.name!r} ({c.type})", where="options.max")
        return top

    def __call__(self, value):
        if value is None:
            return None
        if self.top is None:   # never reached in a run: the stage resolves the percentile first
            raise MaskingError(f"{self.column.name}: the percentile threshold was not computed (a first pass "
                               "over the input as a regular file is needed)")
        v = _number(value, self.column.name)
        if v.is_nan() or v <= self.top:
            return value
        if self.column.kind == "int":
            return str(int(self.top))
        # the cap itself, with the original's decimals when it has more: never rounded (a float
        # 0.0 capped at -1.25 written "-1.2" would be above the cap)
        return self._capped(value)

    def _capped(self, value: str) -> str:
        """What a value above the cap is written as."""
        if self.column.kind == "int":
            return str(int(self.top))
        # the cap itself, with the original's decimals when it has more: never rounded (a float
        # 0.0 capped at -1.25 written "-1.2" would be above the cap)
        out = _format(self.top, value, self.column)
        return out if Decimal(out) == self.top else str(self.top)

    def field_fast(self, mode: int, encode):
        """Plain numbers without decoding or Decimal (transformers/numfast.py: the same bytes as
        __call__, None where that is not proven); what a value above the cap is written as is
        made here once per number of decimals, by _capped."""
        from . import numfast

        if self.top is None:
            return None
        plan = numfast.column_plan(numfast.OP_TOPCODE, self.column)
        parts = numfast.decimal_parts(self.top, 10 ** numfast.MAXD, numfast.MAXD)
        if plan is None or parts is None:
            return None
        written, bare = [], []
        for k in range(numfast.TOPK):
            try:
                s = self._capped("0." + "0" * k if k else "0")
            except (InvalidOperation, ValueError, OverflowError):
                s = None
            written.append(None if s is None else encode(s))
            bare.append(s.encode() if s is not None and numfast.simple_number(s) else None)
        return numfast.field_function(plan + [parts[0], parts[1], 0, 0], (tuple(written), tuple(bare)), None, mode)


@register
class TruncateDate(Transformer):
    """Dates and timestamps truncated to the start of their year or month ({"to": "year"}:
    1987-06-15 -> 1987-01-01; a timestamp also gets 00:00:00, its time zone kept as written);
    infinity stays. Date and timestamp columns."""

    name = "generalize.date"
    protection = "anonymised"
    kinds = ("date", "timestamp")
    elementwise = False
    params = {"to": Param(str, "year or month", "year", choices=("year", "month"))}

    def __call__(self, value):
        if value is None:
            return None
        m = _DATE.match(value.strip())
        if m is None:
            if value.strip().lower() in ("infinity", "-infinity"):
                return value
            raise MaskingError(f"{self.column.name}: the value is not a date (YYYY-MM-DD...)")
        y, mo = m.group(1), m.group(2)
        day = f"{y}-01-01" if self.options["to"] == "year" else f"{y}-{mo}-01"
        rest = value.strip()[m.end():]
        if self.column.kind == "date" or not rest:
            return day + (" BC" if rest.strip().upper() == "BC" else "")
        tz = re.search(r"([+-]\d\d(?::?\d\d)?|Z| [A-Z]{3,5})$", rest)
        return f"{day} 00:00:00" + (tz.group(1) if tz else "")

    def field_fast(self, mode: int, encode):
        """Plain ASCII dates without decoding or regexes (transformers/numfast.py: the same bytes
        as __call__, None where that is not proven)."""
        from . import numfast

        plan = [numfast.OP_TRUNC, 0, 0, 0, 0, 0, 0, -1, int(self.options["to"] == "year"),
                int(self.column.kind == "date"), 0, 0]
        return numfast.field_function(plan, None, None, mode)
