"""The audiences API's reads of the ABM store (Postgres): a tenant's records with their Pipedrive link.

Read-only, on the pool; the API shapes the rows (`mapper.audiences_api`). Table names come from `TABLES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from mapper.abm_store import TABLES
from schemas.events.common import SyncObject

_COLUMNS = ("abm_id", "match_key", "is_duplicate", "fields", "deleted_in_crm", "created_at", "updated_at")
_ACCOUNT_COLUMNS = (
    "engagement_score",
    "score_changed_at",
    "reveal_count",
    "last_revealed_at",
    "recent_pages",
)
_LINK_COLUMNS = (
    "l.pipedrive_id AS link_id, l.deleted_in_crm AS link_deleted, l.merged_into_id AS link_merged_into"
)


@dataclass(frozen=True)
class RecordFilter:
    """Which records a page lists: after `cursor` (an ABM id), whose match key or name contains `q`, by
    CRM deletion mark, among `ids`; at most `limit`."""

    limit: int
    cursor: str | None = None
    q: str | None = None
    deleted_in_crm: bool | None = None
    ids: Sequence[str] | None = None


class AudienceStore:
    """The ABM store of one schema, read for the API."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    async def records(self, tenant: str, obj: SyncObject, wanted: RecordFilter) -> list[dict[str, Any]]:
        """A page of the tenant's records of one object, in ABM id order, each with its link."""
        rows = await self._pool.fetch(
            f"SELECT {_columns(obj)} FROM {self._from(obj)} WHERE r.tenant_id = $1"
            " AND ($3::text IS NULL OR r.abm_id > $3)"
            " AND ($4::text IS NULL OR r.match_key ILIKE '%' || $4 || '%'"
            "      OR r.fields ->> 'name' ILIKE '%' || $4 || '%')"
            " AND ($5::boolean IS NULL OR r.deleted_in_crm = $5)"
            " AND ($7::text[] IS NULL OR r.abm_id = ANY($7::text[]))"
            " ORDER BY r.abm_id LIMIT $6",
            tenant, obj.value, wanted.cursor, wanted.q, wanted.deleted_in_crm, wanted.limit,
            list(wanted.ids) if wanted.ids is not None else None,
        )  # fmt: skip
        return [dict(r) for r in rows]

    async def record(self, tenant: str, obj: SyncObject, abm_id: str) -> dict[str, Any] | None:
        """One record of the tenant, with its link, or None."""
        row = await self._pool.fetchrow(
            f"SELECT {_columns(obj)} FROM {self._from(obj)} WHERE r.tenant_id = $1 AND r.abm_id = $3",
            tenant, obj.value, abm_id,
        )  # fmt: skip
        return dict(row) if row is not None else None

    def _from(self, obj: SyncObject) -> str:
        """The object's table and the record's link: a live one first, else the one applied last (a
        record may have several)."""
        schema = self._schema
        return (
            f"{schema}.{TABLES[obj]} r"
            f" LEFT JOIN LATERAL (SELECT pipedrive_id, deleted_in_crm, merged_into_id FROM {schema}.links k"
            " WHERE k.abm_id = r.abm_id AND k.tenant_id = r.tenant_id AND k.object = $2"
            " ORDER BY k.deleted_in_crm, k.source_update_time DESC, k.linked_at DESC LIMIT 1) l ON true"
        )


def _columns(obj: SyncObject) -> str:
    own = _COLUMNS + (_ACCOUNT_COLUMNS if obj is SyncObject.ORGANIZATION else ())
    return ", ".join([*(f"r.{c}" for c in own), _LINK_COLUMNS])
