"""Prometheus metrics of the Pipedrive client: calls, tokens, 429s and 5xx by tenant and operation, call
latency, and the budget left today per tenant.

The client is built in many places (a factory per service, per tenant); its metrics are process-wide
collectors, registered once on each service's own registry by `register_pipedrive_metrics`.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CALLS = Counter(
    "psync_pipedrive_calls_total",
    "Pipedrive API calls by tenant, operation and outcome (ok, client_error, unauthorized, rate_limited,"
    " server_error, network_error)",
    ["tenant", "operation", "outcome"],
    registry=None,
)
TOKENS = Counter(
    "psync_pipedrive_tokens_total",
    "Pipedrive API tokens charged by tenant and operation (refused calls are refunded, not counted)",
    ["tenant", "operation"],
    registry=None,
)
CALL_SECONDS = Histogram(
    "psync_pipedrive_call_seconds",
    "Duration of one Pipedrive API call by operation",
    ["operation"],
    registry=None,
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BUDGET_REMAINING = Gauge(
    "psync_pipedrive_budget_remaining_tokens",
    "Tokens this integration may still spend today for the tenant (its share of the daily budget)",
    ["tenant"],
    registry=None,
)
_COLLECTORS = (CALLS, TOKENS, CALL_SECONDS, BUDGET_REMAINING)


def register_pipedrive_metrics(registry: CollectorRegistry) -> None:
    """Expose the client's metrics on a service's registry (once per registry)."""
    for collector in _COLLECTORS:
        with contextlib.suppress(ValueError):  # already registered there
            registry.register(collector)


def outcome_of(status: int | None) -> str:
    """The outcome label of an answer's status (None: no answer, a network failure)."""
    if status is None:
        return "network_error"
    if status == 429:
        return "rate_limited"
    if status == 401:
        return "unauthorized"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "ok"


def record_call(tenant: str, operation: str, status: int | None, seconds: float) -> None:
    """Count one call and time it."""
    CALLS.labels(tenant, operation, outcome_of(status)).inc()
    CALL_SECONDS.labels(operation).observe(seconds)


def record_tokens(tenant: str, operation: str, tokens: int) -> None:
    """Count tokens a call was charged."""
    TOKENS.labels(tenant, operation).inc(tokens)


def record_budget_left(tenant: str, tokens: int) -> None:
    """The tenant's tokens left today, as the budget last saw them."""
    BUDGET_REMAINING.labels(tenant).set(max(tokens, 0))
