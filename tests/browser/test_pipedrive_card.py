"""Integrations > Pipedrive: connect by API token (a wrong one shown next to its field), by OAuth through
the sandbox's consent page, disconnect with confirmation, webhooks on and off."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.actions import at_path, sign_in
from tests.browser.screens import capture
from tests.browser.stack import Stack, Tenant

pytestmark = pytest.mark.integration


async def test_an_admin_connects_with_an_api_token_then_disconnects(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    await sign_in(page, tenant.admin)
    await capture(page, "pipedrive-not-connected")
    await page.get_by_label("API token").fill("f" * 40)
    await page.get_by_role("button", name="Connect with API token").click()
    await expect(page.get_by_text("Pipedrive did not accept this API token")).to_be_visible()
    await expect(page.get_by_label("API token")).to_have_attribute("aria-invalid", "true")

    await page.get_by_label("API token").fill(stack.sandbox.api_token)
    await page.get_by_role("button", name="Connect with API token").click()

    await expect(page.get_by_role("status")).to_contain_text("Connected to Pipedrive")
    await expect(page.get_by_text("Connected", exact=True)).to_be_visible()
    await expect(page.get_by_text("an API token", exact=True)).to_be_visible()
    users = list(stack.sandbox.state.account.users.values())
    await expect(page.get_by_text(stack.sandbox.state.config.company_name, exact=True)).to_be_visible()
    await expect(page.get_by_text(f"{users[0].name} ({users[0].email})", exact=True)).to_be_visible()
    await expect(page.get_by_text("Lite, 1 seat", exact=True)).to_be_visible()
    budget = re.compile(r"^[\d,]+ of 15,000 tokens\s+\(50% share of 30,000\)$")
    await expect(page.locator("#budget-today")).to_have_text(budget)
    connection = await stack.api(tenant, "connector", "GET", "/v1/connection")
    assert connection == {**connection, "connected": True, "kind": "api_token"}
    await capture(page, "pipedrive-connected")
    assert stack.sandbox.api_token not in await page.content()

    await page.get_by_role("link", name="Disconnect").click()
    await expect(page.get_by_role("heading", name="Disconnect Pipedrive?")).to_be_visible()
    await capture(page, "pipedrive-disconnect")
    await page.get_by_role("button", name="Yes, disconnect").click()

    await expect(page).to_have_url(at_path("/integrations/pipedrive"))
    await expect(page.get_by_text("Not connected")).to_be_visible()
    assert (await stack.api(tenant, "connector", "GET", "/v1/connection"))["connected"] is False


async def test_a_token_no_pipedrive_token_can_be_is_refused_in_words_and_a_reload_resends_nothing(
    page: Page, tenant: Tenant
) -> None:
    """A pasted token with a space or line break inside, or too short or long to be a token, is refused
    before Pipedrive is asked, saying what is wrong (one with a space was 'Pipedrive refused the
    connection: api_token: Value error, ...'); a token that could be one is Pipedrive's to refuse. After
    a refusal the card is at its own address (it was /integrations/pipedrive/api-token, whose reload asked
    to send the form again), the problem next to the emptied field, and a reload sends nothing."""
    await sign_in(page, tenant.admin)
    field = page.get_by_label("API token")
    refusals = (
        (
            "f" * 20 + " " + "f" * 19,
            "An API token has no spaces, line breaks or characters outside plain ASCII",
        ),
        ("f" * 20 + "\t" + "f" * 20, "An API token has no spaces, line breaks"),
        ("fffff", "That is too short to be an API token"),
        ("f" * 300, "That is too long to be an API token"),
        ("f" * 40, "Pipedrive did not accept this API token"),
    )
    for typed, problem in refusals:
        await field.evaluate("(input, value) => { input.value = value }", typed)
        await page.get_by_role("button", name="Connect with API token").click()
        await expect(page).to_have_url(at_path("/integrations/pipedrive"))
        await expect(page.locator("#api_token_error")).to_contain_text(problem)
        await expect(field).to_have_attribute("aria-invalid", "true")
        await expect(field).to_have_value("")

    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.method))
    await page.reload()
    await expect(page.get_by_text("Not connected")).to_be_visible()
    assert sent and "POST" not in sent, sent
    await expect(page.locator("#api_token_error")).to_have_count(0)


async def test_an_admin_connects_with_oauth_on_the_sandbox_consent_page(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    await sign_in(page, tenant.admin)

    await page.get_by_role("button", name="Connect with Pipedrive (OAuth)").click()
    await expect(page).to_have_url(at_path("/oauth/authorize", re.escape(stack.sandbox.base_url)))
    await page.get_by_role("button", name="Allow and install").click()

    await expect(page).to_have_url(at_path("/integrations/pipedrive"))
    await expect(page.get_by_role("status")).to_have_text("Connected to Pipedrive with OAuth.")
    await expect(page.get_by_text("OAuth", exact=True)).to_be_visible()
    connection = await stack.api(tenant, "connector", "GET", "/v1/connection")
    assert (connection["connected"], connection["kind"]) == (True, "oauth")


async def test_an_oauth_answer_from_another_session_is_refused(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    await sign_in(page, tenant.admin)
    await page.get_by_role("button", name="Connect with Pipedrive (OAuth)").click()
    await page.get_by_role("button", name="Allow and install").wait_for()
    consent_url = page.url
    # Someone else's browser (another session of the same tenant) opens the same consent and approves.
    other = await page.context.browser.new_context(base_url=stack.console.url)  # type: ignore[union-attr]
    try:
        intruder = await other.new_page()
        await sign_in(intruder, tenant.admin)
        await intruder.goto(consent_url)
        await intruder.get_by_role("button", name="Allow and install").click()

        await expect(intruder.get_by_role("heading", name="This connect link is not yours")).to_be_visible()
        await intruder.goto("/integrations/pipedrive/oauth/done?flow=not-mine&oauth=connected")
        await expect(intruder.get_by_role("heading", name="This connect link is not yours")).to_be_visible()
    finally:
        await other.close()
    assert (await stack.api(tenant, "connector", "GET", "/v1/connection"))["connected"] is False


async def test_webhooks_are_turned_on_and_off_from_the_card(page: Page, tenant: Tenant, stack: Stack) -> None:
    await stack.api(
        tenant, "connector", "POST", "/v1/connection/api-token", {"api_token": stack.sandbox.api_token}
    )
    await sign_in(page, tenant.admin)

    await page.get_by_role("button", name="Turn webhooks on").click()
    await expect(page.get_by_text("On: changes arrive within seconds", exact=True)).to_be_visible()
    assert (await stack.api(tenant, "connector", "GET", "/v1/settings"))["webhooks_enabled"] is True

    await page.get_by_role("button", name="Turn webhooks off").click()
    await expect(page.get_by_text("Off: changes arrive with the schedule", exact=True)).to_be_visible()
    assert (await stack.api(tenant, "connector", "GET", "/v1/settings"))["webhooks_enabled"] is False
