"""The pusher's composition root: builds every dependency and runs the service until SIGTERM."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry

from pipedrive_client import PipedriveClientFactory, RetryPolicy, install_schema
from pipedrive_client.metrics import register_pipedrive_metrics
from postgres_store.inbox import install_inbox
from postgres_store.migrations import apply_migrations
from postgres_store.pool import check_database, create_pool
from postgres_store.pruning import Expiry, Pruner
from pusher.abm_records import AbmRecords
from pusher.auto_push_windows import close_windows_until_stopped
from pusher.engagement_field import CustomFieldCodes
from pusher.handlers import PusherHandlers
from pusher.manual_push_api import add_manual_push_routes
from pusher.openapi import pusher_openapi
from pusher.parking import ParkedPushes, ParkingLimits, parked_pushes_gauge
from pusher.record_pusher import RecordPusher
from pusher.score_push import ScorePush
from pusher.settings import PusherSettings
from pusher.visit_activity import VisitActivities
from schemas.topics import topics_consumed_by
from service_runtime.health import add_operational_routes
from service_runtime.http_guards import api_middlewares
from service_runtime.logs import configure_logging
from service_runtime.openapi import add_openapi_route
from service_runtime.process import install_stop_signals, serve_until_stopped
from service_runtime.secret_keys import warn_of_development_keys
from settings_replica.replica import SettingsReplica
from stream_runner.errors import is_transient
from stream_runner.kafka_runner import KafkaStreamRunner
from stream_runner.metrics import RunnerMetrics
from stream_runner.processor import MessageProcessor
from stream_runner.producer import EventProducer
from tenant_auth.middleware import tenant_auth_middleware
from tenant_auth.registry import TenantRegistry

SERVICE = "pusher"
MIGRATIONS = Path(__file__).parent / "migrations"


async def install_tables(pool: asyncpg.Pool, schema: str) -> None:
    """The pusher's tables in `schema`: its inbox and its own."""
    await install_inbox(pool, schema)
    await apply_migrations(pool, schema, MIGRATIONS)


def build_handlers(
    pool: asyncpg.Pool,
    schema: str,
    clients: PipedriveClientFactory,
    *,
    after_create: Callable[[], None] = lambda: None,
    parking: ParkingLimits | None = None,
) -> PusherHandlers:
    """The pusher's service layer over its schema and a Pipedrive client factory."""
    pusher = RecordPusher(pool, schema, after_create=after_create)
    scores = ScorePush(pool, pusher, CustomFieldCodes(pool, schema))
    parked = ParkedPushes(pool, schema, parking)
    visits = VisitActivities(pool, schema)
    return PusherHandlers(
        pool, schema, SettingsReplica(pool, schema), clients, pusher, scores, parked, visits
    )


def expiring_tables(settings: PusherSettings) -> list[Expiry]:
    """What the pusher remembers only for a while: applied event ids, reveals' visit activities."""
    schema, window = settings.db_schema, settings.dedupe_window_s
    return [
        Expiry(f"{schema}.inbox", "applied_at", window),
        Expiry(f"{schema}.visit_activities", "intent_at", window),
    ]


async def run_service(settings: PusherSettings, *, after_create: Callable[[], None] = lambda: None) -> None:
    """Run the pusher until SIGTERM or SIGINT, then stop consuming, commit and close.

    `after_create` runs right after every create call Pipedrive answered: a seam for tests that inject
    a crash there (tests/integration/pusher/killed_after_create.py); production passes nothing.
    """
    configure_logging(SERVICE, settings.log_level, json=settings.log_json)
    warn_of_development_keys(settings.pipedrive.development_keys)
    stop = asyncio.Event()
    install_stop_signals(stop)
    pool = await create_pool(settings.database_url.get_secret_value(), max_size=settings.db_pool_size)
    producer = EventProducer(settings.kafka_bootstrap, client_id=SERVICE)
    session = aiohttp.ClientSession()
    try:
        await install_tables(pool, settings.db_schema)
        await install_schema(pool, settings.pipedrive.client_schema)
        await producer.start()
        clients = PipedriveClientFactory.from_settings(
            session, pool, settings.pipedrive, retry=RetryPolicy(max_attempts=settings.pipedrive_attempts)
        )
        handlers = build_handlers(
            pool, settings.db_schema, clients, after_create=after_create, parking=settings.parking_limits
        )
        registry = CollectorRegistry()
        register_pipedrive_metrics(registry)
        runner = KafkaStreamRunner(
            bootstrap=settings.kafka_bootstrap,
            group_id=settings.group_id,
            topics=[t.name for t in topics_consumed_by(SERVICE)],
            processor=MessageProcessor(SERVICE, handlers.by_event_type(), producer, RunnerMetrics(registry)),
            client_id=SERVICE,
            commit_interval_s=settings.commit_interval_s,
            max_poll_records=settings.max_batch,
            session_timeout_s=settings.session_timeout_s,
        )
        tenants = TenantRegistry(pool)
        await tenants.install()
        http = web.Application(middlewares=api_middlewares(tenant_auth_middleware(tenants)))
        add_manual_push_routes(http, handlers, producer.send_all, AbmRecords(session, settings.mapper_url))
        checks = {"postgres": lambda: check_database(pool), "kafka": producer.check_cluster}
        add_operational_routes(http, checks, registry)
        add_openapi_route(http, pusher_openapi())

        async def redrive(stop: asyncio.Event) -> None:
            await handlers.parked.run(handlers.redrive, handlers.give_up, producer.send_all, stop)

        async def close_windows(stop: asyncio.Event) -> None:
            await close_windows_until_stopped(pool, settings.db_schema, producer.send_all, stop)

        parked_pushes = parked_pushes_gauge(registry)

        async def report_parked(stop: asyncio.Event) -> None:
            await handlers.parked.report(parked_pushes, stop)

        pruner = Pruner(pool, expiring_tables(settings), settings.prune_every_s)
        workers = [runner.run, redrive, close_windows, report_parked, pruner.run]
        await serve_until_stopped(
            http, settings.http_host, settings.http_port, workers, stop, restart_when=is_transient
        )
    finally:
        await session.close()
        await producer.stop()
        await pool.close()
