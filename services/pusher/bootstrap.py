"""The pusher's composition root: its tables, handlers, API, workers and what it prunes, on the service
skeleton."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import aiohttp
import asyncpg

from pipedrive_client import PipedriveClientFactory, RetryPolicy, install_schema
from pipedrive_client.metrics import register_pipedrive_metrics
from postgres_store.inbox import install_inbox
from postgres_store.migrations import apply_migrations
from postgres_store.pruning import Expiry
from pusher.abm_records import AbmRecords
from pusher.abm_signal_pushes import AbmSignalPushes
from pusher.auto_push_windows import close_windows_until_stopped
from pusher.engagement_field import CustomFieldCodes
from pusher.event_pushes import EventPushes
from pusher.handlers import PusherHandlers
from pusher.manual_push_api import add_manual_push_routes
from pusher.openapi import pusher_openapi
from pusher.parking import ParkedPushes, ParkingLimits, parked_pushes_gauge
from pusher.pipedrive_users import UsersByTenant
from pusher.pipedrive_writes import PipedriveWrites
from pusher.ports import PusherStore, TenantSettingsSource, WritesFor
from pusher.record_pusher import RecordPusher
from pusher.score_push import ScorePush
from pusher.settings import PusherSettings
from pusher.store import PostgresPusherStore
from pusher.visit_activity import VisitActivities
from service_runtime.openapi import add_openapi_route
from service_runtime.skeleton import (
    SETTINGS_FIRST,
    Consumer,
    Infrastructure,
    ServiceParts,
    run_service_process,
)
from settings_replica.replica import SettingsReplica
from sync_rules.domains import load_public_suffix_list
from tenant_auth.middleware import tenant_api_app
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
    """The pusher's service layer over its tables in `schema` and a Pipedrive client factory."""
    return handlers_on(
        PostgresPusherStore(pool, schema), SettingsReplica(pool, schema), writes_with(clients),
        after_create=after_create, parking=parking,
    )  # fmt: skip


def handlers_on(
    store: PusherStore,
    settings: TenantSettingsSource,
    writes_for: WritesFor,
    *,
    after_create: Callable[[], None] = lambda: None,
    parking: ParkingLimits | None = None,
) -> PusherHandlers:
    """The pusher's service layer over its ports (PostgreSQL and Pipedrive, or the service tests' fakes)."""
    pusher = RecordPusher(store, after_create=after_create)
    pushes = EventPushes(store, writes_for)
    scores = ScorePush(store, pusher, CustomFieldCodes(store.field_codes))
    signals = AbmSignalPushes(store, settings, pushes, pusher, scores, VisitActivities(store.visits))
    parked = ParkedPushes(store.parked, parking)
    return PusherHandlers(store, settings, pushes, pusher, signals, parked)


def writes_with(clients: PipedriveClientFactory) -> WritesFor:
    """One push's writes to a tenant's Pipedrive through the shared client; the tenant's users are read
    once for the pushes of a short while (`pusher.pipedrive_users`)."""
    users = UsersByTenant()
    return lambda tenant: PipedriveWrites(clients.for_tenant(tenant), partial(users.of, tenant))


def expiring_tables(settings: PusherSettings) -> list[Expiry]:
    """What the pusher remembers only for a while: applied event ids, reveals' visit activities."""
    schema, window = settings.db_schema, settings.dedupe_window_s
    return [
        Expiry(f"{schema}.inbox", "applied_at", window),
        Expiry(f"{schema}.visit_activities", "intent_at", window),
    ]


@asynccontextmanager
async def assemble(
    settings: PusherSettings,
    infrastructure: Infrastructure,
    *,
    after_create: Callable[[], None] = lambda: None,
) -> AsyncIterator[ServiceParts]:
    """The pusher's handlers, its manual-push API and its workers (re-driving parked pushes, closing
    auto-push windows, reporting what is parked), with the Pipedrive client they share."""
    pool, producer, schema = infrastructure.pool, infrastructure.kafka, settings.db_schema
    await install_schema(pool, settings.pipedrive.client_schema)
    load_public_suffix_list()  # match keys: loaded while starting, not by the first batch
    register_pipedrive_metrics(infrastructure.registry)
    async with aiohttp.ClientSession() as session:
        clients = PipedriveClientFactory.from_settings(
            session, pool, settings.pipedrive, retry=RetryPolicy(max_attempts=settings.pipedrive_attempts)
        )
        handlers = build_handlers(
            pool, schema, clients, after_create=after_create, parking=settings.parking_limits
        )
        tenants = TenantRegistry(pool)
        await tenants.install()
        app = tenant_api_app(tenants)
        add_manual_push_routes(app, handlers, producer.send_all, AbmRecords(session, settings.mapper_url))
        add_openapi_route(app, pusher_openapi())

        async def redrive(stop: asyncio.Event) -> None:
            await handlers.parked.run(handlers.redrive, handlers.give_up, producer.send_all, stop)

        async def close_windows(stop: asyncio.Event) -> None:
            await close_windows_until_stopped(handlers.store, producer.send_all, stop)

        parked_pushes = parked_pushes_gauge(infrastructure.registry)

        async def report_parked(stop: asyncio.Event) -> None:
            await handlers.parked.report(parked_pushes, stop)

        yield ServiceParts(
            app,
            Consumer(
                handlers.by_event_type(),
                handlers.batch_handlers(),
                read_first=SETTINGS_FIRST,
                tenant_concurrency=settings.tenant_concurrency,
            ),
            workers=[redrive, close_windows, report_parked],
            expiring=expiring_tables(settings),
        )


async def run_service(settings: PusherSettings, *, after_create: Callable[[], None] = lambda: None) -> None:
    """Run the pusher until SIGTERM or SIGINT, then stop consuming, commit and close.

    `after_create` runs right after every create call Pipedrive answered: a seam for tests that inject
    a crash there (tests/integration/pusher/killed_after_create.py); production passes nothing.
    """
    await run_service_process(
        SERVICE,
        settings,
        partial(assemble, after_create=after_create),
        install_tables,
        development_keys=settings.pipedrive.development_keys,
    )
