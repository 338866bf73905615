"""Pushes paused by the tenant's Pipedrive budget, kept whole in Postgres and re-driven when it reopens.

While a tenant has parked pushes its new pushes are parked behind them (in arrival order), so a 429 or a
spent daily budget pauses that tenant only: the consumer goes on with everyone else's events.

A budget pause (429, spent day) never gives up: the budget only needs to reset. A re-drive that fails for
any other reason is retried after `ParkingLimits.retry_after`; after `max_failures` such failures, or once
the push has been parked for `max_age` without the budget being the reason it waits, it gives up: one failed
push result, and the original event to the pusher's dead-letter topic (`give_up_reason`). Transient failures
(Pipedrive down, network, database, broker) count toward the age only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg
import structlog
from prometheus_client import CollectorRegistry, Gauge

from pusher.ports import DueParked, ParkedRow, ParkedStore, PushRuns
from schemas.codec import decode_event, encode_event
from schemas.envelope import CloudEvent
from stream_runner.dead_letters import dead_letter_for
from stream_runner.errors import TRANSIENT_ERRORS, is_transient
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage

_log = structlog.get_logger(__name__)
IDLE_POLL_S = 0.2
REDRIVE_WORKER_SURVIVES: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, asyncpg.PostgresError)
"""Failures of a re-drive's own bookkeeping (database, broker) that leave the row parked for a retry."""
SERVICE = "pusher"


class PauseKind(StrEnum):
    """Why a push waits: the budget (never gives up), Pipedrive down, or behind the tenant's queue."""

    BUDGET = "budget"
    UNAVAILABLE = "unavailable"
    QUEUED = "queued"


class PushPaused(Exception):
    """The tenant's Pipedrive budget (or Pipedrive) does not allow this push now: retry at `resume_at`."""

    def __init__(self, resume_at: datetime, reason: str, kind: PauseKind = PauseKind.BUDGET) -> None:
        super().__init__(f"{reason}; resuming at {resume_at.isoformat()}")
        self.resume_at = resume_at
        self.reason = reason
        self.kind = kind


class PushGaveUp(Exception):
    """A parked push that kept failing: its dead letter's error (the message says why and how often)."""


def pause_for(seconds: float, reason: str, kind: PauseKind = PauseKind.BUDGET) -> PushPaused:
    """A pause of `seconds` from now."""
    return PushPaused(datetime.now(UTC) + timedelta(seconds=seconds), reason, kind)


@dataclass(frozen=True)
class ParkingLimits:
    """How often a failing parked push is retried, and when it gives up."""

    retry_after: timedelta = timedelta(seconds=30)
    max_failures: int = 10
    max_age: timedelta = timedelta(hours=24)


def give_up_reason(
    limits: ParkingLimits, parked_at: datetime, failures: int, now: datetime, last_error: str
) -> str | None:
    """Why a parked push whose last re-drive failed (not for the budget) gives up now, or None to retry.

    `failures` counts the failed re-drives, this one included (0 when Pipedrive was merely unavailable).
    """
    if failures >= limits.max_failures:
        return f"Gave up after {failures} failed attempts: {last_error}"
    age = now - parked_at
    if age >= limits.max_age:
        return f"Gave up after {_hours(age)} parked without success: {last_error}"
    return None


