"""Pipedrive's token-based rate limits: a daily company budget and a rolling 2-second burst window per token.

Pure bookkeeping over a clock: `RateLimiter.admit` decides, and the HTTP layer turns the decision into
headers and 429/403 bodies.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from pipedrive_sandbox.clock import SandboxClock
from pipedrive_sandbox.config import Plan

WINDOW_SECONDS = 2.0
DAILY_TOKENS_PER_SEAT = 30_000
SECONDS_PER_DAY = 86_400
SEARCH_BURST_LIMIT = 10

PLAN_MULTIPLIER = {Plan.LITE: 1, Plan.GROWTH: 2, Plan.PREMIUM: 5, Plan.ULTIMATE: 7}
API_TOKEN_BURST = {Plan.LITE: 20, Plan.GROWTH: 40, Plan.PREMIUM: 100, Plan.ULTIMATE: 120}
OAUTH_BURST = {Plan.LITE: 80, Plan.GROWTH: 160, Plan.PREMIUM: 400, Plan.ULTIMATE: 480}


class Verdict(StrEnum):
    """What the limiter decided about one request."""

    ALLOWED = "allowed"
    BURST_LIMITED = "burst_limited"
    DAILY_LIMITED = "daily_limited"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Decision:
    """A verdict plus the numbers the `x-ratelimit-*` and `retry-after` headers report."""

    verdict: Verdict
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int | None = None


@dataclass
class _TokenState:
    windows: dict[bool, deque[float]] = field(default_factory=lambda: {False: deque(), True: deque()})
    calls_through_429: int = 0
    blocked_until: float = 0.0


def daily_budget(plan: Plan, seats: int) -> int:
    """The company's daily token budget: 30,000 x plan multiplier x seats."""
    return DAILY_TOKENS_PER_SEAT * PLAN_MULTIPLIER[plan] * seats


def burst_limit(plan: Plan, is_oauth: bool, is_search: bool) -> int:
    """Requests allowed per token in a rolling 2-second window."""
    if is_search:
        return SEARCH_BURST_LIMIT
    return (OAUTH_BURST if is_oauth else API_TOKEN_BURST)[plan]


class RateLimiter:
    """Admits or rejects requests per token (burst) and per company (daily budget)."""

    def __init__(
        self,
        plan: Plan,
        seats: int,
        clock: SandboxClock,
        calls_before_block: int,
        block_seconds: int,
        enforce_burst: bool = True,
        budget: int | None = None,
    ):
        self.plan = plan
        self.clock = clock
        self.budget = budget if budget is not None else daily_budget(plan, seats)
        self.calls_before_block = calls_before_block
        self.block_seconds = block_seconds
        self.enforce_burst = enforce_burst
        self.spent_today = 0
        self._day = self._day_of(clock.now())
        self._tokens: dict[str, _TokenState] = {}

    def admit(self, token_id: str, is_oauth: bool, is_search: bool, cost: int) -> Decision:
        """Decide on one request costing `cost` tokens; charge the budget when it is allowed."""
        now = self.clock.now()
        self._roll_day(now)
        state = self._tokens.setdefault(token_id, _TokenState())
        limit = burst_limit(self.plan, is_oauth, is_search)
        window = self._window(state, is_search, now)
        if now < state.blocked_until:
            return Decision(Verdict.BLOCKED, limit, 0, math.ceil(state.blocked_until - now))
        general_limit = burst_limit(self.plan, is_oauth, False)
        over_burst = len(window) >= limit or (
            is_search and len(self._window(state, False, now)) >= general_limit
        )
        if over_burst and self.enforce_burst:
            return self._reject(state, Verdict.BURST_LIMITED, limit, self._reset(window, now), None)
        if self.spent_today + cost > self.budget:
            until_reset = math.ceil((self._day + 1) * SECONDS_PER_DAY - now)
            return self._reject(state, Verdict.DAILY_LIMITED, limit, self._reset(window, now), until_reset)
        state.calls_through_429 = 0
        window.append(now)
        if is_search:
            self._window(state, False, now).append(now)
        self.spent_today += cost
        return Decision(Verdict.ALLOWED, limit, limit - len(window), self._reset(window, now))

    def _reject(
        self, state: _TokenState, verdict: Verdict, limit: int, reset: int, retry_after: int | None
    ) -> Decision:
        state.calls_through_429 += 1
        if state.calls_through_429 > self.calls_before_block:
            # The client ignored `calls_before_block` 429s in a row: block it like Pipedrive does.
            state.blocked_until = self.clock.now() + self.block_seconds
            state.calls_through_429 = 0
            return Decision(Verdict.BLOCKED, limit, 0, self.block_seconds)
        return Decision(verdict, limit, 0, reset, retry_after)

    def reset(self) -> None:
        """Forget all windows, blocks and spending (admin reset)."""
        self._tokens.clear()
        self.spent_today = 0

    def remaining_budget(self) -> int:
        """Tokens left in today's budget."""
        self._roll_day(self.clock.now())
        return self.budget - self.spent_today

    def _window(self, state: _TokenState, is_search: bool, now: float) -> deque[float]:
        window = state.windows[is_search]
        while window and window[0] <= now - WINDOW_SECONDS:
            window.popleft()
        return window

    @staticmethod
    def _reset(window: deque[float], now: float) -> int:
        if not window:
            return 0
        return max(1, math.ceil(window[0] + WINDOW_SECONDS - now))

    def _roll_day(self, now: float) -> None:
        day = self._day_of(now)
        if day != self._day:
            self._day = day
            self.spent_today = 0

    @staticmethod
    def _day_of(now: float) -> int:
        return int(now // SECONDS_PER_DAY)
