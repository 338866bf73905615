"""The processor lets a consumer record an event it dead-letters, and sends what that produced with it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.envelope import CloudEvent
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunKind, RunStarted
from schemas.topics import SYNC_RUNS, dlq_topic_name
from stream_runner.errors import PermanentError
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage
from stream_runner.metrics import RunnerMetrics
from stream_runner.processor import MessageProcessor
from stream_runner.producer import Delivery

Item = tuple[CloudEvent[Any], IncomingMessage]


class SentMessages:
    """A sender that keeps what it was given (every delivery already done)."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def enqueue(self, messages: list[OutgoingMessage]) -> list[Delivery]:
        self.sent += messages
        done: list[Delivery] = []
        for _ in messages:
            future: Delivery = asyncio.get_running_loop().create_future()
            future.set_result(None)
            done.append(future)
        return done


def message(run_id: str, offset: int) -> IncomingMessage:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    payload = RunStarted(
        run_id=run_id, service="itest", kind=RunKind.SYNC, direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,), started_at=at,
    )  # fmt: skip
    event = build_event(
        payload, tenant="acme", subject=f"acme:{run_id}", source="/t", id_parts=(run_id,), time=at
    )
    return IncomingMessage(SYNC_RUNS.name, 0, offset, f"acme:{run_id}".encode(), encode_event(event))


async def test_a_dead_lettered_event_is_recorded_once_and_its_outputs_go_out_with_the_letter() -> None:
    recorded: list[tuple[str, str]] = []

    async def apply(items: Sequence[Item]) -> list[Handled]:
        if any(event.data.run_id == "poison" for event, _ in items):
            raise PermanentError("cannot apply")
        return [Handled() for _ in items]

    async def record(event: CloudEvent[Any], _: IncomingMessage, error: BaseException) -> Handled:
        recorded.append((event.data.run_id, type(error).__name__))
        return Handled(outputs=[OutgoingMessage("results", "acme:poison", b"failed")])

    sender = SentMessages()
    processor = MessageProcessor(
        "itest", {}, sender, RunnerMetrics(CollectorRegistry()),
        batch_handlers={"psync.run.started": apply}, dead_letter_handlers={"psync.run.started": record},
    )  # fmt: skip

    processed = await processor.process_batch(
        [message("good-1", 1), message("poison", 2), message("good-2", 3)], asyncio.Event()
    )

    assert [p.outcome for p in processed] == ["applied", "dead_lettered", "applied"]
    assert recorded == [("poison", "PermanentError")]
    assert (sender.sent[0].topic, sender.sent[0].value) == ("results", b"failed")
    assert [m.topic for m in sender.sent] == ["results", dlq_topic_name("itest")]


async def test_an_event_whose_tenant_is_not_its_keys_is_dead_lettered_unapplied() -> None:
    applied: list[str] = []

    async def apply(event: CloudEvent[Any], _: IncomingMessage) -> Handled:
        applied.append(event.data.run_id)
        return Handled()

    sender = SentMessages()
    processor = MessageProcessor(
        "itest", {"psync.run.started": apply}, sender, RunnerMetrics(CollectorRegistry())
    )
    good = message("good", 1)
    foreign = IncomingMessage(SYNC_RUNS.name, 0, 2, b"globex:claimed", message("claimed", 2).value)
    keyless = IncomingMessage(SYNC_RUNS.name, 0, 3, None, message("keyless", 3).value)

    processed = [await processor.process(m, asyncio.Event()) for m in (good, foreign, keyless)]

    assert [p.outcome for p in processed] == ["applied", "dead_lettered", "dead_lettered"]
    assert applied == ["good"]
    reasons = [dict(letter.headers) for letter in sender.sent]
    assert [r["dlq.error.class"] for r in reasons] == [b"TenantMismatch", b"TenantMismatch"]
    assert (
        b"tenantid 'acme' disagrees with the tenant of the key, 'globex'" in reasons[0]["dlq.error.message"]
    )
    assert b"no key" in reasons[1]["dlq.error.message"]


async def test_an_event_whose_time_overflows_in_utc_is_dead_lettered_and_the_batch_goes_on() -> None:
    """Its conversion to UTC overflowed: the error stopped the consumer at that message (and again after
    every restart); now the event is invalid, dead-lettered, and the rest of the batch applied."""
    applied: list[str] = []

    async def apply(items: Sequence[Item]) -> list[Handled]:
        applied.extend(event.data.run_id for event, _ in items)
        return [Handled() for _ in items]

    sender = SentMessages()
    processor = MessageProcessor(
        "itest", {}, sender, RunnerMetrics(CollectorRegistry()), batch_handlers={"psync.run.started": apply}
    )
    early = message("early", 2)
    assert early.value is not None
    value = early.value.replace(b'"time":"2026-11-01T00:00:00Z"', b'"time":"0001-01-01T00:30:00+01:00"')
    assert value != early.value

    processed = await processor.process_batch(
        [message("good-1", 1), early._replace(value=value), message("good-2", 3)], asyncio.Event()
    )

    assert [p.outcome for p in processed] == ["applied", "dead_lettered", "applied"]
    assert applied == ["good-1", "good-2"]
    [letter] = sender.sent
    assert letter.topic == dlq_topic_name("itest")
    assert b"time must fall within the years 1 to 9999 in UTC" in dict(letter.headers)["dlq.error.message"]
