"""Printing a syntax tree back to filter text that parses to an equal tree."""

from sync_rules.filters.syntax import (
    And,
    Comparison,
    CurrentUser,
    DateAnchor,
    Expr,
    Not,
    Number,
    Or,
    RelativeDate,
    Text,
    Value,
)


def print_filter(expression: Expr) -> str:
    """Return canonical filter text for ``expression``: keywords upper-case, minimal parentheses."""
    if isinstance(expression, Comparison):
        return f"{expression.label} {expression.operator.value} {print_value(expression.value)}"
    if isinstance(expression, Not):
        inner = print_filter(expression.item)
        return f"NOT ({inner})" if isinstance(expression.item, And | Or) else f"NOT {inner}"
    if isinstance(expression, And):
        return " AND ".join(_grouped(item, (Or,)) for item in expression.items)
    return " OR ".join(_grouped(item, (And, Or)) for item in expression.items)


def print_value(value: Value) -> str:
    """Return the filter text of one value."""
    if isinstance(value, Text):
        escaped = value.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, Number):
        return format(value.value, "f")
    if isinstance(value, CurrentUser):
        return "current user"
    return _print_relative_date(value)


def _print_relative_date(value: RelativeDate) -> str:
    if value.anchor is DateAnchor.TODAY:
        return "today"
    return f"{value.anchor.value} {value.days} days"


def _grouped(item: Expr, needs_parentheses: tuple[type, ...]) -> str:
    text = print_filter(item)
    return f"({text})" if isinstance(item, needs_parentheses) else text
