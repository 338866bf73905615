"""The hourly webhook runs in the connector's schema: opened by the first change of the hour, counted as
changes are emitted, reported finished once their hour ended (their messages: `webhook_runs`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from connector.webhook_runs import WINDOW, Send, finished_message, started_message, window_of
from postgres_store.pool import Connection


class WebhookRuns:
    """The `webhook_runs` table: one row per tenant window, its counts, and whether its end was sent."""

    def __init__(self, pool: asyncpg.Pool, schema: str, send: Send) -> None:
        self._pool = pool
        self._table = f"{schema}.webhook_runs"
        self._send = send

    async def open(self, tenant: str, moment: datetime) -> str:
        """The run id of the window `moment` falls in; its start is reported when it is new."""
        run_id, started_at = window_of(moment)
        known = await self._pool.fetchval(
            f"SELECT true FROM {self._table} WHERE tenant_id = $1 AND run_id = $2", tenant, run_id
        )
        if not known:
            # Sent before the row exists: a crash in between sends it again under the same id.
            await self._send([started_message(tenant, run_id, started_at)])
            await self._pool.execute(
                f"INSERT INTO {self._table} (tenant_id, run_id, started_at) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING",
                tenant, run_id, started_at,
            )  # fmt: skip
        return run_id

    async def count(
        self, tenant: str, run_id: str, *, emitted: int, tokens: int, conn: Connection | None = None
    ) -> None:
        """Add emitted changes and spent tokens to a window (in the caller's transaction when given)."""
        await (conn or self._pool).execute(
            f"UPDATE {self._table} SET emitted = emitted + $3, tokens = tokens + $4"
            " WHERE tenant_id = $1 AND run_id = $2",
            tenant, run_id, emitted, tokens,
        )  # fmt: skip

    async def close_ended(self, now: datetime, grace: timedelta) -> int:
        """Report the end of every window whose hour ended more than `grace` ago; how many were closed."""
        rows = await self._pool.fetch(
            f"SELECT * FROM {self._table} WHERE NOT finished AND started_at + $1 + $2 <= $3",
            WINDOW, grace, now,
        )  # fmt: skip
        for row in rows:
            message = finished_message(
                row["tenant_id"], row["run_id"], row["started_at"], row["emitted"], row["tokens"]
            )
            # Sent before it is marked: a crash in between re-sends the same event id, which is dropped.
            await self._send([message])
            await self._pool.execute(
                f"UPDATE {self._table} SET finished = true WHERE tenant_id = $1 AND run_id = $2",
                row["tenant_id"], row["run_id"],
            )  # fmt: skip
        return len(rows)
