"""Pruning of the tables that only remember things for a while (inboxes, webhook delivery ids, reveal
activities, dead-letter tallies): rows older than their window are deleted in small batches by a worker
every service runs, so the tables stay bounded and no statement holds many locks.

A window must outlast every way the remembered thing can come back: an inbox row must outlive the
retention of the topics its consumer reads (a replay from the oldest offset still finds every event it
applied), a webhook delivery id the few minutes Pipedrive retries a delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import structlog

_log = structlog.get_logger(__name__)
_QUALIFIED = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Expiry:
    """Rows of `table` (schema-qualified) whose `column` (a timestamptz, indexed) is older than
    `keep_s` seconds are deleted."""

    table: str
    column: str
    keep_s: float

    def __post_init__(self) -> None:
        if not _QUALIFIED.match(self.table) or not _COLUMN.match(self.column):
            raise ValueError(f"not a plain schema.table and column: {self.table} {self.column}")
        if self.keep_s <= 0:
            raise ValueError("a window must be positive")


class Pruner:
    """Deletes expired rows of the given tables, `batch` rows per statement."""

    def __init__(
        self, pool: asyncpg.Pool, expiries: Sequence[Expiry], every_s: float = 600, batch: int = 5000
    ) -> None:
        self._pool = pool
        self._expiries = tuple(expiries)
        self._every_s = every_s
        self._batch = batch

    async def prune_once(self) -> dict[str, int]:
        """Delete every expired row now; how many per table."""
        return {expiry.table: await self._prune(expiry) for expiry in self._expiries}

    async def _prune(self, expiry: Expiry) -> int:
        # ctid lookups keep each statement to one batch; SKIP LOCKED lets replicas prune side by side.
        statement = (
            f"DELETE FROM {expiry.table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {expiry.table} WHERE {expiry.column} < now() - make_interval(secs => $1)"
            " LIMIT $2 FOR UPDATE SKIP LOCKED))"
        )
        total = 0
        while True:
            status = await self._pool.execute(statement, expiry.keep_s, self._batch)
            deleted = int(status.split()[-1])
            total += deleted
            if deleted < self._batch:
                break
        if total:
            _log.info("rows_pruned", table=expiry.table, rows=total, older_than_s=expiry.keep_s)
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Worker: prune now and every `every_s` until `stop`; a database outage is waited out."""
        while not stop.is_set():
            try:
                await self.prune_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as failure:
                _log.warning("pruning_postponed", error_class=type(failure).__name__, error=str(failure))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._every_s)
