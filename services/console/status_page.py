"""The console's status page: which services answer their /readyz. The admin pages come later."""

from __future__ import annotations

import asyncio
import html

import aiohttp
from aiohttp import web

SERVICE_URLS = web.AppKey("service_urls", dict[str, str])
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)


async def fetch_readiness(session: aiohttp.ClientSession, base_url: str) -> str:
    """`ready`, `not ready (<status>)` or `unreachable` for one service."""
    try:
        async with session.get(f"{base_url}/readyz", timeout=aiohttp.ClientTimeout(total=3)) as response:
            return "ready" if response.status == 200 else f"not ready ({response.status})"
    except (aiohttp.ClientError, TimeoutError):
        return "unreachable"


async def status_page(request: web.Request) -> web.Response:
    """An HTML table of the services and their readiness."""
    urls = request.app[SERVICE_URLS]
    session = request.app[HTTP_SESSION]
    states = await asyncio.gather(*(fetch_readiness(session, url) for url in urls.values()))
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(url)}</td><td>{html.escape(state)}</td></tr>"
        for (name, url), state in zip(urls.items(), states, strict=True)
    )
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Pipedrive sync console</title></head>"
        "<body><h1>Pipedrive sync</h1><table><tr><th>service</th><th>url</th><th>state</th></tr>"
        f"{rows}</table></body></html>"
    )
    return web.Response(text=body, content_type="text/html")
