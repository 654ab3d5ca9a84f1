"""The rules file: load, validate (before any output), and match against the dump's tables.

Format (compatible with Clonio's per-table configuration):
    {"options": {"identifierRemapping": {"enabled": true, "strategy": "randomInteger"},
                 "transfer": {"mode": "first", "rows": 50}},
     "tables": [{"tableName": "customer",
                 "columnMutations": [{"column": "email", "mutation": "faker.email"}, ...],
                 "identifierRemapping": false, "transfer": {...}}]}
A bare list of table objects is accepted too.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from dumpmask import idents
from dumpmask.errors import RulesError
from dumpmask.lazy import lazy_pattern

_QUOTED = lazy_pattern(globals(), "_QUOTED", r'"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|([^."`]+)')


@dataclass
class NamePattern:
    """A table or column name as the user wrote it: bare or schema-qualified, quoted or not."""

    schema: str | None
    name: str
    schema_quoted: bool = False
    name_quoted: bool = False
    text: str = ""

    @classmethod
    def parse(cls, text: str, qualified: bool = True) -> "NamePattern":
        """ValueError when a quote is not closed or no name is left (a rules error)."""
        parts = []
        body = text.strip()
        pos = 0
        for m in _QUOTED.finditer(body):
            if body[pos:m.start()].strip(". \t\r\n"):
                raise ValueError("a quote (\" or `) that is not closed: write a quote inside a quoted name twice")
            pos = m.end()
            if m.group(3) is not None and not m.group(3).strip():
                continue          # the blanks around a dot
            if m.group(1) is not None:
                parts.append((m.group(1).replace('""', '"'), True))
            elif m.group(2) is not None:
                parts.append((m.group(2).replace("``", "`"), True))
            else:
                parts.append((m.group(3).strip(), False))
        if body[pos:].strip(". \t\r\n"):
            raise ValueError("a quote (\" or `) that is not closed: write a quote inside a quoted name twice")
        if not parts:
            raise ValueError("no name in it")
        if not qualified or len(parts) == 1:
            n = parts[-1]
            return cls(None, n[0], False, n[1], text)
        return cls(parts[-2][0], parts[-1][0], parts[-2][1], parts[-1][1], text)

    def matches(self, schema: str | None, name: str, dialect: str) -> bool:
        return _eq(self.name, self.name_quoted, name, dialect) and (
            self.schema is None or schema is None or _eq(self.schema, self.schema_quoted, schema, dialect))


def _name(text: str, qualified: bool, path, where) -> NamePattern:
    try:
        return NamePattern.parse(text, qualified)
    except ValueError as e:
        raise RulesError(f"cannot read the name {text!r}: {e}", path, where) from None


def _eq(pattern: str, quoted: bool, actual: str, dialect: str) -> bool:
    """Does a table or schema name of the rules file name the dump's `actual` one? MySQL
    compares case-insensitively; PostgreSQL folds an unquoted name (ASCII letters), a quoted
    one is exact."""
    if dialect == "mysql":
        return idents.name_key(pattern, dialect) == idents.name_key(actual, dialect)
    if quoted:
        return pattern == actual
    return idents.fold(pattern, dialect) == actual


@dataclass
class ColumnRule:
    column: NamePattern
    mutation: str           # the spec as written: "faker.email", "static:true", "key"
    cls: type
    argument: str | None
    options: dict
    where: str              # JSON path in the rules file
    source: str = "rules"   # "rules" or "template:hipaa"
    matched: bool = False
    condition: dict | None = None   # the row condition it applies under (its own `where` and
                                    # its table rule's, combined), or None: every row


@dataclass
class TableRule:
    table: NamePattern
    columns: list[ColumnRule]
    where: str
    remapping: bool | None = None     # table-level identifierRemapping override
    transfer: dict | None = None
    matched: bool = False
    where_spec: dict | None = None    # `where`: the row condition of the table rule (conditions.py)
    action: str = "mask"              # "mask" (its column rules apply where it holds) or "drop"


@dataclass
class RuleSet:
    tables: list[TableRule] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    path: str | None = None
    sha256: str | None = None

    def for_table(self, schema: str | None, name: str, dialect: str) -> list[TableRule]:
        return [t for t in self.tables if t.table.matches(schema, name, dialect)]

    @property
    def remapping(self) -> dict:
        return self.options.get("identifierRemapping") or {"enabled": False}

    @property
    def transfer(self) -> dict:
        return self.options.get("transfer") or {"mode": "full"}


_TOP_KEYS = {"tables", "options", "$schema", "version", "description"}
_TABLE_KEYS = {"tableName", "columnMutations", "identifierRemapping", "transfer", "description", "where", "action"}
_COLUMN_KEYS = {"column", "mutation", "options", "description", "where"}
_REMAP_KEYS = {"enabled", "strategy", "range", "inferKeys"}
_TRANSFER_KEYS = {"mode", "rows", "referentialIntegrity", "where"}
STRATEGIES = ("randomInteger", "uuid", "text", "auto")


def _obj(v, where, path, what="an object"):
    if not isinstance(v, dict):
        raise RulesError(f"expected {what}", path, where)
    return v


def _unknown_keys(d: dict, allowed: set, where: str, path: str | None):
    for k in d:
        if k not in allowed:
            import difflib

            near = difflib.get_close_matches(k, sorted(allowed), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise RulesError(f"unknown key {k!r}{hint}", path, f"{where}.{k}")


def validate_remapping(v, where: str, path: str | None) -> dict:
    if isinstance(v, bool):
        return {"enabled": v, "strategy": "auto"}
    _obj(v, where, path)
    _unknown_keys(v, _REMAP_KEYS, where, path)
    if "enabled" in v and not isinstance(v["enabled"], bool):
        raise RulesError("enabled must be true or false", path, f"{where}.enabled")
    out = {"enabled": bool(v.get("enabled", True)), "strategy": v.get("strategy", "auto")}
    if out["strategy"] not in STRATEGIES:
        raise RulesError(f"unknown strategy {out['strategy']!r} (one of {', '.join(STRATEGIES)})", path, f"{where}.strategy")
    if "range" in v:
        r = v["range"]
        if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in r) and r[0] < r[1]):
            raise RulesError("range must be [lo, hi] with integers lo < hi", path, f"{where}.range")
        if out["strategy"] in ("uuid", "text"):
            raise RulesError(f"range applies to integer keys only, not with strategy {out['strategy']!r}", path, f"{where}.range")
        out["range"] = r
    if "inferKeys" in v:
        if not isinstance(v["inferKeys"], bool):
            raise RulesError("inferKeys must be true or false", path, f"{where}.inferKeys")
        out["inferKeys"] = v["inferKeys"]
    return out


def validate_table_remapping(v, where: str, path: str | None) -> bool:
    """A table's own identifierRemapping: true/false or {"enabled": bool}. Strategy, range and
    inferKeys apply to the whole run (a key domain spans tables), so they are refused here
    rather than accepted and ignored."""
    if isinstance(v, bool):
        return v
    _obj(v, where, path)
    for k in v:
        if k in _REMAP_KEYS and k != "enabled":
            raise RulesError(f"{k!r} applies to the whole run (key domains span tables): set it in "
                             "$.options.identifierRemapping; a table takes only \"enabled\"", path, f"{where}.{k}")
    _unknown_keys(v, {"enabled"}, where, path)
    if "enabled" in v and not isinstance(v["enabled"], bool):
        raise RulesError("enabled must be true or false", path, f"{where}.enabled")
    return bool(v.get("enabled", True))


def validate_subjects(v, where: str, path: str | None) -> dict:
    """options.subjects: {"erase": ["TABLE:KEY[,KEY...]", ...], "only": [...]} (features/subjects.py)."""
    from dumpmask.subject_keys import parse_subject

    _obj(v, where, path)
    _unknown_keys(v, {"erase", "only"}, where, path)
    for mode, items in v.items():
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise RulesError("expected a list of \"TABLE:KEY[,KEY...]\" strings", path, f"{where}.{mode}")
        for i, text in enumerate(items):
            try:
                parse_subject(text, f"{mode}")
            except RulesError as e:
                raise RulesError(e.message, path, f"{where}.{mode}[{i}]") from None
    return dict(v)


def validate_transfer(v, where: str, path: str | None) -> dict:
    _obj(v, where, path)
    _unknown_keys(v, _TRANSFER_KEYS, where, path)
    if "where" in v:   # a row condition selects the rows (features/subset.py), a table's own transfer only
        if v.get("mode", "where") != "where" or "rows" in v:
            raise RulesError('a transfer with "where" selects its rows by the condition: give no mode (or "where") '
                             "and no rows", path, where)
        if where == "$.options.transfer":
            raise RulesError('"where" selects rows of one table: put the transfer on a table rule', path, f"{where}.where")
        validate_condition(v["where"], f"{where}.where", path)
        out = {"mode": "where", "rows": None, "where": v["where"]}
        if "referentialIntegrity" in v:
            raise RulesError("referentialIntegrity is a run's setting: give it in options.transfer", path,
                             f"{where}.referentialIntegrity")
        return out
    mode = v.get("mode", "full")
    if mode not in ("first", "last", "full"):
        raise RulesError("mode must be first, last or full", path, f"{where}.mode")
    rows = v.get("rows")
    if mode != "full" and not (isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0):
        raise RulesError("rows must be a non-negative integer", path, f"{where}.rows")
    out = {"mode": mode, "rows": rows if mode != "full" else None}
    if "referentialIntegrity" in v:
        if not isinstance(v["referentialIntegrity"], bool):
            raise RulesError("referentialIntegrity must be true or false", path, f"{where}.referentialIntegrity")
        out["referentialIntegrity"] = v["referentialIntegrity"]
    return out


def _table_condition(t: dict, tr: "TableRule", tw: str, path: str | None) -> None:
    """A table rule's `where` and `action`: with "mask" (the default) each of its column rules
    applies where the condition holds (and its own `where`, if any); "drop" removes the rows."""
    action = t.get("action", "mask")
    if action not in ("mask", "drop"):
        raise RulesError('action must be "mask" or "drop"', path, f"{tw}.action")
    if action == "drop" and "where" not in t:
        raise RulesError('"action": "drop" needs a "where" (the rows to remove)', path, f"{tw}.action")
    tr.action = action
    if "where" not in t:
        return
    validate_condition(t["where"], f"{tw}.where", path)
    tr.where_spec = t["where"]
    if action == "mask":
        for cr in tr.columns:
            cr.condition = t["where"] if cr.condition is None else {"and": [t["where"], cr.condition]}


def validate_condition(spec, where: str, path: str | None) -> None:
    from dumpmask.conditions import validate

    validate(spec, where, path)


def validate_kanon(v, path: str | None) -> dict:
    """options.kAnonymity: {"quasiIdentifiers": {table: [columns]}, "k": int >= 2, "action"}."""
    w = "$.options.kAnonymity"
    _obj(v, w, path)
    _unknown_keys(v, {"quasiIdentifiers", "k", "action"}, w, path)
    qi = v.get("quasiIdentifiers")
    if not isinstance(qi, dict) or not qi:
        raise RulesError("quasiIdentifiers must be an object {table: [columns]}", path, f"{w}.quasiIdentifiers")
    for t, cols in qi.items():
        if not t.strip() or not isinstance(cols, list) or not cols or not all(isinstance(c, str) and c.strip() for c in cols):
            raise RulesError("each table takes a non-empty list of column names", path, f"{w}.quasiIdentifiers[{t!r}]")
        if len(set(cols)) != len(cols):
            raise RulesError("a column is listed twice", path, f"{w}.quasiIdentifiers[{t!r}]")
        _name(t, True, path, f"{w}.quasiIdentifiers[{t!r}]")        # readable names (kanon.py parses them)
        for c in cols:
            _name(c, False, path, f"{w}.quasiIdentifiers[{t!r}]")
    k = v.get("k")
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise RulesError("k must be an integer >= 2", path, f"{w}.k")
    action = v.get("action", "fail")
    if action not in ("fail", "suppress", "report"):
        raise RulesError("action must be fail, suppress or report", path, f"{w}.action")
    return {"quasiIdentifiers": qi, "k": k, "action": action}


UNLISTED = ("keep", "fail", "mask")


def validate_unlisted(opts: dict, rs: RuleSet, path: str | None) -> None:
    """options.unlisted (what happens to a column the rules do not name: keep, fail, mask) and
    options.typeDefaults ({SQL type or kind: mutation}: the mutation "mask" gives such a column),
    each default parsed and its options validated here, so a bad one stops the run (exit 2)
    before any output."""
    from dumpmask.transformers import parse_mutation

    policy = opts.get("unlisted", "keep")
    if policy not in UNLISTED:
        raise RulesError(f"unlisted must be one of {', '.join(UNLISTED)}", path, "$.options.unlisted")
    rs.options["unlisted"] = policy
    if "typeDefaults" not in opts:
        return
    defaults = _obj(opts["typeDefaults"], "$.options.typeDefaults", path)
    if policy != "mask":
        raise RulesError('typeDefaults are the mutations of unlisted columns: they apply only with "unlisted": "mask"',
                         path, "$.options.typeDefaults")
    out = {}
    for type_name, v in defaults.items():
        w = f"$.options.typeDefaults[\"{type_name}\"]"
        if not type_name.strip():
            raise RulesError("a type name must not be empty", path, w)
        if isinstance(v, str):
            spec, options = v, {}
        elif isinstance(v, dict):
            _unknown_keys(v, {"mutation", "options"}, w, path)
            spec, options = v.get("mutation"), v.get("options") or {}
            if not isinstance(spec, str):
                raise RulesError("mutation must be a string such as \"redact\"", path, f"{w}.mutation")
        else:
            raise RulesError("expected a mutation (\"redact\") or {\"mutation\": ..., \"options\": {...}}", path, w)
        if spec == "key":
            raise RulesError("key is not a default: key columns follow identifier remapping", path, w)
        try:
            cls, arg = parse_mutation(spec)
            options = cls.validate_options(options, where=f"{w}.options")
        except RulesError as e:
            raise RulesError(str(e).split(": ", 1)[-1] if e.where else str(e), path, e.where or w) from None
        out[normal_type(type_name)] = (spec, cls, arg, options, w)
    rs.options["typeDefaults"] = out


_TYPE_SYNONYMS = {
    "int": "integer", "int4": "integer", "int2": "smallint", "int8": "bigint", "serial": "integer",
    "bigserial": "bigint", "smallserial": "smallint", "varchar": "character varying", "char": "character",
    "bpchar": "character", "float8": "double precision", "float4": "real", "decimal": "numeric",
    "bool": "boolean", "timestamptz": "timestamp with time zone", "timestamp without time zone": "timestamp",
    "timetz": "time with time zone", "time without time zone": "time", "varbinary": "binary varying",
}


def normal_type(type_text: str) -> str:
    """A type name compared case-blind, without its length/precision and with common synonyms
    folded: `VARCHAR(40)` and `character varying` are one name, `int(11)` and `INTEGER` too."""
    t = " ".join(type_text.lower().split())
    base = t.split("(", 1)[0].strip()
    rest = t.split(")", 1)[1].strip() if "(" in t and ")" in t else ""
    if rest.startswith("["):
        base += "[]"                 # varchar(20)[] -> character varying[]
    elif rest:
        base = f"{base} {rest}"      # timestamp(3) with time zone -> timestamp with time zone
    for word in (" unsigned", " zerofill"):
        base = base.replace(word, "")
    arr = "[]" if base.endswith("[]") else ""
    base = base.removesuffix("[]").strip()
    return _TYPE_SYNONYMS.get(base, base) + arr


def load_rules(path: str | None, data: bytes | None = None) -> RuleSet:
    """Read and validate a rules file. Errors name the file and the JSON path (exit 2)."""
    import hashlib

    from dumpmask.transformers import parse_mutation

    if path is None and data is None:
        return RuleSet()
    if data is None:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as e:
            raise RulesError(f"cannot read rules file: {e.strerror}", path) from None
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        line = data[:e.pos].count(b"\n") + 1 if e.pos is not None else None
        raise RulesError(f"malformed JSON: {e.msg}", path, f"line {line}" if line else None) from None
    rs = RuleSet(path=path, sha256=hashlib.sha256(data).hexdigest())
    single = isinstance(doc, dict) and "tableName" in doc and "tables" not in doc
    if single:
        doc = [doc]   # the seed format's single table object: one table's rules
    if isinstance(doc, list):
        tables, where0 = doc, "$"
    elif isinstance(doc, dict):
        _unknown_keys(doc, _TOP_KEYS, "$", path)
        tables, where0 = doc.get("tables", []), "$.tables"
        opts = _obj(doc.get("options", {}), "$.options", path)
        _unknown_keys(opts, {"identifierRemapping", "transfer", "unlisted", "typeDefaults", "subjects", "kAnonymity"},
                      "$.options", path)
        if "identifierRemapping" in opts:
            rs.options["identifierRemapping"] = validate_remapping(opts["identifierRemapping"], "$.options.identifierRemapping", path)
        if "transfer" in opts:
            rs.options["transfer"] = validate_transfer(opts["transfer"], "$.options.transfer", path)
        validate_unlisted(opts, rs, path)
        if "subjects" in opts:
            rs.options["subjects"] = validate_subjects(opts["subjects"], "$.options.subjects", path)
        if "kAnonymity" in opts:
            rs.options["kAnonymity"] = validate_kanon(opts["kAnonymity"], path)
    else:
        raise RulesError("expected an object with \"tables\" or a list of table objects", path, "$")
    if not isinstance(tables, list):
        raise RulesError("expected a list of table objects", path, where0)
    for i, t in enumerate(tables):
        tw = "$" if single else f"{where0}[{i}]"
        _obj(t, tw, path)
        _unknown_keys(t, _TABLE_KEYS, tw, path)
        tn = t.get("tableName")
        if not isinstance(tn, str) or not tn.strip():
            raise RulesError("tableName must be a non-empty string", path, f"{tw}.tableName")
        cms = t.get("columnMutations", [])
        if not isinstance(cms, list):
            raise RulesError("columnMutations must be a list", path, f"{tw}.columnMutations")
        cols = []
        for j, cm in enumerate(cms):
            cw = f"{tw}.columnMutations[{j}]"
            _obj(cm, cw, path)
            _unknown_keys(cm, _COLUMN_KEYS, cw, path)
            col = cm.get("column")
            if not isinstance(col, str) or not col.strip():
                raise RulesError("column must be a non-empty string", path, f"{cw}.column")
            spec = cm.get("mutation")
            if not isinstance(spec, str):
                raise RulesError("mutation must be a string such as \"faker.email\"", path, f"{cw}.mutation")
            try:
                cls, arg = parse_mutation(spec)
                options = cls.validate_options(cm.get("options") or {}, where=f"{cw}.options")
            except RulesError as e:
                raise RulesError(str(e).split(": ", 1)[-1] if e.where else str(e), path, e.where or f"{cw}.mutation") from None
            cr = ColumnRule(_name(col, False, path, f"{cw}.column"), spec, cls, arg, options, cw)
            if "where" in cm:
                validate_condition(cm["where"], f"{cw}.where", path)
                cr.condition = cm["where"]
            cols.append(cr)
        tr = TableRule(_name(tn, True, path, f"{tw}.tableName"), cols, tw)
        _table_condition(t, tr, tw, path)
        if "identifierRemapping" in t:
            v = t["identifierRemapping"]
            tr.remapping = validate_table_remapping(v, f"{tw}.identifierRemapping", path)
        if "transfer" in t:
            tr.transfer = validate_transfer(t["transfer"], f"{tw}.transfer", path)
        rs.tables.append(tr)
    return rs
