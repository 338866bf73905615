"""The queue of webhook hints in the connector's schema, worked per tenant.

A reader takes a tenant's oldest ready hint under a lease (`not_before` moved past the time a re-read can
take), so a reader that dies leaves it to another after the lease, and no transaction stays open while
Pipedrive is called. A tenant whose budget is closed has all its hints deferred until it reopens; the
other tenants' hints are not behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from schemas.events.common import SyncObject


@dataclass(frozen=True)
class Hint:
    """One queued delivery: which record to re-read, and what Pipedrive said happened to it."""

    hint_id: int
    tenant_id: str
    object: SyncObject
    pipedrive_id: int
    action: str
    merged_to_id: int | None
    delivery_id: str


class HintQueue:
    """Takes, finishes and defers hints."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._table = f"{schema}.webhook_hints"

    async def tenants_ready(self, now: datetime) -> list[str]:
        """Tenants with a hint ready now."""
        rows = await self._pool.fetch(
            f"SELECT DISTINCT tenant_id FROM {self._table} WHERE not_before IS NULL OR not_before <= $1",
            now,
        )
        return [r["tenant_id"] for r in rows]

    async def take(self, now: datetime, lease_until: datetime, tenant: str | None = None) -> Hint | None:
        """The oldest hint ready now (of `tenant`, or of any tenant), leased until `lease_until`."""
        row = await self._pool.fetchrow(
            f"UPDATE {self._table} SET not_before = $2 WHERE hint_id = ("
            f" SELECT hint_id FROM {self._table}"
            "  WHERE (not_before IS NULL OR not_before <= $1) AND ($3::text IS NULL OR tenant_id = $3)"
            "  ORDER BY hint_id LIMIT 1 FOR UPDATE SKIP LOCKED)"
            " RETURNING *",
            now,
            lease_until,
            tenant,
        )
        if row is None:
            return None
        return Hint(
            row["hint_id"],
            row["tenant_id"],
            SyncObject(row["object"]),
            row["pipedrive_id"],
            row["action"],
            row["merged_to_id"],
            row["delivery_id"],
        )

    async def finish(self, hint: Hint) -> None:
        """Forget a hint that was handled (or dropped)."""
        await self._pool.execute(f"DELETE FROM {self._table} WHERE hint_id = $1", hint.hint_id)

    async def release(self, hint: Hint) -> None:
        """Give back a hint whose re-read was interrupted, ready at once."""
        await self._pool.execute(
            f"UPDATE {self._table} SET not_before = NULL WHERE hint_id = $1", hint.hint_id
        )

    async def defer_tenant(self, tenant: str, until: datetime) -> None:
        """Hold every hint of the tenant until `until` (its budget reopens, Pipedrive answers again)."""
        await self._pool.execute(
            f"UPDATE {self._table} SET not_before = $2 WHERE tenant_id = $1",
            tenant,
            until,
        )
