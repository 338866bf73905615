"""A batch of source changes leaves the store and the results exactly as applying them one by one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest

from mapper.abm_store import AbmStore
from mapper.bootstrap import build_handlers
from schemas.catalog import build_event
from schemas.envelope import CloudEvent
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.push import PushCompleted
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import source_change_key
from schemas.topics import PUSH_RESULTS, SOURCE_CHANGES
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


async def test_a_link_committed_after_the_batch_loaded_fails_it_whole_and_the_retry_applies_it(
    pg_pool: asyncpg.Pool, mapper_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The batch plans Pipedrive id 1 as unlinked and writes its link with COPY; meanwhile the pusher's
    # completion links id 1 to the record it created in Pipedrive (another transaction, committed before
    # the COPY). The COPY fails on the link's key, the batch's transaction rolls back whole (no inbox row,
    # no record, no link of it), and the batch applied again (the runner's retry) reads the link and
    # leaves the store and the results as if the completion had come first.
    raced, reference = MapperHarness(pg_pool, mapper_schema), MapperHarness(pg_pool, mapper_schema)
    handlers = build_handlers(pg_pool, mapper_schema)

    async def pushed_first(harness: MapperHarness) -> None:
        account = await harness.account("pushed.io")
        pushed = PushCompleted(
            object=ORG, match_key="pushed.io", outcome=RecordOutcome.UPDATED, pipedrive_id=1,
            abm_id=account["abm_id"], run_id="auto-push-1",
        )  # fmt: skip
        at = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)  # before the batch's changes: they apply over it
        subject = f"{harness.tenant}:push"
        event = build_event(
            pushed, tenant=harness.tenant, subject=subject, source="/itest", id_parts=(subject,), time=at
        )
        await harness.deliver(event, PUSH_RESULTS.name)

    for harness in (raced, reference):
        await harness.change(ORG, 90, {"name": "Pushed", "website": "pushed.io"}, at="2026-11-01T09:00:00Z")
    await pushed_first(reference)
    expected = await handlers.source_changed_batch(events(reference.tenant))

    insert_links = AbmStore.insert_links
    raced_once: list[bool] = []

    async def completion_commits_first(store: AbmStore, rows: Any) -> None:
        if not raced_once:
            raced_once.append(True)
            await pushed_first(raced)
        await insert_links(store, rows)

    monkeypatch.setattr(AbmStore, "insert_links", completion_commits_first)
    with pytest.raises(asyncpg.UniqueViolationError):
        await handlers.source_changed_batch(events(raced.tenant))
    inbox = await pg_pool.fetchval(
        f"SELECT count(*) FROM {mapper_schema}.inbox WHERE tenant_id = $1 AND topic = $2",
        raced.tenant, SOURCE_CHANGES.name,
    )  # fmt: skip
    assert inbox == 1  # the change of id 90 only
    assert [r["match_key"] for r in await raced.rows("accounts")] == ["pushed.io"]
    assert sorted(r["pipedrive_id"] for r in await raced.rows("links")) == [1, 90]

    retried = await handlers.source_changed_batch(events(raced.tenant))

    assert not any(h.duplicate for h in retried)
    assert outcomes([o for h in retried for o in h.outputs]) == outcomes(
        [o for h in expected for o in h.outputs]
    )
    assert await store_of(raced) == await store_of(reference)
