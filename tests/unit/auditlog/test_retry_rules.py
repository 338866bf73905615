"""Which service retries a run's failed records, which records, under which run id (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditlog.retry_rules import (
    FailedRecord,
    NotRetriable,
    failures_not_logged_yet,
    first_run_of,
    retry_work,
    runs_holding_failures,
)
from auditlog.run_views import LiveTally, StoredRun
from schemas.events.sync_runs import RunCounts, RunStatus


def _run(run_id: str, service: str, kind: str, applies: str | None = None) -> StoredRun:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    return StoredRun(
        run_id, service, kind, "to_abm", ("organization",), "manual", at, at, RunCounts(), 0, None, None,
        None, applies_run_id=applies,
    )  # fmt: skip


def test_an_inbound_run_is_re_read_by_the_connector_by_pipedrive_id() -> None:
    run = _run("import-1", "connector", "import")
    failed = [
        FailedRecord("person", 7, None),
        FailedRecord("organization", 3, "a1"),
        FailedRecord("deal", None, "x"),
    ]

    work = retry_work(run, failed, attempt=2)

    assert (work.service, work.path, work.run_id, work.retry_of, work.kind) == (
        "connector", "/v1/retries", "retry2-import-1", "import-1", "import",
    )  # fmt: skip
    assert work.body == {
        "retry": {"of": "import-1", "attempt": 2},
        "records": [{"object": "organization", "pipedrive_id": 3}, {"object": "person", "pipedrive_id": 7}],
    }
    assert (work.records, work.left_out) == (2, 1)


def test_an_apply_run_is_retried_as_the_connector_run_it_applies() -> None:
    apply = _run("apply-sync-9", "mapper", "apply", applies="sync-9")

    work = retry_work(apply, [FailedRecord("organization", 5, None)], attempt=1)

    assert first_run_of(apply) == "sync-9"
    assert runs_holding_failures("sync-9") == ("sync-9", "apply-sync-9")
    assert (work.service, work.run_id, work.retry_of, work.kind) == (
        "connector",
        "retry1-sync-9",
        "sync-9",
        "sync",
    )


def test_an_outbound_run_is_pushed_again_by_abm_id() -> None:
    run = _run("push-1", "pusher", "push")
    failed = [FailedRecord("organization", None, "b2"), FailedRecord("organization", 4, "a1")]

    work = retry_work(run, failed, attempt=1)

    assert (work.service, work.path, work.run_id, work.direction) == (
        "pusher", "/v1/push", "retry1-push-1", "to_pipedrive",
    )  # fmt: skip
    assert work.body == {
        "object": "organization",
        "records": [{"abm_id": "a1"}, {"abm_id": "b2"}],
        "retry": {"of": "push-1", "attempt": 1},
    }


@pytest.mark.parametrize(
    ("run", "failed", "status", "code"),
    [
        (_run("push-1", "pusher", "push"), [], 409, "nothing_to_retry"),
        (_run("push-1", "pusher", "push"), [FailedRecord("organization", None, None)], 422, "not_retriable"),
        (
            _run("sync-1", "connector", "sync"),
            [FailedRecord("organization", None, "a")],
            422,
            "not_retriable",
        ),
        (_run("apply-x", "mapper", "apply"), [FailedRecord("organization", 1, None)], 422, "not_retriable"),
    ],
)
def test_what_cannot_be_retried_says_why(
    run: StoredRun, failed: list[FailedRecord], status: int, code: str
) -> None:
    with pytest.raises(NotRetriable) as refused:
        retry_work(run, failed, attempt=1)
    assert (refused.value.status, refused.value.code) == (status, code)


def _ended(run_id: str, service: str, failed: int, *, ended: bool = True) -> StoredRun:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    status = RunStatus.WARNING if ended else None
    return StoredRun(
        run_id, service, "push", "to_pipedrive", ("organization",), "manual", at, at,
        RunCounts(failed=failed), 0, status, status, None,
    )  # fmt: skip


def _tally(failed: int) -> LiveTally:
    return LiveTally(counts=RunCounts(failed=failed))


def test_failures_an_ended_run_reported_but_the_log_does_not_hold_yet_are_counted() -> None:
    push = _ended("push-1", "pusher", 3)

    assert failures_not_logged_yet([push], {}) == 3
    assert failures_not_logged_yet([push], {"push-1": _tally(1)}) == 2
    assert failures_not_logged_yet([push], {"push-1": _tally(3)}) == 0
    assert failures_not_logged_yet([push], {"push-1": _tally(4)}) == 0  # a record failed twice


def test_only_ended_runs_of_services_that_log_each_record_are_waited_for() -> None:
    running = _ended("push-2", "pusher", 2, ended=False)
    connector = _ended("import-1", "connector", 2)  # its unread records have no entries
    apply = _ended("apply-import-1", "mapper", 2)

    assert failures_not_logged_yet([running, connector], {}) == 0
    assert failures_not_logged_yet([connector, apply], {"apply-import-1": _tally(1)}) == 1
