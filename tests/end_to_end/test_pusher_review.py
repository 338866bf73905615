"""What a RevOps review of the pusher found, seen from outside: the ABM platform's signals (`abm.*`), the
sandbox's API (as the people using Pipedrive) and the activity log's API (as the admin)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from pipedrive_client.endpoints import Endpoint
from pipedrive_client.token_costs import load_token_costs
from schemas.catalog import build_event, event_type_of
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed, ContactEnriched
from schemas.events.common import SyncObject
from schemas.keys import record_key
from tests.browser.stack import Stack, Tenant
from tests.end_to_end.test_deletes_merges_and_pushes import (
    BOTH_WAYS,
    OWNERS_PUSHED,
    WAIT_S,
    Admin,
    _pipedrive,
    _signal,
)
from tests.end_to_end.test_manual_push_previews import _push_run
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def _skipped(admin: Admin, count: int) -> list[dict[str, Any]]:
    return await eventually(
        lambda: admin.all_entries("auto_push"),
        lambda found: len(found) >= count,
        within_s=WAIT_S,
        what="the reveals' results",
    )


async def test_a_reveal_without_a_usable_domain_is_named_in_the_activity_log(
    stack: Stack, abm_platform: AIOKafkaProducer
) -> None:
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": {"directions": BOTH_WAYS}}, auto_push={"enabled": True})
    given = ["192.168.1.10", "localhost"]
    for domain in given:
        revealed = CompanyRevealed(domain=domain, name=f"Visitor at {domain}", revealed_at=datetime.now(UTC))
        await _signal(abm_platform, admin.tenant, revealed, domain)

    entries = await _skipped(admin, len(given))

    assert sorted((e["outcome"], e["match_key"]) for e in entries) == [("skipped", "-")] * len(given)
    for domain in given:
        assert [e for e in entries if f'"{domain}"' in e["message"]], (domain, entries)


async def _enriched(producer: AIOKafkaProducer, tenant: Tenant, payload: ContactEnriched) -> None:
    """The ABM platform enriches a contact."""
    key = record_key(tenant.tenant_id, SyncObject.PERSON, payload.email)
    await _send(producer, tenant, payload, key)


async def _send(producer: AIOKafkaProducer, tenant: Tenant, payload: BaseModel, key: str) -> None:
    event = build_event(
        payload, tenant=tenant.tenant_id, subject=key, source="/itest/abm-platform",
        id_parts=(uuid.uuid4().hex,), time=datetime.now(UTC),
    )  # fmt: skip
    await producer.send_and_wait(event_type_of(payload).topic.name, encode_event(event), key=key.encode())


async def test_an_email_is_written_as_given_and_matched_whatever_its_case(
    stack: Stack, abm_platform: AIOKafkaProducer
) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    both_ways = {"directions": BOTH_WAYS}
    await admin.connect(objects={"organization": both_ways, "person": both_ways}, auto_push={"enabled": True})
    given, lowered = f"Nora.{uid}@Delta-RV.com", f"nora.{uid}@delta-rv.com"

    await _enriched(abm_platform, admin.tenant, ContactEnriched(
        email=given, name=f"Nora {uid}", enriched_at=datetime.now(UTC)
    ))  # fmt: skip
    [created] = await eventually(
        lambda: admin.all_entries("auto_push"), bool, within_s=WAIT_S, what="the enrichment's result"
    )
    await _enriched(abm_platform, admin.tenant, ContactEnriched(
        email=lowered, name=f"Nora {uid}", enriched_at=datetime.now(UTC)
    ))  # fmt: skip
    both = await eventually(
        lambda: admin.all_entries("auto_push"),
        lambda found: len(found) == 2,
        within_s=WAIT_S,
        what="the second enrichment's result",
    )

    assert created["outcome"] == "created" and created["match_key"] == lowered
    again = next(e for e in both if e != created)
    assert (again["outcome"], again["pipedrive_id"]) == ("unchanged", created["pipedrive_id"])
    person = await _pipedrive(stack, "GET", f"/api/v2/persons/{created['pipedrive_id']}")
    assert [e["value"] for e in person["emails"]] == [given]


async def test_a_manual_push_of_records_with_owner_emails_reads_pipedrives_users_once(stack: Stack) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": {"directions": BOTH_WAYS, "fields": OWNERS_PUSHED}})
    user = (await _pipedrive(stack, "GET", "/v1/users"))[-1]
    domains = [f"owned-{n}-{uid}.io" for n in range(3)]
    records = [{"fields": {"website": d, "name": d, "owner": user["email"]}} for d in domains]

    run = await _push_run(admin, {"object": "organization", "records": records})

    costs = load_token_costs()
    users_read = costs.cost_of(Endpoint("v1", "GET", "/users"))
    create = costs.cost_of(Endpoint("v2", "POST", "/organizations"))
    assert run["created"] == len(domains)
    assert run["tokens_spent"] == users_read + len(domains) * create  # the users read once, not once a record
    live = await _pipedrive(stack, "GET", "/api/v2/organizations?limit=500")
    assert sorted(o["owner_id"] for o in live if o["website"] in domains) == [user["id"]] * len(domains)
