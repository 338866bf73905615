"""The operational HTTP endpoints every service serves: /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from service_runtime.http_metrics import http_metrics_middleware, register_process_metrics

ReadinessCheck = Callable[[], Awaitable[None]]
"""Raises when the dependency it checks is not reachable."""

READINESS_CHECKS = web.AppKey("readiness_checks", dict[str, ReadinessCheck])
METRICS_REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)

_CHECK_TIMEOUT_S = 3.0
_log = structlog.get_logger(__name__)


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _run_check(name: str, check: ReadinessCheck) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(check(), _CHECK_TIMEOUT_S)
    except Exception as exc:  # any failure means "not ready"; the reason is reported, not raised
        return name, f"{type(exc).__name__}: {exc}"
    return name, None


async def _readyz(request: web.Request) -> web.Response:
    checks = request.app[READINESS_CHECKS]
    results = await asyncio.gather(*(_run_check(n, c) for n, c in checks.items()))
    failures = {name: reason for name, reason in results if reason is not None}
    if failures:
        _log.warning("not_ready", failures=failures)
        return web.json_response({"status": "unavailable", "failures": failures}, status=503)
    return web.json_response({"status": "ready", "checks": sorted(checks)})


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_operational_routes(
    app: web.Application, checks: Mapping[str, ReadinessCheck], registry: CollectorRegistry
) -> None:
    """Mount /healthz, /readyz (every check must pass) and /metrics on an application, count its HTTP
    requests (the outermost middleware, so every answer is counted) and export the process metrics."""
    app.middlewares.insert(0, http_metrics_middleware(registry))
    register_process_metrics(registry)
    app[READINESS_CHECKS] = dict(checks)
    app[METRICS_REGISTRY] = registry
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
