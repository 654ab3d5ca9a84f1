"""`json`: mutations applied to values inside a JSON document, by path (issue #15).

The document is not re-serialized: it is scanned and only the tokens a path names are
rewritten, every other byte kept, so PostgreSQL's jsonb style (`{"a": 1, "b": [1, 2]}`),
MySQL's, a compact or a pretty-printed document keep their key order, spacing and escapes.
With the C extension one C pass (_speedups.c, JSON section: json_spans) checks the document and
finds the spans the paths name; the pure twin is the walker below (_walk, with the C scanners of
the standard json module for strings and for values no path enters), which also reads every
document C leaves to it (not JSON: its error; nested deeper than C goes; escaped keys where
they matter). Both give the same result for every document (tests/test_json_fast.py).

Paths, a small JSONPath subset: `$` (the document), then any of `.key` (letters, digits, `_`,
`-`, `$`), `['key']` / `["key"]` (any key; `\\'`, `\\"`, `\\\\` escapes), `[n]` (an array
index, n >= 0), `[*]` or `.*` (every element of an array, every member of an object).
"""
from __future__ import annotations

import json
import re
from array import array
from functools import partial
from json.decoder import JSONDecodeError, scanstring
from json.encoder import encode_basestring, encode_basestring_ascii

from dumpmask import speedups
from dumpmask.errors import MaskingError, RulesError
from dumpmask.schema import Column, classify

from .base import Param, Transformer, register, weakest
from dumpmask.lazy import lazy_pattern

class _Sentinel:
    """A trie marker that stays itself through pickle (a -j worker's copy is the same object)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __reduce__(self):
        return self.name        # pickled by reference to this module's global of that name

    def __repr__(self):
        return self.name


WILD = _Sentinel("WILD")            # the `[*]` segment
HAS_DELETE = _Sentinel("HAS_DELETE")  # a trie node's marker: a path deletes some of its members
DELETE = "delete"
_WS = lazy_pattern(globals(), "_WS", r"[ \t\n\r]*")
_BLANKS = " \t\n\r"
_NUMBER = lazy_pattern(globals(), "_NUMBER", r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?\Z")
_SEGMENT = lazy_pattern(globals(), "_SEGMENT", r"""\.([A-Za-z0-9_$-]+)|\.\*|\[\*\]|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]""")
#: mutations that cannot be a path's: they need a key domain, a row, or a whole document
_NOT_INNER = ("key", "json", "template")


def parse_path(text: str, where: str = "options.paths") -> tuple:
    """'$.a[0]['b c'][*]' -> ('a', 0, 'b c', WILD); RulesError saying what is supported."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise RulesError(f"path {text!r} must start with $", where=where)
    out, pos = [], 1
    while pos < len(text):
        m = _SEGMENT.match(text, pos)
        if m is None:
            raise RulesError(f"path {text!r}: cannot read it at character {pos + 1} (supported: $, .key, ['key'], "
                             "[n], [*], .*)", where=where)
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            out.append(int(m.group(2)))
        elif m.group(3) is not None or m.group(4) is not None:
            out.append(re.sub(r"\\(.)", r"\1", m.group(3) if m.group(3) is not None else m.group(4)))
        else:
            out.append(WILD)
        pos = m.end()
    return tuple(out)


def _overlap(a: tuple, b: tuple) -> bool:
    """Can paths a and b name the same value, or one a value inside the other's?"""
    for x, y in zip(a, b, strict=False):
        if x is WILD or y is WILD:
            continue
        if x != y:
            return False
    return True


class _Leaf:
    """What a path does to the value it names: a mutation per JSON type, or null, or delete."""

    __slots__ = ("path", "spec", "action", "text", "number", "boolean")

    def __init__(self, path, spec, action, text=None, number=None, boolean=None):
        self.path, self.spec, self.action = path, spec, action
        self.text, self.number, self.boolean = text, number, boolean


