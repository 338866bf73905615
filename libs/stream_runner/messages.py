"""The messages the runner moves: what came in from Kafka and what a handler wants sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from typing import Any, NamedTuple

from frozen_values import frozen_value
from schemas.codec import encode_event
from schemas.envelope import CloudEvent

Headers = tuple[tuple[str, bytes], ...]
"""A record's headers: (name, value) pairs."""

EventRef = tuple[str, str]
"""(tenant, event id): an event, as a consumer's inbox knows it (applied once, its outputs saved)."""


class IncomingMessage(NamedTuple):
    """One consumed Kafka record, as the processor and the handlers see it (a named tuple: built once per
    consumed record, by `kafka_runner.incoming_of` with `tuple.__new__` at about a third of a
    `frozen_value`'s cost)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_ms: int | None = None


@frozen_value
class OutgoingMessage:
    """One record to produce: topic, string key, encoded value and headers."""

    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def of_event(cls, topic: str, event: CloudEvent[Any]) -> OutgoingMessage:
        """An event on `topic`, keyed by its subject (the contract's key)."""
        return cls(topic=topic, key=event.subject, value=encode_event(event))


@frozen_value
class Handled:
    """What a handler did with one event: the messages to send, and whether it was already applied."""

    outputs: Sequence[OutgoingMessage] = field(default_factory=tuple)
    duplicate: bool = False


APPLIED = Handled()
"""A handler's result for an event applied now that produced no message of its own (one frozen value
serves every such event: a batch handler returns one result per event)."""
DUPLICATE = Handled(duplicate=True)
"""A handler's result for an event applied before, which produces nothing again (one value serves all)."""
