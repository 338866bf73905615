"""The alert rules, as pure functions: what raises an alert, how a tenant's settings are checked, what the
webhook receives (Slack-compatible JSON) and how long a failed delivery waits before the next attempt."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipedrive_client import ExhaustedBudget, RefusedConnection
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus

CREDENTIAL_MESSAGES = ("Invalid API key", "Stored Pipedrive credentials cannot be decrypted")
"""Run messages that mean the tenant's Pipedrive credentials were refused or cannot be read."""

MAX_WINDOW_MINUTES = 1440
FIRST_RETRY_S = 2.0
MAX_RETRY_S = 600.0


class AlertCause(StrEnum):
    """Why an alert was raised; one alert per cause per window."""

    RUN_ERROR = "run_error"
    CREDENTIALS = "credentials"
    BUDGET = "budget"
    DEAD_LETTERS = "dead_letters"
    FAILURES = "failures"


class AlertSettings(BaseModel):
    """A tenant's alert settings: where notifications go (none: the console's banner only) and how many
    failed records within how many minutes raise an alert. The window debounces every cause."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url: str | None = Field(default=None, max_length=2000)
    failure_threshold: int = Field(default=10, ge=1, le=1_000_000)
    window_minutes: int = Field(default=15, ge=1, le=MAX_WINDOW_MINUTES)

    @field_validator("webhook_url")
    @classmethod
    def _absolute_url(cls, url: str | None) -> str | None:
        if url is None or url == "":
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an absolute http(s) URL, such as https://hooks.slack.com/services/...")
        return url

    @property
    def window(self) -> timedelta:
        """The window as a duration."""
        return timedelta(minutes=self.window_minutes)


def webhook_refusal(url: str | None, http_hosts: frozenset[str]) -> str | None:
    """Why a notification URL may not be used (None: it may): plain http only to the allowed hosts (a
    local receiver in development and tests), https to anyone; an address in the URL must be public
    unless the host is allowed (a name is checked when it is resolved, at each delivery)."""
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "http" and host not in http_hosts:
        return "webhook_url: must be https"
    address = address_of_host(host)
    if address is not None and address_refusal(host, address, http_hosts) is not None:
        return "webhook_url: must not be a private, loopback or link-local address"
    return None


def address_refusal(host: str, address: str, allowed_hosts: frozenset[str]) -> str | None:
    """Why a webhook's `host` may not be reached at `address`, one it resolved to (None: it may). Only
    public addresses, unless the host is one of the allowed (a local receiver): a tenant's webhook must not
    reach the platform's own network (cloud metadata at 169.254.169.254, databases, internal services)."""
    if host in allowed_hosts:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope (fe80::1%eth0) is no part
    except ValueError:
        return f"{host} resolved to something that is not an address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 reaches 10.0.0.1
    if ip.is_global and not ip.is_multicast:
        return None
    return f"{host} resolves to a private, loopback, link-local or reserved address; refused"


def address_of_host(host: str) -> str | None:
    """The address a URL's host is written as, None for a name: besides the usual forms, the shorthands
    the C resolver reads as IPv4 addresses (`127.1`, `2130706433`, `0x7f.0.0.1`), which are not names."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return _ipv4_shorthand(host)


def _ipv4_shorthand(host: str) -> str | None:
    """`inet_aton`'s reading of a host, as a pure function: one to four parts, each decimal, octal
    (a leading 0) or hexadecimal (0x), the last one filling the bytes left; None when it is not one."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        lowered = part.lower()
        base = 16 if lowered.startswith("0x") else 8 if len(part) > 1 and part.startswith("0") else 10
        digits = lowered[2:] if base == 16 else part
        if not digits or any(c not in "0123456789abcdef"[:base] for c in digits.lower()):
            return None
        numbers.append(int(digits, base))
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = sum(n << (8 * (3 - i)) for i, n in enumerate(leading)) + last
    return str(ipaddress.IPv4Address(value))


@dataclass(frozen=True)
class RaisedAlert:
    """An alert to raise: the tenant, its cause, a title and a sentence for people, for a standing
    condition found by polling (a spent budget, a refused connection) the episode it belongs to (one alert
    per episode, however long the condition lasts and however often it is seen), and for a run's end the
    run it is about (the console links to its page)."""

    tenant: str
    cause: AlertCause
    title: str
    detail: str
    episode: str | None = None
    run_id: str | None = None


def alert_of_finished_run(tenant: str, run: RunFinished) -> RaisedAlert | None:
    """The alert a run's end raises: refused or unreadable credentials, or an Error; None otherwise."""
    if run.status is not RunStatus.ERROR:
        return None
    message = run.message or error_reason_of_counts(run.counts)
    what = f"{run.service} {run.kind.value} run {run.run_id}"
    if message.startswith(CREDENTIAL_MESSAGES):
        return RaisedAlert(
            tenant, AlertCause.CREDENTIALS, "Pipedrive credentials refused",
            f"{what} failed: {message}. Reconnect Pipedrive in the console.", run_id=run.run_id,
        )  # fmt: skip
    return RaisedAlert(
        tenant, AlertCause.RUN_ERROR, run_error_title(run.kind),
        f"{what} ended in Error: {message}. The run's page says why each record failed.", run_id=run.run_id,
    )  # fmt: skip


_RUN_ERROR_TITLES: Mapping[RunKind, str] = {
    RunKind.SYNC: "A sync run failed",
    RunKind.IMPORT: "An import failed",
    RunKind.PUSH: "A push failed",
    RunKind.AUTO_PUSH: "An auto-push failed",
    RunKind.APPLY: "Applying Pipedrive's records to the ABM platform failed",
    RunKind.WEBHOOK: "Syncing Pipedrive's webhook changes failed",
}


