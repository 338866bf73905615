"""Dead letters as psyncctl lists, shows and re-drives them.

A dead letter (libs/stream_runner/dead_letters.py) is the original message, key and value untouched, with
`dlq.*` headers naming where it was read and why it failed. Re-driving produces it to its origin topic
with the same key (so the same partition) and value (so the same event id), without the `dlq.*` headers,
plus `psyncctl.redriven-from` naming the dead letter: every consumer of the origin topic receives it, the
ones that applied the original drop it by id (inbox), the one that dead-lettered it applies it now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from psyncctl.kafka_cluster import Message
from psyncctl.positions import BadArgument, tenant_of_key

DLQ_HEADER_PREFIX = "dlq."
REDRIVEN_FROM_HEADER = "psyncctl.redriven-from"


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter topic, its `dlq.*` headers read."""

    service: str
    message: Message
    origin_topic: str
    origin_partition: int | None
    origin_offset: int | None
    error_class: str
    error_message: str
    failed_at: datetime | None
    tenant: str | None
    event_id: str | None

    @property
    def ref(self) -> str:
        """How to name it on the command line: `<dlq topic>:<partition>:<offset>`."""
        return f"{self.message.topic}:{self.message.partition}:{self.message.offset}"

    def summary(self) -> dict[str, object]:
        """The fields `dlq list` shows."""
        return {
            "ref": self.ref,
            "service": self.service,
            "failed_at": self.failed_at,
            "tenant": self.tenant,
            "event_id": self.event_id,
            "origin": f"{self.origin_topic}:{self.origin_partition}:{self.origin_offset}",
            "error_class": self.error_class,
            "error_message": self.error_message,
        }


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("utf-8", errors="replace")
    return None


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


def _time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def event_id_of(value: bytes | None) -> str | None:
    """The CloudEvents `id` of a value, when it is a JSON object that has one."""
    try:
        document = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    found = document.get("id") if isinstance(document, dict) else None
    return found if isinstance(found, str) else None


def read_dead_letter(service: str, message: Message) -> DeadLetter:
    """A DLQ message with its headers read (a message without them still lists, as `unknown`)."""
    headers = message.headers
    return DeadLetter(
        service=service,
        message=message,
        origin_topic=_header(headers, "dlq.origin.topic") or "",
        origin_partition=_int(_header(headers, "dlq.origin.partition")),
        origin_offset=_int(_header(headers, "dlq.origin.offset")),
        error_class=_header(headers, "dlq.error.class") or "unknown",
        error_message=_header(headers, "dlq.error.message") or "",
        failed_at=_time(_header(headers, "dlq.failed_at")),
        tenant=tenant_of_key(message.key),
        event_id=event_id_of(message.value),
    )


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters a command is about: every given criterion must hold."""

    tenant: str | None = None
    error_class: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    refs: frozenset[str] = frozenset()

    def matches(self, letter: DeadLetter) -> bool:
        """Whether the dead letter meets every criterion."""
        return (
            (self.tenant is None or letter.tenant == self.tenant)
            and (self.error_class is None or letter.error_class == self.error_class)
            and (self.since is None or (letter.failed_at is not None and letter.failed_at >= self.since))
            and (self.until is None or (letter.failed_at is not None and letter.failed_at < self.until))
            and (not self.refs or letter.ref in self.refs)
        )

    @property
    def narrows(self) -> bool:
        """Whether any criterion is given (a re-drive of everything needs `--all`)."""
        return any(v is not None for v in (self.tenant, self.error_class, self.since, self.until)) or bool(
            self.refs
        )


def parse_ref(ref: str) -> tuple[str, int, int]:
    """`<dlq topic>:<partition>:<offset>` (as `dlq list` prints it) into its parts."""
    topic, _, rest = ref.rpartition(":")
    topic, _, partition = topic.rpartition(":")
    if not topic or not partition.isdigit() or not rest.isdigit():
        raise BadArgument(f"{ref!r} is not a dead letter reference such as psync.mapper.dlq:3:17")
    return topic, int(partition), int(rest)


def redrive_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The original headers without `dlq.*`, plus where the re-driven copy came from."""
    kept = [(k, v) for k, v in letter.message.headers if not k.startswith(DLQ_HEADER_PREFIX)]
    return [*kept, (REDRIVEN_FROM_HEADER, letter.ref.encode())]


def replacement_value(letter: DeadLetter, fixed: bytes) -> bytes:
    """A fixed value for the dead letter: JSON carrying the same event id (a new id would make the
    consumers that applied the original apply it a second time)."""
    fixed_id = event_id_of(fixed)
    if fixed_id is None:
        raise BadArgument("the fixed value is not a JSON event with an id")
    if letter.event_id is not None and fixed_id != letter.event_id:
        raise BadArgument(f"the fixed value's id {fixed_id} differs from the dead letter's {letter.event_id}")
    return orjson.dumps(orjson.loads(fixed))
