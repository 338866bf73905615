"""A batch's lookups by primary key have no other index to be planned through, and probe it key by key.

Seen on a new tenant's first import (one tenant, tens of thousands of links, no statistics yet): the
planner looked the batch's links up through `links_by_abm_id`, then (tenant_id, object, abm_id), whose
estimate tied with the primary key's, and filtered every link of the tenant for each key of the batch:
30 s for one batch of 2,000 against 40,000 links, growing with the import; with the primary key, 5 ms.
Whether the tie breaks the wrong way depends on the tables' history, so this checks the cause: no other
index of a table starts with all but the last column of its primary key.

The read of the live links that hold the records a batch found by key (`live_links_sql`, 1bb1328's rule
that an ABM record is linked to one Pipedrive record of an object) is the converse: a probe by ABM id the
primary key could serve by its (tenant_id, object) prefix, filtering every link of the tenant. Before
links are analyzed the planner priced both probes alike and took the primary key's (238 ms for 2,000
records at 90,000 links where `links_by_abm_id` takes 4 ms); written as it is, only `links_by_abm_id`
can serve it, before statistics as after, in a custom plan as in a generic one.
"""

from __future__ import annotations

import asyncpg
import pytest

from mapper.abm_store import AbmStore, live_links_sql
from mapper.bootstrap import install_tables
from postgres_store.pool import Connection
from schemas.events.common import SyncObject
from tests.support.schemas import schema_fixture

pytestmark = pytest.mark.integration

ORG = SyncObject.ORGANIZATION

INDEX_COLUMNS = """
SELECT t.relname AS table_name, i.relname AS index_name, x.indisprimary AS is_primary,
       array_agg(a.attname ORDER BY k.ord) AS columns
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
 WHERE n.nspname = $1
 GROUP BY t.relname, i.relname, x.indisprimary
"""


fresh_schema = schema_fixture("indexes", install_tables)


def shadowing_indexes(indexes: list[tuple[str, str, bool, list[str]]]) -> list[str]:
    """Indexes that share all but the last primary-key column with their table's primary key."""
    primary = {table: columns for table, _, is_primary, columns in indexes if is_primary}
    found = []
    for table, name, is_primary, columns in indexes:
        key = primary.get(table, [])
        prefix = key[:-1]
        if not is_primary and len(key) > 2 and columns[: len(prefix)] == prefix and columns != key:
            found.append(f"{table}.{name} {columns} shadows its primary key {key}")
    return found


def test_the_check_finds_the_index_that_shadowed_the_links_key() -> None:
    before = [
        ("links", "links_pkey", True, ["tenant_id", "object", "pipedrive_id"]),
        ("links", "links_by_abm_id", False, ["tenant_id", "object", "abm_id"]),
    ]
    after = [before[0], ("links", "links_by_abm_id", False, ["abm_id", "tenant_id", "object"])]
    assert shadowing_indexes(before) == [
        "links.links_by_abm_id ['tenant_id', 'object', 'abm_id'] shadows its primary key"
        " ['tenant_id', 'object', 'pipedrive_id']"
    ]
    assert shadowing_indexes(after) == []


async def test_no_index_of_the_abm_store_shadows_a_primary_key(
    pg_pool: asyncpg.Pool, fresh_schema: str
) -> None:
    rows = await pg_pool.fetch(INDEX_COLUMNS, fresh_schema)
    indexes = [(r["table_name"], r["index_name"], r["is_primary"], list(r["columns"])) for r in rows]
    assert any(name == "links_by_abm_id" for _, name, _, _ in indexes)
    assert shadowing_indexes(indexes) == []


