"""A poll's messages processed tenant by tenant side by side (the pusher's `tenant_concurrency`): each
tenant's in its own order, one tenant's slow pushes never holding another's, the results in the poll's
order; a failure in one lane fails the batch only once every lane is done."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.envelope import CloudEvent
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunKind, RunStarted
from schemas.topics import SYNC_RUNS
from stream_runner.messages import Handled, IncomingMessage
from stream_runner.metrics import RunnerMetrics
from stream_runner.processor import MessageProcessor, RetryPolicy, StopRequested, tenant_lanes
from tests.unit.stream_runner.test_dead_letter_records import SentMessages

HANG_GUARD_S = 10.0
"""Only turns a lane that waits forever (the poll processed in order) into a failure."""


def test_lanes_keep_each_tenants_positions_in_order_and_tenants_by_first_appearance() -> None:
    assert tenant_lanes(["a", "b", "a", "c", "b", "a"]) == [[0, 2, 5], [1, 4], [3]]
    assert tenant_lanes(["a", "a"]) == [[0, 1]]
    assert tenant_lanes([]) == []


def started(tenant: str, run_id: str, offset: int) -> IncomingMessage:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    payload = RunStarted(
        run_id=run_id, service="itest", kind=RunKind.SYNC, direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,), started_at=at,
    )  # fmt: skip
    key = f"{tenant}:{run_id}"
    event = build_event(payload, tenant=tenant, subject=key, source="/t", id_parts=(run_id,), time=at)
    return IncomingMessage(SYNC_RUNS.name, 0, offset, key.encode(), encode_event(event))


async def test_a_tenants_messages_are_not_held_behind_another_tenants_slow_one() -> None:
    seen: list[str] = []
    quick_done = asyncio.Event()

    async def apply(event: CloudEvent[Any], _: IncomingMessage) -> Handled:
        run_id = event.data.run_id
        seen.append(f"{run_id} started")
        if run_id == "slow-1":  # a push waiting for a slow Pipedrive: until the other tenant's are done
            await quick_done.wait()
        if run_id == "quick-2":
            quick_done.set()
        seen.append(f"{run_id} done")
        return Handled()

    processor = MessageProcessor(
        "itest", {"psync.run.started": apply}, SentMessages(), RunnerMetrics(CollectorRegistry()),
        tenant_concurrency=4,
    )  # fmt: skip
    poll = [
        started("slow", "slow-1", 1),
        started("quick", "quick-1", 2),
        IncomingMessage(SYNC_RUNS.name, 0, 3, b"slow:broken", b"not an event"),
        started("slow", "slow-2", 4),
        started("quick", "quick-2", 5),
    ]

    processed = await asyncio.wait_for(processor.process_batch(poll, asyncio.Event()), HANG_GUARD_S)

    assert [p.outcome for p in processed] == ["applied", "applied", "dead_lettered", "applied", "applied"]
    assert seen == [
        "slow-1 started",
        "quick-1 started",
        "quick-1 done",
        "quick-2 started",
        "quick-2 done",
        "slow-1 done",
        "slow-2 started",
        "slow-2 done",
    ]


async def test_one_concurrency_processes_the_poll_in_its_order() -> None:
    seen: list[str] = []

    async def apply(event: CloudEvent[Any], _: IncomingMessage) -> Handled:
        seen.append(event.data.run_id)
        return Handled()

    processor = MessageProcessor(
        "itest", {"psync.run.started": apply}, SentMessages(), RunnerMetrics(CollectorRegistry())
    )
    poll = [started("a", "a-1", 1), started("b", "b-1", 2), started("a", "a-2", 3)]

    await processor.process_batch(poll, asyncio.Event())

    assert seen == ["a-1", "b-1", "a-2"]


async def test_a_poll_of_batched_events_only_stays_one_batch_of_every_tenants() -> None:
    batches: list[list[str]] = []

    async def apply(items: Sequence[tuple[CloudEvent[Any], IncomingMessage]]) -> list[Handled]:
        batches.append([event.data.run_id for event, _ in items])
        return [Handled() for _ in items]

    processor = MessageProcessor(
        "itest", {}, SentMessages(), RunnerMetrics(CollectorRegistry()),
        batch_handlers={"psync.run.started": apply}, tenant_concurrency=4,
    )  # fmt: skip
    poll = [started("a", "a-1", 1), started("b", "b-1", 2), started("a", "a-2", 3)]

    await processor.process_batch(poll, asyncio.Event())

    assert batches == [["a-1", "b-1", "a-2"]]


async def test_a_stop_in_one_lane_is_raised_once_the_other_lanes_are_done() -> None:
    stop = asyncio.Event()
    done: list[str] = []
    failing = asyncio.Event()

    async def apply(event: CloudEvent[Any], _: IncomingMessage) -> Handled:
        run_id = event.data.run_id
        if run_id == "down-1":  # its Pipedrive is away: retried until the service stops
            failing.set()
            raise ConnectionError("unreachable")
        await failing.wait()
        stop.set()  # the service is told to stop while the other lane waits to retry
        done.append(run_id)
        return Handled()

    processor = MessageProcessor(
        "itest", {"psync.run.started": apply}, SentMessages(), RunnerMetrics(CollectorRegistry()),
        retry=RetryPolicy(first_delay_s=60.0, max_delay_s=60.0), tenant_concurrency=4,
    )  # fmt: skip
    poll = [started("down", "down-1", 1), started("up", "up-1", 2), started("up", "up-2", 3)]

    with pytest.raises(StopRequested):
        await asyncio.wait_for(processor.process_batch(poll, stop), HANG_GUARD_S)

    assert done == ["up-1", "up-2"]
