"""A run whose end reached the activity log before its last records' results: the console shows it
finishing (receiving its results, with the counts of the entries logged so far) in the list and on its
page, a retry asked meanwhile says to wait, and the page, refreshing itself, shows the final status once
the last result is in. The run is published on the topics as the pusher publishes one (its own builders)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import Page, expect

from pusher.results import result_message, run_finished_message, run_started_message
from schemas.codec import decode_event
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.push import PushCompleted
from schemas.events.sync_runs import RunCounts, RunKind
from schemas.topics import SYNC_RUNS
from stream_runner.messages import OutgoingMessage
from tests.browser.actions import hurried_refreshes, sign_in
from tests.browser.screens import capture
from tests.browser.stack import Stack, Tenant
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration
WAIT_S = 180  # the auditlog reads every tenant's events of the shared Kafka


async def _publish(stack: Stack, *messages: OutgoingMessage) -> None:
    for m in messages:
        await stack.producer.send_and_wait(m.topic, m.value, key=m.key.encode())


async def test_a_run_still_receiving_its_results_shows_finishing_until_they_are_all_in(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    run_id = f"push-early-{uuid.uuid4().hex[:8]}"
    objects, now = (SyncObject.ORGANIZATION,), datetime.now(UTC)
    started = run_started_message(tenant.tenant_id, run_id, objects, now, RunKind.PUSH)
    finished = run_finished_message(tenant.tenant_id, run_id, objects, now, now, RunCounts(failed=2), 0)
    cause = decode_event(SYNC_RUNS.name, started.value)
    results = [
        result_message(
            cause,
            PushCompleted(
                object=SyncObject.ORGANIZATION, match_key=f"early-{n}.io", abm_id=f"acc-{n}",
                outcome=RecordOutcome.FAILED, message="Pipedrive refused the record", run_id=run_id,
            ),
            time=now,
        )
        for n in range(2)
    ]  # fmt: skip
    await _publish(stack, started, results[0], finished)

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

    await row.get_by_role("link").click()
    summary = page.locator("#run-summary")
    await expect(summary).to_have_attribute("data-status", "finishing")
    await expect(summary.locator(".badge")).to_have_text("Finishing")
    await expect(summary).to_contain_text("Receiving results: 1 record(s) still to come")
    await expect(summary).to_contain_text("1 failed")
    await capture(page, "activity-run-finishing")
    await page.get_by_role("button", name="Retry failed records").click()
    await expect(page.get_by_role("status")).to_contain_text("not in the activity log yet")

    await _publish(stack, results[1])
    # The page refreshes its summary while the run is finishing: the last result in, its final status.
    async with hurried_refreshes(page, 2):
        await expect(summary).to_have_attribute("data-status", "Error")
    await expect(summary.locator(".badge")).to_have_text("Error")
    await expect(summary).to_contain_text("2 failed")
    await expect(summary).not_to_contain_text("Receiving results")
