"""The apply runs' Postgres adapter (`mapper.ports.ApplyRuns`): tallies per connector run, updated in the
transaction of the unit of work it is bound to.

Both writers lock the run's row (an upsert), so replicas that apply parts of one run, and the RunFinished
that may arrive on yet another replica, serialize on it: exactly one of them sees the run complete and
marks it reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mapper.apply_runs import CompletedRun, RunRef, RunsTallied, is_complete
from postgres_store.inbox import messages_of, saved_form
from postgres_store.pool import Connection
from schemas.events.common import SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished
from stream_runner.messages import OutgoingMessage

_COUNTS = ("created", "updated", "unchanged", "skipped", "failed")


class ApplyRunStore:
    """SQL of the `apply_runs` table (and of `dead_lettered_changes`, failures counted in runs), on one
    connection."""

    def __init__(self, conn: Connection, schema: str) -> None:
        self._conn = conn
        self._table = f"{schema}.apply_runs"
        self._dead_lettered = f"{schema}.dead_lettered_changes"

    async def add_applied(self, tallies: Mapping[RunRef, RunCounts]) -> RunsTallied:
        """Add a batch's outcomes to their runs; returns the runs this started (their first records) and
        the runs it completed (now marked reported)."""
        if not tallies:
            return RunsTallied([], [])
        refs = list(tallies)
        rows = await self._conn.fetch(
            f"INSERT INTO {self._table} AS r (tenant_id, source_run_id, created, updated, unchanged, skipped,"
            " failed, first_applied_at, last_applied_at)"
            " SELECT t, run, c, u, n, s, f, now(), now() FROM unnest($1::text[], $2::text[], $3::int[],"
            " $4::int[], $5::int[], $6::int[], $7::int[]) AS x(t, run, c, u, n, s, f)"
            " ON CONFLICT (tenant_id, source_run_id) DO UPDATE SET created = r.created + EXCLUDED.created,"
            " updated = r.updated + EXCLUDED.updated, unchanged = r.unchanged + EXCLUDED.unchanged,"
            " skipped = r.skipped + EXCLUDED.skipped, failed = r.failed + EXCLUDED.failed,"
            " last_applied_at = now(),"
            " first_applied_at = COALESCE(r.first_applied_at, now())"
            " RETURNING *, first_applied_at = now() AS started_now",
            [t for t, _ in refs], [run for _, run in refs],
            *([getattr(tallies[ref], name) for ref in refs] for name in _COUNTS),
        )  # fmt: skip
        # now() is the transaction's start: only this transaction can have set first_applied_at to it.
        started = [
            ((r["tenant_id"], r["source_run_id"]), r["first_applied_at"]) for r in rows if r["started_now"]
        ]
        return RunsTallied(sorted(started), await self._report(rows))

    async def add_emitted(self, tenant: str, finished: RunFinished) -> list[CompletedRun]:
        """Record how many changes a connector run emitted; returns the run if that completed it."""
        rows = await self._conn.fetch(
            f"INSERT INTO {self._table} AS r (tenant_id, source_run_id, emitted, source_kind, objects)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, source_run_id) DO UPDATE"
            " SET emitted = EXCLUDED.emitted, source_kind = EXCLUDED.source_kind, objects = EXCLUDED.objects"
            " RETURNING *",
            tenant, finished.run_id, finished.emitted, finished.kind.value,
            [o.value for o in finished.objects],
        )  # fmt: skip
        return await self._report(rows)

    async def claim_dead_letter(self, tenant: str, event_id: str) -> list[OutgoingMessage] | None:
        """Record a source change as dead-lettered; None the first time, else the outputs saved then."""
        claimed = await self._conn.fetchval(
            f"INSERT INTO {self._dead_lettered} (tenant_id, event_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING true",
            tenant, event_id,
        )  # fmt: skip
        if claimed:
            return None
        saved = await self._conn.fetchval(
            f"SELECT outputs FROM {self._dead_lettered} WHERE tenant_id = $1 AND event_id = $2",
            tenant,
            event_id,
        )
        return messages_of(saved)

    async def save_dead_letter_outputs(
        self, tenant: str, event_id: str, outputs: Sequence[OutgoingMessage]
    ) -> None:
        """Keep what a dead-lettered change produced, for when it fails again."""
        await self._conn.execute(
            f"UPDATE {self._dead_lettered} SET outputs = $3 WHERE tenant_id = $1 AND event_id = $2",
            tenant, event_id, [saved_form(m) for m in outputs],
        )  # fmt: skip

    async def _report(self, rows: Sequence[Any]) -> list[CompletedRun]:
        due = [r for r in rows if r["reported_at"] is None and is_complete(_counts(r), r["emitted"])]
        if not due:
            return []
        reported = await self._conn.fetch(
            f"UPDATE {self._table} AS r SET reported_at = now()"
            " FROM unnest($1::text[], $2::text[]) AS k(t, run)"
            " WHERE r.tenant_id = k.t AND r.source_run_id = k.run AND r.reported_at IS NULL"
            " RETURNING r.*",
            [r["tenant_id"] for r in due], [r["source_run_id"] for r in due],
        )  # fmt: skip
        return [_completed(r) for r in sorted(reported, key=lambda r: (r["tenant_id"], r["source_run_id"]))]


def _counts(row: Any) -> RunCounts:
    return RunCounts(**{name: row[name] for name in _COUNTS})


def _completed(row: Any) -> CompletedRun:
    return CompletedRun(
        tenant=row["tenant_id"],
        source_run_id=row["source_run_id"],
        counts=_counts(row),
        objects=tuple(SyncObject(o) for o in row["objects"]),
        started_at=row["first_applied_at"] or row["reported_at"],
        finished_at=row["reported_at"],
    )
