"""The activity log's Postgres adapter: runs and per-record entries, written with the inbox claim."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from postgres_store.inbox import claim_event
from schemas.events.sync_runs import RunFinished, RunStarted


@dataclass(frozen=True)
class RecordEntry:
    """One per-record line of the activity log."""

    run_id: str | None
    object: str
    direction: str
    match_key: str
    pipedrive_id: int | None
    abm_id: str | None
    outcome: str
    message: str | None
    tokens_spent: int
    occurred_at: datetime


class ActivityLog:
    """Writes runs and entries; each write is one transaction that also claims the event in the inbox."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    async def record_run_started(self, tenant: str, event_id: str, topic: str, run: RunStarted) -> bool:
        """Open a run (or leave a run that already finished as it is); False for a repeat."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await claim_event(conn, self._schema, tenant, event_id, topic):
                return False
            await conn.execute(
                f"INSERT INTO {self._schema}.runs (tenant_id, run_id, service, kind, direction, objects,"
                " trigger, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (tenant_id, run_id) DO NOTHING",
                tenant, run.run_id, run.service, run.kind.value, run.direction.value,
                [o.value for o in run.objects], run.trigger, run.started_at,
            )  # fmt: skip
            return True

    async def record_run_finished(self, tenant: str, event_id: str, topic: str, run: RunFinished) -> bool:
        """Close a run with its counts, tokens and status (creating it if its start was never seen)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await claim_event(conn, self._schema, tenant, event_id, topic):
                return False
            await conn.execute(
                f"INSERT INTO {self._schema}.runs AS r (tenant_id, run_id, service, kind, direction, objects,"
                " started_at, finished_at, created, updated, skipped, failed, tokens_spent, status, message)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                " ON CONFLICT (tenant_id, run_id) DO UPDATE SET finished_at = EXCLUDED.finished_at,"
                " created = EXCLUDED.created, updated = EXCLUDED.updated, skipped = EXCLUDED.skipped,"
                " failed = EXCLUDED.failed, tokens_spent = EXCLUDED.tokens_spent,"
                " status = EXCLUDED.status, message = EXCLUDED.message",
                tenant, run.run_id, run.service, run.kind.value, run.direction.value,
                [o.value for o in run.objects], run.started_at, run.finished_at, run.counts.created,
                run.counts.updated, run.counts.skipped, run.counts.failed, run.tokens_spent,
                run.status.value, run.message,
            )  # fmt: skip
            return True

    async def record_entry(self, tenant: str, event_id: str, topic: str, entry: RecordEntry) -> bool:
        """Add one per-record entry; False for a repeat."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await claim_event(conn, self._schema, tenant, event_id, topic):
                return False
            await conn.execute(
                f"INSERT INTO {self._schema}.entries (tenant_id, event_id, run_id, source_topic, object,"
                " direction, match_key, pipedrive_id, abm_id, outcome, message, tokens_spent, occurred_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                tenant, event_id, entry.run_id, topic, entry.object, entry.direction, entry.match_key,
                entry.pipedrive_id, entry.abm_id, entry.outcome, entry.message, entry.tokens_spent,
                entry.occurred_at,
            )  # fmt: skip
            return True
