"""A run whose end reached the activity log before its last records' results: the console shows it
finishing (receiving its results, with the counts of the entries logged so far) in the list, under the
Finishing filter and on its page, a retry asked meanwhile says to wait, and the page, refreshing itself,
shows the final status and every record once the last result is in. The run is published on the topics
as the pusher publishes one (its own builders)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from stream_runner.messages import OutgoingMessage
from tests.browser.actions import hurried_refreshes, sign_in
from tests.browser.screens import capture
from tests.browser.stack import Stack, Tenant
from tests.support.conditions import eventually
from tests.support.push_runs import push_run_of_failures

pytestmark = pytest.mark.integration
WAIT_S = 180  # the auditlog reads every tenant's events of the shared Kafka


async def _publish(stack: Stack, *messages: OutgoingMessage) -> None:
    for m in messages:
        await stack.producer.send_and_wait(m.topic, m.value, key=m.key.encode())


async def test_a_run_still_receiving_its_results_shows_finishing_until_they_are_all_in(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    run = push_run_of_failures(tenant.tenant_id, 2)
    run_id = run.run_id
    await _publish(stack, run.started, run.results[0], run.finished)

    async def api(path: str) -> Any:
        return (await stack.api(tenant, "auditlog", "GET", path))["data"]

    await eventually(
        lambda: api("/v1/runs?kind=push"), lambda runs: [r["status"] != "running" for r in runs] == [True],
        within_s=WAIT_S, what="the run's end logged",
    )  # fmt: skip
    await eventually(
        lambda: api(f"/v1/runs/{run_id}/entries"), lambda e: len(e) == 1, within_s=WAIT_S,
        what="the first result logged",
    )  # fmt: skip
    await page.clock.install()
    await sign_in(page, tenant.admin)

    await page.goto("/activity")
    row = page.locator(f"tr[id='run-{run_id}']")
    await expect(row).to_have_attribute("data-status", "finishing")
    await expect(row.locator("td[data-label=Status]")).to_contain_text("Finishing")
    await expect(row.locator("td[data-label=Failed]")).to_have_text("1")
    await page.locator("#f-status").select_option(label="Finishing")
    await page.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(re.compile(r"status=finishing"))
    await expect(page.locator("tr[id^='run-']")).to_have_count(1)
    await expect(row).to_have_attribute("data-status", "finishing")

    await row.get_by_role("link").click()
    summary = page.locator("#run-summary")
    await expect(summary).to_have_attribute("data-status", "finishing")
    await expect(summary.locator(".badge")).to_have_text("Finishing")
    await expect(summary).to_contain_text("Receiving results: 1 record(s) still to come")
    await expect(summary).to_contain_text("1 failed")
    records = page.locator("#run-records tbody tr")
    await expect(records).to_have_count(1)
    await capture(page, "activity-run-finishing")
    await page.get_by_role("button", name="Retry failed records").click()
    await expect(page.get_by_role("status")).to_contain_text("not in the activity log yet")

    await _publish(stack, run.results[1])
    # The page refreshes its summary and its records while the run is finishing: the last result in, its
    # final status and both records, without a reload.
    async with hurried_refreshes(page, 2):
        await expect(summary).to_have_attribute("data-status", "Error")
        await expect(records).to_have_count(2)
    await expect(summary).not_to_have_attribute("hx-get", re.compile(".*"))  # the refresh stops
    await expect(summary.locator(".badge")).to_have_text("Error")
    await expect(summary).to_contain_text("2 failed")
    await expect(summary).not_to_contain_text("Receiving results")


async def test_the_retry_button_and_the_first_failure_appear_on_an_open_run_page_as_results_arrive(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    # The run's end is in the log before any of its records' results: the page opens on a finishing run
    # with nothing to retry yet.
    run = push_run_of_failures(tenant.tenant_id, 1)
    await _publish(stack, run.started, run.finished)
    listed = await eventually(
        lambda: stack.api(tenant, "auditlog", "GET", "/v1/runs?kind=push"),
        lambda answer: [r["status"] for r in answer["data"]] == ["finishing"], within_s=WAIT_S,
        what="the run's end logged",
    )  # fmt: skip
    [shown] = listed["data"]
    assert (shown["run_id"], shown["failed"], shown["results_pending"]) == (run.run_id, 0, 1), shown
    await page.clock.install()
    await sign_in(page, tenant.admin)
    await page.goto(f"/activity/runs/{run.run_id}")
    retry = page.get_by_role("button", name="Retry failed records")
    await expect(page.locator("#run-summary")).to_have_attribute("data-status", "finishing")
    await expect(page.locator("#run-records")).to_contain_text("No records")
    await expect(retry).to_have_count(0)

    await _publish(stack, run.results[0])
    # Without a reload: the failure's record, then the button to retry it.
    async with hurried_refreshes(page, 2):
        await expect(page.locator("#run-records tbody tr")).to_have_count(1)
        await expect(retry).to_be_visible()
    await expect(page.locator("#run-summary")).to_have_attribute("data-status", "Error")
