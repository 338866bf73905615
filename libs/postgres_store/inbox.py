"""The inbox: which events a consumer already applied, recorded in the same transaction as the effect.

A consuming service installs its `inbox` table with `install_inbox` (the migrations of this package, kept
apart from the service's own):
`inbox (tenant_id, event_id, topic, applied_at, outputs, PRIMARY KEY (tenant_id, event_id))`, the outputs
as text (`saved_text`: each message's topic, key and length as a JSON line, then the values as they are).
A handler calls `claim_event` inside its transaction before applying the effect: when it returns False
the event was applied before (a redelivery or a replay) and the handler does nothing but re-send the
outputs the first application saved (`save_outputs` / `saved_outputs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from postgres_store.json_rows import TEXT_SEPARATOR, joined_texts, json_rows, texts_table
from postgres_store.migrations import apply_migrations
from postgres_store.pool import Connection
from stream_runner.messages import EventRef, OutgoingMessage

MIGRATIONS = Path(__file__).with_name("inbox_migrations")
LEDGER = "inbox_migrations"


async def install_inbox(pool: asyncpg.Pool, schema: str) -> list[int]:
    """Create or bring up to date the inbox table of a service schema; returns the versions applied now."""
    return await apply_migrations(pool, schema, MIGRATIONS, ledger=LEDGER)


def _require_transaction(conn: Connection, what: str) -> None:
    """A claim is only safe inside the transaction of the effect it records."""
    if not conn.is_in_transaction():
        raise RuntimeError(f"{what} must run inside the transaction of the effect")


def saved_text(outputs: Sequence[OutgoingMessage]) -> str:
    """An event's outputs as the inbox's text column keeps them: a JSON line of each message's topic, key
    and value length, then the values one after the other as they are (`messages_of_text` reads it).

    The values are JSON events already: inside a JSON text (`saved_json_text`, the form of the rows
    written before this one) every quote of a value was escaped and the names repeated; this form is
    about 140 bytes a result shorter (of about 620), in the table and in its WAL, and costs less to write
    and read. The line never holds a raw newline (orjson escapes control characters), so the first one ends
    it, and the JSON form holds none at all. A value PostgreSQL's text cannot hold (a NUL) keeps the
    JSON form, which escapes it, and so does one holding a record separator (a batch joins its rows'
    texts with it, `joined_texts`): JSON events hold neither raw."""
    values = [m.value.decode() for m in outputs]
    text = "".join(values)
    if "\x00" in text or TEXT_SEPARATOR in text:
        return saved_json_text(outputs)
    head = orjson.dumps([(m.topic, m.key, len(v)) for m, v in zip(outputs, values, strict=True)])
    return f"{head.decode()}\n{text}"


def saved_json_text(outputs: Sequence[OutgoingMessage]) -> str:
    """An event's outputs as one JSON text (`saved_form` of each message): the form of rows written before
    `saved_text`'s, still read back as it was."""
    return orjson.dumps([saved_form(m) for m in outputs]).decode()


async def claim_event(conn: Connection, schema: str, tenant: str, event_id: str, topic: str) -> bool:
    """Record the event as applied; False when it already was. Call inside the effect's transaction."""
    _require_transaction(conn, "claim_event")
    inserted = await conn.fetchval(
        f"INSERT INTO {schema}.inbox (tenant_id, event_id, topic) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        tenant,
        event_id,
        topic,
    )
    return bool(inserted)


async def claim_events(conn: Connection, schema: str, events: Sequence[tuple[str, str, str]]) -> list[bool]:
    """Record many (tenant, event id, topic) as applied at once; one flag per event, True for those
    applied now: the first of each event this call claimed (a later repeat in the same batch, or an event
    applied before, is a duplicate, as it would be one event at a time)."""
    _require_transaction(conn, "claim_events")
    rows = await conn.fetch(
        f"INSERT INTO {schema}.inbox (tenant_id, event_id, topic)"
        " SELECT r->>0, r->>1, r->>2 FROM jsonb_array_elements($1::text::jsonb) AS r ON CONFLICT DO NOTHING"
        " RETURNING tenant_id, event_id",
        json_rows(events),
    )
    return first_claims([(e[0], e[1]) for e in events], {(r["tenant_id"], r["event_id"]) for r in rows})


