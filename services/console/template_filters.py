"""Jinja filters the templates share: dates and numbers as people read them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any


def when(value: str | None) -> str:
    """An ISO timestamp as `2026-05-04 13:05 UTC` (empty for none)."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def plus_hours(value: str | None, hours: int) -> str | None:
    """An ISO timestamp moved `hours` later (None stays None)."""
    return (datetime.fromisoformat(value) + timedelta(hours=hours)).isoformat() if value else None


def count(value: int | None) -> str:
    """A count with thousands separators."""
    return f"{value or 0:,}"


def amount(value: float | int | str | None) -> str:
    """A money amount as people read it: `26,600` (cents only when there are some: `1,234.50`)."""
    if value is None or value == "":
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:,.0f}" if number == int(number) else f"{number:,.2f}"


TRIGGERS = {
    "manual": "started by hand",
    "schedule": "on schedule",
    "webhook": "from Pipedrive's webhooks",
    "auto_push": "automatic",
    "retry": "retry of failed records",
    "connector_run": "applying a sync or import",
}
"""What started a run (the activity log's `trigger`), in words."""


def trigger(value: str | None) -> str:
    """What started a run, in words (an unknown trigger as it is)."""
    return TRIGGERS.get(value or "", value or "")


STILL_GOING = ("running", "finishing")
"""The activity log's statuses of a run not settled yet: running, or ended but still receiving its
records' results (`finishing`); its page and the list refresh while a run shows one."""


def has_ended(run: Any) -> bool:
    """Whether an activity-log run shows its final status (not `running`, nor `finishing`: still receiving
    its results)."""
    status = run.get("status") if isinstance(run, dict) else None
    return bool(status) and status not in STILL_GOING


FILTERS: dict[str, Callable[..., Any]] = {
    "ended": has_ended,
    "when": when,
    "count": count,
    "amount": amount,
    "trigger": trigger,
    "plus_hours": plus_hours,
}
