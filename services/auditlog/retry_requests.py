"""Retries asked of the services that work them (connector, pusher), over their HTTP APIs.

The call carries the caller's own API key and actor (as the pusher reads the mapper's API, and the
connector asks the mapper's dry run): the service scopes the retry to the caller's tenant and records who
asked, and the auditlog holds no service credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from auditlog.retry_rules import Refusal, RetryUndeliverable, RetryWork

TIMEOUT = aiohttp.ClientTimeout(total=30)


class RetryRequests:
    """Sends a retry to its service; the services' base URLs by name."""

    def __init__(self, session: aiohttp.ClientSession, urls: Mapping[str, str]) -> None:
        self._session = session
        self._urls = {name: url.rstrip("/") for name, url in urls.items()}

    async def send(self, work: RetryWork, authorization: str, actor: str | None) -> Refusal | None:
        """Ask the service to retry; None when it accepted, its refusal when it answered a 4xx."""
        headers = {"Authorization": authorization, **({"X-Psync-Actor": actor} if actor else {})}
        url = f"{self._urls[work.service]}{work.path}"
        try:
            async with self._session.post(url, json=work.body, headers=headers, timeout=TIMEOUT) as answer:
                body: Any = await answer.json(content_type=None)
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as failure:
            raise RetryUndeliverable(work.service, type(failure).__name__) from failure
        if status < 300:
            return None
        if 400 <= status < 500 and isinstance(body, dict):
            return Refusal(status, str(body.get("error", "refused")), str(body.get("message", "")))
        raise RetryUndeliverable(work.service, f"HTTP {status}")
