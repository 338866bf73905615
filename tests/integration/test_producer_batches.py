"""The producer packs messages into record batches per partition and hands back one delivery per message,
in the messages' order: each resolves with its own batch's metadata, and every message arrives once, in
order within its key's partition."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream_runner.messages import OutgoingMessage
from stream_runner.namespace import TopicNamespace
from stream_runner.partitioning import partition_of
from stream_runner.producer import EventProducer, acknowledged

PARTITIONS = 3


@pytest.fixture
async def topic(kafka_admin: AIOKafkaAdminClient) -> AsyncIterator[str]:
    name = f"itest.{uuid.uuid4().hex[:10]}.batches"  # a throwaway topic: no namespace
    await kafka_admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])
    yield name
    await kafka_admin.delete_topics([name])


async def produced(kafka_bootstrap: str, client_id: str, messages: list[OutgoingMessage]) -> list[Any]:
    """The deliveries of `messages` sent in one hand-over by a fresh producer, all acknowledged."""
    producer = EventProducer(kafka_bootstrap, client_id=client_id, namespace=TopicNamespace())
    await producer.start()
    try:
        deliveries = await producer.enqueue(messages)
        await acknowledged(deliveries)
    finally:
        await producer.stop()
    return list(deliveries)


async def read_back(kafka_bootstrap: str, topics: list[str], count: int) -> list[ConsumerRecord[Any, Any]]:
    """The first `count` messages of `topics` from their start, as they arrive (each partition's in order);
    fails if none arrive for 10 s before that."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        received: list[ConsumerRecord[Any, Any]] = []
        while len(received) < count:
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, f"only {len(received)} of {count} messages arrived"
            for records in batches.values():
                received += records
        return received
    finally:
        await consumer.stop()


async def test_deliveries_follow_the_messages_across_batches_and_partitions(
    kafka_bootstrap: str, topic: str
) -> None:
    # 600 messages of 2 KB: more than one 256 KiB batch per partition.
    messages = [OutgoingMessage(topic, f"t:organization:{n}", f"{n:06d}".encode() * 341) for n in range(600)]
    deliveries = await produced(kafka_bootstrap, "itest-batches", messages)

    assert len(deliveries) == len(messages)
    expected = [partition_of(m.key.encode(), PARTITIONS) for m in messages]
    assert [d.result().partition for d in deliveries] == expected
    assert len({id(d) for d in deliveries}) > PARTITIONS  # several batches per partition
    received = [
        (r.partition, r.key.decode(), r.value)
        for r in await read_back(kafka_bootstrap, [topic], len(messages))
    ]
    for partition in range(PARTITIONS):
        sent = [(m.key, m.value) for m, p in zip(messages, expected, strict=True) if p == partition]
        assert [(k, v) for p, k, v in received if p == partition] == sent


async def test_a_message_without_headers_arrives_without_any_whatever_the_builder_did_with_others(
    kafka_bootstrap: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiokafka's record builder takes each message's headers as a list and promises nothing about leaving
    # it alone: one that appended to what it was handed must not give the next message headers.
    producer = EventProducer(kafka_bootstrap, client_id="itest-headers", namespace=TopicNamespace())
    create_batch = producer._producer.create_batch

    class Scribbling:
        def __init__(self) -> None:
            self._batch = create_batch()

        def append(self, **fields: Any) -> Any:
            metadata = self._batch.append(**fields)
            fields["headers"].append(("scribbled", b"1"))
            return metadata

        def __getattr__(self, name: str) -> Any:
            return getattr(self._batch, name)

    monkeypatch.setattr(producer._producer, "create_batch", Scribbling)
    messages = [
        OutgoingMessage(topic, "t:organization:1", b"first"),
        OutgoingMessage(topic, "t:organization:1", b"second", headers=(("kind", b"dead-letter"),)),
        OutgoingMessage(topic, "t:organization:1", b"third"),
    ]
    await producer.start()
    try:
        await producer.send_all(messages)
    finally:
        await producer.stop()

    received = [(r.value, list(r.headers)) for r in await read_back(kafka_bootstrap, [topic], len(messages))]
    assert received == [(b"first", []), (b"second", [("kind", b"dead-letter")]), (b"third", [])]


async def test_a_batch_of_two_topics_reaches_each_topic_in_its_keys_partitions_in_order(
    kafka_bootstrap: str, kafka_admin: AIOKafkaAdminClient, topic: str
) -> None:
    other = f"{topic}.other"
    await kafka_admin.create_topics([NewTopic(other, num_partitions=PARTITIONS, replication_factor=1)])
    try:
        messages = [
            OutgoingMessage(topic if n % 3 else other, f"t:organization:{n}", f"{n:04d}".encode())
            for n in range(90)
        ]
        deliveries = await produced(kafka_bootstrap, "itest-two-topics", messages)

        expected = [(m.topic, partition_of(m.key.encode(), PARTITIONS)) for m in messages]
        assert [(d.result().topic, d.result().partition) for d in deliveries] == expected
        received = [
            (r.topic, r.partition, r.value)
            for r in await read_back(kafka_bootstrap, [topic, other], len(messages))
        ]
        for where in set(expected):
            sent = [m.value for m, w in zip(messages, expected, strict=True) if w == where]
            assert [v for t, p, v in received if (t, p) == where] == sent
    finally:
        await kafka_admin.delete_topics([other])
