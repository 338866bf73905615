"""Alerts in the console: an admin saves the alert settings (a refused value is shown and nothing saved),
a run of the tenant ends in Error, the banner shows it on every page and the webhook receives it once;
dismissed, it leaves the banner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus
from schemas.topics import SYNC_RUNS
from tests.browser.actions import sign_in
from tests.browser.screens import capture
from tests.browser.stack import Stack, Tenant
from tests.integration.alert_receiver import Receiver, serve_receiver
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    async with serve_receiver() as served:
        yield served


async def _run_fails(stack: Stack, tenant: Tenant) -> None:
    now = datetime.now(UTC)
    run = RunFinished(  # as the pusher ends a push Pipedrive refused: no message, the record failed
        run_id="run-alert-1", service="pusher", kind=RunKind.PUSH, direction=Direction.TO_PIPEDRIVE,
        objects=(SyncObject.ORGANIZATION,), started_at=now - timedelta(seconds=3), finished_at=now,
        counts=RunCounts(failed=1), status=RunStatus.ERROR,
    )  # fmt: skip
    key = f"{tenant.tenant_id}:{run.run_id}"
    event = build_event(
        run, tenant=tenant.tenant_id, subject=key, source="/psync/pusher", id_parts=(run.run_id,), time=now
    )
    await stack.producer.send_and_wait(SYNC_RUNS.name, encode_event(event), key=key.encode())


async def test_an_error_run_shows_in_the_banner_reaches_the_webhook_and_is_dismissed(
    page: Page, tenant: Tenant, stack: Stack, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    await sign_in(page, tenant.admin)
    await page.get_by_role("link", name="Alerts", exact=True).click()
    await page.get_by_label("Alert when this many records fail").fill("0")
    await page.get_by_role("button", name="Save alert settings").click()
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was saved.")
    await expect(page.get_by_role("alert")).to_contain_text(
        "Alert when this many records fail: Enter a number of at least 1."
    )
    # On a narrow screen each label sits above its input.
    await page.set_viewport_size({"width": 390, "height": 800})
    for name in ("webhook_url", "failure_threshold", "window_minutes"):
        label = await page.locator(f"label[for={name}]").bounding_box()
        box = await page.locator(f"#{name}").bounding_box()
        assert label is not None and box is not None
        assert label["y"] + label["height"] <= box["y"], (name, label, box)
    await page.set_viewport_size({"width": 1280, "height": 900})
    await capture(page, "alerts-invalid")
    await page.get_by_label("Webhook URL").fill(url)
    await page.get_by_label("Alert when this many records fail").fill("5")
    await page.get_by_label("within this many minutes").fill("10")
    await page.get_by_role("button", name="Save alert settings").click()
    await expect(page.get_by_role("status")).to_have_text("Alert settings saved.")

    await _run_fails(stack, tenant)
    banner = page.get_by_role("region", name="Alerts")

    async def banner_shown() -> int:
        await page.goto("/activity")
        return await banner.count()

    await eventually(banner_shown, lambda shown: shown == 1, within_s=60, what="the alert banner")
    await expect(banner).to_contain_text("A push failed")  # once "A sync run failed", whatever the run
    await expect(banner).to_contain_text("push run run-alert-1 ended in Error: its only record failed.")
    await capture(page, "alerts-banner")
    [delivered] = await eventually(
        lambda: asyncio.sleep(0, hook.of(tenant.tenant_id)),
        lambda got: len(got) == 1,
        within_s=30,
        what="hook",
    )
    assert "run-alert-1" in delivered["text"]

    await banner.get_by_role("link", name="Open the run").click()
    await expect(page).to_have_url(f"{stack.console.url}/activity/runs/run-alert-1")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("run-alert-1")
    await page.goto("/activity")

    await banner.get_by_role("button", name="Dismiss").click()
    await expect(page.get_by_role("status")).to_have_text("Alert dismissed.")
    await expect(page).to_have_url(f"{stack.console.url}/activity")
    await expect(banner).to_have_count(0)


async def test_the_alerts_page_says_every_cause_of_an_alert(page: Page, tenant: Tenant) -> None:
    """README's Alerts: run_error, credentials, budget, dead_letters and failures each raise an alert. The
    page's intro once left the spent daily budget out."""
    await sign_in(page, tenant.admin)
    await page.get_by_role("link", name="Alerts", exact=True).click()

    causes = page.locator("#alert-causes li")
    await expect(causes).to_have_count(5)
    await expect(causes.nth(0)).to_contain_text("ends in Error")
    await expect(causes.nth(1)).to_contain_text("Pipedrive refuses the connection's API token")
    await expect(causes.nth(2)).to_contain_text("the day's Pipedrive API budget is spent")
    await expect(causes.nth(3)).to_contain_text("could not process (dead-lettered)")
    await expect(causes.nth(4)).to_contain_text("records set below fail within the minutes set below")
