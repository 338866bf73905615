"""The mirror on PostgreSQL (`pusher.ports.Mirror`): the `mirror` table of one schema, on the connection
of a unit of work or a view."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from postgres_store.pool import Connection
from pusher.mirror import org_id_of
from pusher.planning import PipedriveRecord
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, SourceChange


class PostgresMirror:
    """Reads and writes the `mirror` table of one schema on one connection."""

    def __init__(self, conn: Connection, schema: str) -> None:
        self._conn = conn
        self._table = f"{schema}.mirror"

    async def apply_change(
        self, tenant: str, change: SourceChange, match_key: str | None, echo: bool
    ) -> bool:
        """Keep the change unless a newer version is mirrored; True when it was kept."""
        if change.action is ChangeAction.UPSERTED and change.record is not None:
            return await self.upsert(
                tenant, change.object, change.pipedrive_id, change.record, change.update_time,
                match_key, echo=echo,
            )  # fmt: skip
        kept = await self._conn.fetchval(
            f"INSERT INTO {self._table} AS m (tenant_id, object, pipedrive_id, update_time, deleted,"
            " merged_into_id) VALUES ($1, $2, $3, $4, true, $5)"
            " ON CONFLICT (tenant_id, object, pipedrive_id) DO UPDATE SET deleted = true,"
            " merged_into_id = EXCLUDED.merged_into_id, update_time = greatest(m.update_time,"
            " EXCLUDED.update_time) RETURNING true",
            tenant, change.object.value, change.pipedrive_id, change.update_time, change.merged_into_id,
        )  # fmt: skip
        return bool(kept)

    async def upsert(
        self,
        tenant: str,
        obj: SyncObject,
        pipedrive_id: int,
        record: Mapping[str, Any],
        update_time: datetime,
        match_key: str | None,
        *,
        echo: bool = False,
    ) -> bool:
        """Mirror one record version (older versions than the mirrored one are ignored)."""
        kept = await self._conn.fetchval(
            f"INSERT INTO {self._table} AS m (tenant_id, object, pipedrive_id, match_key, record,"
            " update_time, deleted, org_id, last_change_was_echo) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (tenant_id, object, pipedrive_id) DO UPDATE SET match_key = EXCLUDED.match_key,"
            " record = EXCLUDED.record, update_time = EXCLUDED.update_time, deleted = EXCLUDED.deleted,"
            " org_id = EXCLUDED.org_id, last_change_was_echo = EXCLUDED.last_change_was_echo"
            " WHERE m.update_time <= EXCLUDED.update_time"
            " AND NOT (m.deleted AND m.merged_into_id IS NOT NULL)"
            " RETURNING true",
            tenant, obj.value, pipedrive_id, match_key, dict(record), update_time,
            bool(record.get("is_deleted")), org_id_of(record), echo,
        )  # fmt: skip
        return bool(kept)

    async def by_id(self, tenant: str, obj: SyncObject, pipedrive_id: int) -> PipedriveRecord | None:
        """The mirrored record with this id (deleted ones included), or None."""
        row = await self._conn.fetchrow(
            f"SELECT pipedrive_id, coalesce(record, '{{}}'::jsonb) AS record, deleted, merged_into_id"
            f" FROM {self._table} WHERE tenant_id = $1 AND object = $2 AND pipedrive_id = $3",
            tenant, obj.value, pipedrive_id,
        )  # fmt: skip
        return _record(row)

    async def by_match_key(self, tenant: str, obj: SyncObject, match_key: str) -> PipedriveRecord | None:
        """The live mirrored record with this match key (the oldest, when Pipedrive holds several)."""
        row = await self._conn.fetchrow(
            f"SELECT pipedrive_id, record, deleted, merged_into_id FROM {self._table}"
            " WHERE tenant_id = $1 AND object = $2"
            " AND match_key = $3 AND NOT deleted ORDER BY pipedrive_id LIMIT 1",
            tenant, obj.value, match_key,
        )  # fmt: skip
        return _record(row)

    async def gone_by_match_key(self, tenant: str, obj: SyncObject, match_key: str) -> PipedriveRecord | None:
        """The record with this match key that Pipedrive deleted or merged away last, or None."""
        row = await self._conn.fetchrow(
            f"SELECT pipedrive_id, coalesce(record, '{{}}'::jsonb) AS record, deleted, merged_into_id"
            f" FROM {self._table} WHERE tenant_id = $1 AND object = $2 AND match_key = $3 AND deleted"
            " ORDER BY update_time DESC, pipedrive_id DESC LIMIT 1",
            tenant, obj.value, match_key,
        )  # fmt: skip
        return _record(row)

    async def mark_deleted(self, tenant: str, obj: SyncObject, pipedrive_id: int, at: datetime) -> None:
        """Pipedrive answered 404 for the record: it is deleted (a merge already known is kept)."""
        await self._conn.execute(
            f"INSERT INTO {self._table} AS m (tenant_id, object, pipedrive_id, update_time, deleted)"
            " VALUES ($1, $2, $3, $4, true) ON CONFLICT (tenant_id, object, pipedrive_id) DO UPDATE"
            " SET deleted = true, update_time = greatest(m.update_time, EXCLUDED.update_time)",
            tenant, obj.value, pipedrive_id, at,
        )  # fmt: skip

    async def open_deals_of(self, tenant: str, org_id: int) -> list[PipedriveRecord]:
        """The organization's live open deals."""
        rows = await self._conn.fetch(
            f"SELECT pipedrive_id, record, deleted, merged_into_id FROM {self._table}"
            " WHERE tenant_id = $1 AND object = $2"
            " AND org_id = $3 AND NOT deleted AND record ->> 'status' = 'open' ORDER BY pipedrive_id",
            tenant, SyncObject.DEAL.value, org_id,
        )  # fmt: skip
        return [r for r in (_record(row) for row in rows) if r is not None]


def _record(row: Any) -> PipedriveRecord | None:
    if row is None or row["record"] is None:
        return None
    return PipedriveRecord(
        int(row["pipedrive_id"]), row["record"], bool(row["deleted"]), row["merged_into_id"]
    )
