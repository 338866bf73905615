"""The asyncpg pool: one per process, created by the service's bootstrap."""

from __future__ import annotations

import asyncio
import json
import random
import time

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

_log = structlog.get_logger(__name__)

Connection = asyncpg.Connection | PoolConnectionProxy
"""A plain connection or one borrowed from a pool: what store methods take, to work in the caller's
transaction."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb columns come back as Python values, not strings.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, connect_deadline_s: float = 60.0
) -> asyncpg.Pool:
    """Open a pool to `dsn` with jsonb decoding, waiting up to `connect_deadline_s` for the server.

    A service that starts while PostgreSQL is still starting (or restarting) waits rather than exits.
    """
    deadline = time.monotonic() + connect_deadline_s
    attempt = 0
    while True:
        attempt += 1
        try:
            pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError) as exc:
            if time.monotonic() >= deadline:
                raise
            _log.warning("postgres_not_reachable_yet", attempt=attempt, error=str(exc))
            await asyncio.sleep(random.uniform(0.2, min(5.0, 0.5 * 2**attempt)))
            continue
        assert pool is not None  # asyncpg types the result as optional
        return pool


async def check_database(pool: asyncpg.Pool) -> None:
    """Readiness check: raises when PostgreSQL does not answer."""
    async with pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
