"""The console's composition root."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from console.settings import ConsoleSettings
from console.status_page import HTTP_SESSION, SERVICE_URLS, status_page
from service_runtime.health import add_operational_routes
from service_runtime.http_guards import api_middlewares
from service_runtime.logs import configure_logging
from service_runtime.process import install_stop_signals, serve_until_stopped

SERVICE = "console"


def create_app(settings: ConsoleSettings) -> web.Application:
    """The console's aiohttp application (its HTTP session opened and closed with the app)."""
    app = web.Application(middlewares=api_middlewares())
    app[SERVICE_URLS] = settings.service_urls()

    async def http_session(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            app[HTTP_SESSION] = session
            yield

    app.cleanup_ctx.append(http_session)
    app.router.add_get("/", status_page)
    # Stateless: ready as soon as it serves; the page itself shows the state of the services.
    add_operational_routes(app, {}, CollectorRegistry())
    return app


async def run_service(settings: ConsoleSettings) -> None:
    """Serve the console until SIGTERM or SIGINT."""
    configure_logging(SERVICE, settings.log_level, json=settings.log_json)
    stop = asyncio.Event()
    install_stop_signals(stop)
    await serve_until_stopped(create_app(settings), settings.http_host, settings.http_port, [], stop)
