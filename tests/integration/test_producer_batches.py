"""The producer packs messages into record batches per partition and hands back one delivery per message,
in the messages' order: each resolves with its own batch's metadata, and every message arrives once, in
order within its key's partition."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer
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


async def test_deliveries_follow_the_messages_across_batches_and_partitions(
    kafka_bootstrap: str, topic: str
) -> None:
    # 600 messages of 2 KB: more than one 256 KiB batch per partition.
    messages = [OutgoingMessage(topic, f"t:organization:{n}", f"{n:06d}".encode() * 341) for n in range(600)]
    producer = EventProducer(kafka_bootstrap, client_id="itest-batches", namespace=TopicNamespace())
    await producer.start()
    try:
        deliveries = await producer.enqueue(messages)
        await acknowledged(deliveries)
    finally:
        await producer.stop()

    assert len(deliveries) == len(messages)
    expected = [partition_of(m.key.encode(), PARTITIONS) for m in messages]
    assert [d.result().partition for d in deliveries] == expected  # type: ignore[attr-defined]
    assert len({id(d) for d in deliveries}) > PARTITIONS  # several batches per partition
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        received: list[tuple[int, str, bytes]] = []
        while len(received) < len(messages):
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, f"only {len(received)} of {len(messages)} messages arrived"
            for records in batches.values():
                received += [(r.partition, r.key.decode(), r.value) for r in records]
    finally:
        await consumer.stop()
    for partition in range(PARTITIONS):
        sent = [(m.key, m.value) for m, p in zip(messages, expected, strict=True) if p == partition]
        assert [(k, v) for p, k, v in received if p == partition] == sent
