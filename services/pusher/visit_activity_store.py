"""Visit activities on PostgreSQL (`pusher.ports.VisitLog`): the `visit_activities` table of one schema;
each write commits by itself."""

from __future__ import annotations

import asyncpg

from pusher.ports import VisitState
from pusher.visit_activity import DONE, INTENT


class PostgresVisitLog:
    """The `visit_activities` table of one schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._table = f"{schema}.visit_activities"

    async def state(self, tenant: str, event_id: str) -> VisitState | None:
        """The event's row, or None."""
        row = await self._pool.fetchrow(
            f"SELECT state, intent_at FROM {self._table} WHERE tenant_id = $1 AND event_id = $2",
            tenant, event_id,
        )  # fmt: skip
        return None if row is None else VisitState(row["state"], row["intent_at"])

    async def record_intent(self, tenant: str, event_id: str, org_id: int) -> None:
        """The intent to add the activity (committed before the POST)."""
        await self._pool.execute(
            f"INSERT INTO {self._table} (tenant_id, event_id, org_id, state) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (tenant_id, event_id) DO UPDATE SET state = $4, intent_at = clock_timestamp()",
            tenant, event_id, org_id, INTENT,
        )  # fmt: skip

    async def record_done(self, tenant: str, event_id: str, activity_id: int) -> None:
        """The activity was added."""
        await self._pool.execute(
            f"UPDATE {self._table} SET state = $3, activity_id = $4 WHERE tenant_id = $1 AND event_id = $2",
            tenant, event_id, DONE, activity_id,
        )  # fmt: skip

    async def forget_intent(self, tenant: str, event_id: str) -> None:
        """Pipedrive refused the POST outright: nothing was added."""
        await self._pool.execute(
            f"DELETE FROM {self._table} WHERE tenant_id = $1 AND event_id = $2 AND state = $3",
            tenant, event_id, INTENT,
        )  # fmt: skip
