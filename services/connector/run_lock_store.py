"""Which replica works a tenant's runs: a PostgreSQL session advisory lock per tenant.

Every lock this replica holds lives on one connection taken from the pool while any is held (a session
lock belongs to the connection that took it). One connection per tenant would hold the whole pool once
as many tenants as it has connections have work, and their runs could then get no connection at all:
every tenant would stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

_log = structlog.get_logger(__name__)
_LOCK_SPACE = zlib.crc32(b"connector-runs") - 2**31


def tenant_lock_key(tenant: str) -> int:
    """The advisory lock (second half of a two-int key) that serializes a tenant's runs."""
    return zlib.crc32(tenant.encode()) - 2**31


class TenantRunLocks:
    """Try, hold and release the per-tenant run locks of this replica on one shared connection."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy | None = None
        self._held: set[str] = set()
        self._guard = asyncio.Lock()  # one statement at a time on the shared connection

    async def try_lock(self, tenant: str) -> bool:
        """Take the tenant's lock unless another replica (or this one) holds it."""
        async with self._guard:
            if tenant in self._held:
                return False
            if self._conn is None:
                self._conn = await self._pool.acquire()
            try:
                taken = bool(
                    await self._conn.fetchval(
                        "SELECT pg_try_advisory_lock($1, $2)", _LOCK_SPACE, tenant_lock_key(tenant)
                    )
                )
            except Exception:
                await self._drop_connection()
                raise
            if taken:
                self._held.add(tenant)
            else:
                await self._release_if_idle()
            return taken

    async def unlock(self, tenant: str) -> None:
        """Release the tenant's lock (nothing to do when the connection that held it is gone)."""
        async with self._guard:
            if tenant not in self._held or self._conn is None:
                return
            self._held.discard(tenant)
            try:
                await self._conn.execute(
                    "SELECT pg_advisory_unlock($1, $2)", _LOCK_SPACE, tenant_lock_key(tenant)
                )
            except Exception as failure:  # the session is gone, and its locks with it
                _log.warning("run_lock_connection_lost", error=f"{type(failure).__name__}: {failure}")
                await self._drop_connection()
                return
            await self._release_if_idle()

    async def _release_if_idle(self) -> None:
        if not self._held and self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await self._pool.release(conn)

    async def _drop_connection(self) -> None:
        """Forget a broken connection: the server released its locks when its session ended."""
        conn, self._conn = self._conn, None
        self._held.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                await self._pool.release(conn)