@register
class JsonPaths(Transformer):
    """Mutations applied to values inside a JSON document by path: {"paths": {"$.email":
    "faker.email", "$.phones[*]": "faker.phone", "$.address.street": "faker.address",
    "$.ssn": "null", "$.notes": "delete"}} (a path's value may also be {"mutation": ...,
    "options": {...}}). Paths: `$`, `.key`, `['key']`, `[n]`, `[*]`, `.*`. Absent paths are
    skipped; only the named values are rewritten, every other byte kept (key order, spacing,
    escapes). Types kept: a string gets the mutation's text as a string, a number only a
    number (noise, generalize.*, hash...: else the row stops), `null` writes JSON null,
    `delete` removes the member or element. JSON null stays null. A row that is not valid JSON
    stops the run (the row named) unless `onInvalid` is "null" or "keep" (only a document
    that is not JSON: a path's mutation failing, a document nested too deeply, or a result longer
    than a varchar column always stop the row). Integers of any length are kept as written. json,
    jsonb and text columns."""

    name = "json"
    protection = "pseudonymised"
    kinds = ("json", "text")
    elementwise = False
    params = {"paths": Param(dict, "path -> mutation (a name, or {\"mutation\", \"options\"}), or null / delete",
                             required=True),
              "onInvalid": Param(str, "a value that is not valid JSON: error (the run stops), null or keep", "error",
                                 choices=("error", "null", "keep"))}

    @classmethod
    def protection_of(cls, options=None, argument=None) -> str:
        """The weakest class of the paths' mutations (members no path names stay as they are)."""
        from .names import inner_protection

        out = []
        for spec in (options or {}).get("paths", {}).values():
            name, opts = (spec.get("mutation"), spec.get("options")) if isinstance(spec, dict) else (spec, None)
            out.append(inner_protection(name, opts))
        return weakest(out)

    def setup(self) -> None:
        paths = self.options["paths"]
        if not paths:
            raise RulesError("paths must name at least one path", where="options.paths")
        leaves = []
        for text, spec in paths.items():
            where = f"options.paths[{text!r}]"
            leaves.append(self._leaf(parse_path(text, where), text, spec, where))
        for i, a in enumerate(leaves):
            for b in leaves[i + 1:]:
                if _overlap(a.path, b.path):
                    raise RulesError(f"paths {a.spec!r} and {b.spec!r} can name the same value (or one a value inside "
                                     "the other)", where="options.paths")
        self.root = _trie(leaves)
        _merge_wild(self.root)
        self._ctable = _c_table(self.root)
        self.delete_root = bool(leaves and leaves[0].path == () and leaves[0].action == DELETE)
        if self.delete_root:
            raise RulesError("$ cannot be deleted (use null)", where="options.paths")

    def _leaf(self, path: tuple, text: str, spec, where: str) -> _Leaf:
        from .names import parse_mutation

        if isinstance(spec, dict):
            unknown = set(spec) - {"mutation", "options"}
            if unknown or not isinstance(spec.get("mutation"), str):
                raise RulesError('a path takes a mutation name or {"mutation": ..., "options": {...}}', where=where)
            name, opts = spec["mutation"], spec.get("options") or {}
        elif isinstance(spec, str):
            name, opts = spec, {}
        else:
            raise RulesError('a path takes a mutation name or {"mutation": ..., "options": {...}}', where=where)
        if name == DELETE:
            if opts:
                raise RulesError("delete takes no options", where=where)
            return _Leaf(path, text, DELETE)
        if name.partition(":")[0] in _NOT_INNER:
            raise RulesError(f"{name} cannot be a path's mutation", where=where)
        cls, arg = parse_mutation(name, where)
        opts = cls.validate_options(opts, where=f"{where}.options")
        if cls.name == "null":
            return _Leaf(path, text, "null")
        built = {}
        errors = []
        for kind, type_text in (("text", "text"), ("number", "numeric"), ("boolean", "boolean")):
            c = classify(type_text)
            c.name, c.nullable = f"{self.column.name}{text[1:]}", True
            err = cls.type_error(c, opts, arg)
            if err:
                errors.append(err)
                continue
            t = cls(self.key, opts, c, arg)
            built[kind] = t
        if not built:
            raise RulesError(f"{name} cannot write a JSON value: {errors[0]}", where=where)
        return _Leaf(path, text, "mutate", built.get("text"), built.get("number"), built.get("boolean"))

    def bind_dialect(self, dialect) -> None:
        self.dialect = dialect
        for leaf in _leaves(self.root):
            for t in (leaf.text, leaf.number, leaf.boolean):
                if t is not None:
                    t.bind_dialect(dialect)

    @classmethod
    def type_error(cls, column: Column, options=None, argument=None, dialect=None) -> str | None:
        if column.kind not in ("json", "text", "other"):
            return f"json cannot read column {column.name!r} of type {column.type or column.kind} (json, jsonb or text)"
        return None

    def __call__(self, value):
        if value is None:
            return None
        if _C_SPANS is not None and self._ctable is not None:
            r = self._c_call(value)
            if r is not _WALK:
                return r
        return self._walk_call(value)

    def _c_call(self, value: str):
        """__call__ with the spans found by C (json_spans): the same result as the walker's, or
        _WALK when the walker must read the document (not JSON, or not for C: see json_spans)."""
        try:
            b = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:      # a surrogate no byte decodes to: not from a dump
            return _WALK
        words, keys, leaves = self._ctable
        hits = _C_SPANS(b, words, keys)
        if hits is None:
            return _WALK
        if not hits:
            return value
        edits = []
        style = None
        for n, s, e, c in hits:
            if n < 0:                   # a deletion's span
                edits.append((s, e, b""))
                continue
            leaf = leaves[n]
            if leaf.action == "null":
                edits.append((s, e, b"null"))
                continue
            if c == 34 or c == 92:      # a string (92: holding escapes)
                t = leaf.text
                if t is None:
                    _not_written(self, leaf, "a string")
                v = (b[s + 1:e - 1].decode("utf-8", "surrogateescape") if c == 34
                     else scanstring(b[s:e].decode("utf-8", "surrogateescape"), 1)[0])
                new = _mutate(t, v, leaf, self)
                if new == v:
                    continue
                if new is None:
                    edits.append((s, e, b"null"))
                    continue
                if style is None:
                    style = encode_basestring_ascii if b.isascii() and b"\\u" in b else encode_basestring
                try:
                    edits.append((s, e, style(new).encode("utf-8")))
                except UnicodeEncodeError:   # a lone surrogate written: the walker's str does it
                    return _WALK
            elif c == 123 or c == 91:
                _container(self, leaf, c == 123)
            else:
                token = b[s:e].decode("ascii")
                new = _scalar(self, leaf, token, c == 116 or c == 102)
                if new is not None:
                    edits.append((s, e, new.encode("ascii")))
        if not edits:
            return value
        return self._fits(_apply_edits(b, edits).decode("utf-8", "surrogateescape"))

    def field_fast(self, mode: int, encode):
        """A raw field (mode 0: COPY text, 1: a mysqldump '...' literal) -> the new raw field,
        in one C call (json_field: decoded, masked, encoded as `encode` does it); None (the
        general path) for what C leaves to the walker. None without the C extension, and for a
        column with a length (the result's length in characters is the walker's check)."""
        if _C_FIELD is None or self._ctable is None or mode not in (0, 1) \
                or (self.column.length is not None and self.column.kind in ("text", "other")):
            return None
        words, keys, leaves = self._ctable
        fns = []
        for leaf in leaves:
            t = leaf.text
            if leaf.action == "null":
                fns.append(None)
            elif t is None:
                fns.append(False)
            else:
                # the mutation's own field path (a JSON string without escapes is a plain field
                # of its value; C writes the new field back as a JSON string), else its call
                inner = getattr(t, "field_fast", None)
                inner = inner(mode, encode) if inner is not None else None
                fns.append((t, inner) if inner is not None else t)
        return partial(_C_FIELD, mode, words, keys, tuple(fns), encode_basestring, encode_basestring_ascii,
                       scanstring)

    def _fits(self, result: str) -> str:
        n = self.column.length
        if n is not None and self.column.kind in ("text", "other") and len(result) > n:
            # cut, the document would not be JSON any more: the row stops, as regex and template do
            raise MaskingError(f"{self.column.name}: json: the result is longer than the column's {n} characters")
        return result

    def _walk_call(self, value: str):
        """__call__ by the walker (the pure twin of _c_call)."""
        try:
            edits = []
            end = _walk(value, _WS.match(value, 0).end(), self.root, edits, self)
            if _WS.match(value, end).end() != len(value):
                raise ValueError(end)
        except RecursionError:
            # valid or not, a document nested deeper than the scanner goes is not masked: never
            # "kept" as invalid (onInvalid keep would write it unmasked)
            raise MaskingError(f"{self.column.name}: json: the document is nested too deeply to be read") from None
        except (JSONDecodeError, ValueError, StopIteration, IndexError) as e:
            choice = self.options["onInvalid"]
            if choice == "null":
                return None
            if choice == "keep":
                return value
            at = getattr(e, "pos", None)
            at = f" (at character {at + 1})" if isinstance(at, int) else ""
            raise MaskingError(f"{self.column.name}: json: the value is not valid JSON{at}; "
                               '"onInvalid": "null" or "keep" writes such values as NULL or as they are') from None
        if not edits:
            return value
        return self._fits(_apply_edits(value, edits))


