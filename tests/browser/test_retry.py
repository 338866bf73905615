"""Retrying a run's failed records from its page: an admin clicks "Retry failed records" and lands on the
new run, which says which run it retries; the first run lists it as "Retried by"."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from schemas.events.sync_runs import retry_run_id
from tests.browser.actions import at_path, sign_in
from tests.browser.screens import capture
from tests.browser.stack import Stack, Tenant
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration
WAIT_S = 180  # the mapper and the auditlog read every tenant's events of the shared Kafka


async def _until(stack: Stack, tenant: Tenant, service: str, path: str, done: Any) -> Any:
    async def found() -> Any:
        return (await stack.api(tenant, service, "GET", path))["data"]

    return await eventually(found, done, within_s=WAIT_S, what=path)


async def test_an_admin_retries_a_runs_failed_records_and_lands_on_the_linked_new_run(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    # Creating organizations in Pipedrive on, but never connected: the push of both revealed accounts
    # fails (no credentials).
    creates = {"directions": {"create_in_pipedrive": True}}
    wanted = await stack.api(
        tenant, "connector", "PUT", "/v1/settings", {"objects": {"organization": creates}}
    )
    held = f"SELECT version FROM itest_pusher_b{stack.uid}.tenant_settings WHERE tenant_id = $1"
    await eventually(
        lambda: stack.pool.fetchval(held, tenant.tenant_id), lambda v: v == wanted["version"],
        within_s=WAIT_S, what="the pusher holds the settings",
    )  # fmt: skip
    for domain in ("retry-one.io", "retry-two.io"):
        await stack.reveal(tenant, domain, domain.split(".")[0])
    accounts = await _until(stack, tenant, "mapper", "/v1/accounts", lambda a: len(a) == 2)
    selection = {"object": "organization", "records": [{"abm_id": a["abm_id"]} for a in accounts]}
    first = (await stack.api(tenant, "pusher", "POST", "/v1/push", selection))["run_id"]
    failed = [(first, "Error", 2)]
    await _until(
        stack, tenant, "auditlog", "/v1/runs?kind=push",
        lambda runs: [(r["run_id"], r["status"], r["failed"]) for r in runs] == failed,
    )  # fmt: skip
    await sign_in(page, tenant.admin)

    await page.goto(f"/activity/runs/{first}")
    await page.get_by_role("button", name="Retry failed records").click()

    retry = retry_run_id(first, 1)
    await expect(page).to_have_url(at_path(f"/activity/runs/{retry}"))
    await expect(page.get_by_role("status")).to_contain_text("being retried in this new run")
    summary = page.locator("#run-summary")
    await expect(summary.locator("dt", has_text="Retry of")).to_be_visible()
    await capture(page, "activity-retry")
    await summary.get_by_role("link", name=first).click()
    await expect(page).to_have_url(at_path(f"/activity/runs/{first}"))
    await expect(page.locator("#run-summary dt", has_text="Retried by")).to_be_visible()
    await expect(page.locator("#run-summary").get_by_role("link", name=retry)).to_be_visible()
