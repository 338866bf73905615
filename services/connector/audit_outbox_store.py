"""The connector's audit outbox: entries recorded in the transaction of their change, then published to
`psync.audit.v1` (what they hold and say: `audit_trail`)."""

from __future__ import annotations

import asyncpg

from connector.audit_trail import audit_message
from postgres_store.pool import Connection
from schemas.events.audit import AuditRecorded
from stream_runner.producer import EventProducer


class AuditOutbox:
    """The `audit_outbox` table: entries recorded with their change, then published."""

    def __init__(self, pool: asyncpg.Pool, schema: str, producer: EventProducer) -> None:
        self._pool = pool
        self._table = f"{schema}.audit_outbox"
        self._producer = producer

    async def record(self, conn: Connection, tenant: str, entry: AuditRecorded) -> None:
        """Keep an entry, in the caller's transaction."""
        await conn.execute(
            f"INSERT INTO {self._table} (tenant_id, entry) VALUES ($1, $2)",
            tenant,
            entry.model_dump(mode="json"),
        )

    async def publish_pending(self) -> int:
        """Publish every entry not published yet, oldest first; returns how many."""
        rows = await self._pool.fetch(
            f"SELECT tenant_id, entry_id, entry FROM {self._table} WHERE NOT published ORDER BY entry_id"
            " LIMIT 1000"
        )
        if not rows:
            return 0
        messages = [
            audit_message(r["tenant_id"], r["entry_id"], AuditRecorded.model_validate(r["entry"]))
            for r in rows
        ]
        await self._producer.send_all(messages)
        await self._pool.execute(
            f"UPDATE {self._table} SET published = true"
            " FROM unnest($1::text[], $2::bigint[]) AS k(t, id) WHERE tenant_id = k.t AND entry_id = k.id",
            [r["tenant_id"] for r in rows],
            [r["entry_id"] for r in rows],
        )
        return len(rows)
