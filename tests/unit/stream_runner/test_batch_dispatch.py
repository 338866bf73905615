"""The consumer loop applies an event type that has a batch handler with it only, a lone event as a batch
of one: a service registers no handler of its own for such a type (test harnesses dispatch the same way,
`tests.support.event_dispatch`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus
from schemas.topics import SYNC_RUNS, dlq_topic_name
from stream_runner.errors import PermanentError
from stream_runner.messages import APPLIED, DUPLICATE, Handled, IncomingMessage, OutgoingMessage
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


def finished(run_id: str, offset: int) -> IncomingMessage:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    payload = RunFinished(
        run_id=run_id, service="itest", kind=RunKind.SYNC, direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,), started_at=at, finished_at=at, counts=RunCounts(),
        status=RunStatus.SUCCESS,
    )  # fmt: skip
    event = build_event(
        payload, tenant="acme", subject=f"acme:{run_id}", source="/t", id_parts=(run_id, "f"), time=at
    )
    return IncomingMessage(SYNC_RUNS.name, 0, offset, f"acme:{run_id}".encode(), encode_event(event))


async def test_a_run_of_one_type_is_applied_together_until_the_type_changes_or_a_message_is_invalid() -> None:
    batches: list[tuple[str, list[str]]] = []

    def recorded(kind: str) -> Any:
        async def apply(items: Sequence[Item]) -> list[Handled]:
            batches.append((kind, [event.data.run_id for event, _ in items]))
            return [DUPLICATE if event.data.run_id.endswith("again") else APPLIED for event, _ in items]

        return apply

    processor = MessageProcessor(
        "itest", {}, SentMessages(), RunnerMetrics(CollectorRegistry()),
        batch_handlers={"psync.run.started": recorded("started"), "psync.run.finished": recorded("finished")},
    )  # fmt: skip
    broken = message("broken", 4)._replace(value=b"{not json")
    messages = [
        message("s1", 1), message("s2-again", 2), finished("f1", 3), broken, message("s3", 5),
        message("s4", 6), finished("f2-again", 7), finished("f3", 8),
    ]  # fmt: skip

    processed = await processor.process_batch(messages, asyncio.Event())

    assert batches == [
        ("started", ["s1", "s2-again"]),
        ("finished", ["f1"]),
        ("started", ["s3", "s4"]),
        ("finished", ["f2-again", "f3"]),
    ]
    assert [p.outcome for p in processed] == [
        "applied", "duplicate", "applied", "dead_lettered", "applied", "applied", "duplicate", "applied",
    ]  # fmt: skip
