"""The settings replica: the highest version of each tenant's settings, in the service's own schema.

The topic is compacted and may be replayed or redelivered: a version guard keeps the newest settings
whatever the order, so the replica needs no inbox. The service's migrations create the table:
`tenant_settings (tenant_id PK, version, settings jsonb, event_id, updated_at)`.
"""

from __future__ import annotations

from typing import Any, Protocol

import asyncpg

from schemas.envelope import CloudEvent
from schemas.events.settings import TenantSettings
from stream_runner.messages import Handled, IncomingMessage
from stream_runner.processor import Handler


class SettingsReplica:
    """Reads and writes the replica table of one service schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    async def store(self, tenant: str, event_id: str, settings: TenantSettings) -> bool:
        """Keep `settings` unless a newer or equal version is stored; True when it was stored."""
        stored = await self._pool.fetchval(
            f"INSERT INTO {self._schema}.tenant_settings (tenant_id, version, settings, event_id)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE"
            " SET version = EXCLUDED.version, settings = EXCLUDED.settings, event_id = EXCLUDED.event_id,"
            " updated_at = now() WHERE tenant_settings.version < EXCLUDED.version RETURNING true",
            tenant,
            settings.version,
            settings.model_dump(mode="json"),
            event_id,
        )
        return bool(stored)

    async def get(self, tenant: str) -> TenantSettings | None:
        """The tenant's current settings, or None when none were published yet."""
        row = await self._pool.fetchval(
            f"SELECT settings FROM {self._schema}.tenant_settings WHERE tenant_id = $1", tenant
        )
        return None if row is None else TenantSettings.model_validate(row)


class SettingsKeeper(Protocol):
    """A replica of tenant settings: the Postgres one, or a service test's fake."""

    async def store(self, tenant: str, event_id: str, settings: TenantSettings) -> bool:
        """Keep newer settings; False when as new or newer ones are kept."""
        ...


def settings_updated(replica: SettingsKeeper) -> Handler:
    """The `psync.settings.updated` handler that feeds a replica (a version already kept is a duplicate)."""

    async def handle(event: CloudEvent[Any], _message: IncomingMessage) -> Handled:
        return Handled(duplicate=not await replica.store(event.tenantid, event.id, event.data))

    return handle
