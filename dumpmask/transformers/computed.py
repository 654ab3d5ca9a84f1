"""Fake values computed from keyed PRF bits (no Faker pool): dates and timestamps, identifiers
with check digits (SSN, credit card numbers, IBANs), IPv4 / IPv6 addresses. (Was generated.py.)"""
from __future__ import annotations

from datetime import date
from functools import lru_cache

from dumpmask.schema import Column

from .base import Param, register
from . import fastprf
from .common import PrfTransformer, fixed_width_warning
from .validity import is_mysql_timestamp
from dumpmask.lazy import lazy_pattern

_YEAR_RE = lazy_pattern(globals(), "_YEAR_RE", r"\s*(\d{4})")
_ORD_1970 = date(1970, 1, 2).toordinal()
_ORD_2037 = date(2037, 12, 31).toordinal()


_HHMM = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(1440))
_SS = tuple(f"{x:02d}" for x in range(60))


@lru_cache(maxsize=1 << 16)
def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def parse_year(value: str) -> int | None:
    m = _YEAR_RE.match(value)
    if m:
        y = int(m.group(1))
        if 1 <= y <= 9999:
            return y
    return None


class _DateBase(PrfTransformer):
    kinds = ("date", "timestamp", "text")
    ascii_output = True
    params = {"preserveYear": Param(bool, "keep the year of the original value", False)}
    LO = date(1950, 1, 1)
    HI = date(2010, 12, 31)
    with_time = False  # a random time of day (dateTime) or midnight (date)

    def prepare(self) -> None:
        col = self.column
        self.preserve = bool(self.options["preserveYear"])
        self.make_uses_value = self.preserve
        lo, hi = self.LO.toordinal(), self.HI.toordinal()
        if is_mysql_timestamp(col):
            lo, hi = max(lo, _ORD_1970), min(hi, _ORD_2037)
            if lo > hi:
                lo, hi = _ORD_1970, _ORD_2037
        self.lo, self.span = lo, hi - lo + 1
        self.ylo, self.yhi = (1970, 2037) if is_mysql_timestamp(col) else (1, 9999)
        if col.kind == "date":
            self.mode = "date"
        elif col.kind == "timestamp":
            self.mode = "ts"
        else:
            self.mode = "ts" if self.with_time else "date"
        self.limit = col.length if col.kind in ("text", "other") else None

    def check(self, column: Column) -> list[str]:
        w = super().check(column)
        natural = 19 if (column.kind not in ("date",) and self.with_time) else 10
        return w + fixed_width_warning(self.name, column, natural)

    def fake_spec(self):
        if self.preserve:
            return None   # make() reads the value's year
        return (fastprf.FAKE_DATE, self.limit, (self.lo, self.span, int(self.mode == "ts"), int(self.with_time)))

    def make(self, d: bytes, value: str) -> str:
        n = int.from_bytes(d[:8], "big")
        o = None
        if self.preserve:
            y = parse_year(value)
            if y is not None:
                y = min(max(y, self.ylo), self.yhi)
                start = date(y, 1, 1).toordinal()
                days = (date(y + 1, 1, 1).toordinal() if y < 9999 else date(9999, 12, 31).toordinal() + 1) - start
                if y == 1970 and self.ylo == 1970:
                    start, days = start + 1, days - 1
                o = start + n % days
        if o is None:
            o = self.lo + n % self.span
        s = _iso(o)
        if self.mode == "ts":
            if self.with_time:
                t = int.from_bytes(d[8:12], "big") % 86400
                s = f"{s} {_HHMM[t // 60]}:{_SS[t % 60]}"
            else:
                s += " 00:00:00"
        return s if self.limit is None else s[: self.limit]


@register
class FakeDate(_DateBase):
    """Fake date between 1950-01-01 and 2010-12-31 ('YYYY-MM-DD'; 'YYYY-MM-DD 00:00:00' in a
    timestamp column). preserveYear keeps the original's year (its leading YYYY; an unparsable
    original gets a date from the default range)."""

    name = "faker.date"
    protection = "pseudonymised"


@register
class FakeDateTime(_DateBase):
    """Fake timestamp between 1970-01-01 and 2025-12-31: 'YYYY-MM-DD HH:MM:SS' (date only in a
    date column). preserveYear keeps the original's year."""

    name = "faker.dateTime"
    protection = "pseudonymised"
    LO = date(1970, 1, 1)
    HI = date(2025, 12, 31)
    with_time = True


