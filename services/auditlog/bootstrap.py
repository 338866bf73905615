"""The auditlog's composition root: builds every dependency and runs the service until SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from auditlog.activity_api import add_activity_routes
from auditlog.activity_log import ActivityLog
from auditlog.activity_reads import ActivityReads
from auditlog.audit_api import add_audit_routes
from auditlog.handlers import build_batch_handlers, build_handlers
from auditlog.openapi import auditlog_openapi
from auditlog.settings import AuditlogSettings
from postgres_store.inbox import install_inbox
from postgres_store.migrations import apply_migrations
from postgres_store.pool import check_database, create_pool
from postgres_store.pruning import Expiry, Pruner
from schemas.topics import topics_consumed_by
from service_runtime.health import add_operational_routes
from service_runtime.http_guards import api_middlewares
from service_runtime.logs import configure_logging
from service_runtime.openapi import add_openapi_route
from service_runtime.process import install_stop_signals, serve_until_stopped
from stream_runner.errors import is_transient
from stream_runner.kafka_runner import KafkaStreamRunner
from stream_runner.metrics import RunnerMetrics
from stream_runner.processor import MessageProcessor
from stream_runner.producer import EventProducer
from tenant_auth.middleware import tenant_auth_middleware
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


def expiring_tables(settings: AuditlogSettings) -> list[Expiry]:
    """What the auditlog remembers only for a while: applied event ids."""
    return [Expiry(f"{settings.db_schema}.inbox", "applied_at", settings.dedupe_window_s)]


async def run_service(settings: AuditlogSettings) -> None:
    """Run the auditlog until SIGTERM or SIGINT, then stop consuming, commit and close."""
    configure_logging(SERVICE, settings.log_level, json=settings.log_json)
    stop = asyncio.Event()
    install_stop_signals(stop)
    pool = await create_pool(settings.database_url.get_secret_value(), max_size=settings.db_pool_size)
    producer = EventProducer(settings.kafka_bootstrap, client_id=SERVICE)
    try:
        await install_tables(pool, settings.db_schema)
        await producer.start()
        registry = CollectorRegistry()
        log = ActivityLog(pool, settings.db_schema)
        processor = MessageProcessor(
            SERVICE,
            build_handlers(log, runs_finished_counter(registry)),
            producer,
            RunnerMetrics(registry),
            batch_handlers=build_batch_handlers(log),
        )
        runner = KafkaStreamRunner(
            bootstrap=settings.kafka_bootstrap,
            group_id=settings.group_id,
            topics=[t.name for t in topics_consumed_by(SERVICE)],
            processor=processor,
            client_id=SERVICE,
            commit_interval_s=settings.commit_interval_s,
            max_poll_records=settings.max_batch,
            session_timeout_s=settings.session_timeout_s,
        )
        tenants = TenantRegistry(pool)
        await tenants.install()
        http = web.Application(middlewares=api_middlewares(tenant_auth_middleware(tenants)))
        add_activity_routes(http, ActivityReads(pool, settings.db_schema))
        add_audit_routes(http, tenants)
        checks = {"postgres": lambda: check_database(pool), "kafka": producer.check_cluster}
        add_operational_routes(http, checks, registry)
        add_openapi_route(http, auditlog_openapi())
        workers = [runner.run, Pruner(pool, expiring_tables(settings), settings.prune_every_s).run]
        await serve_until_stopped(
            http, settings.http_host, settings.http_port, workers, stop, restart_when=is_transient
        )
    finally:
        await producer.stop()
        await pool.close()
