"""A partition taken away by a rebalance while its batch was applied (a replica joining the group) is no
longer this replica's: it neither commits its offsets nor reports its lag (its new owner does both)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry

from schemas.envelope import CloudEvent
from schemas.topics import SYNC_RUNS
from stream_runner.kafka_runner import KafkaStreamRunner, _CommitOnRevoke
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage
from stream_runner.metrics import RunnerMetrics
from stream_runner.namespace import TopicNamespace
from stream_runner.processor import MessageProcessor
from stream_runner.producer import Delivery
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

    await runner._process_batches(batches, asyncio.Event(), runner._generation)
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


class HeldDeliveries:
    """A sender whose deliveries resolve only when the test acknowledges them (the broker's acks)."""

    def __init__(self) -> None:
        self.pending: list[asyncio.Future[object]] = []

    async def enqueue(self, messages: list[OutgoingMessage]) -> list[Delivery]:
        futures = [asyncio.get_running_loop().create_future() for _ in messages]
        self.pending += futures
        return futures

    def acknowledge(self) -> None:
        for future in self.pending:
            if not future.done():
                future.set_result(None)


def _producing_runner(sender: HeldDeliveries) -> tuple[KafkaStreamRunner, list[dict[TopicPartition, int]]]:
    """A runner (its consumer never started) owning KEPT whose messages each produce one output through
    `sender`; what its consumer was asked to commit, in order, goes to the list returned with it."""

    async def apply(event: CloudEvent[Any], _: IncomingMessage) -> Handled:
        return Handled(outputs=[OutgoingMessage("results", "acme:1", event.id.encode())])

    metrics = RunnerMetrics(CollectorRegistry())
    processor = MessageProcessor("itest", {"psync.run.started": apply}, sender, metrics)
    runner = KafkaStreamRunner(
        bootstrap="127.0.0.1:9", group_id="itest", topics=[SYNC_RUNS.name], processor=processor,
        client_id="itest", namespace=TopicNamespace(),
    )  # fmt: skip
    runner._consumer.assign([KEPT])
    commits: list[dict[TopicPartition, int]] = []

    async def commit(offsets: dict[TopicPartition, int]) -> None:
        commits.append(dict(offsets))

    runner._consumer.commit = commit
    return runner, commits


async def _settle() -> None:
    """Let every other task run until it waits for something only the test gives."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_revocation_while_the_loop_awaits_acknowledgements_commits_nothing_before_they_come() -> None:
    # The rebalance listener runs in aiokafka's coordinator task: its commit found the loop's deliveries
    # already taken (an empty list to await) and committed their offsets at once; a crash (or a failed
    # delivery) before the acknowledgements then lost those outputs, their messages never read again.
    sender = HeldDeliveries()
    runner, commits = _producing_runner(sender)
    await runner._process_batches(
        {KEPT: [_record(KEPT, 10), _record(KEPT, 11)]}, asyncio.Event(), runner._generation
    )

    loop_commit = asyncio.create_task(runner.commit_processed())
    await _settle()
    revocation = asyncio.create_task(_CommitOnRevoke(runner).on_partitions_revoked([KEPT]))
    await _settle()
    assert commits == []  # before the fix: [{KEPT: 12}], with both outputs unacknowledged

    sender.acknowledge()
    await asyncio.gather(loop_commit, revocation)
    assert commits == [{KEPT: 12}]


async def test_a_batch_processed_while_a_revocation_awaits_acknowledgements_waits_for_its_own() -> None:
    # The other way round: the listener awaited the acknowledgements it had taken while the loop applied
    # its next batch, then committed that batch's offset too, whose outputs nobody had awaited.
    sender = HeldDeliveries()
    runner, commits = _producing_runner(sender)
    await runner._process_batches(
        {KEPT: [_record(KEPT, 10), _record(KEPT, 11)]}, asyncio.Event(), runner._generation
    )

    revocation = asyncio.create_task(_CommitOnRevoke(runner).on_partitions_revoked([KEPT]))
    await _settle()
    await runner._process_batches({KEPT: [_record(KEPT, 12)]}, asyncio.Event(), runner._generation)
    first_batch, second_batch = sender.pending[:2], sender.pending[2:]
    for future in first_batch:
        future.set_result(None)
    await revocation
    assert commits == [{KEPT: 12}]  # before the fix: [{KEPT: 13}], the third output unacknowledged
    assert not any(future.done() for future in second_batch)

    loop_commit = asyncio.create_task(runner.commit_processed())
    await _settle()
    assert commits == [{KEPT: 12}]
    sender.acknowledge()
    await loop_commit
    assert commits == [{KEPT: 12}, {KEPT: 13}]


def _held_runner(
    release: asyncio.Event,
) -> tuple[KafkaStreamRunner, list[dict[TopicPartition, int]], list[int]]:
    """A `_producing_runner` without outputs whose handler waits for `release` (a batch of slow Pipedrive
    calls); the offsets it applied go to the last list returned."""
    runner, commits = _producing_runner(HeldDeliveries())
    sender = SentMessages()
    applied: list[int] = []

    async def apply(event: CloudEvent[Any], message: IncomingMessage) -> Handled:
        await release.wait()
        applied.append(message.offset)
        return Handled()

    runner._processor = MessageProcessor(
        "itest", {"psync.run.started": apply}, sender, RunnerMetrics(CollectorRegistry())
    )
    return runner, commits, applied


async def test_a_revocation_waits_for_the_batch_in_flight_and_commits_it() -> None:
    # A replica joining the group while a batch was applied: the revocation committed only the batches
    # finished before it, and the partitions' new owner applied the batch in flight again, while this
    # replica was still applying it (a Pipedrive write made twice).
    release = asyncio.Event()
    runner, commits, _ = _held_runner(release)
    applying = asyncio.create_task(
        runner._process_batches({KEPT: [_record(KEPT, 10), _record(KEPT, 11)]}, asyncio.Event(), 0)
    )
    await _settle()
    revocation = asyncio.create_task(_CommitOnRevoke(runner).on_partitions_revoked([KEPT]))
    await _settle()
    assert not revocation.done()  # before the fix: done, having committed nothing

    release.set()
    await asyncio.gather(applying, revocation)
    assert commits == [{KEPT: 12}]


async def test_a_batch_the_revocation_gave_up_waiting_for_is_left_to_the_next_owner() -> None:
    release = asyncio.Event()
    runner, commits, _ = _held_runner(release)
    runner._batch_wait_s = 0.01  # the rebalance timeout nearly spent
    applying = asyncio.create_task(
        runner._process_batches({KEPT: [_record(KEPT, 10), _record(KEPT, 11)]}, asyncio.Event(), 0)
    )
    await _settle()
    await _CommitOnRevoke(runner).on_partitions_revoked([KEPT])
    release.set()
    await applying

    assert commits == []
    assert runner._processed == {}


async def test_records_polled_before_a_revocation_are_not_applied() -> None:
    # Their partitions are read again from the committed offsets by whoever owns them after the rebalance.
    release = asyncio.Event()
    release.set()
    runner, _, applied = _held_runner(release)
    polled_in = runner._generation
    await _CommitOnRevoke(runner).on_partitions_revoked([KEPT])

    await runner._process_batches({KEPT: [_record(KEPT, 10)]}, asyncio.Event(), polled_in)

    assert applied == []
    assert runner._processed == {}
