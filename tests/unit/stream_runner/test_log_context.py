"""A message's log context (topic, partition, offset, tenant, event) ends with it: the next unit of work
logs no stale values, however the message ended."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog
from prometheus_client import CollectorRegistry

from schemas.envelope import CloudEvent
from stream_runner.messages import Handled, IncomingMessage
from stream_runner.metrics import RunnerMetrics
from stream_runner.processor import MessageProcessor, RetryPolicy, StopRequested
from tests.unit.stream_runner.test_dead_letter_records import SentMessages, message

MESSAGE_CONTEXT = {"topic", "partition", "offset", "tenant", "event_id", "event_type"}


@pytest.fixture(autouse=True)
def outer_context() -> Any:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(worker="consumer")
    yield
    structlog.contextvars.clear_contextvars()


async def test_an_applied_message_leaves_only_the_context_it_found() -> None:
    seen: list[dict[str, Any]] = []

    async def apply(event: CloudEvent[Any], _: IncomingMessage) -> Handled:
        seen.append(structlog.contextvars.get_contextvars())
        return Handled()

    processor = MessageProcessor(
        "itest", {"psync.run.started": apply}, SentMessages(), RunnerMetrics(CollectorRegistry())
    )

    await processor.process(message("run-1", 7), asyncio.Event())

    assert seen[0]["offset"] == 7 and seen[0]["tenant"] == "acme"
    assert structlog.contextvars.get_contextvars() == {"worker": "consumer"}


async def test_a_message_interrupted_by_the_stop_leaves_no_context_either() -> None:
    async def failing(event: CloudEvent[Any], _: IncomingMessage) -> Handled:
        raise ConnectionError("database away")

    stop = asyncio.Event()
    stop.set()
    processor = MessageProcessor(
        "itest", {"psync.run.started": failing}, SentMessages(), RunnerMetrics(CollectorRegistry()),
        retry=RetryPolicy(first_delay_s=0.05),
    )  # fmt: skip

    with pytest.raises(StopRequested):
        await processor.process(message("run-2", 8), stop)

    assert MESSAGE_CONTEXT.isdisjoint(structlog.contextvars.get_contextvars())
    assert structlog.contextvars.get_contextvars() == {"worker": "consumer"}
