"""The services' pool against PostgreSQL: a released connection goes back without a reset round trip, and
a session advisory lock never outlives its holder on a pooled connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from postgres_store.pool import create_pool, session_lock

pytestmark = pytest.mark.integration

LOCK_KEY = 0x5E55_10C4


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool of one connection, configured as the services' (every acquire gets the same one)."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    yield pool
    await pool.close()


async def _lock_holders(pool: asyncpg.Pool) -> list[int]:
    rows = await pool.fetch(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted", LOCK_KEY
    )
    return [r["pid"] for r in rows]


async def test_a_released_connection_is_not_reset_with_a_query(one_connection: asyncpg.Pool) -> None:
    """asyncpg's default reset (pg_advisory_unlock_all, CLOSE ALL, UNLISTEN *, RESET ALL) was a round trip
    on every release."""
    sent: list[str] = []
    async with one_connection.acquire() as conn:
        conn.add_query_logger(lambda record: sent.append(record.query))
        await conn.fetchval("SELECT 1")
    async with one_connection.acquire() as conn:
        await conn.fetchval("SELECT 2")
    assert sent == ["SELECT 1", "SELECT 2"]


async def test_a_transaction_left_open_is_still_rolled_back_on_release(one_connection: asyncpg.Pool) -> None:
    async with one_connection.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("CREATE TEMPORARY TABLE left_open (x int)")
    async with one_connection.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None


async def test_a_session_lock_is_released_after_its_block(
    one_connection: asyncpg.Pool, pg_pool: asyncpg.Pool
) -> None:
    async with one_connection.acquire() as conn, session_lock(conn, "$1::bigint", LOCK_KEY):
        assert len(await _lock_holders(pg_pool)) == 1
    assert await _lock_holders(pg_pool) == []


async def test_a_holder_cancelled_while_waiting_for_the_lock_leaves_no_lock_behind(
    one_connection: asyncpg.Pool, pg_pool: asyncpg.Pool, database_url: str
) -> None:
    """Cancelled while the server takes the lock (it may grant it after the client gave up): the
    connection is closed, so the pool's next user cannot inherit the lock."""
    other = await asyncpg.connect(database_url)
    try:
        await other.execute("SELECT pg_advisory_lock($1::bigint)", LOCK_KEY)

        async def wait_for_the_lock() -> None:
            async with one_connection.acquire() as conn, session_lock(conn, "$1::bigint", LOCK_KEY):
                pass

        waiter = asyncio.create_task(wait_for_the_lock())
        await asyncio.sleep(0.3)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await other.execute("SELECT pg_advisory_unlock($1::bigint)", LOCK_KEY)
        async with one_connection.acquire() as conn:
            await conn.fetchval("SELECT 1")
        assert await _lock_holders(pg_pool) == []
    finally:
        await other.close()
