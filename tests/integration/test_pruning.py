"""Pruning against PostgreSQL: rows older than their table's window go, in batches, younger rows stay."""

from __future__ import annotations

import importlib
import uuid

import asyncpg
import pytest

from pipedrive_client import install_schema
from postgres_store.pruning import Expiry, Pruner
from tests.support.schemas import drop_schemas, schema_fixture

pytestmark = pytest.mark.integration


async def _expiring_tables(pool: asyncpg.Pool, name: str) -> None:
    await pool.execute(
        f"CREATE SCHEMA {name};"
        f" CREATE TABLE {name}.inbox (event_id text PRIMARY KEY, applied_at timestamptz NOT NULL);"
        f" CREATE TABLE {name}.deliveries (delivery_id text PRIMARY KEY, received_at timestamptz NOT NULL)"
    )


schema = schema_fixture("prune", _expiring_tables)


async def _insert(pool: asyncpg.Pool, table: str, ages_s: list[int]) -> None:
    await pool.executemany(
        f"INSERT INTO {table} VALUES ($1, now() - make_interval(secs => $2))",
        [(f"row-{i}", age) for i, age in enumerate(ages_s)],
    )


async def _left(pool: asyncpg.Pool, table: str) -> list[str]:
    return [r[0] for r in await pool.fetch(f"SELECT * FROM {table} ORDER BY 1")]


async def test_rows_older_than_their_window_are_deleted_in_batches_and_younger_ones_stay(
    pg_pool: asyncpg.Pool, schema: str
) -> None:
    await _insert(pg_pool, f"{schema}.inbox", [10 * 86_400] * 7 + [60, 3_600])
    await _insert(pg_pool, f"{schema}.deliveries", [7_200, 60])
    pruner = Pruner(
        pg_pool,
        [
            Expiry(f"{schema}.inbox", "applied_at", 86_400),
            Expiry(f"{schema}.deliveries", "received_at", 3_600),
        ],
        batch=3,
    )

    deleted = await pruner.prune_once()

    assert deleted == {f"{schema}.inbox": 7, f"{schema}.deliveries": 1}
    assert await _left(pg_pool, f"{schema}.inbox") == ["row-7", "row-8"]
    assert await _left(pg_pool, f"{schema}.deliveries") == ["row-1"]
    assert await pruner.prune_once() == {f"{schema}.inbox": 0, f"{schema}.deliveries": 0}


def test_a_table_name_that_is_not_plain_is_refused() -> None:
    with pytest.raises(ValueError, match="plain"):
        Expiry("inbox; DROP TABLE x", "applied_at", 1)


@pytest.mark.parametrize("service", ["connector", "mapper", "pusher", "auditlog"])
async def test_each_service_prunes_tables_its_migrations_create_by_an_indexed_time(
    pg_pool: asyncpg.Pool, service: str
) -> None:
    bootstrap = importlib.import_module(f"{service}.bootstrap")
    settings_module = importlib.import_module(f"{service}.settings")
    settings_class = next(
        value for name, value in vars(settings_module).items() if name.lower() == f"{service}settings"
    )
    schema = f"itest_{service}_prune_{uuid.uuid4().hex[:6]}"
    client_schema = f"itest_pdc_prune_{uuid.uuid4().hex[:6]}"
    settings = settings_class(db_schema=schema, pipedrive={"client_schema": client_schema})
    try:
        await bootstrap.install_tables(pg_pool, schema)
        await install_schema(pg_pool, client_schema)
        expiries = bootstrap.expiring_tables(settings)

        pruned = await Pruner(pg_pool, expiries).prune_once()

        assert set(pruned) == {e.table for e in expiries} and all(n == 0 for n in pruned.values())
        for expiry in expiries:
            indexed = await pg_pool.fetchval(
                "SELECT count(*) FROM pg_indexes WHERE schemaname || '.' || tablename = $1"
                " AND indexdef LIKE '%(' || $2 || ')%'",
                expiry.table,
                expiry.column,
            )
            assert indexed >= 1, f"{expiry.table}.{expiry.column} has no index"
    finally:
        await drop_schemas(pg_pool, schema, client_schema)
