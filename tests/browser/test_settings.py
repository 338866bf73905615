"""Sync settings: directions and a field set to Fill, then Overwrite, with auto-push on; the pusher
respects each in the sandbox. Invalid input is shown next to its field and nothing is saved."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import Page, expect

from pipedrive_sandbox.store import Entity
from tests.browser.actions import sign_in
from tests.browser.screens import capture
from tests.browser.stack import Stack, Tenant
from tests.support.conditions import eventually

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
    domain = f"fill-{uuid.uuid4().hex[:8]}.io"
    await sign_in(page, tenant.admin)
    await page.get_by_role("link", name="Sync settings").click()
    await page.get_by_role("link", name="Schedule & auto-push").click()
    # The long choice's words sit beside its box, not on a line of their own below it.
    checkbox = await page.get_by_role("checkbox", name="Push automatically", exact=False).bounding_box()
    words = await page.locator("label.choice:has(input[name=auto_push_enabled]) > span").bounding_box()
    assert checkbox is not None and words is not None
    assert words["x"] > checkbox["x"] + checkbox["width"], (checkbox, words)
    assert words["y"] < checkbox["y"] + checkbox["height"], (checkbox, words)
    await page.get_by_label("Push automatically", exact=False).check()
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_contain_text("Settings saved")
    await capture(page, "settings-schedule")
    await page.get_by_role("link", name="Organizations → Accounts").click()
    for switch in ("Create new records", "Update existing records"):
        for box in await page.get_by_label(switch).all():
            await box.check()
    await page.get_by_role("combobox", name="Name into Pipedrive", exact=True).select_option(label="Fill")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#direction-summary")).to_have_text("Sync both ways")
    await capture(page, "settings-organizations")
    # The pusher has the settings saved last (and so auto-push, saved before) once it may create.
    await eventually(
        lambda: stack.api(tenant, "pusher", "GET", "/v1/push/mapping?object=organization"),
        lambda mapping: mapping["directions"]["create_in_pipedrive"] is True,
        within_s=WAIT_S,
        what="the pusher has the settings",
    )
    assert await _pusher_mode(stack, tenant) == "Fill"

    await stack.reveal(tenant, domain, "Named at the first reveal")  # auto-push creates the organization
    created = await eventually(
        lambda: _organization(stack, domain), lambda o: o is not None, within_s=WAIT_S, what="created"
    )
    await stack.reveal(tenant, domain, "Renamed by a reveal")
    await eventually(
        lambda: _pushed_entries(stack, tenant, domain),
        lambda e: len(e) == 2,
        within_s=WAIT_S,
        what="2 pushes",
    )
    assert _name(stack, created.id) == "Named at the first reveal"  # Fill: the name was there

    await _name_into_pipedrive(page, "Overwrite")
    await eventually(
        lambda: _pusher_mode(stack, tenant), lambda m: m == "Overwrite", within_s=WAIT_S, what="Overwrite"
    )
    await stack.reveal(tenant, domain, "Renamed by a reveal")

    async def name_in_pipedrive() -> Any:
        return _name(stack, created.id)

    await eventually(
        name_in_pipedrive,
        lambda n: n == "Renamed by a reveal",
        within_s=WAIT_S,
        what="Overwrite wrote the name",
    )


async def _organization(stack: Stack, domain: str) -> Any:
    return next(
        (
            o
            for o in stack.sandbox.state.tables[Entity.ORGANIZATION].live()
            if domain in str(o.data.get("website"))
        ),
        None,
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

    # The connector's refusal reads in the console's words, not pydantic's.
    await expect(page.locator("#error-auto_push\\.score_threshold")).to_have_text(
        "Enter a number no greater than 100."
    )
    await expect(page.get_by_label("Push a score change from this many points")).to_have_attribute(
        "aria-invalid", "true"
    )
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    # On a narrow screen the threshold's label sits above its input, the error below it, as other fields.
    await page.set_viewport_size({"width": 390, "height": 800})
    label = await page.locator("label[for=score_threshold]").bounding_box()
    box = await page.get_by_label("Push a score change from this many points").bounding_box()
    error = await page.locator("#error-auto_push\\.score_threshold").bounding_box()
    assert label is not None and box is not None and error is not None
    assert label["y"] + label["height"] <= box["y"], (label, box)
    assert box["y"] + box["height"] <= error["y"], (box, error)
    await capture(page, "settings-invalid")
    assert await stack.api(tenant, "connector", "GET", "/v1/settings") == before


async def test_a_refusal_of_the_whole_mapping_is_shown_above_the_form(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    """The connector refuses a mapping with one ABM field on two Pipedrive fields as a problem of the
    object, not of a field: the page says what it is (it once said "Fix what is marked below" with
    nothing marked)."""
    await stack.api(
        tenant, "connector", "POST", "/v1/connection/api-token", {"api_token": stack.sandbox.api_token}
    )
    before = await stack.api(tenant, "connector", "GET", "/v1/settings")
    await sign_in(page, tenant.admin)
    await page.goto("/settings/organization")

    await page.get_by_label("Visible to", exact=True).select_option(label="Name")
    await page.get_by_role("button", name="Save settings").click()

    banner = page.locator("#settings-errors")
    await expect(banner).to_contain_text("Nothing was saved")
    await expect(banner).to_have_text("Nothing was saved. ABM field(s) mapped twice: name.")
    assert await stack.api(tenant, "connector", "GET", "/v1/settings") == before


async def _mapped_fields(page: Page, tab: str) -> list[str]:
    """The Pipedrive field names of the tab's mapped rows, as the table shows them."""
    await page.goto(f"/settings/{tab}")
    rows = page.locator("table.mapping tbody tr")
    await expect(rows.first).to_be_visible()
    names: list[str] = await rows.evaluate_all(
        "rows => rows.filter(r => r.querySelector('select[name^=abm_field_]').value)"
        ".map(r => r.querySelector('td label').textContent.trim())"
    )
    return sorted(names)


