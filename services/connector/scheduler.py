"""The scheduler: queues syncs that are due by each tenant's frequency (jittered per tenant; decided under a
per-tenant transaction lock, so replicas ticking together queue one), and works every tenant's open runs
one at a time under a PostgreSQL advisory lock, so two replicas never run one tenant at once. A run paused
by an exhausted budget waits for its reset; a tenant whose daily budget is closed gets no new scheduled
run. Each tenant is decided and worked on its own: what fails for one (a row that does not parse, an id
events cannot carry, its budget, its credentials) is logged and delays that tenant only."""

from __future__ import annotations

import asyncio
import functools
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connector.ports import DayBudget, RunLocks, RunQueue, RunWorker, ScheduledSettings
from connector.queued_runs import RunState
from pipedrive_client import Clock
from schemas.events.settings import Frequency
from stream_runner.errors import is_transient

_log = structlog.get_logger(__name__)
INTERVALS = {
    Frequency.EVERY_24H: timedelta(hours=24),
    Frequency.EVERY_6H: timedelta(hours=6),
    Frequency.EVERY_1H: timedelta(hours=1),
}


def jitter_of(tenant: str, spread_seconds: float) -> timedelta:
    """A stable per-tenant offset in [0, spread): tenants on one frequency do not all start together."""
    return timedelta(seconds=spread_seconds * (zlib.crc32(tenant.encode()) / 2**32))


def is_due(last_finished: datetime | None, frequency: Frequency, jitter: timedelta, now: datetime) -> bool:
    """Whether a scheduled sync is due (never for manual; at once for a tenant never synced)."""
    interval = INTERVALS.get(frequency)
    if interval is None:
        return False
    return last_finished is None or last_finished + interval + jitter <= now


def _log_failure(task: asyncio.Task[Any]) -> None:
    """Log a worker task that died: its run stays open and is taken up again at the next tick."""
    if not task.cancelled() and task.exception() is not None:
        _log.error("runs_worker_failed", worker=task.get_name(), exc_info=task.exception())


@dataclass(frozen=True)
class SchedulerTiming:
    """How often the scheduler ticks when nothing wakes it, and how far tenants' scheduled syncs are
    spread (`jitter_of`)."""

    interval_s: float
    jitter_s: float


class Scheduler:
    """Queues due syncs and works open runs."""

    def __init__(
        self,
        runs: RunQueue,
        tenant_settings: ScheduledSettings,
        budget: DayBudget,
        executor: RunWorker,
        locks: RunLocks,
        clock: Clock,
        work_available: asyncio.Event,
        timing: SchedulerTiming,
    ) -> None:
        self._runs = runs
        self._tenant_settings = tenant_settings
        self._budget = budget
        self._executor = executor
        self._locks = locks
        self._clock = clock
        self._work_available = work_available
        self._timing = timing
        self._active: dict[str, asyncio.Task[int]] = {}
        self._starter: asyncio.Task[None] | None = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def run(self, stop: asyncio.Event) -> None:
        """Worker: tick every few seconds (or when work is announced) until `stop`; then let runs end."""
        while not stop.is_set():
            self._work_available.clear()
            try:
                await self._tenant_settings.publish_pending()
                await self.queue_due_syncs()
                self.start_open_runs()
            except Exception as failure:  # a tick that fails is retried at the next one
                if is_transient(failure):  # the database or the broker away: said once a tick, briefly
                    _log.warning("scheduler_waiting", error=f"{type(failure).__name__}: {failure}"[:300])
                else:
                    _log.exception("scheduler_tick_failed")
            waiter = asyncio.ensure_future(self._work_available.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait(
                [waiter, stopper],
                timeout=self._timing.interval_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            waiter.cancel()
            stopper.cancel()
        if self._active:
            await asyncio.gather(*self._active.values(), return_exceptions=True)

    async def queue_due_syncs(self) -> int:
        """Queue a scheduled sync for every tenant that is due; returns how many were queued."""
        now, queued = self._now(), 0
        states = await self._runs.sync_states()
        for tenant, settings in await self._tenant_settings.tenants_by_frequency():
            jitter = jitter_of(tenant, self._timing.jitter_s)
            due = functools.partial(is_due, frequency=settings.frequency, jitter=jitter, now=now)
            has_open, last = states.get(tenant, (False, None))
            # Most tenants are not due at a given tick: only the due ones cost more than this loop.
            if has_open or not due(last):
                continue
            try:
                queued += await self._queue_if_due(tenant, due)
            except Exception as failure:
                if is_transient(failure):
                    raise
                _log.error("sync_not_queued", tenant=tenant, error=f"{type(failure).__name__}: {failure}")
        return queued

    async def _queue_if_due(self, tenant: str, due: functools.partial[bool]) -> int:
        if await self._budget.closed_for_day_until(tenant) is not None:
            return 0
        # Decided again under the tenant's lock: another replica may have queued it meanwhile.
        return int(await self._runs.enqueue_sync_if_due(tenant, "schedule", due) is not None)

    def start_open_runs(self) -> None:
        """Start a task per tenant with open work (none for a tenant this replica already works)."""
        self._active = {t: task for t, task in self._active.items() if not task.done()}
        if self._starter is None or self._starter.done():
            # Kept referenced: the event loop holds tasks only weakly.
            self._starter = asyncio.create_task(self._start_tenants(), name="runs-starter")
            self._starter.add_done_callback(_log_failure)

    async def _start_tenants(self) -> None:
        for tenant in await self._runs.tenants_with_work(self._now()):
            if tenant not in self._active:
                task = asyncio.create_task(self.work_tenant(tenant), name=f"runs-{tenant}")
                task.add_done_callback(_log_failure)
                self._active[tenant] = task

    async def work_tenant(self, tenant: str) -> int:
        """Run the tenant's open runs in order while holding its lock; returns how many were worked
        (0 when another replica holds the lock)."""
        worked = 0
        if not await self._locks.try_lock(tenant):
            return 0
        try:
            while (run := await self._runs.next_open(tenant, self._now())) is not None:
                done = await self._executor.work(run)
                worked += 1
                if done.state is RunState.PAUSED:
                    break
        finally:
            await self._locks.unlock(tenant)
        return worked
