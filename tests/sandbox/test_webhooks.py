"""Webhook v2 deliveries, the retry schedule (3, 30, 150 s) and the ban after 10 failed first attempts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipedrive_sandbox.webhooks import BAN_SECONDS
from tests.sandbox.conftest import SandboxClient, eventually


@dataclass
class Receiver:
    """A webhook target that records deliveries and answers with `status`."""

    server: TestServer
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The subscription URL."""
        return str(self.server.make_url("/hook"))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A running webhook target."""
    app = web.Application()
    server = TestServer(app)
    target = Receiver(server)

    async def hook(request: web.Request) -> web.Response:
        target.received.append(await request.json())
        target.authorizations.append(request.headers.get("Authorization"))
        return web.Response(status=target.status)

    app.router.add_post("/hook", hook)
    await server.start_server()
    yield target
    await server.close()


async def _subscribe(client: SandboxClient, receiver: Receiver, **extra: Any) -> int:
    body = {
        "subscription_url": receiver.url,
        "event_action": "*",
        "event_object": "organization",
        "name": "t",
        "version": "2.0",
        **extra,
    }
    reply = await client.call("POST", "/v1/webhooks", json=body)
    assert reply.status == 201
    webhook_id: int = reply.body["data"]["id"]
    return webhook_id


async def test_an_api_change_is_delivered_as_v2_with_previous_and_change_source_api(
    sandbox: SandboxClient, receiver: Receiver
) -> None:
    await _subscribe(sandbox, receiver)
    old_name = (await sandbox.call("GET", "/api/v2/organizations/3")).body["data"]["name"]

    await sandbox.call("PATCH", "/api/v2/organizations/3", json={"name": "Changed Name"})
    await eventually(lambda: len(receiver.received) == 1)

    delivery = receiver.received[0]
    assert delivery["meta"]["action"] == "change" and delivery["meta"]["entity"] == "organization"
    assert delivery["meta"]["entity_id"] == "3" and delivery["meta"]["change_source"] == "api"
    assert delivery["meta"]["attempt"] == 1 and delivery["meta"]["version"] == "2.0"
    assert delivery["data"]["name"] == "Changed Name"
    assert delivery["previous"] == {"name": old_name}


async def test_custom_fields_arrive_typed(sandbox: SandboxClient, receiver: Receiver) -> None:
    await _subscribe(sandbox, receiver)
    codes = {
        d.field_type: code for code, d in sandbox.handle.state.account.custom_fields_by_type("organization")
    }

    await sandbox.call("PATCH", "/api/v2/organizations/3", json={"custom_fields": {codes["double"]: 978}})
    await eventually(lambda: len(receiver.received) == 1)

    assert receiver.received[0]["data"]["custom_fields"][codes["double"]] == {"type": "double", "value": 978}


async def test_deliveries_carry_basic_auth_when_configured(
    sandbox: SandboxClient, receiver: Receiver
) -> None:
    await _subscribe(sandbox, receiver, http_auth_user="hook", http_auth_password="s3cret")

    await sandbox.call("DELETE", "/api/v2/organizations/3")
    await eventually(lambda: len(receiver.received) == 1)

    assert receiver.authorizations[0] == "Basic aG9vazpzM2NyZXQ="
    assert receiver.received[0]["data"] is None and receiver.received[0]["previous"]["id"] == 3


async def test_a_merge_arrives_as_delete_with_merged_to_id_and_change_with_merged_from_id(
    sandbox: SandboxClient, receiver: Receiver
) -> None:
    await _subscribe(sandbox, receiver)

    await sandbox.call("PUT", "/v1/organizations/5/merge", json={"merge_with_id": 6})
    await eventually(lambda: len(receiver.received) == 2)

    by_action = {d["meta"]["action"]: d["meta"] for d in receiver.received}
    assert by_action["delete"]["entity_id"] == "5" and by_action["delete"]["merged_to_id"] == 6
    assert by_action["change"]["entity_id"] == "6" and by_action["change"]["merged_from_id"] == 5


async def test_failed_deliveries_are_retried_after_3_30_and_150_seconds(
    sandbox: SandboxClient, receiver: Receiver
) -> None:
    await _subscribe(sandbox, receiver)
    receiver.status = 500
    state = sandbox.handle.state
    await sandbox.call("PATCH", "/api/v2/organizations/3", json={"name": "Retry Me"})
    await eventually(lambda: len(state.webhooks.attempts) == 1)

    delays: list[float] = []
    for attempts_so_far in (2, 3, 4):
        due = state.webhooks.next_due()
        assert due is not None
        delays.append(due - state.clock.now())
        state.clock.advance(due - state.clock.now())
        await eventually(partial(_attempts_are, state, attempts_so_far))

    assert delays == [3, 30, 150]
    assert [d["meta"]["attempt"] for d in receiver.received] == [1, 2, 3, 4]
    assert len({d["meta"]["id"] for d in receiver.received}) == 1
    assert state.webhooks.next_due() is None


async def test_ten_failed_first_attempts_ban_the_webhook_for_30_minutes(
    sandbox: SandboxClient, receiver: Receiver
) -> None:
    webhook_id = await _subscribe(sandbox, receiver)
    receiver.status = 503
    state = sandbox.handle.state
    for number in range(10):
        await sandbox.call("PATCH", "/api/v2/organizations/3", json={"name": f"Attempt {number}"})
        await eventually(partial(_first_attempts_are, receiver, number + 1))
    receiver.status = 200
    first_attempts = len(receiver.received)

    await sandbox.call("PATCH", "/api/v2/organizations/3", json={"name": "During the ban"})
    dropped_during_ban = len(state.webhooks.dropped)
    state.clock.advance(BAN_SECONDS)
    await sandbox.call("PATCH", "/api/v2/organizations/3", json={"name": "After the ban"})
    await eventually(lambda: any(d["data"]["name"] == "After the ban" for d in receiver.received))

    assert first_attempts == 10
    assert dropped_during_ban == 1 and state.webhooks.dropped[0]["webhook_id"] == webhook_id
    assert not any(d["data"]["name"] == "During the ban" for d in receiver.received)


async def test_an_unreachable_target_fault_fails_deliveries(
    sandbox: SandboxClient, receiver: Receiver
) -> None:
    await _subscribe(sandbox, receiver)
    state = sandbox.handle.state
    state.faults.webhooks_unreachable = True

    await sandbox.call("PATCH", "/api/v2/organizations/3", json={"name": "Lost"})
    await eventually(lambda: len(state.webhooks.attempts) == 1)

    assert receiver.received == []
    assert state.webhooks.attempts[0].ok is False and state.webhooks.attempts[0].status is None


async def test_webhooks_can_be_listed_and_deleted(sandbox: SandboxClient, receiver: Receiver) -> None:
    webhook_id = await _subscribe(sandbox, receiver)

    listed = await sandbox.call("GET", "/v1/webhooks")
    deleted = await sandbox.call("DELETE", f"/v1/webhooks/{webhook_id}")
    after = await sandbox.call("GET", "/v1/webhooks")

    assert [w["id"] for w in listed.body["data"]] == [webhook_id]
    assert deleted.status == 200
    assert after.body["data"] == []


def _attempts_are(state: Any, count: int) -> bool:
    return len(state.webhooks.attempts) == count


def _first_attempts_are(receiver: Receiver, count: int) -> bool:
    return len([d for d in receiver.received if d["meta"]["attempt"] == 1]) == count
