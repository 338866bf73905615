"""The activity log's Postgres adapter: runs and per-record entries, written with the inbox claim."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from postgres_store.inbox import claim_event, claim_events
from schemas.events.sync_runs import RunFinished, RunStarted

_ENTRY_COLUMNS = (
    "tenant_id, event_id, run_id, source_topic, object, direction, match_key, pipedrive_id, abm_id, outcome,"
    " message, tokens_spent, occurred_at"
)


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


@dataclass(frozen=True)
class EntryEvent:
    """An event that adds one entry: who sent it, its id, the topic it came from, and the entry."""

    tenant: str
    event_id: str
    topic: str
    entry: RecordEntry


def first_claims(events: Sequence[EntryEvent], claimed: set[tuple[str, str]]) -> list[bool]:
    """Which events are applied now: the first of each (tenant, event id) claimed in this batch; a later
    repeat in the same batch is a duplicate, as it would be one event at a time."""
    seen: set[tuple[str, str]] = set()
    fresh = []
    for event in events:
        key = (event.tenant, event.event_id)
        fresh.append(key in claimed and key not in seen)
        seen.add(key)
    return fresh


class ActivityLog:
    """Writes runs and entries; each write is one transaction that also claims its events in the inbox."""

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
                f"INSERT INTO {self._schema}.runs AS r (tenant_id, run_id, service, kind, direction,"
                " objects, started_at, finished_at, created, updated, unchanged, skipped, failed,"
                " tokens_spent, status, message)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                " ON CONFLICT (tenant_id, run_id) DO UPDATE SET finished_at = EXCLUDED.finished_at,"
                " created = EXCLUDED.created, updated = EXCLUDED.updated, unchanged = EXCLUDED.unchanged,"
                " skipped = EXCLUDED.skipped, failed = EXCLUDED.failed, tokens_spent = EXCLUDED.tokens_spent,"
                " status = EXCLUDED.status, message = EXCLUDED.message",
                tenant, run.run_id, run.service, run.kind.value, run.direction.value,
                [o.value for o in run.objects], run.started_at, run.finished_at, run.counts.created,
                run.counts.updated, run.counts.unchanged, run.counts.skipped, run.counts.failed,
                run.tokens_spent, run.status.value, run.message,
            )  # fmt: skip
            return True

    async def record_entry(self, tenant: str, event_id: str, topic: str, entry: RecordEntry) -> bool:
        """Add one per-record entry; False for a repeat."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await claim_event(conn, self._schema, tenant, event_id, topic):
                return False
            await conn.execute(
                f"INSERT INTO {self._schema}.entries ({_ENTRY_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                tenant, event_id, entry.run_id, topic, entry.object, entry.direction, entry.match_key,
                entry.pipedrive_id, entry.abm_id, entry.outcome, entry.message, entry.tokens_spent,
                entry.occurred_at,
            )  # fmt: skip
            return True

    async def record_entries(self, events: Sequence[EntryEvent]) -> list[bool]:
        """Add the entries of many events in one transaction, as `record_entry` one by one would: one
        flag per event, False for a repeat (already applied, or earlier in `events`)."""
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await claim_events(
                conn, self._schema, [(e.tenant, e.event_id, e.topic) for e in events]
            )
            fresh = first_claims(events, claimed)
            added = [e for e, is_fresh in zip(events, fresh, strict=True) if is_fresh]
            if added:
                await conn.execute(
                    f"INSERT INTO {self._schema}.entries ({_ENTRY_COLUMNS})"
                    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
                    " $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::text[],"
                    " $12::integer[], $13::timestamptz[])",
                    *entry_columns(added),
                )
            return fresh


def entry_columns(events: Sequence[EntryEvent]) -> list[list[object]]:
    """The `entries` columns of `events`, one list per column, in the table's insert order."""
    return [
        [e.tenant for e in events],
        [e.event_id for e in events],
        [e.entry.run_id for e in events],
        [e.topic for e in events],
        [e.entry.object for e in events],
        [e.entry.direction for e in events],
        [e.entry.match_key for e in events],
        [e.entry.pipedrive_id for e in events],
        [e.entry.abm_id for e in events],
        [e.entry.outcome for e in events],
        [e.entry.message for e in events],
        [e.entry.tokens_spent for e in events],
        [e.entry.occurred_at for e in events],
    ]
