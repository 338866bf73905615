"""A backlog of bulk work (an import's changes, `TopicSpec.bulk`) never queues ahead of live events: every
other poll takes the live topics' records alone when there are any, and a poll without any hands the turn
to everything, so the bulk work still gets every second poll."""

from __future__ import annotations

from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry

from schemas.topics import (
    BULK_SOURCE_CHANGES,
    COMPANY_REVEALED,
    PUSH_REQUESTS,
    SOURCE_CHANGES,
    topics_consumed_by,
)
from stream_runner.kafka_runner import KafkaStreamRunner
from stream_runner.metrics import RunnerMetrics
from stream_runner.namespace import TopicNamespace
from stream_runner.processor import MessageProcessor
from tests.unit.stream_runner.test_dead_letter_records import SentMessages
from tests.unit.stream_runner.test_poll_top_up import HeldRecords

BULK = TopicPartition(BULK_SOURCE_CHANGES.name, 0)
LIVE = TopicPartition(SOURCE_CHANGES.name, 0)
SIGNALS = TopicPartition(COMPANY_REVEALED.name, 0)
ASSIGNED = {BULK, LIVE, SIGNALS}


def _record(partition: TopicPartition, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(partition.topic, partition.partition, offset, 0, 0, b"k", b"{}", None, 0, 0, [])


def _runner(held: HeldRecords, bulk_topics: list[str]) -> KafkaStreamRunner:
    processor = MessageProcessor("itest", {}, SentMessages(), RunnerMetrics(CollectorRegistry()))
    runner = KafkaStreamRunner(
        bootstrap="127.0.0.1:9", group_id="itest", processor=processor, client_id="itest",
        topics=[BULK_SOURCE_CHANGES.name, SOURCE_CHANGES.name, COMPANY_REVEALED.name],
        namespace=TopicNamespace(), bulk_topics=bulk_topics,
    )  # fmt: skip
    runner._consumer = held
    return runner


def _polled(batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> list[tuple[str, int]]:
    return [(r.topic, r.offset) for records in batches.values() for r in records]


async def test_live_records_fetched_behind_a_bulk_backlog_are_polled_first() -> None:
    held = HeldRecords(
        [*(_record(BULK, i) for i in range(3)), _record(LIVE, 7), _record(SIGNALS, 4)], assigned=ASSIGNED
    )
    runner = _runner(held, [BULK_SOURCE_CHANGES.name])

    first = await runner._poll()

    assert _polled(first) == [(SOURCE_CHANGES.name, 7), (COMPANY_REVEALED.name, 4)]
    assert _polled(await runner._poll()) == [(BULK_SOURCE_CHANGES.name, i) for i in range(3)]


async def test_the_bulk_work_gets_every_second_poll_however_many_live_records_come() -> None:
    held = HeldRecords([_record(BULK, 0), *(_record(LIVE, i) for i in range(4))], assigned=ASSIGNED)
    runner = _runner(held, [BULK_SOURCE_CHANGES.name])

    live_turn = _polled(await runner._poll())
    held.records.extend(_record(LIVE, i) for i in range(4, 8))  # more live records came meanwhile
    everyones_turn = _polled(await runner._poll())

    assert live_turn == [(SOURCE_CHANGES.name, i) for i in range(4)]
    # Everyone's turn, in fetch order: the bulk record first.
    assert everyones_turn[0] == (BULK_SOURCE_CHANGES.name, 0)


async def test_a_live_turn_without_live_records_polls_everything() -> None:
    held = HeldRecords([_record(BULK, i) for i in range(2)], assigned=ASSIGNED)
    runner = _runner(held, [BULK_SOURCE_CHANGES.name])

    assert _polled(await runner._poll()) == [(BULK_SOURCE_CHANGES.name, 0), (BULK_SOURCE_CHANGES.name, 1)]


async def test_without_bulk_topics_a_poll_is_in_fetch_order() -> None:
    held = HeldRecords([_record(BULK, 0), _record(LIVE, 0)], assigned=ASSIGNED)
    runner = _runner(held, [])

    assert _polled(await runner._poll()) == [(BULK_SOURCE_CHANGES.name, 0), (SOURCE_CHANGES.name, 0)]


def test_the_import_changes_and_the_manual_pushes_are_the_bulk_topics() -> None:
    assert [t.name for t in topics_consumed_by("mapper") if t.bulk] == [BULK_SOURCE_CHANGES.name]
    assert {t.name for t in topics_consumed_by("pusher") if t.bulk} == {
        BULK_SOURCE_CHANGES.name,
        PUSH_REQUESTS.name,
    }
    assert not [t.name for t in topics_consumed_by("auditlog") if t.bulk]
