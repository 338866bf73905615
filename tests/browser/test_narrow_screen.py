"""The alert banner and a run's page on a phone (390 px): nothing wider than the screen, the banner's
Dismiss inside it and readable on the banner's background (it was white on pale red, and pushed past the
right edge by a run id, one long word)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Locator, Page, ViewportSize, expect

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus
from schemas.topics import SYNC_RUNS
from tests.browser.actions import sign_in
from tests.browser.stack import Stack, Tenant
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration
PHONE: ViewportSize = {"width": 390, "height": 844}


async def _push_fails(stack: Stack, tenant: Tenant, run_id: str) -> None:
    now = datetime.now(UTC)
    run = RunFinished(
        run_id=run_id, service="pusher", kind=RunKind.PUSH, direction=Direction.TO_PIPEDRIVE,
        objects=(SyncObject.ORGANIZATION,), started_at=now - timedelta(seconds=3), finished_at=now,
        counts=RunCounts(failed=1), status=RunStatus.ERROR,
    )  # fmt: skip
    key = f"{tenant.tenant_id}:{run_id}"
    event = build_event(
        run, tenant=tenant.tenant_id, subject=key, source="/psync/pusher", id_parts=(run_id,), time=now
    )
    await stack.producer.send_and_wait(SYNC_RUNS.name, encode_event(event), key=key.encode())


def _luminance(css_colour: str) -> float:
    red, green, blue = (int(part) / 255 for part in re.findall(r"\d+", css_colour)[:3])

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


async def _contrast(text: Locator, background: Locator) -> float:
    ink = await text.evaluate("element => getComputedStyle(element).color")
    paper = await background.evaluate("element => getComputedStyle(element).backgroundColor")
    lighter, darker = sorted((_luminance(ink), _luminance(paper)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


async def _nothing_wider_than_the_screen(page: Page) -> None:
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths


async def test_the_alert_banner_and_a_run_page_fit_a_phone_and_dismiss_is_readable(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    run_id = f"push-{uuid.uuid4().hex}"
    await _push_fails(stack, tenant, run_id)
    await page.set_viewport_size(PHONE)
    await sign_in(page, tenant.admin)
    banner = page.get_by_role("region", name="Alerts")

    async def banner_shown() -> int:
        await page.goto("/activity")
        return await banner.count()

    await eventually(banner_shown, lambda shown: shown == 1, within_s=60, what="the alert banner")
    await expect(banner).to_contain_text(run_id)
    dismiss = banner.get_by_role("button", name="Dismiss")
    await expect(dismiss).to_be_in_viewport(ratio=1)
    assert await _contrast(dismiss, banner) >= 4.5  # WCAG AA for its text
    await _nothing_wider_than_the_screen(page)

    await page.goto(f"/activity/runs/{run_id}")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(run_id)
    await _nothing_wider_than_the_screen(page)

    await dismiss.click()
    await expect(page.get_by_role("status")).to_have_text("Alert dismissed.")
    await expect(banner).to_have_count(0)
