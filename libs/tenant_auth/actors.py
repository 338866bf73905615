"""Who acted, for every authenticated request: the API key it came with and, when the caller names one,
the person behind it (`X-Psync-Actor`: the console sends its signed-in user's email there).

The tenant middleware sets it on the request (`actor_of`) and, for the handler's duration, as the current
actor of the task (`current_actor`), so that what records "who" (audit entries) needs no extra argument
through every layer. Work that no request started has no actor (the system acted).
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterator
from contextvars import ContextVar

from aiohttp import web

from schemas.events.audit import Actor

ACTOR_HEADER = "X-Psync-Actor"
MAX_NAME_LENGTH = 320
ACTOR = web.RequestKey("actor", Actor)
_current: ContextVar[Actor | None] = ContextVar("psync_actor", default=None)


def named_actor(value: str | None) -> str | None:
    """The actor a header names: control characters dropped, spaces trimmed, at most 320 characters;
    None when nothing is left."""
    if value is None:
        return None
    kept = "".join(c for c in value if unicodedata.category(c)[0] != "C").strip()
    return kept[:MAX_NAME_LENGTH] or None


def actor_of(request: web.Request) -> Actor:
    """Who made an authenticated request (set by the tenant middleware)."""
    return request[ACTOR]


def current_actor() -> Actor | None:
    """Who the work under way acts for (None: no request started it)."""
    return _current.get()


@contextlib.contextmanager
def acting_as(actor: Actor | None) -> Iterator[None]:
    """Run a block as `actor` (a request's handler, or work a request started and another finishes)."""
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)
