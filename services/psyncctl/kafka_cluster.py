"""Kafka as psyncctl sees it: groups, their members and committed offsets, end offsets, offsets at a time,
reading a range of a partition, committing a group's offsets and producing. The one Kafka adapter here:
callers name topics and groups by their logical names, which it finds in the deployment's namespace."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from stream_runner.namespace import TopicNamespace

_TIMEOUT_MS = 15_000
_EMPTY_GROUP_STATES = frozenset({"Empty", "Dead"})


@dataclass(frozen=True)
class GroupState:
    """A consumer group's state as the coordinator reports it, and how many members it has."""

    group: str
    state: str
    members: int

    @property
    def is_empty(self) -> bool:
        """No member consumes: its offsets may be moved."""
        return self.members == 0 and self.state in _EMPTY_GROUP_STATES


@dataclass(frozen=True)
class Message:
    """One record read from a partition (headers as Kafka gives them)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


class KafkaCluster:
    """One admin client, one group-less consumer and one producer, opened on demand; topics and groups in
    and out by their logical names in `namespace`."""

    def __init__(self, bootstrap: str, namespace: TopicNamespace) -> None:
        self._bootstrap = bootstrap
        self._names = namespace
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    async def close(self) -> None:
        """Close whatever was opened."""
        if self._producer is not None:
            await self._producer.stop()
        if self._consumer is not None:
            with contextlib.suppress(asyncio.CancelledError):  # aiokafka's stop of a group-less consumer
                await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    async def _admin_client(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(
                bootstrap_servers=self._bootstrap, request_timeout_ms=_TIMEOUT_MS
            )
            await self._admin.start()
        return self._admin

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            request_timeout_ms=_TIMEOUT_MS,
            fetch_max_wait_ms=50,  # a range ends where data ends: do not wait for more
            max_partition_fetch_bytes=8 << 20,
        )

    async def _reader(self) -> AIOKafkaConsumer:
        """The consumer offset queries use (it is never assigned partitions)."""
        if self._consumer is None:
            self._consumer = self._new_consumer()
            await self._consumer.start()
        return self._consumer

    def _physical(self, partition: TopicPartition) -> TopicPartition:
        return TopicPartition(self._names.topic(partition.topic), partition.partition)

    def _logical(self, partition: TopicPartition) -> TopicPartition:
        return TopicPartition(self._names.logical_topic(partition.topic), partition.partition)

    def _logical_offsets(self, offsets: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        return {self._logical(tp): offset for tp, offset in offsets.items() if self._names.owns(tp.topic)}

    async def groups(self) -> list[str]:
        """Every consumer group of the deployment's namespace the cluster knows."""
        found = [str(g[0]) for g in await (await self._admin_client()).list_consumer_groups()]
        return sorted(self._names.logical_group(g) for g in found if self._names.owns(g))

    async def group_state(self, group: str) -> GroupState:
        """The group's state and member count (a group never seen is `Dead` with no members)."""
        physical = self._names.group(group)
        responses = await (await self._admin_client()).describe_consumer_groups([physical])
        for response in responses:
            for described in response.groups:
                error_code, group_id, state, _protocol_type, _protocol, members = described[:6]
                if group_id == physical and not error_code:
                    return GroupState(group, str(state), len(members))
        return GroupState(group, "Dead", 0)

    async def committed(self, group: str) -> dict[TopicPartition, int]:
        """The group's committed offset of every partition it has one for."""
        offsets = await (await self._admin_client()).list_consumer_group_offsets(self._names.group(group))
        return self._logical_offsets({tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0})

    async def partitions(self, topic: str) -> list[TopicPartition]:
        """The topic's partitions (none for a topic the cluster does not have)."""
        physical = self._names.topic(topic)
        described = await (await self._admin_client()).describe_topics([physical])
        found = [
            p["partition"]
            for t in described
            if t.get("topic") == physical and not t.get("error_code")
            for p in t["partitions"]
        ]
        return [TopicPartition(topic, p) for p in sorted(found)]

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The offset the next message of each partition will get."""
        if not partitions:
            return {}
        ends = await (await self._reader()).end_offsets([self._physical(tp) for tp in partitions])
        return self._logical_offsets(ends)

    async def beginning_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The oldest offset still retained in each partition."""
        if not partitions:
            return {}
        starts = await (await self._reader()).beginning_offsets([self._physical(tp) for tp in partitions])
        return self._logical_offsets(starts)

    async def offsets_at(self, partitions: Sequence[TopicPartition], at_ms: int) -> dict[TopicPartition, int]:
        """The first offset at or after `at_ms` in each partition (its end when none is that recent)."""
        found = {
            self._logical(tp): hit
            for tp, hit in (
                await (await self._reader()).offsets_for_times(
                    {self._physical(tp): at_ms for tp in partitions}
                )
            ).items()
        }
        ends = await self.end_offsets([tp for tp, hit in found.items() if hit is None])
        return {tp: hit.offset if hit is not None else ends[tp] for tp, hit in found.items()}

    async def read(self, ranges: Mapping[TopicPartition, tuple[int, int]]) -> AsyncGenerator[Message, None]:
        """Every message of each partition in [start, end): in offset order within a partition, the
        partitions read together.

        Each read has a consumer of its own, assigned once and stopped at the end: aiokafka's fetcher,
        stopped while it cleans up after a re-assignment, swallows its cancellation and its `stop()`
        never returns (seen as a psyncctl command hanging at exit after reading a second topic)."""
        ends = {self._physical(tp): end for tp, (start, end) in ranges.items() if start < end}
        starts = {self._physical(tp): start for tp, (start, _) in ranges.items()}
        if not ends:
            return
        consumer = self._new_consumer()
        await consumer.start()
        try:
            consumer.assign(list(ends))
            for tp in ends:
                consumer.seek(tp, starts[tp])
            while ends:
                batches = await consumer.getmany(*ends, timeout_ms=500, max_records=2000)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset < ends[tp]:
                            yield _message(record, self._names)
                for tp in list(ends):
                    # The position passes offsets that hold no message (transaction markers, compaction).
                    if await consumer.position(tp) >= ends[tp]:
                        del ends[tp]
        finally:
            await consumer.stop()

    async def commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Set a group's committed offsets (the group must have no members: Kafka refuses otherwise)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, group_id=self._names.group(group), enable_auto_commit=False
        )
        physical = {self._physical(tp): offset for tp, offset in offsets.items()}
        await consumer.start()
        try:
            consumer.assign(list(physical))
            await consumer.commit(physical)
        finally:
            await consumer.stop()

    async def produce(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes]]
    ) -> tuple[int, int]:
        """Produce one message (idempotent, acks=all) and return its (partition, offset) once acknowledged."""
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap, enable_idempotence=True, acks="all"
            )
            await self._producer.start()
        sent = await self._producer.send_and_wait(
            self._names.topic(topic), key=key, value=value, headers=list(headers) or None
        )
        return sent.partition, sent.offset


def _message(record: ConsumerRecord[bytes, bytes], names: TopicNamespace) -> Message:
    return Message(
        topic=names.logical_topic(record.topic),
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=record.key,
        value=record.value,
        headers=tuple((name, value or b"") for name, value in record.headers),
    )
