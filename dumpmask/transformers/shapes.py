"""Mutations that keep a value's shape: partial masks, keyed noise, a keyed choice, any Faker
provider, and a mutation applied to each element of a delimited list (issue #15).

Each is deterministic under the key like every other mutation: the PRF domain is the
mutation's name and options, so the same original gets the same output in every table.
"""
from __future__ import annotations

import datetime as _dt
import re
from functools import partial
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from dumpmask.errors import MaskingError, RulesError
from dumpmask.schema import Column

from .base import Param, Transformer, register
from .common import PoolTransformer, PrfTransformer, fit_pool, get_pool
from .strfield import SHAPE_EMAIL, SHAPE_PARTIAL, cum_pick, list_field, shape_field, str_field
from dumpmask.lazy import lazy_pattern


@register
class Partial(Transformer):
    """Keep the first `first` and the last `last` characters and replace each one between
    with `fill` (PCI DSS display of a card number: {"first": 6, "last": 4}; `4111********1111`).
    A value of at most first + last characters is written entirely as fill (nothing of it
    kept: it would be shown whole). Text columns; the length stays the same."""

    name = "partial"
    protection = "pseudonymised"
    kinds = ("text",)
    elementwise = False
    params = {"first": Param(int, "characters kept at the start", 0),
              "last": Param(int, "characters kept at the end", 4),
              "fill": Param(str, "the character written for each hidden one", "*")}

    def setup(self) -> None:
        if self.options["first"] < 0 or self.options["last"] < 0:
            raise RulesError("first and last must be >= 0", where="options")
        if len(self.options["fill"]) != 1:
            raise RulesError("fill is one character", where="options.fill")

    def field_fast(self, mode: int, encode):
        """__call__ in C on a plain raw field (strfield.shape_field)."""
        o = self.options
        return shape_field(mode, SHAPE_PARTIAL, o["first"], o["last"], o["fill"], self.__call__, encode(None))

    def __call__(self, value):
        if value is None or not value:
            return value
        a, b, f = self.options["first"], self.options["last"], self.options["fill"]
        n = len(value)
        if n <= a + b:
            return f * n
        return value[:a] + f * (n - a - b) + (value[n - b:] if b else "")


@register
class PartialEmail(Transformer):
    """An e-mail with its local part hidden and its domain kept (`a****@corp.example`):
    `keep` "first" keeps the first letter of the local part, "none" hides all of it. A value
    without "@" is hidden entirely. Text columns; the length stays the same."""

    name = "partial.email"
    protection = "pseudonymised"
    kinds = ("text",)
    elementwise = False
    params = {"keep": Param(str, "what of the local part stays", "first", choices=("first", "none")),
              "fill": Param(str, "the character written for each hidden one", "*")}

    def setup(self) -> None:
        if len(self.options["fill"]) != 1:
            raise RulesError("fill is one character", where="options.fill")

    def field_fast(self, mode: int, encode):
        """__call__ in C on a plain raw field (strfield.shape_field)."""
        o = self.options
        return shape_field(mode, SHAPE_EMAIL, int(o["keep"] == "first"), 0, o["fill"], self.__call__, encode(None))

    def __call__(self, value):
        if value is None or not value:
            return value
        f = self.options["fill"]
        local, at, domain = value.rpartition("@")
        if not at:
            return f * len(value)
        if self.options["keep"] == "first" and len(local) > 1:
            return local[0] + f * (len(local) - 1) + "@" + domain
        return f * len(local) + "@" + domain


_DATE = lazy_pattern(globals(), "_DATE", r"(\d{4})-(\d\d)-(\d\d)(.*)\Z", re.S)


