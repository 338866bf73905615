"""Evaluating a bound filter over one Pipedrive v2 record, with ``now`` and the current user passed in.

A field the record lacks (or holds empty) makes ``!=`` true and every other comparison false. Text
compares case-insensitively; list fields (emails, phones) match when any entry does.
"""

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sync_rules.filters.dates import record_day, resolve_relative_date
from sync_rules.filters.errors import FilterError
from sync_rules.filters.fields import FieldKind, FilterField
from sync_rules.filters.syntax import (
    And,
    Comparison,
    CurrentUser,
    Expr,
    Not,
    Operand,
    Operator,
    Or,
    RelativeDate,
)


def evaluate_filter(
    expression: Expr, record: Mapping[str, Any], *, now: datetime, current_user_id: int | None
) -> bool:
    """Tell whether ``record`` matches a bound expression (see :func:`sync_rules.filters.compile_filter`)."""
    if isinstance(expression, And):
        return all(
            evaluate_filter(i, record, now=now, current_user_id=current_user_id) for i in expression.items
        )
    if isinstance(expression, Or):
        return any(
            evaluate_filter(i, record, now=now, current_user_id=current_user_id) for i in expression.items
        )
    if isinstance(expression, Not):
        return not evaluate_filter(expression.item, record, now=now, current_user_id=current_user_id)
    return _compare(expression, record, now, current_user_id)


def read_field(record: Mapping[str, Any], found: FilterField) -> Any:
    """Return the raw value of a field in a v2 record (custom fields from ``custom_fields``)."""
    source = record.get("custom_fields") or {} if found.custom else record
    return source.get(found.key)


def _compare(comparison: Comparison, record: Mapping[str, Any], now: datetime, user: int | None) -> bool:
    found, operand = comparison.field, comparison.operand
    if found is None or operand is None:
        raise FilterError(
            comparison.column, f'"{comparison.label}" is not bound to a field; bind the filter first'
        )
    values = _values(read_field(record, found), found.kind, now)
    if found.kind is FieldKind.OPTION and comparison.operator in (Operator.EQ, Operator.NE):
        return _option_holds(comparison.operator, values, operand)
    wanted = _wanted(operand, now, user)
    if wanted is None:
        return comparison.operator is Operator.NE
    if not values:
        return comparison.operator is Operator.NE
    if comparison.operator is Operator.NE:
        return all(value != wanted for value in values)
    return any(_holds(comparison.operator, value, wanted) for value in values)


def _option_holds(operator: Operator, values: list[Any], operand: Operand) -> bool:
    """Options compare by their ids as text (built-in options have text ids, records may hold numbers);
    a tuple operand matches any of its values."""
    wanted = {str(w).casefold() for w in (operand if isinstance(operand, tuple) else (operand,))}
    found = {str(v).casefold() for v in values}
    return bool(found & wanted) is (operator is Operator.EQ)


def _values(raw: Any, kind: FieldKind, now: datetime) -> list[Any]:
    items = raw if isinstance(raw, list) else [raw]
    converted = (
        _value(item.get("value", item.get("id")) if isinstance(item, Mapping) else item, kind, now)
        for item in items
    )
    return [value for value in converted if value is not None]


def _value(raw: Any, kind: FieldKind, now: datetime) -> Any:
    if raw is None or raw == "":
        return None
    if kind in (FieldKind.DATE, FieldKind.DATETIME):
        return record_day(raw, now)
    if kind is FieldKind.NUMBER:
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            return None
    if kind is FieldKind.TEXT or isinstance(raw, str):
        return str(raw).casefold()
    return raw


def _wanted(operand: Operand, now: datetime, user: int | None) -> Any:
    if isinstance(operand, CurrentUser):
        return user
    if isinstance(operand, RelativeDate):
        return resolve_relative_date(operand, now)
    if isinstance(operand, str):
        return operand.casefold()
    return operand


def _holds(operator: Operator, value: Any, wanted: Any) -> bool:
    if operator is Operator.CONTAINS:
        return isinstance(value, str) and str(wanted) in value
    if type(value) is not type(wanted) and not _both_numbers(value, wanted):
        return False
    if operator is Operator.EQ:
        return bool(value == wanted)
    if operator is Operator.LT:
        return bool(value < wanted)
    if operator is Operator.LE:
        return bool(value <= wanted)
    if operator is Operator.GT:
        return bool(value > wanted)
    return bool(value >= wanted)


def _both_numbers(value: Any, wanted: Any) -> bool:
    numeric = (int, Decimal)
    return isinstance(value, numeric) and isinstance(wanted, numeric) and not isinstance(value, date)
