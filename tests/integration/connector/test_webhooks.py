"""Webhooks: registered in Pipedrive when turned on, removed when off; deliveries authenticated by the
tenant's Basic auth, deduped by delivery id, re-read before anything is emitted; merges and deletes."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.store import Entity
from tests.integration.connector.conftest import ConnectorHarness
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration
LEASE = timedelta(minutes=2)


async def _enable(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    response = await harness.api.put("/v1/webhooks", json={"enabled": True}, headers=harness.headers)
    assert response.status == 200, await response.text()


async def _drain_hints(harness: ConnectorHarness) -> None:
    while await harness.connector.hints.process_one():
        pass


async def _webhook_events(harness: ConnectorHarness) -> list[dict[str, Any]]:
    await _drain_hints(harness)
    return [e for e in await harness.events() if e["data"]["origin"] == "webhook"]


async def test_turning_webhooks_on_and_off_registers_and_removes_them(harness: ConnectorHarness) -> None:
    await _enable(harness)
    hooks = harness.sandbox.handle.state.webhooks.webhooks
    assert sorted(w.event_object for w in hooks.values()) == ["deal", "organization", "person"]

    off = await harness.api.put("/v1/webhooks", json={"enabled": False}, headers=harness.headers)

    assert off.status == 200 and (await off.json())["webhooks_enabled"] is False
    assert not hooks


async def test_turning_webhooks_on_with_a_token_pipedrive_refuses_is_a_409_not_connected(
    harness: ConnectorHarness,
) -> None:
    # Found by probing `make up`: Pipedrive's refusals here were all a 502 "pipedrive_failed" (a spent
    # budget too), where the rest of the API answers 409 to reconnect and 429 to wait.
    await harness.connect_by_token()
    harness.sandbox.handle.state.revoked_api_tokens.add(harness.sandbox.handle.api_token)

    response = await harness.api.put("/v1/webhooks", json={"enabled": True}, headers=harness.headers)

    assert (response.status, (await response.json())["error"]) == (409, "not_connected")


async def test_a_change_delivered_by_webhook_is_reread_and_emitted_once(harness: ConnectorHarness) -> None:
    await _enable(harness)
    state = harness.sandbox.handle.state
    org = next(state.tables[Entity.ORGANIZATION].live())
    state.clock.advance(2)
    state.entities.update(Entity.ORGANIZATION, org.id, {"name": "Renamed Org"}, 1, ChangeSource.APP)

    events = await eventually(
        lambda: _webhook_events(harness), lambda found: len(found) >= 1, within_s=15, what="the change"
    )

    assert [(e["data"]["pipedrive_id"], e["data"]["action"]) for e in events] == [(org.id, "upserted")]
    assert events[0]["data"]["record"]["name"] == "Renamed Org"  # read back from the API, not the payload
    deliveries = harness.sandbox.handle.state.webhooks.attempts
    assert deliveries and all(a.ok and a.status == 200 for a in deliveries)


async def test_merges_and_deletes_arrive_as_merged_and_deleted(harness: ConnectorHarness) -> None:
    await _enable(harness)
    state = harness.sandbox.handle.state
    loser, survivor, doomed = (r.id for r in list(state.tables[Entity.ORGANIZATION].live())[:3])
    state.clock.advance(2)
    state.entities.merge(Entity.ORGANIZATION, loser, survivor, 1, ChangeSource.APP)
    state.entities.delete(Entity.ORGANIZATION, doomed, 1, ChangeSource.APP)

    def settled(found: list[dict[str, Any]]) -> bool:
        actions = {(e["data"]["pipedrive_id"], e["data"]["action"]) for e in found}
        return {(loser, "merged"), (doomed, "deleted")} <= actions

    events = await eventually(lambda: _webhook_events(harness), settled, within_s=15, what="merge and delete")
    merged = next(e["data"] for e in events if e["data"]["action"] == "merged")
    assert merged["merged_into_id"] == survivor


async def test_deliveries_with_bad_credentials_are_refused_and_repeats_are_dropped(
    harness: ConnectorHarness,
) -> None:
    await _enable(harness)
    path = f"/webhooks/pipedrive/{harness.tenant}"
    body = {
        "meta": {"id": "d-1", "action": "change", "entity": "organization", "entity_id": "1"},
        "data": {"name": "forged"},
    }
    wrong = base64.b64encode(b"psync:guess").decode()

    refused = await harness.api.post(path, json=body, headers={"Authorization": f"Basic {wrong}"})
    other_tenant = await harness.api.post(f"{path}x", json=body, headers={"Authorization": f"Basic {wrong}"})

    assert refused.status == 401 and other_tenant.status == 401
    assert refused.headers["WWW-Authenticate"] == "Basic"
    assert await refused.json() == {"error": "unauthorized", "message": "Bad webhook credentials."}
    assert await harness.connector.hints.process_one() is False


async def test_the_receiver_answers_fast_and_dedupes_by_delivery_id(harness: ConnectorHarness) -> None:
    await _enable(harness)
    row = await harness.connector.pool.fetchrow(
        f"SELECT webhook_user FROM {harness.connector.settings.db_schema}.tenant_settings"
        " WHERE tenant_id = $1",
        harness.tenant,
    )
    assert row is not None
    # The password is only in Pipedrive (we keep its hash): read it back from the sandbox's registration.
    hook = next(iter(harness.sandbox.handle.state.webhooks.webhooks.values()))
    credentials = base64.b64encode(f"{hook.http_auth_user}:{hook.http_auth_password}".encode()).decode()
    body = {"meta": {"id": "dup-1", "action": "change", "entity": "organization", "entity_id": "1"}}
    headers = {"Authorization": f"Basic {credentials}"}

    started = time.monotonic()
    first = await (
        await harness.api.post(f"/webhooks/pipedrive/{harness.tenant}", json=body, headers=headers)
    ).json()
    elapsed = time.monotonic() - started
    second = await (
        await harness.api.post(f"/webhooks/pipedrive/{harness.tenant}", json=body, headers=headers)
    ).json()

    assert first == {"accepted": True, "duplicate": False} and elapsed < 0.5
    assert second == {"accepted": True, "duplicate": True}
    assert await harness.connector.hints.process_one() is True
    assert await harness.connector.hints.process_one() is False


async def _webhook_headers(harness: ConnectorHarness) -> dict[str, str]:
    """The Basic auth Pipedrive sends (read back from the sandbox's registration)."""
    hook = next(iter(harness.sandbox.handle.state.webhooks.webhooks.values()))
    credentials = base64.b64encode(f"{hook.http_auth_user}:{hook.http_auth_password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


@pytest.mark.parametrize(
    ("meta", "problem"),
    [
        ({"entity_id": "99999999999999999999"}, "meta.entity_id: Input should be less than or equal to"),
        ({"entity_id": 2**63}, "meta.entity_id: Input should be less than or equal to"),
        ({"action": "delete", "merged_to_id": 2**64 - 1}, "meta.merged_to_id: Input should be less than"),
        ({"action": "delete", "merged_to_id": 10**30}, "meta.merged_to_id: "),
        ({"id": "d\u0000-1"}, "meta.id: must not contain NUL characters"),
        ({"entity_id": "x"}, "meta.entity_id: Input should be a valid integer"),
    ],
)
async def test_a_delivery_with_an_id_beyond_bigint_or_a_nul_is_a_400_naming_the_field_and_queues_nothing(
    harness: ConnectorHarness, meta: dict[str, Any], problem: str
) -> None:
    await _enable(harness)
    body = {"meta": {"id": "big-1", "action": "change", "entity": "organization", "entity_id": "1", **meta}}

    answer = await harness.api.post(
        f"/webhooks/pipedrive/{harness.tenant}", json=body, headers=await _webhook_headers(harness)
    )

    assert (answer.status, answer.content_type) == (400, "application/json"), await answer.text()
    found = await answer.json()
    assert found["error"] == "bad_request" and found["problems"][0].startswith(problem), found
    assert await harness.connector.hints.process_one() is False


async def test_a_delivery_whose_record_holds_a_nul_is_accepted_and_its_record_read_again(
    harness: ConnectorHarness,
) -> None:
    await _enable(harness)
    body = {
        "meta": {"id": "nul-1", "action": "change", "entity": "organization", "entity_id": "1"},
        "data": {"id": 1, "name": "Acme\u0000 Ltd"},
        "previous": {"name": "Acme\u0000"},
    }

    answer = await harness.api.post(
        f"/webhooks/pipedrive/{harness.tenant}", json=body, headers=await _webhook_headers(harness)
    )

    assert answer.status == 200, await answer.text()
    assert await answer.json() == {"accepted": True, "duplicate": False}
    assert await harness.connector.hints.process_one() is True


async def test_webhook_changes_of_an_hour_are_one_run_that_starts_and_ends(harness: ConnectorHarness) -> None:
    await _enable(harness)
    state = harness.sandbox.handle.state
    edited, doomed = (r.id for r in list(state.tables[Entity.ORGANIZATION].live())[:2])
    state.ledger.reset()
    state.entities.update(Entity.ORGANIZATION, edited, {"name": "Hooked"}, 1, ChangeSource.APP)
    state.entities.delete(Entity.ORGANIZATION, doomed, 1, ChangeSource.APP)

    def both(found: list[dict[str, Any]]) -> bool:
        return {(edited, "upserted"), (doomed, "deleted")} <= {
            (e["data"]["pipedrive_id"], e["data"]["action"]) for e in found
        }

    changes = await eventually(lambda: _webhook_events(harness), both, within_s=15, what="the changes")
    state.clock.advance(3600 + 300)  # the hour and the lease a hint may still be read under
    closed = await harness.connector.hints.runs.close_ended(
        datetime.fromtimestamp(state.clock.now(), UTC), LEASE
    )
    runs = [e for e in await harness.run_events() if e["data"]["kind"] == "webhook"]

    [run_id] = {e["correlationid"] for e in changes}
    assert run_id.startswith("webhooks-")
    assert closed >= 1  # windows of other tests' tenants in this schema may close too
    assert [(e["type"], e["data"]["run_id"]) for e in runs] == [
        ("psync.run.started", run_id), ("psync.run.finished", run_id),
    ]  # fmt: skip
    finished = runs[1]["data"]
    assert finished["emitted"] == len(changes)
    gets = [e for e in state.ledger.entries if e.method == "GET"]
    assert finished["tokens_spent"] == sum(e.tokens for e in gets) > 0
    assert finished["status"] == "Success"
