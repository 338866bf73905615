"""The asyncpg pool: one per process, created by the service's bootstrap."""

from __future__ import annotations

import json

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb columns come back as Python values, not strings.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool to `dsn` with jsonb decoding; the caller closes it."""
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
    assert pool is not None  # asyncpg types the result as optional
    return pool


async def check_database(pool: asyncpg.Pool) -> None:
    """Readiness check: raises when PostgreSQL does not answer."""
    async with pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
