"""OAuth in a browser, through public surfaces only: the console starts the flow with its key and gets the
consent page's address; a plain HTTP client without any key follows the redirects from Pipedrive's consent
page to the connector's callback and back to the console; Pipedrive's app-uninstall call disconnects and
wipes the credentials; a refused refresh marks the connection as needing reconnection."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web

from schemas.topics import SETTINGS
from tests.integration.connector.conftest import ConnectorHarness

pytestmark = pytest.mark.integration

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


@dataclass
class Landing:
    """Where the browser ended: the final URL, its status and body."""

    url: str
    status: int
    body: str

    def query(self) -> dict[str, str]:
        """The final URL's query parameters."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}


class Console:
    """A stand-in for the console at an allowed return address: it records the browser's return."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.returns: list[dict[str, str]] = []

    async def settings_page(self, request: web.Request) -> web.Response:
        self.returns.append(dict(request.query))
        return web.Response(text="console settings page")


@pytest.fixture
async def console(harness: ConnectorHarness) -> AsyncIterator[Console]:
    """The console's return address served on the allow-listed origin."""
    page = Console(harness.return_origin)
    app = web.Application()
    app.router.add_get("/settings/connection", page.settings_page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = urlsplit(harness.return_origin).port
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield page
    await runner.cleanup()


async def _start(harness: ConnectorHarness, **body: str) -> aiohttp.ClientResponse:
    headers = {**harness.headers, "X-Psync-Actor": "ann@acme.test"}
    return await harness.api.post("/v1/connection/oauth/start", json=body, headers=headers)


async def _authorize_url(harness: ConnectorHarness, **body: str) -> str:
    started = await _start(harness, **body)
    assert started.status == 201, await started.text()
    url: str = (await started.json())["authorize_url"]
    return url


async def _browse(authorize_url: str, decision: str = "approve") -> Landing:
    """A browser with no key: open the consent page, submit the decision, follow every redirect."""
    async with aiohttp.ClientSession() as browser:
        async with browser.get(authorize_url) as page:
            assert page.status == 200 and page.content_type == "text/html"
            form = {name: unescape(value) for name, value in _HIDDEN.findall(await page.text())}
        action = f"{urlsplit(authorize_url).scheme}://{urlsplit(authorize_url).netloc}/oauth/authorize"
        async with browser.post(action, data={**form, "decision": decision}) as landed:
            assert all("Authorization" not in r.request_info.headers for r in landed.history)
            return Landing(str(landed.url), landed.status, await landed.text())


async def _status(harness: ConnectorHarness) -> dict[str, Any]:
    body: dict[str, Any] = await (await harness.api.get("/v1/connection", headers=harness.headers)).json()
    return body


async def test_a_browser_without_a_key_connects_and_is_sent_back_to_the_console(
    harness: ConnectorHarness, console: Console
) -> None:
    url = await _authorize_url(harness, return_to=f"{console.origin}/settings/connection?tab=crm")

    landed = await _browse(url)

    assert (landed.status, landed.body) == (200, "console settings page")
    assert console.returns == [{"tab": "crm", "oauth": "connected"}]
    status = await _status(harness)
    assert (status["connected"], status["kind"], status["needs_reconnect"]) == (True, "oauth", False)
    assert status["company_id"] == harness.sandbox.handle.state.config.company_id
    assert (await harness.events(SETTINGS.name))[-1]["data"]["connected"] is True


async def test_without_a_return_address_the_callback_answers_json(harness: ConnectorHarness) -> None:
    url = await _authorize_url(harness)
    redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]

    landed = await _browse(url)

    assert redirect_uri == f"{harness.api.make_url('/v1/connection/oauth/callback')}"
    assert landed.url.startswith(redirect_uri) and landed.status == 200
    assert '"connected": true' in landed.body.replace('":true', '": true')


async def test_a_denied_consent_sends_the_browser_back_with_the_reason_and_connects_nothing(
    harness: ConnectorHarness, console: Console
) -> None:
    url = await _authorize_url(harness, return_to=f"{console.origin}/settings/connection")

    await _browse(url, decision="deny")

    assert console.returns == [{"oauth": "denied", "error": "oauth_denied"}]
    assert await _status(harness) == {"connected": False}


