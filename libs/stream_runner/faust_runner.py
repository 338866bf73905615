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
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import faust
import structlog

from stream_runner.messages import IncomingMessage
from stream_runner.processor import MessageProcessor, StopRequested

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


def create_faust_app(
    *,
    app_id: str,
    bootstrap: str,
    topics: Sequence[str],
    processor: MessageProcessor,
    stop: asyncio.Event,
    commit_interval_s: float,
    data_dir: str,
) -> faust.App:
    """A faust app with one agent applying every message of `topics` through `processor`."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        web_enabled=False,
        datadir=data_dir,
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=commit_interval_s,
        producer_acks=-1,
        topic_allow_declare=False,
        topic_disable_leader=True,
        stream_wait_empty=True,
    )
    channel = app.topic(*topics, key_type=bytes, value_type=bytes, allow_empty=True)

    async def apply_messages(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        # noack: faust would acknowledge an event even when the agent leaves it unprocessed (its
        # iterator acks in a `finally`); here an event is acknowledged only once it is applied.
        unacked = stream.noack()  # type: ignore[attr-defined]  # StreamT omits it; Stream has it
        async for event in unacked.events():
            try:
                await processor.process(incoming_from_faust(event.message), stop)
            except StopRequested:
                # Leave the event unacknowledged: it is redelivered after the restart.
                _log.info("stopping_with_message_unapplied")
                return
            await unacked.ack(event)
            yield None

    app.agent(channel, name=f"{app_id}.apply")(apply_messages)
    return app


async def run_faust_app(app: faust.App, stop: asyncio.Event) -> None:
    """Run the app inside the current event loop until `stop` is set; then stop it cleanly."""
    await app.start()
    try:
        await stop.wait()
    finally:
        await app.stop()
        _log.info("consumer_stopped")