def _apply_edits(doc, edits):
    """doc (str or bytes) with each (start, end, new) span replaced by new, in start order."""
    if len(edits) > 1:
        edits.sort(key=lambda x: x[0])
    out, pos = [], 0
    for s, e, new in edits:
        out.append(doc[pos:s])
        out.append(new)
        pos = e
    out.append(doc[pos:])
    return doc[:0].join(out)


def _trie(leaves) -> dict:
    """{segment: child trie or _Leaf}; the root is {(): leaf} for a path of just `$`."""
    root: dict = {}
    for leaf in leaves:
        if leaf.path == ():
            return {(): leaf}
        node = root
        for seg in leaf.path[:-1]:
            node = node.setdefault(seg, {})
        node[leaf.path[-1]] = leaf
        if leaf.action == DELETE:
            node[HAS_DELETE] = True    # this container keeps its members' spans
    return root


def _merge_wild(node: dict) -> None:
    """A member a key and `[*]` both name gets both tries (their leaves cannot overlap)."""
    wild = node.get(WILD)
    for v in list(node.values()):
        if isinstance(v, dict):
            _merge_wild(v)
    if isinstance(wild, dict):
        for k, v in list(node.items()):
            if k is not WILD and isinstance(v, dict):
                node[k] = _merged(v, wild)


