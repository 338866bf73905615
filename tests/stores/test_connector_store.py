"""One suite, two stores: the connector's ports on PostgreSQL and the in-memory fakes the service tests use
answer alike (STYLE rule 6: every fake is checked against the real thing)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import asyncpg
import pytest

from connector.bootstrap import install_tables
from connector.ports import RunLifecycle, RunQueue, WebhookDeliveries, WebhookSubscriptions
from connector.queued_runs import RunKindName, RunState
from connector.run_store import RunStore
from connector.webhook_store import WebhookStore
from tests.service.connector_fakes import InMemoryRuns, InMemoryWebhooks
from tests.stores.backends import BACKENDS, memory_or_postgres
from tests.support.schemas import fresh_schema

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SYNC, IMPORT, RETRY = RunKindName.SYNC, RunKindName.IMPORT, RunKindName.RETRY


class Runs(RunQueue, RunLifecycle, Protocol):
    """Both sides of the runs table."""


class Webhooks(WebhookDeliveries, WebhookSubscriptions, Protocol):
    """Both sides of the tenant's webhooks."""


@dataclass
class StoreUnderTest:
    """The runs, the webhooks, and how a tenant gets its settings row (the webhooks live on it)."""

    runs: Runs
    webhooks: Webhooks
    add_tenant: Callable[[str], Awaitable[None]]


@pytest.fixture(scope="module")
async def postgres_store(pg_pool: asyncpg.Pool) -> AsyncIterator[StoreUnderTest]:
    """The connector's tables in a fresh schema, shared by the module (each test has a tenant of its own)."""
    async with fresh_schema(pg_pool, "connector_store", install_tables) as schema:

        async def add_tenant(tenant: str) -> None:
            await pg_pool.execute(
                f"INSERT INTO {schema}.tenant_settings (tenant_id, version, settings) VALUES ($1, 1, '{{}}')",
                tenant,
            )

        yield StoreUnderTest(RunStore(pg_pool, schema), WebhookStore(pg_pool, schema), add_tenant)


@pytest.fixture(params=BACKENDS)
def subject(request: pytest.FixtureRequest) -> StoreUnderTest:
    """The fakes, or PostgreSQL."""

    async def add_tenant(tenant: str) -> None:
        return None

    return memory_or_postgres(request, lambda: StoreUnderTest(InMemoryRuns(), InMemoryWebhooks(), add_tenant))


async def test_a_queued_sync_is_reused_and_other_runs_are_queued_each(
    subject: StoreUnderTest, tenant: str
) -> None:
    first = await subject.runs.enqueue(tenant, SYNC, "manual")
    again = await subject.runs.enqueue(tenant, SYNC, "schedule")
    imported = await subject.runs.enqueue(tenant, IMPORT, "manual", {"objects": ["organization"]})
    imported_again = await subject.runs.enqueue(tenant, IMPORT, "manual", {"objects": ["organization"]})

    recent = await subject.runs.recent(tenant)

    assert again.run_id == first.run_id and again.trigger == "manual"
    assert imported.run_id != imported_again.run_id
    assert [r.run_id for r in recent] == [imported_again.run_id, imported.run_id, first.run_id]
    assert (imported.state, imported.spec, imported.counts.created) == (
        RunState.QUEUED, {"objects": ["organization"]}, 0,
    )  # fmt: skip
    assert await subject.runs.recent("nobody") == []


async def test_a_run_queued_under_a_derived_id_is_queued_once(subject: StoreUnderTest, tenant: str) -> None:
    first = await subject.runs.enqueue_as(tenant, "retry-r1-1", RETRY, "retry", {"of": "r1"})
    again = await subject.runs.enqueue_as(tenant, "retry-r1-1", RETRY, "other", {"of": "r2"})

    stored = await subject.runs.get(tenant, "retry-r1-1")

    assert (first.run_id, again.trigger, again.spec) == ("retry-r1-1", "retry", {"of": "r1"})
    assert stored is not None and stored.kind is RETRY
    assert await subject.runs.get(tenant, "missing") is None
    assert await subject.runs.get("another-tenant", "retry-r1-1") is None


async def test_a_sync_is_queued_when_due_and_none_is_open(subject: StoreUnderTest, tenant: str) -> None:
    seen: list[datetime | None] = []

    def due(last: datetime | None) -> bool:
        seen.append(last)
        return True

    first = await subject.runs.enqueue_sync_if_due(tenant, "schedule", due)
    while_open = await subject.runs.enqueue_sync_if_due(tenant, "schedule", due)
    assert first is not None
    await subject.runs.finish(first, RunState.FINISHED, "Success", None, NOW)
    not_due = await subject.runs.enqueue_sync_if_due(tenant, "schedule", lambda last: False)
    after = await subject.runs.enqueue_sync_if_due(tenant, "schedule", due)

    states = await subject.runs.sync_states()

    assert first.trigger == "schedule" and while_open is None and not_due is None
    assert after is not None and after.run_id != first.run_id
    assert seen == [None, NOW]
    assert states[tenant] == (True, NOW)