class _Recording:
    """A connection that keeps the statements a store sent it, with their arguments."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sent: list[tuple[str, tuple[object, ...]]] = []

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        self.sent.append((query, args))
        return await self.conn.fetch(query, *args)


async def test_a_batch_looks_each_key_up_by_index_even_where_a_scan_is_priced_lower(
    pg_pool: asyncpg.Pool, fresh_schema: str
) -> None:
    """Seen with the lookups written as joins to the keys: on an analyzed store of 100,000 links the
    planner hashed (or sorted) the whole table for every batch of 2,000 keys, 160-410 ms a batch and
    growing with the store, where probing the primary key takes 19 ms."""
    tenant, schema = "t1", fresh_schema
    await pg_pool.execute(
        f"INSERT INTO {schema}.accounts (tenant_id, abm_id, match_key) SELECT $1, 'a' || i, 'd' || i || '.io'"
        " FROM generate_series(1, 20000) AS i",
        tenant,
    )
    await pg_pool.execute(
        f"INSERT INTO {schema}.links (tenant_id, object, pipedrive_id, abm_id, source_update_time)"
        " SELECT $1, 'organization', i, 'a' || i, now() FROM generate_series(1, 20000) AS i",
        tenant,
    )
    await pg_pool.execute(f"ANALYZE {schema}.accounts; ANALYZE {schema}.links")
    async with pg_pool.acquire() as conn, conn.transaction():
        recording = _Recording(conn)
        store = AbmStore(recording, schema)  # type: ignore[arg-type]
        links = await store.links([(tenant, ORG.value, i) for i in range(19000, 21000)])
        by_key = await store.records_by_key(ORG, [(tenant, f"d{i}.io") for i in range(19000, 21000)])
        by_id = await store.records_by_id(ORG, [(tenant, f"a{i}") for i in range(19000, 21000)])
        plans = [
            "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {query}", *args))
            for query, args in recording.sent
        ]

    assert (len(links), len(by_key), len(by_id)) == (1001, 1001, 1001)
    assert len(plans) == 4  # the key read's second statement: the live links of the records it found
    for plan in plans:
        assert "Seq Scan" not in plan and "Index" in plan, plan


LINKS_STATES = ["empty", "filled, never analyzed", "filled after an analysis of it empty", "filled, analyzed"]


async def _fill_links(pool: asyncpg.Pool, schema: str, tenant: str) -> None:
    """20,000 links of 16,000 accounts: the first 4,000 accounts were linked first to a Pipedrive record
    since deleted (1 to 4,000), then to another (16,001 to 20,000)."""
    await pool.execute(
        f"INSERT INTO {schema}.links (tenant_id, object, pipedrive_id, abm_id, source_update_time,"
        " deleted_in_crm) SELECT $1, 'organization', i, 'a' || ((i - 1) % 16000 + 1), now(), i <= 4000"
        " FROM generate_series(1, 20000) AS i",
        tenant,
    )


@pytest.mark.parametrize("links_state", LINKS_STATES)
async def test_the_live_links_of_records_found_by_key_are_probed_by_abm_id_whatever_the_statistics(
    pg_pool: asyncpg.Pool, fresh_schema: str, links_state: str
) -> None:
    """Keys that find no record read no link; keys that find records read their live links by ABM id on
    `links_by_abm_id`, a probe per record, in the custom and the generic plan alike, whether the links
    are empty, filled but never analyzed (a new deployment's first import, before autovacuum gets to
    them), filled since an analysis of them empty, or analyzed."""
    tenant, schema = "t1", fresh_schema
    await pg_pool.execute(
        f"INSERT INTO {schema}.accounts (tenant_id, abm_id, match_key) SELECT $1, 'a' || i, 'd' || i || '.io'"
        " FROM generate_series(1, 20000) AS i",
        tenant,
    )
    await pg_pool.execute(f"ANALYZE {schema}.accounts")
    if links_state == "filled after an analysis of it empty":
        await pg_pool.execute(f"ANALYZE {schema}.links")
    if links_state != "empty":
        await _fill_links(pg_pool, schema, tenant)
    if links_state == "filled, analyzed":
        await pg_pool.execute(f"ANALYZE {schema}.links")
    async with pg_pool.acquire() as conn, conn.transaction():
        recording = _Recording(conn)
        store = AbmStore(recording, schema)  # type: ignore[arg-type]
        none_found = await store.records_by_key(ORG, [(tenant, f"new{i}.io") for i in range(2000)])
        sent_for_none = len(recording.sent)
        found = await store.records_by_key(ORG, [(tenant, f"d{i}.io") for i in range(2000, 6000, 2)])
        query, args = recording.sent[-1]
        custom = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {query}", *args))
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE live_links(text, text) AS {query}")
        generic = "\n".join(
            r[0]
            for r in await conn.fetch(f"EXPLAIN EXECUTE live_links({_literal(args[0])}, {_literal(args[1])})")
        )
        await conn.execute("DEALLOCATE live_links")

    assert (none_found, sent_for_none, len(recording.sent)) == ([], 1, 3)
    assert query == live_links_sql(f"{schema}.links")
    held = {r["abm_id"]: r["linked_id"] for r in found}
    assert len(held) == 2000
    if links_state == "empty":
        assert set(held.values()) == {None}
    else:
        assert held == {f"a{i}": i + 16000 if i <= 4000 else i for i in range(2000, 6000, 2)}
    for plan in (custom, generic):
        assert "Nested Loop" in plan and "links_by_abm_id" in plan, plan
        assert "Seq Scan on links" not in plan and "links_pkey" not in plan and "Hash" not in plan, plan
    assert "$2" in generic and "$2" not in custom


def _literal(text: object) -> str:
    """A text as an SQL literal."""
    return "'" + str(text).replace("'", "''") + "'"
