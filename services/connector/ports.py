"""The connector's ports: what its scheduler, run executor, API and webhook receiver need of the world,
stated as protocols.

The scheduler queues due syncs and works each tenant's open runs under the tenant's lock; the run executor
stores a run's progress with what it emitted; the runs API queues, lists and cancels runs; the webhook
receiver checks a delivery's credentials and queues it once, and the webhook registration keeps the
tenant's subscriptions. The Postgres adapters (`run_store`, `settings_store`, `run_lock_store`,
`webhook_store`) and the in-memory fakes of the service tests
(`tests/service/connector_fakes.py`) both implement them, and one store test suite
(`tests/stores/test_connector_store.py`) runs against both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from connector.change_scan import Relation
from connector.queued_runs import Run, RunKindName, RunState
from connector.record_versions import Version
from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings


class RunQueue(Protocol):
    """The tenants' runs as the scheduler and the runs API see them: queued, worked in order, listed."""

    async def enqueue(
        self, tenant: str, kind: RunKindName, trigger: str, spec: dict[str, Any] | None = None
    ) -> Run:
        """Queue a new run; a queued sync of the tenant is reused instead of queueing a second one."""
        ...

    async def enqueue_as(
        self, tenant: str, run_id: str, kind: RunKindName, trigger: str, spec: dict[str, Any]
    ) -> Run:
        """Queue a run under an id the caller derived: a run of that id already there is answered."""
        ...

    async def sync_states(self) -> dict[str, tuple[bool, datetime | None]]:
        """Per tenant with syncs: whether one is open, and when the last one ended."""
        ...

    async def enqueue_sync_if_due(
        self, tenant: str, trigger: str, due: Callable[[datetime | None], bool]
    ) -> Run | None:
        """Queue a sync when the tenant has no open one and `due(when its last sync ended)` holds,
        decided once however many replicas ask at the same time."""
        ...

    async def get(self, tenant: str, run_id: str) -> Run | None:
        """One run of the tenant."""
        ...

    async def recent(self, tenant: str, limit: int = 50) -> list[Run]:
        """The tenant's latest runs, newest first."""
        ...

    async def next_open(self, tenant: str, now: datetime) -> Run | None:
        """The run to work on now: an interrupted one, then a paused one whose reset has come, then the
        oldest queued one."""
        ...

    async def tenants_with_work(self, now: datetime) -> list[str]:
        """Tenants with a run to work on now."""
        ...

    async def request_cancel(self, tenant: str, run_id: str) -> Run | None:
        """Ask an open run to stop."""
        ...


class RunLifecycle(Protocol):
    """What working a run changes of it: its start, a pause until the budget resets, a failure, its end."""

    async def start(self, run: Run, now: datetime) -> bool:
        """Mark the run running; True when it starts for the first time (not a resume)."""
        ...

    async def pause(self, run: Run, resume_at: datetime) -> None:
        """Park the run until the budget resets."""
        ...

    async def finish(
        self, run: Run, state: RunState, status: str, message: str | None, now: datetime
    ) -> None:
        """Close the run with its outcome."""
        ...

    async def count_failure(self, run: Run) -> int:
        """Count one more unexpected failure of the run; the failures so far."""
        ...


class RunProgress(Protocol):
    """A run's progress (counts, tokens) stored with what it emitted, each time in one transaction: after a
    crash either all of it holds, or none and the run emits the page again (same event ids), counted once."""

    async def record_page(
        self,
        run: Run,
        obj: SyncObject,
        versions: Sequence[tuple[int, Version]],
        *,
        deleted: bool = False,
        advance_to: datetime | None = None,
        relations: Mapping[int, Relation] | None = None,
    ) -> None:
        """An acknowledged page's versions (and what its records point to), the moved cursor and the run's
        progress."""
        ...

    async def checkpoint(
        self,
        run: Run,
        staged: Sequence[tuple[SyncObject, Sequence[tuple[int, Version]]]],
        first_emitted: Mapping[SyncObject, Sequence[int]] | None,
        *,
        new: bool = False,
    ) -> bool:
        """The run's progress with versions staged since the last checkpoint and the ids it emitted for the
        first time (`first_emitted`, which it must not emit again); whether a cancel was requested. `new`:
        no record of the staged versions had a stored version when its page was looked up (an insert
        without conflict handling may store them, falling back to the upsert when one has one since)."""
        ...

    async def emitted_by_run(self, run: Run, obj: SyncObject, ids: Sequence[int]) -> set[int]:
        """Those of `ids` the run has already emitted for the first time (an import's organizations and
        persons)."""
        ...


