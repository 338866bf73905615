"""Custom field codes on PostgreSQL (`pusher.ports.FieldCodes`): the `custom_fields` table of one schema,
found or created under an advisory lock per (tenant, object, label)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from postgres_store.pool import Connection
from schemas.events.common import SyncObject


class PostgresFieldCodes:
    """The `custom_fields` table of one schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema
        self._table = f"{schema}.custom_fields"

    async def known(self, tenant: str, obj: SyncObject, label: str) -> str | None:
        """The code kept for the label, or None."""
        return await _known(self._pool, self._table, tenant, obj, label)

    @asynccontextmanager
    async def slot(self, tenant: str, obj: SyncObject, label: str) -> AsyncIterator[PostgresFieldCodeSlot]:
        """The label's code in a transaction holding its advisory lock (so replicas create it once)."""
        async with self._pool.acquire() as conn, conn.transaction():
            lock_name = f"{self._schema}:custom-field:{tenant}:{obj.value}:{label}"
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", lock_name)
            yield PostgresFieldCodeSlot(conn, self._table, tenant, obj, label)

    async def forget(self, tenant: str, obj: SyncObject, label: str) -> None:
        """Drop a code Pipedrive no longer knows (the field was deleted there)."""
        await self._pool.execute(
            f"DELETE FROM {self._table} WHERE tenant_id = $1 AND object = $2 AND label = $3",
            tenant, obj.value, label,
        )  # fmt: skip


class PostgresFieldCodeSlot:
    """One label's row, under its lock."""

    def __init__(self, conn: Connection, table: str, tenant: str, obj: SyncObject, label: str) -> None:
        self._conn, self._table = conn, table
        self._tenant, self._obj, self._label = tenant, obj, label

    async def known(self) -> str | None:
        """The code kept already."""
        return await _known(self._conn, self._table, self._tenant, self._obj, self._label)

    async def keep(self, code: str) -> None:
        """Keep the code found or created."""
        await self._conn.execute(
            f"INSERT INTO {self._table} (tenant_id, object, label, field_code) VALUES ($1, $2, $3, $4)",
            self._tenant, self._obj.value, self._label, code,
        )  # fmt: skip


async def _known(
    conn: asyncpg.Pool | Connection, table: str, tenant: str, obj: SyncObject, label: str
) -> str | None:
    code = await conn.fetchval(
        f"SELECT field_code FROM {table} WHERE tenant_id = $1 AND object = $2 AND label = $3",
        tenant, obj.value, label,
    )  # fmt: skip
    return None if code is None else str(code)