@register
class Noise(PrfTransformer):
    """Keyed noise: numbers move by up to `relative` (0.1: +-10%) or `absolute` (5: +-5) of
    their value, dates and timestamps by up to `days` days; uniform, the same original always
    gets the same noise under one key, so sums and distributions stay close. A number keeps
    its decimals (an integer column stays integral) and its type's range (clamped); a date
    keeps its format (a timestamp its time of day and zone as written)."""

    name = "noise"
    protection = "pseudonymised"
    kinds = ("int", "numeric", "float", "date", "timestamp")
    elementwise = False
    digest_size = 8
    params = {"relative": Param((int, float), "numbers: the largest move as a share of the value", None),
              "absolute": Param((int, float), "numbers: the largest move", None),
              "days": Param(int, "dates and timestamps: the largest move in days", None)}

    @classmethod
    def type_error(cls, column: Column, options=None, argument=None, dialect=None) -> str | None:
        err = super().type_error(column, options, argument, dialect)
        if err:
            return err
        o = options or {}
        dated = column.kind in ("date", "timestamp")
        if dated and o.get("days") is None:
            return f"noise on {column.type or column.kind} column {column.name!r} needs the option days"
        if not dated and column.kind in ("int", "numeric", "float") and o.get("relative") is None and o.get("absolute") is None:
            return f"noise on {column.type or column.kind} column {column.name!r} needs the option relative or absolute"
        return None

    def prepare(self) -> None:
        o = self.options
        given = [k for k in ("relative", "absolute", "days") if o.get(k) is not None]
        if len(given) != 1:
            raise RulesError("noise takes exactly one of relative, absolute, days", where="options")
        v = o[given[0]]
        if isinstance(v, bool) or v <= 0:
            raise RulesError(f"{given[0]} must be > 0", where=f"options.{given[0]}")
        self.mode, self.amount = given[0], Decimal(str(v))

    def field_fast(self, mode: int, encode):
        """Plain numbers and dates without decoding or Decimal (transformers/numfast.py: the same
        bytes as make(), None where that is not proven); else PrfTransformer's."""
        from . import numfast

        plan = self._num_plan()
        if plan is None:
            return super().field_fast(mode, encode)
        return numfast.field_function(plan, None, self._prf, mode)

    def _num_plan(self) -> list[int] | None:
        from . import numfast

        if self._mask_empty:
            return None
        if self.mode == "days":
            span = int(self.amount)
            if not 0 < span < 1 << 62:
                return None
            return [numfast.OP_DAYS, 0, 0, 0, 0, 0, 0, -1, span, 0, 0, 0]
        plan = numfast.column_plan(numfast.OP_NOISE, self.column)
        parts = numfast.decimal_parts(self.amount, 1 << 31, numfast.MAXD)
        if plan is None or parts is None or parts[0] <= 0:
            return None
        return plan + [int(self.mode == "relative"), parts[0], parts[1], 0]

    def _unit(self, d: bytes) -> Decimal:
        """A uniform value in [-1, 1) from the digest."""
        return Decimal(int.from_bytes(d[:8], "big")) / Decimal(2 ** 63) - 1

    def make(self, d: bytes, value: str) -> str:
        if self.mode == "days":
            return self._date(d, value)
        try:
            v = Decimal(value.strip())
        except InvalidOperation:
            raise MaskingError(f"{self.column.name}: noise: the value is not a number") from None
        if not v.is_finite():
            return value
        move = (abs(v) * self.amount if self.mode == "relative" else self.amount) * self._unit(d)
        frac = value.strip().split(".", 1)[1] if "." in value and "e" not in value.lower() else ""
        c = self.column
        q = Decimal(1).scaleb(-len(frac)) if frac and c.kind != "int" else Decimal(1)
        out = (v + move).quantize(q, rounding=ROUND_HALF_EVEN)
        if c.int_min is not None and out < c.int_min:
            out = Decimal(c.int_min)
        if c.int_max is not None and out > c.int_max:
            out = Decimal(c.int_max)
        if c.precision and c.kind == "numeric":
            top = Decimal(10) ** (c.precision - (c.scale or 0)) - q
            out = max(min(out, top), -top)
        return str(out)

    def _date(self, d: bytes, value: str) -> str:
        m = _DATE.match(value.strip())
        if m is None:
            if value.strip().lower() in ("infinity", "-infinity"):
                return value
            raise MaskingError(f"{self.column.name}: noise: the value is not a date (YYYY-MM-DD...)")
        try:
            day = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise MaskingError(f"{self.column.name}: noise: the value is not a date") from None
        span = int(self.amount)
        shift = int.from_bytes(d[:8], "big") % (2 * span + 1) - span
        try:
            day = day + _dt.timedelta(days=shift)
        except OverflowError:
            return value
        if not (1 <= day.year <= 9999):
            return value
        return day.isoformat() + m.group(4)


