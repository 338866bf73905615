"""How the activity log shows a run: status, live counts, reasons in words, a connector run with its apply
run."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from auditlog.run_views import (
    LiveTally,
    Reason,
    ResultsToCome,
    RunRelations,
    StoredRun,
    present_run,
    reasons_message,
    results_not_logged,
    shown_status,
)
from schemas.events.common import RecordOutcome
from schemas.events.sync_runs import RunCounts, RunStatus

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
SUCCESS, WARNING, ERROR = RunStatus.SUCCESS, RunStatus.WARNING, RunStatus.ERROR
SKIPPED, FAILED = RecordOutcome.SKIPPED, RecordOutcome.FAILED


def stored(run_id: str, **changes: object) -> StoredRun:
    run = StoredRun(
        run_id=run_id, service="connector", kind="import", direction="to_abm", objects=("organization",),
        trigger="manual", started_at=T0, finished_at=None, counts=RunCounts(), tokens_spent=0,
        own_status=None, status=None, message=None,
    )  # fmt: skip
    return replace(run, **changes)  # type: ignore[arg-type]


def test_a_run_that_emitted_records_is_running_until_its_apply_run_ends_then_shows_the_worse() -> None:
    assert shown_status(None, None, None) is None
    assert shown_status(SUCCESS, 14, None) is None
    assert shown_status(SUCCESS, 14, WARNING) is WARNING
    assert shown_status(ERROR, 3, SUCCESS) is ERROR
    assert shown_status(SUCCESS, 0, None) is SUCCESS
    assert shown_status(WARNING, None, None) is WARNING


def test_reasons_read_as_counts_and_words_with_what_is_left_unexplained() -> None:
    reasons = [Reason(SKIPPED, "Duplicate found", 92), Reason(FAILED, "Required field missing: name", 3)]

    assert reasons_message(RunCounts(skipped=92, failed=3), reasons) == (
        "92 skipped: Duplicate found; 3 failed: Required field missing: name"
    )
    assert reasons_message(RunCounts(skipped=95, failed=3), reasons).endswith("; 3 more skipped or failed")  # type: ignore[union-attr]
    assert reasons_message(RunCounts(skipped=2, failed=1), []) == "2 skipped; 1 failed"
    assert reasons_message(RunCounts(created=4), []) is None


def test_a_running_run_shows_running_and_the_counts_of_its_entries_so_far() -> None:
    window = stored("auto-1", service="pusher", kind="auto_push", direction="to_pipedrive", tokens_spent=0)
    tally = LiveTally(RunCounts(created=2, unchanged=1), tokens=10)

    shown = present_run(window, RunRelations(tally=tally))

    assert (shown["status"], shown["created"], shown["unchanged"], shown["tokens_spent"]) == (
        "running",
        2,
        1,
        10,
    )
    assert shown["finished_at"] is None and shown["message"] is None


def test_a_connector_run_shows_its_apply_runs_outcomes_reasons_and_link() -> None:
    end = T0 + timedelta(minutes=1)
    imported = stored(
        "import-1", finished_at=end, own_status=SUCCESS, status=WARNING, emitted=14, tokens_spent=20
    )
    applied = stored(
        "apply-import-1", service="mapper", kind="apply", finished_at=end + timedelta(seconds=5),
        counts=RunCounts(skipped=14), own_status=WARNING, status=WARNING, applies_run_id="import-1",
    )  # fmt: skip
    tally = LiveTally(RunCounts(skipped=14), reasons=(Reason(SKIPPED, "Duplicate found", 14),))

    shown = present_run(imported, RunRelations(apply_run=applied, apply_tally=tally, retried_by=("retry-1",)))

    assert (shown["created"], shown["updated"], shown["skipped"], shown["emitted"]) == (0, 0, 14, 14)
    assert (shown["status"], shown["message"]) == ("Warning", "14 skipped: Duplicate found")
    assert shown["finished_at"] == applied.finished_at.isoformat()  # type: ignore[union-attr]
    assert shown["links"] == {
        "applies_run_id": None, "apply_run_id": "apply-import-1", "retry_of": None, "retried_by": ["retry-1"],
    }  # fmt: skip
    alone = present_run(applied, RunRelations(tally=tally))
    assert (alone["skipped"], alone["links"]["applies_run_id"]) == (14, "import-1")


def test_a_connector_run_still_applying_is_running_with_the_apply_counts_so_far() -> None:
    imported = stored("sync-1", finished_at=T0, own_status=SUCCESS, status=None, emitted=10)
    applying = stored("apply-sync-1", service="mapper", kind="apply", applies_run_id="sync-1")

    shown = present_run(
        imported, RunRelations(apply_run=applying, apply_tally=LiveTally(RunCounts(created=4, unchanged=2)))
    )

    assert (shown["status"], shown["finished_at"], shown["created"], shown["unchanged"]) == (
        "running",
        None,
        4,
        2,
    )


def test_a_failed_run_says_why_and_what_it_could_not_apply() -> None:
    failed = stored(
        "sync-2", finished_at=T0, own_status=ERROR, status=ERROR, message="Invalid API key",
        counts=RunCounts(failed=2),
    )  # fmt: skip

    assert present_run(failed, RunRelations())["message"] == "Invalid API key. 2 failed"


def test_an_ended_mapper_or_pusher_run_waits_for_an_entry_of_each_record_it_reported() -> None:
    pushed = stored(
        "push-1", service="pusher", kind="push", finished_at=T0, own_status=WARNING, status=WARNING,
        counts=RunCounts(created=3, skipped=1, failed=2),
    )  # fmt: skip
    so_far = LiveTally(RunCounts(created=3, failed=1))

    assert results_not_logged(pushed, so_far) == ResultsToCome(records=2, failed=1)
    assert results_not_logged(pushed, LiveTally(RunCounts(created=3, skipped=1, failed=2))).pending == 0
    assert results_not_logged(pushed, LiveTally(RunCounts(created=3, skipped=1, failed=3))).pending == 0
    # All in, but one logged as created that the run counted failed: the failed one is still to come.
    assert results_not_logged(pushed, LiveTally(RunCounts(created=4, skipped=1, failed=1))) == (0, 1)
    assert results_not_logged(replace(pushed, own_status=None, status=None), so_far).pending == 0
    connector = replace(pushed, service="connector", kind="sync")  # counts unread records, no entries
    assert results_not_logged(connector, LiveTally()).pending == 0


def test_a_run_whose_end_came_before_its_last_entries_is_finishing_with_its_entries_so_far() -> None:
    pushed = stored(
        "push-1", service="pusher", kind="push", finished_at=T0, own_status=ERROR, status=ERROR,
        counts=RunCounts(failed=2), tokens_spent=4, message="Invalid API key",
    )  # fmt: skip
    one = LiveTally(RunCounts(failed=1), tokens=2, reasons=(Reason(FAILED, "Invalid API key", 1),))

    shown = present_run(pushed, RunRelations(tally=one))

    assert (shown["status"], shown["results_pending"], shown["failed"], shown["finished_at"]) == (
        "finishing", 1, 1, None,
    )  # fmt: skip
    both = LiveTally(RunCounts(failed=2), tokens=4, reasons=(Reason(FAILED, "Invalid API key", 2),))
    final = present_run(pushed, RunRelations(tally=both))
    assert (final["status"], final["results_pending"], final["failed"]) == ("Error", 0, 2)
    assert final["finished_at"] == T0.isoformat()


def test_a_connector_run_is_finishing_while_its_apply_runs_entries_come_in() -> None:
    end = T0 + timedelta(minutes=1)
    imported = stored("import-1", finished_at=T0, own_status=SUCCESS, status=SUCCESS, emitted=3)
    applied = stored(
        "apply-import-1", service="mapper", kind="apply", finished_at=end, counts=RunCounts(created=3),
        own_status=SUCCESS, status=SUCCESS, applies_run_id="import-1",
    )  # fmt: skip

    shown = present_run(
        imported, RunRelations(apply_run=applied, apply_tally=LiveTally(RunCounts(created=2)))
    )

    assert (shown["status"], shown["results_pending"], shown["created"]) == ("finishing", 1, 2)
    done = present_run(imported, RunRelations(apply_run=applied, apply_tally=LiveTally(RunCounts(created=3))))
    assert (done["status"], done["results_pending"], done["created"]) == ("Success", 0, 3)
