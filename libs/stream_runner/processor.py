"""Processing of one message, for the consumer loop (`kafka_runner`) of every consuming service.

decode against the contract -> dispatch by event type -> the handler applies its effect (recording the
event in its inbox in the same transaction) -> hand the handler's output events to the producer. The
runner commits the message's offset only after `process` returned and its deliveries resolved, so
outputs of many messages share broker round trips without ever being committed unsent.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import operator
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import structlog

from frozen_values import frozen_value
from schemas.codec import EventHead, InvalidEvent, decoder_of, key_check_of, peek_event
from schemas.envelope import CloudEvent
from schemas.keys import tenant_of_key
from stream_runner.dead_letters import dead_letter_for
from stream_runner.errors import PermanentError, is_transient
from stream_runner.messages import EventRef, Handled, IncomingMessage, OutgoingMessage
from stream_runner.metrics import RunnerMetrics
from stream_runner.producer import Delivery

Handler = Callable[[CloudEvent[Any], IncomingMessage], Awaitable[Handled]]
"""Applies one event; raises PermanentError for data it can never apply."""

BatchHandler = Callable[[Sequence[tuple[CloudEvent[Any], IncomingMessage]]], Awaitable[Sequence[Handled]]]
"""Applies consecutive events of one type together (one transaction); one Handled per event, in order."""

DeadLetterHandler = Callable[[CloudEvent[Any], IncomingMessage, BaseException], Awaitable[Handled]]
"""Records in the consumer's store that a decoded event will not be applied, as it goes to the DLQ (a
failed result, a failure counted in its run); its outputs are sent with the dead letter. Must be
idempotent: a redelivered event fails and is dead-lettered again."""

RepeatLookup = Callable[[Sequence[EventRef]], Awaitable[Mapping[EventRef, Sequence[OutgoingMessage]]]]
"""What each of these events that the service applied already produced (read from its inbox, in one
look); an event not applied yet is absent."""

_log = structlog.get_logger(__name__)
T = TypeVar("T")
_TENANT_OF = operator.attrgetter("tenantid")
_OUTCOME_OF = operator.attrgetter("outcome")
_DUPLICATE_OF = operator.attrgetter("duplicate")
_TYPE_NAMES, _NO_TYPES = itertools.repeat("type"), itertools.repeat(None)


class MessageSender(Protocol):
    """Where outputs and dead letters go (the EventProducer, or a fake in unit tests)."""

    async def enqueue(self, messages: list[OutgoingMessage]) -> list[Delivery]: ...


@frozen_value
class Processed:
    """The outcome of one message and the deliveries of what it produced.

    The runner may commit the message's offset only once every delivery has resolved.
    """

    outcome: str
    deliveries: tuple[Delivery, ...] = ()


# The outcomes of messages that produced nothing, shared (a frozen value each, built once), by whether the
# event was a duplicate (`Handled.duplicate`).
_APPLIED_WITHOUT_OUTPUTS = Processed("applied")
_DUPLICATE_WITHOUT_OUTPUTS = Processed("duplicate")
_WITHOUT_OUTPUTS = (_APPLIED_WITHOUT_OUTPUTS, _DUPLICATE_WITHOUT_OUTPUTS)


@frozen_value
class KnownRepeat:
    """A message whose event the inbox says was applied already, and what it produced then: it is not
    decoded in full nor handed to its handler, its saved outputs are sent again as they are."""

    head: EventHead
    outputs: Sequence[OutgoingMessage]


@dataclass(frozen=True)
class RunApplied:
    """Events of a run applied together (`MessageProcessor._apply_run`), what each produced, and when
    their application began."""

    messages: Sequence[IncomingMessage]
    events: Sequence[CloudEvent[Any]]
    handled: Sequence[Handled]
    started: float


@dataclass(frozen=True)
class EventFailed:
    """An event of a run that could not be applied, alone, and why."""

    message: IncomingMessage
    event: CloudEvent[Any]
    error: Exception


def _as_batch(handler: Handler) -> BatchHandler:
    """A handler of one event as the batch handler of a run of one."""

    async def apply(items: Sequence[tuple[CloudEvent[Any], IncomingMessage]]) -> list[Handled]:
        [(event, message)] = items
        return [await handler(event, message)]

    return apply


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


def look_for_repeats_next(looking: bool, *, found: int, duplicates: int) -> bool:
    """Whether the next batch is looked up in the inbox before it is decoded: while lookups find known
    repeats, and again once the full path met a duplicate the lookup did not (or was not asked for); not
    after a lookup that found none among fresh events (it would cost a read per batch for nothing)."""
    if looking:
        return found > 0 or duplicates > found
    return duplicates > 0


def tenant_lanes(tenants: Sequence[str]) -> list[list[int]]:
    """The positions of a poll's messages by tenant (`tenants`: each message's), each tenant's in the poll's
    order, the tenants in the order they first appear: what `MessageProcessor` may process side by side
    without changing any tenant's own order."""
    lanes: dict[str, list[int]] = {}
    for position, tenant in enumerate(tenants):
        lanes.setdefault(tenant, []).append(position)
    return list(lanes.values())


