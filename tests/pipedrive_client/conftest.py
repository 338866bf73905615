"""Fixtures of the client's tests: its schema on the real PostgreSQL, a tenant per test, a recording
sandbox whose received requests are all validated against the OpenAPI specs, and a client factory."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
from pydantic import SecretStr

from pipedrive_client import (
    ApiDomainPolicy,
    ApiTokenCredentials,
    OAuthApp,
    PipedriveClientFactory,
    RetryPolicy,
    install_schema,
)
from pipedrive_sandbox import SandboxConfig
from tests.pipedrive_client.sandbox_server import (
    RecordingSandbox,
    recording_sandbox,
    validate_all_against_spec,
)
from tests.sandbox.spec_check import Specs
from tests.support.schemas import schema_fixture

REDIRECT_URI = "https://abm.example/pipedrive/callback"


schema = schema_fixture("pdc_test", install_schema, scope="session")
"""A schema of the client's own for this test session, dropped at the end."""


@pytest.fixture
def tenant() -> str:
    """A tenant id of this test only."""
    return f"tenant-{secrets.token_hex(6)}"


@pytest.fixture(scope="session")
def credentials_key() -> bytes:
    """The AES-256 key the tests encrypt credentials with."""
    return os.urandom(32)


@pytest.fixture(scope="session")
def specs() -> Specs:
    """Pipedrive's published OpenAPI specs (parsed once, cached)."""
    return Specs.load()


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """A small Lite company; tests that need more override this fixture."""
    return SandboxConfig(organizations=20)


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig, specs: Specs) -> AsyncIterator[RecordingSandbox]:
    """A fresh sandbox; at the end every request the client sent to it is checked against the spec."""
    async with recording_sandbox(sandbox_config) as running:
        yield running
    validate_all_against_spec(specs, running.api_requests())


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    """The one `ClientSession` a service would pass to the client."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def oauth_app(sandbox: RecordingSandbox) -> OAuthApp:
    """The sandbox's OAuth client."""
    config = sandbox.handle.state.config
    return OAuthApp(
        config.oauth_client_id, SecretStr(config.oauth_client_secret), REDIRECT_URI, sandbox.base_url
    )


FactoryMaker = Callable[..., PipedriveClientFactory]


@pytest.fixture
def make_factory(
    http_session: aiohttp.ClientSession,
    pg_pool: asyncpg.Pool,
    credentials_key: bytes,
    schema: str,
    sandbox: RecordingSandbox,
    oauth_app: OAuthApp,
) -> FactoryMaker:
    """Builds client factories (one per simulated replica) wired to the sandbox and the test schema;
    keyword arguments override the defaults."""

    def make(**overrides: Any) -> PipedriveClientFactory:
        options: dict[str, Any] = {
            "oauth_app": oauth_app,
            "policy": ApiDomainPolicy((sandbox.base_url,)),
            "retry": RetryPolicy(base_delay_seconds=0.01, max_delay_seconds=0.05),
            "schema": schema,
        }
        return PipedriveClientFactory(http_session, pg_pool, credentials_key, **{**options, **overrides})

    return make


@pytest.fixture
def factory(make_factory: FactoryMaker) -> PipedriveClientFactory:
    """A client factory wired to the sandbox (its URL is on the allow-list) and to the test schema."""
    return make_factory()


@pytest.fixture
async def api_token_tenant(factory: PipedriveClientFactory, sandbox: RecordingSandbox, tenant: str) -> str:
    """The test's tenant connected with the sandbox's API token."""
    credentials = ApiTokenCredentials(SecretStr(sandbox.handle.api_token), sandbox.base_url)
    await factory.credentials.save(tenant, credentials)
    return tenant
