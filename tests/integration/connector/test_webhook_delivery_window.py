"""Webhook delivery ids are remembered only for their window: a connector process forgets them once it
has passed (the table stays bounded), and within it drops a repeat."""

from __future__ import annotations

import base64

import aiohttp
import pytest

from tests.integration.connector.conftest import ConnectorProcesses
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def test_delivery_ids_are_pruned_after_their_window(connector_processes: ConnectorProcesses) -> None:
    processes = connector_processes
    connector = processes.process(
        "pruning", CONNECTOR_WEBHOOK_DELIVERY_WINDOW_S="3", CONNECTOR_PRUNE_EVERY_S="0.2"
    )
    await connector.start()
    await connector.wait_ready()
    token = {"api_token": processes.sandbox.handle.api_token}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{connector.url}/v1/connection/api-token", json=token, headers=processes.headers
        ) as r:
            assert r.status == 200, await r.text()
        async with http.put(
            f"{connector.url}/v1/webhooks", json={"enabled": True}, headers=processes.headers
        ) as r:
            assert r.status == 200, await r.text()
        hook = next(iter(processes.sandbox.handle.state.webhooks.webhooks.values()))
        basic = base64.b64encode(f"{hook.http_auth_user}:{hook.http_auth_password}".encode()).decode()
        delivery = {"meta": {"id": "d-1", "action": "change", "entity": "organization", "entity_id": "1"}}

        async def deliver() -> dict[str, bool]:
            async with http.post(
                f"{connector.url}/webhooks/pipedrive/{processes.tenant}",
                json=delivery,
                headers={"Authorization": f"Basic {basic}"},
            ) as answer:
                assert answer.status == 200, await answer.text()
                body: dict[str, bool] = await answer.json()
                return body

        first, repeat = await deliver(), await deliver()

        async def remembered() -> int:
            query = f"SELECT count(*) FROM {processes.schema}.webhook_deliveries WHERE tenant_id = $1"
            return int(await processes.pool.fetchval(query, processes.tenant))

        await eventually(remembered, lambda n: n == 0, within_s=30, what="the delivery id forgotten")
        after_the_window = await deliver()

    assert first == {"accepted": True, "duplicate": False}
    assert repeat == {"accepted": True, "duplicate": True}
    assert after_the_window == {"accepted": True, "duplicate": False}
    assert await connector.terminate() == 0
    assert '"rows_pruned"' in connector.log_text()
