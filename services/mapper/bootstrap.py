"""The mapper's composition root: builds every dependency and runs the service until SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry

from mapper.audiences_api import add_audience_routes
from mapper.handlers import MapperHandlers
from mapper.import_plans_api import add_import_plan_routes
from mapper.openapi import mapper_openapi
from mapper.settings import MapperSettings
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
from settings_replica.replica import SettingsReplica
from stream_runner.errors import is_transient
from stream_runner.kafka_runner import KafkaStreamRunner
from stream_runner.metrics import RunnerMetrics
from stream_runner.processor import MessageProcessor
from stream_runner.producer import EventProducer
from tenant_auth.middleware import tenant_auth_middleware
from tenant_auth.registry import TenantRegistry

SERVICE = "mapper"
MIGRATIONS = Path(__file__).parent / "migrations"


async def install_tables(pool: asyncpg.Pool, schema: str) -> None:
    """The mapper's tables in `schema`: its inbox and its own."""
    await install_inbox(pool, schema)
    await apply_migrations(pool, schema, MIGRATIONS)


def expiring_tables(settings: MapperSettings) -> list[Expiry]:
    """What the mapper remembers only for a while: applied event ids, dead-lettered changes."""
    schema, window = settings.db_schema, settings.dedupe_window_s
    return [
        Expiry(f"{schema}.inbox", "applied_at", window),
        Expiry(f"{schema}.dead_lettered_changes", "dead_lettered_at", window),
    ]


async def run_service(settings: MapperSettings) -> None:
    """Run the mapper until SIGTERM or SIGINT, then stop consuming, commit and close."""
    configure_logging(SERVICE, settings.log_level, json=settings.log_json)
    stop = asyncio.Event()
    install_stop_signals(stop)
    pool = await create_pool(settings.database_url.get_secret_value(), max_size=settings.db_pool_size)
    producer = EventProducer(settings.kafka_bootstrap, client_id=SERVICE)
    try:
        await install_tables(pool, settings.db_schema)
        await producer.start()
        registry = CollectorRegistry()
        replica = SettingsReplica(pool, settings.db_schema)
        handlers = MapperHandlers(pool, settings.db_schema, replica)
        processor = MessageProcessor(
            SERVICE,
            handlers.by_event_type(),
            producer,
            RunnerMetrics(registry),
            batch_handlers=handlers.batch_handlers(),
            dead_letter_handlers=handlers.dead_letter_handlers(),
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
        add_audience_routes(http, pool, settings.db_schema)
        add_import_plan_routes(http, pool, settings.db_schema)
        checks = {"postgres": lambda: check_database(pool), "kafka": producer.check_cluster}
        add_operational_routes(http, checks, registry)
        add_openapi_route(http, mapper_openapi())
        workers = [runner.run, Pruner(pool, expiring_tables(settings), settings.prune_every_s).run]
        await serve_until_stopped(
            http, settings.http_host, settings.http_port, workers, stop, restart_when=is_transient
        )
    finally:
        await producer.stop()
        await pool.close()
