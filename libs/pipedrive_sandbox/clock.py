"""The sandbox clock: real time plus an offset, or frozen time that moves only when advanced.

Every time-dependent rule (burst windows, daily budgets, token expiry, webhook retries) reads this clock, so
tests can jump over seconds or days without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class SandboxClock:
    """A clock that tests and the admin API can advance."""

    def __init__(self, start: float | None = None, frozen: bool = False) -> None:
        self._frozen = frozen
        self._frozen_now = start if start is not None else time.time()
        self._offset = 0.0 if start is None else start - time.time()
        self._advanced = asyncio.Event() if _has_running_loop() else None

    @property
    def frozen(self) -> bool:
        """True when the clock moves only through `advance`."""
        return self._frozen

    def now(self) -> float:
        """Return the current sandbox time in epoch seconds."""
        if self._frozen:
            return self._frozen_now
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` and wake everything waiting on it; return the new time."""
        if self._frozen:
            self._frozen_now += seconds
        else:
            self._offset += seconds
        event = self._event()
        event.set()
        # A fresh event for the next waiters; the old one stays set for those already woken.
        self._advanced = asyncio.Event()
        return self.now()

    async def sleep_until(self, deadline: float, max_real_wait: float = 0.5) -> None:
        """Wait until the sandbox time reaches `deadline`, or at most `max_real_wait` real seconds."""
        remaining = deadline - self.now()
        if remaining <= 0:
            return
        event = self._event()
        timeout = max_real_wait if self._frozen else min(remaining, max_real_wait)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=timeout)

    def _event(self) -> asyncio.Event:
        if self._advanced is None:
            self._advanced = asyncio.Event()
        return self._advanced


def _has_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
