"""One suite, two stores: the auditlog's ports on PostgreSQL and the in-memory fakes the service tests use
answer alike (STYLE rule 6: every fake is checked against the real thing)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest

from auditlog.activity_entries import EntryEvent, RecordEntry
from auditlog.activity_log_store import PostgresActivityLog
from auditlog.activity_read_store import PostgresActivityReads
from auditlog.alert_rules import AlertCause, RaisedAlert
from auditlog.alert_store import AlertStore
from auditlog.bootstrap import install_tables
from auditlog.ports import ActivityLog, ActivityReads, AlertRaising
from auditlog.run_views import Reason, RunFilter
from schemas.events.audit import Actor, AuditAction, AuditChange, AuditRecorded
from schemas.events.common import Direction, RecordOutcome, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStarted, RunStatus
from tests.service.auditlog_fakes import InMemoryActivityLog, InMemoryAlerts
from tests.stores.backends import BACKENDS, memory_or_postgres
from tests.support.schemas import fresh_schema

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RUNS_TOPIC, RESULTS_TOPIC = "psync.sync-runs.v1", "psync.record-results.v1"


@dataclass
class StoreUnderTest:
    """The activity log's writes and reads, and the alerts."""

    log: ActivityLog
    reads: ActivityReads
    alerts: AlertRaising
    forget_applied: Callable[[str], Awaitable[None]]
    """Prune a tenant's inbox, as the pruning worker does once the dedupe window has passed."""


@pytest.fixture(scope="module")
async def postgres_store(pg_pool: asyncpg.Pool) -> AsyncIterator[StoreUnderTest]:
    """The auditlog's tables in a fresh schema, shared by the module (each test has a tenant of its own)."""
    async with fresh_schema(pg_pool, "auditlog_store", install_tables) as schema:

        async def forget_applied(tenant: str) -> None:
            await pg_pool.execute(f"DELETE FROM {schema}.inbox WHERE tenant_id = $1", tenant)

        yield StoreUnderTest(
            PostgresActivityLog(pg_pool, schema),
            PostgresActivityReads(pg_pool, schema),
            AlertStore(pg_pool, schema),
            forget_applied,
        )


@pytest.fixture(params=BACKENDS)
def subject(request: pytest.FixtureRequest) -> StoreUnderTest:
    """The fakes, or PostgreSQL."""

    def fakes() -> StoreUnderTest:
        memory = InMemoryActivityLog()

        async def forget_applied(tenant: str) -> None:
            memory.inbox.rows = {k: row for k, row in memory.inbox.rows.items() if k[0] != tenant}

        return StoreUnderTest(memory, memory, InMemoryAlerts(), forget_applied)

    return memory_or_postgres(request, fakes)


def started(run_id: str, kind: RunKind = RunKind.SYNC, at: datetime = T0, **links: str) -> RunStarted:
    return RunStarted(
        run_id=run_id, service="connector" if kind is not RunKind.APPLY else "mapper", kind=kind,
        direction=Direction.TO_ABM, objects=(SyncObject.ORGANIZATION,), started_at=at, trigger="manual",
        **links,
    )  # fmt: skip


def finished(
    run_id: str, status: RunStatus, kind: RunKind = RunKind.SYNC, emitted: int | None = None, **links: str
) -> RunFinished:
    return RunFinished(
        run_id=run_id, service="connector" if kind is not RunKind.APPLY else "mapper", kind=kind,
        direction=Direction.TO_ABM, objects=(SyncObject.ORGANIZATION,), started_at=T0,
        finished_at=T0 + timedelta(minutes=1), counts=RunCounts(created=2, failed=1), tokens_spent=7,
        status=status, emitted=emitted, **links,
    )  # fmt: skip


def entry(run_id: str | None, n: int, outcome: RecordOutcome, message: str | None = None) -> RecordEntry:
    return RecordEntry(
        run_id=run_id, object="organization", direction="to_abm", match_key=f"org{n}.io", pipedrive_id=n,
        abm_id=None, outcome=outcome.value, message=message, tokens_spent=n,
        occurred_at=T0 + timedelta(seconds=n),
    )  # fmt: skip


