"""A partition taken away by a rebalance while its batch was applied (a replica joining the group) is no
longer this replica's: it neither commits its offsets nor reports its lag (its new owner does both)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry

from schemas.envelope import CloudEvent
from schemas.topics import SYNC_RUNS
from stream_runner.kafka_runner import KafkaStreamRunner
from stream_runner.messages import Handled, IncomingMessage
from stream_runner.metrics import RunnerMetrics
from stream_runner.namespace import TopicNamespace
from stream_runner.processor import MessageProcessor
from tests.unit.stream_runner.test_dead_letter_records import SentMessages, message

KEPT, TAKEN = TopicPartition(SYNC_RUNS.name, 0), TopicPartition(SYNC_RUNS.name, 1)


def _runner(revoke_while_applying: list[TopicPartition]) -> KafkaStreamRunner:
    """A runner (its consumer never started) owning KEPT and TAKEN; applying a message revokes the
    partitions listed, as a rebalance during a batch does."""
    runner: KafkaStreamRunner

    async def apply(event: CloudEvent[Any], _: IncomingMessage) -> Handled:
        runner._consumer.assign([p for p in (KEPT, TAKEN) if p not in revoke_while_applying])
        runner.forget_lag(revoke_while_applying)
        return Handled()

    processor = MessageProcessor(
        "itest", {"psync.run.started": apply}, SentMessages(), RunnerMetrics(CollectorRegistry())
    )
    runner = KafkaStreamRunner(
        bootstrap="127.0.0.1:9", group_id="itest", topics=[SYNC_RUNS.name], processor=processor,
        client_id="itest", namespace=TopicNamespace(),
    )  # fmt: skip
    runner._consumer.assign([KEPT, TAKEN])
    return runner


def _record(partition: TopicPartition, offset: int) -> ConsumerRecord[bytes, bytes]:
    m = message(f"run-{partition.partition}-{offset}", offset)
    return ConsumerRecord(partition.topic, partition.partition, offset, 0, 0, m.key, m.value, None, 0, 0, [])


async def test_a_batch_whose_partition_was_revoked_meanwhile_commits_and_reports_only_what_is_kept() -> None:
    runner = _runner(revoke_while_applying=[TAKEN])
    batches = {KEPT: [_record(KEPT, 10), _record(KEPT, 11)], TAKEN: [_record(TAKEN, 20)]}

    await runner._process_batches(batches, asyncio.Event())
    await runner._update_gauges()

    assert runner._processed == {KEPT: 12}
    assert set(runner._next_offsets) == {KEPT}


async def test_a_revocation_while_acknowledgements_are_awaited_leaves_nothing_to_commit_and_no_failure() -> (
    None
):
    # The outage test's mapper stopped consuming: the rebalance listener forgot (or committed) the
    # processed offsets while the loop awaited the acknowledgements, and the loop then committed {}.
    runner = _runner(revoke_while_applying=[])
    runner._processed = {KEPT: 12}
    acknowledged: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    runner._deliveries = [acknowledged]

    def revoke_then_acknowledge() -> None:
        runner.forget_uncommitted()
        acknowledged.set_result(None)

    asyncio.get_running_loop().call_soon(revoke_then_acknowledge)
    await runner.commit_processed()  # before the fix: ValueError({}) from aiokafka's commit

    assert runner._processed == {}
