"""The auditlog's ports: what its handlers, API and workers need of the world, stated as protocols.

The handlers write the activity log (runs, per-record entries, audit entries), each write claiming its
events in the inbox in the same transaction, and raise the alerts of runs' ends; the API reads the log of
the caller's tenant. The Postgres adapters (`activity_log_store`, `activity_read_store`, `alert_store`)
and the in-memory fakes of the service tests (`tests/service/auditlog_fakes.py`) both implement them, and
one store test suite (`tests/stores/test_auditlog_store.py`) runs against both.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from auditlog.activity_entries import EntryEvent, EntryRow, RecordEntry
from auditlog.alert_rules import AlertSettings, RaisedAlert
from auditlog.retry_rules import FailedRecord, Refusal, RetryWork
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

    async def record_entry_rows(self, rows: Sequence[EntryRow]) -> list[bool]:
        """`record_entries` of the events whose entries' rows these are (`activity_entries.entry_row`):
        one flag per row."""
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


class AlertAdmin(Protocol):
    """A tenant's alert settings and its active alerts, as the alerts API reads and changes them
    (`alert_store.AlertStore`)."""

    async def settings(self, tenant: str) -> AlertSettings:
        """The tenant's alert settings (the defaults until it saved its own)."""
        ...

    async def save_settings(self, tenant: str, settings: AlertSettings) -> None:
        """Replace the tenant's alert settings."""
        ...

    async def active_alerts(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The tenant's alerts nobody acknowledged yet, newest first, with their delivery's state."""
        ...

    async def acknowledge(self, tenant: str, alert_id: str, by: str | None) -> bool:
        """Take an alert off the banner; False when the tenant has no such alert."""
        ...


@dataclass(frozen=True)
class Delivery:
    """A webhook delivery due now: the alert's body and where it goes (None: the tenant has no webhook
    any more), and how many attempts it has had, this one included."""

    tenant: str
    alert_id: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    webhook_url: str | None


class AlertOutbox(Protocol):
    """The queued webhook deliveries of every tenant's alerts, as the delivery worker works them
    (`alert_store.AlertStore`)."""

    async def claim_due_deliveries(self, limit: int, lease_s: float) -> list[Delivery]:
        """Deliveries due now, each leased for `lease_s`, with its attempt counted."""
        ...

    async def delivered(self, delivery: Delivery) -> None:
        """Record a delivery the receiver accepted."""
        ...

    async def retry_later(self, delivery: Delivery, error: str, after_s: float | None) -> None:
        """Record a failed attempt: try again after `after_s`, or give up (None)."""
        ...


class RetryDecision(Protocol):
    """One decision about retrying a run, taken while no other request decides about it."""

    async def running_retry(self) -> str | None:
        """A retry of the run that has not ended, if any."""
        ...

    async def next_attempt(self) -> int:
        """The number of the next retry of the run."""
        ...

    async def record(self, work: RetryWork, at: datetime) -> None:
        """The accepted retry as a running run of the activity log (its service's start fills it in)."""
        ...


class RunRetries(Protocol):
    """A run's failed records and the decisions about retrying it (`retry_store.ActivityRetries`)."""

    async def failed_records(self, tenant: str, run_ids: Sequence[str]) -> list[FailedRecord]:
        """The distinct records that failed in any of the runs."""
        ...

    def deciding(self, tenant: str, first_run_id: str) -> AbstractAsyncContextManager[RetryDecision]:
        """The retries of one run, decided one request at a time."""
        ...


class RetrySending(Protocol):
    """Asks the service that works a retry to start it (`retry_requests.RetryRequests`)."""

    async def send(self, work: RetryWork, authorization: str, actor: str | None) -> Refusal | None:
        """None when the service accepted the retry, its refusal when it answered a 4xx; raises
        `RetryUndeliverable` when it did not answer as its API says."""
        ...
