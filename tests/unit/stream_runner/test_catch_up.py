"""What a consumer loop reads first at start (its settings topic, `read_first`) is decoded and applied as
the loop would apply it, but what cannot be decoded or applied is skipped rather than dead-lettered: the
loop reads it again from its group's committed offsets and dead-letters it there, once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from schemas.topics import SYNC_RUNS
from stream_runner.errors import PermanentError
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage
from stream_runner.metrics import RunnerMetrics
from stream_runner.processor import BatchHandler, Handler, MessageProcessor
from tests.unit.stream_runner.test_dead_letter_records import Item, SentMessages, message

TYPE = "psync.run.started"


def processor(
    sender: SentMessages, batch: BatchHandler | None = None, single: Handler | None = None
) -> MessageProcessor:
    return MessageProcessor(
        "itest", {TYPE: single} if single else {}, sender, RunnerMetrics(CollectorRegistry()),
        batch_handlers={TYPE: batch} if batch else {},
    )  # fmt: skip


def output(run_id: str) -> OutgoingMessage:
    return OutgoingMessage("results", f"acme:{run_id}", run_id.encode())


async def test_a_batch_is_applied_together_and_what_breaks_its_contract_is_skipped_not_dead_lettered() -> (
    None
):
    applied: list[list[str]] = []

    async def apply(items: Sequence[Item]) -> list[Handled]:
        applied.append([event.data.run_id for event, _ in items])
        return [Handled() for _ in items]

    sender = SentMessages()
    malformed = IncomingMessage(SYNC_RUNS.name, 0, 2, b"acme:r", b'{"type": "psync.run.started"')

    deliveries = await processor(sender, apply).catch_up(
        [message("r1", 1), malformed, message("r3", 3)], asyncio.Event()
    )

    assert applied == [["r1", "r3"]]
    assert deliveries == [] and sender.sent == []


async def test_a_failing_batch_is_applied_one_by_one_and_only_the_event_that_fails_is_skipped() -> None:
    applied: list[str] = []

    async def apply(items: Sequence[Item]) -> list[Handled]:
        if any(event.data.run_id == "poison" for event, _ in items):
            raise PermanentError("cannot apply")
        applied.extend(event.data.run_id for event, _ in items)
        return [Handled(outputs=[output(event.data.run_id)]) for event, _ in items]

    sender = SentMessages()
    messages = [message("r1", 1), message("poison", 2), message("r3", 3)]

    deliveries = await processor(sender, apply).catch_up(messages, asyncio.Event())

    assert applied == ["r1", "r3"]
    assert sender.sent == [output("r1"), output("r3")] and len(deliveries) == 2


async def test_an_event_type_without_a_batch_handler_is_applied_one_at_a_time() -> None:
    applied: list[str] = []

    async def apply(event: Any, _message: IncomingMessage) -> Handled:
        applied.append(event.data.run_id)
        return Handled()

    await processor(SentMessages(), single=apply).catch_up(
        [message("r1", 1), message("r2", 2)], asyncio.Event()
    )

    assert applied == ["r1", "r2"]
