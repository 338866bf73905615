"""The pusher's store on PostgreSQL (`pusher.ports.PusherStore`): a unit of work is one transaction on one
pooled connection, with the inbox, the push ledger, the mirror and the push runs of the service's schema
bound to it; a view is the same on a connection outside any transaction. The record lock is a session
advisory lock, released with its connection on a crash too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from postgres_store.inbox import PostgresInbox
from postgres_store.pool import Connection, session_lock
from pusher.field_code_store import PostgresFieldCodes
from pusher.mirror_store import PostgresMirror
from pusher.parking_store import PostgresParked
from pusher.push_ledger_store import PostgresLedger
from pusher.push_run_store import PostgresPushRuns
from pusher.visit_activity_store import PostgresVisitLog
from schemas.events.common import SyncObject


@dataclass(frozen=True)
class PostgresUnit:
    """One connection's view of the pusher's tables."""

    inbox: PostgresInbox
    ledger: PostgresLedger
    mirror: PostgresMirror
    runs: PostgresPushRuns

    @classmethod
    def on(cls, conn: Connection, schema: str) -> PostgresUnit:
        """The tables of `schema` on `conn`."""
        return cls(
            PostgresInbox(conn, schema), PostgresLedger(conn, schema), PostgresMirror(conn, schema),
            PostgresPushRuns(conn, schema),
        )  # fmt: skip


class PostgresPusherStore:
    """The pusher's tables in one schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema
        self.parked = PostgresParked(pool, schema)
        self.field_codes = PostgresFieldCodes(pool, schema)
        self.visits = PostgresVisitLog(pool, schema)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[PostgresUnit]:
        """A transaction: committed when the block ends, rolled back when it raises."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield PostgresUnit.on(conn, self._schema)

    @asynccontextmanager
    async def view(self) -> AsyncIterator[PostgresUnit]:
        """The tables on a connection outside any transaction: each write commits by itself."""
        async with self._pool.acquire() as conn:
            yield PostgresUnit.on(conn, self._schema)

    @asynccontextmanager
    async def record_lock(self, tenant: str, obj: SyncObject, match_key: str) -> AsyncIterator[None]:
        """Serialize pushes of one record across replicas and the re-driver (released on a crash too)."""
        name = f"{self._schema}:push:{tenant}:{obj.value}:{match_key}"
        async with self._pool.acquire() as conn, session_lock(conn, "hashtextextended($1, 0)", name):
            yield
