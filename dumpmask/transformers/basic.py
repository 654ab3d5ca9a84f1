"""Type-agnostic mutations: static, null, hash, redact, keep."""
from __future__ import annotations

from functools import partial

from dumpmask.errors import RulesError
from dumpmask.schema import Column

from .base import Param, Transformer, register
from .common import PrfTransformer
from . import fastprf
from .fastprf import constant_field, field_as
from .validity import is_mysql_timestamp, redact_value  # noqa: F401  (redact_value: used here and re-exported)
from dumpmask.lazy import lazy_pattern

_INT_RE = lazy_pattern(globals(), "_INT_RE", r"[+-]?\d+\Z")
_NUM_RE = lazy_pattern(globals(), "_NUM_RE", r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")


@register
class Static(Transformer):
    """Replace every value, NULL included, with a fixed literal: `static:VALUE` (the text after
    the first colon, which may be empty). The only mutation that replaces NULL."""

    name = "static"
    protection = "anonymised"
    takes_argument = True
    elementwise = False

    def setup(self) -> None:
        if self.argument is None:
            raise RulesError("static needs a value: static:VALUE")

    @classmethod
    def type_error(cls, column: Column, options=None, argument=None, dialect=None) -> str | None:
        from .validity import domain_check_error, is_spatial, is_unknown_type, literal_error

        arg = argument or ""
        if domain_check_error(cls.name, column):
            return domain_check_error(cls.name, column)
        if is_spatial(column):
            alt = "null or keep" if column.nullable else "keep (the column is NOT NULL)"
            return f"static cannot write a checked value into column {column.name!r} of type {column.type}: use {alt}"
        if is_unknown_type(column):
            return None  # a literal of a type dumpmask does not know: written as the user gave it
        if dialect == "mysql" and column.kind == "bit":
            return f"static cannot write into the MySQL BIT column {column.name!r} (the dump holds its raw bytes): use redact, keep or null"
        err = literal_error(arg, column, dialect)
        if err:
            return f"static value {arg!r} {err}: column {column.name!r} is {column.type or column.kind}"
        return None

    def __call__(self, value):
        return self.argument

    def field_fast(self, mode: int, encode):
        """Every plain raw field (see fastprf) -> the argument as the dialect writes it."""
        return constant_field(self.key, mode, encode(self.argument), False)


@register
class Null(Transformer):
    """Replace every value with NULL. Refused on NOT NULL columns."""

    name = "null"
    protection = "removed"
    elementwise = False

    @classmethod
    def type_error(cls, column: Column, options=None, argument=None, dialect=None) -> str | None:
        if not column.nullable:
            return f"null rule on NOT NULL column {column.name!r}"
        return None

    def __call__(self, value):
        return None

    def field_fast(self, mode: int, encode):
        """A raw field -> the dialect's NULL field (encode(None): the object the engine counts),
        the field itself when it is NULL already; without decoding it (see fastprf.field_as).
        None (the general path) for what is not a plain COPY field or '...' literal."""
        return partial(field_as, mode, encode(None), True)


@register
class Keep(Transformer):
    """Keep the value unchanged: an explicit, audited decision that the column is not personal."""

    name = "keep"
    protection = "kept"
    unique = True
    elementwise = False

    @classmethod
    def type_error(cls, column: Column, options=None, argument=None, dialect=None) -> str | None:
        return None

    def __call__(self, value):
        return value

    def field_fast(self, mode: int, encode):
        """Every COPY field and every '...' literal stays as it is, byte for byte: nothing to
        decode (see fastprf.field_as)."""
        return partial(field_as, mode, None, False)


@register
class Hash(PrfTransformer):
    """Keyed hash (BLAKE2b under the run key): `length` lowercase hex characters (default 32 =
    128 bits). Distinct inputs stay distinct: with 128 bits, 10 million distinct values collide
    with probability below 1.5e-25 (n^2 / 2^129); at 16 hex chars (64 bits) about 2.7e-6, so
    check() warns below 16. Into integer columns: a keyed integer within the type's range
    (non-negative when the type allows); into numeric(p,s): p digits with s decimals; into
    uuid: a version-4 UUID made of PRF bits; truncated to varchar(n)."""

    name = "hash"
    protection = "pseudonymised"
    unique = True
    kinds = ("text", "int", "numeric", "float", "uuid", "other")
    ascii_output = True
    params = {"length": Param(int, "number of hex characters (4..128)", 32)}
    make_uses_value = False

    @classmethod
    def validate_options(cls, options: dict, where: str = "options") -> dict:
        out = super().validate_options(options, where)
        n = out["length"]
        if not 4 <= n <= 128:
            raise RulesError(f"option 'length' of hash must be between 4 and 128, got {n}", where=f"{where}.length")
        return out

    def prepare(self) -> None:
        n = self.options["length"]
        self.hex_len = n
        # digest size is fixed by the option alone, so every column gets the same digest
        self.digest_size = (n + 1) // 2
        self._h = self.key.hasher(self.domain, self.digest_size)
        col = self.column
        self.mode = "hex"
        out_len = n
        if col.length is not None and col.kind in ("text", "other"):
            out_len = min(out_len, col.length)
        self.out_len = out_len
        if col.kind == "int":
            lo = col.int_min if col.int_min is not None else -(1 << 63)
            hi = col.int_max if col.int_max is not None else (1 << 63) - 1
            if hi >= 0 and lo < 0:
                lo = 0
            self.mode, self.lo, self.span = "int", lo, hi - lo + 1
        elif col.kind == "float":
            self.mode, self.lo, self.span = "int", 0, 1 << 53
        elif col.kind == "numeric":
            p = col.precision or 18
            s = col.scale or 0
            self.mode, self.p, self.s = "numeric", p, s
        elif col.kind == "uuid":
            self.mode = "uuid"
            if self.digest_size < 16:
                self.digest_size = 16
                self._h = self.key.hasher(self.domain + "|uuid", 16)
                self._prf_domain = self.domain + "|uuid"

    @staticmethod
    def output_bits(column: Column, hex_len: int) -> int | None:
        """PRF bits that reach `column` (None: the full digest of `hex_len` characters)."""
        bits = None
        if column.kind in ("text", "other", "array"):
            n = hex_len if column.length is None else min(hex_len, column.length)
            bits = 4 * n
        elif column.kind == "int":
            lo = column.int_min if column.int_min is not None else -(1 << 63)
            hi = column.int_max if column.int_max is not None else (1 << 63) - 1
            bits = (hi - max(lo, 0) if hi >= 0 else hi - lo).bit_length()
        elif column.kind == "float":
            bits = 53
        elif column.kind == "numeric":
            bits = int(((column.precision or 18)) * 3.32)
        elif column.kind == "uuid":
            bits = 122
        return bits

    #: fewer output bits than this on a unique column is refused: 10 million rows collide with
    #: probability n^2 / 2^(b+1), about 4e-5 at 60 bits
    UNIQUE_BITS = 60

    @classmethod
    def injective_for(cls, column: Column, options: dict | None = None) -> str | None:
        n = (options or {}).get("length") or 32
        bits = cls.output_bits(column, n)
        if bits is not None and bits < cls.UNIQUE_BITS:
            fix = "a longer 'length' (16 or more hex characters)" if column.kind in ("text", "other") else "key"
            if column.kind in ("text", "other") and column.length is not None and column.length < 15:
                fix = "key (a format-preserving permutation)"
            return (f"only ~{bits} bits of hash reach column {column.name!r} ({column.type or column.kind}): distinct "
                    f"values can collide; use {fix}")
        return None

    def check(self, column: Column) -> list[str]:
        warnings = super().check(column)
        bits = self.output_bits(column, self.hex_len)
        if bits is not None and bits < 64:
            warnings.append(f"hash into {column.name!r} ({column.type or column.kind}) has only ~{bits} bits: "
                            "distinct values may collide (uniqueness weakened)")
        return warnings

    def fake_spec(self):
        if self.mode == "hex":
            return (fastprf.FAKE_HASH, self.out_len, (0, 0, 1))
        if self.mode == "uuid":
            return (fastprf.FAKE_HASH, None, (2, 0, 1))
        if self.mode == "int" and 0 <= self.lo < (1 << 63) and 1 <= self.span < (1 << 64):
            return (fastprf.FAKE_HASH, None, (1, self.lo, self.span))
        return None   # numeric(p, s), or a range C does not hold: make()

    def make(self, d: bytes, value: str) -> str:
        mode = self.mode
        if mode == "hex":
            return d.hex()[: self.out_len]
        if mode == "int":
            return str(self.lo + int.from_bytes(d, "big") % self.span)
        if mode == "numeric":
            v = int.from_bytes(d, "big") % (10 ** self.p)
            if self.s:
                q, r = divmod(v, 10 ** self.s)
                return f"{q}.{r:0{self.s}d}"
            return str(v)
        h = bytearray(d[:16])
        h[6] = (h[6] & 0x0F) | 0x40
        h[8] = (h[8] & 0x3F) | 0x80
        x = h.hex()
        return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


@register
class Redact(Transformer):
    """Replace every non-NULL value with a fixed, type-aware value: text -> '*****' (shortened
    to varchar(n)), integers -> the type's minimum, numeric/float -> 0, date -> 1900-01-01,
    timestamp -> 1900-01-01 00:00:00 (1970-01-01 00:00:01 for MySQL TIMESTAMP), time -> 00:00:00,
    bool -> false, uuid -> the nil UUID, enum -> its first value. Option `value` overrides."""

    name = "redact"
    protection = "anonymised"
    keeps_empty = True
    elementwise = False
    params = {"value": Param(str, "the replacement value (default: type-aware)", None)}

    def setup(self) -> None:
        self.bind_dialect(None)
        self._mask_empty = self.options.get("empty") == "mask"

    def bind_dialect(self, dialect) -> None:
        from .validity import redact_default

        self.dialect = dialect
        v = self.options.get("value")
        self.replacement = v if v is not None else (redact_default(self.column, dialect) or redact_value(self.column))

    @classmethod
    def type_error(cls, column: Column, options=None, argument=None, dialect=None) -> str | None:
        from .validity import domain_check_error, is_spatial, is_unknown_type, literal_error, redact_default

        if domain_check_error(cls.name, column):
            return domain_check_error(cls.name, column)
        v = (options or {}).get("value")
        what = f"column {column.name!r} of type {column.type or column.kind}"
        alt = "null or keep" if column.nullable else "keep (the column is NOT NULL)"
        if is_spatial(column):
            return f"redact has no valid value for {what}: use {alt}"
        if dialect == "mysql" and column.kind == "bit":
            if v is not None:
                return f"redact's value cannot be checked for the MySQL BIT {what}: leave it out (all bits 0)"
            return None
        if v is None:
            if is_unknown_type(column):
                return (f"redact has no known valid value for {what}: use {alt}, or give a literal of "
                        "that type in the option 'value'")
            d = redact_default(column, dialect)
            err = literal_error(d, column, dialect) if d is not None else "is not valid"
            if err:
                return f"redact's default {d!r} {err}: {what}; give a valid 'value' or use {alt}"
            return None
        if is_unknown_type(column):
            return None
        err = literal_error(v, column, dialect)
        if err:
            return f"redact value {v!r} {err}: {what}"
        return None

    def __call__(self, value):
        if value is None:
            return None
        if not value and not self._mask_empty:
            return value
        return self.replacement

    def field_fast(self, mode: int, encode):
        """Every plain raw field (see fastprf) -> the replacement as the dialect writes it ('' kept
        unless the rule says "empty": "mask")."""
        return constant_field(self.key, mode, encode(self.replacement), not self._mask_empty)
