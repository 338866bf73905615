"""The ABM platform's events may not hold a time far ahead of the consumer's clock (schemas/event_times.py):
the decoder refuses them as invalid, naming the time; our own topics are not checked."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from schemas.codec import InvalidEvent, decode_event
from schemas.event_times import CLOCK_SKEW_ALLOWED, time_too_far_ahead
from schemas.export import SCHEMAS_DIR

FAR = "9999-12-31T23:59:59Z"


def _example(kind: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((SCHEMAS_DIR / "examples" / f"{kind}.json").read_bytes())
    return document


def _at(where: str, value: str) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        *path, last = where.split(".")
        target: Any = document
        for part in path:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return edit


@pytest.mark.parametrize(
    ("kind", "topic", "where"),
    [
        ("abm.company.revealed", "abm.company-revealed.v1", "data.revealed_at"),
        ("abm.company.revealed", "abm.company-revealed.v1", "data.pages.0.visited_at"),
        ("abm.company.revealed", "abm.company-revealed.v1", "time"),
        ("abm.contact.enriched", "abm.contact-enriched.v1", "data.enriched_at"),
        ("abm.score.changed", "abm.score-changed.v1", "data.changed_at"),
    ],
)
def test_an_abm_event_with_a_time_far_ahead_is_invalid_and_the_time_named(
    kind: str, topic: str, where: str
) -> None:
    example = _example(kind)
    _at(where, FAR)(example)

    with pytest.raises(
        InvalidEvent, match=f"^invalid event on {topic}: {re.escape(where)}: 9999-12-31T23:59:59"
    ):
        decode_event(topic, orjson.dumps(example))


def test_a_time_within_the_allowed_clock_skew_is_accepted() -> None:
    example = _example("abm.company.revealed")
    soon = datetime.now(UTC) + CLOCK_SKEW_ALLOWED - timedelta(minutes=5)
    example["data"]["revealed_at"] = example["time"] = soon.isoformat()

    assert decode_event("abm.company-revealed.v1", orjson.dumps(example)).data.revealed_at == soon  # type: ignore[attr-defined]


def test_the_rule_compares_with_the_clock_it_is_given() -> None:
    example = _example("abm.score.changed")
    event = decode_event("abm.score-changed.v1", orjson.dumps(example))
    moment = event.data.changed_at  # type: ignore[attr-defined]

    assert time_too_far_ahead(event, moment - CLOCK_SKEW_ALLOWED) is None
    assert time_too_far_ahead(event, moment - CLOCK_SKEW_ALLOWED - timedelta(seconds=1)) is not None


def test_our_own_events_are_not_checked() -> None:
    example = _example("psync.source.changed")
    example["time"] = FAR

    assert decode_event("psync.source-changes.v1", orjson.dumps(example)).time.year == 9999
