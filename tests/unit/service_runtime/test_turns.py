"""`in_turns`: the same result as one call, with the event loop's other tasks run between slices."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from service_runtime.turns import in_turns


async def test_the_result_is_that_of_one_call_and_other_tasks_run_between_slices() -> None:
    ticks: list[int] = []
    slices: list[int] = []

    def doubled(part: Sequence[int]) -> list[int]:
        slices.append(len(ticks))
        return [2 * i for i in part]

    async def ticking() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0)

    ticker = asyncio.ensure_future(ticking())
    await asyncio.sleep(0)
    try:
        result = await in_turns(doubled, list(range(250)), size=100)
    finally:
        ticker.cancel()
    assert result == [2 * i for i in range(250)]
    assert len(slices) == 3
    assert slices[0] < slices[1] < slices[2], "the other task ran between two slices"


async def test_a_short_list_is_one_call() -> None:
    calls: list[int] = []

    def kept(part: Sequence[int]) -> list[int]:
        calls.append(len(part))
        return list(part)

    assert await in_turns(kept, [1, 2, 3], size=100) == [1, 2, 3]
    assert await in_turns(kept, [], size=100) == []
    assert calls == [3, 0]
