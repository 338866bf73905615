"""The settings replica: the highest version of each tenant's settings, in the service's own schema.

The topic is compacted and may be replayed or redelivered: a version guard keeps the newest settings
whatever the order, so the replica needs no inbox. The service's migrations create the table:
`tenant_settings (tenant_id PK, version, settings jsonb, event_id, updated_at)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg

from postgres_store.json_rows import json_rows
from schemas.envelope import CloudEvent
from schemas.events.settings import TenantSettings
from stream_runner.messages import Handled, IncomingMessage
from stream_runner.processor import BatchHandler

SettingsUpdate = tuple[str, str, TenantSettings]
"""A tenant's settings as published: tenant, event id, settings."""


class SettingsReplica:
    """Reads and writes the replica table of one service schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    async def store_all(self, updates: Sequence[SettingsUpdate]) -> list[bool]:
        """Keep each tenant's settings of `updates` (in one statement) unless a newer or equal version is
        stored or comes with them; True for each one stored (per tenant, the first of its highest
        version)."""
        chosen = newest_per_tenant(updates)
        if not chosen:
            return [False] * len(updates)
        picked = [updates[i] for i in chosen.values()]
        rows = [
            (tenant, settings.version, settings.model_dump(mode="json"), event_id)
            for tenant, event_id, settings in picked
        ]
        stored = await self._pool.fetch(
            f"INSERT INTO {self._schema}.tenant_settings AS kept (tenant_id, version, settings, event_id)"
            " SELECT u.r->>0, (u.r->>1)::int, u.r->2, u.r->>3"
            " FROM jsonb_array_elements($1::text::jsonb) AS u(r)"
            " ON CONFLICT (tenant_id) DO UPDATE"
            " SET version = EXCLUDED.version, settings = EXCLUDED.settings, event_id = EXCLUDED.event_id,"
            " updated_at = now() WHERE kept.version < EXCLUDED.version RETURNING tenant_id",
            json_rows(rows),
        )
        kept = {chosen[row["tenant_id"]] for row in stored}
        return [i in kept for i in range(len(updates))]

    async def get(self, tenant: str) -> TenantSettings | None:
        """The tenant's current settings, or None when none were published yet."""
        row = await self._pool.fetchval(
            f"SELECT settings FROM {self._schema}.tenant_settings WHERE tenant_id = $1", tenant
        )
        return None if row is None else TenantSettings.model_validate(row)


class SettingsKeeper(Protocol):
    """A replica of tenant settings: the Postgres one, or a service test's fake."""

    async def store_all(self, updates: Sequence[SettingsUpdate]) -> list[bool]:
        """Keep each tenant's newest settings of `updates` unless as new or newer ones are kept; True
        for each one stored."""
        ...


def newest_per_tenant(updates: Sequence[SettingsUpdate]) -> dict[str, int]:
    """The position in `updates` of each tenant's newest settings (the first of its highest version)."""
    chosen: dict[str, int] = {}
    for i, (tenant, _, settings) in enumerate(updates):
        best = chosen.get(tenant)
        if best is None or updates[best][2].version < settings.version:
            chosen[tenant] = i
    return chosen


def settings_updated_batch(replica: SettingsKeeper) -> BatchHandler:
    """The `psync.settings.updated` handler that feeds a replica, many events in one statement (a version
    already kept is a duplicate): what the consumer loop applies settings with, a lone event as a batch of
    one, and what the skeleton reads the settings topic with before the loop starts
    (`Consumer.read_first`)."""

    async def handle(items: Sequence[tuple[CloudEvent[Any], IncomingMessage]]) -> list[Handled]:
        stored = await replica.store_all([(event.tenantid, event.id, event.data) for event, _ in items])
        return [Handled(duplicate=not kept) for kept in stored]

    return handle
