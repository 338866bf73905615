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
