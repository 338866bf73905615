"""Long CPU work split into turns of the event loop, so the round trips other tasks wait on go on.

One task's unbroken CPU work (reading or encoding a page of 500 records: 5 to 20 ms) holds every other
task of the process: an answer that arrived for another task (a database row, an HTTP response) waits
in the socket until the work ends. A chain of round trips (an import's next page: the credentials, the
budget's charge, Pipedrive's answer) then waits that long at each step. Done slice by slice, with a turn
of the loop between slices, the wait per step is one slice's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

SLICE = 100
"""Items worked between two turns of the event loop (about 1 to 4 ms of a page's reading or encoding)."""


async def in_turns(work: Callable[[Sequence[T]], list[U]], items: Sequence[T], size: int = SLICE) -> list[U]:
    """`work(items)` (a list per item, in order), done `size` items at a time with a turn of the event
    loop between two slices; the same result as one call."""
    if len(items) <= size:
        return work(items)
    done: list[U] = []
    for start in range(0, len(items), size):
        if start:
            await asyncio.sleep(0)
        done.extend(work(items[start : start + size]))
    return done
