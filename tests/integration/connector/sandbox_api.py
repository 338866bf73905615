"""The sandbox as an outside client sees it: its Pipedrive API (with the tenant's API token) and its admin
API (`/_sandbox/...`: ledger, clock)."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.pipedrive_client.sandbox_server import RecordingSandbox


class SandboxApi:
    """Plain HTTP calls to a running sandbox."""

    def __init__(self, sandbox: RecordingSandbox) -> None:
        self.base_url = sandbox.base_url
        self._token = sandbox.handle.api_token

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call to the Pipedrive API with the API token; the answer's JSON (asserting a 2xx)."""
        headers = {"x-api-token": self._token}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.base_url + path, headers=headers, **kwargs) as reply,
        ):
            body = await reply.json()
            assert reply.status < 300, body
            return body

    async def every(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a v2 list, following cursors (or a v1 list's one page)."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
            body = await self.call("GET", path, params=query)
            items.extend(body["data"])
            cursor = (body.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return items

    async def ledger_tokens(self) -> int:
        """Tokens the sandbox charged so far."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.base_url}/_sandbox/ledger?limit=0") as reply,
        ):
            body = await reply.json()
            return int(body["summary"]["tokens"])
