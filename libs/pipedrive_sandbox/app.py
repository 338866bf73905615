"""`create_app`: the aiohttp application of the sandbox, and `run_sandbox` to start it in-process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from pipedrive_sandbox.admin import add_admin_routes
from pipedrive_sandbox.app_keys import DISPATCHER_TASK, STATE
from pipedrive_sandbox.clock import SandboxClock
from pipedrive_sandbox.config import SandboxConfig
from pipedrive_sandbox.errors import SandboxError
from pipedrive_sandbox.gateway import gateway
from pipedrive_sandbox.operations import OPERATIONS
from pipedrive_sandbox.responses import error as error_response
from pipedrive_sandbox.routes_account import account_handlers
from pipedrive_sandbox.routes_activities import activity_handlers
from pipedrive_sandbox.routes_entities import entity_handlers
from pipedrive_sandbox.routes_oauth import add_oauth_routes
from pipedrive_sandbox.routes_search import search_handlers
from pipedrive_sandbox.routes_v1 import v1_handlers
from pipedrive_sandbox.routes_web import add_web_routes
from pipedrive_sandbox.state import SandboxState, build_state

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_log = logging.getLogger(__name__)


@web.middleware
async def sandbox_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn domain errors raised outside the gateway (admin, OAuth) into error bodies, and the router's
    own 404 and 405 (an unknown path or method) and any unexpected failure into Pipedrive's JSON error
    body, never plain text."""
    try:
        return await handler(request)
    except SandboxError as failure:
        return error_response(failure.status, failure.message)
    except web.HTTPMethodNotAllowed as refused:
        answer = error_response(405, f"Method {request.method} is not allowed on {request.path}")
        answer.headers["Allow"] = ",".join(sorted(refused.allowed_methods))
        return answer
    except web.HTTPNotFound:
        return error_response(404, f"Unknown method {request.method} {request.path}")
    except web.HTTPException:
        raise
    except Exception:  # a bug of the sandbox: still Pipedrive's JSON error body, and logged
        _log.exception("sandbox request failed: %s %s", request.method, request.path)
        return error_response(500, "Internal server error")


def create_app(config: SandboxConfig, clock: SandboxClock | None = None) -> web.Application:
    """Build a sandbox application with freshly seeded state (nothing is shared between apps)."""
    app = web.Application(middlewares=[sandbox_errors, gateway])
    app[STATE] = build_state(config, clock)
    handlers: dict[str, Handler] = {
        **entity_handlers(),
        **search_handlers(),
        **account_handlers(),
        **v1_handlers(),
        **activity_handlers(),
    }
    for operation in OPERATIONS:
        # Any id segment reaches its handler, which refuses what is not a number with Pipedrive's 400.
        app.router.add_route(
            operation.method, operation.url_path, handlers[operation.key], name=operation.key
        )
    add_oauth_routes(app)
    add_admin_routes(app)
    add_web_routes(app)
    # Operational probes for `make up` and container health checks (paths Pipedrive does not use).
    app.router.add_get("/healthz", _alive)
    app.router.add_get("/readyz", _alive)
    app.cleanup_ctx.append(_webhook_dispatcher)
    return app


async def _alive(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _webhook_dispatcher(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    async with aiohttp.ClientSession() as session:
        app[DISPATCHER_TASK] = asyncio.create_task(state.webhooks.run(session))
        yield
        app[DISPATCHER_TASK].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app[DISPATCHER_TASK]


@dataclass
class SandboxHandle:
    """A running sandbox: its base URL and its state (clock, ledger, faults, data)."""

    base_url: str
    state: SandboxState

    @property
    def api_token(self) -> str:
        """The demo company's API token."""
        return self.state.config.api_token


@contextlib.asynccontextmanager
async def run_sandbox(
    config: SandboxConfig, host: str = "127.0.0.1", port: int = 0, clock: SandboxClock | None = None
) -> AsyncIterator[SandboxHandle]:
    """Serve a sandbox over real HTTP for the duration of the block (port 0 picks a free port)."""
    app = create_app(config, clock)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    try:
        yield SandboxHandle(f"http://{host}:{bound_port}", app[STATE])
    finally:
        await runner.cleanup()
