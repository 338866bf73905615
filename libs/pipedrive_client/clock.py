"""Time as the client sees it: injected so tests can move it without sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in epoch seconds and a way to wait."""

    def now(self) -> float:
        """Current time in epoch seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (no-op when not positive)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        """Current time in epoch seconds."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of real time."""
        if seconds > 0:
            await asyncio.sleep(seconds)
