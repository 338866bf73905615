"""Consumer-group positioning for tests, as an SRE would do it with `ConsumerGroupCommand --reset-offsets`.

A test's fresh group would otherwise start at the beginning of topics that hold every earlier run's
messages; positioning it at their end first makes the test read only what it produces.

Groups and topics are named by their logical names (a service's *_GROUP_ID, the registry's specs) and
found in the process's namespace (`PSYNC_TOPIC_PREFIX` when called: the test process's, which
tests/topic_namespace.py sets, or a benchmark's); partitions (`TopicPartition`) are the cluster's, as
aiokafka gives them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import TopicSpec
from stream_runner.namespace import TopicNamespace

# A fresh consumer's first offset request for a topic waits for the topic's metadata and is retried after
# retry_backoff_ms: 100 ms by default, 0.1 s of every `end_offsets` (measured: 0.105 s, 0.012 with 10).
_RETRY_BACKOFF_MS = 10


async def _commit(bootstrap: str, group_id: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=TopicNamespace.from_environment().group(group_id),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


def _partitions(topics: Iterable[TopicSpec]) -> list[TopicPartition]:
    namespace = TopicNamespace.from_environment()
    return [TopicPartition(namespace.topic(t.name), p) for t in topics for p in range(t.partitions)]


async def position_group_at_end(bootstrap: str, group_id: str, topics: Iterable[TopicSpec]) -> None:
    """Commit the current end offsets of every partition of `topics` for a group with no members."""
    partitions = _partitions(topics)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, retry_backoff_ms=_RETRY_BACKOFF_MS)
    await probe.start()
    try:
        ends = await probe.end_offsets(partitions)
    finally:
        await probe.stop()
    await _commit(bootstrap, group_id, ends)


async def rewind_group(bootstrap: str, group_id: str, offsets: dict[TopicPartition, int]) -> None:
    """Move a group with no members back to the given offsets (a replay from there on)."""
    await _commit(bootstrap, group_id, offsets)


async def committed_short_of(
    admin: AIOKafkaAdminClient, group_id: str, ends: dict[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """The partitions of `ends` whose committed offset in the group is short of it, with that offset (-1:
    none committed); empty once the group has committed up to `ends` everywhere."""
    committed = await admin.list_consumer_group_offsets(TopicNamespace.from_environment().group(group_id))
    offsets = {partition: committed[partition].offset if partition in committed else -1 for partition in ends}
    return {partition: offset for partition, offset in offsets.items() if offset < ends[partition]}


async def end_offsets(bootstrap: str, topic: TopicSpec) -> dict[TopicPartition, int]:
    """The current end offset of every partition of `topic` (a mark to read from later)."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, retry_backoff_ms=_RETRY_BACKOFF_MS)
    await probe.start()
    try:
        return dict(await probe.end_offsets(_partitions([topic])))
    finally:
        await probe.stop()


async def values_since(bootstrap: str, topic: TopicSpec, since: dict[TopicPartition, int]) -> list[bytes]:
    """Every message value written to `topic` after the `since` mark and before its current end."""
    return [value for _, value in await keyed_values_since(bootstrap, topic, since)]


async def keyed_values_since(
    bootstrap: str, topic: TopicSpec, since: dict[TopicPartition, int]
) -> list[tuple[bytes, bytes]]:
    """Every message (key, value) written to `topic` after the `since` mark and before its current end."""
    ends = await end_offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
        retry_backoff_ms=_RETRY_BACKOFF_MS,
    )
    await consumer.start()
    found: list[tuple[bytes, bytes]] = []
    try:
        remaining = {p for p, offset in since.items() if ends[p] > offset}
        consumer.assign(list(remaining))
        for partition in remaining:
            consumer.seek(partition, since[partition])
        while remaining:
            for partition, records in (await consumer.getmany(*remaining, timeout_ms=1000)).items():
                found += [(r.key or b"", r.value or b"") for r in records if r.offset < ends[partition]]
                if records and records[-1].offset + 1 >= ends[partition]:
                    remaining.discard(partition)
    finally:
        with contextlib.suppress(asyncio.CancelledError):  # aiokafka's stop of a group-less consumer
            await consumer.stop()
    return found
