"""Auto-push settings through the connector's API: every switch is saved, read back and published."""

from __future__ import annotations

import pytest

from schemas.topics import SETTINGS
from tests.integration.connector.conftest import ConnectorHarness

pytestmark = pytest.mark.integration


async def test_visited_pages_as_activity_round_trips_and_is_published(harness: ConnectorHarness) -> None:
    body = {"auto_push": {"enabled": True, "score_threshold": 15, "visited_pages_as_activity": True}}

    saved = await harness.api.put("/v1/settings", json=body, headers=harness.headers)
    read = await (await harness.api.get("/v1/settings", headers=harness.headers)).json()

    assert saved.status == 200, await saved.text()
    assert read["auto_push"] == body["auto_push"]
    published = await harness.events(SETTINGS.name)
    assert published[-1]["data"]["auto_push"] == body["auto_push"]


async def test_visited_pages_as_activity_is_off_unless_asked_for(harness: ConnectorHarness) -> None:
    saved = await harness.api.put(
        "/v1/settings", json={"auto_push": {"enabled": True}}, headers=harness.headers
    )

    assert (await saved.json())["auto_push"]["visited_pages_as_activity"] is False


async def test_a_wrongly_typed_switch_is_refused(harness: ConnectorHarness) -> None:
    body = {"auto_push": {"enabled": True, "visited_pages_as_activity": "sometimes"}}

    refused = await harness.api.put("/v1/settings", json=body, headers=harness.headers)

    assert refused.status == 400
