"""The connector's pure rules: overlap dedupe, the incremental read start, schedules and jitter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.record_versions import is_newer, new_versions, read_from
from connector.scheduler import is_due, jitter_of
from connector.source_events import record_digest
from schemas.events.settings import Frequency

T0 = datetime(2026, 11, 1, 10, 0, 0, tzinfo=UTC)


def test_only_versions_newer_than_the_last_emitted_are_new() -> None:
    emitted = {1: (T0, "a"), 2: (T0, "b")}
    later, older = T0 + timedelta(seconds=1), T0 - timedelta(days=1)
    read = [(1, (T0, "a")), (2, (later, "c")), (3, (older, "d")), (3, (older, "d"))]

    assert new_versions(read, emitted) == [(2, (later, "c")), (3, (older, "d"))]


def test_a_second_edit_within_the_same_second_is_a_new_version() -> None:
    # Pipedrive stamps whole seconds: only the content tells a second edit from a re-read of the first.
    assert is_newer((T0, "second edit"), (T0, "first edit"))
    assert not is_newer((T0, "first edit"), (T0, "first edit"))
    assert not is_newer((T0 - timedelta(seconds=1), "other"), (T0, "first edit"))
    # After a deletion, or a version stored before digests were kept, nothing within its second is new.
    assert not is_newer((T0, "x"), (T0, None)) and not is_newer((T0, None), (T0, None))
    assert new_versions([(1, (T0, "b"))], {1: (T0, "a")}) == [(1, (T0, "b"))]


def test_a_deletion_within_the_second_of_the_last_emitted_version_is_new() -> None:
    # Created and deleted within one second: both carry that second; the deletion is the last word.
    assert is_newer((T0, None), (T0, "created"))
    assert new_versions([(1, (T0, None)), (1, (T0, None))], {1: (T0, "created")}) == [(1, (T0, None))]
    assert not is_newer((T0 - timedelta(seconds=1), None), (T0, "created"))


def test_a_records_digest_ignores_key_order_and_sees_every_value() -> None:
    record = {"id": 1, "name": "Acme", "address": {"city": "Oslo", "country": "NO"}}
    reordered = {"address": {"country": "NO", "city": "Oslo"}, "name": "Acme", "id": 1}

    assert record_digest(record) == record_digest(reordered)
    assert record_digest(record) != record_digest({**record, "address": {"city": "Bergen", "country": "NO"}})


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
