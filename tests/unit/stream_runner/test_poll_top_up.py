"""A poll of topics applied in batches only is topped up from what the consumer already holds, so a batch
handler gets up to `max_batch_records` per transaction; a poll holding events applied one at a time (the
pusher's pushes) still holds at most `max_poll_records` of them."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError
from prometheus_client import CollectorRegistry

from schemas.topics import BULK_SOURCE_CHANGES, COMPANY_REVEALED, SOURCE_CHANGES, topics_consumed_by
from service_runtime.skeleton import batched_topics
from stream_runner.kafka_runner import KafkaStreamRunner
from stream_runner.metrics import RunnerMetrics
from stream_runner.namespace import TopicNamespace
from stream_runner.processor import MessageProcessor
from tests.unit.stream_runner.test_dead_letter_records import SentMessages

CHANGES = [TopicPartition(SOURCE_CHANGES.name, p) for p in (0, 1)]
SIGNALS = TopicPartition(COMPANY_REVEALED.name, 0)


class HeldRecords:
    """The records a consumer holds (fetched, not yet returned), handed out by `getmany` in the order they
    were fetched, from the partitions asked for (all assigned ones when none is named)."""

    def __init__(
        self,
        records: list[ConsumerRecord[bytes, bytes]],
        *,
        failing_after: int | None = None,
        assigned: set[TopicPartition] | None = None,
    ) -> None:
        self.records = records
        self.asked: list[int | None] = []
        self._failing_after = failing_after
        self._assigned = assigned or {TopicPartition(r.topic, r.partition) for r in records}

    def assignment(self) -> set[TopicPartition]:
        return self._assigned

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        if self._failing_after is not None and len(self.asked) >= self._failing_after:
            raise KafkaConnectionError("the broker went away")
        self.asked.append(max_records)
        asked = set(partitions) or self._assigned
        taken = [r for r in self.records if TopicPartition(r.topic, r.partition) in asked][:max_records]
        self.records = [r for r in self.records if r not in taken]
        out: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        for record in taken:
            out.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        return out


def _record(partition: TopicPartition, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(partition.topic, partition.partition, offset, 0, 0, b"k", b"{}", None, 0, 0, [])


def _runner(held: HeldRecords, **limits: Any) -> KafkaStreamRunner:
    processor = MessageProcessor("itest", {}, SentMessages(), RunnerMetrics(CollectorRegistry()))
    runner = KafkaStreamRunner(
        bootstrap="127.0.0.1:9", group_id="itest", topics=[SOURCE_CHANGES.name, COMPANY_REVEALED.name],
        processor=processor, client_id="itest", namespace=TopicNamespace(), **limits,
    )  # fmt: skip
    runner._consumer = held
    return runner


async def _poll(runner: KafkaStreamRunner, held: HeldRecords) -> list[tuple[str, int, int]]:
    batches = await held.getmany(timeout_ms=300, max_records=2)
    batches, _ = await runner._top_up(batches, runner._generation)
    return [(r.topic, r.partition, r.offset) for records in batches.values() for r in records]


LIMITS = {"max_poll_records": 2, "max_batch_records": 5, "batched_topics": [SOURCE_CHANGES.name]}


async def test_a_poll_of_changes_only_is_topped_up_to_the_batch_in_parts_of_a_poll() -> None:
    held = HeldRecords([_record(CHANGES[i % 2], i) for i in range(8)])
    runner = _runner(held, **LIMITS)

    polled = await _poll(runner, held)

    # Each partition's records in offset order; the rest stays held for the next poll.
    assert polled == [(SOURCE_CHANGES.name, 0, 0), (SOURCE_CHANGES.name, 0, 2), (SOURCE_CHANGES.name, 0, 4),
                      (SOURCE_CHANGES.name, 1, 1), (SOURCE_CHANGES.name, 1, 3)]  # fmt: skip
    assert held.asked == [2, 2, 1]
    assert [r.offset for r in held.records] == [5, 6, 7]


async def test_a_fetch_failing_while_topping_up_keeps_the_records_already_polled() -> None:
    # The consumer's position is already past them: dropped here, they would never be applied (a
    # partition with nothing processed since its last commit is not rewound when the loop waits out the
    # failure).
    held = HeldRecords([_record(CHANGES[0], i) for i in range(8)], failing_after=2)
    runner = _runner(held, **LIMITS)

    polled = await _poll(runner, held)

    assert polled == [(SOURCE_CHANGES.name, 0, 0), (SOURCE_CHANGES.name, 0, 1),
                      (SOURCE_CHANGES.name, 0, 2), (SOURCE_CHANGES.name, 0, 3)]  # fmt: skip
    assert held.asked == [2, 2]


async def test_a_poll_holding_a_signal_is_not_topped_up() -> None:
    held = HeldRecords([_record(CHANGES[0], 0), _record(SIGNALS, 0), _record(CHANGES[0], 1)])
    runner = _runner(held, **LIMITS)

    polled = await _poll(runner, held)

    assert polled == [(SOURCE_CHANGES.name, 0, 0), (COMPANY_REVEALED.name, 0, 0)]
    assert held.asked == [2]


async def test_topping_up_stops_after_a_part_with_signals_so_a_batch_holds_at_most_a_poll_of_them() -> None:
    held = HeldRecords(
        [*(_record(CHANGES[0], i) for i in range(2)), *(_record(SIGNALS, i) for i in range(4))]
    )
    runner = _runner(held, **LIMITS)

    polled = await _poll(runner, held)

    assert [t for t, _, _ in polled].count(COMPANY_REVEALED.name) == 2
    assert held.asked == [2, 2]


async def test_without_a_larger_batch_nothing_is_topped_up() -> None:
    held = HeldRecords([_record(CHANGES[0], i) for i in range(6)])
    runner = _runner(held, max_poll_records=2, batched_topics=[SOURCE_CHANGES.name])

    assert len(await _poll(runner, held)) == 2
    assert held.asked == [2]


def test_the_pushers_batched_topics_are_the_source_changes_only() -> None:
    # The pusher applies source changes in batches (a sync's, an import's), pushes (signals, requests) and
    # settings one at a time.
    assert batched_topics(topics_consumed_by("pusher"), ["psync.source.changed"]) == [
        SOURCE_CHANGES.name,
        BULK_SOURCE_CHANGES.name,
    ]
    assert batched_topics(topics_consumed_by("pusher"), []) == []


async def test_a_top_up_fetch_that_returns_after_a_revocation_replaces_what_was_polled_before() -> None:
    # aiokafka's fetch waits for the new assignment during a rebalance; the records polled before it may
    # belong to another replica now (they are read again from their committed offsets by their owner).
    held = HeldRecords([_record(CHANGES[0], i) for i in range(8)])
    runner = _runner(held, **LIMITS)
    fetch = held.getmany

    async def fetch_across_a_rebalance(
        *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> Any:
        runner._generation += 1
        return await fetch(*partitions, timeout_ms=timeout_ms, max_records=max_records)

    polled_in = runner._generation
    batches = await held.getmany(timeout_ms=300, max_records=2)
    held.getmany = fetch_across_a_rebalance  # type: ignore[method-assign]
    batches, generation = await runner._top_up(batches, polled_in)

    assert [r.offset for records in batches.values() for r in records] == [2, 3]
    assert generation == polled_in + 1
