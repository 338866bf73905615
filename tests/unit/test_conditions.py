"""`eventually`: the first accepted result, probes more often at first, a failure that says what."""

from __future__ import annotations

import pytest

from tests.support.conditions import FIRST_PAUSE_S, LONGEST_PAUSE_S, eventually, pauses


def test_the_pauses_grow_from_the_first_to_the_longest() -> None:
    waits = pauses()
    assert waits[0] == FIRST_PAUSE_S and waits[-1] == LONGEST_PAUSE_S
    assert waits == sorted(waits) and max(waits) == LONGEST_PAUSE_S


async def test_the_first_accepted_result_is_returned() -> None:
    seen: list[int] = []

    async def probe() -> int:
        seen.append(len(seen))
        return seen[-1]

    assert await eventually(probe, lambda n: n >= 7, within_s=10, what="seven") == 7
    assert seen == list(range(8))  # past the growing pauses into the longest


async def test_a_condition_that_never_holds_fails_with_what_and_the_last_result() -> None:
    async def probe() -> str:
        return "not yet"

    with pytest.raises(AssertionError, match=r"not within 0.2s: the thing \(last seen: 'not yet'\)"):
        await eventually(probe, lambda s: s == "done", within_s=0.2, what="the thing")
