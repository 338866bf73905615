"""Relative dates and record timestamps as calendar days in the time zone of the ``now`` passed in."""

from datetime import date, datetime, timedelta

from sync_rules.filters.syntax import DateAnchor, RelativeDate


def resolve_relative_date(value: RelativeDate, now: datetime) -> date:
    """Return the day a relative date names: today, today minus N days, or today plus N days."""
    today = now.date()
    if value.anchor is DateAnchor.LAST:
        return today - timedelta(days=value.days)
    if value.anchor is DateAnchor.NEXT:
        return today + timedelta(days=value.days)
    return today


def record_day(value: object, now: datetime) -> date | None:
    """Return the calendar day of a record's date (``YYYY-MM-DD``) or RFC 3339 timestamp, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None and now.tzinfo is not None:
        moment = moment.astimezone(now.tzinfo)
    return moment.date()


def start_of_day(day: date, now: datetime) -> datetime:
    """Return midnight at the start of ``day`` in the time zone of ``now``."""
    return datetime(day.year, day.month, day.day, tzinfo=now.tzinfo)
