"""The mapper's store on PostgreSQL (`mapper.ports.MapperStore`): a unit of work is one transaction on one
pooled connection, with the inbox, the ABM store and the apply runs of the service's schema bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from mapper.abm_store import AbmStore
from mapper.apply_run_store import ApplyRunStore
from postgres_store.inbox import PostgresInbox, applied_outputs_many
from stream_runner.messages import EventRef, OutgoingMessage


@dataclass(frozen=True)
class PostgresUnit:
    """One transaction's view of the mapper's tables."""

    inbox: PostgresInbox
    records: AbmStore
    runs: ApplyRunStore


class PostgresMapperStore:
    """The mapper's tables in one schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[PostgresUnit]:
        """A transaction: committed when the block ends, rolled back when it raises."""
        async with self._pool.acquire() as conn, conn.transaction():
            schema = self._schema
            yield PostgresUnit(
                PostgresInbox(conn, schema), AbmStore(conn, schema), ApplyRunStore(conn, schema)
            )

    @asynccontextmanager
    async def dry_run(self) -> AsyncIterator[AbmStore]:
        """The ABM store on a connection outside any transaction: read without locks, write nothing."""
        async with self._pool.acquire() as conn:
            yield AbmStore(conn, self._schema)

    async def applied_outputs_of(self, events: Sequence[EventRef]) -> dict[EventRef, list[OutgoingMessage]]:
        """What each of these events that was applied already produced (one read, no transaction)."""
        async with self._pool.acquire() as conn:
            return await applied_outputs_many(conn, self._schema, events)
