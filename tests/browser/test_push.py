"""Push to Pipedrive: three revealed accounts found with "Not in Pipedrive", previewed field by field,
confirmed, followed to the end, and found in the sandbox."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.async_api import Page, expect

from pipedrive_sandbox.store import Entity
from tests.browser.actions import at_path, hurried_refreshes, sign_in
from tests.browser.screens import capture
from tests.browser.stack import Stack, Tenant
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration
BOTH_WAYS = {
    "create_in_pipedrive": True,
    "update_in_pipedrive": True,
    "create_in_abm": True,
    "update_in_abm": True,
}


@pytest.mark.xfail(
    strict=False,
    reason="only while another stack runs on the same Kafka (helpers' suites sharing one broker; CI runs one"
    " stack at a time and passes): that stack's pusher, in its own consumer group, also takes this tenant's"
    " push requests, has no credentials for it and publishes 'failed: Invalid API key' under the same"
    " result ids as this stack's pusher's 'created'; the auditlog keeps whichever arrives first. Reproduced"
    " 2 of 2 with one extra pusher process running. Goes with per-stack topics (see the qa report)",
)
async def test_three_accounts_are_pushed_through_preview_and_confirm(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    await stack.api(
        tenant, "connector", "POST", "/v1/connection/api-token", {"api_token": stack.sandbox.api_token}
    )
    await stack.api(
        tenant, "connector", "PUT", "/v1/settings", {"objects": {"organization": {"directions": BOTH_WAYS}}}
    )
    tag = uuid.uuid4().hex[:6]
    companies = {f"push{tag}-{n}.io": f"Pushed {tag} {n}" for n in range(3)}
    for domain, name in companies.items():
        await stack.reveal(tenant, domain, name)
    await eventually(
        lambda: stack.api(tenant, "pusher", "GET", "/v1/push/mapping?object=organization"),
        lambda mapping: mapping["directions"]["create_in_pipedrive"] is True,
        within_s=180,
        what="the pusher has the two-way settings",
    )
    await eventually(
        lambda: stack.api(tenant, "mapper", "GET", f"/v1/accounts?q=push{tag}"),
        lambda found: len(found["data"]) == 3,
        within_s=180,
        what="the mapper applied the three reveals",
    )
    await page.clock.install()
    await sign_in(page, tenant.admin)

    await page.get_by_role("link", name="Push").click()
    await page.get_by_label("Search").fill(f"push{tag}")
    await page.get_by_label("Not in Pipedrive").check()
    await page.get_by_role("button", name="Show").click()
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(3)
    for name in companies.values():
        await page.get_by_label(f"Select {name}").check()
    await capture(page, "push-browse")
    await page.get_by_role("button", name="Preview changes").click()

    await expect(page.locator("[data-action=create]")).to_have_text("3 to create")
    for domain, name in companies.items():
        row = page.locator(f"tr[data-match-key='{domain}']")
        await expect(row).to_contain_text("Create")
        await expect(row.locator(".changes")).to_contain_text(f"Name: {name}")
    await capture(page, "push-preview")
    assert not [
        o
        for o in stack.sandbox.state.tables[Entity.ORGANIZATION].live()
        if o.data.get("name") in companies.values()
    ]
    await page.get_by_role("button", name="Confirm and push").click()

    progress = page.locator("#push-progress")
    async with hurried_refreshes(page, 1):
        await expect(progress).to_have_attribute("data-done", "yes")
    run_id = (
        await page.get_by_role("link", name="Open this push in the activity log").get_attribute("href") or ""
    ).rsplit("/", 1)[1]
    entries = (await stack.api(tenant, "auditlog", "GET", f"/v1/runs/{run_id}/entries"))["data"]
    assert [e["outcome"] for e in entries] == ["created"] * 3, [e["message"] for e in entries]
    await expect(progress).to_contain_text("3 created")
    await capture(page, "push-finished")
    created = [
        o
        for o in stack.sandbox.state.tables[Entity.ORGANIZATION].live()
        if o.data.get("name") in companies.values()
    ]
    assert sorted(o.data["name"] for o in created) == sorted(companies.values())


async def test_the_preview_shows_the_fields_a_push_writes_by_their_pipedrive_names(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    """DESIGN: a manual push first shows the field mapping and a preview of the changes. The preview once
    showed no mapping and named each change by the ABM field ("employee_count: 120"), not the Pipedrive
    field it writes ("Number of employees")."""
    await stack.api(
        tenant, "connector", "POST", "/v1/connection/api-token", {"api_token": stack.sandbox.api_token}
    )
    fields = [
        {"abm_field": "name", "pipedrive_field": "name", "to_pipedrive": "overwrite", "to_abm": "overwrite"},
        {"abm_field": "website", "pipedrive_field": "website", "to_pipedrive": "fill", "to_abm": "overwrite"},
        {"abm_field": "employee_count", "pipedrive_field": "employee_count", "to_pipedrive": "overwrite"},
    ]
    organization = {"directions": BOTH_WAYS, "fields": fields}
    await stack.api(tenant, "connector", "PUT", "/v1/settings", {"objects": {"organization": organization}})
    await eventually(
        lambda: stack.api(tenant, "pusher", "GET", "/v1/push/mapping?object=organization"),
        lambda mapping: any(f["abm_field"] == "employee_count" for f in mapping["fields"]),
        within_s=180,
        what="the pusher has the mapping",
    )
    domain = f"mapped{uuid.uuid4().hex[:6]}.io"
    await stack.reveal(tenant, domain, "Mapped Company", employee_count=120)
    await eventually(
        lambda: stack.api(tenant, "mapper", "GET", f"/v1/accounts?q={domain}"),
        lambda found: len(found["data"]) == 1,
        within_s=180,
        what="the mapper applied the reveal",
    )
    await sign_in(page, tenant.admin)
    await page.goto(f"/push?q={domain}")
    await page.get_by_label("Select Mapped Company").check()
    await page.get_by_role("button", name="Preview changes").click()

    mapping = page.locator("#push-mapping tbody tr")
    await expect(page.locator("#summary-title")).to_have_text("1 account")
    await expect(mapping).to_have_count(3)
    await expect(mapping.filter(has_text="Employee count")).to_contain_text("Number of employees")
    await expect(mapping.filter(has_text="Employee count")).to_contain_text("Overwrite")
    changes = page.locator(f"tr[data-match-key='{domain}'] .changes")
    await expect(changes).to_contain_text("Number of employees: 120")
    await expect(changes).to_contain_text("Name: Mapped Company")


async def test_nothing_to_push_leads_back_to_the_same_search(page: Page, tenant: Tenant) -> None:
    """A search nothing matches offers no "Select all 0 that match"; previewing nothing is the "Nothing
    to push" page, whose link goes back to the Push page with the search kept (it once went to the
    console's first page, the search lost)."""
    await sign_in(page, tenant.admin)
    await page.goto("/push?q=nothing-matches-this")
    await expect(page.get_by_text("No records match.")).to_be_visible()
    await expect(page.get_by_label(re.compile(r"Select all .*that match"))).to_have_count(0)

    await page.get_by_role("button", name="Preview changes").click()
    await expect(page.get_by_role("heading", name="Nothing to push")).to_be_visible()
    await page.get_by_role("link", name="Back to Push to Pipedrive").click()

    await expect(page).to_have_url(at_path("/push"))
    await expect(page.get_by_label("Search")).to_have_value("nothing-matches-this")
