"""`template`: a value built from the row's other columns after their masking (issue #15), so
that a fake e-mail matches the fake name of its row. The work unit evaluates it row by row
(dumpmask/work.py, the conditional path): the columns it reads are decoded from the row's NEW
fields, templates that read templates after them (the engine orders them and refuses cycles
and unknown columns when the rules are loaded)."""
from __future__ import annotations

import base64

from dumpmask.errors import MaskingError, RulesError

from .base import Param, Transformer, register
from dumpmask.lazy import lazy_pattern

UNIQUE = "_unique"            # {_unique}: where the keyed suffix goes
SUFFIX_CHARS = 13             # base32 characters of the suffix: 65 bits
_FIELD = lazy_pattern(globals(), "_FIELD", r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_CLEAN = lazy_pattern(globals(), "_CLEAN", r"[^\w.-]+")


def parse_template(text: str) -> list:
    """'{a}.{b}@x' -> [("", "a"), (".", "b"), ("@x", None)]: literal text, then the column
    (or UNIQUE, or None) after it. `{{` and `}}` are literal braces."""
    parts, lit, pos = [], [], 0
    for m in _FIELD.finditer(text):
        lit.append(text[pos:m.start()])
        pos = m.end()
        tok = m.group(0)
        if tok in ("{{", "}}"):
            lit.append(tok[0])
            continue
        name = m.group(1)
        if name is None or not name.strip():
            raise RulesError(f"template {text!r}: a lone brace or an empty {{}} at character {m.start() + 1} (write "
                             "{{ or }} for a brace)", where="options.template")
        parts.append(("".join(lit), name.strip()))
        lit = []
    lit.append(text[pos:])
    parts.append(("".join(lit), None))
    return parts


@register
class Template(Transformer):
    """A value built from the row's other columns after their masking: {"template":
    "{first_name}.{last_name}@example.com", "lower": true, "unique": true} writes the row's
    fake first and last name into the e-mail. `{column}` is a column of the same table (its
    new value; NULL as empty), `{{` / `}}` literal braces. `lower` lower-cases the result,
    `clean` drops from each inserted value what is not a letter, digit, `.`, `_` or `-`.
    `unique` adds a keyed suffix made from the original value (13 base-32 characters: distinct
    inputs stay distinct) at `{_unique}`, else before the template's last `@` (with a `.`),
    else at the end. NULL stays NULL. Templates may read templates (evaluated in dependency
    order); a cycle or an unknown column is refused when the rules are loaded. Text columns."""

    name = "template"
    protection = "pseudonymised"
    kinds = ("text",)
    elementwise = False
    params = {"template": Param(str, "the text, with {column} for a column's new value", required=True),
              "lower": Param(bool, "lower-case the result", False),
              "clean": Param(bool, "keep only letters, digits, . _ - of each inserted value", False),
              "unique": Param(bool, "add a keyed suffix from the original value (distinct inputs stay distinct)",
                              False)}

    def setup(self) -> None:
        parts = parse_template(self.options["template"])
        unique = self.options["unique"]
        has_slot = any(c == UNIQUE for _l, c in parts)
        if has_slot and not unique:
            raise RulesError("{_unique} is the place of the suffix of \"unique\": true", where="options.template")
        if unique and not has_slot:
            parts = _place_suffix(parts)
        self.parts = parts
        self.reads = tuple(dict.fromkeys(c for _l, c in parts if c is not None and c != UNIQUE))

    @classmethod
    def protection_of(cls, options=None, argument=None) -> str:
        """Literal text and the columns it reads: anonymised on its own (the original value is
        not used), pseudonymised with `unique` (a keyed suffix of the original); the audit then
        lowers it to the weakest class of the columns read, after their masking
        (audit.ColumnStats.reads: a template copying a column kept in clear is kept)."""
        return "pseudonymised" if (options or {}).get("unique") else "anonymised"

    not_injective = 'is not injective (two rows can build the same value: add "unique": true)'

    @classmethod
    def injective_for(cls, column, options=None) -> str | None:
        if (options or {}).get("unique"):
            return None
        return 'not injective (two rows can build the same value): add "unique": true'

    def _suffix(self, value: str) -> str:
        d = self.key.prf("template.unique", value.encode("utf-8", "surrogateescape"), 9)
        return base64.b32encode(d).decode("ascii")[:SUFFIX_CHARS].lower()

    def render(self, value: str | None, row: dict) -> str | None:
        """The new value of a field whose original is `value`, in a row whose columns' new
        values are `row` ({column: text or None})."""
        if value is None:
            return None
        clean = self.options["clean"]
        out = []
        for lit, col in self.parts:
            out.append(lit)
            if col is None:
                continue
            if col == UNIQUE:
                out.append(self._suffix(value))
                continue
            v = row.get(col)
            if v:
                out.append(_CLEAN.sub("", v) if clean else v)
        new = "".join(out)
        if self.options["lower"]:
            new = new.lower()
        n = self.column.length
        if n is not None and len(new) > n:
            raise MaskingError(f"{self.column.name}: template: the result is longer than the column's {n} characters")
        return new

    def __call__(self, value):
        if value is None:
            return None
        raise MaskingError(f"{self.column.name}: template is evaluated with its row (the work unit's row path); "
                           "it cannot mask a value alone here")


def _place_suffix(parts: list) -> list:
    """The suffix before the last '@' of the template's literal text (an e-mail's local part
    end), with a '.'; else at the end."""
    for n in range(len(parts) - 1, -1, -1):
        lit, col = parts[n]
        at = lit.rfind("@")
        if at >= 0:
            return parts[:n] + [(lit[:at] + ".", UNIQUE), (lit[at:], col)] + parts[n + 1:]
    last_lit, _none = parts[-1]
    return parts[:-1] + [(last_lit + ".", UNIQUE), ("", None)]
