"""One handler per event type the activity log records."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from auditlog.activity_entries import EntryRow, RecordEntry
from auditlog.alert_rules import failure_tallies
from auditlog.alert_triggers import alert_on_run_finished
from auditlog.alert_windows import failures_message
from auditlog.ports import ActivityLog, AlertRaising
from schemas.envelope import CloudEvent
from schemas.events.audit import AuditRecorded
from schemas.events.common import Direction, RecordOutcome
from schemas.events.push import PushCompleted
from schemas.events.record_results import RecordApplied
from schemas.events.sync_runs import RunFinished, RunStarted, applied_run_id, apply_run_id
from stream_runner.messages import APPLIED, DUPLICATE, Handled, IncomingMessage
from stream_runner.processor import BatchHandler, Handler


def build_batch_handlers(log: ActivityLog, failures_topic: str | None = None) -> Mapping[str, BatchHandler]:
    """The event types the auditlog applies in batches (consecutive events of one type together); failed
    records are handed on to `failures_topic` (the alert windows'), when there is one."""
    return {"psync.record.applied": record_applied_batch(log, failures_topic)}


def record_applied_batch(log: ActivityLog, failures_topic: str | None = None) -> BatchHandler:
    """Adds the entries of consecutive record results in one transaction; one Handled per event. Each
    tenant's failed records of the batch go on to the alert windows as one count, every time they are
    consumed (as the windows read them before: a replayed failure counts again, none is missed)."""

    async def handle(items: Sequence[tuple[CloudEvent[Any], IncomingMessage]]) -> list[Handled]:
        filed_under = functools.cache(apply_run_of)  # a batch names a few runs: each worked out once
        rows = [record_applied_row(e, m.topic, filed_under) for e, m in items]
        handled = [APPLIED if fresh else DUPLICATE for fresh in await log.record_entry_rows(rows)]
        outcomes = [(row[0], row[9]) for row in rows]  # (tenant, outcome)
        return with_failures_handed_on(handled, outcomes, failures_topic)

    return handle


def with_failures_handed_on(
    handled: Sequence[Handled], outcomes: Sequence[tuple[str, str]], failures_topic: str | None
) -> list[Handled]:
    """The Handled of consecutive record results ((tenant, outcome) each, in order), with each tenant's
    failed records among them handed on to `failures_topic` (the alert windows') as one count, on its last
    failed result; unchanged when there is no such topic. Every record result, the mapper's in batches and
    the pusher's one by one, hands its failures on here."""
    if failures_topic is None:
        return list(handled)
    failed = RecordOutcome.FAILED.value
    tallies = failure_tallies((tenant, outcome == failed) for tenant, outcome in outcomes)
    result = list(handled)
    for position, (tenant, count) in tallies.items():
        report = failures_message(failures_topic, tenant, count)
        result[position] = Handled(outputs=[report], duplicate=handled[position].duplicate)
    return result


_TO_ABM = Direction.TO_ABM.value


def record_applied_row(
    event: CloudEvent[Any], topic: str, filed_under: Callable[[str | None], str | None] | None = None
) -> EntryRow:
    """The activity-log entry of a record the mapper applied (or not) to the ABM store, as its `entries`
    row (`topic`: the one the event came from; `filed_under`: `apply_run_of`, or a batch's cache of it,
    which works each run out once)."""
    result: RecordApplied = event.data
    return (
        event.tenantid,
        event.id,
        (filed_under or apply_run_of)(result.run_id or event.correlationid),
        topic,
        str(result.object),  # a StrEnum's own text, without `.value`'s Python-level property
        _TO_ABM,
        result.match_key,
        result.pipedrive_id,
        result.abm_id,
        str(result.outcome),
        result.message,
        0,
        event.time,
        result.name,
    )


def apply_run_of(run_id: str | None) -> str | None:
    """The apply run a record result is filed under. A mapper from before apply runs had their own
    entries sends its connector run's id instead: its entries still land under the apply run."""
    if run_id is None or applied_run_id(run_id) is not None:
        return run_id
    return apply_run_id(run_id)


def build_handlers(
    log: ActivityLog,
    runs_finished: Counter | None = None,
    alerts: AlertRaising | None = None,
    failures_topic: str | None = None,
) -> Mapping[str, Handler]:
    """The auditlog's handlers of the event types applied one at a time (record results are applied with
    `build_batch_handlers`, a lone one as a batch of one); `runs_finished` counts each run's end once, by
    the service that ran it, its kind and its status (every service's runs end here, the activity log);
    `alerts` raises the alerts of runs' ends; failed records are handed on to `failures_topic` (the alert
    windows'), when there is one."""

    async def run_started(event: CloudEvent[Any], message: IncomingMessage) -> Handled:
        run: RunStarted = event.data
        return Handled(
            duplicate=not await log.record_run_started(event.tenantid, event.id, message.topic, run)
        )

    async def run_finished(event: CloudEvent[Any], message: IncomingMessage) -> Handled:
        run: RunFinished = event.data
        fresh = await log.record_run_finished(event.tenantid, event.id, message.topic, run)
        if fresh and runs_finished is not None:
            runs_finished.labels(run.service, run.kind.value, run.status.value).inc()
        if alerts is not None:
            await alert_on_run_finished(alerts, event.tenantid, run, datetime.now(UTC))
        return Handled(duplicate=not fresh)

    async def push_completed(event: CloudEvent[Any], message: IncomingMessage) -> Handled:
        result: PushCompleted = event.data
        entry = RecordEntry(
            run_id=result.run_id,
            object=result.object.value,
            direction=Direction.TO_PIPEDRIVE.value,
            match_key=result.match_key,
            pipedrive_id=result.pipedrive_id,
            abm_id=result.abm_id,
            outcome=result.outcome.value,
            message=result.message,
            tokens_spent=result.tokens_spent,
            occurred_at=event.time,
        )
        fresh = await log.record_entry(event.tenantid, event.id, message.topic, entry)
        handled = [Handled(duplicate=not fresh)]
        return with_failures_handed_on(handled, [(event.tenantid, entry.outcome)], failures_topic)[0]

    async def audit_recorded(event: CloudEvent[Any], message: IncomingMessage) -> Handled:
        entry: AuditRecorded = event.data
        return Handled(duplicate=not await log.record_audit(event.tenantid, event.id, message.topic, entry))

    return {
        "psync.audit.recorded": audit_recorded,
        "psync.run.started": run_started,
        "psync.run.finished": run_finished,
        "psync.push.completed": push_completed,
    }
