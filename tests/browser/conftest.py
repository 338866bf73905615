"""Browser tests: a real headless Chromium (Debian's `chromium`, driven by Playwright) against the whole
stack. One browser and one stack serve the package; every test gets a fresh tenant and browser context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from argon2 import PasswordHasher
from playwright.async_api import Browser, Page, async_playwright, expect

from tenant_auth import passwords
from tests.browser.stack import BROWSER_SANDBOX, Stack, Tenant, running_stack
from tests.conftest import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALLED = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Pages answer in well under a second; a wait this long means something is broken, not slow.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="package", autouse=True)
def _cheapest_password_hashes() -> Iterator[None]:
    """The tests' console users get argon2id hashes of the smallest cost. A hash carries its parameters,
    so the console verifies their sign-ins as cheaply (about 2 ms of CPU instead of 220 ms per hash and
    per sign-in); the cost of a hash is no part of what these tests check (tests/integration/tenant_auth
    checks the product's own hashes)."""
    product = passwords._HASHER
    passwords._HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    passwords._HASHER = product


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for every browser test."""
    if not CHROMIUM_INSTALLED:
        reason = f"{CHROMIUM} missing: `make test` installs Debian's chromium (as root)"
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="package")
async def stack(
    pg_pool: asyncpg.Pool, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """The sandbox and every service, started once for the browser tests."""
    logs = tmp_path_factory.mktemp("stack")
    async with running_stack(pg_pool, kafka_bootstrap, BROWSER_SANDBOX, logs) as running:
        yield running


@pytest.fixture
async def tenant(stack: Stack) -> Tenant:
    """A fresh tenant with an admin and a viewer."""
    return await stack.new_tenant()


@pytest.fixture
async def page(browser: Browser, stack: Stack) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) at desktop width, on the console."""
    context = await browser.new_context(base_url=stack.console.url, viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    yield opened
    await context.close()
