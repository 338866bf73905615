"""The alert windows: a faust-streaming app that counts each tenant's failed records in a windowed table
and raises an alert when a tenant's count within its window reaches its threshold; and dead letters.

faust is here for its windowed table only (DESIGN.md: never as a transport), and it sees only what
alerts need, never a successful record:
- the auditlog's consumer loop, which reads every record and push result anyway, hands the failed ones
  on (`failure_tallies`: one message per tenant and batch, with how many failed) to the app's own
  failures topic, keyed by tenant, so that one tenant's failures meet in one partition of the table
  whichever record keys they came with;
- `count` adds each tenant's failures to its tumbling one-minute window and sums the windows the
  tenant's setting spans (at most a day: the table's expiry);
- `observe` reads the dead-letter topics: a dead letter raises its alert at once.
Alerts go to the same store the run ends raise theirs in, which debounces them (one per cause per window)
and queues their webhook deliveries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import faust
import structlog

from auditlog.alert_rules import (
    MAX_WINDOW_MINUTES,
    AlertSettings,
    RaisedAlert,
    dead_letter_alert,
    failures_alert,
)
from schemas.envelope import is_valid_tenant_id
from schemas.topics import CONSUMER_SERVICES, dlq_topic_name
from stream_runner.messages import OutgoingMessage
from stream_runner.namespace import TopicNamespace

_log = structlog.get_logger(__name__)
BUCKET_S = 60
SETTINGS_MAX_AGE_S = 30.0


class WindowAlerts(Protocol):
    """Where the alert windows read tenants' settings and raise alerts (`AlertStore`)."""

    async def settings(self, tenant: str) -> AlertSettings: ...

    async def raise_alert(self, alert: RaisedAlert, now: datetime) -> str | None: ...


@dataclass(frozen=True)
class WindowsConfig:
    """The faust app's id (its consumer group and the prefix of its own topics), the broker, its data
    folder, and the deployment's topic namespace (the app's id and every topic it reads are put in it)."""

    app_id: str
    kafka_bootstrap: str
    data_dir: str
    namespace: TopicNamespace
    offset_reset: str = "latest"


def failures_topic(app_id: str) -> str:
    """The logical name of the app's topic of failed records by tenant, which the auditlog's consumer loop
    writes to (on the cluster, the namespace prefixes it as it prefixes the app id)."""
    return f"{app_id}-failures"


def failures_message(topic: str, tenant: str, count: int) -> OutgoingMessage:
    """A tenant's failed records, handed on to the failures topic: keyed by tenant, the count as text."""
    return OutgoingMessage(topic, tenant, str(count).encode())


def failures_of(key: bytes | None, value: bytes | None) -> tuple[str, int] | None:
    """The tenant and count of a `failures_message`; None for anything else."""
    tenant = (key or b"").decode("utf-8", "replace")
    try:
        count = int(value or b"")
    except ValueError:
        return None
    return (tenant, count) if count > 0 and is_valid_tenant_id(tenant) else None


def dead_letter_topics() -> list[str]:
    """Every consuming service's dead-letter topic."""
    return [dlq_topic_name(s) for s in CONSUMER_SERVICES]


def dead_letter_tenant(key: bytes | None) -> str | None:
    """The tenant of a dead letter (its key is the original key, which starts with the tenant); None when
    the key names no tenant."""
    tenant = (key or b"").decode("utf-8", "replace").split(":", 1)[0]
    return tenant if is_valid_tenant_id(tenant) else None


def failures_within(counts: Sequence[int]) -> int:
    """The failures of the one-minute windows a tenant's window spans."""
    return sum(counts)


