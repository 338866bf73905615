"""The activity log's reads (the SQL of its API): pages of runs and entries, and what surrounds a run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from auditlog.run_views import (
    ENTRY_COLUMNS,
    REASONS_SHOWN,
    LiveTally,
    Position,
    Reason,
    RunFilter,
    RunRelations,
    StoredRun,
    merged_reasons,
)
from schemas.events.common import RecordOutcome
from schemas.events.sync_runs import RunCounts, RunStatus

_RUN_COLUMNS = (
    "run_id, service, kind, direction, objects, trigger, started_at, finished_at, created, updated,"
    " unchanged, skipped, failed, tokens_spent, own_status, status, message, emitted, applies_run_id,"
    " retry_of"
)


class PostgresActivityReads:
    """The activity log's reads on PostgreSQL (`auditlog.ports.ActivityReads`), of the caller's tenant
    only: every query filters on the tenant."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    async def runs_page(
        self, tenant: str, where: RunFilter, after: Position | None, limit: int
    ) -> list[StoredRun]:
        """Up to `limit` runs started before `after` (time, run id), newest first. A `finishing` run is
        stored with its final status, so that filter finds every ended run (the caller keeps those shown
        finishing)."""
        at, key = after if after else (None, None)
        rows = await self._pool.fetch(
            f"SELECT {_RUN_COLUMNS} FROM {self._schema}.runs WHERE tenant_id = $1"
            " AND ($2::timestamptz IS NULL OR (started_at, run_id) < ($2, $3))"
            " AND ($4::text IS NULL OR coalesce(status, 'running') = $4"
            " OR ($4 = 'finishing' AND status IS NOT NULL))"
            " AND ($5::text IS NULL OR service = $5) AND ($6::text IS NULL OR kind = $6)"
            " AND ($8::timestamptz IS NULL OR started_at >= $8)"
            " AND ($9::timestamptz IS NULL OR started_at < $9)"
            " ORDER BY started_at DESC, run_id DESC LIMIT $7",
            tenant, at, key, where.status, where.service, where.kind, limit, where.started_since,
            where.started_before,
        )  # fmt: skip
        return [_stored_run(r) for r in rows]

    async def run(self, tenant: str, run_id: str) -> StoredRun | None:
        """One run, or None."""
        row = await self._pool.fetchrow(
            f"SELECT {_RUN_COLUMNS} FROM {self._schema}.runs WHERE tenant_id = $1 AND run_id = $2",
            tenant,
            run_id,
        )
        return _stored_run(row) if row is not None else None

    async def relations(self, tenant: str, runs: Sequence[StoredRun]) -> dict[str, RunRelations]:
        """For each run: its entries' tally, its apply run and that run's tally, the runs retrying it."""
        ids = [r.run_id for r in runs]
        applies = await self._pool.fetch(
            f"SELECT {_RUN_COLUMNS} FROM {self._schema}.runs WHERE tenant_id = $1"
            " AND applies_run_id = ANY($2::text[])",
            tenant, ids,
        )  # fmt: skip
        apply_of = {r["applies_run_id"]: _stored_run(r) for r in applies}
        retries = await self._pool.fetch(
            f"SELECT retry_of, run_id FROM {self._schema}.runs WHERE tenant_id = $1"
            " AND retry_of = ANY($2::text[]) ORDER BY started_at, run_id",
            tenant, ids,
        )  # fmt: skip
        tallies = await self.tallies(tenant, [*ids, *(a.run_id for a in apply_of.values())])
        return {
            run_id: RunRelations(
                tally=tallies.get(run_id, LiveTally()),
                apply_run=apply_of.get(run_id),
                apply_tally=tallies.get(apply_of[run_id].run_id, LiveTally())
                if run_id in apply_of
                else LiveTally(),
                retried_by=tuple(r["run_id"] for r in retries if r["retry_of"] == run_id),
            )
            for run_id in ids
        }

    async def tallies(self, tenant: str, run_ids: Sequence[str]) -> dict[str, LiveTally]:
        """The entries counted so far of each run: outcomes, tokens, the top skip and failure reasons."""
        rows = await self._pool.fetch(
            f"SELECT run_id, outcome, sum(records)::int AS records, sum(tokens)::int AS tokens"
            f" FROM {self._schema}.run_tallies WHERE tenant_id = $1 AND run_id = ANY($2::text[])"
            " GROUP BY run_id, outcome",
            tenant, list(run_ids),
        )  # fmt: skip
        reasons = await self._pool.fetch(
            "SELECT run_id, outcome, reason, records FROM (SELECT run_id, outcome, reason, records,"
            " row_number() OVER (PARTITION BY run_id ORDER BY records DESC, outcome, reason) AS n"
            f" FROM {self._schema}.run_tallies WHERE tenant_id = $1 AND run_id = ANY($2::text[])"
            " AND outcome IN ('skipped', 'failed') AND reason <> '') AS ranked WHERE n <= $3",
            tenant, list(run_ids), REASONS_SHOWN,
        )  # fmt: skip
        counted: dict[str, dict[str, int]] = {}
        tokens: dict[str, int] = {}
        for row in rows:
            counted.setdefault(row["run_id"], {})[row["outcome"]] = row["records"]
            tokens[row["run_id"]] = tokens.get(row["run_id"], 0) + row["tokens"]
        return {
            run_id: LiveTally(
                counts=RunCounts(**{o: n for o, n in counts.items() if o in RunCounts.model_fields}),
                tokens=tokens[run_id],
                reasons=merged_reasons(
                    Reason(RecordOutcome(r["outcome"]), r["reason"], r["records"])
                    for r in reasons
                    if r["run_id"] == run_id
                ),
            )
            for run_id, counts in counted.items()
        }

    async def entries_page(
        self, tenant: str, run_id: str, outcome: str | None, after: Position | None, limit: int | None
    ) -> list[dict[str, Any]]:
        """Up to `limit` (None: all) of a run's entries after `after` (time, event id), oldest first."""
        at, key = after if after else (None, None)
        rows = await self._pool.fetch(
            f"SELECT {', '.join(ENTRY_COLUMNS)} FROM {self._schema}.entries WHERE tenant_id = $1"
            " AND run_id = $2 AND ($3::timestamptz IS NULL OR (occurred_at, event_id) > ($3, $4))"
            " AND ($5::text IS NULL OR outcome = $5)"
            " ORDER BY occurred_at, event_id LIMIT $6",
            tenant, run_id, at, key, outcome, limit,
        )  # fmt: skip
        return [dict(r) for r in rows]

    async def audit_page(self, tenant: str, before: Position | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` audit entries at or before `before`'s time, newest first (the caller drops those
        not strictly before the position)."""
        at = before[0] if before else None
        rows = await self._pool.fetch(
            f"SELECT event_id, action, actor_key_id, actor_name, at, changes, detail"
            f" FROM {self._schema}.audit_entries WHERE tenant_id = $1"
            " AND ($2::timestamptz IS NULL OR at <= $2) ORDER BY at DESC, event_id DESC LIMIT $3",
            tenant, at, limit,
        )  # fmt: skip
        return [dict(r) for r in rows]

    async def run_is_known(self, tenant: str, run_id: str) -> bool:
        """Whether the run, or any entry filed under it, exists."""
        found = await self._pool.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {self._schema}.runs WHERE tenant_id = $1 AND run_id = $2)"
            f" OR EXISTS (SELECT 1 FROM {self._schema}.entries WHERE tenant_id = $1 AND run_id = $2)",
            tenant,
            run_id,
        )
        return bool(found)


def _status(value: str | None) -> RunStatus | None:
    return RunStatus(value) if value is not None else None


def _stored_run(row: asyncpg.Record) -> StoredRun:
    return StoredRun(
        run_id=row["run_id"],
        service=row["service"],
        kind=row["kind"],
        direction=row["direction"],
        objects=tuple(row["objects"]),
        trigger=row["trigger"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        counts=RunCounts(**{name: row[name] for name in RunCounts.model_fields}),
        tokens_spent=row["tokens_spent"],
        own_status=_status(row["own_status"]),
        status=_status(row["status"]),
        message=row["message"],
        emitted=row["emitted"],
        applies_run_id=row["applies_run_id"],
        retry_of=row["retry_of"],
    )
