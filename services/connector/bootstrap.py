"""The connector's composition root: builds every dependency and runs the service until SIGTERM.

The connector reads Pipedrive and writes events; it consumes no topic. Its workers: the scheduler (due
syncs, queued runs and imports, paused runs after a budget reset) and the webhook hint reader.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

from connector.catalog import CatalogAges, Catalogs
from connector.catalog_api import CatalogApi
from connector.catalog_store import CatalogStore
from connector.connections_api import ConnectionsApi, TenantConnections
from connector.cursor_store import CursorStore
from connector.http_app import ConnectorApis, create_app
from connector.import_preview import MapperImportPlans
from connector.imports import ImportRuns
from connector.incremental import IncrementalSync
from connector.oauth_api import OAuthApi
from connector.queued_runs import RunKindName
from connector.record_rereads import reread_records
from connector.run_executor import ReadOptions, RunExecutor
from connector.run_lock_store import TenantRunLocks
from connector.run_store import PostgresRunProgress, RunStore
from connector.runs_api import RunsApi
from connector.scheduler import Scheduler, SchedulerTiming
from connector.settings import ConnectorSettings
from connector.settings_api import SettingsApi
from connector.settings_store import SettingsStore
from connector.webhook_hint_store import HintQueue
from connector.webhook_receiver import HintReader, WebhookReceiver
from connector.webhook_registration import WebhookRegistration
from connector.webhook_run_store import WebhookRuns
from connector.webhook_store import WebhookStore
from pipedrive_client import (
    Clock,
    OAuthApp,
    OAuthStateStore,
    PipedriveClientFactory,
    RetryPolicy,
    SystemClock,
    install_schema,
)
from pipedrive_client.client import oauth_app_of
from pipedrive_client.metrics import register_pipedrive_metrics
from postgres_store.migrations import apply_migrations
from postgres_store.pruning import Expiry
from service_runtime.skeleton import Infrastructure, ServiceParts, run_service_process
from stream_runner.producer import EventProducer
from tenant_auth.registry import TenantRegistry

SERVICE = "connector"
MIGRATIONS = Path(__file__).parent / "migrations"


async def install_tables(pool: asyncpg.Pool, schema: str) -> None:
    """The connector's own tables in `schema`."""
    await apply_migrations(pool, schema, MIGRATIONS)


@dataclass
class Connector:
    """The assembled service: its HTTP app and workers, and the parts tests look into."""

    settings: ConnectorSettings
    pool: asyncpg.Pool
    producer: EventProducer
    clock: Clock
    factory: PipedriveClientFactory
    oauth_app: OAuthApp | None
    tenant_settings: SettingsStore
    runs: RunStore
    cursors: CursorStore
    work_available: asyncio.Event
    hints_available: asyncio.Event
    app: web.Application
    scheduler: Scheduler
    hints: HintReader
    executor: RunExecutor