@register
class Choice(PrfTransformer):
    """One of `values`, picked by the keyed hash of the original (the same original, the same
    pick); `weights` (same length, numbers > 0) make some picks likelier. Every value is checked
    against the column's type when the rules are loaded."""

    name = "choice"
    protection = "pseudonymised"
    elementwise = False
    digest_size = 8
    params = {"values": Param(list, "the values to pick from", required=True),
              "weights": Param(list, "a weight per value (default: equal)", None)}

    @classmethod
    def type_error(cls, column: Column, options=None, argument=None, dialect=None) -> str | None:
        from .validity import literal_error

        for v in (options or {}).get("values") or []:
            if not isinstance(v, str):
                continue
            err = literal_error(v, column, dialect)
            if err:
                return f"choice value {v!r} {err}: column {column.name!r} is {column.type or column.kind}"
        return None

    def prepare(self) -> None:
        values, weights = self.options["values"], self.options.get("weights")
        if not values or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
            raise RulesError("values must be a non-empty list of strings or numbers", where="options.values")
        self.values = [str(v) for v in values]
        if weights is None:
            self.cum = list(range(1, len(values) + 1))
        else:
            if len(weights) != len(values) or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w > 0
                                                      for w in weights):
                raise RulesError("weights must be one number > 0 per value", where="options.weights")
            scale = 10 ** 6
            total, self.cum = 0, []
            for w in weights:
                total += max(1, round(w * scale))
                self.cum.append(total)

    def make(self, d: bytes, value: str) -> str:
        import bisect

        r = int.from_bytes(d[:8], "big") % self.cum[-1]
        return self.values[bisect.bisect_right(self.cum, r)]

    def field_fast(self, mode: int, encode):
        """make() as one C call, the values written as the dialect writes them: without weights
        (cum = 1..n, so bisect_right(cum, x % n) is x % n) a pick like a pool's, with weights
        the cumulative pick (strfield.cum_pick). A value with surrogates: PrfTransformer's."""
        try:
            for v in self.values:
                v.encode("utf-8")
        except UnicodeEncodeError:
            return super().field_fast(mode, encode)
        pool, keep_empty = tuple(encode(v) for v in self.values), not self._mask_empty
        if self.options.get("weights") is None:
            return partial(self._prf.pick, mode, pool, 0, 8, keep_empty)
        return cum_pick(self._prf, mode, pool, self.cum, keep_empty) or super().field_fast(mode, encode)


_UNSAFE = {"seed", "seed_instance", "seed_locale", "random", "add_provider", "get_providers", "provider",
           "set_formatter", "format", "parse", "get_formatter", "set_arguments", "get_arguments",
           "del_arguments", "binary", "tar", "zip", "image", "json_bytes"}


