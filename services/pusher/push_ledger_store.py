"""The push ledger on PostgreSQL (`pusher.ports.PushLedger`): the `push_ledger` table of one schema, on
the connection of a unit of work or a view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from postgres_store.json_rows import json_rows
from postgres_store.pool import Connection
from pusher.ports import RecordRef
from pusher.push_ledger import DONE, INTENT, LedgerEntry, entry_of, id_spans, merge_written
from schemas.events.common import SyncObject


class PostgresLedger:
    """Reads and writes the `push_ledger` table of one schema on one connection."""

    def __init__(self, conn: Connection, schema: str) -> None:
        self._conn = conn
        self._table = f"{schema}.push_ledger"

    async def entry(self, tenant: str, obj: SyncObject, match_key: str) -> LedgerEntry | None:
        """The record's row, or None when the pusher never wrote it."""
        row = await self._conn.fetchrow(
            f"SELECT * FROM {self._table} WHERE tenant_id = $1 AND object = $2 AND match_key = $3",
            tenant, obj.value, match_key,
        )  # fmt: skip
        return entry_of(row)

    async def entries_by_pipedrive_ids(self, records: Sequence[RecordRef]) -> dict[RecordRef, LedgerEntry]:
        """The row of the record the pusher last created or wrote under each Pipedrive id, in one read
        (records never written are absent)."""
        if not records or not await self._holds_any_in_spans(records):
            return {}
        # The keys as one JSON array of (tenant, object, id), split in SQL: a batch of source changes
        # asks for all of its records (2,000), and asyncpg binds typed arrays element by element.
        rows = await self._conn.fetch(
            f"SELECT DISTINCT ON (l.tenant_id, l.object, l.pipedrive_id) l.* FROM {self._table} AS l"
            " JOIN jsonb_array_elements($1::text::jsonb) AS k(r)"
            " ON l.tenant_id = k.r->>0 AND l.object = k.r->>1 AND l.pipedrive_id = (k.r->>2)::bigint"
            " ORDER BY l.tenant_id, l.object, l.pipedrive_id, l.written_at DESC NULLS LAST",
            json_rows([(t, o.value, p) for t, o, p in records]),
        )  # fmt: skip
        found: dict[RecordRef, LedgerEntry] = {}
        for row in rows:
            entry = entry_of(row)
            if entry is not None:
                found[(row["tenant_id"], SyncObject(row["object"]), row["pipedrive_id"])] = entry
        return found

    async def _holds_any_in_spans(self, records: Sequence[RecordRef]) -> bool:
        """Whether the ledger holds any row under a Pipedrive id between the least and the greatest of
        `records`' ids of a tenant and object (`id_spans`): a cheap first test, a few index range scans,
        where the exact read sends and parses every key (a batch of source changes asks for 2,000 records,
        and a tenant's ledger holds only the records the pusher wrote, often none of an import's)."""
        return bool(
            await self._conn.fetchval(
                "SELECT EXISTS (SELECT FROM jsonb_array_elements($1::text::jsonb) AS s(r)"
                f" JOIN {self._table} AS l ON l.tenant_id = s.r->>0 AND l.object = s.r->>1"
                " AND l.pipedrive_id BETWEEN (s.r->>2)::bigint AND (s.r->>3)::bigint)",
                json_rows(id_spans(records)),
            )
        )

    async def record_intent(
        self, tenant: str, obj: SyncObject, match_key: str, body: Mapping[str, Any]
    ) -> None:
        """The intent to create (on a view it commits at once, before the POST is sent)."""
        await self._conn.execute(
            f"INSERT INTO {self._table} AS l (tenant_id, object, match_key, state, planned_body, intent_at)"
            " VALUES ($1, $2, $3, $4, $5, clock_timestamp()) ON CONFLICT (tenant_id, object, match_key)"
            " DO UPDATE SET state = EXCLUDED.state, planned_body = EXCLUDED.planned_body,"
            " intent_at = EXCLUDED.intent_at",
            tenant, obj.value, match_key, INTENT, dict(body),
        )  # fmt: skip

    async def drop_intent(self, tenant: str, obj: SyncObject, match_key: str) -> None:
        """Forget an intent whose POST Pipedrive refused outright (nothing can have been created)."""
        await self._conn.execute(
            f"UPDATE {self._table} SET state = $4 WHERE tenant_id = $1 AND object = $2 AND match_key = $3"
            " AND state = $5",
            tenant, obj.value, match_key, DONE, INTENT,
        )  # fmt: skip

    async def record_write(
        self,
        tenant: str,
        obj: SyncObject,
        match_key: str,
        pipedrive_id: int,
        body: Mapping[str, Any],
        version: datetime | None = None,
    ) -> None:
        """Record a create's result or an update: the Pipedrive id, the values written (merged in) and the
        version the write produced (an empty body wrote nothing: the last write's version is kept)."""
        before = await self.entry(tenant, obj, match_key)
        written, pushed = dict(body), dict(body)
        if before is not None and before.pipedrive_id == pipedrive_id:
            written = merge_written(before.written, body)
            pushed = merge_written(before.pushed, body)
            version = version if body else before.written_version
        await self._conn.execute(
            f"INSERT INTO {self._table} (tenant_id, object, match_key, state, pipedrive_id, written,"
            " written_at, written_version, pushed) VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), $7, $8)"
            " ON CONFLICT (tenant_id, object, match_key) DO UPDATE SET state = EXCLUDED.state,"
            " pipedrive_id = EXCLUDED.pipedrive_id, written_at = EXCLUDED.written_at,"
            " written = EXCLUDED.written, written_version = EXCLUDED.written_version,"
            " pushed = EXCLUDED.pushed",
            tenant, obj.value, match_key, DONE, pipedrive_id, written, version, pushed,
        )  # fmt: skip

    async def keep_held(
        self, tenant: str, obj: SyncObject, match_key: str, written: Mapping[str, Any]
    ) -> None:
        """Forget written values Pipedrive no longer holds (a person changed them since)."""
        await self._conn.execute(
            f"UPDATE {self._table} SET written = $4 WHERE tenant_id = $1 AND object = $2 AND match_key = $3",
            tenant, obj.value, match_key, dict(written),
        )  # fmt: skip
