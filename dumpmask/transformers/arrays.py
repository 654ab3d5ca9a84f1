"""PostgreSQL array literals ('{a,"b c",NULL,{d,e}}'), so that a mutation applies to each
element of an array column: decode, mask every non-NULL element, encode the way array_out
does. The dialect's own escaping (COPY text escapes, SQL string quotes) is undone before and
redone after, by the dialect; this module only sees the array's text.

Rules (PostgreSQL's array_in / array_out): an optional dimension decoration `[1:3]=` before the
outer brace; elements separated by the delimiter (',' for every type but box); an element is
double-quoted with backslash escapes (\\" and \\\\), or unquoted, where a backslash escapes the
next character and surrounding whitespace is dropped; an unquoted NULL (any case) is a NULL
element; nested braces are sub-arrays. array_out quotes an element when it is empty, spells
NULL, or holds a brace, the delimiter, a double quote, a backslash or white space.
"""
from __future__ import annotations

import re

from dumpmask.lazy import lazy_pattern

_DIMS = lazy_pattern(globals(), "_DIMS", r"\s*((?:\[\s*[+-]?\d+\s*(?::\s*[+-]?\d+\s*)?\])+\s*=)?\s*")
_SPACE = " \t\n\r\v\f"


def parse_array(text: str, delim: str = ",") -> tuple[str, list]:
    """'{a,NULL,{"b c"}}' -> ('', ['a', None, ['b c']]); '[0:1]={x,y}' -> ('[0:1]=', ['x', 'y']).
    ValueError for text that is not an array literal."""
    m = _DIMS.match(text)
    prefix = (m.group(1) or "") if m else ""
    i = m.end() if m else 0
    if i >= len(text) or text[i] != "{":
        raise ValueError("an array literal starts with '{'")
    tree, i = _parse_level(text, i + 1, delim)
    if text[i:].strip(_SPACE):
        raise ValueError("text after the closing '}'")
    return prefix, tree


def _parse_level(s: str, i: int, delim: str) -> tuple[list, int]:
    out: list = []
    n = len(s)
    expect_elem = True   # after '{' or a delimiter
    first = True
    while True:
        while i < n and s[i] in _SPACE:
            i += 1
        if i >= n:
            raise ValueError("unterminated array (no closing '}')")
        c = s[i]
        if c == "}":
            if expect_elem and not first:
                raise ValueError("an element is missing before '}'")
            return out, i + 1
        if not expect_elem:
            if c == delim:
                expect_elem = True
                i += 1
                continue
            raise ValueError(f"expected {delim!r} or '}}' between elements")
        first = False
        if c == "{":
            sub, i = _parse_level(s, i + 1, delim)
            out.append(sub)
        elif c == '"':
            buf = []
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unterminated quoted element")
                ch = s[i]
                if ch == "\\":
                    if i + 1 >= n:
                        raise ValueError("unterminated quoted element")
                    buf.append(s[i + 1])
                    i += 2
                elif ch == '"':
                    i += 1
                    break
                else:
                    buf.append(ch)
                    i += 1
            out.append("".join(buf))
        else:
            buf = []
            keep = 0          # length of buf up to its last character that is not plain white space
            quoted_any = False
            while i < n:
                ch = s[i]
                if ch == "\\":
                    if i + 1 >= n:
                        raise ValueError("a backslash at the end of the array")
                    buf.append(s[i + 1])
                    keep = len(buf)
                    quoted_any = True
                    i += 2
                    continue
                if ch == delim or ch == "}":
                    break
                if ch in '{"':
                    raise ValueError(f"unexpected {ch!r} inside an unquoted element")
                buf.append(ch)
                if ch not in _SPACE:
                    keep = len(buf)
                i += 1
            v = "".join(buf[:keep])
            if v == "":
                raise ValueError("an empty unquoted element")
            out.append(None if (not quoted_any and v.upper() == "NULL") else v)
        expect_elem = False


def _needs_quote(v: str, delim: str) -> bool:
    if v == "" or v.upper() == "NULL":
        return True
    for ch in v:
        if ch in '{}"\\' or ch == delim or ch in _SPACE:
            return True
    return False


def encode_array(tree: list, prefix: str = "", delim: str = ",") -> str:
    """The inverse of parse_array, spelled the way PostgreSQL's array_out spells it."""
    return prefix + _encode_level(tree, delim)


def _encode_level(tree: list, delim: str) -> str:
    parts = []
    for v in tree:
        if v is None:
            parts.append("NULL")
        elif isinstance(v, list):
            parts.append(_encode_level(v, delim))
        elif _needs_quote(v, delim):
            parts.append('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            parts.append(v)
    return "{" + delim.join(parts) + "}"


def map_array(tree: list, fn) -> list:
    """Apply fn to every non-NULL element (at every depth); NULL elements stay NULL."""
    return [None if v is None else (map_array(v, fn) if isinstance(v, list) else fn(v)) for v in tree]


def element_type(type_text: str) -> str:
    """'character varying(80)[]' -> 'character varying(80)'; '_text' -> 'text';
    'integer array' -> 'integer'."""
    t = type_text.strip()
    t = re.sub(r"(\s*\[\s*\d*\s*\])+\s*\Z", "", t)
    t = re.sub(r"\s+array(\s*\[\s*\d*\s*\])?\s*\Z", "", t, flags=re.I)
    if t.startswith("_") and t == type_text.strip():
        t = t[1:]
    return t


def delimiter_for(element_type_text: str) -> str:
    """box is the only built-in type whose array delimiter is ';'."""
    return ";" if element_type_text.strip().lower().split(".")[-1] == "box" else ","


class ElementWise:
    """A column transformer for an array column: the element transformer `inner` (built for
    the element type) applied to every element. NULL arrays and NULL elements stay NULL, the
    dimension decoration is kept, and a value that is not an array literal is an error."""

    unique = False

    def __init__(self, inner, delim: str = ",", where: str | None = None):
        self.inner = inner
        self.where = where
        self.delim = delim
        self.name = inner.name
        self.column = getattr(inner, "column", None)
        self.unique = getattr(inner, "unique", False)

    def __call__(self, value):
        if value is None:
            return None
        try:
            prefix, tree = parse_array(value, self.delim)
        except ValueError as e:
            from dumpmask.errors import MaskingError

            raise MaskingError(f"{self.where or getattr(self.column, 'name', '?')}: {self.name}: a value of this array "
                               f"column is not an array literal ({e})") from None
        return encode_array(map_array(tree, self.inner), prefix, self.delim)