async def test_a_run_is_opened_and_closed_once(subject: StoreUnderTest, tenant: str) -> None:
    first = await subject.log.record_run_started(tenant, "e1", RUNS_TOPIC, started("r1"))
    again = await subject.log.record_run_started(tenant, "e1", RUNS_TOPIC, started("r1"))
    ended = await subject.log.record_run_finished(tenant, "e2", RUNS_TOPIC, finished("r1", RunStatus.WARNING))
    ended_again = await subject.log.record_run_finished(
        tenant, "e2", RUNS_TOPIC, finished("r1", RunStatus.ERROR)
    )

    run = await subject.reads.run(tenant, "r1")

    assert (first, again, ended, ended_again) == (True, False, True, False)
    assert run is not None
    assert (run.trigger, run.own_status, run.status) == ("manual", RunStatus.WARNING, RunStatus.WARNING)
    assert (run.counts, run.tokens_spent, run.finished_at) == (
        finished("r1", RunStatus.WARNING).counts,
        7,
        T0 + timedelta(minutes=1),
    )
    assert await subject.reads.run(tenant, "missing") is None


async def test_an_end_without_a_start_creates_the_run(subject: StoreUnderTest, tenant: str) -> None:
    await subject.log.record_run_finished(tenant, "e1", RUNS_TOPIC, finished("r1", RunStatus.SUCCESS))

    run = await subject.reads.run(tenant, "r1")

    assert run is not None
    assert (run.service, run.trigger, run.started_at, run.status) == (
        "connector",
        None,
        T0,
        RunStatus.SUCCESS,
    )


async def test_a_run_that_emitted_records_runs_until_its_apply_run_ends(
    subject: StoreUnderTest, tenant: str
) -> None:
    await subject.log.record_run_started(tenant, "e1", RUNS_TOPIC, started("sync-1"))
    await subject.log.record_run_finished(
        tenant, "e2", RUNS_TOPIC, finished("sync-1", RunStatus.SUCCESS, emitted=3)
    )
    running = await subject.reads.run(tenant, "sync-1")
    await subject.log.record_run_started(
        tenant, "e3", RUNS_TOPIC, started("apply-1", RunKind.APPLY, applies_run_id="sync-1")
    )
    await subject.log.record_run_finished(
        tenant, "e4", RUNS_TOPIC, finished("apply-1", RunStatus.ERROR, RunKind.APPLY, applies_run_id="sync-1")
    )

    ended = await subject.reads.run(tenant, "sync-1")
    assert ended is not None
    around = await subject.reads.relations(tenant, [ended])

    assert running is not None and running.status is None
    assert ended.status is RunStatus.ERROR
    assert around["sync-1"].apply_run is not None and around["sync-1"].apply_run.run_id == "apply-1"


async def test_retries_are_listed_with_the_run_they_retry(subject: StoreUnderTest, tenant: str) -> None:
    await subject.log.record_run_started(tenant, "e1", RUNS_TOPIC, started("r1"))
    await subject.log.record_run_started(
        tenant, "e2", RUNS_TOPIC, started("r3", at=T0 + timedelta(hours=2), retry_of="r1")
    )
    await subject.log.record_run_started(
        tenant, "e3", RUNS_TOPIC, started("r2", at=T0 + timedelta(hours=1), retry_of="r1")
    )
    first = await subject.reads.run(tenant, "r1")
    assert first is not None

    around = await subject.reads.relations(tenant, [first])

    assert around["r1"].retried_by == ("r2", "r3")
    assert around["r1"].apply_run is None


