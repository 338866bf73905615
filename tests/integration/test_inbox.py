"""The inbox against PostgreSQL: its table installed apart from a service's own, claims and saved outputs."""

from __future__ import annotations

import asyncpg
import pytest

from postgres_store.inbox import (
    claim_event,
    claim_events,
    install_inbox,
    save_outputs,
    save_outputs_many,
    saved_outputs,
    saved_outputs_many,
    saved_text,
    was_applied,
)
from stream_runner.messages import OutgoingMessage
from tests.support.schemas import schema_fixture

pytestmark = pytest.mark.integration

RESULT = OutgoingMessage(
    topic="psync.record-results.v1", key="t:organization:acme.io", value=b'{"b":1,"a":2}'
)


schema = schema_fixture("inbox")
"""A schema name of the test's own (the test installs the inbox in it)."""


async def test_the_inbox_installs_on_a_fresh_schema_once(pg_pool: asyncpg.Pool, schema: str) -> None:
    assert await install_inbox(pg_pool, schema) == [1, 2]
    assert await install_inbox(pg_pool, schema) == []
    columns = await pg_pool.fetch(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1"
        " AND table_name = 'inbox'",
        schema,
    )
    assert {c["column_name"]: c["data_type"] for c in columns} == {
        "tenant_id": "text",
        "event_id": "text",
        "topic": "text",
        "applied_at": "timestamp with time zone",
        "outputs": "text",
    }


async def test_outputs_saved_as_jsonb_before_the_text_column_are_read_back_byte_for_byte(
    pg_pool: asyncpg.Pool, schema: str
) -> None:
    odd = OutgoingMessage(
        "psync.record-results.v1", "t:organization:é.io", '{"b":1, "a":"é\\u00e9"}'.encode()
    )
    await pg_pool.execute(
        f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.inbox (tenant_id text NOT NULL,"
        " event_id text NOT NULL, topic text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
        " outputs jsonb, PRIMARY KEY (tenant_id, event_id))"
    )
    await pg_pool.execute(
        f"INSERT INTO {schema}.inbox (tenant_id, event_id, topic, outputs)"
        " VALUES ('t', 'e1', 'x', $1::text::jsonb)",
        saved_text([RESULT, odd]),
    )

    await install_inbox(pg_pool, schema)

    async with pg_pool.acquire() as conn:
        assert await saved_outputs(conn, schema, "t", "e1") == [RESULT, odd]
        assert await saved_outputs_many(conn, schema, [("t", "e1")]) == {("t", "e1"): [RESULT, odd]}


async def test_an_inbox_a_service_created_itself_is_brought_up_to_date(
    pg_pool: asyncpg.Pool, schema: str
) -> None:
    await pg_pool.execute(
        f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.inbox (tenant_id text NOT NULL,"
        " event_id text NOT NULL, topic text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
        " PRIMARY KEY (tenant_id, event_id))"
    )
    await pg_pool.execute(f"INSERT INTO {schema}.inbox (tenant_id, event_id, topic) VALUES ('t', 'e1', 'x')")

    await install_inbox(pg_pool, schema)

    indexes = await pg_pool.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = $1", schema)
    assert "inbox_by_applied_at" in {i["indexname"] for i in indexes}
    async with pg_pool.acquire() as conn:
        assert await was_applied(conn, schema, "t", "e1")
        assert await saved_outputs(conn, schema, "t", "e1") == []


async def test_a_claimed_event_keeps_its_outputs_byte_for_byte(pg_pool: asyncpg.Pool, schema: str) -> None:
    await install_inbox(pg_pool, schema)
    async with pg_pool.acquire() as conn, conn.transaction():
        assert await claim_event(conn, schema, "t", "e1", "topic")
        await save_outputs(conn, schema, "t", "e1", [RESULT])

    async with pg_pool.acquire() as conn, conn.transaction():
        assert not await claim_event(conn, schema, "t", "e1", "topic")
        assert await saved_outputs(conn, schema, "t", "e1") == [RESULT]


async def test_a_batch_claims_the_first_of_each_new_event_and_keeps_outputs_per_event(
    pg_pool: asyncpg.Pool, schema: str
) -> None:
    await install_inbox(pg_pool, schema)
    async with pg_pool.acquire() as conn, conn.transaction():
        await claim_event(conn, schema, "t", "old", "topic")

    async with pg_pool.acquire() as conn, conn.transaction():
        events = [("t", "new", "topic"), ("t", "old", "topic"), ("t", "new", "topic"), ("u", "new", "topic")]
        fresh = await claim_events(conn, schema, events)
        await save_outputs_many(conn, schema, [("t", "new", [RESULT]), ("u", "new", [])])

    assert fresh == [True, False, False, True]
    async with pg_pool.acquire() as conn:
        saved = await saved_outputs_many(conn, schema, [("t", "new"), ("u", "new"), ("t", "never")])
    assert saved == {("t", "new"): [RESULT], ("u", "new"): [], ("t", "never"): []}


async def test_a_claim_outside_a_transaction_is_refused(pg_pool: asyncpg.Pool, schema: str) -> None:
    await install_inbox(pg_pool, schema)
    async with pg_pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="transaction"):
            await claim_event(conn, schema, "t", "e1", "topic")
        with pytest.raises(RuntimeError, match="transaction"):
            await claim_events(conn, schema, [("t", "e1", "topic")])
