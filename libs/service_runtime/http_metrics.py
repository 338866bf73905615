"""Prometheus metrics of a service's HTTP API and of its process: requests by route, method and status
with their latency, and the process collectors (CPU, memory, open files, GC, Python version)."""

from __future__ import annotations

import contextlib
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)

UNMATCHED_ROUTE = "unmatched"
"""The route label of a request no route serves (one label, whatever path was asked: bounded)."""


def route_of(request: web.Request) -> str:
    """The route template that served the request (`/v1/runs/{run_id}`), never the raw path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


def http_metrics_middleware(registry: CollectorRegistry) -> Middleware:
    """Counts and times every request, whatever answered it (a handler, an error, another middleware)."""
    requests = Counter(
        "psync_http_requests_total",
        "HTTP requests by route template, method and status",
        ["route", "method", "status"],
        registry=registry,
    )
    seconds = Histogram(
        "psync_http_request_seconds",
        "HTTP request latency by route template and method",
        ["route", "method"],
        registry=registry,
    )

    @web.middleware
    async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as answered:
            status = answered.status
            raise
        finally:
            route = route_of(request)
            requests.labels(route, request.method, str(status)).inc()
            seconds.labels(route, request.method).observe(time.perf_counter() - started)

    return count_requests


def register_process_metrics(registry: CollectorRegistry) -> None:
    """The process, platform and garbage-collector collectors, on a service's own registry."""
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        with contextlib.suppress(ValueError):  # already there
            registry.register(collector)
