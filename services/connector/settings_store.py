"""Tenant sync settings: versioned in the connector's schema and published on `psync.settings.v1` (the
values: `tenant_settings`).

A change is saved (version + 1) and then published with an event id derived from (tenant, version); a
publication that failed is retried by `publish_pending`, so the topic always ends at the stored version.
Settings never hold secrets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from pydantic import ValidationError

from connector.audit_outbox_store import AuditOutbox
from connector.audit_trail import audit_entry, settings_changes
from connector.tenant_settings import default_settings, settings_message
from schemas.events.audit import AuditAction
from schemas.events.settings import TenantSettings
from stream_runner.errors import is_transient
from stream_runner.producer import EventProducer

_log = structlog.get_logger(__name__)


Change = Callable[[TenantSettings], TenantSettings]


class SettingsStore:
    """Saves, versions and publishes tenant settings."""

    def __init__(self, pool: asyncpg.Pool, schema: str, producer: EventProducer) -> None:
        self._pool = pool
        self._table = f"{schema}.tenant_settings"
        self._producer = producer
        self._audit = AuditOutbox(pool, schema, producer)

    async def current(self, tenant: str) -> TenantSettings | None:
        """The tenant's saved settings (None before the first save)."""
        raw = await self._pool.fetchval(f"SELECT settings FROM {self._table} WHERE tenant_id = $1", tenant)
        return TenantSettings.model_validate(raw) if raw is not None else None

    async def current_or_default(self, tenant: str) -> TenantSettings:
        """The saved settings, or the defaults a first save would start from."""
        return await self.current(tenant) or default_settings().model_copy(update={"version": 0})

    async def change(
        self,
        tenant: str,
        change: Change,
        action: AuditAction = AuditAction.SETTINGS_CHANGED,
        detail: str | None = None,
    ) -> TenantSettings:
        """Apply `change` to the current settings, save it as the next version with its audit entry (who:
        the current actor; what: `action` and the values that changed), then publish both."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"INSERT INTO {self._table} (tenant_id, version, settings) VALUES ($1, 0, $2)"
                " ON CONFLICT (tenant_id) DO NOTHING",
                tenant,
                _as_json(default_settings()),
            )
            row = await conn.fetchrow(
                f"SELECT version, settings FROM {self._table} WHERE tenant_id = $1 FOR UPDATE", tenant
            )
            assert row is not None
            current = TenantSettings.model_validate({**row["settings"], "version": max(row["version"], 1)})
            saved = change(current).model_copy(update={"version": row["version"] + 1})
            saved = TenantSettings.model_validate(_as_json(saved))
            await conn.execute(
                f"UPDATE {self._table} SET version = $2, settings = $3, updated_at = now()"
                " WHERE tenant_id = $1",
                tenant,
                saved.version,
                _as_json(saved),
            )
            entry = audit_entry(action, settings_changes(current, saved), detail, datetime.now(UTC))
            if entry is not None:
                await self._audit.record(conn, tenant, entry)
        await self.publish(tenant, saved)
        await self._publish_audit()
        return saved

    async def _publish_audit(self) -> None:
        """Publish the audit entries; one that fails now is published with the next retries."""
        try:
            await self._audit.publish_pending()
        except Exception as failure:
            if not is_transient(failure):
                raise
            _log.warning("audit_publish_deferred", error=_reason(failure))

    async def publish(self, tenant: str, settings: TenantSettings) -> None:
        """Publish a saved version and remember that it was."""
        await self._producer.send_all([settings_message(tenant, settings)])
        await self._pool.execute(
            f"UPDATE {self._table} SET published_version = greatest(published_version, $2)"
            " WHERE tenant_id = $1",
            tenant,
            settings.version,
        )

    async def publish_pending(self) -> int:
        """Publish every saved version whose publication failed; returns how many were published.

        A tenant whose settings cannot be published (a row that no longer parses, an id events cannot
        carry) is logged and skipped: the others are published all the same."""
        rows = await self._pool.fetch(
            f"SELECT tenant_id, settings FROM {self._table} WHERE version > published_version AND version > 0"
        )
        await self._audit.publish_pending()
        published = 0
        for row in rows:
            try:
                await self.publish(row["tenant_id"], TenantSettings.model_validate(row["settings"]))
            except Exception as failure:
                if is_transient(failure):
                    raise  # Kafka or PostgreSQL away: every tenant waits for the next tick alike
                _log.error("settings_publish_failed", tenant=row["tenant_id"], error=_reason(failure))
                continue
            published += 1
            _log.info("settings_republished", tenant=row["tenant_id"])
        return published

    async def tenants_by_frequency(self) -> list[tuple[str, TenantSettings]]:
        """Every tenant with scheduled syncs (frequency other than manual) and connected; a tenant whose
        row does not parse is logged and left out."""
        rows = await self._pool.fetch(
            f"SELECT tenant_id, settings FROM {self._table}"
            " WHERE settings ->> 'frequency' <> 'manual' AND (settings ->> 'connected')::boolean"
        )
        scheduled = []
        for row in rows:
            try:
                scheduled.append((row["tenant_id"], TenantSettings.model_validate(row["settings"])))
            except ValidationError as failure:
                _log.error("tenant_settings_unreadable", tenant=row["tenant_id"], error=_reason(failure))
        return scheduled


def _as_json(settings: TenantSettings) -> dict[str, Any]:
    return settings.model_dump(mode="json")


def _reason(failure: Exception) -> str:
    return f"{type(failure).__name__}: {failure}"[:500]
