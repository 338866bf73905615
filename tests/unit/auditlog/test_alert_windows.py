"""The alert windows' faust agents under `agent.test_context()`: failures counted per tenant in the
windowed table raise one alert when they reach the tenant's threshold; dead letters raise theirs. What
the consumer loop hands on: each tenant's failed records of a batch, counted once at its last failure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from auditlog.alert_rules import (
    AlertCause,
    AlertSettings,
    RaisedAlert,
    failure_tallies,
)
from auditlog.alert_windows import (
    AlertWindows,
    WindowsConfig,
    dead_letter_tenant,
    failures_message,
    failures_of,
)
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


def test_a_batch_hands_on_each_tenant_s_failures_at_its_last_failed_result() -> None:
    results = [("a", True), ("b", False), ("a", False), ("b", True), ("a", True), ("c", False)]
    assert failure_tallies(results) == {4: ("a", 2), 3: ("b", 1)}
    assert failure_tallies([("a", False)]) == {}


def test_a_failures_message_reads_back_and_nothing_else_does() -> None:
    message = failures_message("windows-failures", "acme", 3)
    assert (message.topic, message.key, message.value) == ("windows-failures", "acme", b"3")
    assert failures_of(message.key.encode(), message.value) == ("acme", 3)
    assert failures_of(b"acme", b"0") is None
    assert failures_of(b"acme", b"three") is None
    assert failures_of(b"", b"3") is None
    assert failures_of(None, None) is None


def test_a_dead_letter_s_tenant_is_the_first_part_of_its_key() -> None:
    assert dead_letter_tenant(b"acme:organization:x.io") == "acme"
    assert dead_letter_tenant(b"") is None
    assert dead_letter_tenant(None) is None


async def test_failures_reaching_the_threshold_raise_one_alert(
    windows: tuple[AlertWindows, RecordedAlerts],
) -> None:
    built, alerts = windows
    alerts.settings_of["acme"] = AlertSettings(failure_threshold=3, window_minutes=5)
    async with built.count.test_context() as agent:
        await agent.put(b"2", key=b"acme")
        await agent.put(b"5", key=b"other")
        await agent.put(b"bad", key=b"acme")
        assert alerts.raised == []
        for _ in range(3):
            await agent.put(b"1", key=b"acme")
    [alert] = alerts.raised
    assert (alert.tenant, alert.cause) == ("acme", AlertCause.FAILURES)
    assert "3 records failed within 5 minutes" in alert.detail
