"""The typed syntax tree of a filter expression.

Columns are 1-based positions in the source text; they are left out of equality so that a printed and
re-parsed tree equals the original. ``field`` and ``operand`` are filled in by binding.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sync_rules.filters.fields import FilterField


class Operator(StrEnum):
    """A comparison operator, spelled as printed."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    CONTAINS = "CONTAINS"


class DateAnchor(StrEnum):
    """Which way a relative date counts from today."""

    TODAY = "today"
    LAST = "last"
    NEXT = "next"


@dataclass(frozen=True)
class Text:
    """A quoted text value."""

    value: str


@dataclass(frozen=True)
class Number:
    """A numeric value."""

    value: Decimal


@dataclass(frozen=True)
class RelativeDate:
    """``today``, ``last N days`` or ``next N days``."""

    anchor: DateAnchor
    days: int = 0


@dataclass(frozen=True)
class CurrentUser:
    """``current user``: the user running the import."""


Value = Text | Number | RelativeDate | CurrentUser
Operand = str | int | Decimal | date | RelativeDate | CurrentUser | tuple[int | str, ...]
"""A bound value; a tuple stands for any of its values (a stage name several pipelines have)."""


@dataclass(frozen=True)
class Comparison:
    """``label operator value``."""

    label: str
    operator: Operator
    value: Value
    column: int = dataclasses.field(default=1, compare=False)
    value_column: int = dataclasses.field(default=1, compare=False)
    field: FilterField | None = dataclasses.field(default=None, compare=False)
    operand: Operand | None = dataclasses.field(default=None, compare=False)


@dataclass(frozen=True)
class And:
    """All of two or more expressions."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """Any of two or more expressions."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """The negation of an expression."""

    item: Expr


Expr = Comparison | And | Or | Not


def conjunction(items: list[Expr]) -> Expr | None:
    """Return the AND of ``items`` (flattened), the item itself when alone, or None when empty."""
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, And) else (item,))
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else And(tuple(flat))
