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
from stream_runner.messages import EventRef, Handled, IncomingMessage, OutgoingMessage
from stream_runner.metrics import RunnerMetrics
from stream_runner.processor import MessageProcessor, RetryPolicy, look_for_repeats_next
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


def test_the_inbox_is_asked_first_while_repeats_come_and_not_while_fresh_events_flow() -> None:
    assert look_for_repeats_next(True, found=3, duplicates=3) is True
    assert look_for_repeats_next(True, found=0, duplicates=0) is False
    assert look_for_repeats_next(True, found=0, duplicates=1) is True
    assert look_for_repeats_next(False, found=0, duplicates=0) is False
    assert look_for_repeats_next(False, found=0, duplicates=2) is True


async def test_fresh_batches_are_not_looked_up_until_the_full_path_meets_a_duplicate() -> None:
    (id1, m1), (_, m2), (_, m3), (id4, m4) = (message(f"r{n}", n) for n in range(1, 5))
    inbox = Inbox({("acme", id4): [saved("r4")]})
    handled: list[str] = []
    seen: set[str] = set()
    sender = SentMessages()

    async def apply(items: Sequence[Item]) -> list[Handled]:
        fresh = [event.id not in seen for event, _ in items]
        seen.update(event.id for event, _ in items)
        handled.extend(event.data.run_id for event, _ in items)
        return [Handled(duplicate=not f) for f in fresh]

    running = MessageProcessor(
        "itest", {}, sender, RunnerMetrics(CollectorRegistry()),
        batch_handlers={TYPE: apply}, repeat_lookups={TYPE: inbox.lookup},
    )  # fmt: skip
    stop = asyncio.Event()
    await running.process_batch([m1], stop)  # looked up: nothing known, so no lookups for fresh batches
    await running.process_batch([m2], stop)
    await running.process_batch([m1, m3], stop)  # m1 again: the full path finds it a duplicate
    last = await running.process_batch([m4], stop)  # looked up again: a known repeat

    assert inbox.lookups == [[("acme", id1)], [("acme", id4)]]
    assert handled == ["r1", "r2", "r1", "r3"]
    assert [p.outcome for p in last] == ["duplicate"]
