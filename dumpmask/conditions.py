"""Row conditions: a predicate over a row's original values, written as JSON in a rules file.

    {"status": {"in": ["active", "trial"]}}        a column and operators (several: and)
    {"active": 0}                                  a bare value: equality (null: IS NULL)
    {"amount": {">=": 100}, "country": "DE"}       several columns in one object: and
    {"or": [{...}, {...}]}, {"and": [...]}, {"not": {...}}

Operators: `=`, `!=`, `<`, `<=`, `>`, `>=`, `in` (a list), `not in`, `is null` (true: IS NULL,
false: IS NOT NULL), `like` / `not like` (SQL LIKE: `%` any run, `_` one character, `\\`
escapes), `regex` (a Python regular expression, searched). Values compare with the column's SQL
type: numbers as numbers (integer, numeric, float columns; `in` and `=` too), dates and
timestamps as dates and times (ISO 8601 text on both sides; a timestamp with a time zone
compares in UTC), booleans as booleans (`t`/`f`, `1`/`0`, `true`/`false`), everything else as
text. A comparison with NULL is false (SQL), except `is null`; `not` negates its predicate's
result, so `{"not": {"x": 1}}` holds for a NULL x. A value in the dump that does not read as
its column's type (a date column holding `infinity`) makes the comparison false; `=`/`!=`
with a text literal then compare the text.

validate(spec) checks the structure when the rules are loaded (RulesError, exit 2);
compile_condition(spec, table, dialect, where, path) resolves the column names against the
table (an unknown column: RulesError) and checks every literal against its column's type.
A Condition pickles (its compiled closure is rebuilt on the other side).
"""
from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal, InvalidOperation

from dumpmask.errors import RulesError

COMPARE = ("=", "!=", "<", "<=", ">", ">=")
OPERATORS = COMPARE + ("in", "not in", "is null", "like", "not like", "regex")
_NUMERIC = {"int", "float", "numeric", "year"}


