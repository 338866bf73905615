"""The alert windows' faust agents under `agent.test_context()`: failures counted per tenant in the
windowed table raise one alert when they reach the tenant's threshold; dead letters raise theirs; what
does not concern alerts is ignored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import orjson
import pytest

from auditlog.alert_rules import AlertCause, AlertSettings, RaisedAlert
from auditlog.alert_windows import AlertWindows, WindowsConfig, observation_of
from stream_runner.namespace import TopicNamespace


@dataclass
class RecordedAlerts:
    """The port the windows raise alerts through, keeping what they raise."""

    settings_of: dict[str, AlertSettings] = field(default_factory=dict)
    raised: list[RaisedAlert] = field(default_factory=list)

    async def settings(self, tenant: str) -> AlertSettings:
        return self.settings_of.get(tenant, AlertSettings())

    async def raise_alert(self, alert: RaisedAlert, now: datetime) -> str | None:
        self.raised.append(alert)
        return "id"


@pytest.fixture
async def windows(tmp_path: object) -> AsyncIterator[tuple[AlertWindows, RecordedAlerts]]:
    alerts = RecordedAlerts()
    built = AlertWindows(
        WindowsConfig("unit-alert-windows", "127.0.0.1:1", str(tmp_path), TopicNamespace()), alerts
    )
    built.app.finalize()
    built.app.flow_control.resume()
    yield built, alerts


def _result(tenant: str, outcome: str) -> bytes:
    return orjson.dumps({"tenantid": tenant, "data": {"outcome": outcome, "object": "organization"}})


def test_only_failed_records_and_dead_letters_are_observed() -> None:
    failed = observation_of("psync.record-results.v1", b"a:organization:x.io", _result("a", "failed"))
    assert failed is not None and (failed.tenant, failed.dead_letter) == ("a", False)
    assert observation_of("psync.push-results.v1", b"a:organization:x.io", _result("a", "created")) is None
    assert observation_of("psync.push-results.v1", None, b"not json") is None
    assert observation_of("psync.push-results.v1", None, b"[1]") is None
    dead = observation_of("psync.mapper.dlq", b"acme:organization:x.io", b"garbage")
    assert dead is not None and (dead.tenant, dead.dead_letter) == ("acme", True)
    assert observation_of("psync.mapper.dlq", b"", b"garbage") is None


async def test_failures_reaching_the_threshold_raise_one_alert(
    windows: tuple[AlertWindows, RecordedAlerts],
) -> None:
    built, alerts = windows
    alerts.settings_of["acme"] = AlertSettings(failure_threshold=3, window_minutes=5)
    async with built.count.test_context() as agent:
        for _ in range(2):
            await agent.put("acme", key="acme")
        await agent.put("other", key="other")
        assert alerts.raised == []
        for _ in range(3):
            await agent.put("acme", key="acme")
    [alert] = alerts.raised
    assert (alert.tenant, alert.cause) == ("acme", AlertCause.FAILURES)
    assert "3 records failed within 5 minutes" in alert.detail
