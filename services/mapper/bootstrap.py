"""The mapper's composition root: its tables, handlers, API and what it prunes, on the service skeleton."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from aiohttp import web

from mapper.audience_store import AudienceStore
from mapper.audiences_api import add_audience_routes
from mapper.handlers import MapperHandlers
from mapper.import_plans_api import add_import_plan_routes
from mapper.openapi import mapper_openapi
from mapper.settings import MapperSettings
from mapper.store import PostgresMapperStore
from postgres_store.inbox import install_inbox
from postgres_store.migrations import apply_migrations
from postgres_store.pruning import Expiry
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


def build_handlers(pool: asyncpg.Pool, schema: str) -> MapperHandlers:
    """The mapper's service layer on its tables in `schema`."""
    return MapperHandlers(PostgresMapperStore(pool, schema), SettingsReplica(pool, schema))


def add_api_routes(app: web.Application, pool: asyncpg.Pool, schema: str) -> None:
    """The mapper's API (audiences, import plans) over its tables in `schema`."""
    settings = SettingsReplica(pool, schema)
    add_audience_routes(app, AudienceStore(pool, schema), settings)
    add_import_plan_routes(app, PostgresMapperStore(pool, schema), settings)


@asynccontextmanager
async def assemble(settings: MapperSettings, infrastructure: Infrastructure) -> AsyncIterator[ServiceParts]:
    """The mapper's handlers and its API (audiences, import plans) on the skeleton's infrastructure."""
    pool, schema = infrastructure.pool, settings.db_schema
    handlers = build_handlers(pool, schema)
    load_public_suffix_list()  # match keys: loaded while starting, not by the first batch
    tenants = TenantRegistry(pool)
    await tenants.install()
    app = tenant_api_app(tenants)
    add_api_routes(app, pool, schema)
    add_openapi_route(app, mapper_openapi())
    consumer = Consumer(
        handlers.by_event_type(),
        handlers.batch_handlers(),
        handlers.dead_letter_handlers(),
        handlers.repeat_lookups(),
        read_first=SETTINGS_FIRST,
    )
    yield ServiceParts(app, consumer, expiring=expiring_tables(settings))


async def run_service(settings: MapperSettings) -> None:
    """Run the mapper until SIGTERM or SIGINT, then stop consuming, commit and close."""
    await run_service_process(SERVICE, settings, assemble, install_tables)