async def test_open_runs_are_worked_interrupted_first_then_resumable_then_oldest(
    subject: StoreUnderTest, tenant: str
) -> None:
    oldest = await subject.runs.enqueue(tenant, IMPORT, "manual")
    newer = await subject.runs.enqueue(tenant, IMPORT, "manual")
    paused = await subject.runs.enqueue(tenant, SYNC, "manual")
    await subject.runs.start(paused, NOW)
    await subject.runs.pause(paused, NOW + timedelta(hours=1))

    before_reset = await subject.runs.next_open(tenant, NOW)
    after_reset = await subject.runs.next_open(tenant, NOW + timedelta(hours=2))
    first_start = await subject.runs.start(newer, NOW)
    interrupted = await subject.runs.next_open(tenant, NOW + timedelta(hours=2))
    resumed = await subject.runs.start(newer, NOW + timedelta(minutes=5))

    assert before_reset is not None and before_reset.run_id == oldest.run_id
    assert after_reset is not None and after_reset.run_id == paused.run_id
    assert interrupted is not None and interrupted.run_id == newer.run_id
    assert (first_start, resumed) == (True, False)
    stored = await subject.runs.get(tenant, newer.run_id)
    assert stored is not None and (stored.state, stored.started_at) == (RunState.RUNNING, NOW)


async def test_tenants_with_work_leave_out_ended_and_waiting_runs(
    subject: StoreUnderTest, tenant: str
) -> None:
    ended, waiting, idle = f"{tenant}-ended", f"{tenant}-waiting", f"{tenant}-idle"
    done = await subject.runs.enqueue(ended, SYNC, "manual")
    await subject.runs.finish(done, RunState.FINISHED, "Success", None, NOW)
    paused = await subject.runs.enqueue(waiting, SYNC, "manual")
    await subject.runs.pause(paused, NOW + timedelta(hours=1))
    await subject.runs.enqueue(tenant, SYNC, "manual")

    now = {t for t in await subject.runs.tenants_with_work(NOW) if t.startswith(tenant)}
    later = {
        t for t in await subject.runs.tenants_with_work(NOW + timedelta(hours=1)) if t.startswith(tenant)
    }

    assert now == {tenant}
    assert later == {tenant, waiting}
    assert idle not in later


async def test_a_cancel_is_asked_of_the_tenants_run_only(subject: StoreUnderTest, tenant: str) -> None:
    run = await subject.runs.enqueue(tenant, SYNC, "manual")

    asked = await subject.runs.request_cancel(tenant, run.run_id)
    foreign = await subject.runs.request_cancel("another-tenant", run.run_id)

    assert asked is not None and asked.cancel_requested
    assert foreign is None


async def test_a_run_finishes_with_its_counts_and_outcome(subject: StoreUnderTest, tenant: str) -> None:
    run = await subject.runs.enqueue(tenant, SYNC, "manual")
    await subject.runs.start(run, NOW)
    run.counts.created, run.tokens_spent, run.progress = 3, 40, {"read": 3}

    await subject.runs.finish(run, RunState.FINISHED, "Warning", "1 skipped", NOW + timedelta(minutes=1))

    stored = await subject.runs.get(tenant, run.run_id)
    assert stored is not None
    assert (stored.state, stored.status, stored.message) == (RunState.FINISHED, "Warning", "1 skipped")
    assert (stored.counts.created, stored.tokens_spent, stored.progress) == (3, 40, {"read": 3})
    assert stored.finished_at == NOW + timedelta(minutes=1)
    assert await subject.runs.next_open(tenant, NOW + timedelta(days=1)) is None


async def test_a_runs_unexpected_failures_are_counted_per_run(subject: StoreUnderTest, tenant: str) -> None:
    run = await subject.runs.enqueue(tenant, SYNC, "manual")
    other = await subject.runs.enqueue(tenant, RunKindName.IMPORT, "manual", {"source": "all_organizations"})

    counted = [await subject.runs.count_failure(run), await subject.runs.count_failure(run)]

    assert counted == [1, 2] and await subject.runs.count_failure(other) == 1


async def test_webhook_subscriptions_are_kept_and_forgotten(subject: StoreUnderTest, tenant: str) -> None:
    await subject.add_tenant(tenant)
    before = await subject.webhooks.credentials(tenant)

    await subject.webhooks.save_subscriptions(tenant, "psync", b"hash", [11, 12, 13])
    saved = (await subject.webhooks.credentials(tenant), await subject.webhooks.subscription_ids(tenant))
    await subject.webhooks.forget_subscriptions(tenant)
    forgotten = (await subject.webhooks.credentials(tenant), await subject.webhooks.subscription_ids(tenant))

    assert before == (None, None)
    assert saved == (("psync", b"hash"), {11, 12, 13})
    assert forgotten == ((None, None), set())
    assert await subject.webhooks.subscription_ids("nobody") == set()


async def test_a_delivery_is_accepted_once(subject: StoreUnderTest, tenant: str) -> None:
    first = await subject.webhooks.accept(tenant, "d1", "person", 7, "change", None)
    again = await subject.webhooks.accept(tenant, "d1", "person", 7, "change", None)
    merged = await subject.webhooks.accept(tenant, "d2", "person", 7, "delete", 9)
    other_tenant = await subject.webhooks.accept(f"{tenant}-b", "d1", "person", 7, "change", None)

    assert (first, again, merged, other_tenant) == (True, False, True, True)
