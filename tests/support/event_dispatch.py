"""One event applied by a service's handlers as its consumer loop applies it, for harnesses that call the
handlers without Kafka."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.envelope import CloudEvent
from stream_runner.messages import Handled, IncomingMessage
from stream_runner.processor import BatchHandler, Handler


async def apply_as_consumed(
    handlers: Mapping[str, Handler],
    batch_handlers: Mapping[str, BatchHandler],
    event: CloudEvent[Any],
    message: IncomingMessage,
) -> Handled:
    """Batch first, as `MessageProcessor.process_batch` dispatches: an event type with a batch handler is
    applied as a batch of one (what the loop does with a lone event or a failed batch split up), any
    other with its handler."""
    batch = batch_handlers.get(event.type)
    if batch is not None:
        [handled] = await batch([(event, message)])
        return handled
    return await handlers[event.type](event, message)
