"""A batch's lookups by primary key have no other index to be planned through, and probe it key by key.

Seen on a new tenant's first import (one tenant, tens of thousands of links, no statistics yet): the
planner looked the batch's links up through `links_by_abm_id`, then (tenant_id, object, abm_id), whose
estimate tied with the primary key's, and filtered every link of the tenant for each key of the batch:
30 s for one batch of 2,000 against 40,000 links, growing with the import; with the primary key, 5 ms.
Whether the tie breaks the wrong way depends on the tables' history, so this checks the cause: no other
index of a table starts with all but the last column of its primary key.
"""

from __future__ import annotations

import asyncpg
import pytest

from mapper.abm_store import AbmStore
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
    assert len(plans) == 3
    for plan in plans:
        assert "Seq Scan" not in plan and "Index" in plan, plan
