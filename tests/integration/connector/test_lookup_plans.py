"""The connector's lookups by a page's ids read only those ids' rows, whatever the tables' statistics.

Before a table has statistics (a fresh schema; a new tenant in an old one is rated the same way) the
planner took a lookup by `(tenant, object)` and `pipedrive_id = ANY(ids)` as a scan of the key's prefix,
filtering every row of the tenant: each page of an import cost more than the last (a second per page at
100,000 rows). Each lookup is run here under EXPLAIN ANALYZE, through the stores' own code, on 20,000 rows
of one tenant; every scan of the table must find its rows by the whole key and read no row it drops.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from connector.bootstrap import MIGRATIONS
from connector.cursor_store import CursorStore
from connector.queued_runs import RunKindName
from connector.run_store import RunStore
from schemas.events.common import SyncObject
from tests.support.schemas import fresh_schema

pytestmark = pytest.mark.integration

ROWS = 20_000
PAGE = [*range(7_001, 7_501), 10_000_001, 10_000_002]
"""A page of 500 stored ids and two never stored."""


class ExplainingPool:
    """Runs each `fetch` of a store for real and keeps its EXPLAIN ANALYZE plan (JSON)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.plans: list[dict[str, Any]] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        explained = await self._pool.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", *args)
        self.plans.append(json.loads(explained)[0]["Plan"])
        return await self._pool.fetch(query, *args)


def scans_of(plan: dict[str, Any], table: str) -> Iterator[dict[str, Any]]:
    """The plan's nodes that read `table`."""
    if plan.get("Relation Name") == table:
        yield plan
    for child in plan.get("Plans", []):
        yield from scans_of(child, table)


def assert_probes_by_whole_key(plan: dict[str, Any], table: str) -> None:
    scans = list(scans_of(plan, table))
    assert scans, json.dumps(plan, indent=1)
    for scan in scans:
        assert scan["Node Type"] in {"Index Scan", "Index Only Scan"}, json.dumps(plan, indent=1)
        assert "pipedrive_id" in scan["Index Cond"], json.dumps(plan, indent=1)
        assert scan.get("Rows Removed by Filter", 0) == 0, json.dumps(plan, indent=1)
        # One probe per id of the page, each finding at most its own row.
        assert scan["Actual Rows"] <= 1, json.dumps(plan, indent=1)


@pytest.fixture(params=["fresh table", "analyzed, a new tenant"])
async def schema(request: pytest.FixtureRequest, pg_pool: asyncpg.Pool) -> AsyncIterator[str]:
    """A fresh connector schema that autovacuum leaves alone; analyzed with another tenant's rows for
    the second case."""
    async with fresh_schema(pg_pool, "plans", MIGRATIONS) as name:
        for table in ("record_versions", "import_emitted"):
            await pg_pool.execute(f"ALTER TABLE {name}.{table} SET (autovacuum_enabled = false)")
        if request.param != "fresh table":
            other = CursorStore(pg_pool, name)
            at = datetime(2024, 1, 1, tzinfo=UTC)
            await other.record_emitted(
                "old-tenant", SyncObject.PERSON, [(i, (at, "d")) for i in range(1, 2_001)]
            )
            await pg_pool.execute(f"ANALYZE {name}.record_versions")
        yield name


async def test_lookups_by_ids_probe_the_key_on_tables_without_statistics(
    pg_pool: asyncpg.Pool, schema: str
) -> None:
    tenant, at = f"plans-{secrets.token_hex(4)}", datetime(2024, 5, 1, tzinfo=UTC)
    cursors = CursorStore(pg_pool, schema)
    for start in range(1, ROWS + 1, 5_000):
        ids = range(start, start + 5_000)
        await cursors.record_emitted(
            tenant,
            SyncObject.PERSON,
            [(i, (at, f"d{i}")) for i in ids],
            relations={i: (i + 1, None) for i in ids},
        )
    runs = RunStore(pg_pool, schema)
    run = await runs.enqueue(tenant, RunKindName.IMPORT, "test")
    async with pg_pool.acquire() as conn, conn.transaction():
        await runs.record_emitted_by_run(run, {SyncObject.PERSON: range(1, ROWS + 1)}, conn)

    explaining = ExplainingPool(pg_pool)
    cursors = CursorStore(explaining, schema)  # type: ignore[arg-type]
    runs = RunStore(explaining, schema)  # type: ignore[arg-type]
    emitted = await cursors.emitted(tenant, SyncObject.PERSON, PAGE)
    relations = await cursors.relations(tenant, SyncObject.PERSON, PAGE)
    by_run = await runs.emitted_by_run(run, SyncObject.PERSON, PAGE)

    stored = PAGE[:-2]
    assert emitted == {i: (at, f"d{i}") for i in stored}
    assert relations == {i: (i + 1, None) for i in stored}
    assert by_run == set(stored)
    versions_plan, relations_plan, by_run_plan = explaining.plans
    assert_probes_by_whole_key(versions_plan, "record_versions")
    assert_probes_by_whole_key(relations_plan, "record_versions")
    assert_probes_by_whole_key(by_run_plan, "import_emitted")
