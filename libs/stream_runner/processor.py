"""Processing of one message, shared by the aiokafka runner and the faust agents.

decode against the contract -> dispatch by event type -> the handler applies its effect (recording the
event in its inbox in the same transaction) -> produce the handler's output events and wait for their
acknowledgement. Only after `process` returns may the transport commit the message's offset.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from schemas.codec import InvalidEvent, decode_event
from schemas.envelope import CloudEvent
from stream_runner.dead_letters import dead_letter_for
from stream_runner.errors import PermanentError, is_transient
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage
from stream_runner.metrics import RunnerMetrics

Handler = Callable[[CloudEvent[Any], IncomingMessage], Awaitable[Handled]]
"""Applies one event; raises PermanentError for data it can never apply."""

_log = structlog.get_logger(__name__)


class MessageSender(Protocol):
    """Where outputs and dead letters go (the EventProducer, or a fake in unit tests)."""

    async def send_all(self, messages: list[OutgoingMessage]) -> None: ...


class StopRequested(Exception):
    """The service is stopping while a message still waits for a transient failure to pass."""


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for failures: transient ones retry until stopped, unknown ones a few times, then DLQ."""

    first_delay_s: float = 0.2
    max_delay_s: float = 10.0
    max_unknown_attempts: int = 5

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter for the given (1-based) attempt."""
        return random.uniform(0, min(self.max_delay_s, self.first_delay_s * 2 ** (attempt - 1)))


class MessageProcessor:
    """Decodes, dispatches and emits for one service; dead-letters what cannot be applied."""

    def __init__(
        self,
        service: str,
        handlers: Mapping[str, Handler],
        sender: MessageSender,
        metrics: RunnerMetrics,
        retry: RetryPolicy = RetryPolicy(),
        topic_contracts: Mapping[str, str] | None = None,
    ) -> None:
        self._service = service
        # Physical topic -> the registry topic whose contract it carries (identity unless told).
        self._topic_contracts = dict(topic_contracts or {})
        self._handlers = dict(handlers)
        self._sender = sender
        self._metrics = metrics
        self._retry = retry

    async def process(self, message: IncomingMessage, stop: asyncio.Event) -> str:
        """Process one message to completion; returns its outcome. Raises StopRequested if stopped first."""
        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(
            topic=message.topic, partition=message.partition, offset=message.offset
        )
        try:
            outcome = await self._decode_and_apply(message, stop)
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.seconds.labels(message.topic).observe(elapsed)
        self._metrics.messages.labels(message.topic, outcome).inc()
        _log.info("message_processed", outcome=outcome, duration_ms=round(elapsed * 1000, 2))
        structlog.contextvars.unbind_contextvars("tenant", "event_id", "event_type")
        return outcome

    async def _decode_and_apply(self, message: IncomingMessage, stop: asyncio.Event) -> str:
        try:
            contract = self._topic_contracts.get(message.topic, message.topic)
            event = decode_event(contract, message.value)
        except InvalidEvent as exc:
            await self._dead_letter(message, exc, stop)
            return "dead_lettered"
        structlog.contextvars.bind_contextvars(
            tenant=event.tenantid, event_id=event.id, event_type=event.type
        )
        handler = self._handlers.get(event.type)
        if handler is None:
            return "ignored"
        try:
            handled = await self._with_retries(lambda: handler(event, message), message.topic, stop)
        except StopRequested:
            raise
        except Exception as exc:
            await self._dead_letter(message, exc, stop)
            return "dead_lettered"
        if handled.outputs:
            await self._with_retries(lambda: self._send(handled.outputs), message.topic, stop)
        return "duplicate" if handled.duplicate else "applied"

    async def _send(self, outputs: Any) -> Handled:
        await self._sender.send_all(list(outputs))
        return Handled()

    async def _dead_letter(self, message: IncomingMessage, error: BaseException, stop: asyncio.Event) -> None:
        _log.warning("message_dead_lettered", error_class=type(error).__name__, error=str(error)[:500])
        letter = dead_letter_for(message, self._service, error)
        await self._with_retries(lambda: self._send([letter]), message.topic, stop)

    async def _with_retries(
        self, attempt_once: Callable[[], Awaitable[Handled]], topic: str, stop: asyncio.Event
    ) -> Handled:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await attempt_once()
            except PermanentError:
                raise
            except Exception as exc:
                if not is_transient(exc) and attempt >= self._retry.max_unknown_attempts:
                    raise
                _log.warning("message_retry", attempt=attempt, error_class=type(exc).__name__, error=str(exc))
                self._metrics.retries.labels(topic).inc()
            await self._pause(self._retry.delay(attempt), stop)

    @staticmethod
    async def _pause(seconds: float, stop: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except TimeoutError:
            return
        raise StopRequested()
