"""The alert rules as values: which run ends raise what, the settings' checks, the webhook's body and the
retry delays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from auditlog.alert_rules import (
    AlertCause,
    AlertSettings,
    alert_of_finished_run,
    is_recent,
    retry_delay_s,
    run_error_title,
    slack_message,
    standing_alerts,
    webhook_refusal,
)
from pipedrive_client import ExhaustedBudget, RefusedConnection
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)


def _run(status: RunStatus, message: str | None) -> RunFinished:
    return RunFinished(
        run_id="r1", service="connector", kind=RunKind.SYNC, direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,), started_at=T0, finished_at=T0, counts=RunCounts(),
        status=status, message=message,
    )  # fmt: skip


def test_only_error_runs_raise_and_refused_credentials_are_their_own_cause() -> None:
    assert alert_of_finished_run("t", _run(RunStatus.WARNING, "3 failed")) is None
    assert alert_of_finished_run("t", _run(RunStatus.SUCCESS, None)) is None
    error = alert_of_finished_run("t", _run(RunStatus.ERROR, "Pipedrive answered 500"))
    assert error is not None and error.cause is AlertCause.RUN_ERROR
    refused = alert_of_finished_run("t", _run(RunStatus.ERROR, "Invalid API key: revoked; reconnect"))
    assert refused is not None and refused.cause is AlertCause.CREDENTIALS
    unreadable = alert_of_finished_run(
        "t", _run(RunStatus.ERROR, "Stored Pipedrive credentials cannot be decrypted")
    )
    assert unreadable is not None and unreadable.cause is AlertCause.CREDENTIALS


def test_an_error_run_without_a_message_is_explained_by_its_counts_and_names_its_run() -> None:
    def push_run(counts: RunCounts) -> RunFinished:
        return _run(RunStatus.ERROR, None).model_copy(update={"service": "pusher", "counts": counts})

    only = alert_of_finished_run("t", push_run(RunCounts(failed=1)))
    every = alert_of_finished_run("t", push_run(RunCounts(failed=3)))
    unexplained = alert_of_finished_run("t", push_run(RunCounts(created=2)))
    assert only is not None and every is not None and unexplained is not None
    assert only.detail == (
        "pusher sync run r1 ended in Error: its only record failed."
        " The run's page says why each record failed."
    )
    assert "ended in Error: all 3 of its records failed." in every.detail
    assert "ended in Error: no reason given." in unexplained.detail
    assert {only.run_id, every.run_id, unexplained.run_id} == {"r1"}
    given = alert_of_finished_run("t", _run(RunStatus.ERROR, "Pipedrive answered 500"))
    assert given is not None and "ended in Error: Pipedrive answered 500." in given.detail


def test_the_title_of_a_failed_run_says_what_kind_of_run_failed() -> None:
    """A push that ended in Error once raised "A sync run failed"."""
    pushed = _run(RunStatus.ERROR, None).model_copy(update={"service": "pusher", "kind": RunKind.PUSH})
    alert = alert_of_finished_run("t", pushed)

    assert alert is not None and alert.title == "A push failed"
    assert [run_error_title(kind) for kind in (RunKind.SYNC, RunKind.IMPORT, RunKind.AUTO_PUSH)] == [
        "A sync run failed", "An import failed", "An auto-push failed",
    ]  # fmt: skip
    titles = [run_error_title(kind) for kind in RunKind]
    assert len(set(titles)) == len(RunKind) and all(t.endswith(" failed") for t in titles)


def test_settings_are_checked_and_plain_http_goes_only_to_allowed_hosts() -> None:
    assert AlertSettings(webhook_url="").webhook_url is None
    for bad in ({"webhook_url": "hooks.slack.com/x"}, {"failure_threshold": 0}, {"window_minutes": 0}):
        with pytest.raises(ValidationError):
            AlertSettings.model_validate(bad)
    hosts = frozenset({"127.0.0.1"})
    assert webhook_refusal("https://hooks.slack.com/services/x", hosts) is None
    assert webhook_refusal("http://127.0.0.1:9000/hook", hosts) is None
    assert webhook_refusal("http://example.com/hook", hosts) == "webhook_url: must be https"


def test_the_webhook_body_is_slack_compatible_and_names_the_tenant() -> None:
    alert = alert_of_finished_run("acme", _run(RunStatus.ERROR, "boom"))
    assert alert is not None
    body = slack_message(alert, T0)
    assert set(body) == {"text", "blocks"}
    assert str(body["text"]).startswith("[acme] A sync run failed:")


def test_retries_double_up_to_a_ceiling_and_old_events_raise_nothing() -> None:
    assert [retry_delay_s(n, 2.0, 10.0) for n in (1, 2, 3, 4, 5)] == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert is_recent(T0, T0 + timedelta(minutes=14), timedelta(minutes=15))
    assert not is_recent(T0, T0 + timedelta(minutes=16), timedelta(minutes=15))


def test_standing_conditions_raise_one_alert_per_episode() -> None:
    until = T0.timestamp() + 3_600
    refused_at = T0 - timedelta(minutes=5)
    exhausted = [
        ExhaustedBudget("a", until, by_pipedrive=True),
        ExhaustedBudget("b", until, by_pipedrive=False),
    ]
    refused = [RefusedConnection("c", "Pipedrive refused the API token (revoked or changed)", refused_at)]

    by_pipedrive, share_spent, reconnect = standing_alerts(exhausted, refused)

    assert (by_pipedrive.cause, reconnect.cause) == (AlertCause.BUDGET, AlertCause.CREDENTIALS)
    assert "Pipedrive refused further calls" in by_pipedrive.detail and "10:00" in by_pipedrive.detail
    assert "share of today's Pipedrive budget is spent" in share_spent.detail
    assert "revoked or changed" in reconnect.detail and "reconnects Pipedrive" in reconnect.detail
    later_same_day = standing_alerts([ExhaustedBudget("a", until + 3_600, by_pipedrive=True)], [])[0]
    next_day = standing_alerts([ExhaustedBudget("a", until + 86_400, by_pipedrive=True)], [])[0]
    assert by_pipedrive.episode == later_same_day.episode != next_day.episode
    refused_again = RefusedConnection("c", "x", refused_at + timedelta(days=1))
    assert standing_alerts([], [refused_again])[0].episode != reconnect.episode
