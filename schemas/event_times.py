"""Times of the ABM platform's events that lie too far ahead: a fact cannot have happened after it is
read. The consumers keep these times, and a later one wins each time it is compared (an account's last
reveal, the score a later score may replace, which side wins a conflict with Pipedrive, the hour an
auto-push's run is filed under), so one far ahead (`9999-12-31`, a producer's clock years off) would pin
what it sets for good. `codec.decoder_of` refuses such an event as invalid, as schemas/ABM-CONTRACTS.md
says."""

from __future__ import annotations

import types
import typing
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from pydantic import AwareDatetime, BaseModel

from schemas.envelope import CloudEvent

CLOCK_SKEW_ALLOWED = timedelta(days=1)
"""How far after the consumer's clock an event's time may lie: two systems' clocks disagree by seconds,
minutes when one is badly set; a day more is no clock skew but a wrong time."""

Where = tuple[str | int, ...]
"""Where a time is in an event: `("data", "pages", 0, "visited_at")`."""


def time_too_far_ahead(event: CloudEvent[Any], now: datetime) -> str | None:
    """Why the event is invalid when one of its times lies more than `CLOCK_SKEW_ALLOWED` after `now`:
    the envelope's `time` or one of the payload's, those of its lists of objects included (naming the
    first such time and where it is, e.g. `data.pages.0.visited_at`); None when none does."""
    latest = now + CLOCK_SKEW_ALLOWED
    found: tuple[Where, datetime] | None = (("time",), event.time) if event.time > latest else None
    if found is None and (in_data := _time_after(event.data, latest)) is not None:
        found = (("data", *in_data[0]), in_data[1])
    if found is None:
        return None
    where, moment = found
    return (
        f"{'.'.join(map(str, where))}: {moment.isoformat()} is more than a day ahead of the time the event"
        f" is read ({now.isoformat(timespec='seconds')}); send the time the fact happened"
    )


def _time_after(model: BaseModel, latest: datetime) -> tuple[Where, datetime] | None:
    """The first time of `model` after `latest`, with where it is in `model` (a loop, not a generator,
    and the place spelled out only for the time found: this runs for every event of the ABM platform)."""
    for name, items in time_fields(type(model)):
        value = getattr(model, name)
        if items is None:
            if value is not None and value > latest:
                return (name,), value
        else:
            for index, item in enumerate(value):
                found = _time_after(item, latest)
                if found is not None:
                    return (name, index, *found[0]), found[1]
    return None


@cache  # the fields of a payload type, worked out once: an event costs its few look-ups
def time_fields(model: type[BaseModel]) -> tuple[tuple[str, type[BaseModel] | None], ...]:
    """The fields of `model` that hold times: `(name, None)` for a time (or none), `(name, item model)`
    for a tuple or list of objects that hold times."""
    found: list[tuple[str, type[BaseModel] | None]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if _is_time(annotation) or (origin in (typing.Union, types.UnionType) and any(map(_is_time, args))):
            found.append((name, None))
        elif origin in (tuple, list) and args and _holds_times(args[0]):
            found.append((name, args[0]))
    return tuple(found)


def _is_time(annotation: Any) -> bool:
    return annotation is AwareDatetime or (isinstance(annotation, type) and issubclass(annotation, datetime))


def _holds_times(annotation: Any) -> bool:
    return (
        isinstance(annotation, type) and issubclass(annotation, BaseModel) and bool(time_fields(annotation))
    )
