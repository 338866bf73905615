"""Binding: resolving labels to fields and values to what records hold, with the column of any problem."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from sync_rules.filters.errors import FilterError
from sync_rules.filters.fields import FieldKind, FilterField
from sync_rules.filters.parser import parse_filter
from sync_rules.filters.syntax import (
    And,
    Comparison,
    CurrentUser,
    Expr,
    Not,
    Number,
    Operand,
    Operator,
    Or,
    RelativeDate,
    Text,
)

_EQUALITY = {Operator.EQ, Operator.NE}
_ORDERING = _EQUALITY | {Operator.LT, Operator.LE, Operator.GT, Operator.GE}
_OPERATORS_BY_KIND = {
    FieldKind.TEXT: _ORDERING | {Operator.CONTAINS},
    FieldKind.NUMBER: _ORDERING,
    FieldKind.DATE: _ORDERING,
    FieldKind.DATETIME: _ORDERING,
    FieldKind.USER: _EQUALITY,
    FieldKind.OPTION: _EQUALITY,
}


def compile_filter(source: str, fields: Mapping[str, FilterField]) -> Expr:
    """Parse filter text and bind it to ``fields`` (label -> field); raise FilterError with a column."""
    return bind_fields(parse_filter(source), fields)


def bind_fields(expression: Expr, fields: Mapping[str, FilterField]) -> Expr:
    """Return ``expression`` with every label resolved case-insensitively and every value checked.

    Raises :class:`FilterError` at the label's column for an unknown field, at the operator for one the
    field cannot use, and at the value for a value of the wrong kind or an unknown option.
    """
    by_label = {_label_key(label): f for label, f in fields.items()}
    known = ", ".join(sorted(fields))
    return _bind(expression, by_label, known)


def _bind(expression: Expr, fields: Mapping[str, FilterField], known: str) -> Expr:
    if isinstance(expression, And):
        return And(tuple(_bind(item, fields, known) for item in expression.items))
    if isinstance(expression, Or):
        return Or(tuple(_bind(item, fields, known) for item in expression.items))
    if isinstance(expression, Not):
        return Not(_bind(expression.item, fields, known))
    found = fields.get(_label_key(expression.label))
    if found is None:
        raise FilterError(expression.column, f'unknown field "{expression.label}"; expected one of: {known}')
    if found.ambiguity is not None:
        raise FilterError(expression.column, found.ambiguity)
    if expression.operator not in _OPERATORS_BY_KIND[found.kind]:
        allowed = " ".join(sorted(o.value for o in _OPERATORS_BY_KIND[found.kind]))
        raise FilterError(
            expression.column, f'"{expression.label}" cannot use {expression.operator}; expected {allowed}'
        )
    return replace(expression, field=found, operand=_operand(expression, found))


def _operand(comparison: Comparison, found: FilterField) -> Operand:
    value, kind = comparison.value, found.kind
    if kind in (FieldKind.DATE, FieldKind.DATETIME):
        return _date_operand(comparison)
    if kind in (FieldKind.USER, FieldKind.OPTION):
        return _option_operand(comparison, found)
    if isinstance(value, RelativeDate | CurrentUser):
        raise _wrong_value(comparison, "quoted text" if kind is FieldKind.TEXT else "a number")
    if kind is FieldKind.NUMBER:
        if not isinstance(value, Number):
            raise _wrong_value(comparison, "a number (without quotes)")
        return value.value
    return value.value if isinstance(value, Text) else format(value.value, "f")


def _date_operand(comparison: Comparison) -> Operand:
    value = comparison.value
    if isinstance(value, RelativeDate):
        return value
    if isinstance(value, Text):
        try:
            return date.fromisoformat(value.value)
        except ValueError:
            pass
    raise _wrong_value(comparison, 'a date: today, last N days, next N days or "YYYY-MM-DD"')


def _option_operand(comparison: Comparison, found: FilterField) -> Operand:
    value = comparison.value
    if isinstance(value, CurrentUser) and found.kind is FieldKind.USER:
        return value
    if isinstance(value, Number) and value.value == value.value.to_integral_value():
        return int(value.value)
    options = {_label_key(name): option for name, option in found.options.items()}
    ambiguous = {_label_key(name): why for name, why in found.ambiguous_options.items()}
    if isinstance(value, Text) and _label_key(value.value) in ambiguous:
        raise FilterError(comparison.value_column, ambiguous[_label_key(value.value)])
    if isinstance(value, Text) and _label_key(value.value) in options:
        return options[_label_key(value.value)]
    names = ", ".join(f'"{name}"' for name in _plain_names(found.options)) or "an id"
    extra = "current user, " if found.kind is FieldKind.USER else ""
    raise _wrong_value(comparison, f"{extra}one of {names}")


def _wrong_value(comparison: Comparison, expected: str) -> FilterError:
    return FilterError(comparison.value_column, f'"{comparison.label}" expects {expected}')


def _label_key(label: str) -> str:
    return " ".join(label.split()).casefold()


def _plain_names(options: Mapping[str, object]) -> list[str]:
    """The option names to list in an error: qualified names ("Sales / Proposal") only when no plain name
    covers them, and at most 30."""
    names = [name for name in options if " / " not in name] or list(options)
    return names[:30] + (["..."] if len(names) > 30 else [])
