"""The engagement-score custom field: found by its label, created once per Pipedrive account if missing.

The code is kept in the `custom_fields` table. Finding or creating it runs under a Postgres advisory lock
per (tenant, object, label), so concurrent pushes on any replica create the field once.
"""

from __future__ import annotations

import asyncpg

from postgres_store.pool import Connection
from pusher.pipedrive_writes import PipedriveWrites
from schemas.events.common import SyncObject
from sync_rules.mappings import CustomFieldResolutionError

ENGAGEMENT_SCORE_LABEL = "Engagement score"
ENGAGEMENT_SCORE_TYPE = "double"


class CustomFieldCodes:
    """Custom field codes by label, per tenant and object, found or created once."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._table = f"{schema}.custom_fields"
        self._schema = schema

    async def code_of(
        self, tenant: str, obj: SyncObject, label: str, writes: PipedriveWrites, field_type: str
    ) -> str:
        """The field's 40-hex code; created in Pipedrive when no field has the label.

        Raises `CustomFieldResolutionError` when several custom fields carry the label.
        """
        known = await self._known(self._pool, tenant, obj, label)
        if known is not None:
            return known
        async with self._pool.acquire() as conn, conn.transaction():
            lock_name = f"{self._schema}:custom-field:{tenant}:{obj.value}:{label}"
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", lock_name)
            known = await self._known(conn, tenant, obj, label)
            if known is not None:
                return known
            code = await _find_or_create(writes, obj, label, field_type)
            await conn.execute(
                f"INSERT INTO {self._table} (tenant_id, object, label, field_code) VALUES ($1, $2, $3, $4)",
                tenant, obj.value, label, code,
            )  # fmt: skip
            return code

    async def forget(self, tenant: str, obj: SyncObject, label: str) -> None:
        """Drop a code Pipedrive no longer knows (the field was deleted there)."""
        await self._pool.execute(
            f"DELETE FROM {self._table} WHERE tenant_id = $1 AND object = $2 AND label = $3",
            tenant, obj.value, label,
        )  # fmt: skip

    async def _known(
        self, conn: asyncpg.Pool | Connection, tenant: str, obj: SyncObject, label: str
    ) -> str | None:
        code = await conn.fetchval(
            f"SELECT field_code FROM {self._table} WHERE tenant_id = $1 AND object = $2 AND label = $3",
            tenant, obj.value, label,
        )  # fmt: skip
        return None if code is None else str(code)


async def _find_or_create(writes: PipedriveWrites, obj: SyncObject, label: str, field_type: str) -> str:
    wanted = " ".join(label.split()).casefold()
    matches = [
        d.field_code
        for d in await writes.field_definitions(obj)
        if d.is_custom_field and " ".join(d.field_name.split()).casefold() == wanted
    ]
    if len(matches) > 1:
        raise CustomFieldResolutionError(
            f"{len(matches)} custom fields are labelled {label!r} in this Pipedrive account; rename all but "
            "one in Pipedrive"
        )
    if matches:
        return matches[0]
    return (await writes.create_field(obj, label, field_type)).field_code