def _lane_of(message: IncomingMessage, decoded: CloudEvent[Any] | InvalidEvent | KnownRepeat) -> str:
    """The tenant a message's lane is keyed by: its event's, or for a message that does not decode, its
    key's first part (every topic's key begins with the tenant)."""
    if isinstance(decoded, CloudEvent):
        return decoded.tenantid
    if isinstance(decoded, KnownRepeat):
        return decoded.head.tenant
    return tenant_of_key((message.key or b"").decode("utf-8", errors="replace"))


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
        batch_handlers: Mapping[str, BatchHandler] | None = None,
        dead_letter_handlers: Mapping[str, DeadLetterHandler] | None = None,
        repeat_lookups: Mapping[str, RepeatLookup] | None = None,
        tenant_concurrency: int = 1,
    ) -> None:
        self._service = service
        # How many tenants' messages of a poll are processed at once (`tenant_lanes`): 1, the poll in order
        # (the mapper and the auditlog, whose batches of many tenants are one transaction each); more, for a
        # service whose events each make slow external calls (the pusher), so one tenant's burst of pushes
        # does not hold another tenant's behind it.
        self._tenant_concurrency = tenant_concurrency
        # Event type -> how the service's inbox tells, for a whole batch at once, which events of that
        # type it applied already (a replay, a redelivery) and what they produced.
        self._repeat_lookups = dict(repeat_lookups or {})
        # Whether the next batch is looked up in the inbox first: not while fresh events flow (a lookup
        # that finds nothing turns it off), again as soon as the full path meets a duplicate (a replay or
        # a redelivery has begun).
        self._looking_for_repeats = True
        self._batch_handlers = dict(batch_handlers or {})
        self._dead_letter_handlers = dict(dead_letter_handlers or {})
        # Physical topic -> the registry topic whose contract it carries (identity unless told).
        self._topic_contracts = dict(topic_contracts or {})
        self._handlers = dict(handlers)
        self._sender = sender
        self._metrics = metrics
        self._retry = retry

    @property
    def service(self) -> str:
        """The service this processor works for (its dead-letter topic is named after it)."""
        return self._service

    @property
    def metrics(self) -> RunnerMetrics:
        """The metrics it records (the runner adds lag and dead-letter depth to them)."""
        return self._metrics

    async def process(self, message: IncomingMessage, stop: asyncio.Event) -> Processed:
        """Apply one message and hand its outputs to the producer. Raises StopRequested if stopped first."""
        started = time.perf_counter()
        # The message's context is cleared when it is done, however it ends: the lines of the next unit
        # of work (a batch, the consumer's own) carry no stale topic, offset or tenant.
        with structlog.contextvars.bound_contextvars(
            topic=message.topic, partition=message.partition, offset=message.offset
        ):
            try:
                try:
                    processed = await self._decode_and_apply(message, stop)
                finally:
                    elapsed = time.perf_counter() - started
                    self._metrics.observe_messages(message.topic, elapsed)
                self._metrics.messages.labels(message.topic, processed.outcome).inc()
                _log.info(
                    "message_processed", outcome=processed.outcome, duration_ms=round(elapsed * 1000, 2)
                )
            finally:
                structlog.contextvars.unbind_contextvars("tenant", "event_id", "event_type")
        return processed

    async def process_batch(
        self, messages: Sequence[IncomingMessage], stop: asyncio.Event
    ) -> list[Processed]:
        """Process messages in order; runs of one event type with a batch handler are applied together.
        With a `tenant_concurrency` above 1, "in order" is each tenant's: the tenants' lanes (`tenant_lanes`)
        are processed side by side, the results returned in the messages' order.

        A batch that fails for good is split and retried one event at a time, so only the event that
        cannot be applied goes to the dead-letter topic. Raises StopRequested if stopped first.
        """
        repeats = await self._known_repeats(messages, stop) if self._looking_for_repeats else {}
        decode = self._decode
        decoded: Sequence[CloudEvent[Any] | InvalidEvent | KnownRepeat] = (
            [repeats.get(i) or decode(m) for i, m in enumerate(messages)]
            if repeats
            else self._decode_all(messages)
        )
        lanes = self._lanes(messages, decoded)
        results = (
            await self._process_lanes(messages, decoded, lanes, stop)
            if len(lanes) > 1
            else await self._process_in_order(messages, decoded, stop)
        )
        self._looking_for_repeats = look_for_repeats_next(
            self._looking_for_repeats,
            found=len(repeats),
            duplicates=list(map(_OUTCOME_OF, results)).count("duplicate"),
        )
        return results

    def _lanes(
        self,
        messages: Sequence[IncomingMessage],
        decoded: Sequence[CloudEvent[Any] | InvalidEvent | KnownRepeat],
    ) -> list[list[int]]:
        """The poll's lanes by tenant (`tenant_lanes`), or none (the poll in order) with a concurrency of 1
        or when every event of the poll is applied in batches (the pusher's mirror changes: one transaction
        for many tenants' changes, no slow call to wait for)."""
        if self._tenant_concurrency == 1 or all(map(self._batchable, decoded)):
            return []
        return tenant_lanes(list(map(_lane_of, messages, decoded)))

    async def _process_lanes(
        self,
        messages: Sequence[IncomingMessage],
        decoded: Sequence[CloudEvent[Any] | InvalidEvent | KnownRepeat],
        lanes: Sequence[Sequence[int]],
        stop: asyncio.Event,
    ) -> list[Processed]:
        """Each tenant's messages in order (`_process_in_order`), up to `tenant_concurrency` tenants at once;
        the results in the messages' order. Every lane runs to its end before a failure of one is raised
        (StopRequested included), so nothing is left half done behind the batch the runner does not record."""
        bound = asyncio.Semaphore(self._tenant_concurrency)

        async def lane(positions: Sequence[int]) -> list[Processed]:
            async with bound:
                return await self._process_in_order(
                    [messages[i] for i in positions], [decoded[i] for i in positions], stop
                )

        done = await asyncio.gather(*map(lane, lanes), return_exceptions=True)
        failures = [outcome for outcome in done if isinstance(outcome, BaseException)]
        if failures:
            raise next((f for f in failures if not isinstance(f, StopRequested)), failures[0])
        by_position: dict[int, Processed] = {}
        for positions, processed in zip(lanes, done, strict=True):
            assert not isinstance(processed, BaseException)
            by_position.update(zip(positions, processed, strict=True))
        return [by_position[position] for position in range(len(messages))]

    async def _process_in_order(
        self,
        messages: Sequence[IncomingMessage],
        decoded: Sequence[CloudEvent[Any] | InvalidEvent | KnownRepeat],
        stop: asyncio.Event,
    ) -> list[Processed]:
        """Messages one after another; runs of one event type with a batch handler applied together."""
        results: list[Processed] = []
        start = 0
        while start < len(messages):
            end = self._run_end(decoded, start)
            if isinstance(decoded[start], KnownRepeat):
                results += await self._send_again(messages[start:end], decoded[start:end], stop)
            elif end == start + 1 and not self._batchable(decoded[start]):
                results.append(await self.process(messages[start], stop))
            else:
                results += await self._process_run(messages[start:end], decoded[start:end], stop)
            start = end
        return results

    async def catch_up(self, messages: Sequence[IncomingMessage], stop: asyncio.Event) -> list[Delivery]:
        """Apply what a topic held when the service started, read before the consumer loop handles any
        other topic (`KafkaStreamRunner`'s `read_first`): decoded as the loop decodes, each run of an event
        type applied with its batch handler when it has one, else one at a time with its handler. What
        cannot be decoded or applied is logged and skipped, not dead-lettered: the loop reads the topic
        again from the group's committed offsets and dead-letters it there, once. Returns the deliveries
        of what was produced; raises StopRequested when stopped while a failure waits to pass."""
        decoded: list[CloudEvent[Any]] = []
        kept: list[IncomingMessage] = []
        for message in messages:
            event = self._decode(message)
            if isinstance(event, InvalidEvent):
                _log.warning(
                    "catch_up_skipped", topic=message.topic, offset=message.offset, error=str(event)[:300]
                )
            else:
                decoded.append(event)
                kept.append(message)
        outputs: list[OutgoingMessage] = []
        start = 0
        while start < len(decoded):
            end = self._run_end(decoded, start)
            kind = decoded[start].type
            if kind in self._batch_handlers or kind in self._handlers:
                async for part in self._apply_run(kept[start:end], decoded[start:end], stop):
                    if isinstance(part, EventFailed):
                        _log.warning(
                            "catch_up_skipped",
                            topic=part.message.topic,
                            offset=part.message.offset,
                            error_class=type(part.error).__name__,
                            error=str(part.error)[:300],
                        )
                    else:
                        outputs.extend(m for handled in part.handled for m in handled.outputs)
            start = end
        return list(await self._enqueue(outputs, kept[0].topic, stop)) if outputs else []

    async def _apply_run(
        self, messages: Sequence[IncomingMessage], events: Sequence[CloudEvent[Any]], stop: asyncio.Event
    ) -> AsyncIterator[RunApplied | EventFailed]:
        """Apply a run of events of one type with its batch handler (else, one event, with its handler),
        retried as `_with_retries` says. A batch that still fails is split and each event applied alone, so
        only the event that cannot be applied fails. Yields in order what was applied and what failed, the
        caller's failure policy deciding what becomes of those (dead-lettered in the loop, skipped in
        `catch_up`) before the next part is applied. Raises StopRequested if stopped first."""
        started = time.perf_counter()
        apply = self._batch_handlers.get(events[0].type) or _as_batch(self._handlers[events[0].type])
        items = list(zip(events, messages, strict=True))
        try:
            handled = list(await self._with_retries(lambda: apply(items), messages[0].topic, stop))
        except StopRequested:
            raise
        except Exception as exc:
            if len(items) == 1:
                yield EventFailed(messages[0], events[0], exc)
                return
            _log.warning("batch_split", size=len(items), error_class=type(exc).__name__)
            for event, message in items:
                async for part in self._apply_run([message], [event], stop):
                    yield part
            return
        yield RunApplied(messages, events, handled, started)

    async def _known_repeats(
        self, messages: Sequence[IncomingMessage], stop: asyncio.Event
    ) -> dict[int, KnownRepeat]:
        """The messages (by position) whose events the inbox says were applied already, asked once per
        event type for the whole batch, from the head of each message (`peek_event`) rather than the
        event decoded in full. A message whose head cannot be read takes the full path, which judges it."""
        if not self._repeat_lookups:
            return {}
        heads: dict[str, dict[int, EventHead]] = {}
        for index, message in enumerate(messages):
            topic = self._topic_contracts.get(message.topic, message.topic)
            head = peek_event(topic, message.key, message.value)
            if head is not None and head.type in self._repeat_lookups:
                heads.setdefault(head.type, {})[index] = head
        repeats: dict[int, KnownRepeat] = {}
        for kind, of_kind in heads.items():
            lookup = self._repeat_lookups[kind]
            refs = [(head.tenant, head.id) for head in of_kind.values()]
            try:
                applied = await self._with_retries(functools.partial(lookup, refs), messages[0].topic, stop)
            except StopRequested:
                raise
            except Exception as exc:  # the full path claims each event and finds out for itself
                _log.warning("repeat_lookup_failed", error_class=type(exc).__name__, error=str(exc)[:300])
                continue
            for index, head in of_kind.items():
                saved = applied.get((head.tenant, head.id))
                if saved is not None:
                    repeats[index] = KnownRepeat(head, saved)
        return repeats

    async def _send_again(
        self, messages: Sequence[IncomingMessage], repeats: Sequence[Any], stop: asyncio.Event
    ) -> list[Processed]:
        """Known repeats: what their events produced when applied is sent again, byte for byte."""
        started = time.perf_counter()
        handled = [Handled(outputs=repeat.outputs, duplicate=True) for repeat in repeats]
        tenants = {repeat.head.tenant for repeat in repeats}
        return await self._emit_run(messages, handled, repeats[0].head, tenants, started, stop)

    def _decode(self, message: IncomingMessage) -> CloudEvent[Any] | InvalidEvent:
        """The event, or why it cannot be applied: it breaks its contract (its key too, on the ABM
        platform's topics) or claims a tenant its key does not belong to (both go to the DLQ)."""
        return self._decode_all((message,))[0]

    def _decode_all(self, messages: Sequence[IncomingMessage]) -> list[CloudEvent[Any] | InvalidEvent]:
        """`_decode` of each message, in one loop (a Python frame less per message), with the decoder and the
        key check of the messages' topic (`codec.decoder_of`, `codec.key_check_of`) looked up when the topic
        changes."""
        contracts = self._topic_contracts
        decoded: list[CloudEvent[Any] | InvalidEvent] = []
        decoding, decode, check_key = None, None, None  # the topic decoded last, its decoder and key check
        for message in messages:
            topic = message.topic
            if topic != decoding or decode is None or check_key is None:
                contract = contracts.get(topic, topic)
                decoding, decode, check_key = topic, decoder_of(contract), key_check_of(contract)
            try:
                event = decode(message.value)
                check_key(topic, message.key, event)
            except InvalidEvent as exc:
                decoded.append(exc)
            else:
                decoded.append(event)
        return decoded

    def _batchable(self, decoded: CloudEvent[Any] | InvalidEvent | KnownRepeat) -> bool:
        return isinstance(decoded, CloudEvent) and decoded.type in self._batch_handlers

    def _run_end(self, decoded: Sequence[CloudEvent[Any] | InvalidEvent | KnownRepeat], start: int) -> int:
        first = decoded[start]
        if isinstance(first, KnownRepeat):
            end = start + 1
            while end < len(decoded) and isinstance(decoded[end], KnownRepeat):
                end += 1
            return end
        if not self._batchable(first):
            return start + 1
        assert isinstance(first, CloudEvent)
        # The events after it while their type is its type (what is not an event has none), in C.
        kinds = map(getattr, itertools.islice(decoded, start + 1, None), _TYPE_NAMES, _NO_TYPES)
        return start + 1 + len(list(itertools.takewhile(functools.partial(operator.eq, first.type), kinds)))

    async def _process_run(
        self, messages: Sequence[IncomingMessage], decoded: Sequence[Any], stop: asyncio.Event
    ) -> list[Processed]:
        """A run of events with a batch handler, each part's outputs emitted as it is applied; an event
        that cannot be applied is dead-lettered."""
        results: list[Processed] = []
        async for part in self._apply_run(messages, decoded, stop):
            if isinstance(part, EventFailed):
                letter = await self._dead_letter(part.message, part.error, stop, part.event)
                results.append(Processed("dead_lettered", letter))
                continue
            first = part.events[0]
            head = EventHead(first.type, first.tenantid, first.id)
            tenants = set(map(_TENANT_OF, part.events))
            results += await self._emit_run(part.messages, part.handled, head, tenants, part.started, stop)
        return results

    async def _emit_run(
        self,
        messages: Sequence[IncomingMessage],
        handled: Sequence[Handled],
        first: EventHead,
        tenants: Collection[str],
        started: float,
        stop: asyncio.Event,
    ) -> list[Processed]:
        """One hand-over to the producer for the whole run's outputs, then split back per message. `first`
        is the head of the run's first event, `tenants` those of its events."""
        topic = messages[0].topic
        outputs = [m for one in handled for m in one.outputs]
        delivered = await self._enqueue(outputs, topic, stop) if outputs else ()
        repeated = list(map(_DUPLICATE_OF, handled))
        duplicates = repeated.count(True)
        results: list[Processed]
        if not outputs:  # the outcomes shared, picked in C (no Python step per message)
            results = list(map(_WITHOUT_OUTPUTS.__getitem__, repeated))
        else:
            results, taken = [], 0
            for one, duplicate in zip(handled, repeated, strict=True):
                count = len(one.outputs)
                if count:
                    outcome = "duplicate" if duplicate else "applied"
                    results.append(Processed(outcome, delivered[taken : taken + count]))
                    taken += count
                else:
                    results.append(_WITHOUT_OUTPUTS[duplicate])
        outcomes = {"applied": len(handled) - duplicates, "duplicate": duplicates}
        outcomes = {outcome: count for outcome, count in outcomes.items() if count}
        # One line per batch (a line per message would cost more than applying it); the events' ids are
        # in the inbox and in their results.
        _log.info(
            "batch_processed",
            topic=topic,
            event_type=first.type,
            batch_size=len(messages),
            first=f"{messages[0].partition}:{messages[0].offset}",
            last=f"{messages[-1].partition}:{messages[-1].offset}",
            tenants=sorted(tenants)[:10],
            **{f"outcome_{name}": count for name, count in outcomes.items()},
            **({"event_id": first.id} if len(messages) == 1 else {}),
        )
        for outcome, count in outcomes.items():
            self._metrics.messages.labels(topic, outcome).inc(count)
        elapsed = time.perf_counter() - started
        self._metrics.observe_messages(topic, elapsed / len(messages), len(messages))
        return results

    async def _decode_and_apply(self, message: IncomingMessage, stop: asyncio.Event) -> Processed:
        decoded = self._decode(message)
        if isinstance(decoded, InvalidEvent):
            return Processed("dead_lettered", await self._dead_letter(message, decoded, stop))
        event = decoded
        structlog.contextvars.bind_contextvars(
            tenant=event.tenantid, event_id=event.id, event_type=event.type
        )
        handler = self._handlers.get(event.type)
        if handler is None:
            return Processed("ignored")
        try:
            handled = await self._with_retries(lambda: handler(event, message), message.topic, stop)
        except StopRequested:
            raise
        except Exception as exc:
            return Processed("dead_lettered", await self._dead_letter(message, exc, stop, event))
        deliveries = (
            await self._enqueue(list(handled.outputs), message.topic, stop) if handled.outputs else ()
        )
        return Processed("duplicate" if handled.duplicate else "applied", deliveries)

    async def _enqueue(
        self, outputs: list[OutgoingMessage], topic: str, stop: asyncio.Event
    ) -> tuple[Delivery, ...]:
        return tuple(await self._with_retries(lambda: self._sender.enqueue(outputs), topic, stop))

    async def _dead_letter(
        self,
        message: IncomingMessage,
        error: BaseException,
        stop: asyncio.Event,
        event: CloudEvent[Any] | None = None,
    ) -> tuple[Delivery, ...]:
        _log.warning("message_dead_lettered", error_class=type(error).__name__, error=str(error)[:500])
        outputs = await self._record_dead_letter(event, message, error, stop) if event is not None else []
        letter = dead_letter_for(message, self._service, error)
        return await self._enqueue([*outputs, letter], message.topic, stop)

    async def _record_dead_letter(
        self, event: CloudEvent[Any], message: IncomingMessage, error: BaseException, stop: asyncio.Event
    ) -> list[OutgoingMessage]:
        record = self._dead_letter_handlers.get(event.type)
        if record is None:
            return []
        try:
            handled = await self._with_retries(lambda: record(event, message, error), message.topic, stop)
        except StopRequested:
            raise
        except Exception as exc:  # the dead letter itself must still go out
            _log.error("dead_letter_not_recorded", error_class=type(exc).__name__, error=str(exc)[:500])
            return []
        return list(handled.outputs)

    async def _with_retries(
        self, attempt_once: Callable[[], Awaitable[T]], topic: str, stop: asyncio.Event
    ) -> T:
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
