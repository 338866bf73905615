from decimal import Decimal

import pytest

from sync_rules.filters import FilterError, parse_filter
from sync_rules.filters.syntax import (
    And,
    Comparison,
    CurrentUser,
    DateAnchor,
    Not,
    Number,
    Operator,
    Or,
    RelativeDate,
    Text,
)


def test_design_example_with_value_and_stage() -> None:
    expression = parse_filter('Value > 10000 AND Stage = "Proposal"')

    assert expression == And(
        (
            Comparison("Value", Operator.GT, Number(Decimal(10000))),
            Comparison("Stage", Operator.EQ, Text("Proposal")),
        )
    )


def test_design_example_with_relative_date_and_current_user() -> None:
    expression = parse_filter("Add Time > last 30 days AND Owner = current user")

    assert expression == And(
        (
            Comparison("Add Time", Operator.GT, RelativeDate(DateAnchor.LAST, 30)),
            Comparison("Owner", Operator.EQ, CurrentUser()),
        )
    )


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    expression = parse_filter("NOT a = 1 AND b = 2 OR c = 3")

    a, b, c = (
        Comparison(name, Operator.EQ, Number(Decimal(n))) for name, n in (("a", 1), ("b", 2), ("c", 3))
    )
    assert expression == Or((And((Not(a), b)), c))


def test_parentheses_group() -> None:
    expression = parse_filter("a = 1 AND (b = 2 OR c = 3)")

    assert isinstance(expression, And)
    assert isinstance(expression.items[1], Or)


def test_keywords_are_case_insensitive_and_operators_have_aliases() -> None:
    expression = parse_filter(
        'name contains "acme" and value <> 5 or x == 1 and d < next 7 DAYS and e = TODAY'
    )

    assert isinstance(expression, Or)
    first, second = expression.items
    assert isinstance(first, And) and isinstance(second, And)
    assert [c.operator for c in first.items if isinstance(c, Comparison)] == [Operator.CONTAINS, Operator.NE]
    assert second.items[1] == Comparison("d", Operator.LT, RelativeDate(DateAnchor.NEXT, 7))
    assert second.items[2] == Comparison("e", Operator.EQ, RelativeDate(DateAnchor.TODAY))


def test_multi_word_labels_may_hold_keywords_and_numbers() -> None:
    expression = parse_filter('Next activity date > today AND Address line 2 = "b"')

    assert isinstance(expression, And)
    assert [c.label for c in expression.items if isinstance(c, Comparison)] == [
        "Next activity date",
        "Address line 2",
    ]


def test_quoted_text_keeps_escaped_quotes_and_backslashes() -> None:
    assert parse_filter(r'Name = "A \"B\" \\ C"') == Comparison("Name", Operator.EQ, Text('A "B" \\ C'))


def test_negative_and_decimal_numbers() -> None:
    assert parse_filter("Value >= -12.50") == Comparison("Value", Operator.GE, Number(Decimal("-12.50")))


def test_columns_point_at_label_and_value() -> None:
    expression = parse_filter('  Stage  =  "Won"')

    assert isinstance(expression, Comparison)
    assert (expression.column, expression.value_column) == (3, 13)


@pytest.mark.parametrize(
    ("source", "column", "expected"),
    [
        ("", 1, "the filter is empty"),
        ("Value >", 8, "expected a value"),
        ("Value 10000", 12, "expected an operator"),
        ("(Value > 1", 11, 'expected ")" to close the "(" at column 1'),
        ("Value > 1)", 10, 'no matching "("'),
        ("Add Time > last days", 17, "whole number of days"),
        ("Add Time > last 30", 19, '"days"'),
        ("Add Time > last 99999999999999 days", 17, "at most 36500 days"),
        ("Update Time < next 36501 days", 20, "at most 36500 days"),
        ("Owner = current", 16, '"user" after "current"'),
        ("= 5", 1, "expected a field label"),
        ('Name = "acme', 8, "unterminated quoted text"),
        ("Value ! 1", 7, 'unexpected character "!"'),
        ("Value > 1 AND", 14, "expected a field label"),
        ("Stage = Proposal", 9, "quoted text"),
        ("Value > 1 Stage = 2", 11, "expected AND, OR or the end"),
        ("(" * 400, 51, "at most 50 parentheses and NOTs inside each other"),
        ("NOT " * 2000 + "Value > 1", 201, "at most 50 parentheses and NOTs inside each other"),
    ],
)
def test_bad_expression_names_the_column_and_what_was_expected(
    source: str, column: int, expected: str
) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(source)

    assert caught.value.column == column
    assert expected in str(caught.value)
    assert str(caught.value).startswith(f"Column {column}: ")


def test_fifty_levels_of_nesting_still_parse() -> None:
    source = "(" * 25 + "NOT " * 25 + "Value > 1" + ")" * 25

    tree = parse_filter(source)

    for _ in range(25):
        assert isinstance(tree, Not)
        tree = tree.item
    assert isinstance(tree, Comparison)
