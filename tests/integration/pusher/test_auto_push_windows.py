"""Auto-push windows: one activity-log run per tenant and hour, started by the first push, closed after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from pusher.auto_push_windows import close_ended_windows, window_end
from schemas.events.abm_signals import CompanyRevealed
from tests.integration.pusher.conftest import PusherHarness

pytestmark = pytest.mark.integration


def _runs(outputs: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(m.value) for m in outputs if m.topic == "psync.sync-runs.v1"]


async def test_an_hour_of_auto_pushes_is_one_run_closed_with_its_counts(pusher: PusherHarness) -> None:
    now = datetime.now(UTC)
    first = await pusher.send(
        CompanyRevealed(domain="win1.io", name="Win One", revealed_at=now), event_id="w1"
    )
    second = await pusher.send(
        CompanyRevealed(domain="win2.io", name="Win Two", revealed_at=now), event_id="w2"
    )

    [started] = _runs(list(first.outputs))
    assert _runs(list(second.outputs)) == []
    assert started["type"] == "psync.run.started" and started["data"]["kind"] == "auto_push"
    run_id = started["data"]["run_id"]

    sent: list[Any] = []

    async def send(messages: Any) -> None:
        sent.extend(messages)

    assert await close_ended_windows(pusher.handlers.store, send, now) == 0
    after = window_end(now) + timedelta(minutes=1)
    assert await close_ended_windows(pusher.handlers.store, send, after) >= 1
    finished = [r for r in _runs(sent) if (r["tenantid"], r["data"]["run_id"]) == (pusher.tenant, run_id)]
    assert len(finished) == 1
    data = finished[0]["data"]
    assert (data["kind"], data["counts"]["created"], data["tokens_spent"]) == ("auto_push", 2, 10)
    assert data["status"] == "Success"
    assert await close_ended_windows(pusher.handlers.store, send, after) == 0
