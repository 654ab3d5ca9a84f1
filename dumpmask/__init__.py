"""dumpmask: a streaming SQL dump sanitizer.

    from dumpmask import mask
    audit = mask(open("dump.sql", "rb"), sys.stdout.buffer, rules=load_rules("rules.json"))
"""
__version__ = "0.2.0"

from dumpmask.errors import DumpmaskError, DumpSyntaxError, MaskingError, RulesError, StrictError  # noqa: E402,F401


def mask(src, dst, rules=None, key=None, **kw):
    """Mask the dump read from binary stream `src` into binary stream `dst`; returns the audit dict."""
    from dumpmask.engine import Engine

    eng = Engine(rules=rules, key=key, **kw)
    return eng.run(src, dst)
