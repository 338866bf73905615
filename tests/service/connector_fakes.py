"""The connector's ports in memory (`connector.ports`): the runs table as its SQL keeps it, the tenants'
scheduled settings, their daily budgets, the replicas' run locks and the webhooks' rows, checked against
PostgreSQL by tests/stores/test_connector_store.py."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.queued_runs import Counts, Run, RunKindName, RunState
from schemas.events.settings import TenantSettings

OPEN = (RunState.QUEUED, RunState.RUNNING, RunState.PAUSED)
_ORDER = {RunState.RUNNING: 0, RunState.PAUSED: 1, RunState.QUEUED: 2}


@dataclass
class InMemoryRuns:
    """`connector.ports.RunQueue` and `RunLifecycle`: runs by (tenant, run id), each queued at the next
    tick of a clock of its own (PostgreSQL's `now()` of the queueing transaction)."""

    rows: dict[tuple[str, str], Run] = field(default_factory=dict)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    _ticks: int = 0

    def _queued_at(self) -> datetime:
        self._ticks += 1
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=self._ticks)

    def _copy(self, run: Run) -> Run:
        return copy.deepcopy(run)

    def _insert(self, tenant: str, run_id: str, kind: RunKindName, trigger: str, spec: dict[str, Any]) -> Run:
        run = Run(
            tenant_id=tenant, run_id=run_id, kind=kind, trigger=trigger, state=RunState.QUEUED, spec=spec,
            progress={}, counts=Counts(), tokens_spent=0, queued_at=self._queued_at(),
        )  # fmt: skip
        self.rows[(tenant, run_id)] = run
        return self._copy(run)

    def _runs_of(self, tenant: str) -> list[Run]:
        return [r for (t, _), r in self.rows.items() if t == tenant]

    async def enqueue(
        self, tenant: str, kind: RunKindName, trigger: str, spec: dict[str, Any] | None = None
    ) -> Run:
        if kind is RunKindName.SYNC:
            queued = [r for r in self._runs_of(tenant) if r.kind is kind and r.state is RunState.QUEUED]
            if queued:
                return self._copy(min(queued, key=lambda r: r.queued_at or datetime.min))
        return self._insert(tenant, f"{kind.value}-{uuid.uuid4().hex[:16]}", kind, trigger, spec or {})

    async def enqueue_as(
        self, tenant: str, run_id: str, kind: RunKindName, trigger: str, spec: dict[str, Any]
    ) -> Run:
        if (tenant, run_id) in self.rows:
            return self._copy(self.rows[(tenant, run_id)])
        return self._insert(tenant, run_id, kind, trigger, spec)

    def _sync_state(self, tenant: str) -> tuple[bool, datetime | None]:
        syncs = [r for r in self._runs_of(tenant) if r.kind is RunKindName.SYNC]
        ends = [r.finished_at for r in syncs if r.finished_at is not None]
        return any(r.state in OPEN for r in syncs), max(ends, default=None)

    async def sync_states(self) -> dict[str, tuple[bool, datetime | None]]:
        tenants = {t for (t, _), r in self.rows.items() if r.kind is RunKindName.SYNC}
        return {tenant: self._sync_state(tenant) for tenant in tenants}

    async def enqueue_sync_if_due(
        self, tenant: str, trigger: str, due: Callable[[datetime | None], bool]
    ) -> Run | None:
        has_open, last = self._sync_state(tenant)
        if has_open or not due(last):
            return None
        return self._insert(tenant, f"sync-{uuid.uuid4().hex[:16]}", RunKindName.SYNC, trigger, {})

    async def get(self, tenant: str, run_id: str) -> Run | None:
        run = self.rows.get((tenant, run_id))
        return self._copy(run) if run is not None else None

    async def recent(self, tenant: str, limit: int = 50) -> list[Run]:
        runs = sorted(self._runs_of(tenant), key=lambda r: r.queued_at or datetime.min, reverse=True)
        return [self._copy(r) for r in runs[:limit]]

    def _workable(self, run: Run, now: datetime) -> bool:
        paused_until = run.resume_at is not None and run.resume_at <= now
        return run.state in (RunState.QUEUED, RunState.RUNNING) or (
            run.state is RunState.PAUSED and paused_until
        )

    async def next_open(self, tenant: str, now: datetime) -> Run | None:
        workable = [r for r in self._runs_of(tenant) if self._workable(r, now)]
        if not workable:
            return None
        return self._copy(min(workable, key=lambda r: (_ORDER[r.state], r.queued_at or datetime.min)))

    async def tenants_with_work(self, now: datetime) -> list[str]:
        return sorted({t for (t, _), r in self.rows.items() if self._workable(r, now)})

    async def request_cancel(self, tenant: str, run_id: str) -> Run | None:
        run = self.rows.get((tenant, run_id))
        if run is None:
            return None
        run.cancel_requested = True
        return self._copy(run)

    async def start(self, run: Run, now: datetime) -> bool:
        stored = self.rows[(run.tenant_id, run.run_id)]
        first = stored.started_at is None
        stored.state, stored.resume_at = RunState.RUNNING, None
        stored.started_at = stored.started_at or now
        if first:
            run.started_at = now
        run.state = RunState.RUNNING
        return first

    async def pause(self, run: Run, resume_at: datetime) -> None:
        run.state, run.resume_at = RunState.PAUSED, resume_at
        self._save(run)
        stored = self.rows[(run.tenant_id, run.run_id)]
        stored.state, stored.resume_at = RunState.PAUSED, resume_at

    async def finish(
        self, run: Run, state: RunState, status: str, message: str | None, now: datetime
    ) -> None:
        run.state, run.status, run.message, run.finished_at = state, status, message, now
        self._save(run)
        stored = self.rows[(run.tenant_id, run.run_id)]
        stored.state, stored.status, stored.message, stored.finished_at = state, status, message, now

    async def count_failure(self, run: Run) -> int:
        key = (run.tenant_id, run.run_id)
        self.failures[key] = self.failures.get(key, 0) + 1
        return self.failures[key]

    def _save(self, run: Run) -> None:
        stored = self.rows[(run.tenant_id, run.run_id)]
        stored.progress, stored.counts = copy.deepcopy(run.progress), copy.deepcopy(run.counts)
        stored.tokens_spent = run.tokens_spent


