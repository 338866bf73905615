"""psyncctl's own table: what it re-drove from the dead-letter topics (schema `psyncctl` by default)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from postgres_store.migrations import apply_migrations

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Redrive:
    """One dead letter sent back to its origin topic."""

    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    origin_topic: str
    produced_partition: int
    produced_offset: int
    tenant_id: str | None
    event_id: str | None
    error_class: str | None
    value_replaced: bool
    actor: str


class RedriveLog:
    """Records re-drives and tells which dead letters were re-driven already."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    async def install(self) -> None:
        """Create or upgrade psyncctl's schema."""
        await apply_migrations(self._pool, self._schema, MIGRATIONS)

    async def record(self, redrive: Redrive) -> datetime:
        """Store one re-drive; returns when it was recorded."""
        at: datetime = await self._pool.fetchval(
            f"INSERT INTO {self._schema}.redrives (dlq_topic, dlq_partition, dlq_offset, origin_topic,"
            " produced_partition, produced_offset, tenant_id, event_id, error_class, value_replaced, actor)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING redriven_at",
            redrive.dlq_topic,
            redrive.dlq_partition,
            redrive.dlq_offset,
            redrive.origin_topic,
            redrive.produced_partition,
            redrive.produced_offset,
            redrive.tenant_id,
            redrive.event_id,
            redrive.error_class,
            redrive.value_replaced,
            redrive.actor,
        )
        return at

    async def last_redriven(self, dlq_topics: list[str]) -> dict[tuple[str, int, int], datetime]:
        """When each dead letter of these topics was last re-driven (those never re-driven are absent)."""
        rows = await self._pool.fetch(
            "SELECT dlq_topic, dlq_partition, dlq_offset, max(redriven_at) AS at"
            f" FROM {self._schema}.redrives WHERE dlq_topic = ANY($1::text[])"
            " GROUP BY dlq_topic, dlq_partition, dlq_offset",
            dlq_topics,
        )
        return {(r["dlq_topic"], r["dlq_partition"], r["dlq_offset"]): r["at"] for r in rows}