def _hours(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours >= 1 else f"{age.total_seconds():.0f} seconds"


Redrive = Callable[[CloudEvent[Any], str], Awaitable[Handled]]
GiveUp = Callable[[PushRuns, CloudEvent[Any], str], Awaitable[list[OutgoingMessage]]]
Send = Callable[[Sequence[OutgoingMessage]], Awaitable[None]]


@dataclass(frozen=True)
class Origin:
    """Where a parked event was read (for its dead letter)."""

    topic: str
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None

    @classmethod
    def of(cls, message: IncomingMessage) -> Origin:
        """The origin of a consumed message."""
        return cls(message.topic, message.partition, message.offset, message.key)


def parked_pushes_gauge(registry: CollectorRegistry) -> Gauge:
    """`psync_parked_pushes{tenant}`, kept by `ParkedPushes.report`."""
    return Gauge(
        "psync_parked_pushes",
        "Pushes the pusher holds back per tenant (budget closed, or failing and retried)",
        ["tenant"],
        registry=registry,
    )


class ParkedPushes:
    """Parked pushes (`pusher.ports.ParkedStore`), and the worker that re-drives them."""

    def __init__(self, store: ParkedStore, limits: ParkingLimits | None = None) -> None:
        self._store = store
        self.limits = limits or ParkingLimits()

    async def park(self, event: CloudEvent[Any], origin: Origin, pause: PushPaused) -> None:
        """Keep the event until `pause.resume_at` (a redelivered event is parked once)."""
        key = origin.key.decode("utf-8", errors="replace") if origin.key is not None else None
        await self._store.park(
            event.tenantid, event.id, origin.topic, encode_event(event).decode(), pause.resume_at,
            pause.reason, (origin.partition, origin.offset, key),
        )  # fmt: skip

    async def tenant_paused(self, tenant: str) -> bool:
        """Whether the tenant has pushes waiting (new ones queue behind them)."""
        return await self._store.tenant_paused(tenant)

    async def count(self, tenant: str) -> int:
        """How many of the tenant's pushes wait."""
        return await self._store.count(tenant)

    async def report(self, gauge: Gauge, stop: asyncio.Event, every_s: float = 15.0) -> None:
        """Keep `gauge{tenant}` at the number of the tenant's parked pushes until `stop` (a tenant whose
        pushes are all re-driven reads 0, then disappears at the next report)."""
        reported: set[str] = set()
        while not stop.is_set():
            with contextlib.suppress(*REDRIVE_WORKER_SURVIVES):
                counts = await self._store.counts()
                for tenant in reported - set(counts):
                    gauge.remove(tenant)
                for tenant, count in counts.items():
                    gauge.labels(tenant).set(count)
                reported = set(counts)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)

    async def run(self, redrive: Redrive, give_up: GiveUp, send: Send, stop: asyncio.Event) -> None:
        """Re-drive due pushes, oldest first per tenant, until `stop`; one replica per row.

        `give_up` turns a push that gives up into its failed results (in the transaction that removes it).
        """
        while not stop.is_set():
            try:
                worked = await self.redrive_one(redrive, give_up, send)
            except REDRIVE_WORKER_SURVIVES as failure:
                # The row stays parked (its transaction rolled back), so the push is tried again; what it
                # did already in Pipedrive is found by the ledger, so nothing is written twice.
                _log.warning("redrive_failed", error=f"{type(failure).__name__}: {failure}")
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), IDLE_POLL_S)

    async def redrive_one(self, redrive: Redrive, give_up: GiveUp, send: Send) -> bool:
        """Re-drive the next due push, if any; True when one was re-driven or given up."""
        async with self._store.next_due() as due:
            if due is None:
                return False
            row = due.row
            event = decode_event(row.topic, row.event.encode())
            try:
                handled = await redrive(event, row.topic)
            except Exception as failure:  # a push failing here waits and is tried again, or gives up
                return await self._failed(due, event, failure, give_up, send)
            if handled.outputs:
                await send(list(handled.outputs))
            await due.remove()
            _log.info("push_redriven", tenant=row.tenant, event_id=row.event_id)
            return True

    async def _failed(
        self, due: DueParked, event: CloudEvent[Any], failure: Exception, give_up: GiveUp, send: Send
    ) -> bool:
        """Reschedule a failed re-drive, or give it up: failed results and the dead letter, then gone."""
        row = due.row
        paused = failure if isinstance(failure, PushPaused) else None
        if paused is not None and paused.kind is not PauseKind.UNAVAILABLE:
            await due.reschedule(paused.resume_at, paused.reason, row.failures)
            return False
        # Pipedrive down, or the network, database or broker failing: retried until the age limit only.
        counted = paused is None and not is_transient(failure)
        failures = row.failures + (1 if counted else 0)
        last_error = paused.reason if paused else f"{type(failure).__name__}: {failure}"[:500]
        reason = give_up_reason(self.limits, row.parked_at, failures, datetime.now(UTC), last_error)
        if reason is None:
            resume_at = paused.resume_at if paused else datetime.now(UTC) + self.limits.retry_after
            await due.reschedule(resume_at, last_error, failures)
            return False
        results = await give_up(due.runs, event, reason)
        await send([*results, _dead_letter(row, event, PushGaveUp(reason))])
        await due.remove()
        _log.warning("parked_push_gave_up", tenant=row.tenant, event_id=row.event_id, reason=reason)
        return True


def _dead_letter(row: ParkedRow, event: CloudEvent[Any], error: PushGaveUp) -> OutgoingMessage:
    """The parked event as the stream runner dead-letters a message (origin and error headers); rows
    parked before their origin was kept are keyed by the event's subject, which is the contract's key."""
    key = row.origin_key if row.origin_key is not None else event.subject
    origin = IncomingMessage(
        topic=row.topic,
        partition=row.origin_partition if row.origin_partition is not None else -1,
        offset=row.origin_offset if row.origin_offset is not None else -1,
        key=key.encode(),
        value=row.event.encode(),
    )
    return dead_letter_for(origin, SERVICE, error)
