"""The connector's scheduler as a specification, run on in-memory fakes of its ports (no PostgreSQL, no
Pipedrive): which tenants' syncs it queues at a tick, and how it works a tenant's open runs under the
tenant's lock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from connector.queued_runs import Run, RunKindName, RunState
from connector.scheduler import Scheduler, SchedulerTiming
from connector.tenant_settings import default_settings
from schemas.events.settings import Frequency, TenantSettings
from tests.service.connector_fakes import (
    InMemoryBudgets,
    InMemoryLocks,
    InMemoryRuns,
    InMemoryScheduledSettings,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class FixedClock:
    """`pipedrive_client.Clock` standing still at `NOW` (plus what a test adds)."""

    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> float:
        return self.at.timestamp()

    async def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class Worker:
    """`connector.ports.RunWorker`: finishes each run it is given, or pauses one whose spec says
    `pause` (as a run meeting a spent budget), and remembers the order it worked them in."""

    def __init__(self, runs: InMemoryRuns) -> None:
        self._runs, self.worked = runs, list[str]()

    async def work(self, run: Run) -> Run:
        self.worked.append(run.run_id)
        await self._runs.start(run, NOW)
        if run.spec.get("pause"):
            await self._runs.pause(run, NOW + timedelta(hours=3))
        else:
            await self._runs.finish(run, RunState.FINISHED, "Success", None, NOW)
        return run


class Replica:
    """A scheduler on fakes; replicas made with `another` share the runs, settings, budgets and locks."""

    def __init__(self, shared: Replica | None = None) -> None:
        self.runs: InMemoryRuns = shared.runs if shared else InMemoryRuns()
        self.settings: InMemoryScheduledSettings = shared.settings if shared else InMemoryScheduledSettings()
        self.budgets: InMemoryBudgets = shared.budgets if shared else InMemoryBudgets()
        self.locks: InMemoryLocks = shared.locks.sharing() if shared else InMemoryLocks()
        self.worker = Worker(self.runs)
        self.scheduler = Scheduler(
            self.runs, self.settings, self.budgets, self.worker, self.locks, FixedClock(), asyncio.Event(),
            SchedulerTiming(interval_s=5.0, jitter_s=0.0),
        )  # fmt: skip

    def another(self) -> Replica:
        return Replica(shared=self)

    def schedule(self, tenant: str, frequency: Frequency) -> None:
        settings: TenantSettings = default_settings().model_copy(
            update={"frequency": frequency, "connected": True}
        )
        self.settings.scheduled[tenant] = settings


async def test_a_tenant_never_synced_is_queued_once_and_a_manual_one_never() -> None:
    replica = Replica()
    replica.schedule("hourly", Frequency.EVERY_1H)
    replica.schedule("manual", Frequency.MANUAL)

    first = await replica.scheduler.queue_due_syncs()
    second = await replica.scheduler.queue_due_syncs()

    assert (first, second) == (1, 0)
    assert [(r.kind, r.trigger) for r in await replica.runs.recent("hourly")] == [
        (RunKindName.SYNC, "schedule")
    ]
    assert await replica.runs.recent("manual") == []


async def test_a_sync_is_due_again_after_its_interval() -> None:
    replica = Replica()
    replica.schedule("hourly", Frequency.EVERY_1H)
    replica.schedule("daily", Frequency.EVERY_24H)
    for tenant in ("hourly", "daily"):
        run = await replica.runs.enqueue(tenant, RunKindName.SYNC, "schedule")
        await replica.runs.finish(run, RunState.FINISHED, "Success", None, NOW - timedelta(hours=2))

    queued = await replica.scheduler.queue_due_syncs()

    assert queued == 1
    assert [r.state for r in await replica.runs.recent("hourly")] == [RunState.QUEUED, RunState.FINISHED]
    assert len(await replica.runs.recent("daily")) == 1


async def test_a_tenant_whose_budget_is_spent_for_the_day_is_not_queued() -> None:
    replica = Replica()
    replica.schedule("spent", Frequency.EVERY_1H)
    replica.budgets.closed_until["spent"] = (NOW + timedelta(hours=5)).timestamp()

    assert await replica.scheduler.queue_due_syncs() == 0
    assert await replica.runs.recent("spent") == []


async def test_a_tenants_open_runs_are_worked_in_order_until_one_pauses() -> None:
    replica = Replica()
    first = await replica.runs.enqueue("acme", RunKindName.IMPORT, "manual")
    paused = await replica.runs.enqueue("acme", RunKindName.IMPORT, "manual", {"pause": True})
    await replica.runs.enqueue("acme", RunKindName.SYNC, "manual")

    worked = await replica.scheduler.work_tenant("acme")

    assert worked == 2
    assert replica.worker.worked == [first.run_id, paused.run_id]
    assert [r.state for r in await replica.runs.recent("acme")] == [
        RunState.QUEUED, RunState.PAUSED, RunState.FINISHED,
    ]  # fmt: skip
    assert replica.locks.held == {}


async def test_a_tenant_another_replica_works_is_left_to_it() -> None:
    replica = Replica()
    other = replica.another()
    await replica.runs.enqueue("acme", RunKindName.SYNC, "manual")
    assert await other.locks.try_lock("acme")

    worked = await replica.scheduler.work_tenant("acme")
    await other.locks.unlock("acme")
    worked_after = await replica.scheduler.work_tenant("acme")

    assert (worked, worked_after) == (0, 1)
    assert (len(replica.worker.worked), other.worker.worked) == (1, [])
