"""The asyncpg pool: one per process, created by the service's bootstrap."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from stream_runner.reachability import wait_until_reachable

Connection = asyncpg.Connection | PoolConnectionProxy
"""A plain connection or one borrowed from a pool: what store methods take, to work in the caller's
transaction."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb columns come back as Python values, not strings.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A released connection goes back to the pool as it is: no reset query.

    asyncpg's default reset sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on
    every release, one round trip each time (about 4,000 in a 100,000-record import, the services
    together). Our connections keep no session state to undo: settings only with SET LOCAL, no LISTEN, no
    cursors outside a transaction, and a session advisory lock is released by its holder
    (`session_lock`). asyncpg still rolls back a transaction left open and drops listeners on
    release, without a query when there is none."""


@asynccontextmanager
async def session_lock(conn: Connection, key: str, *args: object) -> AsyncIterator[None]:
    """Hold the session advisory lock `pg_advisory_lock(<key>)` (`key` an SQL expression of `args`) while
    the block runs. When taking or releasing it fails (or is cancelled), the connection is closed: the
    server drops a closed session's locks and the pool replaces a closed connection, so no later user of
    it inherits the lock (released connections are not reset, `_keep_session`)."""
    try:
        await conn.execute(f"SELECT pg_advisory_lock({key})", *args)
    except BaseException:
        conn.terminate()
        raise
    try:
        yield
    finally:
        try:
            await conn.execute(f"SELECT pg_advisory_unlock({key})", *args)
        except BaseException:
            conn.terminate()
            raise


def where_is(database_url: str) -> str:
    """Host, port and database of a PostgreSQL URL, never its user or password."""
    url = urlsplit(database_url)
    return f"{url.hostname or 'localhost'}:{url.port or 5432}{url.path or ''}"


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, connect_deadline_s: float = 60.0
) -> asyncpg.Pool:
    """Open a pool to `dsn` with jsonb decoding, waiting up to `connect_deadline_s` for the server.

    A service that starts while PostgreSQL is still starting (or restarting) waits rather than exits
    (`stream_runner.reachability`); raises Unreachable when it is still away at the deadline.
    """

    async def connect() -> asyncpg.Pool:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
        )
        assert pool is not None  # asyncpg types the result as optional
        return pool

    return await wait_until_reachable(
        connect,
        dependency="postgres",
        unreachable=(OSError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError),
        deadline_s=connect_deadline_s,
    )


async def check_database(pool: asyncpg.Pool) -> None:
    """Readiness check: raises when PostgreSQL does not answer."""
    async with pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
