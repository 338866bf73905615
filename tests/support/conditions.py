"""Waiting on a condition with a deadline, instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

FIRST_PAUSE_S = 0.01
LONGEST_PAUSE_S = 0.05
"""The pauses between probes: 10 ms after the first, growing by half each time to 50 ms. Most conditions
hold within a few hundred milliseconds (a service's answer, a row written, a message consumed): a fixed
0.1 s found them 50 ms late on average, and a test waits on tens of them. A probe (an HTTP request, a
query) costs about a millisecond of CPU, so even the longest waits poll at most 20 times a second."""


def pauses() -> list[float]:
    """The pauses of one wait, up to the longest (which repeats from then on)."""
    pause, out = FIRST_PAUSE_S, []
    while pause < LONGEST_PAUSE_S:
        out.append(pause)
        pause *= 1.5
    return [*out, LONGEST_PAUSE_S]


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], *, within_s: float, what: str
) -> T:
    """Poll `probe` until `accept` holds for its result; fail with `what` after `within_s` seconds."""
    deadline = time.monotonic() + within_s
    last: T | None = None
    waits = pauses()
    attempt = 0
    while time.monotonic() < deadline:
        last = await probe()
        if accept(last):
            return last
        await asyncio.sleep(waits[min(attempt, len(waits) - 1)])
        attempt += 1
    raise AssertionError(f"not within {within_s}s: {what} (last seen: {last!r})")
