"""When a parked push that keeps failing gives up (pure rule)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pusher.parking import ParkingLimits, give_up_reason

PARKED = datetime(2026, 11, 2, 9, tzinfo=UTC)
LIMITS = ParkingLimits(retry_after=timedelta(seconds=30), max_failures=3, max_age=timedelta(hours=24))


def test_a_push_below_both_limits_is_retried() -> None:
    assert give_up_reason(LIMITS, PARKED, 2, PARKED + timedelta(hours=23), "Boom") is None


def test_the_last_allowed_failure_gives_up_and_says_how_often_and_why() -> None:
    reason = give_up_reason(LIMITS, PARKED, 3, PARKED + timedelta(minutes=2), "Boom")

    assert reason == "Gave up after 3 failed attempts: Boom"


def test_a_push_parked_longer_than_the_maximum_age_gives_up_without_counted_failures() -> None:
    reason = give_up_reason(LIMITS, PARKED, 0, PARKED + timedelta(hours=25), "Pipedrive is unavailable")

    assert reason == "Gave up after 25.0 hours parked without success: Pipedrive is unavailable"


def test_the_default_limits_are_a_day_or_ten_failures_retried_every_30_seconds() -> None:
    assert ParkingLimits() == ParkingLimits(timedelta(seconds=30), 10, timedelta(hours=24))