async def test_runs_are_listed_newest_first_by_keyset_and_filter(
    subject: StoreUnderTest, tenant: str
) -> None:
    for n in range(4):
        await subject.log.record_run_started(
            tenant, f"s{n}", RUNS_TOPIC, started(f"r{n}", at=T0 + timedelta(hours=n))
        )
    await subject.log.record_run_finished(tenant, "f1", RUNS_TOPIC, finished("r1", RunStatus.SUCCESS))

    first = await subject.reads.runs_page(tenant, RunFilter(), None, 2)
    rest = await subject.reads.runs_page(tenant, RunFilter(), (first[-1].started_at, first[-1].run_id), 5)
    running = await subject.reads.runs_page(tenant, RunFilter(status="running"), None, 5)
    succeeded = await subject.reads.runs_page(
        tenant, RunFilter(status="Success", service="connector"), None, 5
    )
    other_kind = await subject.reads.runs_page(tenant, RunFilter(kind="import"), None, 5)
    hours_1_and_2 = RunFilter(started_since=T0 + timedelta(hours=1), started_before=T0 + timedelta(hours=3))
    in_range = await subject.reads.runs_page(tenant, hours_1_and_2, None, 5)
    since_hour_2 = await subject.reads.runs_page(
        tenant, RunFilter(started_since=T0 + timedelta(hours=2)), None, 5
    )

    assert [r.run_id for r in first] == ["r3", "r2"]
    assert [r.run_id for r in rest] == ["r1", "r0"]
    assert [r.run_id for r in running] == ["r3", "r2", "r0"]
    assert [r.run_id for r in succeeded] == ["r1"]
    assert other_kind == []
    assert [r.run_id for r in in_range] == ["r2", "r1"]
    assert [r.run_id for r in since_hour_2] == ["r3", "r2"]


async def test_entries_are_written_once_and_counted_into_their_runs(
    subject: StoreUnderTest, tenant: str
) -> None:
    events = [
        EntryEvent(tenant, "a", RESULTS_TOPIC, entry("r1", 1, RecordOutcome.CREATED)),
        EntryEvent(
            tenant, "b", RESULTS_TOPIC, entry("r1", 2, RecordOutcome.FAILED, "Required field missing")
        ),
        EntryEvent(tenant, "a", RESULTS_TOPIC, entry("r1", 1, RecordOutcome.CREATED)),
        EntryEvent(
            tenant, "c", RESULTS_TOPIC, entry("r1", 3, RecordOutcome.FAILED, "Required field missing")
        ),
        EntryEvent(tenant, "d", RESULTS_TOPIC, entry("r1", 4, RecordOutcome.SKIPPED, "Duplicate found")),
        EntryEvent(tenant, "e", RESULTS_TOPIC, entry(None, 5, RecordOutcome.UPDATED)),
    ]

    fresh = await subject.log.record_entries(events)
    single = await subject.log.record_entry(tenant, "f", RESULTS_TOPIC, entry("r1", 6, RecordOutcome.UPDATED))
    repeat = await subject.log.record_entry(tenant, "b", RESULTS_TOPIC, entry("r1", 2, RecordOutcome.FAILED))
    tallies = await subject.reads.tallies(tenant, ["r1", "r9"])

    assert fresh == [True, True, False, True, True, True]
    assert (single, repeat) == (True, False)
    assert list(tallies) == ["r1"]
    assert tallies["r1"].counts == RunCounts(created=1, updated=1, skipped=1, failed=2)
    assert tallies["r1"].tokens == 1 + 2 + 3 + 4 + 6
    assert tallies["r1"].reasons == (
        Reason(RecordOutcome.FAILED, "Required field missing", 2),
        Reason(RecordOutcome.SKIPPED, "Duplicate found", 1),
    )


async def test_batches_of_fresh_entries_are_counted_as_those_claimed_one_by_one(
    subject: StoreUnderTest, tenant: str
) -> None:
    """After a batch of fresh entries, the next batches try the plain insert, which writes their tallies in
    the same statement: counted once each, none when the statement fails on a repeat."""
    outcomes = [RecordOutcome.CREATED, RecordOutcome.FAILED, RecordOutcome.SKIPPED, RecordOutcome.UPDATED]
    messages = [None, "Required field missing", "Duplicate found", None]
    batches = [
        [
            EntryEvent(tenant, f"b{b}e{n}", RESULTS_TOPIC, entry(run, n, outcomes[n % 4], messages[n % 4]))
            for n in range(b * 4, b * 4 + 4)
        ]
        for b, run in enumerate(["r1", "r1", None, "r2"])
    ]

    fresh = [await subject.log.record_entries(batch) for batch in batches]
    repeat = await subject.log.record_entries([*batches[1], *batches[3]])
    tallies = await subject.reads.tallies(tenant, ["r1", "r2"])

    assert fresh == [[True] * 4] * 4
    assert repeat == [False] * 8
    assert tallies["r1"].counts == RunCounts(created=2, updated=2, skipped=2, failed=2)
    assert tallies["r1"].tokens == sum(range(8))
    assert tallies["r1"].reasons == (
        Reason(RecordOutcome.FAILED, "Required field missing", 2),
        Reason(RecordOutcome.SKIPPED, "Duplicate found", 2),
    )
    assert tallies["r2"].counts == RunCounts(created=1, updated=1, skipped=1, failed=1)
    assert tallies["r2"].tokens == sum(range(12, 16))


