"""A large batch's versions of records the mirror does not hold go in with COPY, the rest by the upsert
(`PostgresMirror._write_versions`): the mirror ends as the upsert alone leaves it, and a record mirrored
by another writer since the batch's read (committed, or still open while the COPY waits for it) fails the
COPY, which is undone, and the upsert writes the batch: nothing lost, nothing twice, the version guard
kept."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from postgres_store.pool import Connection
from pusher import mirror_store
from pusher.bootstrap import install_tables
from pusher.mirror_store import PostgresMirror, held_ids_sql
from pusher.ports import MirrorChange
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from tests.support.conditions import eventually
from tests.support.schemas import schema_fixture

schema = schema_fixture("pusher_mirror_copy", install_tables)

ORG = SyncObject.ORGANIZATION
T0 = datetime(2026, 11, 2, 9, 10, tzinfo=UTC)
COLUMNS = (
    "object, pipedrive_id, match_key, record, update_time, deleted, merged_into_id, org_id,"
    " last_change_was_echo"
)
SIZE = 200
"""The batch's versions (ids 1 to 200): more than `COPY_FROM`."""
OUTSIDE = 1_000
RACED = 42
"""The record another writer mirrors between the batch's read and its COPY."""


def version(pipedrive_id: int, at: datetime, name: str) -> SourceChange:
    record = {"id": pipedrive_id, "name": name, "website": f"org{pipedrive_id}.io", "org_id": pipedrive_id}
    if pipedrive_id % 10 == 3:
        record["is_deleted"] = True
    return SourceChange(
        object=ORG, pipedrive_id=pipedrive_id, action=ChangeAction.UPSERTED, update_time=at, record=record,
        origin=ChangeOrigin.IMPORT,
    )  # fmt: skip


def batch(tenant: str) -> list[MirrorChange]:
    """`SIZE` versions (ids 1 to `SIZE`), every seventh marked as an echo."""
    return [(tenant, version(n, T0, f"Batch {n}"), f"org{n}.io", n % 7 == 0) for n in range(1, SIZE + 1)]


async def mirror_before(conn: Connection, schema: str, tenant: str) -> None:
    """What the mirror holds before the batch: 3 newer than the batch's version, 5 merged away, 7 the
    batch's version already, 9 older, and one outside the batch."""
    mirror = PostgresMirror(conn, schema)
    merged = SourceChange(
        object=ORG, pipedrive_id=5, action=ChangeAction.MERGED, update_time=T0 - timedelta(1),
        merged_into_id=OUTSIDE, origin=ChangeOrigin.POLL,
    )  # fmt: skip
    await mirror.apply_changes(
        [
            (tenant, version(3, T0 + timedelta(1), "Newer"), "org3.io", False),
            (tenant, merged, None, False),
            (tenant, version(7, T0, "Batch 7"), "org7.io", True),
            (tenant, version(9, T0 - timedelta(1), "Older"), "org9.io", False),
            (tenant, version(OUTSIDE, T0, "Outside"), "org1000.io", False),
        ]
    )


async def rows_of(conn: Connection, schema: str, tenant: str) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM {schema}.mirror WHERE tenant_id = $1 ORDER BY pipedrive_id", tenant
    )
    return [tuple(row) for row in rows]


def watch_copies(
    monkeypatch: pytest.MonkeyPatch, before: Callable[[], Any] | None = None
) -> list[tuple[int, bool]]:
    """Each COPY into the mirror tried: (rows, succeeded). `before` runs first (a racing writer)."""
    copies: list[tuple[int, bool]] = []
    copy = asyncpg.Connection.copy_records_to_table  # not seen by query loggers

    async def copied(conn: asyncpg.Connection, table: str, *, records: Any, **options: Any) -> str:
        records = list(records)
        if before is not None:
            await before()
        try:
            done: str = await copy(conn, table, records=records, **options)
        except asyncpg.PostgresError:
            copies.append((len(records), False))
            raise
        copies.append((len(records), True))
        return done

    monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table", copied)
    return copies


