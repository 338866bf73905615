"""What a person does in the console, as steps the browser tests share."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

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