_SSN_AREAS = tuple(a for a in range(1, 900) if a != 666)


@register
class Ssn(PrfTransformer):
    """Fake US social security number NNN-NN-NNNN (area never 000, 666 or 9xx; group and
    serial never zero)."""

    name = "faker.ssn"
    protection = "pseudonymised"
    kinds = ("text",)
    ascii_output = True
    make_uses_value = False

    def prepare(self) -> None:
        self.limit = self.column.length

    def check(self, column: Column) -> list[str]:
        return super().check(column) + fixed_width_warning(self.name, column, 11)

    def fake_spec(self):
        return (fastprf.FAKE_SSN, self.limit, ())

    def make(self, d: bytes, value: str) -> str:
        n = int.from_bytes(d[:8], "big")
        n, a = divmod(n, len(_SSN_AREAS))
        n, g = divmod(n, 99)
        s = f"{_SSN_AREAS[a]:03d}-{g + 1:02d}-{n % 9999 + 1:04d}"
        return s if self.limit is None else s[: self.limit]


_LUHN_DOUBLE = str.maketrans("0123456789", "0246813579")  # 2*d with its digits summed


def luhn_check_digit(payload: str) -> str:
    """The digit that makes payload + digit pass the Luhn check (the digit next to it doubles)."""
    doubled = payload[::-2].translate(_LUHN_DOUBLE)
    plain = payload[-2::-2]
    total = sum(doubled.encode()) + sum(plain.encode()) - 48 * len(payload)
    return str(-total % 10)


def luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


@register
class CreditCard(PrfTransformer):
    """Fake 16-digit card number (Visa-like prefix 4) with a valid Luhn check digit, digits only.
    Integer columns must hold 16 digits (bigint); numeric(p,s) needs p-s >= 16."""

    name = "faker.creditCard"
    protection = "pseudonymised"
    kinds = ("text", "int", "numeric")
    ascii_output = True
    make_uses_value = False

    def prepare(self) -> None:
        self.limit = self.column.length if self.column.kind in ("text", "other") else None

    @classmethod
    def type_error(cls, column: Column, options=None, argument=None, dialect=None) -> str | None:
        err = super().type_error(column, options, argument, dialect)
        if err:
            return err
        if column.kind == "int" and column.int_max is not None and column.int_max < 10**16 - 1:
            return f"{cls.name}: column {column.name!r} ({column.type}) cannot hold 16 digits"
        if column.kind == "numeric" and column.precision is not None and column.precision - (column.scale or 0) < 16:
            return f"{cls.name}: column {column.name!r} ({column.type}) cannot hold 16 digits"
        return None

    def check(self, column: Column) -> list[str]:
        w = super().check(column)
        return w + fixed_width_warning(self.name, column, 16)

    def fake_spec(self):
        return (fastprf.FAKE_CARD, self.limit, ())

    def make(self, d: bytes, value: str) -> str:
        payload = f"4{int.from_bytes(d[:8], 'big') % 10**14:014d}"
        s = payload + luhn_check_digit(payload)
        return s if self.limit is None else s[: self.limit]


# BBAN layouts: (kind, count) with kind 'n' digits, 'a' upper-case letters
IBAN_FORMATS = {
    "DE": (("n", 18),),
    "GB": (("a", 4), ("n", 14)),
    "NL": (("a", 4), ("n", 10)),
    "AT": (("n", 16),),
    "BE": (("n", 12),),
    "CH": (("n", 17),),
}


_IBAN_LETTERS = str.maketrans({chr(65 + i): str(10 + i) for i in range(26)})


def iban_check_digits(country: str, bban: str) -> str:
    """ISO 7064 mod 97-10 check digits: BBAN + country + '00', letters as 10..35."""
    num = int((bban + country).translate(_IBAN_LETTERS) + "00")
    return f"{98 - num % 97:02d}"


def iban_valid(iban: str) -> bool:
    s = (iban[4:] + iban[:4]).upper()
    if not (s.isascii() and s.isalnum()):
        return False
    return int(s.translate(_IBAN_LETTERS)) % 97 == 1


