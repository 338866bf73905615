"""The push ledger: what the pusher is about to create, what it wrote, when, and with what result.

A creating call is guarded: its intent (the planned body) is committed before the POST, and the result
(the new Pipedrive id) after it. An intent without a result means a crash (or an ambiguous failure) came
between the two: before creating again the pusher looks for the record it may have created.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from postgres_store.pool import Connection
from schemas.events.common import SyncObject

INTENT = "intent"
DONE = "done"


@dataclass(frozen=True)
class LedgerEntry:
    """One record's row: the state of its last create, its Pipedrive id, the values written that Pipedrive
    still holds, and the version (`update_time`) the last write produced."""

    match_key: str
    state: str
    pipedrive_id: int | None
    planned_body: Mapping[str, Any] | None
    intent_at: datetime | None
    written: Mapping[str, Any]
    written_at: datetime | None
    written_version: datetime | None = None

    @property
    def unresolved_intent(self) -> bool:
        """A create may have reached Pipedrive without its result being recorded."""
        return self.state == INTENT


class PushLedger:
    """Reads and writes the `push_ledger` table of one schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._table = f"{schema}.push_ledger"

    async def entry(
        self, conn: Connection, tenant: str, obj: SyncObject, match_key: str
    ) -> LedgerEntry | None:
        """The record's row, or None when the pusher never wrote it."""
        row = await conn.fetchrow(
            f"SELECT * FROM {self._table} WHERE tenant_id = $1 AND object = $2 AND match_key = $3",
            tenant, obj.value, match_key,
        )  # fmt: skip
        return _entry(row)

    async def entry_by_pipedrive_id(
        self, conn: Connection, tenant: str, obj: SyncObject, pipedrive_id: int
    ) -> LedgerEntry | None:
        """The row of the record the pusher created or wrote under this Pipedrive id."""
        row = await conn.fetchrow(
            f"SELECT * FROM {self._table} WHERE tenant_id = $1 AND object = $2 AND pipedrive_id = $3"
            " ORDER BY written_at DESC NULLS LAST LIMIT 1",
            tenant, obj.value, pipedrive_id,
        )  # fmt: skip
        return _entry(row)

    async def record_intent(
        self, tenant: str, obj: SyncObject, match_key: str, body: Mapping[str, Any]
    ) -> None:
        """Commit the intent to create (its own transaction, before the POST is sent)."""
        await self._pool.execute(
            f"INSERT INTO {self._table} AS l (tenant_id, object, match_key, state, planned_body, intent_at)"
            " VALUES ($1, $2, $3, $4, $5, clock_timestamp()) ON CONFLICT (tenant_id, object, match_key)"
            " DO UPDATE SET state = EXCLUDED.state, planned_body = EXCLUDED.planned_body,"
            " intent_at = EXCLUDED.intent_at",
            tenant, obj.value, match_key, INTENT, dict(body),
        )  # fmt: skip

    async def drop_intent(self, tenant: str, obj: SyncObject, match_key: str) -> None:
        """Forget an intent whose POST Pipedrive refused outright (nothing can have been created)."""
        await self._pool.execute(
            f"UPDATE {self._table} SET state = $4 WHERE tenant_id = $1 AND object = $2 AND match_key = $3"
            " AND state = $5",
            tenant, obj.value, match_key, DONE, INTENT,
        )  # fmt: skip

    async def record_write(
        self,
        conn: Connection,
        tenant: str,
        obj: SyncObject,
        match_key: str,
        pipedrive_id: int,
        body: Mapping[str, Any],
        version: datetime | None = None,
    ) -> None:
        """Record a create's result or an update: the Pipedrive id, the values written (merged in) and the
        version the write produced (an empty body wrote nothing: the last write's version is kept)."""
        before = await self.entry(conn, tenant, obj, match_key)
        written = dict(body)
        if before is not None and before.pipedrive_id == pipedrive_id:
            written = merge_written(before.written, body)
            version = version if body else before.written_version
        await conn.execute(
            f"INSERT INTO {self._table} (tenant_id, object, match_key, state, pipedrive_id, written,"
            " written_at, written_version) VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), $7)"
            " ON CONFLICT (tenant_id, object, match_key) DO UPDATE SET state = EXCLUDED.state,"
            " pipedrive_id = EXCLUDED.pipedrive_id, written_at = EXCLUDED.written_at,"
            " written = EXCLUDED.written, written_version = EXCLUDED.written_version",
            tenant, obj.value, match_key, DONE, pipedrive_id, written, version,
        )  # fmt: skip

    async def keep_held(
        self, conn: Connection, tenant: str, obj: SyncObject, match_key: str, written: Mapping[str, Any]
    ) -> None:
        """Forget written values Pipedrive no longer holds (a person changed them since)."""
        await conn.execute(
            f"UPDATE {self._table} SET written = $4 WHERE tenant_id = $1 AND object = $2 AND match_key = $3",
            tenant, obj.value, match_key, dict(written),
        )  # fmt: skip


def merge_written(before: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The values written so far with a new write body over them (custom fields merged by code)."""
    merged = {**before, **body}
    if isinstance(before.get("custom_fields"), Mapping) and isinstance(body.get("custom_fields"), Mapping):
        merged["custom_fields"] = {**before["custom_fields"], **body["custom_fields"]}
    return merged


def is_echo_of(entry: LedgerEntry, record: Mapping[str, Any], version: datetime) -> bool:
    """Whether a record version read back from Pipedrive is the one the pusher's last write produced."""
    if entry.written_version is not None and version != entry.written_version:
        return False
    return is_echo(entry.written, record)


def still_held(entry: LedgerEntry, record: Mapping[str, Any], version: datetime) -> Mapping[str, Any] | None:
    """The written values a newer version that is not an echo still holds, or None when nothing is to be
    forgotten (an older version, or every value still held). Without this, one edit in Pipedrive of a field
    the pusher once wrote would keep every later echo of the record from being recognized."""
    if entry.written_version is not None and version < entry.written_version:
        return None
    held: dict[str, Any] = {}
    for key, value in entry.written.items():
        if key == "custom_fields" and isinstance(value, Mapping):
            theirs = record.get("custom_fields") or {}
            codes = {code: v for code, v in value.items() if theirs.get(code) == v}
            if codes:
                held[key] = codes
        elif record.get(key) == value:
            held[key] = value
    return None if held == dict(entry.written) else held


def is_echo(written: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Whether a record read back from Pipedrive carries exactly the values the pusher last wrote."""
    if not written:
        return False
    for key, value in written.items():
        if key == "custom_fields" and isinstance(value, Mapping):
            theirs = record.get("custom_fields") or {}
            if any(theirs.get(code) != v for code, v in value.items()):
                return False
        elif record.get(key) != value:
            return False
    return True


def _entry(row: Any) -> LedgerEntry | None:
    if row is None:
        return None
    return LedgerEntry(
        match_key=row["match_key"],
        state=row["state"],
        pipedrive_id=row["pipedrive_id"],
        planned_body=row["planned_body"],
        intent_at=row["intent_at"],
        written=row["written"] or {},
        written_at=row["written_at"],
        written_version=row["written_version"],
    )
