"""A tenant that keeps organizations' domains in a custom field (`organization_domain.custom_field_label`):
an organization whose custom field is empty is keyed by its native website, so it is imported, linked,
and found again by a reveal of its domain, which updates it rather than create a second one. Seen from
outside only: the `abm.*` topics, the sandbox's API, the services' HTTP APIs (the package's stack,
`conftest.py`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from schemas.events.abm_signals import CompanyRevealed
from tests.browser.stack import Stack
from tests.end_to_end.test_deletes_merges_and_pushes import (
    BOTH_WAYS,
    WAIT_S,
    Admin,
    _pipedrive,
    _signal,
)
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def test_an_organization_with_only_a_website_is_matched_under_a_domain_custom_field(
    stack: Stack, abm_platform: AIOKafkaProducer
) -> None:
    uid = uuid.uuid4().hex[:6]
    domain = f"plain-{uid}.io"
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(
        objects={"organization": {"directions": BOTH_WAYS}},
        auto_push={"enabled": True},
        organization_domain={"custom_field_label": "Domain"},
    )
    code = (await admin.call("connector", "GET", "/v1/settings"))["organization_domain"]["custom_field_code"]
    created = await _pipedrive(
        stack, "POST", "/api/v2/organizations", {"name": f"Plain {uid}", "website": f"https://www.{domain}/"}
    )
    org = int(created["id"])

    await admin.sync()
    account = await admin.account(domain)
    await admin.pusher_target(domain, lambda r: r["pipedrive_id"] == org)
    await _signal(abm_platform, admin.tenant, CompanyRevealed(
        domain=domain, name=f"Plain {uid}", revealed_at=datetime.now(UTC)
    ), domain)  # fmt: skip
    [pushed] = await eventually(
        lambda: admin.entries("auto_push", org), bool, within_s=WAIT_S, what="the reveal's auto-push"
    )

    assert account["pipedrive"]["id"] == org
    assert pushed["outcome"] == "updated"
    live = await _pipedrive(stack, "GET", "/api/v2/organizations?limit=500")
    ours = [o for o in live if uid in (o["website"] or "") + str((o["custom_fields"] or {}).get(code))]
    assert [(o["id"], o["custom_fields"][code]) for o in ours] == [(org, domain)]
