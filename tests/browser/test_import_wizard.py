"""Import from Pipedrive: a filter checked as it is typed (the error's column shown), a preview whose
counts are the sandbox's own, the start, the progress bar until the run ends, and its activity-log run."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from console.template_filters import has_ended
from pipedrive_sandbox.store import Entity
from tests.browser.actions import hurried_refreshes, sign_in
from tests.browser.screens import capture
from tests.browser.stack import Stack, Tenant
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def test_a_filtered_organization_import_is_previewed_and_followed_to_its_end(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    await stack.api(
        tenant, "connector", "POST", "/v1/connection/api-token", {"api_token": stack.sandbox.api_token}
    )
    organizations = list(stack.sandbox.state.tables[Entity.ORGANIZATION].live())
    matching = [o for o in organizations if "labs" in str(o.data.get("name", "")).lower()]
    assert 0 < len(matching) < len(organizations)
    await page.clock.install()
    await sign_in(page, tenant.admin)
    await page.get_by_role("link", name="Import").click()

    await page.get_by_role("radio", name=re.compile("^Organizations")).check()
    await page.get_by_label("Only records that match a filter").check()
    await page.get_by_label("Filter expression").fill('Name CONTAINS "Labs')
    await expect(page.locator("#filter-check .field-error")).to_contain_text("Column 15")
    await capture(page, "import-filter-error")
    await page.get_by_label("Filter expression").fill('Name CONTAINS "Labs"')
    await expect(page.locator("#filter-check")).to_contain_text("The filter reads well")
    await page.get_by_label("Skip duplicates").check()
    await page.get_by_role("button", name="Preview").click()

    await expect(page.locator("[data-count=selected]")).to_have_text(str(len(matching)))
    await expect(page.locator("[data-count=read]")).to_have_text(re.compile(r"^[\d,]+$"))
    outcomes = [
        int(await page.locator(f"[data-count={o}]").inner_text()) for o in ("created", "updated", "skipped")
    ]
    assert sum(outcomes) == len(matching), outcomes  # each selected record is created, updated or skipped
    await capture(page, "import-preview")
    await page.get_by_role("button", name="Start import").click()

    progress = page.locator("#import-progress")
    await expect(page).to_have_url(re.compile(r"/import/runs/"))
    async with hurried_refreshes(page, 1):
        await expect(progress).to_have_attribute("data-done", "yes")
    bar = page.locator("#import-bar")
    assert await bar.get_attribute("value") == await bar.get_attribute("max") == str(len(matching))
    await expect(progress.locator("[data-count=applied]")).to_have_text(str(len(matching)))
    await capture(page, "import-finished")

    await page.get_by_role("link", name="Open this run in the activity log").click()
    await expect(page).to_have_url(re.compile(r"/activity/runs/[^/]+$"))
    await expect(page.locator("#run-summary")).to_contain_text("Import")


async def test_a_deal_import_filtered_by_value_and_stage_runs_to_success_with_the_bar_moving(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    await stack.api(
        tenant, "connector", "POST", "/v1/connection/api-token", {"api_token": stack.sandbox.api_token}
    )
    proposal = {s.id for s in stack.sandbox.state.account.stages.values() if s.name == "Proposal"}
    deals = [
        d for d in stack.sandbox.state.tables[Entity.DEAL].live()
        if (d.data.get("value") or 0) > 10000 and d.data.get("stage_id") in proposal
    ]  # fmt: skip
    assert deals, "the sandbox has deals worth more than 10,000 at Proposal"
    await page.clock.install()
    await sign_in(page, tenant.admin)
    await page.get_by_role("link", name="Import").click()

    await page.get_by_role("radio", name=re.compile("^Deals")).check()
    await page.get_by_label("Only records that match a filter").check()
    await page.get_by_role("button", name='Value > 10000 AND Stage = "Proposal"').click()
    await expect(page.get_by_label("Filter expression")).to_have_value('Value > 10000 AND Stage = "Proposal"')
    await expect(page.locator("#filter-check")).to_contain_text("The filter reads well")
    await page.get_by_role("button", name="Preview").click()

    await expect(page.locator("tr[data-object=deal] td[data-label=Selected]")).to_have_text(str(len(deals)))
    await capture(page, "import-deals-preview")
    await page.get_by_role("button", name="Start import").click()

    progress = page.locator("#import-progress")
    await expect(progress).to_have_attribute("data-done", "no")  # the bar is live while the run works
    async with hurried_refreshes(page, 1):
        await expect(progress).to_have_attribute("data-done", "yes")
    bar = page.locator("#import-bar")
    assert await bar.get_attribute("value") == await bar.get_attribute("max")
    await expect(progress.get_by_text("Success").first).to_be_visible()
    await page.get_by_role("link", name="Open this run in the activity log").click()
    await expect(page.locator("#run-summary")).to_contain_text("Import")


async def test_a_preview_of_records_imported_already_finds_them_unchanged_and_says_why_others_are_skipped(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    """Previewing again what was imported already, skipping duplicates: the records imported are linked
    to their very organizations, no duplicates of themselves, so they are unchanged (each was once
    "skipped: Duplicate found"); each skipped record's reason is listed with its count (the page once read
    "Skipped because: organization")."""
    await stack.api(
        tenant, "connector", "POST", "/v1/connection/api-token", {"api_token": stack.sandbox.api_token}
    )
    labs = {
        "source": "organizations",
        "filter": 'Name CONTAINS "Labs"',
        "duplicate_handling": "skip_duplicates",
    }
    first = (await stack.api(tenant, "connector", "POST", "/v1/imports", labs))["run_id"]

    async def first_import() -> list[dict[str, Any]]:
        runs = (await stack.api(tenant, "auditlog", "GET", "/v1/runs?kind=import"))["data"]
        return [r for r in runs if r["run_id"] == first]

    await eventually(
        first_import, lambda runs: any(map(has_ended, runs)), within_s=180, what="the first import ends"
    )
    await sign_in(page, tenant.admin)
    await page.goto("/import")
    await page.get_by_label("Only records that match a filter").check()
    await page.get_by_label("Filter expression").fill('Name CONTAINS "Labs"')
    await page.get_by_label("Skip duplicates").check()
    await page.get_by_role("button", name="Preview").click()

    await expect(page.locator("[data-count=unchanged]")).not_to_have_text("0")
    skipped = page.locator("[data-count=skipped]")
    await expect(skipped).not_to_have_text("0")  # the seed's Labs include one without a usable website
    reasons = page.locator("#skip-reasons li")
    await expect(reasons.first).to_have_text(re.compile(r"^[\d,]+ organizations?: \S"))
    listed = [int(re.sub(r"\D", "", line.split(":")[0])) for line in await reasons.all_inner_texts()]
    assert sum(listed) == int((await skipped.inner_text()).replace(",", "")), listed

    # With "Update existing records" they are already up to date: every selected record is counted once
    # (the unchanged ones were once in no count: Selected 152, created 6 + updated 33 + skipped 0).
    await page.get_by_label("Update existing records").check()
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("[data-count=unchanged]")).not_to_have_text("0")
    counts = [
        int((await page.locator(f"[data-count={o}]").inner_text()).replace(",", ""))
        for o in ("created", "updated", "unchanged", "skipped")
    ]
    selected = int((await page.locator("[data-count=selected]").inner_text()).replace(",", ""))
    assert sum(counts) == selected, (counts, selected)


async def test_a_preview_before_pipedrive_is_connected_sends_the_admin_to_the_pipedrive_page(
    page: Page, tenant: Tenant
) -> None:
    """It once answered with the connector's words for API clients: "connect it first (POST
    /v1/connection/api-token or OAuth)"."""
    await sign_in(page, tenant.admin)
    await page.goto("/import")
    await page.get_by_role("button", name="Preview").click()

    await expect(page.locator("#preview")).to_contain_text(
        "Pipedrive is not connected: connect it on the Pipedrive page first."
    )
    await expect(page.locator("#preview")).not_to_contain_text("/v1/")
