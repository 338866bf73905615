"""RFC 3339 timestamps at second precision, the way Pipedrive API v2 writes them."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime


def format_time(epoch_seconds: int) -> str:
    """Format epoch seconds as `YYYY-MM-DDTHH:MM:SSZ`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


def format_date(epoch_seconds: int) -> str:
    """Format epoch seconds as a `YYYY-MM-DD` date."""
    return time.strftime("%Y-%m-%d", time.gmtime(epoch_seconds))


def parse_time(text: str) -> int:
    """Parse an RFC 3339 timestamp (`Z` or offset; fractions dropped) or a bare date into epoch seconds.

    Raises ValueError when the text is neither.
    """
    cleaned = text.strip().replace(" ", "T")
    if len(cleaned) == 10:
        return int(datetime.combine(date.fromisoformat(cleaned), datetime.min.time(), UTC).timestamp())
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def format_v1_time(epoch_seconds: int) -> str:
    """Format epoch seconds as API v1 does: `YYYY-MM-DD HH:MM:SS` in UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch_seconds))