async def test_an_entry_replayed_after_the_inbox_forgot_its_event_is_still_a_repeat(
    subject: StoreUnderTest, tenant: str
) -> None:
    """A replay from further back than the inbox's dedupe window: the entry kept is the event's claim
    (before, the claim succeeded again and the entry's insert failed on its key, every time)."""
    events = [
        EntryEvent(tenant, "a", RESULTS_TOPIC, entry("r1", 1, RecordOutcome.CREATED)),
        EntryEvent(
            tenant, "b", RESULTS_TOPIC, entry("r1", 2, RecordOutcome.FAILED, "Required field missing")
        ),
    ]
    await subject.log.record_entries(events)
    await subject.forget_applied(tenant)

    again = await subject.log.record_entries(
        [*events, EntryEvent(tenant, "c", RESULTS_TOPIC, entry("r1", 3, RecordOutcome.CREATED))]
    )
    single = await subject.log.record_entry(tenant, "a", RESULTS_TOPIC, entry("r1", 1, RecordOutcome.CREATED))
    tallies = await subject.reads.tallies(tenant, ["r1"])

    assert (again, single) == ([False, False, True], False)
    assert tallies["r1"].counts == RunCounts(created=2, failed=1)
    assert tallies["r1"].tokens == 1 + 2 + 3


async def test_entries_are_paged_oldest_first(subject: StoreUnderTest, tenant: str) -> None:
    outcomes = [RecordOutcome.CREATED, RecordOutcome.FAILED, RecordOutcome.CREATED, RecordOutcome.FAILED]
    await subject.log.record_entries(
        [EntryEvent(tenant, f"e{n}", RESULTS_TOPIC, entry("r1", n, o)) for n, o in enumerate(outcomes)]
    )

    first = await subject.reads.entries_page(tenant, "r1", None, None, 2)
    rest = await subject.reads.entries_page(
        tenant, "r1", None, (first[-1]["occurred_at"], first[-1]["event_id"]), None
    )
    failed = await subject.reads.entries_page(tenant, "r1", "failed", None, None)

    assert [e["event_id"] for e in first] == ["e0", "e1"]
    assert [e["event_id"] for e in rest] == ["e2", "e3"]
    assert [e["event_id"] for e in failed] == ["e1", "e3"]
    assert first[1] == {
        "event_id": "e1", "run_id": "r1", "source_topic": RESULTS_TOPIC, "object": "organization",
        "direction": "to_abm", "match_key": "org1.io", "pipedrive_id": 1, "abm_id": None, "outcome": "failed",
        "message": None, "tokens_spent": 1, "occurred_at": T0 + timedelta(seconds=1), "name": None,
    }  # fmt: skip


