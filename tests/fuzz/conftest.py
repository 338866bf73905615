"""Each service's HTTP app assembled by its own composition root (`bootstrap.assemble`) on the real
PostgreSQL (a fresh schema per service) and Kafka, with the skeleton's operational routes, served on a
free port; a tenant with an API key to call it with."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import asyncpg
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from mapper.bootstrap import assemble as assemble_mapper
from mapper.bootstrap import install_tables as install_mapper_tables
from mapper.settings import MapperSettings
from pipedrive_client import PipedriveClientSettings
from pipedrive_sandbox import SandboxConfig, SandboxHandle, run_sandbox
from postgres_store.pool import create_pool
from service_runtime.health import add_operational_routes
from service_runtime.http_server import ApiRunner
from service_runtime.skeleton import Infrastructure, ServiceParts, readiness_checks
from stream_runner.producer import EventProducer
from tenant_auth.registry import TenantRegistry
from tests.topic_namespace import NAMESPACE

pytestmark = pytest.mark.integration


class Assemble(Protocol):
    def __call__(
        self, settings: Any, infrastructure: Infrastructure
    ) -> AbstractAsyncContextManager[ServiceParts]: ...


@pytest.fixture(scope="session")
async def infrastructure(database_url: str, kafka_bootstrap: str) -> AsyncIterator[Infrastructure]:
    """A pool sized like a service's and a started producer, as the skeleton opens them."""
    pool = await create_pool(database_url, min_size=1, max_size=10)
    producer = EventProducer(kafka_bootstrap, client_id="fuzz", namespace=NAMESPACE)
    await producer.start()
    yield Infrastructure(pool, producer, CollectorRegistry())
    await producer.stop()
    await pool.close()


@asynccontextmanager
async def served(assemble: Assemble, settings: Any, infrastructure: Infrastructure) -> AsyncIterator[str]:
    """The service's app as the skeleton serves it (its own routes and /healthz /readyz /metrics), on a
    free port of 127.0.0.1; its workers and consumer are not run. Yields the base URL."""
    service = Infrastructure(infrastructure.pool, infrastructure.producer, CollectorRegistry())
    async with assemble(settings, service) as parts:
        add_operational_routes(parts.app, readiness_checks(service), service.registry)
        runner = ApiRunner(parts.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()


@asynccontextmanager
async def fresh_schema(pool: asyncpg.Pool, prefix: str) -> AsyncIterator[str]:
    """A schema name of its own, dropped afterwards."""
    schema = f"fuzz_{prefix}_{secrets.token_hex(4)}"
    try:
        yield schema
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def tenant_headers(pool: asyncpg.Pool) -> dict[str, str]:
    """A new tenant's API key, as the header every call carries (its own tenant: what the fuzzer creates,
    changes or pushes belongs to no other test)."""
    registry = TenantRegistry(pool)
    await registry.install()
    tenant = f"fz{secrets.token_hex(5)}"
    await registry.create_tenant(tenant, tenant)
    key = await registry.issue_key(tenant)
    return {"Authorization": f"Bearer {key.full_key}"}


@pytest.fixture(scope="session")
async def mapper_url(infrastructure: Infrastructure) -> AsyncIterator[str]:
    """The mapper's API, served: fuzzed itself, and what the connector's import previews and the pusher's
    pushes by ABM id call."""
    async with fresh_schema(infrastructure.pool, "mapper") as schema:
        await install_mapper_tables(infrastructure.pool, schema)
        async with served(assemble_mapper, MapperSettings(db_schema=schema), infrastructure) as url:
            yield url


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[SandboxHandle]:
    """The Pipedrive the connector and the pusher call: the local sandbox, never Pipedrive."""
    async with run_sandbox(SandboxConfig(organizations=5, persons_per_organization=1)) as handle:
        yield handle


def sandbox_client_settings(sandbox: SandboxHandle, client_schema: str) -> PipedriveClientSettings:
    """The shared Pipedrive client's settings, allowed to call only the sandbox."""
    return PipedriveClientSettings(
        client_schema=client_schema,
        allowed_test_urls=(sandbox.base_url,),
        oauth_base_url=sandbox.base_url,
        oauth_client_id=sandbox.state.config.oauth_client_id,
        oauth_client_secret=SecretStr(sandbox.state.config.oauth_client_secret),
    )