def _merged(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merged(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else out.get(k, v)
    return out


def _leaves(node):
    for v in node.values():
        if isinstance(v, _Leaf):
            yield v
        elif isinstance(v, dict):
            yield from _leaves(v)


def _no_constant(name):
    raise ValueError(name)      # NaN, Infinity: not JSON


# integers are kept as their text (parse_int=str): int() refuses more than 4,300 digits
# (sys.set_int_max_str_digits) with a ValueError, which would read a valid document as invalid
_scan = json.JSONDecoder(parse_int=str, parse_constant=_no_constant).scan_once


def _mutate(t, v: str, leaf, owner):
    """t(v) for a leaf; an exception of the mutation is an error of the row, never taken for
    invalid JSON (onInvalid keep would then write the document unmasked)."""
    try:
        return t(v)
    except (ValueError, ArithmeticError, IndexError, StopIteration, RecursionError, TypeError) as e:
        raise MaskingError(f"{owner.column.name}: json: {leaf.spec}: {_name(leaf)} failed "
                           f"({type(e).__name__})") from None


def _walk(s: str, i: int, node: dict, edits: list, owner) -> int:
    """The end of the value at s[i] (after it, no blanks skipped), with the edits the trie
    `node` makes inside it appended to `edits` as (start, end, new text)."""
    if () in node:
        return _apply(s, i, node[()], edits, owner)
    c = s[i]
    if c == "{":
        return _members(s, i, node, edits, owner, True)
    if c == "[":
        return _members(s, i, node, edits, owner, False)
    return _scan(s, i)[1]   # a scalar where the path wants a container: absent


def _members(s: str, i: int, node: dict, edits: list, owner, is_object: bool) -> int:
    """An object or array at s[i]: each member/element the trie names walked or applied,
    the others skipped by the C scanner; deletions remove a member with one separator.
    (Written for speed, it runs per member: names bound locally, blanks skipped only where
    there are some, member spans kept only where a path deletes.)"""
    close = "}" if is_object else "]"
    get = node.get
    wild = get(WILD)
    spans = [] if HAS_DELETE in node else None   # per member: (start, end, deleted)
    scan, string, ws, blanks = _scan, scanstring, _WS.match, _BLANKS
    j = i + 1
    if s[j] in blanks:
        j = ws(s, j).end()
    if s[j] == close:
        return j + 1
    k = 0
    while True:
        start = j
        if is_object:
            if s[j] != '"':
                raise ValueError(j)
            key, j = string(s, j + 1)
            if s[j] != ":":
                j = ws(s, j).end()
                if s[j] != ":":
                    raise ValueError(j)
            j += 1
            if s[j] == " ":
                j += 1
            if s[j] in blanks:
                j = ws(s, j).end()
            child = get(key, wild)
        else:
            child = get(k, wild)
            k += 1
        if child is None:
            j = scan(s, j)[1]
            if spans is not None:
                spans.append((start, j, False))
        elif type(child) is _Leaf:
            if child.action == DELETE:
                j = scan(s, j)[1]
                spans.append((start, j, True))
            else:
                j = _apply(s, j, child, edits, owner)
                if spans is not None:
                    spans.append((start, j, False))
        else:
            j = _walk(s, j, child, edits, owner)
            if spans is not None:
                spans.append((start, j, False))
        c = s[j]
        if c in blanks:
            j = ws(s, j).end()
            c = s[j]
        if c == ",":
            j += 1
            if s[j] == " ":
                j += 1
            if s[j] in blanks:
                j = ws(s, j).end()
            continue
        if c != close:
            raise ValueError(j)
        if spans is not None and any(d for _s, _e, d in spans):
            _deletions(spans, i, j, edits)
        return j + 1


def _deletions(spans, open_at: int, close_at: int, edits: list) -> None:
    """Edits removing the deleted members: with the separator before one (when a kept member
    precedes it), else with the one after it; nothing kept: the container's inside."""
    if all(d for _s, _e, d in spans):
        edits.append((open_at + 1, close_at, ""))
        return
    kept_before = False
    for n, (s, e, d) in enumerate(spans):
        if not d:
            kept_before = True
            continue
        if kept_before:
            edits.append((spans[n - 1][1], e, ""))
        else:
            edits.append((s, spans[n + 1][0], ""))


def _apply(s: str, i: int, leaf: _Leaf, edits: list, owner) -> int:
    """The leaf's mutation on the value at s[i]; returns the value's end."""
    c = s[i]
    if c == '"':
        v, end = scanstring(s, i + 1)
        if leaf.action == "null":
            edits.append((i, end, "null"))
            return end
        t = leaf.text
        if t is None:
            _not_written(owner, leaf, "a string")
        new = _mutate(t, v, leaf, owner)
        if new == v:
            return end
        edits.append((i, end, "null" if new is None else _string(new, s)))
        return end
    if c == "n" and s.startswith("null", i):
        return i + 4      # JSON null stays null
    if c in "{[":
        end = _scan(s, i)[1]
        if leaf.action == "null":
            edits.append((i, end, "null"))
            return end
        _container(owner, leaf, c == "{")
    v, end = _scan(s, i)
    if leaf.action == "null":
        edits.append((i, end, "null"))
        return end
    new = _scalar(owner, leaf, s[i:end], v is True or v is False)
    if new is not None:
        edits.append((i, end, new))
    return end


def _not_written(owner, leaf: _Leaf, what: str):
    raise MaskingError(f"{owner.column.name}: json: {leaf.spec} holds {what}, which {_name(leaf)} does not write"
                       + ("" if what != "a number" else
                          " (a numeric mutation: noise, generalize.bucket, hash...; or null, delete)"))


def _container(owner, leaf: _Leaf, is_object: bool):
    raise MaskingError(f"{owner.column.name}: json: {leaf.spec} holds an {'object' if is_object else 'array'}: "
                       "name the values inside it ([*], .key), or use null or delete")


def _scalar(owner, leaf: _Leaf, token: str, boolean: bool) -> str | None:
    """The new text of a number or boolean token a mutating leaf names; None: unchanged."""
    if boolean:
        t = leaf.boolean
        if t is None:
            _not_written(owner, leaf, "a boolean")
        new = _mutate(t, token, leaf, owner)
        if new is None:
            return "null"
        if new.lower() in ("true", "t", "false", "f", "1", "0"):
            word = "true" if new.lower() in ("true", "t", "1") else "false"
            return word if word != token else None
        raise MaskingError(f"{owner.column.name}: json: {leaf.spec} holds a boolean and {_name(leaf)} wrote "
                           "something else")
    t = leaf.number
    if t is None:
        _not_written(owner, leaf, "a number")
    new = _mutate(t, token, leaf, owner)
    if new is None:
        return "null"
    if new != token:
        if not _NUMBER.match(new):
            raise MaskingError(f"{owner.column.name}: json: {leaf.spec} holds a number and {_name(leaf)} wrote "
                               "something that is not one")
        return new
    return None


def _name(leaf: _Leaf) -> str:
    t = leaf.text or leaf.number or leaf.boolean
    return t.name if t is not None else leaf.action


def _string(v: str, doc: str) -> str:
    """A JSON string for `v`, escaped the way the document does it: \\uXXXX for non-ASCII in an
    ASCII document that uses such escapes, UTF-8 otherwise (jsonb's and MySQL's style)."""
    return (encode_basestring_ascii if doc.isascii() and "\\u" in doc else encode_basestring)(v)


# ------------------------------------------------------------------------------ the C path

_C_SPANS = speedups.function("json_spans")
_C_FIELD = speedups.function("json_field")
_WALK = _Sentinel("_WALK")      # _c_call: the walker reads this document


def _c_table(root: dict):
    """The trie as json_spans reads it: (int32 words, key bytes, leaves by number), or None
    without the C extension (see the JSON section of _speedups.c for the layout)."""
    if _C_SPANS is None or array("i").itemsize != 4:
        return None
    leaves: list = []
    numbers: dict = {}

    def leaf_ref(leaf: _Leaf) -> int:
        n = numbers.get(id(leaf))
        if n is None:
            n = numbers[id(leaf)] = len(leaves)
            leaves.append(leaf)
        return -2 - (2 * n + (leaf.action == DELETE))

    if () in root:
        return array("i", [leaf_ref(root[()])]), b"", tuple(leaves)
    nodes: list = []           # (dict, string keys, indexes) in word order
    offsets: dict = {}
    size = 1
    todo = [root]
    while todo:
        node = todo.pop(0)
        if id(node) in offsets:
            continue
        offsets[id(node)] = size
        keys, idxs = [], []
        for k, v in node.items():
            if isinstance(v, dict):
                todo.append(v)
            if isinstance(k, str):
                try:
                    kb = k.encode("utf-8", "surrogateescape")
                except UnicodeEncodeError:
                    continue        # a surrogate no byte decodes to: only an escaped key names it
                if kb.decode("utf-8", "surrogateescape") == k:
                    keys.append((kb, v))
            elif type(k) is int and 0 <= k < 2 ** 31:
                idxs.append((k, v))
        nodes.append((node, keys, idxs))
        size += 4 + 3 * len(keys) + 2 * len(idxs)

    def ref(v) -> int:
        if v is None:
            return -1
        return leaf_ref(v) if isinstance(v, _Leaf) else offsets[id(v)]

    words = [offsets[id(root)]]
    blob = bytearray()
    for node, keys, idxs in nodes:
        flags = (1 if any(isinstance(v, _Leaf) and v.action == DELETE for v in node.values()) else 0) \
            | (2 if any(isinstance(k, str) for k in node) else 0)
        words += [len(keys), len(idxs), ref(node.get(WILD)), flags]
        for kb, v in keys:
            words += [len(blob), len(kb), ref(v)]
            blob += kb
        for k, v in idxs:
            words += [k, ref(v)]
    return array("i", words), bytes(blob), tuple(leaves)