@register
class Iban(PrfTransformer):
    """Fake IBAN with correct ISO 13616 mod-97 check digits, no spaces, e.g. DE89370400440532013000
    (option country: DE, GB, NL, AT, BE, CH). National check digits inside the BBAN are not
    computed."""

    name = "faker.iban"
    protection = "pseudonymised"
    kinds = ("text",)
    ascii_output = True
    make_uses_value = False
    params = {"country": Param(str, "country code of the IBAN", "DE", choices=tuple(IBAN_FORMATS))}

    def prepare(self) -> None:
        self.country = self.options["country"]
        self.layout = IBAN_FORMATS[self.country]
        self.natural = 4 + sum(c for _, c in self.layout)
        self.limit = self.column.length
        tail = self.country.translate(_IBAN_LETTERS) + "00"
        self._cs = (int(tail), 10 ** len(tail))

    def check(self, column: Column) -> list[str]:
        return super().check(column) + fixed_width_warning(self.name, column, self.natural)

    def fake_spec(self):
        layout = b"".join(kind.encode("ascii") + bytes((count,)) for kind, count in self.layout)
        return (fastprf.FAKE_IBAN, self.limit, (self.country.encode("ascii"), layout))

    def make(self, d: bytes, value: str) -> str:
        layout = self.layout
        if len(layout) == 1 and layout[0][0] == "n":
            # digits only: the check is (bban * 10^k + country-as-digits + '00') mod 97
            count = layout[0][1]
            v = int.from_bytes(d, "big") % 10**count
            cs = self._cs
            chk = 98 - (v * cs[1] + cs[0]) % 97
            return self._fit(f"{self.country}{chk:02d}{v:0{count}d}")
        n = int.from_bytes(d, "big")
        out = []
        for kind, count in layout:
            if kind == "n":
                n, v = divmod(n, 10**count)
                out.append(f"{v:0{count}d}")
            else:
                for _ in range(count):
                    n, v = divmod(n, 26)
                    out.append(chr(65 + v))
        bban = "".join(out)
        return self._fit(self.country + iban_check_digits(self.country, bban) + bban)

    def _fit(self, s: str) -> str:
        return s if self.limit is None else s[: self.limit]


_V4_FIRST = tuple(a for a in range(1, 224) if a not in (10, 127))


@register
class Ipv4(PrfTransformer):
    """Fake IPv4 address (first octet 1-223, never 10 or 127); option private: inside 10.0.0.0/8."""

    name = "faker.ipv4"
    protection = "pseudonymised"
    kinds = ("text",)
    ascii_output = True
    make_uses_value = False

    @classmethod
    def network_ok(cls, column) -> bool:
        from .validity import base_type

        return base_type(column) in ("inet", "cidr", "inet4")
    params = {"private": Param(bool, "draw from 10.0.0.0/8 only", False)}

    def prepare(self) -> None:
        self.private = self.options["private"]

    def check(self, column: Column) -> list[str]:
        return super().check(column) + fixed_width_warning(self.name, column, 15)

    def fake_spec(self):
        return (fastprf.FAKE_IPV4, self.column.length, (int(bool(self.private)),))

    def make(self, d: bytes, value: str) -> str:
        first = 10 if self.private else _V4_FIRST[int.from_bytes(d[3:7], "big") % len(_V4_FIRST)]
        s = f"{first}.{d[0]}.{d[1]}.{d[2]}"
        L = self.column.length
        return s if L is None else s[:L]


@register
class Ipv6(PrfTransformer):
    """Fake IPv6 address inside the documentation prefix 2001:db8::/32 (RFC 3849)."""

    name = "faker.ipv6"
    protection = "pseudonymised"
    kinds = ("text",)
    ascii_output = True
    make_uses_value = False

    @classmethod
    def network_ok(cls, column) -> bool:
        from .validity import base_type

        return base_type(column) in ("inet", "cidr", "inet6")

    def check(self, column: Column) -> list[str]:
        return super().check(column) + fixed_width_warning(self.name, column, 39)

    def fake_spec(self):
        return (fastprf.FAKE_IPV6, self.column.length, ())

    def make(self, d: bytes, value: str) -> str:
        h = d[:12].hex()
        s = f"2001:db8:{h[0:4]}:{h[4:8]}:{h[8:12]}:{h[12:16]}:{h[16:20]}:{h[20:24]}"
        L = self.column.length
        return s if L is None else s[:L]
