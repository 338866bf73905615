"""A batch of source changes leaves the store and the results exactly as applying them one by one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest

from mapper.bootstrap import build_handlers
from schemas.catalog import build_event
from schemas.envelope import CloudEvent
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import source_change_key
from schemas.topics import SOURCE_CHANGES
from stream_runner.messages import IncomingMessage
from tests.integration.mapper.conftest import MapperHarness

pytestmark = pytest.mark.integration
ORG = SyncObject.ORGANIZATION

# (pipedrive id, minute, record or None for a delete); the same sequence for both tenants.
SEQUENCE: list[tuple[int, int, dict[str, Any] | None]] = [
    (1, 0, {"name": "Acme", "website": "acme.io"}),
    (2, 1, {"name": "Acme twin", "website": "https://www.ACME.io/x"}),  # matches the account just created
    (1, 2, {"name": "Acme renamed", "website": "acme.io"}),
    (3, 3, {"name": "Gone soon", "website": "gone.io"}),
    (3, 4, None),
    (1, 1, {"name": "Stale", "website": "acme.io"}),  # older than what is applied
    (4, 5, {"name": "No domain", "website": "localhost"}),
]


def events(tenant: str) -> list[tuple[CloudEvent[Any], IncomingMessage]]:
    items = []
    for offset, (pid, minute, record) in enumerate(SEQUENCE):
        at = datetime(2026, 11, 1, 10, minute, tzinfo=UTC)
        change = SourceChange(
            object=ORG,
            pipedrive_id=pid,
            action=ChangeAction.UPSERTED if record else ChangeAction.DELETED,
            update_time=at,
            record={"id": pid, **record} if record else None,
            origin=ChangeOrigin.POLL,
        )
        key = source_change_key(tenant, ORG, pid)
        event = build_event(
            change, tenant=tenant, subject=key, source="/itest", id_parts=(key, at, offset), time=at
        )
        items.append((event, IncomingMessage(SOURCE_CHANGES.name, 0, offset, key.encode(), b"")))
    return items


async def store_of(harness: MapperHarness) -> dict[str, Any]:
    def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        drop = {"tenant_id", "created_at", "updated_at", "linked_at", "abm_id"}
        return sorted(({k: v for k, v in r.items() if k not in drop} for r in rows), key=repr)

    return {table: strip(await harness.rows(table)) for table in ("accounts", "links")}


def outcomes(outputs: list[Any]) -> list[tuple[str, str | None]]:
    data = [orjson.loads(o.value)["data"] for o in outputs]
    return [(d["outcome"], d.get("message")) for d in data]


async def test_a_batch_equals_the_same_changes_one_by_one(pg_pool: asyncpg.Pool, mapper_schema: str) -> None:
    one_by_one, batched = MapperHarness(pg_pool, mapper_schema), MapperHarness(pg_pool, mapper_schema)
    handlers = build_handlers(pg_pool, mapper_schema)

    single_outputs: list[Any] = []
    for event, message in events(one_by_one.tenant):
        [single] = await handlers.source_changed_batch([(event, message)])
        single_outputs += single.outputs
    batch_results = await handlers.source_changed_batch(events(batched.tenant))
    batch_outputs = [o for handled in batch_results for o in handled.outputs]

    assert outcomes(batch_outputs) == outcomes(single_outputs)
    assert await store_of(batched) == await store_of(one_by_one)
    assert sorted(r["match_key"] for r in await batched.rows("accounts")) == ["acme.io", "gone.io"]


async def test_a_redelivered_batch_applies_nothing_and_resends_the_same_results(
    pg_pool: asyncpg.Pool, mapper_schema: str
) -> None:
    harness = MapperHarness(pg_pool, mapper_schema)
    handlers = build_handlers(pg_pool, mapper_schema)
    items = events(harness.tenant)

    first = await handlers.source_changed_batch(items)
    before = await store_of(harness)
    again = await handlers.source_changed_batch(items)

    assert all(h.duplicate for h in again)
    assert [h.outputs for h in again] == [h.outputs for h in first]
    assert await store_of(harness) == before


async def test_a_batch_partly_applied_before_resends_those_results_and_applies_the_rest_once(
    pg_pool: asyncpg.Pool, mapper_schema: str
) -> None:
    # Applied as fresh first, the batch's claim finds three events applied before: that transaction is
    # rolled back and the batch applied again claiming first.
    partly, at_once = MapperHarness(pg_pool, mapper_schema), MapperHarness(pg_pool, mapper_schema)
    handlers = build_handlers(pg_pool, mapper_schema)
    items = events(partly.tenant)

    first = await handlers.source_changed_batch(items[:3])
    whole = await handlers.source_changed_batch(items)
    reference = await handlers.source_changed_batch(events(at_once.tenant))

    assert [h.duplicate for h in whole] == [True] * 3 + [False] * (len(items) - 3)
    assert [h.outputs for h in whole[:3]] == [h.outputs for h in first]
    assert outcomes([o for h in whole for o in h.outputs]) == outcomes(
        [o for h in reference for o in h.outputs]
    )
    assert await store_of(partly) == await store_of(at_once)
    inbox = await pg_pool.fetch(
        f"SELECT event_id, outputs::text AS outputs FROM {mapper_schema}.inbox WHERE tenant_id = $1",
        partly.tenant,
    )
    assert len(inbox) == len(items) and all(row["outputs"] for row in inbox)
