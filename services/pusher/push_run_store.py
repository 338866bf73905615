"""Push runs on PostgreSQL (`pusher.ports.PushRuns`): the `push_runs` table of one schema (manual batches
and auto-push windows), on the connection of a unit of work or a view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from postgres_store.pool import Connection
from pusher.ports import PushRun
from schemas.events.common import RecordOutcome
from schemas.events.sync_runs import RunCounts


class PostgresPushRuns:
    """The `push_runs` table of one schema on one connection."""

    def __init__(self, conn: Connection, schema: str) -> None:
        self._conn = conn
        self._table = f"{schema}.push_runs"

    async def open_window(self, tenant: str, run_id: str, started_at: datetime) -> bool:
        """Open an auto-push window's run; False when it was open already."""
        opened = await self._conn.fetchval(
            f"INSERT INTO {self._table} (tenant_id, run_id, kind, started_at)"
            " VALUES ($1, $2, 'auto_push', $3) ON CONFLICT DO NOTHING RETURNING true",
            tenant, run_id, started_at,
        )  # fmt: skip
        return bool(opened)

    async def open_batch(self, tenant: str, run_id: str, expected: int, started_at: datetime) -> None:
        """Open a manual batch's run of `expected` records (once)."""
        await self._conn.execute(
            f"INSERT INTO {self._table} (tenant_id, run_id, kind, expected, started_at)"
            " VALUES ($1, $2, 'push', $3, $4) ON CONFLICT DO NOTHING",
            tenant, run_id, expected, started_at,
        )  # fmt: skip

    async def add(self, tenant: str, run_id: str, counts: RunCounts, tokens: int) -> PushRun | None:
        """Add outcomes and tokens to a run; its row (None when no such run)."""
        row = await self._conn.fetchrow(
            f"UPDATE {self._table} SET created = created + $3, updated = updated + $4,"
            " unchanged = unchanged + $5, skipped = skipped + $6, failed = failed + $7, tokens = tokens + $8"
            " WHERE tenant_id = $1 AND run_id = $2 RETURNING *",
            tenant, run_id, counts.created, counts.updated, counts.unchanged, counts.skipped, counts.failed,
            tokens,
        )  # fmt: skip
        return None if row is None else push_run_of(row)

    async def mark_finished(self, tenant: str, run_id: str) -> None:
        """The run's end was reported."""
        await self._conn.execute(
            f"UPDATE {self._table} SET finished = true WHERE tenant_id = $1 AND run_id = $2", tenant, run_id
        )

    async def ended_windows(self, now: datetime) -> list[PushRun]:
        """Auto-push windows not reported whose hour ended before `now`."""
        rows = await self._conn.fetch(
            f"SELECT * FROM {self._table} WHERE kind = 'auto_push' AND NOT finished"
            " AND date_trunc('hour', started_at AT TIME ZONE 'UTC') + interval '1 hour'"
            " <= $1 AT TIME ZONE 'UTC'",
            now,
        )
        return [push_run_of(row) for row in rows]


def push_run_of(row: Any) -> PushRun:
    """A `push_runs` row as a run."""
    counts = RunCounts(**{o.value: row[o.value] for o in RecordOutcome})
    return PushRun(
        row["tenant_id"], row["run_id"], counts, row["tokens"], row["started_at"], row["expected"],
        row["finished"],
    )  # fmt: skip
