"""Sandbox configuration: one immutable value passed to `create_app`."""

from __future__ import annotations

import secrets
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Plan(StrEnum):
    """Pipedrive subscription plans; each sets the daily budget multiplier and burst limits."""

    LITE = "lite"
    GROWTH = "growth"
    PREMIUM = "premium"
    ULTIMATE = "ultimate"


def generate_secret(nbytes: int = 20) -> str:
    """Return a random hex secret of `nbytes` bytes (API tokens are 40 hex characters at Pipedrive)."""
    return secrets.token_hex(nbytes)


class SandboxConfig(BaseModel):
    """Everything the sandbox needs to start: plan, data volume, credentials and timings."""

    model_config = ConfigDict(frozen=True)

    plan: Plan = Plan.LITE
    seats: int = Field(default=1, ge=1)
    # The company's daily token budget when not the plan's (tests that spend a day's budget quickly).
    daily_budget: int | None = Field(default=None, ge=1)
    seed: int = 1
    organizations: int = Field(default=200, ge=0)
    persons_per_organization: float = Field(default=1.5, ge=0)
    deals_per_organization: float = Field(default=0.5, ge=0)
    company_id: int = 8087566
    company_name: str = "Sandbox Demo Company"
    company_domain: str = "sandbox-demo"
    # The demo company's API token (belongs to the first user); generated when not given.
    api_token: str = Field(default_factory=generate_secret)
    oauth_client_id: str = Field(default_factory=lambda: generate_secret(8))
    oauth_client_secret: str = Field(default_factory=generate_secret)
    # Empty: any redirect_uri is accepted, which keeps demos and tests free of registration steps.
    oauth_redirect_uris: tuple[str, ...] = ()
    access_token_ttl_seconds: int = 3600
    refresh_token_idle_ttl_seconds: int = 60 * 24 * 3600
    # Pipedrive blocks clients that keep calling through 429s; these make that rule concrete.
    calls_through_429_before_block: int = 10
    block_seconds: int = 120
    # Public base URL reported as `api_domain`; None means "the URL the request came in on".
    public_url: str | None = None
    # Start time of the sandbox clock (epoch seconds); None means the real time.
    start_time: float | None = None
    # A frozen clock moves only when advanced (tests); otherwise it follows real time plus advances.
    frozen_clock: bool = False
    webhook_timeout_seconds: float = 10.0
    # Benchmarks switch the burst window off to measure serving speed; calls are still charged and ledgered.
    enforce_burst_limit: bool = True
