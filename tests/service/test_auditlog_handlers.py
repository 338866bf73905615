"""The auditlog's handlers as a specification, run on in-memory fakes of its ports (no Kafka, no
PostgreSQL): what each event writes to the activity log, what a redelivery writes (nothing), which runs'
ends raise alerts and how runs' ends are counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from auditlog.bootstrap import runs_finished_counter
from auditlog.handlers import build_batch_handlers, build_handlers
from auditlog.run_views import RunFilter
from schemas.catalog import build_event, event_type_of
from schemas.envelope import CloudEvent
from schemas.events.audit import Actor, AuditAction, AuditRecorded
from schemas.events.common import Direction, RecordOutcome, SyncObject
from schemas.events.push import PushCompleted
from schemas.events.record_results import RecordApplied
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStarted, RunStatus, apply_run_id
from stream_runner.messages import Handled, IncomingMessage
from tests.service.auditlog_fakes import InMemoryActivityLog, InMemoryAlerts
from tests.support.event_dispatch import apply_as_consumed

TENANT = "acme-tenant"
NOW = datetime.now(UTC)
ORG = SyncObject.ORGANIZATION


class Auditlog:
    """The handlers on fakes, fed events as the consumer loop feeds them."""

    def __init__(self) -> None:
        self.log, self.alerts, self.registry = InMemoryActivityLog(), InMemoryAlerts(), CollectorRegistry()
        self.handlers = build_handlers(self.log, runs_finished_counter(self.registry), self.alerts)
        self.batches = build_batch_handlers(self.log)
        self.batch = self.batches["psync.record.applied"]
        self._offset = 0

    def event(self, payload: BaseModel, event_id: str, run_id: str | None = None) -> CloudEvent[Any]:
        return build_event(
            payload, tenant=TENANT, subject=f"{TENANT}:{event_id}", source="/test", id_parts=(event_id,),
            time=NOW, correlationid=run_id,
        )  # fmt: skip

    def message(self, event: CloudEvent[Any]) -> IncomingMessage:
        self._offset += 1
        return IncomingMessage(event_type_of(event.data).topic.name, 0, self._offset, None, b"")

    async def deliver(self, event: CloudEvent[Any]) -> Handled:
        return await apply_as_consumed(self.handlers, self.batches, event, self.message(event))

    async def deliver_batch(self, events: list[CloudEvent[Any]]) -> list[Handled]:
        return list(await self.batch([(e, self.message(e)) for e in events]))

    def runs_finished(self, status: RunStatus) -> float | None:
        labels = {"service": "connector", "kind": "sync", "status": status.value}
        return self.registry.get_sample_value("psync_runs_finished_total", labels)


@pytest.fixture
def auditlog() -> Auditlog:
    return Auditlog()


def started(run_id: str) -> RunStarted:
    return RunStarted(
        run_id=run_id, service="connector", kind=RunKind.SYNC, direction=Direction.TO_ABM, objects=(ORG,),
        started_at=NOW - timedelta(minutes=1), trigger="manual",
    )  # fmt: skip


def finished(
    run_id: str,
    status: RunStatus,
    message: str | None = None,
    ended: datetime | None = None,
    emitted: int | None = None,
) -> RunFinished:
    """A run's end, by default now: alerts are raised only for runs that ended within the tenant's window
    (15 minutes), and the module's NOW is the time it was collected, which in a slow whole-suite run can be
    longer ago than that (seen: a run of 18 min 42 s at load 20 failed both alert tests)."""
    ended = ended or datetime.now(UTC)
    return RunFinished(
        run_id=run_id, service="connector", kind=RunKind.SYNC, direction=Direction.TO_ABM, objects=(ORG,),
        started_at=ended - timedelta(minutes=1), finished_at=ended, counts=RunCounts(created=3),
        tokens_spent=12, status=status, message=message, emitted=emitted,
    )  # fmt: skip


def applied(
    match_key: str, outcome: RecordOutcome, run_id: str | None, message: str | None = None
) -> RecordApplied:
    return RecordApplied(
        object=ORG, match_key=match_key, pipedrive_id=7, abm_id="acc-1", outcome=outcome, message=message,
        run_id=run_id,
    )  # fmt: skip


async def test_a_run_is_shown_from_its_start_to_its_end_and_counted_once(auditlog: Auditlog) -> None:
    await auditlog.deliver(auditlog.event(started("run-1"), "start-1"))
    running = await auditlog.log.run(TENANT, "run-1")
    end = auditlog.event(finished("run-1", RunStatus.SUCCESS), "end-1")

    first = await auditlog.deliver(end)
    again = await auditlog.deliver(end)

    ended = await auditlog.log.run(TENANT, "run-1")
    assert running is not None and running.status is None and running.trigger == "manual"
    assert ended is not None and ended.status is RunStatus.SUCCESS and ended.tokens_spent == 12
    assert (first.duplicate, again.duplicate) == (False, True)
    assert auditlog.runs_finished(RunStatus.SUCCESS) == 1


async def test_a_sync_that_emitted_records_ends_with_its_apply_run(auditlog: Auditlog) -> None:
    await auditlog.deliver(auditlog.event(finished("run-1", RunStatus.SUCCESS, emitted=2), "end-1"))
    waiting = await auditlog.log.run(TENANT, "run-1")
    apply_end = finished(apply_run_id("run-1"), RunStatus.WARNING).model_copy(
        update={"kind": RunKind.APPLY, "service": "mapper"}
    )

    await auditlog.deliver(auditlog.event(apply_end, "end-2"))

    ended = await auditlog.log.run(TENANT, "run-1")
    assert waiting is not None and waiting.status is None
    assert ended is not None and ended.status is RunStatus.WARNING
    assert [
        r.run_id for r in await auditlog.log.runs_page(TENANT, RunFilter(status="running"), None, 9)
    ] == []


async def test_an_error_run_raises_one_alert_even_when_its_end_is_redelivered(auditlog: Auditlog) -> None:
    end = auditlog.event(finished("run-1", RunStatus.ERROR, "Pipedrive down"), "end-1")

    await auditlog.deliver(end)
    redelivered = await auditlog.deliver(end)

    assert redelivered.duplicate
    assert [(a.alert.cause.value, a.occurrences) for a in auditlog.alerts.alerts] == [("run_error", 2)]
    assert auditlog.runs_finished(RunStatus.ERROR) == 1


async def test_refused_credentials_raise_their_own_alert(auditlog: Auditlog) -> None:
    await auditlog.deliver(auditlog.event(finished("run-1", RunStatus.ERROR, "Invalid API key"), "end-1"))

    assert [a.alert.cause.value for a in auditlog.alerts.alerts] == ["credentials"]


async def test_old_or_successful_runs_raise_no_alert(auditlog: Auditlog) -> None:
    old = finished("run-1", RunStatus.ERROR, "Pipedrive down", ended=NOW - timedelta(days=2))

    await auditlog.deliver(auditlog.event(old, "end-1"))
    await auditlog.deliver(auditlog.event(finished("run-2", RunStatus.SUCCESS), "end-2"))

    assert auditlog.alerts.alerts == []
    assert await auditlog.log.run(TENANT, "run-1") is not None


async def test_record_results_are_filed_under_their_apply_run(auditlog: Auditlog) -> None:
    events = [
        auditlog.event(applied("a.io", RecordOutcome.CREATED, "run-1"), "r1"),
        auditlog.event(applied("b.io", RecordOutcome.FAILED, None, "Required field missing"), "r2", "run-1"),
        auditlog.event(applied("a.io", RecordOutcome.CREATED, "run-1"), "r1"),
    ]

    handled = await auditlog.deliver_batch(events)
    single = await auditlog.deliver(auditlog.event(applied("c.io", RecordOutcome.SKIPPED, "run-1"), "r3"))

    entries = await auditlog.log.entries_page(TENANT, apply_run_id("run-1"), None, None, None)
    tally = (await auditlog.log.tallies(TENANT, [apply_run_id("run-1")]))[apply_run_id("run-1")]
    assert [h.duplicate for h in handled] == [False, False, True]
    assert not single.duplicate
    assert sorted((e["match_key"], e["outcome"], e["direction"]) for e in entries) == [
        ("a.io", "created", "to_abm"), ("b.io", "failed", "to_abm"), ("c.io", "skipped", "to_abm"),
    ]  # fmt: skip
    assert tally.counts == RunCounts(created=1, skipped=1, failed=1)


async def test_a_push_result_is_an_entry_with_its_tokens(auditlog: Auditlog) -> None:
    pushed = PushCompleted(
        object=ORG, match_key="a.io", abm_id="acc-1", outcome=RecordOutcome.UPDATED, pipedrive_id=7,
        tokens_spent=10, run_id="push-1",
    )  # fmt: skip

    first = await auditlog.deliver(auditlog.event(pushed, "p1"))
    again = await auditlog.deliver(auditlog.event(pushed, "p1"))

    entries = await auditlog.log.entries_page(TENANT, "push-1", None, None, None)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert [(e["direction"], e["tokens_spent"]) for e in entries] == [("to_pipedrive", 10)]
    assert (await auditlog.log.tallies(TENANT, ["push-1"]))["push-1"].tokens == 10


async def test_failed_results_batched_or_single_are_handed_on_to_the_alert_windows_the_same_way() -> None:
    log, failures = InMemoryActivityLog(), "alerts-failures"
    handlers, batch = build_handlers(log, failures_topic=failures), build_batch_handlers(log, failures)
    auditlog = Auditlog()
    results = [
        auditlog.event(applied("a.io", RecordOutcome.FAILED, "run-1"), "r1"),
        auditlog.event(applied("b.io", RecordOutcome.CREATED, "run-1"), "r2"),
        auditlog.event(applied("c.io", RecordOutcome.FAILED, "run-1"), "r3"),
    ]
    pushed = PushCompleted(
        object=ORG, match_key="a.io", abm_id="acc-1", outcome=RecordOutcome.FAILED, pipedrive_id=7,
        tokens_spent=0, run_id="push-1",
    )  # fmt: skip
    push = auditlog.event(pushed, "p1")

    batched = await batch[results[0].type]([(e, auditlog.message(e)) for e in results])
    single = await handlers[push.type](push, auditlog.message(push))
    again = await handlers[push.type](push, auditlog.message(push))

    handed_on = [[(m.topic, m.key, m.value) for m in h.outputs] for h in [*batched, single, again]]
    assert handed_on == [
        [],
        [],
        [(failures, TENANT, b"2")],
        [(failures, TENANT, b"1")],
        [(failures, TENANT, b"1")],
    ]
    assert (single.duplicate, again.duplicate) == (False, True)


async def test_an_audit_entry_is_kept_once(auditlog: Auditlog) -> None:
    recorded = AuditRecorded(action=AuditAction.CONNECTED, actor=Actor(name="Ann"), at=NOW)

    first = await auditlog.deliver(auditlog.event(recorded, "a1"))
    again = await auditlog.deliver(auditlog.event(recorded, "a1"))

    page = await auditlog.log.audit_page(TENANT, None, 10)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert [(a["action"], a["actor_name"]) for a in page] == [("connected", "Ann")]
