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
    "plus_hours": plus_hours,
}
