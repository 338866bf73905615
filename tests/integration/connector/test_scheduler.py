"""The scheduler on real PostgreSQL and Kafka against the sandbox: syncs queued by each tenant's frequency
(manual never; 24 h / 6 h / 1 h plus a jitter within bounds), none for a tenant whose budget is closed,
a run paused by a spent share, and two replicas sharing the database never running one tenant twice at
once nor queueing one due sync twice."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections import Counter
from collections.abc import AsyncIterator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from connector.bootstrap import Connector, assemble, install_tables
from connector.queued_runs import Run, RunKindName, RunState
from connector.scheduler import INTERVALS, jitter_of
from pipedrive_client import ApiTokenCredentials, RetryPolicy
from pipedrive_client.budget import ClosedWindow
from pipedrive_sandbox import SandboxConfig
from postgres_store.pool import create_pool
from schemas.events.settings import Frequency
from stream_runner.producer import EventProducer
from tests.integration.connector.conftest import ConnectorHarness
from tests.support.conditions import eventually
from tests.support.schemas import drop_schemas
from tests.topic_namespace import NAMESPACE

pytestmark = pytest.mark.integration


async def _connected_tenant(harness: ConnectorHarness, suffix: str, frequency: Frequency) -> str:
    """A further tenant connected to the sandbox with the given frequency."""
    tenant = f"{harness.tenant}{suffix}"
    headers = await harness.new_tenant_headers(tenant)
    connect = await harness.api.post(
        "/v1/connection/api-token", json={"api_token": harness.sandbox.handle.api_token}, headers=headers
    )
    assert connect.status == 200, await connect.text()
    saved = await harness.api.put("/v1/settings", json={"frequency": frequency.value}, headers=headers)
    assert saved.status == 200, await saved.text()
    return tenant


async def _runs(harness: ConnectorHarness, tenant: str) -> list[Run]:
    return list(reversed(await harness.connector.runs.recent(tenant)))


async def _scheduled(harness: ConnectorHarness, tenant: str) -> list[Run]:
    return [r for r in await _runs(harness, tenant) if r.trigger == "schedule"]


def _now(harness: ConnectorHarness) -> datetime:
    return datetime.fromtimestamp(harness.sandbox.handle.state.clock.now(), UTC)


def _move_clock_to(harness: ConnectorHarness, moment: datetime) -> None:
    clock = harness.sandbox.handle.state.clock
    clock.advance(moment.timestamp() - clock.now())


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=5)])
async def test_syncs_are_queued_by_frequency_with_a_jitter_within_bounds_and_never_for_manual(
    harness: ConnectorHarness,
) -> None:
    frequencies = (Frequency.MANUAL, Frequency.EVERY_24H, Frequency.EVERY_6H, Frequency.EVERY_1H)
    tenants = {f: await _connected_tenant(harness, f"f{f.value}", f) for f in frequencies}
    scheduler, spread = harness.connector.scheduler, harness.connector.settings.schedule_jitter_s

    await scheduler.queue_due_syncs()
    await scheduler.queue_due_syncs()  # a second tick queues nothing more

    assert await _scheduled(harness, tenants[Frequency.MANUAL]) == []
    for frequency in frequencies[1:]:
        assert len(await _scheduled(harness, tenants[frequency])) == 1, f"{frequency} never synced is due"
        assert await scheduler.work_tenant(tenants[frequency]) == 1
    finished = {}
    for frequency in frequencies[1:]:
        (run,) = await _scheduled(harness, tenants[frequency])
        assert run.state is RunState.FINISHED and run.status == "Success", run.message
        assert run.finished_at is not None
        finished[frequency] = run.finished_at

    for frequency in reversed(frequencies[1:]):  # the clock only moves forward: shortest first
        tenant, interval = tenants[frequency], INTERVALS[frequency]
        jitter = jitter_of(tenant, spread)
        assert timedelta(0) <= jitter < timedelta(seconds=spread)
        _move_clock_to(harness, finished[frequency] + interval + jitter - timedelta(seconds=3))
        await scheduler.queue_due_syncs()
        assert len(await _scheduled(harness, tenant)) == 1, f"{frequency}: not due before interval + jitter"
        _move_clock_to(harness, finished[frequency] + interval + jitter + timedelta(seconds=3))
        await scheduler.queue_due_syncs()
        assert len(await _scheduled(harness, tenant)) == 2, f"{frequency}: due after interval + jitter"
        assert await scheduler.work_tenant(tenant) == 1
    assert await _scheduled(harness, tenants[Frequency.MANUAL]) == [], "a day went by, manual never"


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=5)])
async def test_a_tenant_whose_daily_budget_is_closed_gets_no_scheduled_sync(
    harness: ConnectorHarness,
) -> None:
    tenant = await _connected_tenant(harness, "closed", Frequency.EVERY_1H)
    budget = harness.connector.factory.budget
    reopens = harness.sandbox.handle.state.clock.now() + 3_600
    await budget.close(tenant, ClosedWindow(until=reopens, for_day=True))

    await harness.connector.scheduler.queue_due_syncs()

    assert await _runs(harness, tenant) == []
    _move_clock_to(harness, datetime.fromtimestamp(reopens + 1, UTC))
    await harness.connector.scheduler.queue_due_syncs()
    assert len(await _scheduled(harness, tenant)) == 1


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=5)])
async def test_a_scheduled_sync_of_a_tenant_whose_share_is_spent_pauses_without_a_call_and_is_not_repeated(
    harness: ConnectorHarness,
) -> None:
    tenant = await _connected_tenant(harness, "spent", Frequency.EVERY_1H)
    deps = harness.connector
    today = int(harness.sandbox.handle.state.clock.now() // 86_400)
    await deps.pool.execute(
        f"UPDATE {deps.settings.pipedrive.client_schema}.budget SET day = $2, spent_today = 1000000000"
        " WHERE tenant_id = $1",
        tenant,
        today,
    )
    calls_before = len(harness.sandbox.handle.state.ledger.entries)

    await harness.connector.scheduler.queue_due_syncs()
    await harness.connector.scheduler.work_tenant(tenant)
    await harness.connector.scheduler.queue_due_syncs()

    (run,) = await _runs(harness, tenant)
    assert run.state is RunState.PAUSED and run.resume_at is not None
    assert run.resume_at == datetime.fromtimestamp((today + 1) * 86_400, UTC)
    assert len(harness.sandbox.handle.state.ledger.entries) == calls_before
    assert [e for e in await harness.events() if e["tenantid"] == tenant] == []


@contextlib.asynccontextmanager
async def _two_replicas(
    harness: ConnectorHarness, database_url: str, kafka_bootstrap: str, frequency: Frequency
) -> AsyncIterator[tuple[Connector, Connector]]:
    """Two replicas of the connector (own pools, producers and workers) sharing fresh schemas of the
    database (no other test's tenants), with the harness's tenant connected to the sandbox there."""
    suffix = secrets.token_hex(4)
    schemas = (f"itest_connector_r{suffix}", f"itest_pdc_r{suffix}")
    current = harness.connector.settings
    settings = current.model_copy(
        update={
            "db_schema": schemas[0],
            "pipedrive": current.pipedrive.model_copy(update={"client_schema": schemas[1]}),
            "scheduler_interval_s": 0.05,
        }
    )
    retry = RetryPolicy(base_delay_seconds=0.01, max_delay_seconds=0.05, max_attempts=6)
    async with contextlib.AsyncExitStack() as stack:
        replicas = []
        for n in range(2):
            pool = await create_pool(database_url, min_size=1, max_size=6)
            stack.push_async_callback(pool.close)
            producer = EventProducer(kafka_bootstrap, client_id=f"connector-replica-{n}", namespace=NAMESPACE)
            await producer.start()
            stack.push_async_callback(producer.stop)
            clock = harness.connector.clock
            await install_tables(pool, settings.db_schema)
            replicas.append(
                await stack.enter_async_context(assemble(settings, pool, producer, clock=clock, retry=retry))
            )
        stack.push_async_callback(drop_schemas, replicas[0].pool, *schemas)
        first, second = replicas
        sandbox = harness.sandbox
        await first.factory.credentials.save(
            harness.tenant, ApiTokenCredentials(SecretStr(sandbox.handle.api_token), sandbox.base_url)
        )
        await first.tenant_settings.change(
            harness.tenant, lambda s: s.model_copy(update={"connected": True, "frequency": frequency})
        )
        yield first, second


async def _runs_of(replica: Connector, tenant: str) -> list[Run]:
    return list(reversed(await replica.runs.recent(tenant)))


def _overlapping(runs: list[Run]) -> list[tuple[str, str]]:
    spans = sorted((r.started_at, r.finished_at, r.run_id) for r in runs if r.started_at and r.finished_at)
    return [(a[2], b[2]) for a, b in itertools.pairwise(spans) if b[0] < a[1]]


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=5)])
async def test_two_replicas_asked_at_once_queue_one_sync(
    harness: ConnectorHarness, database_url: str, kafka_bootstrap: str
) -> None:
    tenant = harness.tenant
    async with _two_replicas(harness, database_url, kafka_bootstrap, Frequency.EVERY_1H) as (first, second):
        for _ in range(10):  # both replicas' scheduler ticks at the same moment
            await asyncio.gather(first.scheduler.queue_due_syncs(), second.scheduler.queue_due_syncs())
        (scheduled,) = await _runs_of(first, tenant)
        await first.scheduler.work_tenant(tenant)
        # "Sync now" reaching both replicas at once (two clicks, a retried request).
        now_a, now_b = await asyncio.gather(
            first.runs.enqueue(tenant, RunKindName.SYNC, "manual"),
            second.runs.enqueue(tenant, RunKindName.SYNC, "manual"),
        )
        runs = await _runs_of(second, tenant)

    assert scheduled.trigger == "schedule"
    assert now_a.run_id == now_b.run_id
    assert [(r.trigger, r.state) for r in runs] == [
        ("schedule", RunState.FINISHED),
        ("manual", RunState.QUEUED),
    ]


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=250)])
async def test_two_replicas_working_the_same_tenant_never_run_two_of_its_runs_at_once(
    harness: ConnectorHarness, database_url: str, kafka_bootstrap: str
) -> None:
    tenant = harness.tenant
    stop = asyncio.Event()
    async with _two_replicas(harness, database_url, kafka_bootstrap, Frequency.MANUAL) as (first, second):
        for _ in range(3):
            await first.runs.enqueue(tenant, RunKindName.IMPORT, "manual", {"source": "all_organizations"})
        await second.runs.enqueue(tenant, RunKindName.SYNC, "manual")
        workers = [asyncio.create_task(r.scheduler.run(stop)) for r in (first, second)]
        try:
            runs = await eventually(
                lambda: _runs_of(first, tenant),
                lambda runs: len(runs) == 4 and all(r.state is RunState.FINISHED for r in runs),
                within_s=60,
                what="every run finished by one replica or the other",
            )
        finally:
            stop.set()
            await asyncio.gather(*workers)

    assert all(r.status == "Success" for r in runs), [r.message for r in runs]
    assert _overlapping(runs) == []
    reported = Counter((e["data"]["run_id"], e["type"]) for e in await harness.run_events())
    assert sorted(reported.values()) == [1] * 8, "each run started and finished exactly once"


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=5)])
async def test_a_run_whose_worker_dies_is_logged_stays_open_and_is_taken_up_at_the_next_tick(
    harness: ConnectorHarness, database_url: str, kafka_bootstrap: str
) -> None:
    tenant = harness.tenant

    async def refuse(messages: object) -> None:
        raise ConnectionError("broker unavailable")

    async with _two_replicas(harness, database_url, kafka_bootstrap, Frequency.MANUAL) as (replica, _):
        run = await replica.runs.enqueue(tenant, RunKindName.SYNC, "manual")
        producer = replica.producer
        original = producer.send_all
        producer.send_all = refuse  # type: ignore[method-assign]
        try:
            with capture_logs() as logs:
                replica.scheduler.start_open_runs()
                await eventually(
                    lambda: _failed_workers(logs),
                    lambda found: f"runs-{tenant}" in found,
                    within_s=10,
                    what="the dead worker logged",
                )
        finally:
            producer.send_all = original  # type: ignore[method-assign]
        interrupted = await replica.runs.get(tenant, run.run_id)

        replica.scheduler.start_open_runs()
        done = await eventually(
            lambda: replica.runs.get(tenant, run.run_id),
            lambda found: found is not None and found.state is RunState.FINISHED,
            within_s=30,
            what="the run taken up again and finished",
        )

    assert interrupted is not None and interrupted.state is RunState.RUNNING
    assert done is not None and done.status == "Success"


async def _failed_workers(logs: list[MutableMapping[str, Any]]) -> list[str]:
    return [str(e.get("worker")) for e in logs if e["event"] == "runs_worker_failed"]
