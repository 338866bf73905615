"""The activity log's Postgres adapter: runs, per-record entries, their tallies and audit entries, each
written in the transaction that claims its events (in the inbox; a per-record entry is its own claim)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from auditlog.activity_entries import (
    EntryEvent,
    EntryRow,
    RecordEntry,
    applies_run_of,
    entry_row,
    tally_entries,
)
from auditlog.run_views import shown_status
from postgres_store.inbox import claim_event, first_claims
from postgres_store.json_rows import json_rows, utc
from postgres_store.pool import Connection
from schemas.events.audit import AuditRecorded
from schemas.events.sync_runs import RunFinished, RunStarted, RunStatus

_ENTRY_COLUMNS = (
    "tenant_id, event_id, run_id, source_topic, object, direction, match_key, pipedrive_id, abm_id, outcome,"
    " message, tokens_spent, occurred_at, name"
)
_ENTRY_ROWS = (
    "SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, (r->>7)::bigint, r->>8, r->>9, r->>10,"
    " (r->>11)::integer, (r->>12)::timestamptz, r->>13 FROM jsonb_array_elements($1::text::jsonb) AS x(r)"
)
"""The `entries` rows of `entry_rows_json`'s parameter."""
_ENTRY_COLUMN_NAMES = tuple(name.strip() for name in _ENTRY_COLUMNS.split(","))


class PostgresActivityLog:
    """The activity log on PostgreSQL (`auditlog.ports.ActivityLog`): each write is one transaction that
    also claims its events (in the inbox, or by the entry's own key)."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema
        # Whether the next batch of entries is claimed one by one rather than tried with a plain COPY:
        # at start (a restart redelivers what was not committed) and while batches hold repeats (a replay).
        self._claim_first = True

    async def record_run_started(self, tenant: str, event_id: str, topic: str, run: RunStarted) -> bool:
        """Open a run (or leave a run that already finished as it is); False for a repeat."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await claim_event(conn, self._schema, tenant, event_id, topic):
                return False
            await conn.execute(
                f"INSERT INTO {self._schema}.runs (tenant_id, run_id, service, kind, direction, objects,"
                " trigger, started_at, applies_run_id, retry_of) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                " $9, $10) ON CONFLICT (tenant_id, run_id) DO UPDATE SET trigger = EXCLUDED.trigger",
                tenant, run.run_id, run.service, run.kind.value, run.direction.value,
                [o.value for o in run.objects], run.trigger, run.started_at, applies_run_of(run),
                run.retry_of,
            )  # fmt: skip
            return True

    async def record_run_finished(self, tenant: str, event_id: str, topic: str, run: RunFinished) -> bool:
        """Close a run with its counts, tokens and status (creating it if its start was never seen), and
        settle the status shown for it and for the connector run it applies, if it is an apply run."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await claim_event(conn, self._schema, tenant, event_id, topic):
                return False
            # The ends of a connector run and of its apply run may be written at once by two replicas:
            # whichever comes second must see the first, so both take the connector run's lock.
            applies = applies_run_of(run)
            await _lock_run(conn, tenant, applies or run.run_id)
            await conn.execute(
                f"INSERT INTO {self._schema}.runs AS r (tenant_id, run_id, service, kind, direction,"
                " objects, started_at, finished_at, created, updated, unchanged, skipped, failed,"
                " tokens_spent, own_status, message, emitted, applies_run_id, retry_of)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,"
                " $19) ON CONFLICT (tenant_id, run_id) DO UPDATE SET finished_at = EXCLUDED.finished_at,"
                " objects = CASE WHEN cardinality(EXCLUDED.objects) > 0 THEN EXCLUDED.objects"
                " ELSE r.objects END, created = EXCLUDED.created, updated = EXCLUDED.updated,"
                " unchanged = EXCLUDED.unchanged, skipped = EXCLUDED.skipped, failed = EXCLUDED.failed,"
                " tokens_spent = EXCLUDED.tokens_spent, own_status = EXCLUDED.own_status,"
                " message = EXCLUDED.message, emitted = EXCLUDED.emitted,"
                " applies_run_id = coalesce(EXCLUDED.applies_run_id, r.applies_run_id),"
                " retry_of = coalesce(EXCLUDED.retry_of, r.retry_of)",
                tenant, run.run_id, run.service, run.kind.value, run.direction.value,
                [o.value for o in run.objects], run.started_at, run.finished_at, run.counts.created,
                run.counts.updated, run.counts.unchanged, run.counts.skipped, run.counts.failed,
                run.tokens_spent, run.status.value, run.message, run.emitted, applies, run.retry_of,
            )  # fmt: skip
            await self._settle_status(conn, tenant, run.run_id)
            if applies is not None:
                await self._settle_status(conn, tenant, applies)
            return True

    async def _settle_status(self, conn: Connection, tenant: str, run_id: str) -> None:
        """Store the status the activity log shows for a run (`shown_status`)."""
        row = await conn.fetchrow(
            f"SELECT r.own_status, r.emitted, a.own_status AS apply_status FROM {self._schema}.runs r"
            f" LEFT JOIN {self._schema}.runs a ON a.tenant_id = r.tenant_id AND a.applies_run_id = r.run_id"
            " WHERE r.tenant_id = $1 AND r.run_id = $2",
            tenant, run_id,
        )  # fmt: skip
        if row is None:
            return
        status = shown_status(_status(row["own_status"]), row["emitted"], _status(row["apply_status"]))
        await conn.execute(
            f"UPDATE {self._schema}.runs SET status = $3 WHERE tenant_id = $1 AND run_id = $2",
            tenant, run_id, status.value if status else None,
        )  # fmt: skip

    async def record_audit(self, tenant: str, event_id: str, topic: str, entry: AuditRecorded) -> bool:
        """Keep an audit entry; False for a repeat."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await claim_event(conn, self._schema, tenant, event_id, topic):
                return False
            await conn.execute(
                f"INSERT INTO {self._schema}.audit_entries (tenant_id, event_id, action, actor_key_id,"
                " actor_name, at, changes, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                tenant, event_id, entry.action.value, entry.actor.key_id, entry.actor.name, entry.at,
                [c.model_dump(mode="json") for c in entry.changes], entry.detail,
            )  # fmt: skip
            return True

    async def record_entry(self, tenant: str, event_id: str, topic: str, entry: RecordEntry) -> bool:
        """Add one per-record entry; False for a repeat."""
        return (await self.record_entries([EntryEvent(tenant, event_id, topic, entry)]))[0]

    async def record_entries(self, events: Sequence[EntryEvent]) -> list[bool]:
        """Add the entries of many events in one transaction with their tallies (`record_entry_rows`)."""
        return await self.record_entry_rows([entry_row(event) for event in events])

    async def record_entry_rows(self, rows: Sequence[EntryRow]) -> list[bool]:
        """Add many entries (their `entries` rows, each its event's) in one transaction with their
        tallies; one flag per row, False for a repeat (its entry is kept already, or an earlier one in
        `rows` adds it).

        The entry is its event's claim: `entries` is keyed by (tenant, event id) as the inbox is, and kept
        as long as the activity log, so the inbox is not written for them (one statement and one row per
        entry fewer; a replay older than the inbox's dedupe window is still recognized).

        The usual batch holds no repeat: its entries go in with COPY (binary), which costs PostgreSQL
        about a third less than an INSERT of the rows' JSON (no JSON to parse, the rows written to the heap
        several at a time: 8 to 12 against 14 to 17 us of server CPU an entry in-process, batches of
        2,000, for about 1 us more on the client, asyncpg's binary encoding against orjson's text), and
        an INSERT .. ON CONFLICT DO NOTHING a fifth more again (a speculative insertion into the key's
        index). When one is a repeat, the COPY fails on the key (the server logs an ERROR), the
        transaction rolls back whole, and a second one claims the entries one by one (ON CONFLICT DO
        NOTHING). The batches after one that held a repeat are claimed one by one at once, until one
        holds none: a replay fails one COPY, not one a batch (and none after a start, whose first batch
        is claimed one by one)."""
        async with self._pool.acquire() as conn:
            if not self._claim_first:
                try:
                    async with conn.transaction():
                        await conn.copy_records_to_table(
                            "entries",
                            records=rows,
                            columns=_ENTRY_COLUMN_NAMES,
                            schema_name=self._schema,
                        )
                        await conn.execute(_tally_upsert(self._schema), *_tally_arguments(rows))
                    return [True] * len(rows)
                except asyncpg.UniqueViolationError:
                    pass  # a repeat among them: rolled back, claimed one by one below
            async with conn.transaction():
                claimed = await conn.fetch(
                    f"INSERT INTO {self._schema}.entries ({_ENTRY_COLUMNS}) {_ENTRY_ROWS}"
                    " ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING tenant_id, event_id",
                    entry_rows_json(rows),
                )
                fresh = first_claims(
                    [(row[0], row[1]) for row in rows], {(r["tenant_id"], r["event_id"]) for r in claimed}
                )
                added = [row for row, is_fresh in zip(rows, fresh, strict=True) if is_fresh]
                if added:
                    await conn.execute(_tally_upsert(self._schema), *_tally_arguments(added))
            self._claim_first = not all(fresh)
            return fresh


