"""The idempotent producer (acks=all) every service writes events with."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from stream_runner.messages import OutgoingMessage
from stream_runner.namespace import TopicNamespace
from stream_runner.partitioning import partitions_of
from stream_runner.reachability import wait_until_reachable

Delivery = asyncio.Future[object]
"""Resolves when the broker acknowledged one produced message (raises if it never will)."""


class EventProducer:
    """Sends messages and waits for the broker's acknowledgement of each (to the cluster's names of their
    logical topics in `namespace`)."""

    def __init__(self, bootstrap: str, client_id: str, *, namespace: TopicNamespace) -> None:
        self._namespace = namespace
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            # A batch handler hands over thousands of results at once: fewer, larger produce requests
            # cost the broker and this process less than the default 16 KiB batches.
            max_batch_size=262_144,
            request_timeout_ms=30_000,
        )

    async def start(self, *, connect_deadline_s: float = 0.0) -> None:
        """Connect to the cluster, waiting up to `connect_deadline_s` for a broker to answer (a service
        started while Kafka is away waits rather than exits, `stream_runner.reachability`); raises
        Unreachable when none does by then."""
        await wait_until_reachable(
            self._producer.start,
            dependency="kafka",
            unreachable=(KafkaError, OSError),
            deadline_s=connect_deadline_s,
        )

    async def stop(self) -> None:
        """Flush what is pending and disconnect."""
        await self._producer.stop()

    async def enqueue(self, messages: Sequence[OutgoingMessage]) -> list[Delivery]:
        """Hand the messages to the producer (in order per partition); one delivery future each.

        Returns once they are buffered, not acknowledged: callers await the deliveries before they commit
        the offsets that produced them, so many messages share one round trip to the broker. Messages
        are packed into record batches per partition (as many as their size needs), which costs this
        process about a third of handing them over one by one; a key's partition is the one `send` and
        Kafka's Java clients choose (murmur2 of the key).
        """
        deliveries: list[Delivery | None] = [None] * len(messages)
        for (topic, partition), indexed in (await self._by_partition(messages)).items():
            batch, members = self._producer.create_batch(), list[int]()
            for index, key, message in indexed:
                # A list of its own per message: aiokafka's record builder takes only a list (its C builder
                # refuses a tuple) and promises nothing about leaving it alone; an empty one costs about
                # 140 of the 25,800 instructions a message takes here (callgrind).
                headers = list(message.headers) if message.headers else []
                while batch.append(key=key, value=message.value, timestamp=None, headers=headers) is None:
                    if not members:
                        raise ValueError(f"a message of {len(message.value)} bytes fits in no batch")
                    # Full: send it, start the next with this message.
                    await self._send_batch(batch, topic, partition, members, deliveries)
                    batch, members = self._producer.create_batch(), list[int]()
                members.append(index)
            await self._send_batch(batch, topic, partition, members, deliveries)
        return cast(list[Delivery], deliveries)  # every message is a member of one batch

    async def _by_partition(
        self, messages: Sequence[OutgoingMessage]
    ) -> dict[tuple[str, int], list[tuple[int, bytes, OutgoingMessage]]]:
        """The messages by (the cluster's topic, partition), each group in the messages' order and the
        groups in the order of their first message; the keys of a topic's messages hashed in one go
        (`partitions_of`)."""
        keys = [message.key.encode() for message in messages]
        names = {message.topic for message in messages}
        topics: dict[str, str] = {}  # logical topic: the cluster's
        if len(names) == 1:  # the usual batch: one topic
            (name,) = names
            topics[name], count = await self._topic(name)
            partitions = partitions_of(keys, count)
        else:
            partitions = [0] * len(messages)
            for name in names:
                indexes = [i for i, message in enumerate(messages) if message.topic == name]
                topics[name], count = await self._topic(name)
                for i, partition in zip(
                    indexes, partitions_of([keys[i] for i in indexes], count), strict=True
                ):
                    partitions[i] = partition
        groups: dict[tuple[str, int], list[tuple[int, bytes, OutgoingMessage]]] = {}
        for index, (message, key, partition) in enumerate(zip(messages, keys, partitions, strict=True)):
            where = (topics[message.topic], partition)
            group = groups.get(where)
            if group is None:
                group = groups[where] = []
            group.append((index, key, message))
        return groups

    async def _topic(self, logical: str) -> tuple[str, int]:
        """The cluster's name of a logical topic and its partition count."""
        topic = self._namespace.topic(logical)
        return topic, len(await self._producer.partitions_for(topic))

    async def _send_batch(
        self, batch: Any, topic: str, partition: int, members: list[int], deliveries: list[Delivery | None]
    ) -> None:
        # A batch handed over whole is complete: closed, it is sent at the sender's next turn. Left open,
        # aiokafka holds it for `linger_ms` first (5 ms per enqueue, a page's wait for its acks).
        batch.close()
        sent: Delivery = await self._producer.send_batch(batch, topic, partition=partition)
        for member in members:
            deliveries[member] = sent

    async def send_all(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send the messages and return once every one is acknowledged."""
        await acknowledged(await self.enqueue(messages))

    async def check_cluster(self) -> None:
        """Readiness check: raises when no broker answers a metadata request."""
        await self._producer.client.fetch_all_metadata()


async def acknowledged(deliveries: Sequence[Delivery]) -> None:
    """Wait until every delivery resolved (raises the first failure, as `asyncio.gather` does). The
    messages of a batch share its delivery: each is awaited once, not once per message."""
    await asyncio.gather(*dict.fromkeys(deliveries))