class SyncCursors(Protocol):
    """How far a tenant's records were read and what was emitted of each, as a run's work reads and marks
    it (the pages' versions and cursors themselves are stored with the run's progress: `RunProgress`)."""

    async def cursor(self, tenant: str, obj: SyncObject) -> datetime | None:
        """The highest update_time emitted for the object (None before the first read)."""
        ...

    async def emitted(self, tenant: str, obj: SyncObject, ids: Sequence[int]) -> dict[int, Version]:
        """The last emitted version of each of `ids` that has one."""
        ...

    async def relations(
        self, tenant: str, obj: SyncObject, ids: Sequence[int]
    ) -> dict[int, tuple[int | None, int | None]]:
        """The organization and person each of `ids` pointed to when last emitted."""
        ...

    async def scanned_through(self, tenant: str) -> datetime | None:
        """Up to when the tenant's changes were last scanned (None: never)."""
        ...

    async def mark_scanned(self, tenant: str, through: datetime) -> None:
        """Record that every change up to `through` was seen (never moves back)."""
        ...

    async def live_ids(self, tenant: str, obj: SyncObject) -> set[int]:
        """Ids emitted as live (not deleted) for the object."""
        ...

    async def mark_reconciled(self, tenant: str, obj: SyncObject, at: datetime) -> None:
        """Record a finished reconciliation of the object's ids."""
        ...


class ScheduledSettings(Protocol):
    """The tenants' settings as the scheduler reads them (and publishes what failed to publish)."""

    async def publish_pending(self) -> int:
        """Publish every saved version whose publication failed; how many were."""
        ...

    async def tenants_by_frequency(self) -> list[tuple[str, TenantSettings]]:
        """Every connected tenant with scheduled syncs, and its settings."""
        ...


class DayBudget(Protocol):
    """The tenants' daily Pipedrive budget, as far as scheduling asks."""

    async def closed_for_day_until(self, tenant_id: str) -> float | None:
        """When today's exhausted budget reopens (epoch seconds), or None when it is not closed."""
        ...


class RunLocks(Protocol):
    """Which replica works a tenant's runs."""

    async def try_lock(self, tenant: str) -> bool:
        """Take the tenant's lock unless another replica (or this one) holds it."""
        ...

    async def unlock(self, tenant: str) -> None:
        """Release the tenant's lock."""
        ...


class RunWorker(Protocol):
    """Works a run as far as it goes now (`run_executor.RunExecutor`)."""

    async def work(self, run: Run) -> Run:
        """Carry the run to its end, or to a pause until the budget resets."""
        ...


class WebhookDeliveries(Protocol):
    """The receiver's side of a tenant's webhooks: its credentials and the deliveries accepted."""

    async def credentials(self, tenant: str) -> tuple[str | None, bytes | None]:
        """The tenant's webhook user and secret hash ((None, None): it has no webhooks)."""
        ...

    async def accept(
        self,
        tenant: str,
        delivery_id: str,
        entity: str,
        pipedrive_id: int,
        action: str,
        merged_to_id: int | None,
    ) -> bool:
        """Record a delivery and queue its hint, once per delivery id; False for one seen before."""
        ...


class WebhookSubscriptions(Protocol):
    """The webhooks registered for each tenant in Pipedrive."""

    async def subscription_ids(self, tenant: str) -> set[int]:
        """The ids of the webhooks registered for the tenant."""
        ...

    async def save_subscriptions(
        self, tenant: str, user: str, secret_hash: bytes, ids: Sequence[int]
    ) -> None:
        """Keep the tenant's webhooks and their Basic auth user and secret hash."""
        ...

    async def forget_subscriptions(self, tenant: str) -> None:
        """The tenant has no webhooks any more."""
        ...
