"""Reading back what was produced to a topic after a mark, for one tenant (one consumer, no group)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.topic_namespace import NAMESPACE


@dataclass(frozen=True)
class Produced:
    """One record: key, headers and the event it carries."""

    key: str
    headers: dict[str, str]
    event: dict[str, Any]


class TopicTail:
    """Marks the end of a topic (by its logical name), then reads the tenant's records produced since."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap, self.topic = bootstrap, NAMESPACE.topic(topic)
        self._marks: dict[TopicPartition, int] = {}

    async def mark(self) -> TopicTail:
        """Remember the current end of every partition."""
        async with _consumer(self._bootstrap) as consumer:
            self._marks = await _ends(consumer, self.topic)
        return self

    async def since_mark(self, tenant: str) -> list[Produced]:
        """The tenant's records between the mark and the current end, in offset order per partition."""
        found: list[Produced] = []
        async with _consumer(self._bootstrap) as consumer:
            ends = await _ends(consumer, self.topic)
            wanted = [tp for tp, end in ends.items() if end > self._marks.get(tp, 0)]
            if not wanted:
                return []
            consumer.assign(wanted)
            for tp in wanted:
                consumer.seek(tp, self._marks.get(tp, 0))
            remaining = set(wanted)
            while remaining:
                batch = await consumer.getmany(*remaining, timeout_ms=1000)
                for tp, messages in batch.items():
                    for message in messages:
                        if message.offset >= ends[tp]:
                            remaining.discard(tp)
                            continue
                        event = orjson.loads(message.value) if message.value else {}
                        if event.get("tenantid") == tenant:
                            headers = {k: v.decode() for k, v in message.headers}
                            found.append(Produced((message.key or b"").decode(), headers, event))
                        if message.offset + 1 >= ends[tp]:
                            remaining.discard(tp)
        return found


@contextlib.asynccontextmanager
async def _consumer(bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def _ends(consumer: AIOKafkaConsumer, topic: str) -> dict[TopicPartition, int]:
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        cluster = await consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(topic) or set()
    ends: dict[TopicPartition, int] = await consumer.end_offsets(
        [TopicPartition(topic, p) for p in partitions]
    )
    return ends
