"""OAuth from outside, where the Pipedrive app's redirect URI is the console's (as `make up` and the
browser stack register it): a connect started through the connector's API completes with a plain HTTP
client that follows redirects and sends no key, and Pipedrive's app-uninstall call, which Pipedrive sends
to that same URL, disconnects. Driven only through the connector's API and the sandbox's pages and API."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import pytest

from tests.browser.stack import Stack, Tenant

pytestmark = pytest.mark.integration


async def _approve_as_a_browser(authorize_url: str) -> tuple[str, str]:
    """A browser without any key or session: opens the consent page, allows, follows every redirect;
    where it ends and what it reads there."""
    async with aiohttp.ClientSession() as browser:
        async with browser.get(authorize_url) as consent:
            page = await consent.text()
            form_url = f"{consent.url.origin()}/oauth/authorize"  # the form's action
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
        async with browser.post(form_url, data={**fields, "decision": "approve"}) as done:
            return f"{done.status} {done.url}", await done.text()


async def _connect_by_oauth(stack: Stack, tenant: Tenant) -> dict[str, Any]:
    started = await stack.api(tenant, "connector", "POST", "/v1/connection/oauth/start", {})
    ended_at, page = await _approve_as_a_browser(started["authorize_url"])
    assert page.startswith("{"), f"the browser ended at {ended_at}: {page[:300]}"
    answer: dict[str, Any] = json.loads(page)
    return answer


async def test_a_connect_started_through_the_api_completes_in_a_plain_browser(stack: Stack) -> None:
    tenant = await stack.new_tenant()

    answer = await _connect_by_oauth(stack, tenant)

    assert answer["connected"] is True
    connection = await stack.api(tenant, "connector", "GET", "/v1/connection")
    assert (connection["connected"], connection["kind"]) == (True, "oauth")


async def test_pipedrive_uninstalling_the_app_at_the_redirect_uri_disconnects(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    await _connect_by_oauth(stack, tenant)

    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stack.sandbox.base_url}/_sandbox/oauth/uninstall", json={}) as uninstalled,
    ):
        call = await uninstalled.json()

    assert call["callback_url"] == f"{stack.console.url}/pipedrive/callback"
    assert call["status"] == 200
    connection = await stack.api(tenant, "connector", "GET", "/v1/connection")
    assert connection["connected"] is False