class AlertWindows:
    """The faust app of the alert windows (built here, never at import time) and its worker."""

    def __init__(self, config: WindowsConfig, alerts: WindowAlerts) -> None:
        self._alerts = alerts
        self._data_dir = config.data_dir
        self._settings: dict[str, tuple[float, AlertSettings]] = {}
        self._raised: dict[str, float] = {}
        self._namespace = namespace = config.namespace
        app_id = namespace.group(config.app_id)
        self.app = faust.App(
            app_id,
            broker=f"kafka://{config.kafka_bootstrap}",
            store="memory://",
            datadir=config.data_dir,
            autodiscover=False,
            web_enabled=False,
            topic_partitions=12,
            consumer_auto_offset_reset=config.offset_reset,
        )
        self.failures = self.app.Table("tenant_failures", default=int).tumbling(
            BUCKET_S, expires=timedelta(minutes=MAX_WINDOW_MINUTES + 1)
        )
        dead_letters = self.app.topic(
            *(namespace.topic(t) for t in dead_letter_topics()), key_serializer="raw", value_serializer="raw"
        )
        self.failures_topic = failures_topic(config.app_id)
        self.failed = self.app.topic(
            namespace.topic(self.failures_topic),
            key_serializer="raw",
            value_serializer="raw",
            internal=True,
            partitions=12,
        )
        self.observe = self.app.agent(dead_letters, name="observe")(self._observe)
        self.count = self.app.agent(self.failed, name="count")(self._count)

    async def declare(self) -> None:
        """Create the app's own topics (the failures by tenant, the table's changelog) unless they exist:
        before the consumer loop hands failures on, and before the app's consumer joins (it subscribes to
        what exists then). The app's data folder is made first: faust does not make missing parents."""
        await asyncio.to_thread(Path(self._data_dir).mkdir, parents=True, exist_ok=True)
        await self.app.maybe_start_producer()
        await self.failed.maybe_declare()
        await self.failures.table.changelog_topic.maybe_declare()

    async def run(self, stop: Any) -> None:
        """Worker: run the app until `stop`, then stop it. The app's topics exist by then: the composition
        root awaits `declare` before the consumer loop and the workers start."""
        await self.app.start()
        try:
            await stop.wait()
        finally:
            await self.app.stop()

    async def _observe(self, stream: faust.StreamT[Any]) -> AsyncIterator[None]:
        async for event in stream.events():
            tenant = dead_letter_tenant(event.key)
            if tenant is not None:
                topic = self._namespace.logical_topic(event.message.topic)
                await self._alerts.raise_alert(dead_letter_alert(tenant, topic), _now())
            yield None

    async def _count(self, stream: faust.StreamT[Any]) -> AsyncIterator[None]:
        async for event in stream.events():
            tally = failures_of(event.key, event.value)
            if tally is not None:
                await self._add_failures(*tally)
            yield None

    async def _add_failures(self, tenant: str, failed: int) -> None:
        """Add a tenant's failures to its current window; raise its alert if its windows reach its
        threshold (once per window in this replica)."""
        self.failures[tenant] += failed
        settings = await self._settings_of(tenant)
        windows = self.failures[tenant]
        counted = failures_within([windows.delta(BUCKET_S * i) for i in range(settings.window_minutes)])
        if counted >= settings.failure_threshold and not self._raised_lately(tenant, settings):
            await self._alerts.raise_alert(failures_alert(tenant, counted, settings), _now())
            self._raised[tenant] = time.monotonic()

    def _raised_lately(self, tenant: str, settings: AlertSettings) -> bool:
        """Whether this replica raised the tenant's failures alert within its window (the store debounces
        across replicas; this spares it a transaction per failure while a tenant stays over)."""
        raised = self._raised.get(tenant)
        return raised is not None and time.monotonic() - raised < settings.window.total_seconds()

    async def _settings_of(self, tenant: str) -> AlertSettings:
        cached = self._settings.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < SETTINGS_MAX_AGE_S:
            return cached[1]
        settings = await self._alerts.settings(tenant)
        self._settings[tenant] = (time.monotonic(), settings)
        return settings


def _now() -> datetime:
    return datetime.now(UTC)
