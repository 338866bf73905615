"""The auditlog's ports in memory (`auditlog.ports`): the activity log's tables as its SQL keeps them (runs,
entries, run tallies (`tally_rows`), audit entries, the inbox) and the alerts, checked against PostgreSQL by
tests/stores/test_auditlog_store.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from auditlog.activity_entries import (
    EntryEvent,
    EntryRow,
    RecordEntry,
    applies_run_of,
    entry_row,
    tally_entries,
)
from auditlog.alert_rules import AlertSettings, RaisedAlert, alert_id_of
from auditlog.run_views import (
    ENTRY_COLUMNS,
    LiveTally,
    Position,
    Reason,
    RunFilter,
    RunRelations,
    StoredRun,
    merged_reasons,
    shown_status,
)
from postgres_store.inbox import first_claims
from schemas.events.audit import AuditRecorded
from schemas.events.common import RecordOutcome
from schemas.events.sync_runs import RunCounts, RunFinished, RunStarted
from tests.service.inbox_fake import InMemoryInbox

RunKey = tuple[str, str]
TallyKey = tuple[str, str, str, str]


@dataclass
class InMemoryActivityLog:
    """`auditlog.ports.ActivityLog` and `ActivityReads`: runs by (tenant, run id), entries and audit
    entries by (tenant, event id), tallies by (tenant, run id, outcome, reason)."""

    inbox: InMemoryInbox = field(default_factory=InMemoryInbox)
    runs: dict[RunKey, StoredRun] = field(default_factory=dict)
    entries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    tally_rows: dict[TallyKey, tuple[int, int]] = field(default_factory=dict)
    audit: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    async def record_run_started(self, tenant: str, event_id: str, topic: str, run: RunStarted) -> bool:
        if not await self.inbox.claim(tenant, event_id, topic):
            return False
        known = self.runs.get((tenant, run.run_id))
        if known is not None:
            self.runs[(tenant, run.run_id)] = replace(known, trigger=run.trigger)
            return True
        self.runs[(tenant, run.run_id)] = StoredRun(
            run_id=run.run_id, service=run.service, kind=run.kind.value, direction=run.direction.value,
            objects=tuple(o.value for o in run.objects), trigger=run.trigger, started_at=run.started_at,
            finished_at=None, counts=RunCounts(), tokens_spent=0, own_status=None, status=None,
            message=None, applies_run_id=applies_run_of(run), retry_of=run.retry_of,
        )  # fmt: skip
        return True

    async def record_run_finished(self, tenant: str, event_id: str, topic: str, run: RunFinished) -> bool:
        if not await self.inbox.claim(tenant, event_id, topic):
            return False
        applies = applies_run_of(run)
        known = self.runs.get((tenant, run.run_id))
        objects = tuple(o.value for o in run.objects)
        self.runs[(tenant, run.run_id)] = StoredRun(
            run_id=run.run_id,
            service=known.service if known else run.service,
            kind=known.kind if known else run.kind.value,
            direction=known.direction if known else run.direction.value,
            objects=objects if objects or known is None else known.objects,
            trigger=known.trigger if known else None,
            started_at=known.started_at if known else run.started_at,
            finished_at=run.finished_at, counts=run.counts, tokens_spent=run.tokens_spent,
            own_status=run.status, status=known.status if known else None, message=run.message,
            emitted=run.emitted,
            applies_run_id=applies if applies is not None else (known.applies_run_id if known else None),
            retry_of=run.retry_of if run.retry_of is not None else (known.retry_of if known else None),
        )  # fmt: skip
        self._settle_status(tenant, run.run_id)
        if applies is not None:
            self._settle_status(tenant, applies)
        return True

    def _settle_status(self, tenant: str, run_id: str) -> None:
        run = self.runs.get((tenant, run_id))
        if run is None:
            return
        applying = self._apply_run_of(tenant, run_id)
        status = shown_status(run.own_status, run.emitted, applying.own_status if applying else None)
        self.runs[(tenant, run_id)] = replace(run, status=status)

    def _apply_run_of(self, tenant: str, run_id: str) -> StoredRun | None:
        return next(
            (r for (t, _), r in self.runs.items() if t == tenant and r.applies_run_id == run_id), None
        )

    async def record_audit(self, tenant: str, event_id: str, topic: str, entry: AuditRecorded) -> bool:
        if not await self.inbox.claim(tenant, event_id, topic):
            return False
        self.audit[(tenant, event_id)] = {
            "event_id": event_id, "action": entry.action.value, "actor_key_id": entry.actor.key_id,
            "actor_name": entry.actor.name, "at": entry.at,
            "changes": [c.model_dump(mode="json") for c in entry.changes], "detail": entry.detail,
        }  # fmt: skip
        return True

    async def record_entry(self, tenant: str, event_id: str, topic: str, entry: RecordEntry) -> bool:
        return (await self.record_entries([EntryEvent(tenant, event_id, topic, entry)]))[0]

    async def record_entries(self, events: Sequence[EntryEvent]) -> list[bool]:
        return await self.record_entry_rows([entry_row(e) for e in events])

    async def record_entry_rows(self, rows: Sequence[EntryRow]) -> list[bool]:
        # The entry is its event's claim (keyed as the inbox is, kept as long as the log).
        claimed = {(r[0], r[1]) for r in rows if (r[0], r[1]) not in self.entries}
        fresh = first_claims([(r[0], r[1]) for r in rows], claimed)
        added = [r for r, is_fresh in zip(rows, fresh, strict=True) if is_fresh]
        for row in added:
            self.entries[(row[0], row[1])] = dict(zip(ENTRY_COLUMNS, row[1:], strict=True))
        for key, (records, tokens) in tally_entries(added).items():
            had_records, had_tokens = self.tally_rows.get(key, (0, 0))
            self.tally_rows[key] = (had_records + records, had_tokens + tokens)
        return fresh

    async def runs_page(
        self, tenant: str, where: RunFilter, after: Position | None, limit: int
    ) -> list[StoredRun]:
        runs = [
            r
            for (t, _), r in self.runs.items()
            if t == tenant
            and (after is None or (r.started_at, r.run_id) < after)
            and (where.status is None or (r.status.value if r.status else "running") == where.status)
            and (where.service is None or r.service == where.service)
            and (where.kind is None or r.kind == where.kind)
            and (where.started_since is None or r.started_at >= where.started_since)
            and (where.started_before is None or r.started_at < where.started_before)
        ]
        return sorted(runs, key=lambda r: (r.started_at, r.run_id), reverse=True)[:limit]

    async def run(self, tenant: str, run_id: str) -> StoredRun | None:
        return self.runs.get((tenant, run_id))

    async def relations(self, tenant: str, runs: Sequence[StoredRun]) -> dict[str, RunRelations]:
        ids = [r.run_id for r in runs]
        apply_of = {run_id: a for run_id in ids if (a := self._apply_run_of(tenant, run_id)) is not None}
        tallies = await self.tallies(tenant, [*ids, *(a.run_id for a in apply_of.values())])
        retries = sorted(
            (r for (t, _), r in self.runs.items() if t == tenant and r.retry_of in ids),
            key=lambda r: (r.started_at, r.run_id),
        )
        return {
            run_id: RunRelations(
                tally=tallies.get(run_id, LiveTally()),
                apply_run=apply_of.get(run_id),
                apply_tally=tallies.get(apply_of[run_id].run_id, LiveTally())
                if run_id in apply_of
                else LiveTally(),
                retried_by=tuple(r.run_id for r in retries if r.retry_of == run_id),
            )
            for run_id in ids
        }

    async def tallies(self, tenant: str, run_ids: Sequence[str]) -> dict[str, LiveTally]:
        kept = {k: v for k, v in self.tally_rows.items() if k[0] == tenant and k[1] in run_ids}
        counted: dict[str, dict[str, int]] = {}
        tokens: dict[str, int] = {}
        for (_, run_id, outcome, _), (records, spent) in kept.items():
            counted.setdefault(run_id, {})
            counted[run_id][outcome] = counted[run_id].get(outcome, 0) + records
            tokens[run_id] = tokens.get(run_id, 0) + spent
        return {
            run_id: LiveTally(
                counts=RunCounts(**{o: n for o, n in counts.items() if o in RunCounts.model_fields}),
                tokens=tokens[run_id],
                reasons=merged_reasons(
                    Reason(RecordOutcome(o), reason, records)
                    for (_, r, o, reason), (records, _) in kept.items()
                    if r == run_id
                ),
            )
            for run_id, counts in counted.items()
        }

    async def entries_page(
        self, tenant: str, run_id: str, outcome: str | None, after: Position | None, limit: int | None
    ) -> list[dict[str, Any]]:
        rows = [
            row
            for (t, _), row in self.entries.items()
            if t == tenant
            and row["run_id"] == run_id
            and (after is None or (row["occurred_at"], row["event_id"]) > after)
            and (outcome is None or row["outcome"] == outcome)
        ]
        rows.sort(key=lambda row: (row["occurred_at"], row["event_id"]))
        return [dict(row) for row in rows[:limit]]

    async def audit_page(self, tenant: str, before: Position | None, limit: int) -> list[dict[str, Any]]:
        rows = [
            row
            for (t, _), row in self.audit.items()
            if t == tenant and (before is None or row["at"] <= before[0])
        ]
        rows.sort(key=lambda row: (row["at"], row["event_id"]), reverse=True)
        return [dict(row) for row in rows[:limit]]

    async def run_is_known(self, tenant: str, run_id: str) -> bool:
        return (tenant, run_id) in self.runs or any(
            t == tenant and row["run_id"] == run_id for (t, _), row in self.entries.items()
        )


@dataclass
class StoredAlert:
    """An alert as `alerts` keeps it."""

    alert: RaisedAlert
    alert_id: str
    raised_at: datetime
    last_seen_at: datetime
    occurrences: int = 1
    episode: str | None = None


@dataclass
class InMemoryAlerts:
    """`auditlog.ports.AlertRaising`: tenants' settings and the alerts raised, debounced per cause within
    the tenant's window and kept to one per episode, as `alert_store.AlertStore.raise_alert`."""

    kept_settings: dict[str, AlertSettings] = field(default_factory=dict)
    alerts: list[StoredAlert] = field(default_factory=list)

    async def settings(self, tenant: str) -> AlertSettings:
        return self.kept_settings.get(tenant, AlertSettings())

    async def raise_alert(self, alert: RaisedAlert, now: datetime) -> str | None:
        same_cause = [
            a for a in self.alerts if (a.alert.tenant, a.alert.cause) == (alert.tenant, alert.cause)
        ]
        seen = next((a for a in same_cause if alert.episode is not None and a.episode == alert.episode), None)
        if seen is not None:
            seen.last_seen_at = max(seen.last_seen_at, now)
            return None
        window = (await self.settings(alert.tenant)).window
        recent = [a for a in same_cause if a.raised_at > now - window]
        if recent:
            latest = max(recent, key=lambda a: a.raised_at)
            latest.occurrences, latest.last_seen_at = latest.occurrences + 1, now
            latest.episode = latest.episode if latest.episode is not None else alert.episode
            return None
        alert_id = alert_id_of(alert, now)
        self.alerts.append(StoredAlert(alert, alert_id, now, now, episode=alert.episode))
        return alert_id
