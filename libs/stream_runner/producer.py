"""The idempotent producer (acks=all) every service writes events with."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from stream_runner.messages import OutgoingMessage

Delivery = asyncio.Future[object]
"""Resolves when the broker acknowledged one produced message (raises if it never will)."""


class EventProducer:
    """Sends messages and waits for the broker's acknowledgement of each."""

    def __init__(self, bootstrap: str, client_id: str) -> None:
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

    async def start(self) -> None:
        """Connect to the cluster."""
        await self._producer.start()

    async def stop(self) -> None:
        """Flush what is pending and disconnect."""
        await self._producer.stop()

    async def enqueue(self, messages: Sequence[OutgoingMessage]) -> list[Delivery]:
        """Hand the messages to the producer (in order per partition); one delivery future each.

        Returns once they are buffered, not acknowledged: callers await the deliveries before they commit
        the offsets that produced them, so many messages share one round trip to the broker.
        """
        return [
            await self._producer.send(
                m.topic, key=m.key.encode(), value=m.value, headers=list(m.headers) or None
            )
            for m in messages
        ]

    async def send_all(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send the messages and return once every one is acknowledged."""
        await asyncio.gather(*await self.enqueue(messages))

    async def check_cluster(self) -> None:
        """Readiness check: raises when no broker answers a metadata request."""
        await self._producer.client.fetch_all_metadata()