@dataclass
class InMemoryScheduledSettings:
    """`connector.ports.ScheduledSettings`: connected tenants with a schedule, and publications pending."""

    scheduled: dict[str, TenantSettings] = field(default_factory=dict)
    pending: int = 0

    async def publish_pending(self) -> int:
        published, self.pending = self.pending, 0
        return published

    async def tenants_by_frequency(self) -> list[tuple[str, TenantSettings]]:
        return sorted(self.scheduled.items())


@dataclass
class InMemoryBudgets:
    """`connector.ports.DayBudget`: the tenants whose day's budget is spent, and when it reopens."""

    closed_until: dict[str, float] = field(default_factory=dict)

    async def closed_for_day_until(self, tenant_id: str) -> float | None:
        return self.closed_until.get(tenant_id)


@dataclass
class InMemoryLocks:
    """`connector.ports.RunLocks` of one replica; replicas made with `sharing` hold locks in one place."""

    held: dict[str, object] = field(default_factory=dict)

    def sharing(self) -> InMemoryLocks:
        """Another replica's locks on the same lock table."""
        return InMemoryLocks(self.held)

    async def try_lock(self, tenant: str) -> bool:
        if tenant in self.held:
            return False
        self.held[tenant] = self
        return True

    async def unlock(self, tenant: str) -> None:
        if self.held.get(tenant) is self:
            del self.held[tenant]


@dataclass
class InMemoryWebhooks:
    """`connector.ports.WebhookDeliveries` and `WebhookSubscriptions`: per tenant its user, secret hash
    and webhook ids, the deliveries accepted and the hints they queued."""

    subscriptions: dict[str, tuple[str, bytes, list[int]]] = field(default_factory=dict)
    deliveries: set[tuple[str, str]] = field(default_factory=set)
    hints: list[tuple[str, str, int, str, int | None, str]] = field(default_factory=list)

    async def credentials(self, tenant: str) -> tuple[str | None, bytes | None]:
        user, secret_hash, _ = self.subscriptions.get(tenant, (None, None, []))
        return user, secret_hash

    async def accept(
        self,
        tenant: str,
        delivery_id: str,
        entity: str,
        pipedrive_id: int,
        action: str,
        merged_to_id: int | None,
    ) -> bool:
        if (tenant, delivery_id) in self.deliveries:
            return False
        self.deliveries.add((tenant, delivery_id))
        self.hints.append((tenant, entity, pipedrive_id, action, merged_to_id, delivery_id))
        return True

    async def subscription_ids(self, tenant: str) -> set[int]:
        return set(self.subscriptions[tenant][2]) if tenant in self.subscriptions else set()

    async def save_subscriptions(
        self, tenant: str, user: str, secret_hash: bytes, ids: Sequence[int]
    ) -> None:
        self.subscriptions[tenant] = (user, secret_hash, list(ids))

    async def forget_subscriptions(self, tenant: str) -> None:
        self.subscriptions.pop(tenant, None)