async def claim_events_with_outputs(
    conn: Connection, schema: str, events: Sequence[tuple[str, str, str, Sequence[OutgoingMessage]]]
) -> int:
    """Record many (tenant, event id, topic) as applied together with the messages each produced, in one
    statement (one row written per event, where `claim_events` then `save_outputs_many` write it twice);
    returns how many were not applied before. For a handler that applies a batch first and claims it
    last: fewer than `len(events)` means some event was applied before (a redelivery), and the
    transaction must be rolled back, its effects having been planned as if none was. An event whose row
    another transaction holds uncommitted waits for that transaction, as `claim_events` does."""
    _require_transaction(conn, "claim_events_with_outputs")
    if not events:
        return 0
    inserted = await conn.fetchval(
        f"WITH claimed AS (INSERT INTO {schema}.inbox ({', '.join(_CLAIM_COLUMNS)})"
        f" {_CLAIMED_ROWS} ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM claimed",
        *_claimed_rows(events),
    )
    return int(inserted)


async def claim_all_with_outputs(
    conn: Connection, schema: str, events: Sequence[tuple[str, str, str, Sequence[OutgoingMessage]]]
) -> bool:
    """`claim_events_with_outputs` for a batch that must be new as a whole: True when every event was
    claimed; False when one was applied before, and the transaction is then aborted (the COPY failed on
    the inbox's key), so the caller must roll it back, as it does when the count falls short. The rows go
    in with a binary COPY (`copy_records_to_table`), which fails on a key that exists (or that another
    transaction holds uncommitted, once that one commits) exactly as a plain INSERT does, and on nothing
    else the INSERT would not; it costs PostgreSQL less than the INSERT of the rows' JSON (no JSON to
    parse, no function scans, the heap written several rows at a time), and an INSERT .. ON CONFLICT DO
    NOTHING a fifth more again (a speculative insertion into the key's index): the usual batch holds no
    repeat."""
    _require_transaction(conn, "claim_all_with_outputs")
    if not events:
        return True
    try:
        await conn.copy_records_to_table(
            "inbox",
            records=[(*e[:3], saved_text(e[3])) for e in events],
            columns=_CLAIM_COLUMNS,
            schema_name=schema,
        )
    except asyncpg.UniqueViolationError:
        return False
    return True


_CLAIM_COLUMNS = ("tenant_id", "event_id", "topic", "outputs")
"""The inbox columns a claim with outputs writes (`applied_at` takes its default), in the order of its
rows (`claim_events_with_outputs`' INSERT, `claim_all_with_outputs`' COPY)."""


_CLAIMED_ROWS = (
    "SELECT r->>0, r->>1, r->>2, o"
    f" FROM ROWS FROM (jsonb_array_elements($1::text::jsonb), {texts_table('$2')}) AS x(r, o)"
)
"""The inbox rows of `_claimed_rows`' two parameters: (tenant, event id, topic) as one JSON parameter
(`json_rows`), the events' outputs texts joined by a record separator beside it (`joined_texts`),
zipped in order by `ROWS FROM`. The outputs stay out of the JSON: their text inside a JSON parameter
costs PostgreSQL a second parse of every result (about 7 µs a row more, for 2.5 µs less of client CPU);
the three short texts bound as arrays cost this process about 2.5 µs a row more (asyncpg's per-element
checks) than as JSON, and so did the outputs as a text array (about 1 µs a row against one joined text)."""


