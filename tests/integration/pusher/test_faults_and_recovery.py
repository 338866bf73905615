"""Budget pauses, revoked tokens, and creates interrupted between the call and the record of its result."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from pipedrive_client import ApiTokenCredentials
from pipedrive_sandbox.store import Entity
from pusher.bootstrap import build_handlers
from pusher.handlers import PusherHandlers
from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import SyncObject
from schemas.events.settings import OrganizationDomainField
from stream_runner.messages import OutgoingMessage
from tests.integration.pusher.conftest import PusherHarness, push_settings, results_of
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


class CrashAfterCreate(BaseException):
    """Stands in for a SIGKILL between the create call and the commit of its result."""


def reveal(domain: str, name: str) -> CompanyRevealed:
    return CompanyRevealed(domain=domain, name=name, revealed_at=NOW)


async def test_a_429_storm_parks_the_tenants_pushes_and_they_resume_without_loss(
    pusher: PusherHarness,
) -> None:
    pusher.sandbox.state.faults.storm_requests_left = 50
    first = await pusher.send(reveal("storm1.io", "Storm One"), event_id="s1")
    calls_during_storm = pusher.calls()
    second = await pusher.send(reveal("storm2.io", "Storm Two"), event_id="s2")

    assert not first.outputs and not second.outputs
    assert pusher.calls() == calls_during_storm, "a paused tenant's next push waits without calling"
    assert await pusher.handlers.parked.count(pusher.tenant) == 2

    pusher.sandbox.state.faults.clear()
    await pusher.pool.execute(f"UPDATE {pusher.schema}.parked_pushes SET resume_at = now() - interval '1s'")
    sent: list[OutgoingMessage] = []

    async def send(messages: Sequence[OutgoingMessage]) -> None:
        sent.extend(messages)

    stop = asyncio.Event()
    worker = asyncio.create_task(
        pusher.handlers.parked.run(pusher.handlers.redrive, pusher.handlers.give_up, send, stop)
    )
    await eventually(
        lambda: pusher.handlers.parked.count(pusher.tenant), lambda n: n == 0, within_s=15, what="re-driven"
    )
    stop.set()
    await worker

    assert len([m for m in sent if m.topic == "psync.push-results.v1"]) == 2
    assert len(pusher.organizations("storm1.io")) == 1 and len(pusher.organizations("storm2.io")) == 1
    replay = await pusher.send(reveal("storm1.io", "Storm One"), event_id="s1")
    assert replay.duplicate


async def test_a_revoked_token_fails_the_record_with_invalid_api_key(pusher: PusherHarness) -> None:
    pusher.sandbox.state.revoked_api_tokens.add(pusher.sandbox.api_token)

    [failed] = results_of(await pusher.send(reveal("revoked.io", "Revoked")))

    assert failed["outcome"] == "failed" and failed["message"] == "Invalid API key"
    assert pusher.organizations("revoked.io") == []


async def test_another_tenant_goes_on_while_one_is_paused(pusher: PusherHarness) -> None:
    other = PusherHarness(pusher.pool, pusher.schema, pusher.handlers, pusher.sandbox, pusher.clients)
    await pusher.clients.credentials.save(
        other.tenant, ApiTokenCredentials(SecretStr(pusher.sandbox.api_token), pusher.sandbox.base_url)
    )
    await other.settings(push_settings())
    pusher.sandbox.state.faults.storm_requests_left = 50
    await pusher.send(reveal("paused.io", "Paused"))
    pusher.sandbox.state.faults.clear()

    [created] = results_of(await other.send(reveal("flowing.io", "Flowing")))

    assert await pusher.handlers.parked.count(pusher.tenant) == 1
    assert created["outcome"] == "created"


async def test_a_create_interrupted_before_its_result_is_adopted_not_repeated(pusher: PusherHarness) -> None:
    def crash() -> None:
        raise CrashAfterCreate()

    crashing = build_handlers(pusher.pool, pusher.schema, pusher.clients, after_create=crash)
    event_id = "crash-1"
    with pytest.raises(CrashAfterCreate):
        await _as(pusher, crashing).send(reveal("crash.io", "Crash"), event_id=event_id)
    assert len(pusher.organizations("crash.io")) == 1

    [adopted] = results_of(await pusher.send(reveal("crash.io", "Crash"), event_id=event_id))

    assert adopted["outcome"] == "created"
    assert adopted["pipedrive_id"] == pusher.organizations("crash.io")[0]["id"]
    assert len(pusher.organizations("crash.io")) == 1


async def test_an_intent_whose_call_never_left_creates_the_record(pusher: PusherHarness) -> None:
    await record_intent(pusher, "never.io", {"name": "Never", "website": "never.io"})

    [created] = results_of(await pusher.send(reveal("never.io", "Never")))

    assert created["outcome"] == "created" and len(pusher.organizations("never.io")) == 1


async def test_twins_found_after_an_interrupted_create_fail_with_duplicate_found(
    pusher: PusherHarness,
) -> None:
    client = pusher.clients.for_tenant(pusher.tenant)
    for _ in range(2):
        await client.organizations.create({"name": "Twin", "website": "twin.io"})
    await record_intent(pusher, "twin.io", {"name": "Twin", "website": "twin.io"})

    [failed] = results_of(await pusher.send(reveal("twin.io", "Twin")))

    assert failed["outcome"] == "failed" and failed["message"] == "Duplicate found"
    assert len(pusher.organizations("twin.io")) == 2


async def test_an_interrupted_create_under_a_domain_custom_field_finds_an_organization_keyed_by_its_website(
    pusher: PusherHarness,
) -> None:
    fields = await pusher.clients.for_tenant(pusher.tenant).fields.list("organization")
    [domain] = [f for f in fields if f.field_name == "Domain"]
    await pusher.settings(
        push_settings(version=2).model_copy(
            update={
                "organization_domain": OrganizationDomainField(
                    custom_field_label="Domain", custom_field_code=domain.field_code
                )
            }
        )
    )
    client = pusher.clients.for_tenant(pusher.tenant)
    await client.organizations.create({"name": "Plain", "website": "https://plain.io/"})
    await record_intent(
        pusher, "plain.io", {"name": "Plain", "custom_fields": {domain.field_code: "plain.io"}}
    )

    [result] = results_of(await pusher.send(reveal("plain.io", "Plain")))

    assert result["outcome"] == "created"  # the organization taken for the interrupted create's
    assert [o.data["id"] for o in pusher.sandbox.state.tables[Entity.ORGANIZATION].live()] == [
        result["pipedrive_id"]
    ]


def _as(pusher: PusherHarness, handlers: PusherHandlers) -> PusherHarness:
    """The same tenant, served by other handlers (another process of the same service)."""
    twin = PusherHarness(pusher.pool, pusher.schema, handlers, pusher.sandbox, pusher.clients)
    twin.tenant = pusher.tenant
    return twin


async def record_intent(pusher: PusherHarness, website: str, body: dict[str, Any]) -> None:
    """An organization's create intent committed, as a create interrupted before its POST leaves it."""
    async with pusher.handlers.store.view() as view:
        await view.ledger.record_intent(pusher.tenant, SyncObject.ORGANIZATION, website, body)
