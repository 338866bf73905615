"""The auditlog's ports: what its handlers, API and workers need of the world, stated as protocols.

The handlers write the activity log (runs, per-record entries, audit entries), each write claiming its
events in the inbox in the same transaction, and raise the alerts of runs' ends; the API reads the log of
the caller's tenant. The Postgres adapters (`activity_log_store`, `activity_read_store`, `alert_store`)
and the in-memory fakes of the service tests (`tests/service/auditlog_fakes.py`) both implement them, and
one store test suite (`tests/stores/test_auditlog_store.py`) runs against both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from auditlog.activity_entries import EntryEvent, RecordEntry
from auditlog.alert_rules import AlertSettings, RaisedAlert
from auditlog.run_views import LiveTally, Position, RunFilter, RunRelations, StoredRun
from schemas.events.audit import AuditRecorded
from schemas.events.sync_runs import RunFinished, RunStarted


class ActivityLog(Protocol):
    """Runs, entries and audit entries, each written once: a write of an event already applied (the
    inbox) writes nothing and answers False."""

    async def record_run_started(self, tenant: str, event_id: str, topic: str, run: RunStarted) -> bool:
        """Open a run (a run that already finished stays as it is)."""
        ...

    async def record_run_finished(self, tenant: str, event_id: str, topic: str, run: RunFinished) -> bool:
        """Close a run with its counts, tokens and status (creating it if its start was never seen), and
        settle the status shown for it and for the connector run it applies (`run_views.shown_status`)."""
        ...

    async def record_audit(self, tenant: str, event_id: str, topic: str, entry: AuditRecorded) -> bool:
        """Keep an audit entry."""
        ...

    async def record_entry(self, tenant: str, event_id: str, topic: str, entry: RecordEntry) -> bool:
        """Add one per-record entry, counted into its run's tally."""
        ...

    async def record_entries(self, events: Sequence[EntryEvent]) -> list[bool]:
        """Add the entries of many events at once, as `record_entry` one by one would: one flag per
        event, False for a repeat (already applied, or earlier in `events`)."""
        ...


class ActivityReads(Protocol):
    """The activity log as its API reads it: every read is of one tenant."""

    async def runs_page(
        self, tenant: str, where: RunFilter, after: Position | None, limit: int
    ) -> list[StoredRun]:
        """Up to `limit` runs started before `after` (time, run id), newest first."""
        ...

    async def run(self, tenant: str, run_id: str) -> StoredRun | None:
        """One run, or None."""
        ...

    async def relations(self, tenant: str, runs: Sequence[StoredRun]) -> dict[str, RunRelations]:
        """For each run: its entries' tally, its apply run and that run's tally, the runs retrying it."""
        ...

    async def tallies(self, tenant: str, run_ids: Sequence[str]) -> dict[str, LiveTally]:
        """The entries counted so far of each run that has any."""
        ...

    async def entries_page(
        self, tenant: str, run_id: str, outcome: str | None, after: Position | None, limit: int | None
    ) -> list[dict[str, Any]]:
        """Up to `limit` (None: all) of a run's entries after `after` (time, event id), oldest first, with
        the fields of `run_views.ENTRY_COLUMNS`."""
        ...

    async def audit_page(self, tenant: str, before: Position | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` audit entries at or before `before`'s time, newest first."""
        ...

    async def run_is_known(self, tenant: str, run_id: str) -> bool:
        """Whether the run, or any entry filed under it, exists."""
        ...


class AlertRaising(Protocol):
    """Where alerts are raised (`alert_store.AlertStore`)."""

    async def settings(self, tenant: str) -> AlertSettings:
        """The tenant's alert settings (the defaults until it saved its own)."""
        ...

    async def raise_alert(self, alert: RaisedAlert, now: datetime) -> str | None:
        """Raise an alert (None: an alert of its kind is already active within its debounce)."""
        ...
