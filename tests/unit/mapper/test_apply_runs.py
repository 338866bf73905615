"""The apply runs' rules, as values: tallies, completeness, status, and the events a completed run emits."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from mapper.apply_runs import (
    NOTHING_APPLIED,
    CompletedRun,
    apply_status,
    is_complete,
    run_messages,
    tally_outcomes,
)
from schemas.codec import decode_event
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.sync_runs import RunCounts, RunStatus
from schemas.topics import SYNC_RUNS

CREATED, UPDATED, SKIPPED, FAILED = (
    RecordOutcome.CREATED,
    RecordOutcome.UPDATED,
    RecordOutcome.SKIPPED,
    RecordOutcome.FAILED,
)


def test_outcomes_are_counted_per_tenant_and_run() -> None:
    tallies = tally_outcomes(
        [(("b", "r1"), CREATED), (("a", "r1"), SKIPPED), (("b", "r1"), CREATED), (("b", "r1"), FAILED)]
    )

    assert list(tallies) == [("a", "r1"), ("b", "r1")]
    assert tallies[("b", "r1")] == RunCounts(created=2, failed=1)
    assert tallies[("a", "r1")] == RunCounts(skipped=1)


def test_a_run_is_complete_once_applied_reaches_what_the_connector_emitted() -> None:
    assert not is_complete(RunCounts(created=2), None)
    assert not is_complete(RunCounts(created=2), 3)
    assert is_complete(RunCounts(created=1, updated=1, skipped=1), 3)
    assert is_complete(RunCounts(created=4), 3)
    assert not is_complete(RunCounts(), 0)


def test_status_follows_the_activity_log_rules() -> None:
    assert apply_status(RunCounts(created=1, updated=2)) == (RunStatus.SUCCESS, None)
    assert apply_status(RunCounts(created=1, skipped=1)) == (RunStatus.WARNING, None)
    assert apply_status(RunCounts(updated=1, failed=1)) == (RunStatus.WARNING, None)
    assert apply_status(RunCounts(failed=3)) == (RunStatus.ERROR, NOTHING_APPLIED)


def test_a_completed_run_emits_one_valid_pair_with_ids_derived_from_the_connector_run() -> None:
    run = CompletedRun(
        tenant="acme",
        source_run_id="run-1",
        counts=RunCounts(created=3, skipped=1),
        objects=(SyncObject.ORGANIZATION, SyncObject.PERSON),
        started_at=datetime(2026, 11, 1, 9, tzinfo=UTC),
        finished_at=datetime(2026, 11, 1, 9, 5, tzinfo=UTC),
    )

    messages = run_messages(run)
    again = run_messages(run)

    assert [m.value for m in messages] == [m.value for m in again]
    events = [decode_event(SYNC_RUNS.name, m.value) for m in messages]
    assert [e.type for e in events] == ["psync.run.started", "psync.run.finished"]
    assert {m.key for m in messages} == {"acme:apply-run-1"}
    finished = orjson.loads(messages[1].value)["data"]
    assert finished["kind"] == "apply" and finished["status"] == "Warning"
    assert finished["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "skipped": 1, "failed": 0}
    assert events[0].id != events[1].id
