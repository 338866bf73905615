"""Incremental read positions and emitted versions, in the connector's schema.

The overlap rule (pure): a page read from `cursor - overlap` holds versions already emitted; only a
version newer than the last one emitted for its record is emitted again. After Kafka acknowledges the
page's events, `record_emitted` stores those versions and moves the cursor in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from schemas.events.common import SyncObject

Connection = asyncpg.Connection | PoolConnectionProxy


def read_from(cursor: datetime | None, overlap_seconds: int) -> datetime | None:
    """`updated_since` of the next incremental read: the cursor minus the overlap (None: read all)."""
    return None if cursor is None else cursor - timedelta(seconds=overlap_seconds)


def new_versions(
    versions: Iterable[tuple[int, datetime]], emitted: Mapping[int, datetime]
) -> list[tuple[int, datetime]]:
    """The (id, update_time) pairs newer than the version last emitted for that id, first seen first."""
    fresh: dict[int, datetime] = {}
    for record_id, update_time in versions:
        last = fresh.get(record_id) or emitted.get(record_id)
        if last is None or update_time > last:
            fresh[record_id] = update_time
    return list(fresh.items())


class CursorStore:
    """Cursors and last emitted versions per tenant and object."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    async def cursor(self, tenant: str, obj: SyncObject) -> datetime | None:
        """The highest update_time emitted for the object (None before the first read)."""
        value: datetime | None = await self._pool.fetchval(
            f"SELECT cursor FROM {self._schema}.cursors WHERE tenant_id = $1 AND object = $2",
            tenant,
            obj.value,
        )
        return value

    async def emitted(self, tenant: str, obj: SyncObject, ids: Sequence[int]) -> dict[int, datetime]:
        """The last emitted update_time of each of `ids` that has one."""
        rows = await self._pool.fetch(
            f"SELECT pipedrive_id, update_time FROM {self._schema}.record_versions"
            " WHERE tenant_id = $1 AND object = $2 AND pipedrive_id = ANY($3::bigint[])",
            tenant,
            obj.value,
            list(ids),
        )
        return {r["pipedrive_id"]: r["update_time"] for r in rows}

    async def record_emitted(
        self,
        tenant: str,
        obj: SyncObject,
        versions: Sequence[tuple[int, datetime]],
        *,
        deleted: bool = False,
        advance_to: datetime | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Store acknowledged versions and move the cursor forward (never back) in one transaction (the
        caller's, when it passes `conn`)."""
        if conn is None:
            async with self._pool.acquire() as own, own.transaction():
                await self.record_emitted(
                    tenant, obj, versions, deleted=deleted, advance_to=advance_to, conn=own
                )
            return
        if versions:
            await conn.execute(
                f"INSERT INTO {self._schema}.record_versions AS v"
                " (tenant_id, object, pipedrive_id, update_time, deleted)"
                " SELECT $1, $2, i, t, $5 FROM unnest($3::bigint[], $4::timestamptz[]) AS u(i, t)"
                " ON CONFLICT (tenant_id, object, pipedrive_id) DO UPDATE"
                " SET update_time = greatest(v.update_time, EXCLUDED.update_time),"
                " deleted = EXCLUDED.deleted",
                tenant,
                obj.value,
                [i for i, _ in versions],
                [t for _, t in versions],
                deleted,
            )
        if advance_to is not None:
            await conn.execute(
                f"INSERT INTO {self._schema}.cursors AS c (tenant_id, object, cursor) VALUES ($1, $2, $3)"
                " ON CONFLICT (tenant_id, object) DO UPDATE"
                " SET cursor = greatest(c.cursor, EXCLUDED.cursor)",
                tenant,
                obj.value,
                advance_to,
            )

    async def live_ids(self, tenant: str, obj: SyncObject) -> set[int]:
        """Ids emitted as live (not deleted) for the object."""
        rows = await self._pool.fetch(
            f"SELECT pipedrive_id FROM {self._schema}.record_versions"
            " WHERE tenant_id = $1 AND object = $2 AND NOT deleted",
            tenant,
            obj.value,
        )
        return {r["pipedrive_id"] for r in rows}

    async def reconciled_at(self, tenant: str, obj: SyncObject) -> datetime | None:
        """When the object's ids were last reconciled."""
        value: datetime | None = await self._pool.fetchval(
            f"SELECT reconciled_at FROM {self._schema}.cursors WHERE tenant_id = $1 AND object = $2",
            tenant,
            obj.value,
        )
        return value

    async def mark_reconciled(self, tenant: str, obj: SyncObject, at: datetime) -> None:
        """Record a finished reconciliation of the object's ids."""
        await self._pool.execute(
            f"INSERT INTO {self._schema}.cursors (tenant_id, object, reconciled_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (tenant_id, object) DO UPDATE SET reconciled_at = EXCLUDED.reconciled_at",
            tenant,
            obj.value,
            at,
        )