def run_error_title(kind: RunKind) -> str:
    """The title of the alert of a run of this kind that ended in Error: what the admin started or
    scheduled (a push, an import, a sync) failed, not "a sync" whatever the run was."""
    return _RUN_ERROR_TITLES[kind]


def error_reason_of_counts(counts: RunCounts) -> str:
    """Why a run that gave no message of its own ended in Error, from its counts: a run whose every record
    failed (a push Pipedrive refused) leaves the reasons to its records' entries."""
    if counts.failed and counts.failed == counts.total:
        return (
            "its only record failed" if counts.failed == 1 else f"all {counts.failed} of its records failed"
        )
    return "no reason given"


def failures_alert(tenant: str, failures: int, settings: AlertSettings) -> RaisedAlert:
    """The alert of failed records over the tenant's threshold within its window."""
    return RaisedAlert(
        tenant, AlertCause.FAILURES, "Records are failing",
        f"{failures} records failed within {settings.window_minutes} minutes"
        f" (threshold {settings.failure_threshold}). See the activity log.",
    )  # fmt: skip


def dead_letter_alert(tenant: str, topic: str) -> RaisedAlert:
    """The alert of a message of the tenant's that a service dead-lettered."""
    service = topic.removeprefix("psync.").removesuffix(".dlq")
    return RaisedAlert(
        tenant, AlertCause.DEAD_LETTERS, "Messages were dead-lettered",
        f"The {service} could not apply a message of this tenant ({topic}); an operator can re-drive it.",
    )  # fmt: skip


def budget_alert(tenant: str, until: datetime, by_pipedrive: bool = False) -> RaisedAlert:
    """The alert of the tenant's daily Pipedrive budget spent (syncs and pushes wait for its reset): one
    per day it reopens on (`until`, UTC), so a budget spent again the next day alerts again."""
    spent = (
        "Pipedrive refused further calls today (daily budget exhausted)"
        if by_pipedrive
        else "This integration's share of today's Pipedrive budget is spent"
    )
    return RaisedAlert(
        tenant, AlertCause.BUDGET, "Daily Pipedrive budget exhausted",
        f"{spent}; syncs and pushes resume at {until.isoformat(timespec='minutes')}.",
        episode=f"budget until {until.date().isoformat()}",
    )  # fmt: skip


def refused_connection_alert(tenant: str, reason: str, refused_at: datetime) -> RaisedAlert:
    """The alert of credentials Pipedrive refused for good (found outside a run too): one per refusal, so
    a connection refused again after a reconnection alerts again."""
    return RaisedAlert(
        tenant, AlertCause.CREDENTIALS, "Pipedrive credentials refused",
        f"{reason} (at {refused_at.isoformat(timespec='minutes')}). Nothing is synced or pushed until an"
        " admin reconnects Pipedrive in the console.",
        episode=f"refused {refused_at.isoformat()}",
    )  # fmt: skip


def standing_alerts(
    exhausted: Iterable[ExhaustedBudget], refused: Iterable[RefusedConnection]
) -> list[RaisedAlert]:
    """The alerts of what the Pipedrive client's schema says now: each spent daily budget, each connection
    that needs reconnecting (their episodes keep a condition seen at every poll to one alert)."""
    budgets = [
        budget_alert(b.tenant_id, datetime.fromtimestamp(b.until, UTC), b.by_pipedrive) for b in exhausted
    ]
    return budgets + [refused_connection_alert(r.tenant_id, r.reason, r.refused_at) for r in refused]


def is_recent(at: datetime, now: datetime, window: timedelta) -> bool:
    """Whether something that happened `at` may still raise an alert: a replay of old events may not."""
    return at >= now - window


def alert_id_of(alert: RaisedAlert, raised_at: datetime) -> str:
    """A stable id for the alert raised at a time."""
    seed = f"{alert.tenant}|{alert.cause.value}|{raised_at.isoformat()}"
    return f"{alert.cause.value}-{hashlib.sha256(seed.encode()).hexdigest()[:16]}"


def slack_message(alert: RaisedAlert, raised_at: datetime) -> dict[str, object]:
    """The webhook's body: Slack-compatible JSON, `text` for any receiver and `blocks` for Slack."""
    text = f"[{alert.tenant}] {alert.title}: {alert.detail}"
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alert.detail}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"tenant `{alert.tenant}` · {alert.cause.value} · {raised_at.isoformat()}",
                    }
                ],
            },
        ],
    }


def retry_delay_s(attempts: int, first_s: float = FIRST_RETRY_S, most_s: float = MAX_RETRY_S) -> float:
    """How long a delivery that failed `attempts` times waits: doubling from `first_s`, at most `most_s`."""
    return float(min(most_s, first_s * 2 ** max(0, attempts - 1)))


def failure_tallies(results: Iterable[tuple[str, bool]]) -> dict[int, tuple[str, int]]:
    """Of a batch's record results, (tenant, whether it failed) in order: each tenant's failures, counted
    at the position of its last failed result (where the count is handed on); no entry for a tenant none
    of whose results failed."""
    counts: dict[str, int] = {}
    last: dict[str, int] = {}
    for position, (tenant, failed) in enumerate(results):
        if failed:
            counts[tenant] = counts.get(tenant, 0) + 1
            last[tenant] = position
    return {position: (tenant, counts[tenant]) for tenant, position in last.items()}
