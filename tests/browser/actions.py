"""What a person does in the console, as steps the browser tests share."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

from playwright.async_api import Error, Page, expect

from tests.browser.stack import ConsoleUser


async def sign_in(page: Page, user: ConsoleUser) -> None:
    """Sign in through the form and land on the console."""
    await page.goto("/login")
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def at_path(path: str, origin: str = r"https?://[^/]+") -> re.Pattern[str]:
    """A URL pattern matching the path exactly (any query), on the console or the given origin."""
    return re.compile(rf"^{origin}{re.escape(path)}(\?.*)?$")


HURRY_EVERY_S = 0.2


@contextlib.asynccontextmanager
async def hurried_refreshes(page: Page, refresh_s: float) -> AsyncIterator[None]:
    """While the block runs, a page that refreshes itself every `refresh_s` seconds (htmx's `every` polls:
    the activity log's 2 s / 5 s, a progress bar's 1 s) does so about every 0.2 s: the page's clock is
    moved on by `refresh_s` every 0.2 s, so its own refresh timer fires then, not up to `refresh_s` later.
    The refreshes are the page's own (its timers, its requests, its swaps): only the wait between them is
    cut. The page's clock must have been installed (`page.clock.install()`) before the page loaded."""

    async def hurry() -> None:
        while True:
            await asyncio.sleep(HURRY_EVERY_S)
            with contextlib.suppress(Error):  # the page navigating meanwhile: the next turn moves it on
                await page.clock.fast_forward(int(refresh_s * 1000))

    hurrying = asyncio.create_task(hurry())
    try:
        yield
    finally:
        hurrying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hurrying
