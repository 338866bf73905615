"""A tenant whose organizations are told apart by subdomain (`organization_domain.keep_subdomains`): the
ABM platform's reveals, the auto-push and a manual push all key `shop.<domain>` as Pipedrive's records
are keyed, so one company is one account and one organization. Seen from outside only: the `abm.*`
topics, the sandbox's API, the services' HTTP APIs (the package's stack, `conftest.py`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

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
from tests.end_to_end.test_manual_push_previews import _push_run
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def _auto_push_entries(admin: Admin, match_key: str) -> list[dict[str, Any]]:
    """The activity log's auto-push entries of one record."""
    runs = await admin.call("auditlog", "GET", "/v1/runs?kind=auto_push")
    found = []
    for run in runs["data"]:
        page = await admin.call("auditlog", "GET", f"/v1/runs/{run['run_id']}/entries")
        found += [e for e in page["data"] if e["match_key"] == match_key]
    return found


async def test_a_revealed_subdomain_is_one_account_and_one_organization_however_it_is_pushed(
    stack: Stack, abm_platform: AIOKafkaProducer
) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(
        objects={"organization": {"directions": BOTH_WAYS}},
        auto_push={"enabled": True},
        organization_domain={"keep_subdomains": True},
    )
    domain = f"shop.sub-{uid}.io"
    await _signal(abm_platform, admin.tenant, CompanyRevealed(
        domain=domain, name=f"Shop {uid}", revealed_at=datetime.now(UTC)
    ), domain)  # fmt: skip
    [auto_pushed] = await eventually(
        lambda: _auto_push_entries(admin, domain), bool, within_s=WAIT_S, what="the reveal's auto-push"
    )
    org = auto_pushed["pipedrive_id"]

    run = await _push_run(
        admin,
        {
            "object": "organization",
            "records": [{"fields": {"website": f"https://{domain}/", "name": "Shop"}}],
        },
    )

    accounts = await eventually(
        lambda: admin.call("mapper", "GET", f"/v1/accounts?q=sub-{uid}"),
        lambda page: bool(page["data"]),
        within_s=WAIT_S,
        what="the revealed account",
    )
    assert [a["domain"] for a in accounts["data"]] == [domain]
    assert (auto_pushed["outcome"], run["created"], run["updated"] + run["unchanged"]) == ("created", 0, 1)
    live = await _pipedrive(stack, "GET", "/api/v2/organizations?limit=500")
    assert [o["id"] for o in live if f"sub-{uid}.io" in (o["website"] or "")] == [org]


async def test_a_manual_push_writes_the_website_as_its_bare_domain(stack: Stack) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": {"directions": BOTH_WAYS}})
    raw = f"https://www.Bare-{uid}.io/about?ref=ad"

    run = await _push_run(
        admin, {"object": "organization", "records": [{"fields": {"website": raw, "name": "Bare"}}]}
    )

    assert run["created"] == 1
    live = await _pipedrive(stack, "GET", "/api/v2/organizations?limit=500")
    assert [o["website"] for o in live if o["name"] == "Bare" and uid in (o["website"] or "").lower()] == [
        f"bare-{uid}.io"
    ]
