"""The whole sandbox state, built from a config: the composition root of the sandbox."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pipedrive_sandbox.account import Account, User
from pipedrive_sandbox.activities import ActivityBook
from pipedrive_sandbox.clock import SandboxClock
from pipedrive_sandbox.config import SandboxConfig
from pipedrive_sandbox.entities import EntityService
from pipedrive_sandbox.events import EventListener
from pipedrive_sandbox.faults import Faults
from pipedrive_sandbox.ledger import Ledger
from pipedrive_sandbox.oauth import OAuthServer
from pipedrive_sandbox.page_edits import EditsBetweenPages
from pipedrive_sandbox.ratelimit import RateLimiter
from pipedrive_sandbox.seed import seed_company
from pipedrive_sandbox.store import Entity, EntityTable
from pipedrive_sandbox.webhooks import WebhookDispatcher


@dataclass
class SandboxState:
    """Everything one running sandbox holds; tests reach it through `SandboxHandle.state`."""

    config: SandboxConfig
    clock: SandboxClock
    account: Account
    tables: dict[Entity, EntityTable]
    entities: EntityService
    limiter: RateLimiter
    ledger: Ledger
    faults: Faults
    oauth: OAuthServer
    webhooks: WebhookDispatcher
    revoked_api_tokens: set[str]
    change_rng: random.Random
    activities: ActivityBook
    between_pages: list[EditsBetweenPages] = field(default_factory=list)
    """Edits to make between two page calls of a list (`/_sandbox/between-pages`)."""

    @property
    def admin_user(self) -> User:
        """The first seat: owner of the demo API token and of OAuth grants."""
        return next(iter(self.account.users.values()))

    def reseed(self, config: SandboxConfig | None = None) -> None:
        """Replace all data with a fresh seeding (same clock, webhooks and ledger)."""
        if config is not None:
            self.config = config
        seeded = seed_company(self.config, int(self.clock.now()))
        self.account.users, self.account.pipelines = seeded.account.users, seeded.account.pipelines
        self.account.stages, self.account.fields = seeded.account.stages, seeded.account.fields
        self.tables.clear()
        self.tables.update(seeded.tables)
        self.activities = ActivityBook()
        self.limiter.reset()
        self.change_rng.seed(self.config.seed)


def build_state(config: SandboxConfig, clock: SandboxClock | None = None) -> SandboxState:
    """Seed the company and wire every part of the sandbox together."""
    clock = clock or SandboxClock(start=config.start_time, frozen=config.frozen_clock)
    seeded = seed_company(config, int(clock.now()))
    faults = Faults()
    webhooks = WebhookDispatcher(
        clock, seeded.account, faults, config.company_id, config.webhook_timeout_seconds
    )
    listeners: list[EventListener] = [webhooks.publish]
    entities = EntityService(seeded.tables, seeded.account, clock, listeners)
    limiter = RateLimiter(
        config.plan,
        config.seats,
        clock,
        config.calls_through_429_before_block,
        config.block_seconds,
        config.enforce_burst_limit,
        config.daily_budget,
    )
    oauth = OAuthServer(config, clock, next(iter(seeded.account.users)))
    return SandboxState(
        config,
        clock,
        seeded.account,
        seeded.tables,
        entities,
        limiter,
        Ledger(),
        faults,
        oauth,
        webhooks,
        set(),
        random.Random(config.seed),
        ActivityBook(),
    )
