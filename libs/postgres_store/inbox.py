"""The inbox: which events a consumer already applied, recorded in the same transaction as the effect.

Every consuming service's first migration creates its `inbox` table:
`inbox (tenant_id, event_id, topic, applied_at, PRIMARY KEY (tenant_id, event_id))`.
A handler calls `claim_event` inside its transaction before applying the effect: when it returns False
the event was applied before (a redelivery or a replay) and the handler does nothing.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
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


async def save_outputs(
    conn: Connection, schema: str, tenant: str, event_id: str, outputs: list[dict[str, Any]]
) -> None:
    """Keep the messages an applied event produced, with its inbox row, so a redelivery can re-send them.

    Needs the `outputs jsonb` column on the inbox (a consumer that emits results adds it). Without it, a
    crash between the commit and the produce would lose the results: the redelivery is a duplicate.
    """
    await conn.execute(
        f"UPDATE {schema}.inbox SET outputs = $3 WHERE tenant_id = $1 AND event_id = $2",
        tenant,
        event_id,
        outputs,
    )


async def saved_outputs(conn: Connection, schema: str, tenant: str, event_id: str) -> list[dict[str, Any]]:
    """The messages an already-applied event produced (empty when it produced none)."""
    outputs = await conn.fetchval(
        f"SELECT outputs FROM {schema}.inbox WHERE tenant_id = $1 AND event_id = $2", tenant, event_id
    )
    return list(outputs or [])


async def claim_events(
    conn: Connection, schema: str, events: list[tuple[str, str, str]]
) -> set[tuple[str, str]]:
    """Record many (tenant, event id, topic) as applied at once; returns those not applied before."""
    if not conn.is_in_transaction():
        raise RuntimeError("claim_events must run inside the transaction of the effect")
    rows = await conn.fetch(
        f"INSERT INTO {schema}.inbox (tenant_id, event_id, topic)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING"
        " RETURNING tenant_id, event_id",
        [e[0] for e in events],
        [e[1] for e in events],
        [e[2] for e in events],
    )
    return {(r["tenant_id"], r["event_id"]) for r in rows}


async def save_outputs_many(
    conn: Connection, schema: str, outputs: list[tuple[str, str, list[dict[str, Any]]]]
) -> None:
    """`save_outputs` for many (tenant, event id, outputs) at once, in one statement."""
    if not outputs:
        return
    await conn.execute(
        f"UPDATE {schema}.inbox AS i SET outputs = u.o::jsonb"
        " FROM unnest($1::text[], $2::text[], $3::text[]) AS u(t, e, o)"
        " WHERE i.tenant_id = u.t AND i.event_id = u.e",
        [o[0] for o in outputs],
        [o[1] for o in outputs],
        [orjson.dumps(o[2]).decode() for o in outputs],
    )


async def saved_outputs_many(
    conn: Connection, schema: str, events: list[tuple[str, str]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """`saved_outputs` for many (tenant, event id) at once: one list per event (empty when none)."""
    if not events:
        return {}
    rows = await conn.fetch(
        f"SELECT i.tenant_id, i.event_id, i.outputs FROM {schema}.inbox AS i"
        " JOIN unnest($1::text[], $2::text[]) AS k(t, e) ON i.tenant_id = k.t AND i.event_id = k.e",
        [e[0] for e in events],
        [e[1] for e in events],
    )
    found = {(r["tenant_id"], r["event_id"]): list(r["outputs"] or []) for r in rows}
    return {event: found.get(event, []) for event in events}
