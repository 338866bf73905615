"""Signing in and out, wrong passwords and their limit, sessions, CSRF, and viewers who change nothing."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tenant_auth.users import ConsoleUsers
from tests.browser.actions import at_path, sign_in
from tests.browser.screens import capture
from tests.browser.stack import ConsoleUser, Stack, Tenant

pytestmark = pytest.mark.integration


async def test_an_admin_signs_in_lands_on_the_pipedrive_card_and_signs_out(
    page: Page, tenant: Tenant
) -> None:
    await page.goto("/activity")
    await expect(page).to_have_url(at_path("/login"))
    await capture(page, "sign-in")

    await page.get_by_label("Email").fill(tenant.admin.email.upper())
    await page.get_by_label("Password").fill(tenant.admin.password)
    await page.get_by_role("button", name="Sign in").click()

    await expect(page).to_have_url(at_path("/activity"))
    await page.goto("/")
    await expect(page).to_have_url(at_path("/integrations/pipedrive"))
    await expect(page.get_by_role("heading", name="Pipedrive integration")).to_be_visible()
    await expect(page.get_by_text("Not connected")).to_be_visible()
    cookie = next(c for c in await page.context.cookies() if c["name"] == "psync_session")
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Lax")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(at_path("/login"))
    await page.goto("/integrations/pipedrive")
    await expect(page).to_have_url(at_path("/login"))


async def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_account(
    page: Page, tenant: Tenant
) -> None:
    for _ in range(5):
        await page.goto("/login")
        await page.get_by_label("Email").fill(tenant.admin.email)
        await page.get_by_label("Password").fill("not the password at all")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")

    await page.get_by_label("Password").fill(tenant.admin.password)
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins. Try again in")
    await expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


async def test_a_viewer_sees_the_card_but_a_change_gets_the_403_page(page: Page, tenant: Tenant) -> None:
    await sign_in(page, tenant.viewer)
    await expect(page.get_by_text("You are a viewer")).to_be_visible()
    connect = page.get_by_role("button", name="Connect with API token")
    await expect(connect).to_be_disabled()

    # The server refuses even when the browser is made to send the form.
    await page.get_by_label("API token").evaluate("e => { e.disabled = false; e.value = 'x'.repeat(40); }")
    await connect.evaluate("e => e.disabled = false")
    await connect.click()

    await expect(page.get_by_role("heading", name="Viewers can't change anything")).to_be_visible()
    await capture(page, "viewer-refused")


async def test_a_form_without_the_session_csrf_token_is_refused(page: Page, tenant: Tenant) -> None:
    await sign_in(page, tenant.admin)
    await page.locator("form[action='/integrations/pipedrive/api-token'] input[name=csrf_token]").evaluate(
        "e => e.value = 'forged'"
    )
    await page.get_by_label("API token").fill("0" * 40)
    await page.get_by_role("button", name="Connect with API token").click()

    await expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()


async def test_a_removed_user_is_signed_out_at_their_next_page(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    await sign_in(page, tenant.viewer)
    await ConsoleUsers(stack.pool).remove(tenant.tenant_id, tenant.viewer.email)
    await page.reload()

    await expect(page).to_have_url(at_path("/login"))


async def _session_unused_for_31_minutes(stack: Stack, user: ConsoleUser) -> None:
    aged = await stack.pool.execute(
        f"UPDATE itest_console_b{stack.uid}.sessions"
        " SET last_seen_at = now() - interval '31 minutes' WHERE email = $1",
        user.email,
    )
    assert aged == "UPDATE 1", aged


async def _told_and_signed_in_back_to(page: Page, user: ConsoleUser, told: str, path: str) -> None:
    """On the sign-in page, which says `told`: sign in, and land back on `path`."""
    await expect(page).to_have_url(at_path("/login"))
    await expect(page.get_by_role("status")).to_have_text(told)
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(at_path(path))


async def test_a_session_that_ended_says_so_and_sign_in_returns_to_the_page(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    """Saving after the session ended: the sign-in page says the change was not made, and signing in
    returns to the page it was sent from (it once showed the bare sign-in form, then the Pipedrive page).
    The same for a part of a page htmx asks for (the import filter's check as typed)."""
    await sign_in(page, tenant.admin)
    await page.goto("/settings/schedule")
    threshold = page.get_by_label("Push a score change from this many points")
    before = await threshold.input_value()
    await threshold.fill("25")
    await _session_unused_for_31_minutes(stack, tenant.admin)
    await page.get_by_role("button", name="Save settings").click()

    await _told_and_signed_in_back_to(
        page,
        tenant.admin,
        "Your session ended before that was saved, so nothing was changed. Sign in again and repeat it.",
        "/settings/schedule",
    )
    await expect(threshold).to_have_value(before)

    await page.goto("/import")
    await page.get_by_label("Only records that match a filter").check()
    await _session_unused_for_31_minutes(stack, tenant.admin)
    await page.get_by_label("Filter expression").fill('Name = "x"')
    await _told_and_signed_in_back_to(
        page, tenant.admin, "Your session has ended. Sign in again to carry on.", "/import"
    )


async def test_a_viewer_finds_every_action_of_the_connected_card_disabled(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    """Sync now and webhooks were disabled for a viewer, but Disconnect was a live link to a confirmation
    page whose button was disabled."""
    await stack.api(
        tenant, "connector", "POST", "/v1/connection/api-token", {"api_token": stack.sandbox.api_token}
    )
    await sign_in(page, tenant.viewer)

    for name in ("Sync now", "Turn webhooks on", "Disconnect"):
        await expect(page.get_by_role("button", name=name)).to_be_disabled()
    await expect(page.get_by_role("link", name="Disconnect")).to_have_count(0)
