"""The mapper's ports: what its handlers need of the world, stated as protocols.

A handler opens a unit of work (one transaction) and finds there the inbox (which events were applied,
and what they produced), the ABM store (records and their Pipedrive links) and the apply runs; it reads
tenant settings from the settings replica. The Postgres adapters (`mapper.store`) and the in-memory
fakes of the service tests (`tests/service`) both implement them, and one store test suite runs against
both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from mapper.apply_runs import CompletedRun, RunRef, RunsTallied
from mapper.planning import StoredRecord
from schemas.events.abm_signals import VisitedPage
from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings
from schemas.events.sync_runs import RunCounts, RunFinished
from stream_runner.messages import EventRef, OutgoingMessage

LinkKey = tuple[str, str, int]
"""(tenant, object, Pipedrive id): a link of the ABM store."""

RecordRow = dict[str, Any]
"""An ABM record as the batch view loads it: tenant_id, abm_id, match_key, is_duplicate, fields,
deleted_in_crm."""

LinkRow = dict[str, Any]
"""A link as the batch view loads it: abm_id, source_update_time, deleted_in_crm, merged_into_id."""


class Inbox(Protocol):
    """Which events the mapper applied, and the messages each produced (re-sent on a redelivery)."""

    async def claim(self, tenant: str, event_id: str, topic: str) -> bool:
        """Record the event as applied now; False when it already was."""
        ...

    async def claim_batch(self, events: Sequence[tuple[str, str, str]]) -> list[bool]:
        """Claim (tenant, event id, topic) at once; True for the first claim of each event applied now."""
        ...

    async def claim_with_outputs(
        self, events: Sequence[tuple[str, str, str, Sequence[OutgoingMessage]]]
    ) -> int:
        """Claim (tenant, event id, topic) with what each produced, at once; how many were not applied
        before (those applied before are left as they were)."""
        ...

    async def claim_all_with_outputs(
        self, events: Sequence[tuple[str, str, str, Sequence[OutgoingMessage]]]
    ) -> bool:
        """`claim_with_outputs` for a batch that must be new as a whole: True when every event was
        claimed; False when one was applied before, and the unit of work can then only be rolled back
        (none of the batch's events is claimed)."""
        ...

    async def saved_outputs(self, tenant: str, event_id: str) -> list[OutgoingMessage]:
        """What an applied event produced."""
        ...

    async def saved_outputs_of(self, events: Sequence[EventRef]) -> dict[EventRef, list[OutgoingMessage]]:
        """What each of these applied events produced."""
        ...

    async def save_outputs(self, tenant: str, event_id: str, outputs: Sequence[OutgoingMessage]) -> None:
        """Keep what an event applied now produced."""
        ...

    async def save_outputs_of(self, outputs: Sequence[tuple[str, str, Sequence[OutgoingMessage]]]) -> None:
        """Keep what each of these events applied now produced."""
        ...


class AbmRecords(Protocol):
    """The ABM store: accounts, contacts and opportunities, and their links to Pipedrive records."""

    async def record_by_key(self, tenant: str, obj: SyncObject, match_key: str) -> StoredRecord | None:
        """The (non-duplicate) record holding a match key, locked."""
        ...

    async def create_record(
        self, tenant: str, obj: SyncObject, abm_id: str, match_key: str | None, fields: Mapping[str, Any]
    ) -> None:
        """A new record."""
        ...

    async def update_record(
        self, tenant: str, obj: SyncObject, abm_id: str, changes: Mapping[str, Any]
    ) -> None:
        """Changed fields written over a record (its CRM deletion mark stays)."""
        ...

    async def count_reveal(
        self, tenant: str, abm_id: str, revealed_at: datetime, pages: Sequence[VisitedPage], keep: int
    ) -> None:
        """One more reveal of an account: its count, its latest time, its `keep` most recent pages."""
        ...

    async def set_score(self, tenant: str, abm_id: str, score: float, changed_at: datetime) -> None:
        """An account's engagement score, unless a later one was set."""
        ...

    async def mark_deleted_in_crm(
        self, tenant: str, obj: SyncObject, pipedrive_id: int, abm_id: str | None, version: datetime
    ) -> None:
        """Pipedrive no longer has the record: its link, and its ABM record unless another live link
        holds it, are marked deleted."""
        ...

    async def mark_in_crm(self, tenant: str, obj: SyncObject, abm_id: str) -> None:
        """The record exists in Pipedrive again: its CRM deletion mark is cleared."""
        ...

    async def link_if_unlinked(
        self, tenant: str, obj: SyncObject, pipedrive_id: int, abm_id: str, version: datetime
    ) -> bool:
        """Link a Pipedrive id that has no link yet; False when it had one."""
        ...

    async def lock_match_keys(self, keys: Sequence[tuple[str, SyncObject, str]]) -> None:
        """Hold (tenant, object, match key) locks until the unit of work ends, waiting for a unit that
        holds one; taken in one fixed order, so two units never wait on each other in a cycle."""
        ...

    async def links(self, keys: Sequence[LinkKey], *, lock: bool = True) -> dict[LinkKey, LinkRow]:
        """Links by (tenant, object, Pipedrive id), locked unless `lock` is false."""
        ...

    async def records_by_id(
        self, obj: SyncObject, keys: Sequence[tuple[str, str]], *, lock: bool = True
    ) -> list[RecordRow]:
        """Records of one object by (tenant, ABM id)."""
        ...

    async def records_by_key(
        self, obj: SyncObject, keys: Sequence[tuple[str, str]], *, lock: bool = True
    ) -> list[RecordRow]:
        """Non-duplicate records of one object by (tenant, match key), each with `linked_id`: the Pipedrive
        id of a live link that holds it (any one, should two), None when none does."""
        ...

    async def insert_records(self, obj: SyncObject, rows: Sequence[tuple[Any, ...]]) -> None:
        """New records: (tenant, abm id, match key, is duplicate, fields, deleted in CRM)."""
        ...

    async def update_records(self, obj: SyncObject, rows: Sequence[tuple[Any, ...]]) -> None:
        """Changed records: (tenant, abm id, fields, deleted in CRM), fields as a whole."""
        ...

    async def save_links(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Links as a batch ends them: (tenant, object, Pipedrive id, abm id, version, deleted, merged)."""
        ...

    async def insert_links(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Links the batch found no row of (rows as in `save_links`); fails when one exists."""
        ...

    async def repoint_associations(self, tenant: str, obj: SyncObject, merged: int, survivor: int) -> None:
        """Records that pointed to a Pipedrive record merged away point to its survivor."""
        ...


class ApplyRuns(Protocol):
    """The apply runs' tallies, and the source changes dead-lettered (each counted once as failed)."""

    async def add_applied(self, tallies: Mapping[RunRef, RunCounts]) -> RunsTallied:
        """Add a batch's outcomes to their runs; the runs this started and those it completed."""
        ...

    async def add_emitted(self, tenant: str, finished: RunFinished) -> list[CompletedRun]:
        """Record how many changes a connector run emitted; the run if that completed it."""
        ...

    async def claim_dead_letter(self, tenant: str, event_id: str) -> list[OutgoingMessage] | None:
        """Record a change as dead-lettered; None the first time, else what it produced then."""
        ...

    async def save_dead_letter_outputs(
        self, tenant: str, event_id: str, outputs: Sequence[OutgoingMessage]
    ) -> None:
        """Keep what a dead-lettered change produced, for when it fails again."""
        ...


class MapperUnit(Protocol):
    """One unit of work: everything it writes commits together, or nothing does."""

    @property
    def inbox(self) -> Inbox: ...

    @property
    def records(self) -> AbmRecords: ...

    @property
    def runs(self) -> ApplyRuns: ...


class MapperStore(Protocol):
    """Where the mapper keeps what it applied."""

    def unit(self) -> AbstractAsyncContextManager[MapperUnit]:
        """A unit of work: committed when the block ends, rolled back when it raises."""
        ...

    def dry_run(self) -> AbstractAsyncContextManager[AbmRecords]:
        """The ABM store read without locks, for a plan that writes nothing."""
        ...

    async def applied_outputs_of(self, events: Sequence[EventRef]) -> dict[EventRef, list[OutgoingMessage]]:
        """What each of these events that was applied already produced, outside any unit of work (an
        event is applied with its outputs in one transaction); those not applied are absent."""
        ...


class TenantSettingsSource(Protocol):
    """The mapper's replica of tenant settings."""

    async def get(self, tenant: str) -> TenantSettings | None:
        """The tenant's current settings (None before any was published)."""
        ...

    async def store_all(self, updates: Sequence[tuple[str, str, TenantSettings]]) -> list[bool]:
        """Keep each tenant's newest of these (tenant, event id, settings) unless as new or newer ones are
        kept; True for each one stored."""
        ...
