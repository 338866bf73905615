"""'Open in Pipedrive' from the audiences: the link leads to the record's page in Pipedrive's web app,
which for the sandbox is the sandbox's own minimal page of the record (it once answered the API's JSON
404, 'Unknown method GET /organization/<id>')."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from pipedrive_sandbox.store import Entity
from tests.browser.actions import sign_in
from tests.browser.stack import Stack, Tenant
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def test_open_in_pipedrive_shows_the_record_s_page(page: Page, tenant: Tenant, stack: Stack) -> None:
    await stack.api(
        tenant, "connector", "POST", "/v1/connection/api-token", {"api_token": stack.sandbox.api_token}
    )
    await stack.api(tenant, "connector", "POST", "/v1/sync")
    accounts = await eventually(
        lambda: stack.api(tenant, "mapper", "GET", "/v1/accounts?limit=500"),
        lambda found: any((a.get("pipedrive") or {}).get("url") for a in found["data"]),
        within_s=180,
        what="the sync's organizations are in the audiences with their Pipedrive links",
    )
    account = next(a for a in accounts["data"] if (a.get("pipedrive") or {}).get("url"))
    organization = stack.sandbox.state.tables[Entity.ORGANIZATION].get(account["pipedrive"]["id"])
    assert organization is not None
    owner = stack.sandbox.state.account.users[organization.data["owner_id"]]
    await sign_in(page, tenant.admin)
    await page.goto(f"/audiences/accounts?q={account['match_key']}")

    async with page.context.expect_page() as opened:
        await page.get_by_role("link", name="Open in Pipedrive").first.click()
    pipedrive = await opened.value
    await expect(pipedrive.get_by_role("heading", level=1)).to_have_text(organization.data["name"])
    owner_row = pipedrive.get_by_role("row", name="Owner")
    await expect(owner_row).to_contain_text(owner.name)
