"""The text of a data subject as `--erase` / `--only` and the rules' `options.subjects` write
it: `TABLE:KEY[,KEY...]`, a composite key in parentheses (`order_line:(7,2)`), a value holding a
comma, a parenthesis or a double quote in double quotes ("" for a quote in it). A library: the
rules loader validates these strings, features/subjects.py acts on them.
"""
from __future__ import annotations

from dumpmask.errors import RulesError


def parse_subject(text: str, option: str) -> tuple[str, list[tuple]]:
    """'TABLE:KEY[,KEY...]' -> (TABLE, [key tuples]); RulesError (exit 2) when malformed. The
    message quotes the option's text: it is what the user typed."""
    table, sep, rest = _split_table(text)
    if not sep or not table or not rest:
        raise RulesError(f"{option} {text!r}: expected TABLE:KEY[,KEY...] (a composite key as TABLE:(a,b))")
    keys, pos, n = [], 0, len(rest)
    while pos < n:
        if rest[pos] == "(":
            parts, pos = _values(rest, pos + 1, ")", text, option)
            keys.append(tuple(parts))
        else:
            parts, pos = _values(rest, pos, None, text, option, single=True)
            keys.append(tuple(parts))
        if pos < n:
            if rest[pos] != ",":
                raise RulesError(f"{option} {text!r}: expected ',' between keys")
            pos += 1
            if pos == n:
                raise RulesError(f"{option} {text!r}: a key is missing after the last ','")
    return table, keys


def _split_table(text: str):
    """TABLE and the rest at the first ':' outside double quotes and backquotes."""
    quote = None
    for i, ch in enumerate(text):
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in '"`':
            quote = ch
        elif ch == ":":
            return text[:i], ":", text[i + 1:]
    return text, "", ""


def _values(s: str, pos: int, close, text, option, single=False):
    """The comma-separated values from s[pos:] up to `close` (a composite key) or, single,
    one value up to the next ',' or the end; a value may be double-quoted."""
    out = []
    n = len(s)
    while True:
        if pos < n and s[pos] == '"':
            buf, pos = [], pos + 1
            while True:
                if pos >= n:
                    raise RulesError(f"{option} {text!r}: an unterminated double quote")
                if s[pos] == '"':
                    if pos + 1 < n and s[pos + 1] == '"':
                        buf.append('"')
                        pos += 2
                        continue
                    pos += 1
                    break
                buf.append(s[pos])
                pos += 1
            out.append("".join(buf))
        else:
            start = pos
            while pos < n and s[pos] not in ",()" and not (s[pos] == '"'):
                pos += 1
            if pos == start:
                raise RulesError(f"{option} {text!r}: an empty key value")
            out.append(s[start:pos])
        if single:
            if pos < n and s[pos] not in ",":
                raise RulesError(f"{option} {text!r}: a key value holding ',', '(' or '\"' must be double-quoted")
            return out, pos
        if pos < n and s[pos] == ",":
            pos += 1
            continue
        if pos < n and s[pos] == close:
            return out, pos + 1
        raise RulesError(f"{option} {text!r}: a composite key must end with ')'")
