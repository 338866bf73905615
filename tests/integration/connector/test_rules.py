"""The connector's pure rules: overlap dedupe, the incremental read start, schedules and jitter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.cursors import new_versions, read_from
from connector.scheduler import is_due, jitter_of
from schemas.events.settings import Frequency

T0 = datetime(2026, 11, 1, 10, 0, 0, tzinfo=UTC)


def test_only_versions_newer_than_the_last_emitted_are_new() -> None:
    emitted = {1: T0, 2: T0}
    read = [(1, T0), (2, T0 + timedelta(seconds=1)), (3, T0 - timedelta(days=1)), (3, T0 - timedelta(days=1))]

    assert new_versions(read, emitted) == [(2, T0 + timedelta(seconds=1)), (3, T0 - timedelta(days=1))]


def test_an_incremental_read_starts_an_overlap_before_the_cursor() -> None:
    assert read_from(None, 120) is None
    assert read_from(T0, 120) == T0 - timedelta(minutes=2)


def test_schedules_are_due_by_frequency_plus_the_tenants_jitter() -> None:
    jitter = jitter_of("acme", 300)

    assert timedelta(0) <= jitter < timedelta(seconds=300) and jitter == jitter_of("acme", 300)
    assert is_due(None, Frequency.EVERY_1H, jitter, T0)
    assert not is_due(T0, Frequency.EVERY_1H, jitter, T0 + timedelta(minutes=59))
    assert is_due(T0, Frequency.EVERY_1H, jitter, T0 + timedelta(hours=1) + jitter)
    assert not is_due(None, Frequency.MANUAL, jitter, T0)
