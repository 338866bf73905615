"""Jinja filters the templates share: dates and numbers as people read them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any


def when(value: str | None) -> str:
    """An ISO timestamp as `2026-05-04 13:05 UTC` (empty for none)."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def count(value: int | None) -> str:
    """A count with thousands separators."""
    return f"{value or 0:,}"


FILTERS: dict[str, Callable[..., Any]] = {"when": when, "count": count}
