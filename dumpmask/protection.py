"""The protection classes: what a mutation leaves of a value (docs/key.md), weakest first.

kept           the original value, in clear
reversible     a keyed permutation (remapped ids): whoever holds the key can undo it
pseudonymised  keyed deterministic fakes and hashes, partial values: not reversible without
               brute force over the input space, but the same value gets the same output in
               every dump made with one key (linkable): still personal data under GDPR
anonymised     static, redact, generalize.*: not linkable, not reversible (what is left may
               still single out a row with other columns: see k-anonymity)
removed        null, rows dropped: nothing of the value is left
"""
from __future__ import annotations

PROTECTION = ("kept", "reversible", "pseudonymised", "anonymised", "removed")


def weakest(classes) -> str:
    """The weakest of some protection classes ("kept" when there are none)."""
    return min(classes, key=PROTECTION.index, default="kept")
