"""The sandbox served in-process with every request it receives recorded, so tests can validate what the
client sent against the OpenAPI specs (the sandbox's own ledger knows costs, not bodies)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import web
from openapi_core.testing import MockRequest

from pipedrive_sandbox import SandboxConfig, SandboxHandle, create_app
from pipedrive_sandbox.app_keys import STATE
from pipedrive_sandbox.clock import SandboxClock
from tests.sandbox.spec_check import SPEC_HOSTS, Specs

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SandboxTime:
    """A Pipedrive client's clock (the connector's, the pusher's) read from the sandbox's, so advancing the
    sandbox moves both."""

    def __init__(self, clock: SandboxClock) -> None:
        self._clock = clock

    def now(self) -> float:
        """The sandbox's time."""
        return self._clock.now()

    async def sleep(self, seconds: float) -> None:
        """The wait passed on the sandbox's clock: advanced by `seconds` at once, not waited in real time.
        The only waits on this clock are the Pipedrive client's (a closed rate-limit window, a backoff),
        and Pipedrive's limits read the sandbox's clock: a call after the wait meets the same window as
        after real seconds (a 429 storm's six 2-second waits took 11 s of a connector test's time)."""
        if seconds > 0:
            self._clock.advance(seconds)
        await asyncio.sleep(0)


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the sandbox received it."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    content_type: str

    @property
    def spec_name(self) -> str | None:
        """Which spec describes the path (`v2`, `v1`), None for OAuth and admin paths."""
        if self.path.startswith("/api/v2/"):
            return "v2"
        if self.path.startswith("/v1/"):
            return "v1"
        return None


@dataclass
class RecordingSandbox:
    """A running sandbox plus the requests it received."""

    handle: SandboxHandle
    received: list[ReceivedRequest] = field(default_factory=list)
    on_request: Callable[[ReceivedRequest], None] | None = None
    """Called with each request before it is answered (a test acting as a Pipedrive user between calls)."""

    @property
    def base_url(self) -> str:
        """Where the sandbox listens."""
        return self.handle.base_url

    def api_requests(self) -> list[ReceivedRequest]:
        """The received requests that a spec describes."""
        return [r for r in self.received if r.spec_name is not None]


def validate_against_spec(specs: Specs, request: ReceivedRequest) -> None:
    """Raise when the request is not what the published spec accepts."""
    name = request.spec_name
    assert name is not None
    host, _ = SPEC_HOSTS[name]
    mock = MockRequest(
        host,
        request.method.lower(),
        request.path,
        args=dict(parse_qsl(request.query_string)),
        headers=request.headers,
        data=request.body or None,
        content_type=request.content_type if request.body else "application/json",
    )
    specs.validators[name].validate_request(mock)


def validate_all_against_spec(specs: Specs, requests: Iterable[ReceivedRequest]) -> None:
    """Raise when any of the requests is not what the published spec accepts. A request received again
    byte for byte (method, path, query, headers, body) is validated once: the same input validates alike,
    and about a fifth of a connector run's requests are repeats (its reads of one record, of the user)."""
    validated: set[tuple[object, ...]] = set()
    for request in requests:
        key = (
            request.method,
            request.path,
            request.query_string,
            tuple(sorted(request.headers.items())),
            request.body,
            request.content_type,
        )
        if key not in validated:
            validate_against_spec(specs, request)
            validated.add(key)


@contextlib.asynccontextmanager
async def recording_sandbox(config: SandboxConfig) -> AsyncIterator[RecordingSandbox]:
    """Serve a fresh sandbox on a free port, recording every request, for the duration of the block."""
    app = create_app(config)
    sandbox = RecordingSandbox(SandboxHandle("", app[STATE]))

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        received = ReceivedRequest(
            request.method,
            request.path,
            request.query_string,
            dict(request.headers),
            body,
            request.content_type,
        )
        sandbox.received.append(received)
        if sandbox.on_request is not None:
            sandbox.on_request(received)
        return await handler(request)

    app.middlewares.insert(0, record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sandbox.handle.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield sandbox
    finally:
        await runner.cleanup()
