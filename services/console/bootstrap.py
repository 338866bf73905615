"""The console's composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import aiohttp
import aiohttp_jinja2
import asyncpg
import jinja2
from aiohttp import web

from console.deps import DEPS, ConsoleDeps
from console.guards import change_guard, error_pages, refuse_nul_input, security_headers, session_guard
from console.oauth_start_store import OAuthStarts
from console.pages import add_page_routes
from console.service_api import ServiceApi
from console.service_key_store import KeySealer, ServiceKeys
from console.session_store import SessionStore
from console.settings import ConsoleSettings
from console.sign_in_limits import SignInLimits
from console.sign_in_store import FailedSignIns
from console.template_filters import FILTERS
from postgres_store.migrations import apply_migrations
from service_runtime.skeleton import Infrastructure, ServiceParts, run_service_process
from tenant_auth.registry import TenantRegistry
from tenant_auth.users import ConsoleUsers

SERVICE = "console"
HERE = Path(__file__).parent
MIGRATIONS = HERE / "migrations"


def build_deps(settings: ConsoleSettings, pool: asyncpg.Pool, http: aiohttp.ClientSession) -> ConsoleDeps:
    """The console's stores and clients over one pool and one HTTP session."""
    schema = settings.db_schema
    users = ConsoleUsers(pool)
    keys = ServiceKeys(
        pool,
        schema,
        TenantRegistry(pool),
        KeySealer(bytes.fromhex(settings.current_service_keys_key.get_secret_value())),
    )
    limits = SignInLimits(
        settings.failed_sign_ins_per_account,
        settings.failed_sign_ins_per_address,
        timedelta(minutes=settings.failed_sign_in_window_minutes),
    )
    return ConsoleDeps(
        settings=settings,
        users=users,
        sessions=SessionStore(
            pool,
            schema,
            users,
            idle=timedelta(minutes=settings.session_idle_minutes),
            max_age=timedelta(hours=settings.session_max_hours),
        ),
        failed_sign_ins=FailedSignIns(pool, schema, limits),
        services=ServiceApi(http, settings.service_urls(), keys, settings.service_timeout_s),
        oauth_starts=OAuthStarts(pool, schema),
    )


def create_app(settings: ConsoleSettings, pool: asyncpg.Pool) -> web.Application:
    """The console's application (its HTTP client session opened and closed with the app); the skeleton
    adds the operational routes."""
    app = web.Application(
        middlewares=[error_pages, security_headers, refuse_nul_input, session_guard, change_guard]
    )
    environment = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True
    )
    environment.filters.update(FILTERS)

    async def http_session(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            app[DEPS] = build_deps(settings, pool, session)
            yield

    app.cleanup_ctx.append(http_session)
    add_page_routes(app)
    app.router.add_static("/static/", HERE / "static", append_version=False)
    return app


async def install_tables(pool: asyncpg.Pool, schema: str) -> None:
    """The console's tables in `schema` (the accounts it signs in are tenant_auth's)."""
    await TenantRegistry(pool).install()
    await apply_migrations(pool, schema, MIGRATIONS)


@asynccontextmanager
async def assemble(settings: ConsoleSettings, infrastructure: Infrastructure) -> AsyncIterator[ServiceParts]:
    """The console's pages; it uses no Kafka and runs no worker."""
    yield ServiceParts(create_app(settings, infrastructure.pool))


async def run_service(settings: ConsoleSettings) -> None:
    """Serve the console until SIGTERM or SIGINT."""
    await run_service_process(
        SERVICE,
        settings,
        assemble,
        install_tables,
        kafka=False,
        development_keys=settings.development_keys,
    )