def _claimed_rows(events: Sequence[tuple[str, str, str, Sequence[OutgoingMessage]]]) -> tuple[str, str]:
    return json_rows([e[:3] for e in events]), joined_texts([saved_text(e[3]) for e in events])


def first_claims(events: Sequence[EventRef], claimed: set[EventRef]) -> list[bool]:
    """Which events of a batch are applied now: the first of each (tenant, event id) claimed."""
    seen: set[EventRef] = set()
    fresh = []
    for event in events:
        fresh.append(event in claimed and event not in seen)
        seen.add(event)
    return fresh


async def was_applied(conn: Connection, schema: str, tenant: str, event_id: str) -> bool:
    """Whether the event was applied already (a look without claiming it)."""
    found = await conn.fetchval(
        f"SELECT true FROM {schema}.inbox WHERE tenant_id = $1 AND event_id = $2", tenant, event_id
    )
    return bool(found)


async def applied_outputs(
    conn: Connection, schema: str, tenant: str, event_id: str
) -> list[OutgoingMessage] | None:
    """The messages an applied event produced, or None when it was not applied (one look for both)."""
    row = await conn.fetchrow(
        f"SELECT outputs FROM {schema}.inbox WHERE tenant_id = $1 AND event_id = $2", tenant, event_id
    )
    return None if row is None else messages_of_text(row["outputs"])


async def save_outputs(
    conn: Connection, schema: str, tenant: str, event_id: str, outputs: Sequence[OutgoingMessage]
) -> None:
    """Keep the messages an applied event produced, with its inbox row, so a redelivery can re-send them.

    Without them, a crash between the commit and the produce would lose the results: the redelivery is a
    duplicate.
    """
    await conn.execute(
        f"UPDATE {schema}.inbox SET outputs = $3 WHERE tenant_id = $1 AND event_id = $2",
        tenant,
        event_id,
        saved_text(outputs),
    )


async def saved_outputs(conn: Connection, schema: str, tenant: str, event_id: str) -> list[OutgoingMessage]:
    """The messages an already-applied event produced (empty when it produced none)."""
    outputs = await conn.fetchval(
        f"SELECT outputs FROM {schema}.inbox WHERE tenant_id = $1 AND event_id = $2", tenant, event_id
    )
    return messages_of_text(outputs)


async def save_outputs_many(
    conn: Connection, schema: str, outputs: Sequence[tuple[str, str, Sequence[OutgoingMessage]]]
) -> None:
    """`save_outputs` for many (tenant, event id, outputs) at once, in one statement."""
    if not outputs:
        return
    await conn.execute(
        f"UPDATE {schema}.inbox AS i SET outputs = u.o"
        f" FROM ROWS FROM (jsonb_array_elements($1::text::jsonb), {texts_table('$2')}) AS u(r, o)"
        " WHERE i.tenant_id = u.r->>0 AND i.event_id = u.r->>1",
        json_rows([o[:2] for o in outputs]),
        joined_texts([saved_text(o[2]) for o in outputs]),
    )


async def saved_outputs_many(
    conn: Connection, schema: str, events: Sequence[EventRef]
) -> dict[EventRef, list[OutgoingMessage]]:
    """`saved_outputs` for many (tenant, event id) at once: one list per event (empty when none)."""
    found = await applied_outputs_many(conn, schema, events)
    return {event: found.get(event, []) for event in events}


async def applied_outputs_many(
    conn: Connection, schema: str, events: Sequence[EventRef]
) -> dict[EventRef, list[OutgoingMessage]]:
    """What each of these events that was applied already produced, in one read (those not applied are
    absent). Needs no transaction: a row is committed with the outputs of its event (parsed with
    orjson)."""
    if not events:
        return {}
    rows = await conn.fetch(
        f"SELECT i.tenant_id, i.event_id, i.outputs FROM jsonb_array_elements($1::text::jsonb) AS k"
        f" CROSS JOIN LATERAL (SELECT * FROM {schema}.inbox"
        " WHERE tenant_id = k->>0 AND event_id = k->>1) AS i",
        json_rows(events),
    )
    return {(r["tenant_id"], r["event_id"]): messages_of_text(r["outputs"]) for r in rows}


