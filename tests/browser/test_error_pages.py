"""Addresses nobody reaches by clicking, typed or tampered in the address bar by a signed-in admin: a list
position (cursor) the activity log never handed out is the console's 400 page naming the field,
a run that does not exist its 404 page, a search longer
than the service takes the 400 page naming the field; none is the 502 "Something went wrong" page, and
each leads back to the console."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.actions import sign_in
from tests.browser.screens import capture
from tests.browser.stack import Stack, Tenant

pytestmark = pytest.mark.integration


async def test_a_tampered_address_is_a_page_that_says_what_is_wrong(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    await sign_in(page, tenant.admin)

    answer = await page.goto("/activity?cursor=not-a-cursor")
    assert answer is not None and answer.status == 400
    await expect(page.get_by_role("heading", name="That filter can't be used")).to_be_visible()
    await expect(page.locator("#error-title + p")).to_contain_text("cursor: Not a cursor this API returned.")
    await capture(page, "error-tampered-cursor")

    answer = await page.goto("/activity/runs/no-such-run")
    assert answer is not None and answer.status == 404
    await expect(page.get_by_role("heading", name="No such run")).to_be_visible()
    await expect(page.locator("#error-title + p")).to_contain_text("no run with this id for your team")

    answer = await page.goto("/audiences/accounts?q=" + "x" * 1000)
    assert answer is not None and answer.status == 400
    await expect(page.get_by_role("heading", name="That search can't be used")).to_be_visible()
    await expect(page.locator("#error-title + p")).to_have_text("Search: Use at most 200 characters.")
    await capture(page, "error-refused-input")
    await page.get_by_role("link", name="Back to the console").click()
    await expect(page.get_by_role("heading", name="Pipedrive integration")).to_be_visible()


async def test_numbers_no_setting_takes_and_filters_nested_too_deep_are_refused_in_words(
    page: Page, tenant: Tenant
) -> None:
    """A number of more digits than 64 bits hold, a superscript digit, a tampered row count, 400 "(" in the
    import filter: each gets the form's own words, none the "Something went wrong" page (each was a 500,
    or for the row count a console busy counting to it)."""
    huge = "9" * 20
    await sign_in(page, tenant.admin)

    await page.goto("/settings/schedule")
    await page.get_by_label("Push a score change from this many points").fill(huge)
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#error-auto_push\\.score_threshold")).to_have_text(
        "Enter a whole number of points from 1 to 100."
    )

    await page.goto("/alerts")
    await page.get_by_label("Alert when this many records fail").fill("²")
    await page.get_by_label("within this many minutes").fill(huge)
    await page.get_by_role("button", name="Save alert settings").click()
    problems = page.get_by_role("alert")
    await expect(problems).to_contain_text("Alert when this many records fail: Enter a whole number.")
    await expect(problems).to_contain_text("Within this many minutes: Enter a number no greater than 1440.")

    answer = await page.goto("/push?min_score=%C2%B2&revealed_days=" + huge)
    assert answer is not None and answer.status == 200
    await expect(page.get_by_role("heading", name="Push to Pipedrive")).to_be_visible()

    await page.goto("/settings/organization")
    await page.locator("input[name=rows]").evaluate("field => { field.value = '99999999999999' }")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_contain_text("Settings saved")

    await page.goto("/import")
    await page.get_by_label("Only records that match a filter").check()
    await page.get_by_label("Filter expression").fill("(" * 400)
    await expect(page.locator("#filter-check .field-error")).to_have_text(
        "Column 51: at most 50 parentheses and NOTs inside each other"
    )