def _scalar(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def validate(spec, where: str, path: str | None) -> None:
    """The predicate's structure (operators, operand shapes, regular expressions)."""
    if not isinstance(spec, dict) or not spec:
        raise RulesError("a condition is a non-empty object: {\"column\": value or {operator: value}}", path, where)
    for k, v in spec.items():
        w = f"{where}.{k}"
        if k in ("or", "and"):
            if not isinstance(v, list) or not v:
                raise RulesError(f"{k!r} takes a non-empty list of conditions", path, w)
            for i, sub in enumerate(v):
                validate(sub, f"{w}[{i}]", path)
        elif k == "not":
            validate(v, w, path)
        elif isinstance(v, dict):
            if not v:
                raise RulesError("an empty operator object", path, w)
            for op, operand in v.items():
                _validate_operator(op, operand, f"{w}.{op}", path)
        elif not _scalar(v):
            raise RulesError("a column takes a value (equality) or an object of operators", path, w)


def _validate_operator(op: str, operand, where: str, path) -> None:
    if op not in OPERATORS:
        import difflib

        near = difflib.get_close_matches(op, OPERATORS, n=1)
        raise RulesError(f"unknown operator {op!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                         + f"; one of {', '.join(OPERATORS)}", path, where)
    if op in ("in", "not in"):
        if not isinstance(operand, list) or not all(_scalar(x) and x is not None for x in operand):
            raise RulesError(f"{op!r} takes a list of values", path, where)
    elif op == "is null":
        if not isinstance(operand, bool):
            raise RulesError("'is null' takes true or false", path, where)
    elif op in ("like", "not like", "regex"):
        if not isinstance(operand, str):
            raise RulesError(f"{op!r} takes a string", path, where)
        if op == "regex":
            try:
                re.compile(operand)
            except re.error as e:
                raise RulesError(f"invalid regular expression: {e}", path, where) from None
    elif operand is None or not _scalar(operand):
        raise RulesError(f"{op!r} takes a value (use 'is null' for NULL)", path, where)


# --------------------------------------------------------------------------- typed values

def _num(v):
    if isinstance(v, bool):
        return Decimal(int(v))
    try:
        return Decimal(str(v).strip())
    except (InvalidOperation, ValueError):
        return None


_TZ_SHORT = re.compile(r"([+-]\d\d)$")


def _when(v):
    """A date or timestamp as written in a dump (or a rules file) -> a comparable value."""
    s = str(v).strip()
    if not s:
        return None
    s = _TZ_SHORT.sub(r"\1:00", s)       # pg writes +02 for +02:00
    try:
        if len(s) == 10:
            d = _dt.date.fromisoformat(s)
            return _dt.datetime(d.year, d.month, d.day)
        t = _dt.datetime.fromisoformat(s.replace(" ", "T", 1))
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return t


_TRUE = {"t", "true", "1", "y", "yes", "on"}
_FALSE = {"f", "false", "0", "n", "no", "off"}


def _bool(v):
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    return True if s in _TRUE else False if s in _FALSE else None


def _reader(kind: str):
    """The column's kind -> (read a value as that type or None, type name for messages)."""
    if kind in _NUMERIC:
        return _num, "a number"
    if kind in ("date", "timestamp"):
        return _when, "a date or timestamp (ISO 8601)"
    if kind == "bool":
        return _bool, "a boolean"
    return (lambda v: v if isinstance(v, str) else str(v)), "text"


def _like(pattern: str):
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.S)


# --------------------------------------------------------------------------- compiling

class Condition:
    """A compiled predicate: `columns` (names it reads, as the table has them) and
    `cond(values)` with values a mapping name -> decoded text (None: NULL) -> bool."""

    def __init__(self, spec, kinds: dict, names: dict, text: str):
        self.spec, self.kinds, self.names, self.text = spec, kinds, names, text
        self.columns = tuple(dict.fromkeys(names.values()))
        self._fn = None

    def __call__(self, values) -> bool:
        if self._fn is None:
            self._fn = self._compile(self.spec)
        return self._fn(values)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_fn"} | {"_fn": None}

    def _compile(self, spec):
        parts = []
        for k, v in spec.items():
            if k == "or":
                subs = [self._compile(s) for s in v]
                parts.append(lambda vals, subs=subs: any(f(vals) for f in subs))
            elif k == "and":
                subs = [self._compile(s) for s in v]
                parts.append(lambda vals, subs=subs: all(f(vals) for f in subs))
            elif k == "not":
                sub = self._compile(v)
                parts.append(lambda vals, sub=sub: not sub(vals))
            else:
                col = self.names[k]
                ops = v if isinstance(v, dict) else ({"is null": True} if v is None else {"=": v})
                for op, operand in ops.items():
                    parts.append(_test(col, self.kinds.get(col, "text"), op, operand))
        if len(parts) == 1:
            return parts[0]
        return lambda vals: all(f(vals) for f in parts)


def _test(col: str, kind: str, op: str, operand):
    read, _ = _reader(kind)
    if op == "is null":
        return (lambda vals: vals.get(col) is None) if operand else (lambda vals: vals.get(col) is not None)
    if op in ("like", "not like", "regex"):
        rx = _like(operand) if op != "regex" else re.compile(operand)
        match = rx.match if op != "regex" else rx.search
        want = op != "not like"
        return lambda vals: (v := vals.get(col)) is not None and bool(match(v)) is want
    if op in ("in", "not in"):
        typed = {read(x) for x in operand} - {None}
        raw = {x if isinstance(x, str) else str(x) for x in operand}
        want = op == "in"

        def member(vals):
            v = vals.get(col)
            if v is None:
                return False
            t = read(v)
            return ((t in typed) if t is not None else (v in raw)) is want
        return member
    lit = read(operand)
    text = operand if isinstance(operand, str) else str(operand)
    if op in ("=", "!="):
        want = op == "="

        def equal(vals):
            v = vals.get(col)
            if v is None:
                return False
            t = read(v) if lit is not None else None
            return ((t == lit) if t is not None else (v == text)) is want
        return equal
    import operator

    cmp = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

    def ordered(vals):
        v = vals.get(col)
        if v is None:
            return False
        t = read(v)
        return t is not None and cmp(t, lit)
    return ordered


def compile_condition(spec, table, dialect: str, where: str, path: str | None, columns=None) -> Condition:
    """`spec` (validated) for `table` (a schema.TableSchema, or None when its CREATE TABLE was
    not read: every column then compares as text, or as a number against a number). `columns`:
    the data column names when no schema is known. Unknown columns and literals that are not of
    their column's type are RulesErrors naming the JSON path."""
    from dumpmask.idents import fold

    have = [c.name for c in table.columns] if table is not None and table.columns else list(columns or [])
    kinds: dict = {}
    names: dict = {}

    def resolve(spec, w):
        for k, v in spec.items():
            if k in ("or", "and"):
                for i, sub in enumerate(v):
                    resolve(sub, f"{w}.{k}[{i}]")
                continue
            if k == "not":
                resolve(v, f"{w}.not")
                continue
            name, quoted = _column_name(k)
            if quoted or dialect != "postgres":
                hit = [c for c in have if (c == name if quoted else c.lower() == name.lower())]
            else:
                hit = [c for c in have if c == fold(name, dialect)]
            if not hit:
                raise RulesError(f"condition names column {k!r}, which the table does not have"
                                 + (f" (it has {', '.join(have[:12])}{', ...' if len(have) > 12 else ''})" if have else ""),
                                 path, f"{w}.{k}")
            col = hit[0]
            names[k] = col
            column = table.column(col) if table is not None and table.columns else None
            kind = column.kind if column is not None else None
            if kind is None:
                numeric_literal = all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                      for x in _literals(v)) and _literals(v)
                kind = "numeric" if numeric_literal else "text"
            kinds[col] = kind
            read, what = _reader(kind)
            for lit, lw in _literal_paths(v, f"{w}.{k}"):
                if read(lit) is None:
                    raise RulesError(f"{lit!r} is not {what} (column {col!r} is {column.type if column else kind})",
                                     path, lw)
    resolve(spec, where)
    import orjson

    return Condition(spec, kinds, names, orjson.dumps(spec).decode())


def _column_name(k: str) -> tuple[str, bool]:
    """A column as a condition names it: "Quoted" (or `quoted`) is exact, bare folds like the
    server (PostgreSQL: lower case; MySQL: compared case-blind), as in column rules."""
    k = k.strip()
    for q in ('"', "`"):
        if len(k) >= 2 and k[0] == q and k[-1] == q:
            return k[1:-1].replace(q + q, q), True
    return k, False


def _literals(v) -> list:
    return [x for x, _ in _literal_paths(v, "")]


def _literal_paths(v, w) -> list:
    """The literal operands of a column's predicate that must read as the column's type."""
    if not isinstance(v, dict):
        return [] if v is None else [(v, w)]
    out = []
    for op, operand in v.items():
        if op in COMPARE:
            out.append((operand, f"{w}.{op}"))
    return out
