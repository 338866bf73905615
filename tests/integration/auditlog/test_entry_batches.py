"""A batch of record results leaves the activity log exactly as applying them one event at a time: the
same entries (each its event's claim: no inbox rows), the same events reported as duplicates (repeats
inside a batch and redeliveries of events applied before), for two tenants and two runs each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from auditlog.activity_entries import RecordEntry
from auditlog.activity_log_store import PostgresActivityLog
from auditlog.bootstrap import install_tables
from auditlog.handlers import apply_run_of, build_batch_handlers
from postgres_store.pool import create_pool
from schemas.catalog import build_event
from schemas.envelope import CloudEvent
from schemas.events.common import Direction, RecordOutcome, SyncObject
from schemas.events.record_results import RecordApplied
from schemas.keys import record_key
from schemas.topics import RECORD_RESULTS
from stream_runner.messages import IncomingMessage
from tests.support.schemas import fresh_schema

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
TENANTS = ("tenant-a", "tenant-b")
RUNS = ("run-1", "run-2")
Item = tuple[CloudEvent[Any], IncomingMessage]


@pytest.fixture
async def two_schemas(pg_pool: asyncpg.Pool) -> AsyncIterator[tuple[str, str]]:
    """One activity log written one event at a time, one written in batches."""
    async with (
        fresh_schema(pg_pool, "auditlog_single", install_tables) as single,
        fresh_schema(pg_pool, "auditlog_batch", install_tables) as batch,
    ):
        yield single, batch


def record_results() -> list[Item]:
    """Results of both tenants' two runs, interleaved; each outcome, with and without ids and messages."""
    items: list[Item] = []
    for n in range(16):
        tenant, run_id = TENANTS[n % 2], RUNS[n // 2 % 2]
        outcome = list(RecordOutcome)[n % len(RecordOutcome)]
        match_key = f"org{n // 4}.io"
        result = RecordApplied(
            object=SyncObject.ORGANIZATION,
            match_key=match_key,
            pipedrive_id=n + 1 if n % 3 else None,
            abm_id=f"acc-{n}" if outcome is not RecordOutcome.FAILED else None,
            outcome=outcome,
            message="Required field missing: name" if outcome is RecordOutcome.FAILED else None,
            run_id=run_id if n % 5 else None,  # None: the run is the event's correlation id
        )
        key = record_key(tenant, SyncObject.ORGANIZATION, match_key)
        event = build_event(
            result,
            tenant=tenant,
            subject=key,
            source="/itest",
            id_parts=(key, n, "applied"),
            time=T0 + timedelta(seconds=n),
            correlationid=run_id,
        )
        items.append((event, IncomingMessage(RECORD_RESULTS.name, n % 3, n, key.encode(), b"")))
    return items


def deliveries() -> list[list[Item]]:
    """Two batches as the consumer could see them: the first repeats events inside itself; the second
    redelivers part of the first (a restart before the commit) and then brings new events, one repeated."""
    results = record_results()
    first = [*results[:6], results[2], *results[6:10], results[0]]
    second = [*results[4:10], *results[10:], results[12]]
    return [first, second]


async def rows(pool: asyncpg.Pool, schema: str, table: str) -> list[dict[str, Any]]:
    records = await pool.fetch(f"SELECT * FROM {schema}.{table} ORDER BY tenant_id, event_id")
    return [{k: v for k, v in r.items() if k != "applied_at"} for r in records]


async def test_a_batch_writes_the_same_rows_and_duplicates_as_one_event_at_a_time(
    pg_pool: asyncpg.Pool, two_schemas: tuple[str, str]
) -> None:
    single_schema, batch_schema = two_schemas
    one_by_one = build_batch_handlers(PostgresActivityLog(pg_pool, single_schema))["psync.record.applied"]
    batched = build_batch_handlers(PostgresActivityLog(pg_pool, batch_schema))["psync.record.applied"]

    single_duplicates = [
        (await one_by_one([(event, message)]))[0].duplicate
        for batch in deliveries()
        for event, message in batch
    ]
    batch_duplicates = [handled.duplicate for batch in deliveries() for handled in await batched(batch)]

    assert batch_duplicates == single_duplicates
    assert single_duplicates.count(False) == len(record_results())  # each event applied exactly once
    single_rows, batch_rows = (
        await rows(pg_pool, single_schema, "entries"),
        await rows(pg_pool, batch_schema, "entries"),
    )
    assert len(batch_rows) == len(record_results())
    for single_row, batch_row in zip(single_rows, batch_rows, strict=True):
        assert batch_row == single_row
    # An entry is its event's claim: the inbox is not written for record results.
    assert await rows(pg_pool, single_schema, "inbox") == await rows(pg_pool, batch_schema, "inbox") == []


def one_entry(event: CloudEvent[Any]) -> RecordEntry:
    """The entry of one record result, field by field: the reference the batch's rows are checked with."""
    result: RecordApplied = event.data
    return RecordEntry(
        apply_run_of(result.run_id or event.correlationid),
        result.object.value,
        Direction.TO_ABM.value,
        result.match_key,
        result.pipedrive_id,
        result.abm_id,
        result.outcome.value,
        result.message,
        0,
        event.time,
    )


async def test_the_batch_writes_what_record_entry_writes_one_event_at_a_time(
    pg_pool: asyncpg.Pool, two_schemas: tuple[str, str]
) -> None:
    """The reference is the activity log's one-event write, each in its own transaction."""
    single_schema, batch_schema = two_schemas
    single_log = PostgresActivityLog(pg_pool, single_schema)
    batched = build_batch_handlers(PostgresActivityLog(pg_pool, batch_schema))["psync.record.applied"]

    fresh = [
        await single_log.record_entry(event.tenantid, event.id, message.topic, one_entry(event))
        for batch in deliveries()
        for event, message in batch
    ]
    handled = [one for batch in deliveries() for one in await batched(batch)]

    assert [not one.duplicate for one in handled] == fresh
    assert await rows(pg_pool, batch_schema, "entries") == await rows(pg_pool, single_schema, "entries")
    runs = {(r["tenant_id"], r["run_id"]) for r in await rows(pg_pool, batch_schema, "entries")}
    assert runs == {(t, f"apply-{r}") for t in TENANTS for r in RUNS}


async def test_a_replay_fails_one_insert_on_the_server_not_one_a_batch(
    database_url: str, two_schemas: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain write (a COPY) that meets a repeat fails on the key, which PostgreSQL logs as an ERROR: the
    batches after one that held a repeat are claimed one by one at once, as the first batch after a start
    is."""
    _, schema = two_schemas
    pool = await create_pool(database_url, min_size=1, max_size=1)
    statements: list[tuple[str, bool]] = []  # each entries write tried: claimed one by one?, failed?

    def keep(query: asyncpg.connection.LoggedQuery) -> None:
        if f"INSERT INTO {schema}.entries" in query.query:
            claims = "ON CONFLICT (tenant_id, event_id) DO NOTHING" in query.query
            statements.append(("claim" if claims else "plain", query.exception is None))

    copy = asyncpg.Connection.copy_records_to_table  # not seen by query loggers

    async def copied(conn: asyncpg.Connection, table: str, **options: Any) -> str:
        try:
            done: str = await copy(conn, table, **options)
        except asyncpg.PostgresError:
            statements.append(("plain", False))
            raise
        statements.append(("plain", True))
        return done

    monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table", copied)

    async with pool.acquire() as conn:
        conn.add_query_logger(keep)
    batched = build_batch_handlers(PostgresActivityLog(pool, schema))["psync.record.applied"]
    results = record_results()
    started, fresh, replay, after = [results[:4]], [results[4:8]], [results[:3], results[3:8]], [results[8:]]
    tried: list[list[tuple[str, bool]]] = []
    duplicates: list[list[bool]] = []
    try:
        for batch in [*started, *fresh, *replay, *after, results[12:]]:
            duplicates.append([handled.duplicate for handled in await batched(batch)])
            tried.append(statements[:])
            statements.clear()
    finally:
        await pool.close()

    assert duplicates == [[False] * 4, [False] * 4, [True] * 3, [True] * 5, [False] * 8, [True] * 4]
    assert tried == [
        [("claim", True)],  # the first batch after a start
        [("plain", True)],
        [("plain", False), ("claim", True)],  # the replay's first batch fails on the key, once
        [("claim", True)],
        [("claim", True)],  # fresh again, after a batch of repeats
        [("plain", False), ("claim", True)],  # a redelivery after fresh batches: one failed INSERT again
    ]
