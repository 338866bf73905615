"""Faults injected on demand through the admin API: 429 storms, a share of 5xx, latency, webhook outages."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Faults:
    """The faults currently switched on. Tokens are revoked through the auth registry, not here."""

    storm_until: float = 0.0
    storm_requests_left: int = 0
    error_share: float = 0.0
    error_status: int = 503
    latency_seconds: float = 0.0
    webhooks_unreachable: bool = False
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def take_storm(self, now: float) -> bool:
        """True when this request falls into a 429 storm (by time or by remaining request count)."""
        if now < self.storm_until:
            return True
        if self.storm_requests_left > 0:
            self.storm_requests_left -= 1
            return True
        return False

    def take_server_error(self) -> bool:
        """True when this request should get a 5xx (drawn from a seeded generator: repeatable)."""
        return self.error_share > 0 and self.rng.random() < self.error_share

    def clear(self) -> None:
        """Switch every fault off."""
        self.storm_until = 0.0
        self.storm_requests_left = 0
        self.error_share = 0.0
        self.latency_seconds = 0.0
        self.webhooks_unreachable = False
