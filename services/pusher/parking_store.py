"""Parked pushes on PostgreSQL (`pusher.ports.ParkedStore`): the `parked_pushes` table of one schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from postgres_store.pool import Connection
from pusher.ports import ParkedRow
from pusher.push_run_store import PostgresPushRuns


class PostgresParked:
    """The `parked_pushes` table of one schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema
        self._table = f"{schema}.parked_pushes"

    async def park(
        self,
        tenant: str,
        event_id: str,
        topic: str,
        event: str,
        resume_at: datetime,
        reason: str,
        origin: tuple[int | None, int | None, str | None],
    ) -> None:
        """Keep an event until `resume_at` (a redelivered event is parked once)."""
        await self._pool.execute(
            f"INSERT INTO {self._table} (tenant_id, event_id, topic, event, resume_at, reason,"
            " origin_partition, origin_offset, origin_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (tenant_id, event_id) DO NOTHING",
            tenant, event_id, topic, event, resume_at, reason, *origin,
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

    @asynccontextmanager
    async def next_due(self) -> AsyncIterator[PostgresDueParked | None]:
        """The oldest due push of a tenant none of whose older pushes wait, locked for this re-driver
        (SKIP LOCKED: one replica per row) in a transaction that ends with the block."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT * FROM {self._table} p WHERE resume_at <= now() AND NOT EXISTS ("
                f" SELECT 1 FROM {self._table} q"
                " WHERE q.tenant_id = p.tenant_id AND q.parked_at < p.parked_at)"
                " ORDER BY resume_at LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
            yield None if row is None else PostgresDueParked(conn, self._schema, parked_row_of(row))


class PostgresDueParked:
    """A parked push locked in a transaction, with the push runs on the same connection."""

    def __init__(self, conn: Connection, schema: str, row: ParkedRow) -> None:
        self._conn = conn
        self._table = f"{schema}.parked_pushes"
        self.row = row
        self.runs = PostgresPushRuns(conn, schema)

    async def reschedule(self, resume_at: datetime, reason: str, failures: int) -> None:
        """Wait again until `resume_at`."""
        await self._conn.execute(
            f"UPDATE {self._table} SET resume_at = $3, reason = $4, failures = $5"
            " WHERE tenant_id = $1 AND event_id = $2",
            self.row.tenant, self.row.event_id, resume_at, reason, failures,
        )  # fmt: skip

    async def remove(self) -> None:
        """The push is done (re-driven or given up)."""
        await self._conn.execute(
            f"DELETE FROM {self._table} WHERE tenant_id = $1 AND event_id = $2",
            self.row.tenant,
            self.row.event_id,
        )


def parked_row_of(row: Any) -> ParkedRow:
    """A `parked_pushes` row."""
    return ParkedRow(
        row["tenant_id"], row["event_id"], row["topic"], row["event"], row["parked_at"], row["failures"],
        row["origin_partition"], row["origin_offset"], row["origin_key"],
    )  # fmt: skip
