"""The inbox against PostgreSQL: its table installed apart from a service's own, claims and saved outputs."""

from __future__ import annotations

import asyncpg
import pytest

from postgres_store.inbox import (
    applied_outputs_many,
    claim_all_with_outputs,
    claim_event,
    claim_events,
    claim_events_with_outputs,
    install_inbox,
    save_outputs,
    save_outputs_many,
    saved_json_text,
    saved_outputs,
    saved_outputs_many,
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
        saved_json_text([RESULT, odd]),
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


ODD = [
    OutgoingMessage("psync.record-results.v1", "t:organization:é.io", '{"b":1, "a":"é\\u00e9"}'.encode()),
    OutgoingMessage("a\nb", 'k\n\x1e"', b'two\nlines and a quote " and \\'),
    OutgoingMessage("x", "", b""),
    OutgoingMessage("x", "nul", b"a\x00b"),
    OutgoingMessage("x", "separator", b"a\x1eb"),
]


async def test_outputs_come_back_byte_for_byte_whatever_they_hold(pg_pool: asyncpg.Pool, schema: str) -> None:
    """Newlines, quotes, record separators, NULs and empty values, saved by each way of saving them."""
    await install_inbox(pg_pool, schema)
    async with pg_pool.acquire() as conn, conn.transaction():
        assert await claim_all_with_outputs(
            conn, schema, [("t", "all", "x", ODD), ("t", "none", "x", []), ("t", "one", "x", ODD[3:4])]
        )
        assert (
            await claim_events_with_outputs(
                conn, schema, [("t", "some", "x", ODD[1:]), ("t", "all", "x", [])]
            )
            == 1
        )
        await claim_events(conn, schema, [("t", "later", "x"), ("t", "later-too", "x")])
        await save_outputs_many(conn, schema, [("t", "later", ODD), ("t", "later-too", ODD[:1])])
        await claim_event(conn, schema, "t", "alone", "x")
        await save_outputs(conn, schema, "t", "alone", ODD[::-1])

    async with pg_pool.acquire() as conn:
        found = await applied_outputs_many(
            conn, schema, [("t", e) for e in ("all", "none", "one", "some", "later", "later-too", "alone")]
        )
    assert found == {
        ("t", "all"): ODD, ("t", "none"): [], ("t", "one"): ODD[3:4], ("t", "some"): ODD[1:],
        ("t", "later"): ODD, ("t", "later-too"): ODD[:1], ("t", "alone"): ODD[::-1],
    }  # fmt: skip


async def test_outputs_saved_as_json_text_are_still_read_back(pg_pool: asyncpg.Pool, schema: str) -> None:
    """Rows a release before the shorter form wrote (`saved_json_text`) are re-sent as they were."""
    await install_inbox(pg_pool, schema)
    await pg_pool.execute(
        f"INSERT INTO {schema}.inbox (tenant_id, event_id, topic, outputs) VALUES ('t', 'e1', 'x', $1),"
        " ('t', 'e2', 'x', '[]')",
        saved_json_text(ODD),
    )
    async with pg_pool.acquire() as conn:
        assert await saved_outputs_many(conn, schema, [("t", "e1"), ("t", "e2")]) == {
            ("t", "e1"): ODD,
            ("t", "e2"): [],
        }


async def test_a_result_is_kept_shorter_than_its_json_text(pg_pool: asyncpg.Pool, schema: str) -> None:
    """The values are kept as they are, not escaped inside a JSON text."""
    await install_inbox(pg_pool, schema)
    async with pg_pool.acquire() as conn, conn.transaction():
        await claim_all_with_outputs(conn, schema, [("t", "e1", "x", ODD[:1])])
    kept = await pg_pool.fetchval(f"SELECT outputs FROM {schema}.inbox")
    assert ODD[0].value.decode() in kept
    assert len(kept) < len(saved_json_text(ODD[:1]))
