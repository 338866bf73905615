"""Events the inbox says were applied already (a replay, a redelivery) are found for a whole batch at
once from the head of each message: they are neither decoded in full nor handed to their handler, what
they produced is sent again as it was, in the batch's order; everything else takes the full path."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.envelope import CloudEvent
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunKind, RunStarted
from schemas.topics import SYNC_RUNS
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage
from stream_runner.metrics import RunnerMetrics
from stream_runner.processor import EventRef, MessageProcessor, RetryPolicy
from tests.unit.stream_runner.test_dead_letter_records import SentMessages

Item = tuple[CloudEvent[Any], IncomingMessage]
TYPE = "psync.run.started"
DEFAULT_RETRY = RetryPolicy()


def message(run_id: str, offset: int, key: bytes = b"acme:r") -> tuple[str, IncomingMessage]:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    payload = RunStarted(
        run_id=run_id, service="itest", kind=RunKind.SYNC, direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,), started_at=at,
    )  # fmt: skip
    event = build_event(payload, tenant="acme", subject="acme:r", source="/t", id_parts=(run_id,), time=at)
    return event.id, IncomingMessage(SYNC_RUNS.name, 0, offset, key, encode_event(event))


def saved(run_id: str) -> OutgoingMessage:
    return OutgoingMessage("results", f"acme:{run_id}", f"saved result of {run_id}".encode())


class Inbox:
    """Events applied before, with what they produced; counts how often it is asked."""

    def __init__(self, applied: Mapping[EventRef, Sequence[OutgoingMessage]], fail: bool = False) -> None:
        self.applied = applied
        self.lookups: list[list[EventRef]] = []
        self.fail = fail

    async def lookup(self, events: Sequence[EventRef]) -> dict[EventRef, Sequence[OutgoingMessage]]:
        self.lookups.append(list(events))
        if self.fail:
            raise RuntimeError("the inbox cannot be read")
        return {e: self.applied[e] for e in events if e in self.applied}


def processor(
    inbox: Inbox, handled: list[str], sender: SentMessages, retry: RetryPolicy = DEFAULT_RETRY
) -> MessageProcessor:
    async def apply(items: Sequence[Item]) -> list[Handled]:
        handled.extend(event.data.run_id for event, _ in items)
        return [Handled(outputs=[OutgoingMessage("results", "acme:r", f"new {e.data.run_id}".encode())])
                for e, _ in items]  # fmt: skip

    return MessageProcessor(
        "itest", {}, sender, RunnerMetrics(CollectorRegistry()), retry,
        batch_handlers={TYPE: apply}, repeat_lookups={TYPE: inbox.lookup},
    )  # fmt: skip


async def test_known_repeats_resend_their_saved_outputs_in_order_without_their_handler() -> None:
    (id1, m1), (id2, m2), (id3, m3), (id4, m4) = (message(f"r{n}", n) for n in range(1, 5))
    inbox = Inbox({("acme", id1): [saved("r1")], ("acme", id2): [], ("acme", id4): [saved("r4"), saved("x")]})
    handled: list[str] = []
    sender = SentMessages()

    processed = await processor(inbox, handled, sender).process_batch([m1, m2, m3, m4], asyncio.Event())

    assert [p.outcome for p in processed] == ["duplicate", "duplicate", "applied", "duplicate"]
    assert [len(p.deliveries) for p in processed] == [1, 0, 1, 2]
    assert handled == ["r3"]
    assert [m.value for m in sender.sent] == [
        b"saved result of r1", b"new r3", b"saved result of r4", b"saved result of x"
    ]  # fmt: skip
    assert inbox.lookups == [[("acme", id1), ("acme", id2), ("acme", id3), ("acme", id4)]]


async def test_a_message_without_a_head_or_an_unreadable_inbox_takes_the_full_path() -> None:
    (id1, m1), (id2, m2) = message("r1", 1), message("r2", 2, key=b"globex:r")
    handled: list[str] = []
    sender = SentMessages()
    inbox = Inbox({("acme", id1): [saved("r1")], ("acme", id2): [saved("r2")]})

    processed = await processor(inbox, handled, sender).process_batch([m1, m2], asyncio.Event())

    # The second claims a tenant its key does not belong to: not asked about, dead-lettered as before.
    assert [p.outcome for p in processed] == ["duplicate", "dead_lettered"]
    assert inbox.lookups == [[("acme", id1)]]

    failing = Inbox({("acme", id1): [saved("r1")]}, fail=True)
    once = RetryPolicy(first_delay_s=0.0, max_unknown_attempts=1)
    processed = await processor(failing, handled, SentMessages(), once).process_batch([m1], asyncio.Event())
    assert [p.outcome for p in processed] == ["applied"] and handled == ["r1"]
