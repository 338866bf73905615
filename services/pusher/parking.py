"""Pushes paused by the tenant's Pipedrive budget, kept whole in Postgres and re-driven when it reopens.

While a tenant has parked pushes its new pushes are parked behind them (in arrival order), so a 429 or a
spent daily budget pauses that tenant only: the consumer goes on with everyone else's events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from schemas.codec import decode_event, encode_event
from schemas.envelope import CloudEvent
from stream_runner.messages import Handled

_log = structlog.get_logger(__name__)
IDLE_POLL_S = 0.2


class PushPaused(Exception):
    """The tenant's Pipedrive budget does not allow this push now: retry at `resume_at`."""

    def __init__(self, resume_at: datetime, reason: str) -> None:
        super().__init__(f"{reason}; resuming at {resume_at.isoformat()}")
        self.resume_at = resume_at
        self.reason = reason


def pause_for(seconds: float, reason: str) -> PushPaused:
    """A pause of `seconds` from now."""
    return PushPaused(datetime.now(UTC) + timedelta(seconds=seconds), reason)


Redrive = Callable[[CloudEvent[Any], str], Awaitable[Handled]]
Send = Callable[[list[Any]], Awaitable[None]]


class ParkedPushes:
    """The `parked_pushes` table of one schema, and the worker that re-drives it."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._table = f"{schema}.parked_pushes"

    async def park(self, event: CloudEvent[Any], topic: str, pause: PushPaused) -> None:
        """Keep the event until `pause.resume_at` (a redelivered event is parked once)."""
        await self._pool.execute(
            f"INSERT INTO {self._table} (tenant_id, event_id, topic, event, resume_at, reason)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, event_id) DO NOTHING",
            event.tenantid, event.id, topic, encode_event(event).decode(), pause.resume_at, pause.reason,
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

    async def run(self, redrive: Redrive, send: Send, stop: asyncio.Event) -> None:
        """Re-drive due pushes, oldest first per tenant, until `stop`; one replica per row (SKIP LOCKED)."""
        while not stop.is_set():
            try:
                worked = await self._redrive_one(redrive, send)
            except (OSError, asyncpg.PostgresError) as failure:
                _log.warning("redrive_failed", error=str(failure))
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), IDLE_POLL_S)

    async def _redrive_one(self, redrive: Redrive, send: Send) -> bool:
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
            except Exception as failure:  # a push failing here waits and is tried again
                pause = failure if isinstance(failure, PushPaused) else pause_for(30, repr(failure)[:200])
                await conn.execute(
                    f"UPDATE {self._table} SET resume_at = $3, reason = $4"
                    " WHERE tenant_id = $1 AND event_id = $2",
                    row["tenant_id"], row["event_id"], pause.resume_at, pause.reason,
                )  # fmt: skip
                return False
            if handled.outputs:
                await send(list(handled.outputs))
            await conn.execute(
                f"DELETE FROM {self._table} WHERE tenant_id = $1 AND event_id = $2",
                row["tenant_id"],
                row["event_id"],
            )
            _log.info("push_redriven", tenant=row["tenant_id"], event_id=row["event_id"])
            return True
