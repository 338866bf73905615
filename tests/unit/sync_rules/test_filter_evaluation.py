from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from sync_rules.filters import compile_filter, evaluate_filter, standard_filter_fields
from sync_rules.filters.fields import FieldKind, FilterField
from sync_rules.objects import SyncObject

NOW = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)
FIELDS = standard_filter_fields(SyncObject.DEAL, stages={"Proposal": 3}) | {
    "Employees": FilterField("c" * 40, FieldKind.NUMBER, custom=True)
}
PERSON_FIELDS = standard_filter_fields(SyncObject.PERSON)
DEAL = {
    "id": 1,
    "title": "Acme renewal",
    "value": 25000,
    "currency": "EUR",
    "stage_id": 3,
    "status": "open",
    "owner_id": 7,
    "add_time": "2026-06-01T09:00:00Z",
    "update_time": "2026-06-14T23:59:59Z",
    "expected_close_date": "2026-07-01",
    "custom_fields": {"c" * 40: 120},
}


def _matches(
    source: str, record: dict[str, Any], fields: dict[str, FilterField] = FIELDS, user: int = 7
) -> bool:
    return evaluate_filter(compile_filter(source, fields), record, now=NOW, current_user_id=user)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('Value > 10000 AND Stage = "Proposal"', True),
        ("Value > 30000", False),
        ("Add Time > last 30 days AND Owner = current user", True),
        ("Add Time > last 14 days", False),
        ("Add Time >= last 14 days", True),
        ("Update Time = last 1 days", True),
        ("Expected close date < next 30 days", True),
        ("Expected close date < next 16 days", False),
        ('Expected close date = "2026-07-01"', True),
        ('Title CONTAINS "RENEW"', True),
        ('Title = "acme renewal"', True),
        ('Status = "won" OR Currency = "eur"', True),
        ("NOT (Value > 1000 AND Owner = current user)", False),
        ("Employees >= 100", True),
        ("Owner != 8", True),
    ],
)
def test_deal_matches_as_the_expression_says(source: str, expected: bool) -> None:
    assert _matches(source, DEAL) is expected


def test_current_user_is_the_given_user() -> None:
    assert _matches("Owner = current user", DEAL, user=8) is False


def test_missing_value_matches_only_not_equal() -> None:
    record = {"id": 2, "title": "No value"}

    assert _matches("Value > 0", record) is False
    assert _matches("Value = 0", record) is False
    assert _matches("Value != 0", record) is True


def test_list_fields_match_when_any_entry_does() -> None:
    person = {"emails": [{"value": "ann@gmail.com", "primary": True}, {"value": "ann@acme.com"}]}

    assert _matches('Email CONTAINS "@acme.com"', person, PERSON_FIELDS) is True
    assert _matches('Email = "bob@acme.com"', person, PERSON_FIELDS) is False


def test_days_are_counted_in_the_time_zone_of_now() -> None:
    berlin_now = NOW.astimezone(timezone(timedelta(hours=2))).replace(hour=0, minute=30)
    record = {"add_time": "2026-06-14T22:45:00Z"}
    expression = compile_filter("Add Time = today", FIELDS)

    assert evaluate_filter(expression, record, now=berlin_now, current_user_id=None) is True
    assert evaluate_filter(expression, record, now=NOW, current_user_id=None) is False
