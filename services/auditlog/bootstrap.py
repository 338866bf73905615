"""The auditlog's composition root: its tables, handlers, API and what it prunes, on the service skeleton."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from auditlog.activity_api import add_activity_routes
from auditlog.activity_log_store import PostgresActivityLog
from auditlog.activity_read_store import PostgresActivityReads
from auditlog.alert_api import add_alert_routes
from auditlog.alert_delivery import AlertDelivery, DeliveryPolicy
from auditlog.alert_store import AlertStore
from auditlog.alert_windows import AlertWindows, WindowsConfig
from auditlog.audit_api import add_audit_routes
from auditlog.handlers import build_batch_handlers, build_handlers
from auditlog.openapi import auditlog_openapi
from auditlog.retry_api import add_retry_routes
from auditlog.retry_requests import RetryRequests
from auditlog.retry_store import ActivityRetries
from auditlog.settings import AuditlogSettings
from auditlog.standing_alerts import StandingAlerts
from pipedrive_client import Budget, BudgetPolicy, refused_connections
from postgres_store.inbox import install_inbox
from postgres_store.migrations import apply_migrations
from postgres_store.pruning import Expiry
from service_runtime.openapi import add_openapi_route
from service_runtime.skeleton import Consumer, Infrastructure, ServiceParts, run_service_process
from tenant_auth.middleware import tenant_api_app
from tenant_auth.registry import TenantRegistry

SERVICE = "auditlog"
MIGRATIONS = Path(__file__).parent / "migrations"


async def install_tables(pool: asyncpg.Pool, schema: str) -> None:
    """The auditlog's tables in `schema`: its inbox and its own."""
    await install_inbox(pool, schema)
    await apply_migrations(pool, schema, MIGRATIONS)


def runs_finished_counter(registry: CollectorRegistry) -> Counter:
    """`psync_runs_finished_total{service, kind, status}`: every run of every service, as it ends."""
    return Counter(
        "psync_runs_finished_total",
        "Runs ended, by the service that ran them, their kind and their status (Success, Warning, Error)",
        ["service", "kind", "status"],
        registry=registry,
    )


def delivery_policy(settings: AuditlogSettings) -> DeliveryPolicy:
    """How the alert delivery worker delivers, from the settings."""
    return DeliveryPolicy(
        poll_every_s=settings.alert_poll_every_s,
        first_retry_s=settings.alert_first_retry_s,
        most_retry_s=settings.alert_most_retry_s,
        give_up_after_s=settings.alert_give_up_after_s,
        private_hosts=settings.webhook_http_hosts,
    )


def windows_config(settings: AuditlogSettings) -> WindowsConfig:
    """The alert windows' faust app: its own consumer group (and topic prefix) next to the auditlog's."""
    return WindowsConfig(
        f"{settings.group_id}-alerts", settings.kafka_bootstrap, settings.data_dir, settings.topic_namespace
    )


def standing_alerts_poll(
    settings: AuditlogSettings, pool: asyncpg.Pool, alerts: AlertStore
) -> StandingAlerts:
    """The poll of the Pipedrive client's schema (spent budgets, refused connections), read through its
    library: no credentials key, only rows the auditlog may read."""
    schema = settings.pipedrive_client_schema
    budget = Budget(pool, schema, BudgetPolicy(daily_share=settings.pipedrive_budget_share))
    return StandingAlerts(
        budget.exhausted_for_day,
        functools.partial(refused_connections, pool, schema),
        alerts,
        settings.alert_pipedrive_poll_s,
    )


def add_run_routes(
    app: web.Application,
    pool: asyncpg.Pool,
    schema: str,
    session: aiohttp.ClientSession,
    urls: Mapping[str, str],
) -> None:
    """Mount the activity log's runs and entries and the retry of a run's failed records, which asks the
    services at `urls` (by name: connector, pusher) through `session`, on the auditlog's API."""
    reads = PostgresActivityReads(pool, schema)
    add_activity_routes(app, reads)
    add_retry_routes(app, reads, ActivityRetries(pool, schema), RetryRequests(session, urls))


def expiring_tables(settings: AuditlogSettings) -> list[Expiry]:
    """What the auditlog remembers only for a while: applied event ids."""
    return [Expiry(f"{settings.db_schema}.inbox", "applied_at", settings.dedupe_window_s)]


@asynccontextmanager
async def assemble(settings: AuditlogSettings, infrastructure: Infrastructure) -> AsyncIterator[ServiceParts]:
    """The auditlog's handlers, its API (activity log, retries, audit entries, alerts) and the alert
    delivery worker on the skeleton's infrastructure."""
    pool, schema = infrastructure.pool, settings.db_schema
    log = PostgresActivityLog(pool, schema)
    alerts = AlertStore(pool, schema)
    tenants = TenantRegistry(pool)
    await tenants.install()
    app = tenant_api_app(tenants)
    add_audit_routes(app, tenants)
    add_alert_routes(app, alerts, settings.webhook_http_hosts)
    add_openapi_route(app, auditlog_openapi())
    delivery = AlertDelivery(alerts, delivery_policy(settings))
    workers = [delivery.run, standing_alerts_poll(settings, pool, alerts).run]
    failures: str | None = None
    if settings.alert_windows:
        windows = AlertWindows(windows_config(settings), alerts)
        # The consumer loop hands failed records to the windows' topic: it must exist before it does.
        await windows.declare()
        failures = windows.failures_topic
        workers.append(windows.run)
    consumer = Consumer(
        build_handlers(log, runs_finished_counter(infrastructure.registry), alerts, failures),
        batch_handlers=build_batch_handlers(log, failures),
    )
    async with aiohttp.ClientSession() as session:
        urls = {"connector": settings.connector_url, "pusher": settings.pusher_url}
        add_run_routes(app, pool, schema, session, urls)
        yield ServiceParts(app, consumer, workers=workers, expiring=expiring_tables(settings))


async def run_service(settings: AuditlogSettings) -> None:
    """Run the auditlog until SIGTERM or SIGINT, then stop consuming, commit and close."""
    await run_service_process(SERVICE, settings, assemble, install_tables)