async def test_mapped_fields_have_pipedrive_s_names_before_pipedrive_is_connected(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    """Not connected, the table has no catalog to name the fields by: it once showed their codes
    (`owner_id`, `add_time`); it shows the names the connected account's catalog gives them."""
    connected = await stack.new_tenant()
    await stack.api(
        connected, "connector", "POST", "/v1/connection/api-token", {"api_token": stack.sandbox.api_token}
    )
    tabs = ("organization", "person", "deal")
    await sign_in(page, connected.admin)
    named_by_the_catalog = {tab: await _mapped_fields(page, tab) for tab in tabs}
    await page.get_by_role("button", name="Sign out").click()

    await sign_in(page, tenant.admin)
    for tab in tabs:
        assert await _mapped_fields(page, tab) == named_by_the_catalog[tab], tab
    assert "Owner" in named_by_the_catalog["organization"]
    await page.goto("/settings/organization")
    await expect(page.locator("table.mapping")).not_to_contain_text("owner_id")


async def test_the_direction_heading_follows_the_switches_before_saving(page: Page, tenant: Tenant) -> None:
    """The "Direction: …" heading once changed only after saving."""
    await sign_in(page, tenant.admin)
    await page.goto("/settings/organization")
    summary = page.locator("#direction-summary")
    saved = await summary.text_content()
    switches = {
        name: page.locator(f"input[name={name}]")
        for name in ("create_in_pipedrive", "update_in_pipedrive", "create_in_abm", "update_in_abm")
    }
    for switch in switches.values():
        await switch.check()
    await expect(summary).to_have_text("Sync both ways")
    for switch in switches.values():
        await switch.uncheck()
    await expect(summary).to_have_text("Not syncing")
    await switches["update_in_abm"].check()
    await expect(summary).to_have_text("Sync into ABM")
    await switches["update_in_pipedrive"].check()
    await switches["update_in_abm"].uncheck()
    await expect(summary).to_have_text("Sync into Pipedrive")

    await page.reload()
    await expect(summary).to_have_text(saved or "")