def saved_form(message: OutgoingMessage) -> dict[str, Any]:
    """A message as an inbox (or a table like it) keeps it: the value as text, since jsonb would reorder
    its keys and a re-sent message must be byte-equal to the first."""
    return {"topic": message.topic, "key": message.key, "value": message.value.decode()}


def messages_of(saved: Sequence[Mapping[str, Any]] | None) -> list[OutgoingMessage]:
    """The messages kept in their saved form (none for None)."""
    return [OutgoingMessage(topic=s["topic"], key=s["key"], value=s["value"].encode()) for s in saved or ()]


def messages_of_text(saved: str | None) -> list[OutgoingMessage]:
    """The messages kept in the column's text, in either form (`saved_text`, `saved_json_text`; none for
    NULL)."""
    if saved is None:
        return []
    head, newline, values = saved.partition("\n")
    if not newline:
        return messages_of(orjson.loads(saved))
    messages, at = [], 0
    for topic, key, length in orjson.loads(head):
        messages.append(OutgoingMessage(topic=topic, key=key, value=values[at : at + length].encode()))
        at += length
    return messages


class PostgresInbox:
    """The inbox of one schema, on the connection of a unit of work (its transaction)."""

    def __init__(self, conn: Connection, schema: str) -> None:
        self._conn = conn
        self._schema = schema

    async def claim(self, tenant: str, event_id: str, topic: str) -> bool:
        """`claim_event` in this unit of work."""
        return await claim_event(self._conn, self._schema, tenant, event_id, topic)

    async def claim_batch(self, events: Sequence[tuple[str, str, str]]) -> list[bool]:
        """`claim_events` in this unit of work."""
        return await claim_events(self._conn, self._schema, events)

    async def claim_with_outputs(
        self, events: Sequence[tuple[str, str, str, Sequence[OutgoingMessage]]]
    ) -> int:
        """`claim_events_with_outputs` in this unit of work."""
        return await claim_events_with_outputs(self._conn, self._schema, events)

    async def claim_all_with_outputs(
        self, events: Sequence[tuple[str, str, str, Sequence[OutgoingMessage]]]
    ) -> bool:
        """`claim_all_with_outputs` in this unit of work."""
        return await claim_all_with_outputs(self._conn, self._schema, events)

    async def was_applied(self, tenant: str, event_id: str) -> bool:
        """`was_applied` in this unit of work."""
        return await was_applied(self._conn, self._schema, tenant, event_id)

    async def applied_outputs(self, tenant: str, event_id: str) -> list[OutgoingMessage] | None:
        """`applied_outputs` in this unit of work."""
        return await applied_outputs(self._conn, self._schema, tenant, event_id)

    async def saved_outputs(self, tenant: str, event_id: str) -> list[OutgoingMessage]:
        """`saved_outputs` in this unit of work."""
        return await saved_outputs(self._conn, self._schema, tenant, event_id)

    async def saved_outputs_of(self, events: Sequence[EventRef]) -> dict[EventRef, list[OutgoingMessage]]:
        """`saved_outputs_many` in this unit of work."""
        return await saved_outputs_many(self._conn, self._schema, events)

    async def save_outputs(self, tenant: str, event_id: str, outputs: Sequence[OutgoingMessage]) -> None:
        """`save_outputs` in this unit of work."""
        await save_outputs(self._conn, self._schema, tenant, event_id, outputs)

    async def save_outputs_of(self, outputs: Sequence[tuple[str, str, Sequence[OutgoingMessage]]]) -> None:
        """`save_outputs_many` in this unit of work."""
        await save_outputs_many(self._conn, self._schema, outputs)
