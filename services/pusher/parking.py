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

from postgres_store.pool import Connection
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
GiveUp = Callable[[Connection, CloudEvent[Any], str], Awaitable[list[OutgoingMessage]]]
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
    """The `parked_pushes` table of one schema, and the worker that re-drives it."""

    def __init__(self, pool: asyncpg.Pool, schema: str, limits: ParkingLimits | None = None) -> None:
        self._pool = pool
        self._table = f"{schema}.parked_pushes"
        self.limits = limits or ParkingLimits()

    async def park(self, event: CloudEvent[Any], origin: Origin, pause: PushPaused) -> None:
        """Keep the event until `pause.resume_at` (a redelivered event is parked once)."""
        key = origin.key.decode("utf-8", errors="replace") if origin.key is not None else None
        await self._pool.execute(
            f"INSERT INTO {self._table} (tenant_id, event_id, topic, event, resume_at, reason,"
            " origin_partition, origin_offset, origin_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (tenant_id, event_id) DO NOTHING",
            event.tenantid, event.id, origin.topic, encode_event(event).decode(), pause.resume_at,
            pause.reason, origin.partition, origin.offset, key,
        )  # fmt: skip

    async def tenant_paused(self, tenant: str) -> bool:
        """Whether the tenant has pushes waiting (new ones queue behind them)."""
        found = await self._pool.fetchval(
            f"SELECT true FROM {self._table} WHERE tenant_id = $1 LIMIT 1", tenant
        )
        return bool(found)

    async def count(self, tenant: str) -> int:
        """How many of the tenant's pushes wait."""
        return int(
            await self._pool.fetchval(f"SELECT count(*) FROM {self._table} WHERE tenant_id = $1", tenant)
        )

    async def counts(self) -> dict[str, int]:
        """How many pushes wait, per tenant that has any."""
        rows = await self._pool.fetch(
            f"SELECT tenant_id, count(*) AS n FROM {self._table} GROUP BY tenant_id"
        )
        return {r["tenant_id"]: int(r["n"]) for r in rows}

    async def report(self, gauge: Gauge, stop: asyncio.Event, every_s: float = 15.0) -> None:
        """Keep `gauge{tenant}` at the number of the tenant's parked pushes until `stop` (a tenant whose
        pushes are all re-driven reads 0, then disappears at the next report)."""
        reported: set[str] = set()
        while not stop.is_set():
            with contextlib.suppress(*REDRIVE_WORKER_SURVIVES):
                counts = await self.counts()
                for tenant in reported - set(counts):
                    gauge.remove(tenant)
                for tenant, count in counts.items():
                    gauge.labels(tenant).set(count)
                reported = set(counts)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)

    async def run(self, redrive: Redrive, give_up: GiveUp, send: Send, stop: asyncio.Event) -> None:
        """Re-drive due pushes, oldest first per tenant, until `stop`; one replica per row (SKIP LOCKED).

        `give_up` turns a push that gives up into its failed results (in the transaction that removes it).
        """
        while not stop.is_set():
            try:
                worked = await self._redrive_one(redrive, give_up, send)
            except REDRIVE_WORKER_SURVIVES as failure:
                # The row stays parked (its transaction rolled back), so the push is tried again; what it
                # did already in Pipedrive is found by the ledger, so nothing is written twice.
                _log.warning("redrive_failed", error=f"{type(failure).__name__}: {failure}")
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), IDLE_POLL_S)

    async def _redrive_one(self, redrive: Redrive, give_up: GiveUp, send: Send) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT * FROM {self._table} p WHERE resume_at <= now() AND NOT EXISTS ("
                f" SELECT 1 FROM {self._table} q"
                " WHERE q.tenant_id = p.tenant_id AND q.parked_at < p.parked_at)"
                " ORDER BY resume_at LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
            if row is None:
                return False
            event = decode_event(row["topic"], row["event"].encode())
            try:
                handled = await redrive(event, row["topic"])
            except Exception as failure:  # a push failing here waits and is tried again, or gives up
                return await self._failed(conn, row, event, failure, give_up, send)
            if handled.outputs:
                await send(list(handled.outputs))
            await self._remove(conn, row)
            _log.info("push_redriven", tenant=row["tenant_id"], event_id=row["event_id"])
            return True

    async def _failed(
        self,
        conn: Connection,
        row: asyncpg.Record,
        event: CloudEvent[Any],
        failure: Exception,
        give_up: GiveUp,
        send: Send,
    ) -> bool:
        """Reschedule a failed re-drive, or give it up: failed results and the dead letter, then gone."""
        paused = failure if isinstance(failure, PushPaused) else None
        if paused is not None and paused.kind is not PauseKind.UNAVAILABLE:
            await self._reschedule(conn, row, paused.resume_at, paused.reason, row["failures"])
            return False
        # Pipedrive down, or the network, database or broker failing: retried until the age limit only.
        counted = paused is None and not is_transient(failure)
        failures = row["failures"] + (1 if counted else 0)
        last_error = paused.reason if paused else f"{type(failure).__name__}: {failure}"[:500]
        reason = give_up_reason(self.limits, row["parked_at"], failures, datetime.now(UTC), last_error)
        if reason is None:
            resume_at = paused.resume_at if paused else datetime.now(UTC) + self.limits.retry_after
            await self._reschedule(conn, row, resume_at, last_error, failures)
            return False
        results = await give_up(conn, event, reason)
        await send([*results, _dead_letter(row, event, PushGaveUp(reason))])
        await self._remove(conn, row)
        _log.warning("parked_push_gave_up", tenant=row["tenant_id"], event_id=row["event_id"], reason=reason)
        return True

    async def _reschedule(
        self, conn: Connection, row: asyncpg.Record, resume_at: datetime, reason: str, failures: int
    ) -> None:
        await conn.execute(
            f"UPDATE {self._table} SET resume_at = $3, reason = $4, failures = $5"
            " WHERE tenant_id = $1 AND event_id = $2",
            row["tenant_id"], row["event_id"], resume_at, reason, failures,
        )  # fmt: skip

    async def _remove(self, conn: Connection, row: asyncpg.Record) -> None:
        await conn.execute(
            f"DELETE FROM {self._table} WHERE tenant_id = $1 AND event_id = $2",
            row["tenant_id"],
            row["event_id"],
        )


def _dead_letter(row: asyncpg.Record, event: CloudEvent[Any], error: PushGaveUp) -> OutgoingMessage:
    """The parked event as the stream runner dead-letters a message (origin and error headers); rows
    parked before their origin was kept are keyed by the event's subject, which is the contract's key."""
    key = row["origin_key"] if row["origin_key"] is not None else event.subject
    origin = IncomingMessage(
        topic=row["topic"],
        partition=row["origin_partition"] if row["origin_partition"] is not None else -1,
        offset=row["origin_offset"] if row["origin_offset"] is not None else -1,
        key=key.encode(),
        value=row["event"].encode(),
    )
    return dead_letter_for(origin, SERVICE, error)