def _tally_upsert(schema: str) -> str:
    """The statement counting entries into their runs' tallies (`_tally_arguments`), each row taken in
    the arguments' order."""
    return (
        f"INSERT INTO {schema}.run_tallies AS t (tenant_id, run_id, outcome, reason, records, tokens)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[])"
        " ON CONFLICT (tenant_id, run_id, outcome, reason) DO UPDATE"
        " SET records = t.records + EXCLUDED.records, tokens = t.tokens + EXCLUDED.tokens"
    )


def _tally_arguments(rows: Sequence[EntryRow]) -> list[list[str] | list[int]]:
    """The tallies of the entries that belong to a run (`tally_entries`), as `_tally_upsert`'s
    six arrays, sorted by key: concurrent batches lock the rows they share in one order, so never
    deadlock."""
    tallies = tally_entries(rows)
    keys = sorted(tallies)
    return [
        *([k[i] for k in keys] for i in range(4)),
        [tallies[k][0] for k in keys],
        [tallies[k][1] for k in keys],
    ]


def _status(value: str | None) -> RunStatus | None:
    return RunStatus(value) if value is not None else None


async def _lock_run(conn: Connection, tenant: str, run_id: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"auditlog-run:{tenant}:{run_id}"
    )


def entry_rows_json(rows: Sequence[EntryRow]) -> str:
    """The `entries` rows as one JSON array of arrays (the table's insert order,
    `postgres_store.json_rows`; a naive time is taken as local, as asyncpg's COPY takes it): asyncpg
    binds typed arrays element by element (7 to 11 µs of client CPU a row for 13 columns, measured
    in-process for batches of 2,000), orjson writes the batch at under 1 µs a row."""
    return json_rows([(*row[:12], utc(row[12]), row[13]) for row in rows])
