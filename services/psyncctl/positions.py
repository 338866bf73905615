"""Pure rules about offsets: where a replay starts, what a group's lag is, what a saved position holds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiokafka import TopicPartition

_AGO = re.compile(r"^(?P<amount>\d+)(?P<unit>[smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class BadArgument(ValueError):
    """A command-line value psyncctl cannot use; the message says what it expects."""


@dataclass(frozen=True)
class StartAt:
    """Where a replay starts in each partition: an offset, or the first message at or after a time."""

    offset: int | None = None
    time: datetime | None = None

    def describe(self) -> str:
        """The start as people write it."""
        return f"offset {self.offset}" if self.time is None else self.time.isoformat()


def parse_time(text: str, now: datetime) -> datetime:
    """An ISO 8601 time (UTC when it names no zone) or an age such as `30m`, `6h`, `2d` before `now`."""
    ago = _AGO.match(text.strip())
    if ago:
        return now - timedelta(**{_UNITS[ago["unit"]]: int(ago["amount"])})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as failure:
        raise BadArgument(
            f"{text!r} is neither an ISO 8601 time (2026-11-28T09:00:00Z) nor an age (30m, 6h, 2d)"
        ) from failure
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_start(text: str, now: datetime) -> StartAt:
    """`--from`: a non-negative integer is an offset, anything else a time (see `parse_time`)."""
    if text.strip().isdigit():
        return StartAt(offset=int(text))
    return StartAt(time=parse_time(text, now))


@dataclass(frozen=True)
class PartitionLag:
    """How far one group is behind in one partition."""

    group: str
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        """Messages not yet committed by the group (all retained ones when it never committed)."""
        return self.end - (self.committed or 0)


def lag_rows(
    group: str, committed: Mapping[TopicPartition, int], ends: Mapping[TopicPartition, int]
) -> list[PartitionLag]:
    """One row per partition the group has an offset for or should read (those in `ends`)."""
    return [
        PartitionLag(group, tp.topic, tp.partition, committed.get(tp), ends[tp])
        for tp in sorted(ends, key=lambda tp: (tp.topic, tp.partition))
    ]


@dataclass(frozen=True)
class PartitionMove:
    """One partition of a replay: the committed offset now, the one it moves to, and the end."""

    topic: str
    partition: int
    current: int | None
    target: int
    end: int

    @property
    def messages(self) -> int:
        """How many messages the group will read again (or skip, when negative)."""
        return (self.current if self.current is not None else self.end) - self.target


def clamp(target: int, earliest: int, end: int) -> int:
    """An offset the partition can serve: within [earliest retained, end]."""
    return max(earliest, min(target, end))


def saved_offsets_document(
    group: str, committed: Mapping[TopicPartition, int], at: datetime
) -> dict[str, object]:
    """What psyncctl saves before moving a group: enough to put every offset back (`restore-offsets`)."""
    return {
        "group": group,
        "saved_at": at.isoformat(),
        "offsets": [
            {"topic": tp.topic, "partition": tp.partition, "offset": offset}
            for tp, offset in sorted(committed.items(), key=lambda i: (i[0].topic, i[0].partition))
        ],
    }


def offsets_from_document(document: Mapping[str, object]) -> tuple[str, dict[TopicPartition, int]]:
    """The group and offsets of a saved document; BadArgument when it is not one."""
    try:
        group = str(document["group"])
        rows = document["offsets"]
        assert isinstance(rows, list)
        return group, {TopicPartition(str(r["topic"]), int(r["partition"])): int(r["offset"]) for r in rows}
    except (KeyError, TypeError, ValueError, AssertionError) as failure:
        raise BadArgument(f"not a saved offsets file of psyncctl: {failure}") from failure


def tenant_of_key(key: bytes | None) -> str | None:
    """The tenant a message belongs to, from its key (`tenant` or `tenant:...`, DESIGN.md s.4)."""
    if not key:
        return None
    return key.decode("utf-8", errors="replace").split(":", 1)[0]
