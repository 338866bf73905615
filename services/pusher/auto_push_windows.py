"""Auto-push windows: the automatic pushes of one tenant in one hour are one run of the activity log.

A window's run starts with its first auto-push (`psync.run.started`) and is counted as results come in,
in the transaction of each push; a worker closes every window whose hour has ended
(`psync.run.finished` with the counts and tokens). Event ids derive from the run id, so a re-sent start
or end is dropped by the activity log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from postgres_store.pool import Connection
from pusher.record_pusher import PushDone
from pusher.results import run_finished_message, run_started_message
from schemas.envelope import CloudEvent
from schemas.events.common import RecordOutcome
from schemas.events.sync_runs import RunCounts, RunKind
from stream_runner.messages import OutgoingMessage

WINDOW = timedelta(hours=1)
CLOSE_EVERY_S = 30.0
_log = structlog.get_logger(__name__)

Send = Callable[[Sequence[OutgoingMessage]], Awaitable[None]]


async def count_in_window(
    conn: Connection, schema: str, event: CloudEvent[Any], run_id: str, dones: list[PushDone], tokens: int
) -> list[OutgoingMessage]:
    """Add an auto-push's outcomes to its window's run; the window's first push also starts the run."""
    opened = await conn.fetchval(
        f"INSERT INTO {schema}.push_runs (tenant_id, run_id, kind, started_at)"
        " VALUES ($1, $2, 'auto_push', $3) ON CONFLICT DO NOTHING RETURNING true",
        event.tenantid, run_id, event.time,
    )  # fmt: skip
    await add_to_run(conn, schema, event.tenantid, run_id, outcome_counts(dones), tokens)
    if not opened:
        return []
    objects = tuple(dict.fromkeys(d.object for d in dones))
    return [run_started_message(event.tenantid, run_id, objects, event.time, RunKind.AUTO_PUSH)]


def outcome_counts(dones: Sequence[PushDone]) -> RunCounts:
    """The run counts of some pushes' outcomes."""
    return RunCounts(**{o.value: sum(1 for d in dones if d.outcome is o) for o in RecordOutcome})


def counts_of(row: Any) -> RunCounts:
    """The counts of a `push_runs` row."""
    return RunCounts(**{o.value: row[o.value] for o in RecordOutcome})


async def add_to_run(
    conn: Connection, schema: str, tenant: str, run_id: str, counts: RunCounts, tokens: int
) -> Any:
    """Add outcomes and tokens to a push run (manual batch or auto-push window); returns its row."""
    return await conn.fetchrow(
        f"UPDATE {schema}.push_runs SET created = created + $3, updated = updated + $4,"
        " unchanged = unchanged + $5, skipped = skipped + $6, failed = failed + $7, tokens = tokens + $8"
        " WHERE tenant_id = $1 AND run_id = $2 RETURNING *",
        tenant, run_id, counts.created, counts.updated, counts.unchanged, counts.skipped, counts.failed,
        tokens,
    )  # fmt: skip


def window_end(started_at: datetime) -> datetime:
    """The end of the hour a window started in."""
    return started_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + WINDOW


async def close_ended_windows(pool: asyncpg.Pool, schema: str, send: Send, now: datetime) -> int:
    """Report every auto-push window whose hour has ended; returns how many were closed."""
    rows = await pool.fetch(
        f"SELECT * FROM {schema}.push_runs WHERE kind = 'auto_push' AND NOT finished"
        " AND date_trunc('hour', started_at AT TIME ZONE 'UTC') + interval '1 hour' <= $1 AT TIME ZONE 'UTC'",
        now,
    )
    for row in rows:
        counts = counts_of(row)
        end = window_end(row["started_at"])
        # Sent before it is marked: a crash in between re-sends the same event id, which is dropped.
        await send([run_finished_message(row["tenant_id"], row["run_id"], (), row["started_at"], end, counts,
                                         row["tokens"], RunKind.AUTO_PUSH)])  # fmt: skip
        await pool.execute(
            f"UPDATE {schema}.push_runs SET finished = true WHERE tenant_id = $1 AND run_id = $2",
            row["tenant_id"], row["run_id"],
        )  # fmt: skip
    return len(rows)


async def close_windows_until_stopped(
    pool: asyncpg.Pool, schema: str, send: Send, stop: asyncio.Event
) -> None:
    """The worker: close ended windows every 30 seconds until the service stops."""
    while not stop.is_set():
        closed = await close_ended_windows(pool, schema, send, datetime.now(UTC))
        if closed:
            _log.info("auto_push_windows_closed", count=closed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CLOSE_EVERY_S)
