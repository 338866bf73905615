"""The standing-conditions poll: alerts of what no event carries, read from the Pipedrive client's schema
(the one deliberate shared schema, read through its library): a tenant's daily budget spent (`budget`; the
connector pauses runs and the pusher parks pushes, publishing nothing) and a connection Pipedrive refused
for good (`credentials`, found outside a run too). A worker of the auditlog, every minute by default; each
condition raises one alert per episode (`alert_rules.standing_alerts`), however often it is seen."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from auditlog.alert_rules import standing_alerts
from auditlog.ports import AlertRaising
from pipedrive_client import ExhaustedBudget, RefusedConnection

_log = structlog.get_logger(__name__)

ExhaustedBudgets = Callable[[], Awaitable[list[ExhaustedBudget]]]
"""Every tenant whose daily budget is spent now (`pipedrive_client.Budget.exhausted_for_day`)."""
RefusedConnections = Callable[[], Awaitable[list[RefusedConnection]]]
"""Every connection that needs reconnecting (`pipedrive_client.refused_connections`)."""


class StandingAlerts:
    """Polls the Pipedrive client's standing conditions and raises their alerts."""

    def __init__(
        self,
        exhausted: ExhaustedBudgets,
        refused: RefusedConnections,
        alerts: AlertRaising,
        every_s: float = 60.0,
    ) -> None:
        self._exhausted = exhausted
        self._refused = refused
        self._alerts = alerts
        self._every_s = every_s

    async def poll(self, now: datetime | None = None) -> list[str]:
        """Raise the alerts of the conditions standing now (at `now`, the system clock's by default); the
        ids of those raised (not debounced)."""
        now = now or datetime.now(UTC)
        raised = []
        for alert in standing_alerts(await self._exhausted(), await self._refused()):
            alert_id = await self._alerts.raise_alert(alert, now)
            if alert_id is not None:
                raised.append(alert_id)
                _log.info(
                    "standing_alert_raised", tenant=alert.tenant, cause=alert.cause.value, alert_id=alert_id
                )
        return raised

    async def run(self, stop: asyncio.Event) -> None:
        """Worker: poll, then wait `every_s`, until `stop`."""
        while not stop.is_set():
            await self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._every_s)