@register
class FakerProvider(PoolTransformer):
    """Any Faker provider by name, with its arguments: {"provider": "job"},
    {"provider": "license_plate"}, {"provider": "iban", "locale": "fr_FR"},
    {"provider": "numerify", "args": {"text": "###-###"}}. Built into a pool once per run like
    the named fakes (`locale` as for them), picked by the keyed hash. Text columns; a provider
    that does not exist, or is not a text generator, is refused when the rules are loaded."""

    name = "faker"
    protection = "pseudonymised"
    params = {"provider": Param(str, "the Faker provider (method) name", required=True),
              "args": Param(dict, "its keyword arguments", None),
              "locale": Param(str, "Faker locale the pool is drawn from", "en_US")}

    def prepare(self) -> None:
        provider, args = self.options["provider"], self.options.get("args") or {}
        if provider.startswith("_") or provider in _UNSAFE or not provider.replace("_", "").isalnum():
            raise RulesError(f"faker provider {provider!r} is not a value generator", where="options.provider")
        from .common import _faker

        fk = _faker(self.options.get("locale") or "en_US")
        gen = fk.factories[0] if len(fk.factories) == 1 else fk
        fn = getattr(gen, provider, None)
        if not callable(fn):
            raise RulesError(f"Faker has no provider {provider!r} (locale {self.options.get('locale') or 'en_US'})",
                             where="options.provider")
        try:
            sample = fn(**args)
        except Exception as e:  # noqa: BLE001  (any error of a third-party provider with bad args: Faker's own message, no data involved)
            raise RulesError(f"faker provider {provider!r} with args {args!r}: {type(e).__name__}: {e}",
                             where="options.args") from None
        if not isinstance(sample, (str, int, float)) or isinstance(sample, bool):
            raise RulesError(f"faker provider {provider!r} gives {type(sample).__name__}, not text",
                             where="options.provider")
        from .common import canonical_options, clean_text

        self.pool_name = f"faker:{provider}:{canonical_options(args)}"
        self.build = staticmethod(lambda g: clean_text(str(getattr(g, provider)(**args))))
        locale = self.options.get("locale") or "en_US"
        self.pool = get_pool(self.key, self.pool_name, self.build, locale)
        self._fitted, self._truncated = fit_pool(self.pool, self.column.length)
        self._pool_size = len(self._fitted)


@register
class ListOf(Transformer):
    """A mutation applied to each element of a delimited value ("a@x.org,b@y.org" with
    {"separator": ",", "mutation": "faker.email"}); blanks around each element are kept, empty
    elements stay empty. `options` are the inner mutation's. Text columns."""

    name = "list"
    protection = "pseudonymised"
    kinds = ("text",)
    elementwise = False
    params = {"separator": Param(str, "what separates the elements", ","),
              "mutation": Param(str, "the mutation of each element", required=True),
              "options": Param(dict, "the element mutation's options", None)}

    @classmethod
    def protection_of(cls, options=None, argument=None) -> str:
        """The class of the elements' mutation."""
        from .names import inner_protection

        o = options or {}
        return inner_protection(o.get("mutation"), o.get("options"))

    def setup(self) -> None:
        from .names import parse_mutation

        if not self.options["separator"]:
            raise RulesError("separator must not be empty", where="options.separator")
        spec = self.options["mutation"]
        if spec in ("list", "key") or spec.startswith("list:"):
            raise RulesError(f"{spec} cannot be a list element's mutation", where="options.mutation")
        cls, arg = parse_mutation(spec, "options.mutation")
        opts = cls.validate_options(self.options.get("options") or {}, where="options.options")
        element = Column(name=self.column.name, kind="text", type="text")
        err = cls.type_error(element, opts, arg)
        if err:
            raise RulesError(err, where="options.mutation")
        self.inner = cls(self.key, opts, element, arg)

    def bind_dialect(self, dialect) -> None:
        self.dialect = dialect
        self.inner.bind_dialect(dialect)

    def field_fast(self, mode: int, encode):
        """Each element through the element mutation's own field function, split and joined in C
        (strfield.list_field); __call__ on the value decoded in C (strfield.str_field) when the
        element mutation has none."""
        null = encode(None)
        inner = self.inner.field_fast(mode, encode)
        try:
            sep = self.options["separator"].encode("utf-8")
        except UnicodeEncodeError:
            sep = None
        if inner is not None and sep is not None and type(null) is bytes:
            return list_field(mode, sep, inner, null)
        return str_field(mode, self.__call__, null)

    def __call__(self, value):
        if value is None:
            return None
        sep = self.options["separator"]
        out = []
        for part in value.split(sep):
            core = part.strip()
            if not core:
                out.append(part)
                continue
            lead = part[:len(part) - len(part.lstrip())]
            trail = part[len(part.rstrip()):]
            new = self.inner(core)
            out.append(lead + ("" if new is None else new) + trail)
        return sep.join(out)
