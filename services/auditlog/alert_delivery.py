"""The delivery worker: POSTs queued alerts to each tenant's webhook, at least once, with retries.

A webhook reaches only public addresses (`alert_rules.address_refusal`): its host is resolved at each
delivery and connected to only at the addresses that passed the check (a DNS answer cannot change between
the check and the connection), unless the host is in `DeliveryPolicy.private_hosts` (a local receiver).

It reads the outbox the alerts are written to (`ports.AlertOutbox`), apart from the consumer loop: a slow
or dead receiver delays only its own deliveries, never the activity log. Each attempt is leased, so a replica
that dies mid-attempt leaves the delivery due again; a receiver that accepted a delivery whose success
was not recorded gets it twice (at least once). A delivery still failing after `give_up_after_s` is
abandoned with its last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
import structlog
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from auditlog.alert_rules import address_of_host, address_refusal, retry_delay_s
from auditlog.ports import AlertOutbox, Delivery

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How the worker delivers: how often it looks for due deliveries, how many at once, how long one
    attempt may take, the first retry's delay (doubling up to `most_retry_s`), when it gives up, and the
    hosts a webhook may reach at a private, loopback or link-local address (none by default)."""

    poll_every_s: float = 1.0
    batch: int = 50
    attempt_timeout_s: float = 10.0
    first_retry_s: float = 2.0
    most_retry_s: float = 600.0
    give_up_after_s: float = 86_400.0
    private_hosts: frozenset[str] = field(default_factory=frozenset)


class AlertDelivery:
    """Delivers due alerts until stopped."""

    def __init__(self, store: AlertOutbox, policy: DeliveryPolicy) -> None:
        self._store = store
        self._policy = policy

    async def run(self, stop: asyncio.Event) -> None:
        """Worker: deliver what is due, then wait a poll interval, until `stop`."""
        timeout = aiohttp.ClientTimeout(total=self._policy.attempt_timeout_s)
        resolver = PublicAddressResolver(self._policy.private_hosts)
        connector = aiohttp.TCPConnector(resolver=resolver)
        try:
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                while not stop.is_set():
                    due = await self._store.claim_due_deliveries(self._policy.batch, self._lease_s())
                    if due:
                        await asyncio.gather(*(self._deliver(session, d) for d in due))
                        continue
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self._policy.poll_every_s)
        finally:
            await resolver.close()  # a resolver given to a connector is not the connector's to close

    def _lease_s(self) -> float:
        return self._policy.attempt_timeout_s + 5.0

    async def _deliver(self, session: aiohttp.ClientSession, delivery: Delivery) -> None:
        if delivery.webhook_url is None:
            await self._store.retry_later(delivery, "no webhook configured any more", None)
            return
        error = literal_address_refusal(delivery.webhook_url, self._policy.private_hosts) or await post_alert(
            session, delivery.webhook_url, delivery.payload
        )
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


def literal_address_refusal(url: str, private_hosts: frozenset[str]) -> str | None:
    """Why a webhook whose host is an address may not be reached (None: it may, or its host is a name,
    checked when resolved): the HTTP client connects to an address without resolving it."""
    host = urlsplit(url).hostname or ""
    address = address_of_host(host)
    return None if address is None else address_refusal(host, address, private_hosts)


class PublicAddressResolver(AbstractResolver):
    """Resolves a webhook's host to those of its addresses it may reach (all of them for a private host,
    else the public ones), and fails, naming no address, when none is left."""

    def __init__(self, private_hosts: frozenset[str], resolver: AbstractResolver | None = None) -> None:
        self._private_hosts = private_hosts
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The host's addresses it may reach; OSError (a failed connection to aiohttp) when none."""
        if self._resolver is None:
            self._resolver = DefaultResolver()  # built on the running loop, as aiohttp builds its own
        found = await self._resolver.resolve(host, port, family)
        allowed = [r for r in found if address_refusal(host, r["host"], self._private_hosts) is None]
        if not allowed:
            reason = address_refusal(host, found[0]["host"], self._private_hosts) if found else None
            # errno and strerror: aiohttp's connection error shows only the strerror
            raise OSError(errno.EHOSTUNREACH, reason or f"{host} has no address")
        return allowed

    async def close(self) -> None:
        """Release the underlying resolver."""
        if self._resolver is not None:
            await self._resolver.close()
