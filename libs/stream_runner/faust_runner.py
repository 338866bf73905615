"""The faust-streaming transport of the runner, for the services built as faust apps.

The app is built in a factory (never at import time). Its one agent reads raw bytes from the service's
topics and hands each message to the shared `MessageProcessor`; faust acknowledges an event only when the
agent moves past it, and commits acknowledged offsets every `commit_interval_s`, so offsets are committed
after the effects. Redeliveries after a crash are dropped by the handlers' inbox.

Two differences from the aiokafka runner, both deliberate: faust consumes with `read_uncommitted` unless
it runs Kafka transactions itself, which is equivalent here because no producer of ours is transactional;
and it assigns partitions with its own assignor, which co-partitions topics of equal partition counts
(all of ours have 12), so partition i of every topic lands on the same worker as range assignment would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import faust
import structlog

from stream_runner.messages import IncomingMessage
from stream_runner.processor import MessageProcessor, StopRequested
from stream_runner.producer import Delivery

_log = structlog.get_logger(__name__)


def incoming_from_faust(message: Any) -> IncomingMessage:
    """The transport-neutral form of a faust `Message`."""
    headers = message.headers or ()
    items = headers.items() if isinstance(headers, dict) else headers
    return IncomingMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=tuple((k, bytes(v)) for k, v in items),
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )


_MAX_UNACKED = 8000
_IN_FLIGHT_GRACE_S = 30.0


def _nothing_queued(stream: Any) -> bool:
    """Whether no further event waits in the stream's channel (True when that cannot be told)."""
    queue = getattr(stream.channel, "queue", None)
    return queue is None or bool(queue.empty())


class _AckQueue:
    """Applied events waiting for their outputs' deliveries; acknowledged to faust once delivered."""

    def __init__(self) -> None:
        self._entries: deque[tuple[Any, Any, tuple[Delivery, ...]]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, stream: Any, event: Any, deliveries: tuple[Delivery, ...]) -> None:
        self._entries.append((stream, event, deliveries))

    async def ack_delivered(self) -> None:
        """Acknowledge the leading events whose deliveries are all done (raises for a failed one)."""
        while self._entries and all(d.done() for d in self._entries[0][2]):
            stream, event, deliveries = self._entries.popleft()
            for delivery in deliveries:
                delivery.result()
            await stream.ack(event)

    async def drain(self) -> None:
        """Wait for every pending delivery, then acknowledge its event."""
        while self._entries:
            stream, event, deliveries = self._entries.popleft()
            await asyncio.gather(*deliveries)
            await stream.ack(event)


class FaustStreamRunner:
    """A faust app with one agent applying every message of `topics` through `processor`."""

    def __init__(
        self,
        *,
        app_id: str,
        bootstrap: str,
        topics: Sequence[str],
        processor: MessageProcessor,
        commit_interval_s: float,
        data_dir: str,
        session_timeout_s: float = 60.0,
        max_batch: int = 2000,
    ) -> None:
        Path(data_dir).mkdir(parents=True, exist_ok=True)  # faust creates only the last level
        self._processor = processor
        self._max_batch = max_batch
        self._commit_interval_s = commit_interval_s
        self._pending = _AckQueue()
        self._stop = asyncio.Event()
        # Clear while the agent applies a batch and hands it to the acknowledgement queue: a stop waits
        # for it, so what was applied before SIGTERM is committed at the stop, not redelivered.
        self._idle = asyncio.Event()
        self._idle.set()
        self.app = faust.App(
            app_id,
            broker=f"kafka://{bootstrap}",
            web_enabled=False,
            datadir=data_dir,
            autodiscover=False,
            key_serializer="raw",
            value_serializer="raw",
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=commit_interval_s,
            # How long a crashed member keeps its partitions before the group takes them back.
            broker_session_timeout=session_timeout_s,
            producer_acks=-1,
            topic_allow_declare=False,
            topic_disable_leader=True,
            # Our own acknowledgement queue decides what is done; events left unapplied at a stop are
            # redelivered, so faust must not wait for them.
            stream_wait_empty=False,
        )
        channel = self.app.topic(*topics, key_type=bytes, value_type=bytes, allow_empty=True)
        self.app.agent(channel, name=f"{app_id}.apply")(self._apply_messages)

    async def _apply_messages(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        # noack: faust would acknowledge an event even when the agent leaves it unprocessed (its
        # iterator acks in a `finally`); here an event is acknowledged only once it is applied and
        # what it produced is delivered.
        unacked = stream.noack()  # type: ignore[attr-defined]  # StreamT omits it; Stream has it
        buffered: list[Any] = []
        async for event in unacked.events():
            buffered.append(event)
            # Apply together what has already arrived (faust's own "queue empty" test), so a burst is
            # one transaction per batch while a lone event is applied at once.
            if len(buffered) < self._max_batch and not _nothing_queued(unacked):
                continue
            batch, buffered = buffered, []
            self._idle.clear()
            try:
                results = await self._processor.process_batch(
                    [incoming_from_faust(e.message) for e in batch], self._stop
                )
                for applied, processed in zip(batch, results, strict=True):
                    self._pending.add(unacked, applied, processed.deliveries)
            except StopRequested:
                # Leave the events unacknowledged: they are redelivered after the restart.
                _log.info("stopping_with_messages_unapplied", count=len(batch))
                return
            finally:
                self._idle.set()
            await self._pending.ack_delivered()
            if len(self._pending) >= _MAX_UNACKED:
                await self._pending.drain()
            yield None

    async def run(self, stop: asyncio.Event) -> None:
        """Run the app in the current event loop until `stop` is set; then acknowledge, commit, stop."""
        await self.app.start()
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._commit_interval_s)
                await self._pending.drain()
        finally:
            self._stop.set()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), _IN_FLIGHT_GRACE_S)
                await self._pending.drain()
            finally:
                await self.app.stop()
                _log.info("consumer_stopped")
