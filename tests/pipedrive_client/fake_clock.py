"""A clock for tests: `sleep` moves time forward instantly and records how long it was asked to wait."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Time that only moves when someone sleeps or the test advances it."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.time = start
        self.slept: list[float] = []

    def now(self) -> float:
        """The fake current time."""
        return self.time

    async def sleep(self, seconds: float) -> None:
        """Advance time by `seconds` (and let other tasks run)."""
        self.slept.append(seconds)
        self.time += max(seconds, 0.0)
        await asyncio.sleep(0)