@contextlib.asynccontextmanager
async def assemble(
    settings: ConnectorSettings,
    pool: asyncpg.Pool,
    producer: EventProducer,
    *,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> AsyncIterator[Connector]:
    """Build the service on an open pool (its tables installed: `install_tables`) and a started producer."""
    clock = clock or SystemClock()
    await install_schema(pool, settings.pipedrive.client_schema)
    registry = TenantRegistry(pool)
    await registry.install()
    async with aiohttp.ClientSession() as session:
        oauth_app = oauth_app_of(settings.pipedrive, settings.oauth_callback_url)
        factory = PipedriveClientFactory.from_settings(
            session,
            pool,
            settings.pipedrive,
            retry=retry,
            clock=clock,
            default_redirect_uri=settings.oauth_callback_url,
        )
        runs, cursors = RunStore(pool, settings.db_schema), CursorStore(pool, settings.db_schema)
        catalogs = Catalogs(
            CatalogStore(pool, settings.db_schema),
            factory,
            clock,
            CatalogAges(settings.catalog_max_age_s, settings.catalog_missing_refresh_s),
        )
        schema = settings.db_schema
        tenant_settings = SettingsStore(pool, schema, producer)
        work_available, hints_available = asyncio.Event(), asyncio.Event()
        webhook_store = WebhookStore(pool, schema)
        webhooks = WebhookRegistration(factory, webhook_store, settings.public_base_url)
        connections = TenantConnections(tenant_settings, catalogs)
        apis = ConnectorApis(
            connections=ConnectionsApi(factory, connections, webhooks, settings.default_api_base_url),
            oauth=OAuthApi(
                oauth_app,
                OAuthStateStore(pool, settings.pipedrive.client_schema, clock=clock),
                factory,
                connections,
                settings.oauth_return_urls,
            ),
            settings=SettingsApi(tenant_settings, catalogs, factory, webhooks, work_available),
            catalog=CatalogApi(factory, catalogs),
            runs=RunsApi(
                runs,
                work_available,
                factory,
                catalogs,
                MapperImportPlans(session, settings.mapper_url),
                clock,
                settings.page_size,
            ),
            webhooks=WebhookReceiver(webhook_store, hints_available),
        )
        options = ReadOptions(settings.page_size, settings.overlap_seconds, settings.webhooks_scan_every_s)

        async def webhooks_enabled(tenant: str) -> bool:
            current = await tenant_settings.current(tenant)
            return current is not None and current.webhooks_enabled

        executor = RunExecutor(
            factory,
            producer,
            runs,
            cursors,
            PostgresRunProgress(pool, runs, cursors),
            clock,
            options,
            {
                RunKindName.SYNC: IncrementalSync(webhooks_enabled),
                RunKindName.IMPORT: ImportRuns(catalogs),
                RunKindName.RETRY: reread_records,
            },
        )
        scheduler = Scheduler(
            runs,
            tenant_settings,
            factory.budget,
            executor,
            TenantRunLocks(pool),
            clock,
            work_available,
            SchedulerTiming(settings.scheduler_interval_s, settings.schedule_jitter_s),
        )
        hints = HintReader(
            HintQueue(pool, schema),
            WebhookRuns(pool, schema, producer.send_all),
            factory,
            cursors,
            producer,
            pool,
            clock,
            hints_available,
        )
        yield Connector(
            settings,
            pool,
            producer,
            clock,
            factory,
            oauth_app,
            tenant_settings,
            runs,
            cursors,
            work_available,
            hints_available,
            create_app(apis, registry),
            scheduler,
            hints,
            executor,
        )


def expiring_tables(settings: ConnectorSettings) -> list[Expiry]:
    """What the connector remembers only for a while: webhook delivery ids and the hourly windows of
    webhook changes (reported when their hour ended), audit entries once published, and OAuth states an
    hour after they expired
    (issuing sweeps them too, but only when someone connects)."""
    return [
        Expiry(f"{settings.db_schema}.webhook_deliveries", "received_at", settings.webhook_delivery_window_s),
        Expiry(f"{settings.db_schema}.webhook_runs", "started_at", settings.webhook_delivery_window_s),
        Expiry(f"{settings.pipedrive.client_schema}.oauth_states", "expires_at", 3600),
        # Published within seconds; the auditlog keeps the entries.
        Expiry(f"{settings.db_schema}.audit_outbox", "recorded_at", settings.webhook_delivery_window_s),
    ]


@contextlib.asynccontextmanager
async def assemble_parts(
    settings: ConnectorSettings, infrastructure: Infrastructure
) -> AsyncIterator[ServiceParts]:
    """The connector's API and workers (the scheduler, the webhook hint reader) on the skeleton's
    infrastructure; it consumes no topic."""
    register_pipedrive_metrics(infrastructure.registry)
    async with assemble(settings, infrastructure.pool, infrastructure.kafka) as connector:
        workers = [connector.scheduler.run, connector.hints.run]
        yield ServiceParts(connector.app, workers=workers, expiring=expiring_tables(settings))


async def run_service(settings: ConnectorSettings) -> None:
    """Run the connector until SIGTERM or SIGINT, then close its connections."""
    await run_service_process(
        SERVICE,
        settings,
        assemble_parts,
        install_tables,
        development_keys=settings.pipedrive.development_keys,
    )
