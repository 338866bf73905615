"""Fixtures: the parsed specs (once per session), a sandbox on a frozen clock, and a spec-checking client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
import yarl

from pipedrive_sandbox import Plan, SandboxConfig, SandboxHandle, run_sandbox
from tests.sandbox.spec_check import Specs
from tests.support import conditions

# 2026-08-20T12:00:00Z: a fixed start, so timestamps in assertions are predictable.
START = 1787227200.0
API_TOKEN = "a" * 40
_LEGACY = re.compile(r"^/v1/(organizations|persons|deals)(/\d+)?$")


@pytest.fixture(scope="session")
def specs() -> Specs:
    """Pipedrive's three OpenAPI specs, parsed once."""
    return Specs.load()


def sandbox_config(**overrides: Any) -> SandboxConfig:
    """A small, fast sandbox on a frozen clock (tests advance it)."""
    values: dict[str, Any] = {
        "plan": Plan.LITE,
        "organizations": 60,
        "seed": 7,
        "api_token": API_TOKEN,
        "frozen_clock": True,
        "start_time": START,
        "oauth_client_id": "demo-client",
        "oauth_client_secret": "demo-secret",
    }
    values.update(overrides)
    return SandboxConfig(**values)


@dataclass
class Reply:
    """A response: status, parsed JSON body (None when not JSON) and headers."""

    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class SandboxClient:
    """Calls the sandbox over HTTP and validates every API exchange against the published spec."""

    handle: SandboxHandle
    session: aiohttp.ClientSession
    specs: Specs
    token: str | None = API_TOKEN
    checked: list[str] = field(default_factory=list)

    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        check_request: bool = True,
    ) -> Reply:
        """Send one request; validate request and response when the path belongs to a Pipedrive spec."""
        sent_headers = dict(headers or {})
        if self.token is not None and "Authorization" not in sent_headers:
            sent_headers.setdefault("x-api-token", self.token)
        body = orjson.dumps(json) if json is not None else None
        if body is not None:
            sent_headers["Content-Type"] = "application/json"
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (params or {}).items()}
        url = self.handle.base_url + path
        async with self.session.request(
            method, url, params=query, data=body, headers=sent_headers
        ) as response:
            raw = await response.read()
            content_type = response.content_type
            reply = Reply(
                response.status,
                orjson.loads(raw) if content_type == "application/json" and raw else None,
                dict(response.headers),
            )
            full_url = str(response.url)
        spec = self._spec_of(method, path)
        if spec is not None:
            self.specs.check(
                spec, method, full_url, sent_headers, body, reply.status, raw, content_type, check_request
            )
            self.checked.append(f"{spec} {method} {path}")
        return reply

    async def get(self, path: str, **params: Any) -> Reply:
        """GET with query parameters."""
        return await self.call("GET", path, params=params)

    @staticmethod
    def _spec_of(method: str, path: str) -> str | None:
        if path.startswith("/api/v2/"):
            return "v2"
        if path.startswith("/v1/"):
            return "legacy" if method == "GET" and _LEGACY.match(path) else "v1"
        return None


SandboxFactory = Callable[..., Awaitable[SandboxClient]]


@pytest.fixture
async def make_sandbox(specs: Specs) -> AsyncIterator[SandboxFactory]:
    """Start sandboxes with config overrides; all are stopped at the end of the test."""
    stack: list[Any] = []
    session = aiohttp.ClientSession()

    async def start(**overrides: Any) -> SandboxClient:
        context = run_sandbox(sandbox_config(**overrides))
        handle = await context.__aenter__()
        stack.append(context)
        return SandboxClient(handle, session, specs)

    yield start
    for context in reversed(stack):
        await context.__aexit__(None, None, None)
    await session.close()


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> SandboxClient:
    """A Lite sandbox with 60 organizations, called with the demo API token."""
    return await make_sandbox()


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until `condition()` holds, failing after `within` real seconds: the support package's wait on
    a condition, for one read without awaiting (what the sandbox in this process has received)."""

    async def holds() -> bool:
        return condition()

    await conditions.eventually(holds, bool, within_s=within, what="the condition")


def basic_auth(client_id: str = "demo-client", secret: str = "demo-secret") -> dict[str, str]:
    """An Authorization header with the HTTP Basic credentials of the demo OAuth client."""
    return {"Authorization": aiohttp.encode_basic_auth(client_id, secret)}


async def authorize(client: SandboxClient, approve: bool = True, state: str = "xyz") -> dict[str, str]:
    """Walk the consent page: load it, approve or deny, and return the redirect's query parameters."""
    base = client.handle.base_url
    query = {"client_id": "demo-client", "redirect_uri": "https://app.example/callback", "state": state}
    async with client.session.get(f"{base}/oauth/authorize", params=query) as page:
        assert page.status == 200 and "Allow" in await page.text()
    form = {**query, "decision": "approve" if approve else "deny"}
    async with client.session.post(f"{base}/oauth/authorize", data=form, allow_redirects=False) as decision:
        assert decision.status == 302
        location = yarl.URL(decision.headers["Location"])
    assert str(location.with_query(None)) == "https://app.example/callback"
    return dict(location.query)


async def token_request(
    client: SandboxClient, form: dict[str, str], auth: dict[str, str] | None = None
) -> Reply:
    """POST /oauth/token, form-encoded with Basic client credentials."""
    url = f"{client.handle.base_url}/oauth/token"
    async with client.session.post(url, data=form, headers=auth or basic_auth()) as response:
        return Reply(response.status, await response.json(), dict(response.headers))


async def oauth_tokens(client: SandboxClient) -> dict[str, Any]:
    """Run the whole authorization-code flow and return the token response."""
    code = (await authorize(client))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app.example/callback"}
    reply = await token_request(client, form)
    assert reply.status == 200
    tokens: dict[str, Any] = reply.body
    return tokens
