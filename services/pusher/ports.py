"""The pusher's ports: what its handlers need of the world, stated as protocols.

A handler reads tenant settings from the settings replica, and finds in a unit of work (one transaction)
the inbox (which events were applied, and what they produced), the push ledger (what the pusher created
and wrote), the mirror (the tenant's Pipedrive records) and the push runs (manual batches, auto-push
windows). A view is the same tables outside any transaction: for reads, and for the writes that must
commit on their own (a create's intent, before its POST). Parked pushes, custom field codes and visit
activities have stores of their own. Pipedrive is reached through `PipedriveWriter`.

The Postgres adapters (`pusher.store` and the `*_store` modules) and the in-memory fakes of the service
tests (`tests/service/pusher_fakes.py`) both implement them, and one store test suite runs against both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pipedrive_client.models import FieldDefinition
from pusher.planning import PipedriveRecord
from pusher.push_ledger import LedgerEntry
from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings
from schemas.events.source_changes import SourceChange
from schemas.events.sync_runs import RunCounts
from stream_runner.messages import OutgoingMessage


class Inbox(Protocol):
    """Which events the pusher applied, and the messages each produced (re-sent on a redelivery)."""

    async def claim(self, tenant: str, event_id: str, topic: str) -> bool:
        """Record the event as applied now; False when it already was."""
        ...

    async def applied_outputs(self, tenant: str, event_id: str) -> list[OutgoingMessage] | None:
        """What an applied event produced, or None when it was not applied."""
        ...

    async def saved_outputs(self, tenant: str, event_id: str) -> list[OutgoingMessage]:
        """What an applied event produced."""
        ...

    async def save_outputs(self, tenant: str, event_id: str, outputs: Sequence[OutgoingMessage]) -> None:
        """Keep what an event applied now produced."""
        ...


RecordRef = tuple[str, SyncObject, int]
"""(tenant, object, Pipedrive id): a Pipedrive record."""

MirrorChange = tuple[str, SourceChange, str | None, bool]
"""(tenant, change, the match key it is mirrored under, whether it is the echo of the pusher's write)."""


class PushLedger(Protocol):
    """What the pusher is about to create, what it wrote, when, and with what result."""

    async def entry(self, tenant: str, obj: SyncObject, match_key: str) -> LedgerEntry | None:
        """The record's row, or None when the pusher never wrote it."""
        ...

    async def entries_by_pipedrive_ids(self, records: Sequence[RecordRef]) -> dict[RecordRef, LedgerEntry]:
        """The row of the record the pusher last wrote under each Pipedrive id, in one read (records the
        pusher never wrote are absent)."""
        ...

    async def record_intent(
        self, tenant: str, obj: SyncObject, match_key: str, body: Mapping[str, Any]
    ) -> None:
        """The intent to create (call on a view: it must be committed before the POST is sent)."""
        ...

    async def drop_intent(self, tenant: str, obj: SyncObject, match_key: str) -> None:
        """Forget an intent whose POST Pipedrive refused outright (nothing can have been created)."""
        ...

    async def record_write(
        self,
        tenant: str,
        obj: SyncObject,
        match_key: str,
        pipedrive_id: int,
        body: Mapping[str, Any],
        version: datetime | None = None,
    ) -> None:
        """A create's result or an update: the Pipedrive id, the values written (merged in) and the
        version the write produced (an empty body wrote nothing: the last write's version is kept)."""
        ...

    async def keep_held(
        self, tenant: str, obj: SyncObject, match_key: str, written: Mapping[str, Any]
    ) -> None:
        """Forget written values Pipedrive no longer holds (a person changed them since)."""
        ...


class Mirror(Protocol):
    """The tenant's Pipedrive records as the pusher last saw them (version-guarded by `update_time`)."""

    async def apply_changes(self, changes: Sequence[MirrorChange]) -> list[bool]:
        """Mirror source changes in order, set-based, each kept unless a newer version is mirrored (a
        version never over a merge) or the mirror holds it already (a redelivered change is not written
        again); one flag per change, True when it changed the mirror."""
        ...

    async def upsert(
        self,
        tenant: str,
        obj: SyncObject,
        pipedrive_id: int,
        record: Mapping[str, Any],
        update_time: datetime,
        match_key: str | None,
        *,
        echo: bool = False,
    ) -> bool:
        """Mirror one record version (older versions than the mirrored one, and the one mirrored
        already, are ignored); True when it changed the mirror."""
        ...

    async def by_id(self, tenant: str, obj: SyncObject, pipedrive_id: int) -> PipedriveRecord | None:
        """The mirrored record with this id (deleted ones included), or None."""
        ...

    async def by_match_key(self, tenant: str, obj: SyncObject, match_key: str) -> PipedriveRecord | None:
        """The live mirrored record with this match key (the oldest, when Pipedrive holds several)."""
        ...

    async def gone_by_match_key(self, tenant: str, obj: SyncObject, match_key: str) -> PipedriveRecord | None:
        """The record with this match key that Pipedrive deleted or merged away last, or None."""
        ...

    async def mark_deleted(self, tenant: str, obj: SyncObject, pipedrive_id: int, at: datetime) -> None:
        """Pipedrive answered 404 for the record: it is deleted (a merge already known is kept)."""
        ...

    async def open_deals_of(self, tenant: str, org_id: int) -> list[PipedriveRecord]:
        """The organization's live open deals."""
        ...


@dataclass(frozen=True)
class PushRun:
    """A push run's row: a manual batch (`expected` records) or an auto-push window."""

    tenant: str
    run_id: str
    counts: RunCounts
    tokens: int
    started_at: datetime
    expected: int | None
    finished: bool


class PushRuns(Protocol):
    """The runs the pusher counts: manual batches and hourly auto-push windows."""

    async def open_window(self, tenant: str, run_id: str, started_at: datetime) -> bool:
        """Open an auto-push window's run; False when it was open already."""
        ...

    async def open_batch(self, tenant: str, run_id: str, expected: int, started_at: datetime) -> None:
        """Open a manual batch's run of `expected` records (once)."""
        ...

    async def add(self, tenant: str, run_id: str, counts: RunCounts, tokens: int) -> PushRun | None:
        """Add outcomes and tokens to an open run; its row (None when no such run)."""
        ...

    async def mark_finished(self, tenant: str, run_id: str) -> None:
        """The run's end was reported."""
        ...

    async def ended_windows(self, now: datetime) -> list[PushRun]:
        """Auto-push windows not reported whose hour ended before `now`."""
        ...


class PusherUnit(Protocol):
    """The pusher's tables on one connection: in a unit of work everything written commits together."""

    @property
    def inbox(self) -> Inbox: ...

    @property
    def ledger(self) -> PushLedger: ...

    @property
    def mirror(self) -> Mirror: ...

    @property
    def runs(self) -> PushRuns: ...


@dataclass(frozen=True)
class ParkedRow:
    """A parked push: the event (as its encoded text), why and until when it waits, where it was read."""

    tenant: str
    event_id: str
    topic: str
    event: str
    parked_at: datetime
    failures: int
    origin_partition: int | None
    origin_offset: int | None
    origin_key: str | None


class DueParked(Protocol):
    """A parked push due now, locked for one re-driver until the block ends (rolled back if it raises)."""

    @property
    def row(self) -> ParkedRow: ...

    @property
    def runs(self) -> PushRuns: ...

    async def reschedule(self, resume_at: datetime, reason: str, failures: int) -> None:
        """Wait again until `resume_at`."""
        ...

    async def remove(self) -> None:
        """The push is done (re-driven or given up)."""
        ...


class ParkedStore(Protocol):
    """Pushes paused by the tenant's Pipedrive budget, kept whole until it reopens."""

    async def park(
        self,
        tenant: str,
        event_id: str,
        topic: str,
        event: str,
        resume_at: datetime,
        reason: str,
        origin: tuple[int | None, int | None, str | None],
    ) -> None:
        """Keep an event until `resume_at` (a redelivered event is parked once); `origin` is its
        partition, offset and key."""
        ...

    async def tenant_paused(self, tenant: str) -> bool:
        """Whether the tenant has pushes waiting."""
        ...

    async def count(self, tenant: str) -> int:
        """How many of the tenant's pushes wait."""
        ...

    async def counts(self) -> dict[str, int]:
        """How many pushes wait, per tenant that has any."""
        ...

    def next_due(self) -> AbstractAsyncContextManager[DueParked | None]:
        """The oldest due push of a tenant none of whose older pushes wait, locked (None when none)."""
        ...


class FieldCodeSlot(Protocol):
    """One custom field's code being found or created, alone (one caller per label at a time)."""

    async def known(self) -> str | None:
        """The code kept already."""
        ...

    async def keep(self, code: str) -> None:
        """Keep the code found or created."""
        ...


class FieldCodes(Protocol):
    """Custom field codes by label, per tenant and object."""

    async def known(self, tenant: str, obj: SyncObject, label: str) -> str | None:
        """The code kept for the label, or None."""
        ...

    def slot(self, tenant: str, obj: SyncObject, label: str) -> AbstractAsyncContextManager[FieldCodeSlot]:
        """The label's code under a lock held until the block ends (across replicas)."""
        ...

    async def forget(self, tenant: str, obj: SyncObject, label: str) -> None:
        """Drop a code Pipedrive no longer knows."""
        ...


@dataclass(frozen=True)
class VisitState:
    """Whether a reveal's activity is intended or done, and since when it is intended."""

    state: str
    intent_at: datetime


class VisitLog(Protocol):
    """Which reveal events added their visited-pages activity (each write commits by itself)."""

    async def state(self, tenant: str, event_id: str) -> VisitState | None:
        """The event's row, or None."""
        ...

    async def record_intent(self, tenant: str, event_id: str, org_id: int) -> None:
        """The intent to add the activity (committed before the POST)."""
        ...

    async def record_done(self, tenant: str, event_id: str, activity_id: int) -> None:
        """The activity was added."""
        ...

    async def forget_intent(self, tenant: str, event_id: str) -> None:
        """Pipedrive refused the POST outright: nothing was added."""
        ...


class PusherStore(Protocol):
    """Where the pusher keeps what it pushed."""

    def unit(self) -> AbstractAsyncContextManager[PusherUnit]:
        """A unit of work: committed when the block ends, rolled back when it raises."""
        ...

    def view(self) -> AbstractAsyncContextManager[PusherUnit]:
        """The tables outside any transaction: each write commits by itself."""
        ...

    def record_lock(self, tenant: str, obj: SyncObject, match_key: str) -> AbstractAsyncContextManager[None]:
        """Pushes of one record one at a time, across replicas and the re-driver."""
        ...

    @property
    def parked(self) -> ParkedStore: ...

    @property
    def field_codes(self) -> FieldCodes: ...

    @property
    def visits(self) -> VisitLog: ...


class TenantSettingsSource(Protocol):
    """The pusher's replica of tenant settings."""

    async def get(self, tenant: str) -> TenantSettings | None:
        """The tenant's current settings (None before any was published)."""
        ...

    async def store_all(self, updates: Sequence[tuple[str, str, TenantSettings]]) -> list[bool]:
        """Keep each tenant's newest of these (tenant, event id, settings) unless as new or newer ones are
        kept; True for each one stored."""
        ...


class PipedriveWriter(Protocol):
    """One push's calls to one tenant's Pipedrive, counting the tokens they cost (`PipedriveWrites`)."""

    tokens: int

    async def create(self, obj: SyncObject, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a record; returns it as Pipedrive answered."""
        ...

    async def update(self, obj: SyncObject, pipedrive_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH a record (raises `NotFound` when Pipedrive does not have it)."""
        ...

    async def get(self, obj: SyncObject, pipedrive_id: int) -> dict[str, Any] | None:
        """One record, None when Pipedrive does not know it."""
        ...

    async def find_by_match_key(
        self,
        obj: SyncObject,
        match_key: str,
        planned_body: Mapping[str, Any],
        settings: TenantSettings | None,
    ) -> list[dict[str, Any]]:
        """Live records whose match key under the tenant's domain settings is `match_key`."""
        ...

    async def field_definitions(self, obj: SyncObject) -> list[FieldDefinition]:
        """Every field definition of the object."""
        ...

    async def create_field(self, obj: SyncObject, label: str, field_type: str) -> FieldDefinition:
        """Create a custom field."""
        ...

    async def add_activity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Add an activity."""
        ...

    async def activities_of_organization(self, org_id: int) -> list[dict[str, Any]]:
        """Every activity of one organization."""
        ...

    async def users_by_email(self) -> dict[str, int]:
        """Active users' ids by lowercased email."""
        ...


WritesFor = Callable[[str], PipedriveWriter]
"""A tenant's Pipedrive, for one push."""
