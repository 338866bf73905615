"""Webhook changes as runs of the activity log: one run per tenant and hour (like the pusher's auto-push
windows), "webhook changes", that holds every change the hint reader emitted in that hour.

A window opens with the first hint re-read in its hour (`psync.run.started`, kind `webhook`) and counts
what is emitted in the transaction that records the emitted version, so a change is counted once even
when a crash makes the reader emit it again. Once its hour (and the lease a hint may still be read under)
has passed, the window closes with `psync.run.finished`: `emitted`, as a sync run reports it, lets the
mapper report the apply run of its records, whose entries are the window's per-record entries. Event ids
derive from the run id, so a start or an end sent twice is dropped by its consumers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg

from connector.run_executor import ALL_OBJECTS, SERVICE
from postgres_store.pool import Connection
from schemas import sources
from schemas.catalog import build_event
from schemas.events.common import Direction
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStarted
from schemas.keys import run_key
from schemas.topics import SYNC_RUNS
from stream_runner.messages import OutgoingMessage
from sync_rules.run_status import run_status

WINDOW = timedelta(hours=1)
TRIGGER = "webhook"
Send = Callable[[Sequence[OutgoingMessage]], Awaitable[None]]


def window_of(moment: datetime) -> tuple[str, datetime]:
    """The run id of the hour `moment` falls in, and when that hour began."""
    start = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return f"webhooks-{start:%Y-%m-%dT%H}", start


def started_message(tenant: str, run_id: str, started_at: datetime) -> OutgoingMessage:
    """The start of a tenant's webhook window."""
    started = RunStarted(
        run_id=run_id, service=SERVICE, kind=RunKind.WEBHOOK, direction=Direction.TO_ABM,
        objects=ALL_OBJECTS, started_at=started_at, trigger=TRIGGER,
    )  # fmt: skip
    return _message(tenant, run_id, started, "started", started_at)


def finished_message(
    tenant: str, run_id: str, started_at: datetime, emitted: int, tokens: int
) -> OutgoingMessage:
    """The end of a tenant's webhook window: what it emitted (its records' outcomes are the apply run's)."""
    counts = RunCounts()
    finished = RunFinished(
        run_id=run_id, service=SERVICE, kind=RunKind.WEBHOOK, direction=Direction.TO_ABM,
        objects=ALL_OBJECTS, started_at=started_at, finished_at=started_at + WINDOW, counts=counts,
        tokens_spent=tokens, status=run_status(counts), emitted=emitted,
    )  # fmt: skip
    return _message(tenant, run_id, finished, "finished", started_at + WINDOW)


def _message(
    tenant: str, run_id: str, payload: RunStarted | RunFinished, phase: str, at: datetime
) -> OutgoingMessage:
    event = build_event(
        payload, tenant=tenant, subject=run_key(tenant, run_id), source=sources.CONNECTOR,
        id_parts=(run_id, phase), time=at, correlationid=run_id,
    )  # fmt: skip
    return OutgoingMessage.of_event(SYNC_RUNS.name, event)


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
