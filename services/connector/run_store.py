"""The runs table (syncs, imports, retries: `queued_runs.Run`) in the connector's schema, and the records
an import has emitted once. The scheduler picks the runs up; a run's progress is stored with the versions
it emitted in one transaction (`PostgresRunProgress`)."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from connector.change_scan import Relation
from connector.cursor_store import CursorStore, versions_insert, versions_upsert, versions_upsert_arguments
from connector.queued_runs import Counts, Run, RunKindName, RunState
from connector.record_versions import Version, merged_versions
from schemas.events.common import SyncObject

Connection = asyncpg.Connection | PoolConnectionProxy
_QUEUE_LOCK_SPACE = zlib.crc32(b"connector-queue") - 2**31


async def _lock_queue(conn: Connection, tenant: str) -> None:
    """Serialize decisions to queue a tenant's syncs until the transaction ends (crc32 collisions between
    tenants only make them wait for each other)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, $2)", _QUEUE_LOCK_SPACE, zlib.crc32(tenant.encode()) - 2**31
    )


def _run(row: asyncpg.Record) -> Run:
    return Run(
        tenant_id=row["tenant_id"],
        run_id=row["run_id"],
        kind=RunKindName(row["kind"]),
        trigger=row["trigger"],
        state=RunState(row["state"]),
        spec=row["spec"],
        progress=row["progress"],
        counts=Counts(**row["counts"]),
        tokens_spent=row["tokens_spent"],
        status=row["status"],
        message=row["message"],
        cancel_requested=row["cancel_requested"],
        resume_at=row["resume_at"],
        queued_at=row["queued_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


class RunStore:
    """The runs table, and the records an import has emitted once and must not emit again."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._table = f"{schema}.runs"
        self._emitted = f"{schema}.import_emitted"
        self._schema = schema

    async def enqueue(
        self, tenant: str, kind: RunKindName, trigger: str, spec: dict[str, Any] | None = None
    ) -> Run:
        """Queue a new run; a queued sync of the tenant is reused instead of queueing a second one."""
        async with self._pool.acquire() as conn, conn.transaction():
            if kind is RunKindName.SYNC:
                await _lock_queue(conn, tenant)
                queued = await conn.fetchrow(
                    f"SELECT * FROM {self._table} WHERE tenant_id = $1 AND kind = 'sync' AND state = 'queued'"
                    " ORDER BY queued_at LIMIT 1",
                    tenant,
                )
                if queued is not None:
                    return _run(queued)
            return await self._insert(conn, tenant, kind, trigger, spec or {})

    async def enqueue_as(
        self, tenant: str, run_id: str, kind: RunKindName, trigger: str, spec: dict[str, Any]
    ) -> Run:
        """Queue a run under an id the caller derived (a retry's): a run of that id already queued or
        done is answered instead of a second one."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"INSERT INTO {self._table} (tenant_id, run_id, kind, trigger, state, spec)"
                " VALUES ($1, $2, $3, $4, 'queued', $5) ON CONFLICT (tenant_id, run_id) DO NOTHING",
                tenant, run_id, kind.value, trigger, spec,
            )  # fmt: skip
            row = await conn.fetchrow(
                f"SELECT * FROM {self._table} WHERE tenant_id = $1 AND run_id = $2", tenant, run_id
            )
            assert row is not None
            return _run(row)

    async def sync_states(self) -> dict[str, tuple[bool, datetime | None]]:
        """Per tenant with syncs: whether one is open, and when the last one ended (one query a tick)."""
        rows = await self._pool.fetch(
            f"SELECT tenant_id, bool_or(state IN ('queued', 'running', 'paused')) AS open,"
            f" max(finished_at) AS last FROM {self._table} WHERE kind = 'sync' GROUP BY tenant_id"
        )
        return {r["tenant_id"]: (bool(r["open"]), r["last"]) for r in rows}

    async def enqueue_sync_if_due(
        self, tenant: str, trigger: str, due: Callable[[datetime | None], bool]
    ) -> Run | None:
        """Queue a sync when the tenant has no open one and `due(when its last sync ended)` holds.

        Decided under a per-tenant transaction lock: replicas ticking at once queue one sync, not two.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await _lock_queue(conn, tenant)
            row = await conn.fetchrow(
                f"SELECT bool_or(state IN ('queued', 'running', 'paused')) AS open, max(finished_at) AS last"
                f" FROM {self._table} WHERE tenant_id = $1 AND kind = 'sync'",
                tenant,
            )
            assert row is not None
            if row["open"] or not due(row["last"]):
                return None
            return await self._insert(conn, tenant, RunKindName.SYNC, trigger, {})

    async def _insert(
        self, conn: Connection, tenant: str, kind: RunKindName, trigger: str, spec: dict[str, Any]
    ) -> Run:
        row = await conn.fetchrow(
            f"INSERT INTO {self._table} (tenant_id, run_id, kind, trigger, state, spec)"
            " VALUES ($1, $2, $3, $4, 'queued', $5) RETURNING *",
            tenant,
            f"{kind.value}-{uuid.uuid4().hex[:16]}",
            kind.value,
            trigger,
            spec,
        )
        assert row is not None
        return _run(row)

    async def get(self, tenant: str, run_id: str) -> Run | None:
        """One run of the tenant."""
        row = await self._pool.fetchrow(
            f"SELECT * FROM {self._table} WHERE tenant_id = $1 AND run_id = $2", tenant, run_id
        )
        return _run(row) if row else None

    async def recent(self, tenant: str, limit: int = 50) -> list[Run]:
        """The tenant's latest runs, newest first."""
        rows = await self._pool.fetch(
            f"SELECT * FROM {self._table} WHERE tenant_id = $1 ORDER BY queued_at DESC LIMIT $2",
            tenant,
            limit,
        )
        return [_run(r) for r in rows]

    async def next_open(self, tenant: str, now: datetime) -> Run | None:
        """The tenant's run to work on now: an interrupted one first, then a paused one whose reset has
        come, then the oldest queued one."""
        row = await self._pool.fetchrow(
            f"SELECT * FROM {self._table} WHERE tenant_id = $1 AND (state IN ('queued', 'running')"
            " OR (state = 'paused' AND resume_at <= $2))"
            " ORDER BY CASE state WHEN 'running' THEN 0 WHEN 'paused' THEN 1 ELSE 2 END, queued_at LIMIT 1",
            tenant,
            now,
        )
        return _run(row) if row else None

    async def tenants_with_work(self, now: datetime) -> list[str]:
        """Tenants with a run to work on now."""
        rows = await self._pool.fetch(
            f"SELECT DISTINCT tenant_id FROM {self._table} WHERE state IN ('queued', 'running')"
            " OR (state = 'paused' AND resume_at <= $1)",
            now,
        )
        return [r["tenant_id"] for r in rows]

    async def start(self, run: Run, now: datetime) -> bool:
        """Mark the run running; True when it starts for the first time (not a resume)."""
        first = run.started_at is None
        await self._pool.execute(
            f"UPDATE {self._table} SET state = 'running', resume_at = NULL,"
            " started_at = coalesce(started_at, $3) WHERE tenant_id = $1 AND run_id = $2",
            run.tenant_id,
            run.run_id,
            now,
        )
        if first:
            run.started_at = now
        run.state = RunState.RUNNING
        return first

    async def save_progress(self, run: Run, conn: Connection | None = None) -> bool:
        """Store the run's progress, counts and tokens (in the caller's transaction when it passes
        `conn`); returns whether a cancel was requested."""
        cancel = await (conn or self._pool).fetchval(
            f"UPDATE {self._table} SET progress = $3, counts = $4, tokens_spent = $5"
            " WHERE tenant_id = $1 AND run_id = $2 RETURNING cancel_requested",
            run.tenant_id,
            run.run_id,
            run.progress,
            run.counts.as_json(),
            run.tokens_spent,
        )
        return bool(cancel)

    async def save_progress_with_versions(
        self, run: Run, obj: SyncObject, versions: Sequence[tuple[int, Version]], *, new: bool = False
    ) -> bool:
        """`save_progress` and an import page's emitted versions (`CursorStore.record_emitted` without a
        cursor or relations) in one statement: atomic without a transaction of its own, one round trip
        where BEGIN, the two statements and COMMIT took four. Returns whether a cancel was requested.
        `new`: no record of `versions` had a stored version when its page was looked up, so they are
        inserted without the upsert's conflict handling (`versions_insert`); when one was stored since,
        that statement fails whole and the upsert stores them."""
        if new:
            try:
                return await self._save_progress_with(versions_insert(self._schema), run, obj, versions)
            except asyncpg.UniqueViolationError:
                pass  # stored since the lookup (a page before it, another run): as any other page
        return await self._save_progress_with(versions_upsert(self._schema), run, obj, versions)

    async def _save_progress_with(
        self, statement: str, run: Run, obj: SyncObject, versions: Sequence[tuple[int, Version]]
    ) -> bool:
        cancel = await self._pool.fetchval(
            f"WITH stored AS ({statement})"
            f" UPDATE {self._table} SET progress = $11, counts = $12, tokens_spent = $13"
            " WHERE tenant_id = $1 AND run_id = $10 RETURNING cancel_requested",
            *versions_upsert_arguments(run.tenant_id, obj, versions),
            run.run_id,
            run.progress,
            run.counts.as_json(),
            run.tokens_spent,
        )
        return bool(cancel)

    async def emitted_by_run(self, run: Run, obj: SyncObject, ids: Sequence[int]) -> set[int]:
        """Those of `ids` the run has already emitted (an import's organizations and persons)."""
        # One probe of the key per id, whatever the table's statistics (see connector.cursor_store).
        rows = await self._pool.fetch(
            "SELECT e.pipedrive_id FROM unnest($4::bigint[]) AS u(i) CROSS JOIN LATERAL (SELECT pipedrive_id"
            f" FROM {self._emitted} WHERE tenant_id = $1 AND run_id = $2 AND object = $3"
            " AND pipedrive_id = u.i LIMIT 1) AS e",
            run.tenant_id,
            run.run_id,
            obj.value,
            list(ids),
        )
        return {r["pipedrive_id"] for r in rows}

    async def record_emitted_by_run(
        self, run: Run, ids_by_object: Mapping[SyncObject, Sequence[int]], conn: Connection
    ) -> None:
        """Store ids the run emitted, in the caller's transaction (an id stored before stays as it is)."""
        for obj, ids in ids_by_object.items():
            if ids:
                await conn.execute(
                    f"INSERT INTO {self._emitted} (tenant_id, run_id, object, pipedrive_id)"
                    " SELECT $1, $2, $3, unnest($4::bigint[]) ON CONFLICT DO NOTHING",
                    run.tenant_id,
                    run.run_id,
                    obj.value,
                    list(ids),
                )

    async def pause(self, run: Run, resume_at: datetime) -> None:
        """Park the run until the budget resets."""
        run.state, run.resume_at = RunState.PAUSED, resume_at
        await self.save_progress(run)
        await self._pool.execute(
            f"UPDATE {self._table} SET state = 'paused', resume_at = $3 WHERE tenant_id = $1 AND run_id = $2",
            run.tenant_id,
            run.run_id,
            resume_at,
        )

    async def count_failure(self, run: Run) -> int:
        """Count one more unexpected failure of the run; returns the failures so far."""
        failures: int = await self._pool.fetchval(
            f"UPDATE {self._table} SET failures = failures + 1"
            " WHERE tenant_id = $1 AND run_id = $2 RETURNING failures",
            run.tenant_id,
            run.run_id,
        )
        return failures

    async def finish(
        self, run: Run, state: RunState, status: str, message: str | None, now: datetime
    ) -> None:
        """Close the run with its outcome."""
        run.state, run.status, run.message, run.finished_at = state, status, message, now
        async with self._pool.acquire() as conn, conn.transaction():
            await self.save_progress(run, conn)
            await conn.execute(
                f"UPDATE {self._table} SET state = $3, status = $4, message = $5, finished_at = $6"
                " WHERE tenant_id = $1 AND run_id = $2",
                run.tenant_id,
                run.run_id,
                state.value,
                status,
                message,
                now,
            )
            # A closed run never resumes: what it emitted once is no longer needed.
            await conn.execute(
                f"DELETE FROM {self._emitted} WHERE tenant_id = $1 AND run_id = $2", run.tenant_id, run.run_id
            )

    async def request_cancel(self, tenant: str, run_id: str) -> Run | None:
        """Ask an open run to stop (a queued or paused one is cancelled at once by the worker)."""
        row = await self._pool.fetchrow(
            f"UPDATE {self._table} SET cancel_requested = true"
            " WHERE tenant_id = $1 AND run_id = $2 RETURNING *",
            tenant,
            run_id,
        )
        return _run(row) if row else None


class PostgresRunProgress:
    """A run's progress stored with what it emitted (`connector.ports.RunProgress`): the runs table and the
    cursors and versions (`CursorStore`), written on one connection, in one transaction each time."""

    def __init__(self, pool: asyncpg.Pool, runs: RunStore, cursors: CursorStore) -> None:
        self._pool = pool
        self._runs = runs
        self._cursors = cursors

    async def record_page(
        self,
        run: Run,
        obj: SyncObject,
        versions: Sequence[tuple[int, Version]],
        *,
        deleted: bool = False,
        advance_to: datetime | None = None,
        relations: Mapping[int, Relation] | None = None,
    ) -> None:
        """An acknowledged page's versions, the moved cursor and the run's progress, in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            await self._cursors.record_emitted(
                run.tenant_id, obj, versions, deleted=deleted, advance_to=advance_to, relations=relations,
                conn=conn,
            )  # fmt: skip
            await self._runs.save_progress(run, conn)

    async def checkpoint(
        self,
        run: Run,
        staged: Sequence[tuple[SyncObject, Sequence[tuple[int, Version]]]],
        first_emitted: Mapping[SyncObject, Sequence[int]] | None,
        *,
        new: bool = False,
    ) -> bool:
        """The run's progress, with the staged versions and first emitted ids in the same transaction when
        there are any; whether a cancel was requested (`new`: no record of the staged versions had a
        stored version when its page was looked up)."""
        if not first_emitted and not staged:
            return await self._runs.save_progress(run)
        if not first_emitted and len({obj for obj, _ in staged}) == 1:
            # An import's pages of one object: one statement.
            obj = staged[0][0]
            versions = staged[0][1] if len(staged) == 1 else merged_versions(v for _, v in staged)
            return await self._runs.save_progress_with_versions(run, obj, versions, new=new)
        async with self._pool.acquire() as conn, conn.transaction():
            for obj, versions in staged:
                await self._cursors.record_emitted(run.tenant_id, obj, versions, conn=conn)
            if first_emitted:
                await self._runs.record_emitted_by_run(run, first_emitted, conn)
            return await self._runs.save_progress(run, conn)

    async def emitted_by_run(self, run: Run, obj: SyncObject, ids: Sequence[int]) -> set[int]:
        """Those of `ids` the run has already emitted (`RunStore.emitted_by_run`)."""
        return await self._runs.emitted_by_run(run, obj, ids)
