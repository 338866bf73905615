"""Screenshots of console pages at both widths, shared by the browser tests and `make screenshots`.

They are written only when PSYNC_SCREENSHOTS_DIR is set (make screenshots sets it to docs/screenshots), so
an ordinary test run changes no file of the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page

WIDTHS = (1280, 390)


async def capture(page: Page, name: str) -> None:
    """`<name>-1280.png` and `<name>-390.png` of the whole page, when screenshots are wanted."""
    folder = _screenshots_folder()
    if folder is None:
        return
    original = page.viewport_size
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 800})
        await page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    if original is not None:
        await page.set_viewport_size(original)


def _screenshots_folder() -> Path | None:
    folder = os.environ.get("PSYNC_SCREENSHOTS_DIR")
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)
