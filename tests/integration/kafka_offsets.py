"""Consumer-group positioning for tests, as an SRE would do it with `ConsumerGroupCommand --reset-offsets`.

A test's fresh group would otherwise start at the beginning of topics that hold every earlier run's
messages; positioning it at their end first makes the test read only what it produces.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import TopicSpec


async def _commit(bootstrap: str, group_id: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


def _partitions(topics: Iterable[TopicSpec]) -> list[TopicPartition]:
    return [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]


async def position_group_at_end(bootstrap: str, group_id: str, topics: Iterable[TopicSpec]) -> None:
    """Commit the current end offsets of every partition of `topics` for a group with no members."""
    partitions = _partitions(topics)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        ends = await probe.end_offsets(partitions)
    finally:
        await probe.stop()
    await _commit(bootstrap, group_id, ends)


async def rewind_group(bootstrap: str, group_id: str, offsets: dict[TopicPartition, int]) -> None:
    """Move a group with no members back to the given offsets (a replay from there on)."""
    await _commit(bootstrap, group_id, offsets)
