"""What PostgreSQL spends on the two per-record writes of an import outside the mapper: the pusher's
mirror of each source change (`PostgresMirror.apply_changes`) and the activity log's entry of each record
result (`PostgresActivityLog.record_entries`), through the stores themselves, on a fresh schema each.

Reports, per row written, the server's CPU (the one backend's user + system time from /proc, so only when
PostgreSQL runs on this machine, else null) and the WAL the statements wrote (`pg_stat_statements`, null
without it); both are the server's own, so a figure taken on a busy machine still compares. Rows are
organizations shaped as the sandbox lists them, in batches of 2,000 as the services' consumers hand them
over. Not part of `make bench` (no goal of its own): run it as

    PYTHONPATH=.:libs:services python bench/store_writes.py [batches]

with DATABASE_URL set, before and after a change to either write.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pg_statements
from infra_cpu import process_seconds

from auditlog.activity_entries import EntryEvent, RecordEntry
from auditlog.activity_log_store import PostgresActivityLog
from postgres_store.migrations import apply_migrations
from postgres_store.pool import create_pool
from pusher.mirror_store import PostgresMirror
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange

DSN = os.environ.get("DATABASE_URL", "postgresql://psync:psync@127.0.0.1:55432/psync")
ROOT = Path(__file__).resolve().parents[1]
BATCH = 2_000
T0 = datetime(2026, 11, 17, 7, 45, 35, tzinfo=UTC)


def organization(pipedrive_id: int) -> dict[str, Any]:
    """An organization as the sandbox lists it (API v2)."""
    return {
        "id": pipedrive_id, "name": f"Orbit Mesa Energy {pipedrive_id}", "owner_id": 12415231,
        "add_time": "2025-04-11T09:36:06Z", "update_time": "2026-11-17T07:45:35Z", "is_deleted": False,
        "visible_to": 3, "label_ids": [], "website": f"orbitmesa{pipedrive_id}.ee/?utm_source=crm",
        "address": {"value": "2 Main Street, Berlin, Germany", "locality": "Berlin", "country": "Germany"},
        "linkedin": f"https://www.linkedin.com/company/orbit-{pipedrive_id}", "industry": 10,
        "annual_revenue": 6990000, "employee_count": 1447,
        "custom_fields": {"386ecbe06b65a6a48b8148f6b38a088ca65ed389": 57.7},
    }  # fmt: skip


def backend_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a server backend, when the server runs here."""
    try:
        return process_seconds(pid)
    except OSError:
        return None


async def mirror_batch(pool: asyncpg.Pool, schema: str, n: int) -> None:
    tenant = "bench-store-writes"
    changes = [
        (
            tenant,
            SourceChange(
                object=SyncObject.ORGANIZATION, pipedrive_id=n * BATCH + i + 1, action=ChangeAction.UPSERTED,
                update_time=T0, record=organization(n * BATCH + i + 1), origin=ChangeOrigin.IMPORT,
            ),
            f"orbitmesa{n * BATCH + i + 1}.ee", False,
        )
        for i in range(BATCH)
    ]  # fmt: skip
    async with pool.acquire() as conn, conn.transaction():
        await PostgresMirror(conn, schema).apply_changes(changes)


async def entries_batch(pool: asyncpg.Pool, schema: str, n: int) -> None:
    events = [
        EntryEvent(
            "bench-store-writes", str(uuid.uuid4()), "psync.record-results.v1",
            RecordEntry(
                "apply-sync-5f1c2a9e0b7d4c3a", "organization", "to_abm", f"orbitmesa{n * BATCH + i}.ee",
                n * BATCH + i + 1, str(uuid.uuid4()), "created", None, 0, T0 + timedelta(microseconds=i),
            ),
        )
        for i in range(BATCH)
    ]  # fmt: skip
    await PostgresActivityLog(pool, schema).record_entries(events)


async def measure(
    name: str, migrations: str, write: Callable[[asyncpg.Pool, str, int], Awaitable[None]], batches: int
) -> dict[str, Any]:
    schema = f"bench_store_writes_{name}_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(DSN, min_size=1, max_size=1)
    try:
        await apply_migrations(pool, schema, ROOT / migrations)
        pid = await pool.fetchval("SELECT pg_backend_pid()")
        before_statements = await pg_statements.snapshot(pool)
        before_cpu = backend_cpu_s(pid)
        for n in range(batches):
            await write(pool, schema, n)
        after_cpu = backend_cpu_s(pid)
        after_statements = await pg_statements.snapshot(pool)
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
    rows = batches * BATCH
    wal = None
    if before_statements is not None and after_statements is not None:
        spent = pg_statements.spent(before_statements, after_statements)
        wal = sum(s.wal_bytes for s in spent if f"{schema}." in s.query)
    cpu = None if before_cpu is None or after_cpu is None else after_cpu - before_cpu
    return {
        "rows": rows,
        "server_cpu_us_per_row": None if cpu is None else round(cpu / rows * 1e6, 1),
        "wal_bytes_per_row": None if wal is None else round(wal / rows),
    }


async def main(batches: int) -> None:
    for name, migrations, write in (
        ("mirror", "services/pusher/migrations", mirror_batch),
        ("entries", "services/auditlog/migrations", entries_batch),
    ):
        print(name, await measure(name, migrations, write, batches), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 25))
