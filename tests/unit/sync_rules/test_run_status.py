"""The one rule for a run's status, from its counts and how it ended."""

from __future__ import annotations

from schemas.events.sync_runs import RunCounts, RunStatus
from sync_rules.run_status import RunEnd, run_status, worst_status

SUCCESS, WARNING, ERROR = RunStatus.SUCCESS, RunStatus.WARNING, RunStatus.ERROR


def test_a_run_whose_records_were_all_applied_or_unchanged_is_a_success() -> None:
    assert run_status(RunCounts(created=1, updated=2, unchanged=40)) is SUCCESS
    assert run_status(RunCounts(unchanged=14)) is SUCCESS
    assert run_status(RunCounts()) is SUCCESS


def test_skipped_or_failed_records_make_a_warning() -> None:
    assert run_status(RunCounts(created=1, skipped=1)) is WARNING
    assert run_status(RunCounts(skipped=14)) is WARNING
    assert run_status(RunCounts(updated=1, failed=1)) is WARNING
    assert run_status(RunCounts(unchanged=3, failed=1)) is WARNING


def test_a_run_whose_every_record_failed_or_that_failed_itself_is_an_error() -> None:
    assert run_status(RunCounts(failed=3)) is ERROR
    assert run_status(RunCounts(created=5), RunEnd.FAILED) is ERROR
    assert run_status(RunCounts(), RunEnd.FAILED) is ERROR


def test_a_cancelled_run_is_a_warning_unless_it_failed_too() -> None:
    assert run_status(RunCounts(created=2), RunEnd.CANCELLED) is WARNING
    assert run_status(RunCounts(failed=2), RunEnd.CANCELLED) is ERROR


def test_two_runs_shown_together_take_the_worst_status() -> None:
    assert worst_status(SUCCESS, WARNING) is WARNING
    assert worst_status(ERROR, SUCCESS, WARNING) is ERROR
    assert worst_status() is SUCCESS


def test_counts_add_up_and_total_every_outcome() -> None:
    both = RunCounts(created=1, unchanged=2) + RunCounts(skipped=3, failed=4, updated=5)

    assert both == RunCounts(created=1, updated=5, unchanged=2, skipped=3, failed=4)
    assert both.total == 15
