"""The delivery worker: POSTs queued alerts to each tenant's webhook, at least once, with retries.

It reads the outbox the alerts are written to (`AlertStore`), apart from the consumer loop: a slow or dead
receiver delays only its own deliveries, never the activity log. Each attempt is leased, so a replica
that dies mid-attempt leaves the delivery due again; a receiver that accepted a delivery whose success
was not recorded gets it twice (at least once). A delivery still failing after `give_up_after_s` is
abandoned with its last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import structlog

from auditlog.alert_rules import retry_delay_s
from auditlog.alert_store import AlertStore, Delivery

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How the worker delivers: how often it looks for due deliveries, how many at once, how long one
    attempt may take, the first retry's delay (doubling up to `most_retry_s`) and when it gives up."""

    poll_every_s: float = 1.0
    batch: int = 50
    attempt_timeout_s: float = 10.0
    first_retry_s: float = 2.0
    most_retry_s: float = 600.0
    give_up_after_s: float = 86_400.0


class AlertDelivery:
    """Delivers due alerts until stopped."""

    def __init__(self, store: AlertStore, policy: DeliveryPolicy) -> None:
        self._store = store
        self._policy = policy

    async def run(self, stop: asyncio.Event) -> None:
        """Worker: deliver what is due, then wait a poll interval, until `stop`."""
        timeout = aiohttp.ClientTimeout(total=self._policy.attempt_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not stop.is_set():
                due = await self._store.claim_due_deliveries(self._policy.batch, self._lease_s())
                if due:
                    await asyncio.gather(*(self._deliver(session, d) for d in due))
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._policy.poll_every_s)

    def _lease_s(self) -> float:
        return self._policy.attempt_timeout_s + 5.0

    async def _deliver(self, session: aiohttp.ClientSession, delivery: Delivery) -> None:
        if delivery.webhook_url is None:
            await self._store.retry_later(delivery, "no webhook configured any more", None)
            return
        error = await post_alert(session, delivery.webhook_url, delivery.payload)
        if error is None:
            await self._store.delivered(delivery)
            _log.info("alert_delivered", tenant=delivery.tenant, alert_id=delivery.alert_id)
            return
        await self._store.retry_later(delivery, error, self._next_retry_s(delivery))
        _log.warning(
            "alert_delivery_failed",
            tenant=delivery.tenant, alert_id=delivery.alert_id, attempts=delivery.attempts, error=error,
        )  # fmt: skip

    def _next_retry_s(self, delivery: Delivery) -> float | None:
        age = (datetime.now(UTC) - delivery.created_at).total_seconds()
        if age > self._policy.give_up_after_s:
            return None
        delay = retry_delay_s(delivery.attempts, self._policy.first_retry_s, self._policy.most_retry_s)
        return delay * random.uniform(0.8, 1.2)  # jitter: replicas' retries spread out


async def post_alert(session: aiohttp.ClientSession, url: str, payload: object) -> str | None:
    """POST one alert; None when the receiver accepted it (2xx), else what went wrong."""
    try:
        async with session.post(url, json=payload, allow_redirects=False) as response:
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status}"
    except (aiohttp.ClientError, TimeoutError, ValueError) as failure:
        return f"{type(failure).__name__}: {failure}"[:300]
