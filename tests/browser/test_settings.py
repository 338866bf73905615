"""Sync settings: directions and a field set to Fill, then Overwrite, with auto-push on; the pusher
respects each in the sandbox. Invalid input is shown next to its field and nothing is saved."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from pipedrive_sandbox.store import Entity
from tests.browser.actions import sign_in
from tests.browser.screens import capture
from tests.browser.stack import Stack, Tenant
from tests.integration.conditions import eventually

pytestmark = pytest.mark.integration
WAIT_S = 180  # the pusher reads every tenant's changes: on a busy shared Kafka it can lag


async def _name_into_pipedrive(page: Page, mode: str) -> None:
    await page.get_by_role("link", name="Sync settings").click()
    await page.get_by_role("combobox", name="Name into Pipedrive", exact=True).select_option(label=mode)
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Settings saved. They apply to the next sync and push."
    )


async def _pusher_mode(stack: Stack, tenant: Tenant) -> str:
    mapping = await stack.api(tenant, "pusher", "GET", "/v1/push/mapping?object=organization")
    return str(next(f["mode"] for f in mapping["fields"] if f["abm_field"] == "name"))


def _name(stack: Stack, organization_id: int) -> Any:
    record = stack.sandbox.state.tables[Entity.ORGANIZATION].get(organization_id)
    assert record is not None
    return record.data["name"]


async def _pushed_entries(stack: Stack, tenant: Tenant, domain: str) -> list[dict[str, Any]]:
    runs = (await stack.api(tenant, "auditlog", "GET", "/v1/runs?kind=auto_push"))["data"]
    found = []
    for run in runs:
        entries = (await stack.api(tenant, "auditlog", "GET", f"/v1/runs/{run['run_id']}/entries"))["data"]
        found += [e for e in entries if e["match_key"] == domain]
    return found


async def test_a_field_set_to_fill_then_overwrite_is_respected_by_auto_push(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    await stack.api(
        tenant, "connector", "POST", "/v1/connection/api-token", {"api_token": stack.sandbox.api_token}
    )
    organization = next(
        o for o in stack.sandbox.state.tables[Entity.ORGANIZATION].live() if o.data.get("website")
    )
    domain, original = (
        str(organization.data["website"]).split("//")[-1].removeprefix("www.").strip("/"),
        organization.data["name"],
    )
    await sign_in(page, tenant.admin)
    await page.get_by_role("link", name="Sync settings").click()
    for switch in ("Create new records", "Update existing records"):
        for box in await page.get_by_label(switch).all():
            await box.check()
    await page.get_by_role("combobox", name="Name into Pipedrive", exact=True).select_option(label="Fill")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#direction-summary")).to_have_text("Sync both ways")
    await capture(page, "settings-organizations")
    await page.get_by_role("link", name="Schedule & auto-push").click()
    await page.get_by_label("Push automatically", exact=False).check()
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_contain_text("Settings saved")
    await capture(page, "settings-schedule")
    await page.get_by_role("link", name="Pipedrive").first.click()
    await page.get_by_role("button", name="Sync now").click()

    accounts = await eventually(
        lambda: stack.api(tenant, "mapper", "GET", "/v1/accounts?limit=500"),
        lambda found: any(a["pipedrive"] for a in found["data"]),
        within_s=WAIT_S,
        what="the sync linked accounts to organizations",
    )
    account = next(a for a in accounts["data"] if a["pipedrive"])
    domain, organization_id = account["match_key"], account["pipedrive"]["id"]
    original = _name(stack, organization_id)

    async def known_to_pusher() -> Any:
        body = {"object": "organization", "records": [{"match_key": domain, "fields": {"name": "x"}}]}
        return await stack.api(tenant, "pusher", "POST", "/v1/push/preview", body)

    await eventually(
        known_to_pusher,
        lambda p: p["records"][0].get("pipedrive_id") == organization_id,
        within_s=WAIT_S,
        what="the pusher knows the organization",
    )
    assert await _pusher_mode(stack, tenant) == "Fill"

    await stack.reveal(tenant, domain, "Renamed by a reveal")
    await eventually(
        lambda: _pushed_entries(stack, tenant, domain),
        lambda e: len(e) == 1,
        within_s=WAIT_S,
        what="auto-push handled the reveal",
    )
    assert _name(stack, organization_id) == original

    await _name_into_pipedrive(page, "Overwrite")
    await eventually(
        lambda: _pusher_mode(stack, tenant),
        lambda m: m == "Overwrite",
        within_s=WAIT_S,
        what="the pusher has Overwrite",
    )
    await stack.reveal(tenant, domain, "Renamed by a reveal")

    async def name_in_pipedrive() -> Any:
        return _name(stack, organization_id)

    await eventually(
        name_in_pipedrive,
        lambda n: n == "Renamed by a reveal",
        within_s=WAIT_S,
        what="Overwrite wrote the name",
    )


async def test_invalid_settings_are_shown_next_to_their_field_and_nothing_is_saved(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    before = await stack.api(tenant, "connector", "GET", "/v1/settings")
    await sign_in(page, tenant.admin)
    await page.goto("/settings/schedule")

    await page.get_by_label("Push a score change from this many points").fill("lots")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#error-auto_push\\.score_threshold")).to_have_text(
        "Enter a whole number of points from 1 to 100."
    )
    await page.get_by_label("Push a score change from this many points").fill("150")
    await page.get_by_role("button", name="Save settings").click()

    await expect(page.locator("#error-auto_push\\.score_threshold")).to_contain_text(
        "less than or equal to 100"
    )
    await expect(page.get_by_label("Push a score change from this many points")).to_have_attribute(
        "aria-invalid", "true"
    )
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    await capture(page, "settings-invalid")
    assert await stack.api(tenant, "connector", "GET", "/v1/settings") == before
