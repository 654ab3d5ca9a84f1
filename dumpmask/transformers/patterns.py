"""`regex`: what a regular expression matches in a text value, replaced (issue #15): by a
template (`\\1` groups), by a mutation of each match, or by a mutation of some groups of
each match. Python's `re` syntax; the pattern is compiled when the rules are loaded."""
from __future__ import annotations

import re

from dumpmask.errors import MaskingError, RulesError

from .base import Param, Transformer, register, weakest
from .strfield import charsub_field, str_field

_NOT_INNER = ("key", "json", "template", "null", "regex")


def _inner(owner, spec, where: str):
    """A mutation spec ("faker.phone" or {"mutation", "options"}) built for a text value."""
    from dumpmask.schema import Column

    from .names import parse_mutation

    if isinstance(spec, dict):
        if set(spec) - {"mutation", "options"} or not isinstance(spec.get("mutation"), str):
            raise RulesError('expected a mutation name or {"mutation": ..., "options": {...}}', where=where)
        name, opts = spec["mutation"], spec.get("options") or {}
    elif isinstance(spec, str):
        name, opts = spec, {}
    else:
        raise RulesError('expected a mutation name or {"mutation": ..., "options": {...}}', where=where)
    if name.partition(":")[0] in _NOT_INNER:
        raise RulesError(f"{name} cannot be the mutation of a match", where=where)
    cls, arg = parse_mutation(name, where)
    opts = cls.validate_options(opts, where=f"{where}.options")
    c = Column(name=owner.column.name, kind="text", type="text")
    err = cls.type_error(c, opts, arg)
    if err:
        raise RulesError(err, where=where)
    return cls(owner.key, opts, c, arg)


@register
class Regex(Transformer):
    """What `pattern` (a Python regular expression) matches, replaced: by `replace`, a template
    where `\\1` / `\\g<name>` are the match's groups ({"pattern": "\\\\d{3}-\\\\d{4}", "replace":
    "###-####"}); or each match through `mutation` ({"pattern": ..., "mutation":
    "faker.phone"}); or some groups of each match through a mutation each ({"groups": {"2":
    "partial"}}: group 2 masked, the rest of the match kept). Exactly one of the three. The
    rest of the value is kept. Text columns; an invalid pattern or template is refused when the
    rules are loaded, a result longer than the column's length stops the row."""

    name = "regex"
    protection = "pseudonymised"
    kinds = ("text",)
    elementwise = False
    params = {"pattern": Param(str, "the regular expression (Python re syntax)", required=True),
              "replace": Param(str, "the template each match is replaced by (\\1, \\g<name>: groups)", None),
              "mutation": Param(str, "the mutation each whole match goes through", None),
              "options": Param(dict, "that mutation's options", None),
              "groups": Param(dict, "group number or name -> the mutation of that group", None),
              "ignoreCase": Param(bool, "match letters case-insensitively", False)}

    @classmethod
    def protection_of(cls, options=None, argument=None) -> str:
        """The class of what replaces the matches (text outside the matches stays as it is): a
        `replace` template is anonymised, kept when it repeats a group (\\1, \\g<name>); a
        mutation's or the weakest of the groups' mutations."""
        from .names import inner_protection

        o = options or {}
        if o.get("replace") is not None:
            return "kept" if re.search(r"\\(?:\d|g<)", o["replace"]) else "anonymised"
        if o.get("mutation") is not None:
            return inner_protection(o["mutation"], o.get("options"))
        groups = o.get("groups") or {}
        return weakest(inner_protection(*((g.get("mutation"), g.get("options")) if isinstance(g, dict) else (g, None)))
                       for g in groups.values())

    def setup(self) -> None:
        o = self.options
        try:
            self.rx = re.compile(o["pattern"], re.IGNORECASE if o["ignoreCase"] else 0)
        except re.error as e:
            raise RulesError(f"pattern is not a valid regular expression: {e}", where="options.pattern") from None
        given = [k for k in ("replace", "mutation", "groups") if o.get(k) is not None]
        if len(given) != 1:
            raise RulesError("regex takes exactly one of replace, mutation, groups", where="options")
        if o.get("options") is not None and given != ["mutation"]:
            raise RulesError("options are the options of `mutation`", where="options.options")
        self.mode = given[0]
        if self.mode == "replace":
            try:
                self.rx.sub(o["replace"], "")    # compiles the template: a bad group reference shows here
            except (re.error, IndexError) as e:
                raise RulesError(f"replace: {e}", where="options.replace") from None
            self.fn = None
        elif self.mode == "mutation":
            inner = _inner(self, {"mutation": o["mutation"], "options": o.get("options") or {}}, "options.mutation")
            self.inners = [inner]
            self.fn = self._whole
        else:
            groups = o["groups"]
            if not groups:
                raise RulesError("groups must name at least one group", where="options.groups")
            self.by_group = []
            for g, spec in groups.items():
                ref = int(g) if g.isdigit() else g
                if (isinstance(ref, int) and not 1 <= ref <= self.rx.groups) or \
                        (isinstance(ref, str) and ref not in self.rx.groupindex):
                    raise RulesError(f"the pattern has no group {g!r}", where=f"options.groups[{g!r}]")
                self.by_group.append((ref, _inner(self, spec, f"options.groups[{g!r}]")))
            self.inners = [t for _g, t in self.by_group]
            self.fn = self._groups

    def bind_dialect(self, dialect) -> None:
        self.dialect = dialect
        for t in getattr(self, "inners", ()):
            t.bind_dialect(dialect)

    def _whole(self, m) -> str:
        new = self.inners[0](m.group(0))
        return "" if new is None else new

    def _groups(self, m) -> str:
        s0 = m.start()
        text = m.group(0)
        spans = sorted((m.span(g), t) for g, t in self.by_group if m.start(g) >= 0)
        out, pos = [], 0
        for (a, b), t in spans:
            a, b = a - s0, b - s0
            if a < pos:
                raise MaskingError(f"{self.column.name}: regex: groups of the pattern overlap (nested groups): "
                                   "name the innermost ones only")
            new = t(text[a:b])
            out.append(text[pos:a])
            out.append("" if new is None else new)
            pos = b
        out.append(text[pos:])
        return "".join(out)

    def field_fast(self, mode: int, encode):
        """__call__ on a plain raw field decoded and encoded in C (strfield.str_field); a literal
        replacement of a one-character pattern all in C (strfield.charsub_field)."""
        if self.mode == "replace":
            return charsub_field(mode, self.options["pattern"], self.rx.flags, self.options["replace"],
                                 self.column.length, self.__call__, encode(None))
        return str_field(mode, self.__call__, encode(None))

    def __call__(self, value):
        if value is None or not value:
            return value
        new = self.rx.sub(self.options["replace"] if self.fn is None else self.fn, value)
        n = self.column.length
        if n is not None and len(new) > n and new != value:
            raise MaskingError(f"{self.column.name}: regex: the result is longer than the column's {n} characters")
        return new
