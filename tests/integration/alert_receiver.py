"""A local alert webhook receiver, and a delivery policy fast enough for tests (shared by the auditlog's
alert tests and the console's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from auditlog.alert_delivery import DeliveryPolicy

FAST = DeliveryPolicy(
    poll_every_s=0.05,
    first_retry_s=0.05,
    most_retry_s=0.2,
    attempt_timeout_s=2.0,
    private_hosts=frozenset({"127.0.0.1"}),  # the local receiver
)


@dataclass
class Receiver:
    """A local webhook receiver: answers `failures` 503s first, then 200s, and keeps what it accepted."""

    failures: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.refused < self.failures:
            self.refused += 1
            return web.Response(status=503)
        self.received.append(body)
        return web.json_response({"ok": True})

    def of(self, tenant: str) -> list[dict[str, Any]]:
        return [b for b in self.received if f"[{tenant}]" in b["text"]]


@asynccontextmanager
async def serve_receiver() -> AsyncIterator[tuple[Receiver, str]]:
    """A Receiver served on 127.0.0.1, and its webhook URL."""
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield found, str(server.make_url("/hook"))
    finally:
        await server.close()
