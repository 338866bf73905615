"""psyncctl's pure rules: reading --from and --since, clamping offsets, dead-letter references."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from psyncctl.dead_letters import parse_ref
from psyncctl.positions import BadArgument, StartAt, clamp, parse_start, parse_time, tenant_of_key

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_from_is_an_offset_a_time_or_an_age() -> None:
    assert parse_start("1234", NOW) == StartAt(offset=1234)
    assert parse_start("2026-11-28T09:00:00Z", NOW) == StartAt(time=datetime(2026, 11, 28, 9, tzinfo=UTC))
    assert parse_start("2026-11-28T09:00:00+01:00", NOW).time == datetime(2026, 11, 28, 8, tzinfo=UTC)
    assert parse_start("6h", NOW) == StartAt(time=NOW - timedelta(hours=6))
    assert parse_time("2d", NOW) == NOW - timedelta(days=2)
    assert parse_time("2026-11-28T09:00:00", NOW).tzinfo == UTC  # no zone given: UTC


def test_an_unreadable_time_names_what_is_expected() -> None:
    with pytest.raises(BadArgument, match="ISO 8601"):
        parse_start("yesterday", NOW)


def test_offsets_are_kept_within_what_the_partition_retains() -> None:
    assert clamp(0, earliest=100, end=500) == 100
    assert clamp(900, earliest=100, end=500) == 500
    assert clamp(250, earliest=100, end=500) == 250


def test_the_tenant_is_the_first_part_of_the_key() -> None:
    assert tenant_of_key(b"acme:organization:acme.com") == "acme"
    assert tenant_of_key(b"acme") == "acme"
    assert tenant_of_key(None) is None


def test_a_dead_letter_reference_is_topic_partition_offset() -> None:
    assert parse_ref("psync.mapper.dlq:3:17") == ("psync.mapper.dlq", 3, 17)
    with pytest.raises(BadArgument):
        parse_ref("psync.mapper.dlq:3")
