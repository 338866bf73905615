"""The consumer loop applies an event type that has a batch handler with it only, a lone event as a batch
of one: a service registers no handler of its own for such a type (test harnesses dispatch the same way,
`tests.support.event_dispatch`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from schemas.topics import dlq_topic_name
from stream_runner.errors import PermanentError
from stream_runner.messages import Handled, OutgoingMessage
from stream_runner.metrics import RunnerMetrics
from stream_runner.processor import MessageProcessor
from tests.unit.stream_runner.test_dead_letter_records import Item, SentMessages, message


async def test_a_lone_event_of_a_batched_type_is_applied_by_its_batch_handler() -> None:
    batches: list[list[str]] = []

    async def apply(items: Sequence[Item]) -> list[Handled]:
        batches.append([event.data.run_id for event, _ in items])
        return [Handled() for _ in items]

    processor = MessageProcessor(
        "itest", {}, SentMessages(), RunnerMetrics(CollectorRegistry()),
        batch_handlers={"psync.run.started": apply},
    )  # fmt: skip

    first = await processor.process_batch([message("r1", 1)], asyncio.Event())
    second = await processor.process_batch([message("r2", 2), message("r3", 3)], asyncio.Event())

    assert batches == [["r1"], ["r2", "r3"]]
    assert [p.outcome for p in [*first, *second]] == ["applied", "applied", "applied"]


async def test_a_failing_batch_split_up_sends_each_events_outputs_and_dead_letter_in_message_order() -> None:
    async def apply(items: Sequence[Item]) -> list[Handled]:
        if any(event.data.run_id == "poison" for event, _ in items):
            raise PermanentError("cannot apply")
        return [Handled(outputs=[output(event.data.run_id)]) for event, _ in items]

    sender = SentMessages()
    processor = MessageProcessor(
        "itest", {}, sender, RunnerMetrics(CollectorRegistry()), batch_handlers={"psync.run.started": apply}
    )

    processed = await processor.process_batch(
        [message("r1", 1), message("poison", 2), message("r3", 3)], asyncio.Event()
    )

    assert [p.outcome for p in processed] == ["applied", "dead_lettered", "applied"]
    assert [len(p.deliveries) for p in processed] == [1, 1, 1]
    assert [(m.topic, m.value) for m in sender.sent] == [
        ("results", b"r1"), (dlq_topic_name("itest"), message("poison", 2).value), ("results", b"r3"),
    ]  # fmt: skip


def output(run_id: str) -> OutgoingMessage:
    return OutgoingMessage("results", f"acme:{run_id}", run_id.encode())