async def test_entries_keep_every_value_as_written(subject: StoreUnderTest, tenant: str) -> None:
    """The entries of a batch travel to PostgreSQL as one JSON document split in SQL: every text (commas,
    quotes, backslashes, line breaks, non-ASCII, `null` and `n` as words, empty), integer (up to the
    columns' limits), null and time (to the microsecond, any offset, years 1 to 9999: a microsecond
    inside the ends, which asyncpg's arrays bound as -infinity and infinity) is read back as it was."""
    odd_run = 'run, "one" \\ n'
    texts = ["a,b", 'say "hi"', "back\\slash", "line\nbreak\ttab", "Zürich 🚀 שלום", "null", "n", "", " x "]
    times = [
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        T0 + timedelta(microseconds=1),
        datetime(2026, 11, 2, 9, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=5, minutes=30, seconds=7))),
        datetime(9999, 12, 31, 23, 59, 59, 999_998, tzinfo=UTC),
    ]
    entries = [
        RecordEntry(
            run_id=odd_run,
            object="organization",
            direction="to_abm",
            match_key=text,
            pipedrive_id=[None, 1, 2**63 - 1][n % 3],
            abm_id=[None, text][n % 2],
            outcome="failed",
            message=[text, None][n % 2],
            tokens_spent=2**31 - 1 if n == 1 else -n,
            occurred_at=times[n % 4],
            name=[None, text][n % 2],
        )
        for n, text in enumerate(texts)
    ]
    events = [EntryEvent(tenant, f"e{n}", f"topic,{n}", e) for n, e in enumerate(entries)]

    assert await subject.log.record_entries(events) == [True] * len(events)
    rows = await subject.reads.entries_page(tenant, odd_run, None, None, None)

    by_id = {row["event_id"]: row for row in rows}
    assert len(by_id) == len(events)
    for event in events:
        e = event.entry
        assert by_id[event.event_id] == {
            "event_id": event.event_id, "run_id": odd_run, "source_topic": event.topic, "object": e.object,
            "direction": e.direction, "match_key": e.match_key, "pipedrive_id": e.pipedrive_id,
            "abm_id": e.abm_id, "outcome": e.outcome, "message": e.message, "tokens_spent": e.tokens_spent,
            "occurred_at": e.occurred_at, "name": e.name,
        }  # fmt: skip
        assert by_id[event.event_id]["occurred_at"].utcoffset() is not None


async def test_a_run_is_known_by_its_entries_alone(subject: StoreUnderTest, tenant: str) -> None:
    await subject.log.record_entry(
        tenant, "e1", RESULTS_TOPIC, entry("only-entries", 1, RecordOutcome.CREATED)
    )
    await subject.log.record_run_started(tenant, "e2", RUNS_TOPIC, started("only-run"))

    known = [await subject.reads.run_is_known(tenant, r) for r in ("only-entries", "only-run", "neither")]

    assert known == [True, True, False]
    assert not await subject.reads.run_is_known("another-tenant", "only-run")


async def test_audit_entries_are_paged_newest_first(subject: StoreUnderTest, tenant: str) -> None:
    for n in range(3):
        recorded = AuditRecorded(
            action=AuditAction.SETTINGS_CHANGED, actor=Actor(key_id=f"k{n}", name="Ann"),
            at=T0 + timedelta(minutes=n), changes=(AuditChange(path="sync.mode", before=n, after=n + 1),),
        )  # fmt: skip
        assert await subject.log.record_audit(tenant, f"a{n}", "psync.audit.v1", recorded)
    assert not await subject.log.record_audit(tenant, "a0", "psync.audit.v1", recorded)

    newest = await subject.reads.audit_page(tenant, None, 2)
    older = await subject.reads.audit_page(tenant, (T0 + timedelta(minutes=1), "a1"), 5)

    assert [a["event_id"] for a in newest] == ["a2", "a1"]
    assert [a["event_id"] for a in older] == ["a1", "a0"]
    assert newest[0] == {
        "event_id": "a2", "action": "settings_changed", "actor_key_id": "k2", "actor_name": "Ann",
        "at": T0 + timedelta(minutes=2), "changes": [{"path": "sync.mode", "before": 2, "after": 3}],
        "detail": None,
    }  # fmt: skip


async def test_an_alert_is_debounced_within_the_window_and_raised_once_per_episode(
    subject: StoreUnderTest, tenant: str
) -> None:
    error = RaisedAlert(tenant, AlertCause.RUN_ERROR, "A sync run failed", "r1 ended in Error")
    budget = RaisedAlert(tenant, AlertCause.BUDGET, "Budget", "spent", episode="budget until 2026-11-03")
    window = (await subject.alerts.settings(tenant)).window

    raised = await subject.alerts.raise_alert(error, T0)
    debounced = await subject.alerts.raise_alert(error, T0 + window / 2)
    after_window = await subject.alerts.raise_alert(error, T0 + window * 2)
    episode = await subject.alerts.raise_alert(budget, T0)
    same_episode = await subject.alerts.raise_alert(budget, T0 + window * 3)

    assert raised is not None and after_window is not None and raised != after_window
    assert (debounced, same_episode) == (None, None)
    assert episode is not None
