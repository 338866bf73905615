"""The inbox: which events a consumer already applied, recorded in the same transaction as the effect.

Every consuming service's first migration creates its `inbox` table:
`inbox (tenant_id, event_id, topic, applied_at, PRIMARY KEY (tenant_id, event_id))`.
A handler calls `claim_event` inside its transaction before applying the effect: when it returns False
the event was applied before (a redelivery or a replay) and the handler does nothing.
"""

from __future__ import annotations

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy
"""A plain connection or one borrowed from a pool."""


async def claim_event(conn: Connection, schema: str, tenant: str, event_id: str, topic: str) -> bool:
    """Record the event as applied; False when it already was. Call inside the effect's transaction."""
    if not conn.is_in_transaction():
        raise RuntimeError("claim_event must run inside the transaction of the effect")
    inserted = await conn.fetchval(
        f"INSERT INTO {schema}.inbox (tenant_id, event_id, topic) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        tenant,
        event_id,
        topic,
    )
    return bool(inserted)
