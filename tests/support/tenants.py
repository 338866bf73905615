"""A tenant of a test's own, as the services' APIs know it: registered, with an API key; and a service's
tenant API served to a test client as its bootstrap builds it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tenant_auth.middleware import tenant_api_app
from tenant_auth.registry import TenantRegistry

Client = TestClient[web.Request, web.Application]


async def new_tenant_headers(registry: TenantRegistry, tenant: str) -> dict[str, str]:
    """Register `tenant` (named after its id) and issue it an API key; the `Authorization` header the
    tenant's calls carry."""
    await registry.create_tenant(tenant, tenant)
    key = await registry.issue_key(tenant)
    return {"Authorization": f"Bearer {key.full_key}"}


async def new_tenant(registry: TenantRegistry) -> tuple[str, dict[str, str]]:
    """A tenant of a fresh id (`t` and 8 hex digits), registered with an API key: its id and the
    `Authorization` header its calls carry."""
    tenant = f"t{secrets.token_hex(4)}"
    return tenant, await new_tenant_headers(registry, tenant)


@asynccontextmanager
async def tenant_api_client(
    pool: asyncpg.Pool, add_routes: Callable[[web.Application], object]
) -> AsyncIterator[tuple[Client, TenantRegistry]]:
    """A test client of a tenant API as the services' bootstraps build it (`tenant_api_app`: a tenant's
    API key on every call, the API guards) with the routes `add_routes` mounts; and the tenant registry
    (installed) to register the test's tenants in."""
    registry = TenantRegistry(pool)
    await registry.install()
    app = tenant_api_app(registry)
    add_routes(app)
    async with TestClient(TestServer(app)) as client:
        yield client, registry
