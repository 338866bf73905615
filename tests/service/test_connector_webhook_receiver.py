"""The connector's webhook receiver as a specification, on in-memory fakes of its ports (no PostgreSQL):
who may deliver, what a delivery queues, and that a delivery sent twice is queued once."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connector.webhook_receiver import WebhookReceiver, add_webhook_routes
from connector.webhook_registration import WEBHOOK_USER, secret_hash
from tests.service.connector_fakes import InMemoryWebhooks

Client = TestClient[web.Request, web.Application]
PASSWORD = "a-secret-of-the-tenant"


@dataclass
class Receiver:
    client: Client
    webhooks: InMemoryWebhooks
    hints_available: asyncio.Event


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    webhooks, hints_available = InMemoryWebhooks(), asyncio.Event()
    await webhooks.save_subscriptions("acme", WEBHOOK_USER, secret_hash(PASSWORD), [1, 2, 3])
    app = web.Application()
    add_webhook_routes(app, WebhookReceiver(webhooks, hints_available))
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    yield Receiver(client, webhooks, hints_available)
    await client.close()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def delivery(delivery_id: str, entity: str = "person", action: str = "change", **meta: Any) -> dict[str, Any]:
    return {
        "meta": {"id": delivery_id, "action": action, "entity": entity, "entity_id": 7, **meta},
        "data": {},
    }


async def test_a_delivery_is_queued_once_and_wakes_the_hint_reader(receiver: Receiver) -> None:
    auth = basic(WEBHOOK_USER, PASSWORD)

    first = await receiver.client.post("/webhooks/pipedrive/acme", json=delivery("d1"), headers=auth)
    woke = receiver.hints_available.is_set()
    receiver.hints_available.clear()
    again = await receiver.client.post("/webhooks/pipedrive/acme", json=delivery("d1"), headers=auth)

    assert (first.status, await first.json()) == (200, {"accepted": True, "duplicate": False})
    assert (again.status, await again.json()) == (200, {"accepted": True, "duplicate": True})
    assert woke and not receiver.hints_available.is_set()
    assert receiver.webhooks.hints == [("acme", "person", 7, "change", None, "d1")]


async def test_a_merge_is_queued_with_the_record_it_went_into(receiver: Receiver) -> None:
    merged = delivery("d2", action="delete", merged_to_id=9)

    answer = await receiver.client.post(
        "/webhooks/pipedrive/acme", json=merged, headers=basic(WEBHOOK_USER, PASSWORD)
    )

    assert answer.status == 200
    assert receiver.webhooks.hints == [("acme", "person", 7, "delete", 9, "d2")]


@pytest.mark.parametrize(
    ("tenant", "headers"),
    [
        ("acme", basic(WEBHOOK_USER, "a guess")),
        ("acme", basic("someone", PASSWORD)),
        ("acme", {}),
        ("no-webhooks", basic(WEBHOOK_USER, PASSWORD)),
    ],
)
async def test_a_delivery_without_the_tenants_credentials_is_refused(
    receiver: Receiver, tenant: str, headers: dict[str, str]
) -> None:
    answer = await receiver.client.post(f"/webhooks/pipedrive/{tenant}", json=delivery("d1"), headers=headers)

    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == "Basic"
    assert receiver.webhooks.hints == [] and not receiver.hints_available.is_set()


async def test_an_object_not_synced_is_answered_and_not_queued(receiver: Receiver) -> None:
    answer = await receiver.client.post(
        "/webhooks/pipedrive/acme",
        json=delivery("d3", entity="activity"),
        headers=basic(WEBHOOK_USER, PASSWORD),
    )

    assert (answer.status, await answer.json()) == (200, {"accepted": False, "reason": "entity not synced"})
    assert receiver.webhooks.hints == []