@pytest.mark.parametrize("held_before", [True, False], ids=["some-held", "none-held"])
async def test_a_large_batch_leaves_the_mirror_as_the_upsert_alone_does(
    pg_pool: asyncpg.Pool, schema: str, monkeypatch: pytest.MonkeyPatch, held_before: bool
) -> None:
    copies = watch_copies(monkeypatch)
    kept: dict[str, list[bool]] = {}
    rows: dict[str, list[tuple[Any, ...]]] = {}
    async with pg_pool.acquire() as conn:
        for way, copy_from in (("by-copy", mirror_store.COPY_FROM), ("by-upsert", SIZE + 1)):
            tenant = f"{way}-{held_before}"
            monkeypatch.setattr(mirror_store, "COPY_FROM", copy_from)
            async with conn.transaction():
                if held_before:
                    await mirror_before(conn, schema, tenant)
                kept[way] = await PostgresMirror(conn, schema).apply_changes(batch(tenant))
            rows[way] = await rows_of(conn, schema, tenant)

    not_held = SIZE - 4 if held_before else SIZE
    assert copies == [(not_held, True)]  # the batch's records the mirror did not hold, once
    assert kept["by-copy"] == kept["by-upsert"]
    assert [n for n, one in enumerate(kept["by-copy"], 1) if not one] == ([3, 5, 7] if held_before else [])
    assert rows["by-copy"] == rows["by-upsert"]
    assert len(rows["by-copy"]) == SIZE + held_before


async def test_the_read_of_held_ids_probes_the_primary_key_once_an_id_without_statistics(
    pg_pool: asyncpg.Pool, schema: str
) -> None:
    """A fresh mirror has no statistics: the generic plan still probes the key per id (no scan of the
    tenant's rows), and only when a row lies between the least and the greatest id."""
    async with pg_pool.acquire() as conn:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(
            f"PREPARE held(text, text, text, bigint, bigint) AS {held_ids_sql(f'{schema}.mirror')}"
        )
        rows = await conn.fetch("EXPLAIN EXECUTE held('t', 'organization', '1,2,3', 1, 3)")
        await conn.execute("DEALLOCATE held; RESET plan_cache_mode")
    plan = "\n".join(row[0] for row in rows)

    assert "Seq Scan" not in plan and "Bitmap" not in plan and "Hash" not in plan
    assert "Nested Loop" in plan and plan.count("using mirror_pkey") == 2


@pytest.mark.parametrize(
    "other_at", [T0 + timedelta(seconds=1), T0 - timedelta(seconds=1)], ids=["newer", "older"]
)
@pytest.mark.parametrize("open_while_copying", [False, True], ids=["committed", "open"])
async def test_a_record_mirrored_since_the_read_fails_the_copy_and_the_upsert_writes_the_batch(
    pg_pool: asyncpg.Pool,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
    other_at: datetime,
    open_while_copying: bool,
) -> None:
    tenant = f"race-{other_at:%S}-{open_while_copying}"
    async with pg_pool.acquire() as conn, pg_pool.acquire() as other:
        ours = await conn.fetchval("SELECT pg_backend_pid()")

        async def other_writer_mirrors_the_record() -> None:
            write = other.transaction()
            await write.start()
            await PostgresMirror(other, schema).upsert(
                tenant, ORG, RACED, {"id": RACED, "name": "Other"}, other_at, "org42.io"
            )
            if not open_while_copying:
                await write.commit()
                return

            async def commit_once_the_copy_waits() -> None:
                await eventually(
                    lambda: other.fetchval(
                        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", ours
                    ),
                    bool, within_s=10, what="the COPY waiting for the other writer's row",
                )  # fmt: skip
                await write.commit()

            asyncio.get_running_loop().create_task(commit_once_the_copy_waits())

        copies = watch_copies(monkeypatch, other_writer_mirrors_the_record)
        async with conn.transaction():
            await mirror_before(conn, schema, tenant)
            kept = await PostgresMirror(conn, schema).apply_changes(batch(tenant))
        rows = {row[1]: row for row in await rows_of(conn, schema, tenant)}

    newer = other_at > T0
    assert copies == [(SIZE - 4, False)]
    assert [n for n, one in enumerate(kept, 1) if not one] == [3, 5, 7] + ([RACED] if newer else [])
    assert len(rows) == SIZE + 1
    theirs = '{"id":42,"name":"Other"}'
    ours = '{"id":42,"name":"Batch 42","website":"org42.io","org_id":42}'
    assert rows[RACED][3] == (theirs if newer else ours)
    holding_the_batch_s = [n for n, row in rows.items() if row[3] is not None and '"Batch ' in row[3]]
    assert holding_the_batch_s == [
        n for n in range(1, SIZE + 1) if n not in (3, 5) and (n != RACED or not newer)
    ]
