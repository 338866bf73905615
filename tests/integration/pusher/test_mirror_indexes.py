"""The mirror's match-key indexes hold keyed rows only (migration 0011), the live one is a hash index of
the key's one text (migration 0012), and the generic plans of the match-key reads (`match_key = $3`,
which implies the key is not null) use them."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from pusher.bootstrap import install_tables
from pusher.mirror_store import PostgresMirror, live_by_key_sql
from schemas.events.common import SyncObject
from tests.support.schemas import schema_fixture

schema = schema_fixture("pusher_mirror_idx", install_tables)


async def test_keyless_rows_are_left_out_and_the_generic_plans_use_the_indexes(
    pg_pool: asyncpg.Pool, schema: str
) -> None:
    async with pg_pool.acquire() as conn:
        # A mirror of some size, analyzed, so the planner weighs the indexes as in production: 5,000
        # organizations (one in ten deleted, one in five without a key) and 2,000 deals (never keyed).
        await conn.execute(
            f"INSERT INTO {schema}.mirror (tenant_id, object, pipedrive_id, match_key, record, update_time,"
            " deleted) SELECT 't', 'organization', g, CASE WHEN g % 5 > 0 THEN 'org' || g || '.io' END, '{}',"
            " now(), g % 10 = 0 FROM generate_series(1, 5000) AS g"
            " UNION ALL SELECT 't', 'deal', g, NULL, '{}', now(), false FROM generate_series(1, 2000) AS g;"
            f" ANALYZE {schema}.mirror"
        )
        predicates = {
            row["indexname"]: row["indexdef"]
            for row in await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'mirror'",
                schema,
            )
        }
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        plans = []
        for by_key in (
            live_by_key_sql(f"{schema}.mirror"),
            f"SELECT pipedrive_id FROM {schema}.mirror WHERE tenant_id = $1 AND object = $2"
            " AND match_key = $3 AND deleted ORDER BY pipedrive_id LIMIT 1",
        ):
            await conn.execute(f"PREPARE by_key(text, text, text) AS {by_key}")
            rows = await conn.fetch("EXPLAIN EXECUTE by_key('t', 'organization', 'acme.io')")
            plans.append("\n".join(row[0] for row in rows))
            await conn.execute("DEALLOCATE by_key")
        await conn.execute("RESET plan_cache_mode")

    assert "match_key IS NOT NULL" in predicates["mirror_by_match_key"]
    assert "USING hash" in predicates["mirror_by_match_key"]
    assert "match_key IS NOT NULL" in predicates["mirror_gone_by_match_key"]
    assert "mirror_by_match_key" in plans[0] and "$3" in plans[0]
    assert "using mirror_gone_by_match_key" in plans[1] and "$3" in plans[1]


async def test_a_key_whose_text_joins_to_another_s_is_not_found_under_it(
    pg_pool: asyncpg.Pool, schema: str
) -> None:
    # The hash index holds tenant, object and key joined by chr(31): ("a\x1forganization", organization, "k")
    # and ("a", organization, "organization\x1fk") join to the same text; the read names the columns too.
    org = SyncObject.ORGANIZATION
    record = {"id": 1, "name": "Acme"}
    async with pg_pool.acquire() as conn:
        mirror = PostgresMirror(conn, schema)
        await mirror.upsert("a\x1forganization", org, 1, record, datetime(2026, 11, 2, tzinfo=UTC), "k")
        found = await mirror.by_match_key("a\x1forganization", org, "k")
        beside = await mirror.by_match_key("a", org, "organization\x1fk")

    assert found is not None and found.pipedrive_id == 1 and found.record == record
    assert beside is None
