"""The `key` mutation: remap a column as an identifier, in the domain of another key column."""
from __future__ import annotations

from dumpmask.errors import MaskingError

from .base import Param, Transformer, register


@register
class KeyMutation(Transformer):
    """Remap this column as a key with the run's keyed permutation (identifier remapping), so it
    joins the key named by `domain` ("table.column") although no constraint declares it: the
    same value gives the same output as in that column. Without `domain`, the column is remapped
    on its own (integer, UUID or text strategy from its type)."""

    name = "key"
    protection = "reversible"
    params = {"domain": Param(str, "the key column whose values this column copies: table.column")}
    unique = True
    elementwise = False

    @classmethod
    def type_error(cls, column, options=None, argument=None, dialect=None) -> str | None:
        return None  # the identifier-remapping feature decides what it can remap

    def __call__(self, value):
        if value is None:
            return None
        # replaced by the identifier-remapping feature when the plan is built
        raise MaskingError(f"column {self.column.name}: key mutation used without identifier remapping")
