"""The idempotent producer (acks=all) every service writes events with."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from stream_runner.messages import OutgoingMessage


class EventProducer:
    """Sends messages and waits for the broker's acknowledgement of each."""

    def __init__(self, bootstrap: str, client_id: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            request_timeout_ms=30_000,
        )

    async def start(self) -> None:
        """Connect to the cluster."""
        await self._producer.start()

    async def stop(self) -> None:
        """Flush what is pending and disconnect."""
        await self._producer.stop()

    async def send_all(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send the messages (in order per partition) and return once every one is acknowledged."""
        futures = [
            await self._producer.send(
                m.topic, key=m.key.encode(), value=m.value, headers=list(m.headers) or None
            )
            for m in messages
        ]
        await asyncio.gather(*futures)

    async def check_cluster(self) -> None:
        """Readiness check: raises when no broker answers a metadata request."""
        await self._producer.client.fetch_all_metadata()
