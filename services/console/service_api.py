"""Calls from the console to the services' HTTP APIs, on behalf of a signed-in user's tenant.

Every call carries the tenant's console API key (`Authorization: Bearer`) and the user's email as
`X-Psync-Actor` (tenant_auth records it as who acted). Answers come back as `ServiceAnswer`s for the page
to read; a service that cannot be reached raises `ServiceUnreachable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from console.service_key_store import ServiceKeys

ACTOR_HEADER = "X-Psync-Actor"
NOT_CONNECTED = "Pipedrive is not connected: connect it on the Pipedrive page first."


class ServiceUnreachable(Exception):
    """A service did not answer; the page says which one."""

    def __init__(self, service: str) -> None:
        super().__init__(f"The {service} service is not answering right now. Try again in a minute.")
        self.service = service


class ServiceFailed(Exception):
    """A service answered with an error the page did not expect."""

    def __init__(self, service: str, answer: ServiceAnswer) -> None:
        super().__init__(f"The {service} service answered {answer.status}: {answer.message}")
        self.service, self.answer = service, answer


@dataclass(frozen=True)
class ServiceAnswer:
    """A service's answer: status, JSON body (or None), and the `Location` of a redirect."""

    status: int
    body: Any
    location: str | None = None

    @property
    def ok(self) -> bool:
        """A 2xx or 3xx answer."""
        return self.status < 400

    @property
    def message(self) -> str:
        """The sentence of an error body (`message`), or the status alone. The connector's sentence for a
        tenant that never connected tells an API client which endpoint to call; a person is sent to the
        Pipedrive page instead."""
        if isinstance(self.body, dict) and isinstance(self.body.get("message"), str):
            text = str(self.body["message"])
            if self.body.get("error") == "not_connected" and "/v1/" in text:
                return NOT_CONNECTED
            return text
        return f"HTTP {self.status}"

    @property
    def problems(self) -> list[str]:
        """`field.path: what is wrong` lines of a 400 (empty otherwise)."""
        found = self.body.get("problems") if isinstance(self.body, dict) else None
        return [str(p) for p in found] if isinstance(found, list) else []


class ServiceApi:
    """The console's HTTP client of the services."""

    def __init__(
        self, session: aiohttp.ClientSession, urls: Mapping[str, str], keys: ServiceKeys, timeout_s: float
    ) -> None:
        self._session, self._urls, self._keys = session, dict(urls), keys
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        tenant: str,
        actor: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> ServiceAnswer:
        """One call; a 401 (the console key was revoked) replaces the key and repeats the call once."""
        key = await self._keys.key_for(tenant)
        answer = await self._send(service, method, path, key, actor, body, params)
        if answer.status == 401:
            key = await self._keys.replace(tenant, key)
            answer = await self._send(service, method, path, key, actor, body, params)
        return answer

    async def fetch_text(self, service: str, path: str, *, tenant: str, actor: str) -> tuple[int, bytes, str]:
        """A GET whose body is not JSON (a CSV export): status, bytes, content type."""
        key = await self._keys.key_for(tenant)
        headers = {"Authorization": f"Bearer {key}", ACTOR_HEADER: actor}
        try:
            async with self._session.get(
                self._urls[service] + path, headers=headers, timeout=self._timeout
            ) as response:
                return response.status, await response.read(), response.content_type
        except (aiohttp.ClientError, TimeoutError) as failure:
            raise ServiceUnreachable(service) from failure

    async def relay(
        self,
        service: str,
        method: str,
        path_qs: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> ServiceAnswer:
        """A call to one of the service's keyless endpoints, passed on as it came (no tenant key, no
        actor): Pipedrive's OAuth redirect and app-uninstall call reaching the console's redirect URI."""
        try:
            async with self._session.request(
                method,
                self._urls[service] + path_qs,
                data=data,
                headers=dict(headers or {}),
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                return ServiceAnswer(response.status, _json_or_none(raw), response.headers.get("Location"))
        except (aiohttp.ClientError, TimeoutError) as failure:
            raise ServiceUnreachable(service) from failure

    async def _send(
        self,
        service: str,
        method: str,
        path: str,
        key: str,
        actor: str,
        body: Any,
        params: Mapping[str, str] | None,
    ) -> ServiceAnswer:
        headers = {"Authorization": f"Bearer {key}", ACTOR_HEADER: actor}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = orjson.dumps(body)
        try:
            async with self._session.request(
                method,
                self._urls[service] + path,
                data=data,
                params=params,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                return ServiceAnswer(response.status, _json_or_none(raw), response.headers.get("Location"))
        except (aiohttp.ClientError, TimeoutError) as failure:
            raise ServiceUnreachable(service) from failure


def _json_or_none(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None


@dataclass(frozen=True)
class TenantApi:
    """`ServiceApi` bound to one signed-in user: their tenant and their email as the actor."""

    api: ServiceApi
    tenant: str
    actor: str

    async def get(self, service: str, path: str, params: Mapping[str, str] | None = None) -> ServiceAnswer:
        """GET, any answer."""
        return await self.api.call(service, "GET", path, tenant=self.tenant, actor=self.actor, params=params)

    async def send(self, service: str, method: str, path: str, body: Any = None) -> ServiceAnswer:
        """POST, PUT, PATCH or DELETE with a JSON body; any answer."""
        return await self.api.call(service, method, path, tenant=self.tenant, actor=self.actor, body=body)

    async def get_ok(self, service: str, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET whose answer must be 2xx: its JSON body (`ServiceFailed` otherwise)."""
        answer = await self.get(service, path, params)
        if not answer.ok:
            raise ServiceFailed(service, answer)
        return answer.body
