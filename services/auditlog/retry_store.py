"""The SQL of retries: a run's failed records, and the retries of a run, decided one at a time.

A retry is recorded in the activity log as a run as soon as the service that works it accepted it (status
running, `retry_of` the first run), so the first run lists it in `retried_by` at once and the console can
show it before its service reports its start (which then fills in the same row: same run id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from auditlog.retry_rules import FailedRecord, RetryWork
from postgres_store.pool import Connection


class ActivityRetries:
    """Reads and writes of the caller's tenant only."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    async def failed_records(self, tenant: str, run_ids: Sequence[str]) -> list[FailedRecord]:
        """The distinct records that failed in any of the runs."""
        rows = await self._pool.fetch(
            f"SELECT DISTINCT object, pipedrive_id, abm_id FROM {self._schema}.entries"
            " WHERE tenant_id = $1 AND run_id = ANY($2::text[]) AND outcome = 'failed'",
            tenant, list(run_ids),
        )  # fmt: skip
        return [FailedRecord(r["object"], r["pipedrive_id"], r["abm_id"]) for r in rows]

    @asynccontextmanager
    async def deciding(self, tenant: str, first_run_id: str) -> AsyncIterator[LockedRetryDecision]:
        """The retries of one run, decided under its lock: a second request waits for the first."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                f"auditlog-retry:{tenant}:{first_run_id}",
            )
            yield LockedRetryDecision(conn, self._schema, tenant, first_run_id)


@dataclass
class LockedRetryDecision:
    """One decision about retrying a run, in the transaction that holds its lock."""

    conn: Connection
    schema: str
    tenant: str
    first_run_id: str

    async def running_retry(self) -> str | None:
        """A retry of the run that has not ended, if any."""
        found: str | None = await self.conn.fetchval(
            f"SELECT run_id FROM {self.schema}.runs WHERE tenant_id = $1 AND retry_of = $2"
            " AND status IS NULL ORDER BY started_at DESC LIMIT 1",
            self.tenant, self.first_run_id,
        )  # fmt: skip
        return found

    async def next_attempt(self) -> int:
        """The number of the next retry of the run."""
        count: int = await self.conn.fetchval(
            f"SELECT count(*) FROM {self.schema}.runs WHERE tenant_id = $1 AND retry_of = $2",
            self.tenant, self.first_run_id,
        )  # fmt: skip
        return count + 1

    async def record(self, work: RetryWork, at: datetime) -> None:
        """The accepted retry as a running run of the activity log (its service's start fills it in)."""
        await self.conn.execute(
            f"INSERT INTO {self.schema}.runs (tenant_id, run_id, service, kind, direction, objects, trigger,"
            " started_at, retry_of) VALUES ($1, $2, $3, $4, $5, $6, 'retry', $7, $8)"
            " ON CONFLICT (tenant_id, run_id) DO NOTHING",
            self.tenant, work.run_id, work.service, work.kind, work.direction, list(work.objects), at,
            work.retry_of,
        )  # fmt: skip
