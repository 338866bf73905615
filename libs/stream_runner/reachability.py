"""Waiting at start for a server a process needs (PostgreSQL, Kafka): one rule for every such wait.

A process started while its database or its broker is away (still starting, restarting, a network
partition) waits for it rather than exits: it tries again, with jittered pauses growing from 0.2 s up to
5 s, logging `dependency_not_reachable_yet` at each failure, until a deadline; then it gives up with
`Unreachable`, which names the dependency and the last error. The deadline is checked between attempts:
an attempt under way (a connection timing out) ends first.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

_log = structlog.get_logger(__name__)

T = TypeVar("T")

_FIRST_PAUSE_S = 0.5
_LONGEST_PAUSE_S = 5.0


class Unreachable(Exception):
    """A server a process needs did not answer within the deadline of its start."""

    def __init__(self, dependency: str, deadline_s: float, last_error: BaseException) -> None:
        self.dependency = dependency
        self.deadline_s = deadline_s
        self.last_error = last_error
        super().__init__(
            f"{dependency} not reachable within {deadline_s:g} s (last error: {described(last_error)})"
        )


def described(failure: BaseException) -> str:
    """A failure as a log or a message shows it: its class and its text (Kafka's errors say their class
    in their text already)."""
    text, kind = str(failure), type(failure).__name__
    return text if text.startswith(kind) else f"{kind}: {text}"


def pause_before_attempt(attempt: int) -> float:
    """The pause before attempt `attempt + 1`: random (replicas started together do not retry in step),
    growing with the attempts, at most `_LONGEST_PAUSE_S`."""
    return random.uniform(0.2, min(_LONGEST_PAUSE_S, _FIRST_PAUSE_S * 2**attempt))


async def wait_until_reachable(
    connect: Callable[[], Awaitable[T]],
    *,
    dependency: str,
    unreachable: tuple[type[BaseException], ...],
    deadline_s: float,
) -> T:
    """The result of `connect()`, tried again while it fails with one of `unreachable` (the server not
    there), for up to `deadline_s`; raises Unreachable once a failure comes after the deadline."""
    deadline = time.monotonic() + deadline_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return await connect()
        except unreachable as failure:
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                raise Unreachable(dependency, deadline_s, failure) from failure
            _log.warning(
                "dependency_not_reachable_yet",
                dependency=dependency,
                attempt=attempt,
                error=described(failure)[:300],
                gives_up_in_s=round(left_s, 1),
            )
            await asyncio.sleep(min(left_s, pause_before_attempt(attempt)))