async def test_a_return_address_off_the_allow_list_is_refused(harness: ConnectorHarness) -> None:
    refused = await _start(harness, return_to="https://evil.example/steal")

    assert refused.status == 400
    body = await refused.json()
    assert body["problems"][0].startswith("return_to: must be an address on CONNECTOR_OAUTH_RETURN_URLS")


async def test_a_wrong_caller_cannot_burn_the_admins_state(
    harness: ConnectorHarness, console: Console
) -> None:
    url = await _authorize_url(harness, return_to=f"{console.origin}/settings/connection")
    other = await harness.new_tenant_headers(f"{harness.tenant}w")
    async with aiohttp.ClientSession() as browser:  # the consent, stopping before the callback
        async with browser.get(url) as page:
            form = {name: unescape(value) for name, value in _HIDDEN.findall(await page.text())}
        consent = f"{harness.sandbox.base_url}/oauth/authorize"
        async with browser.post(consent, data={**form, "decision": "approve"}, allow_redirects=False) as to:
            callback = to.headers["Location"]
        query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}

        stolen = await harness.api.get("/v1/connection/oauth/callback", params=query, headers=other)
        async with browser.get(callback) as landed:
            assert landed.status == 200

    assert stolen.status == 400 and (await stolen.json())["error"] == "oauth_failed"
    assert console.returns == [{"oauth": "connected"}]
    assert (await _status(harness))["connected"] is True
    assert (await harness.api.get("/v1/connection", headers=other)).status == 200
    assert await (await harness.api.get("/v1/connection", headers=other)).json() == {"connected": False}


async def test_uninstalling_the_app_in_pipedrive_disconnects_and_wipes_the_credentials(
    harness: ConnectorHarness, console: Console
) -> None:
    await _browse(await _authorize_url(harness, return_to=f"{console.origin}/settings/connection"))
    assert (await _status(harness))["connected"] is True

    async with (
        aiohttp.ClientSession() as admin,
        admin.post(f"{harness.sandbox.base_url}/_sandbox/oauth/uninstall", json={}) as uninstall,
    ):
        call = await uninstall.json()

    assert call["status"] == 200 and call["callback_url"].endswith("/v1/connection/oauth/callback")
    assert await _status(harness) == {"connected": False}
    deps = harness.connector
    rows = await deps.pool.fetchval(
        f"SELECT count(*) FROM {deps.settings.pipedrive.client_schema}.credentials WHERE tenant_id = $1",
        harness.tenant,
    )
    assert rows == 0
    assert (await harness.events(SETTINGS.name))[-1]["data"]["connected"] is False


async def test_an_uninstall_call_without_the_apps_credentials_is_refused(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    body = {"client_id": "x", "company_id": harness.sandbox.handle.state.config.company_id, "user_id": 1}

    forged = await harness.api.delete(
        "/v1/connection/oauth/callback",
        json=body,
        headers={"Authorization": aiohttp.encode_basic_auth("x", "guess")},
    )

    assert forged.status == 401 and (await forged.json())["error"] == "unauthorized"
    assert (await _status(harness))["connected"] is True


async def test_a_revoked_grant_marks_the_connection_as_needing_reconnection_until_reconnected(
    harness: ConnectorHarness, console: Console
) -> None:
    await _browse(await _authorize_url(harness, return_to=f"{console.origin}/settings/connection"))
    async with (  # uninstalled in Pipedrive, whose call never reaches us: the grant is simply gone
        aiohttp.ClientSession() as admin,
        admin.post(f"{harness.sandbox.base_url}/_sandbox/oauth/uninstall", json={"notify": False}) as gone,
    ):
        assert (await gone.json())["status"] == 0

    synced = await harness.api.post("/v1/sync", headers=harness.headers)
    assert synced.status == 202
    await harness.connector.scheduler.work_tenant(harness.tenant)
    status = await _status(harness)

    assert (status["connected"], status["needs_reconnect"]) == (True, True)
    assert "refresh token" in status["reconnect_reason"] and status["refused_at"]
    await _browse(await _authorize_url(harness, return_to=f"{console.origin}/settings/connection"))
    assert (await _status(harness))["needs_reconnect"] is False
