from datetime import date
from decimal import Decimal

import pytest

from sync_rules.filters import FilterError, compile_filter, standard_filter_fields
from sync_rules.filters.fields import FieldKind, FilterField, custom_filter_fields
from sync_rules.filters.syntax import And, Comparison, CurrentUser
from sync_rules.mappings import FieldDefinition
from sync_rules.objects import SyncObject

DEAL_FIELDS = standard_filter_fields(
    SyncObject.DEAL,
    users={"ann@acme.com": 1, "Ann Smith": 1},
    stages={"Proposal": 3, "Won-ish": 4},
    pipelines={"Sales": 1},
)


def _comparisons(source: str) -> list[Comparison]:
    expression = compile_filter(source, DEAL_FIELDS)
    items = expression.items if isinstance(expression, And) else (expression,)
    return [item for item in items if isinstance(item, Comparison)]


def test_labels_resolve_case_insensitively() -> None:
    (comparison,) = _comparisons("expected  CLOSE date < today")

    assert comparison.field == DEAL_FIELDS["Expected close date"]


def test_option_names_resolve_to_ids() -> None:
    stage, owner, status = _comparisons('Stage = "proposal" AND Owner = "ANN@acme.com" AND Status = "Won"')

    assert (stage.operand, owner.operand, status.operand) == (3, 1, "won")


def test_ids_and_current_user_are_accepted_for_users() -> None:
    by_id, current = _comparisons("Owner = 7 AND Owner != current user")

    assert by_id.operand == 7
    assert current.operand == CurrentUser()


def test_numbers_and_iso_dates_bind_to_their_kinds() -> None:
    value, close = _comparisons('Value >= 10000 AND Expected close date <= "2026-12-31"')

    assert value.operand == Decimal(10000)
    assert close.operand == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("source", "column", "expected"),
    [
        ("Valu > 1", 1, 'unknown field "Valu"; expected one of: Add Time, Currency'),
        ("Value > 1 AND Colour = 2", 15, 'unknown field "Colour"'),
        ("Stage > 3", 1, '"Stage" cannot use >'),
        ("Value CONTAINS 3", 1, '"Value" cannot use CONTAINS'),
        ('Value > "big"', 9, "a number"),
        ('Stage = "Closing"', 9, 'one of "Proposal", "Won-ish"'),
        ('Owner = "bob@acme.com"', 9, "current user, one of"),
        ('Add Time > "yesterday"', 12, "a date"),
        ("Title = current user", 9, "quoted text"),
    ],
)
def test_binding_errors_name_the_column(source: str, column: int, expected: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter(source, DEAL_FIELDS)

    assert caught.value.column == column
    assert expected in str(caught.value)


def test_custom_fields_become_filterable_by_label() -> None:
    definitions = [
        FieldDefinition("a" * 40, "Employees", True, "int"),
        FieldDefinition("b" * 40, "Tags", True, "set"),
        FieldDefinition("name", "Name", False, "varchar"),
    ]

    assert custom_filter_fields(definitions) == {
        "Employees": FilterField("a" * 40, FieldKind.NUMBER, custom=True)
    }
