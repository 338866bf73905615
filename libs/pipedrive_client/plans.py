"""Pipedrive plans and the limits they set: the daily token budget and the burst limits."""

from __future__ import annotations

from enum import StrEnum

DAILY_TOKENS_PER_SEAT = 30_000
SEARCH_BURST_LIMIT = 10


class Plan(StrEnum):
    """Pipedrive subscription plans."""

    LITE = "lite"
    GROWTH = "growth"
    PREMIUM = "premium"
    ULTIMATE = "ultimate"


PLAN_MULTIPLIER = {Plan.LITE: 1, Plan.GROWTH: 2, Plan.PREMIUM: 5, Plan.ULTIMATE: 7}
API_TOKEN_BURST = {Plan.LITE: 20, Plan.GROWTH: 40, Plan.PREMIUM: 100, Plan.ULTIMATE: 120}
OAUTH_BURST = {Plan.LITE: 80, Plan.GROWTH: 160, Plan.PREMIUM: 400, Plan.ULTIMATE: 480}


def daily_budget(plan: Plan, seats: int) -> int:
    """The company's daily token budget: 30,000 x plan multiplier x seats."""
    return DAILY_TOKENS_PER_SEAT * PLAN_MULTIPLIER[plan] * seats


def burst_limit(plan: Plan, is_oauth: bool) -> int:
    """Requests one credential may send in a rolling 2-second window (search has its own limit too)."""
    return (OAUTH_BURST if is_oauth else API_TOKEN_BURST)[plan]
