"""The connector assembled in the benchmark's own process, as the benchmarks that count its tokens or its
CPU run it: on the real Kafka and PostgreSQL (KAFKA_BOOTSTRAP / DATABASE_URL, as `make bench` sets them)
against a sandbox, in schemas of the run's own that are dropped after; for the benchmarks where days must
pass in seconds, on the clock of a sandbox in this process, with its HTTP API served for a tenant."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestServer

from connector.bootstrap import Connector, assemble, install_tables
from connector.settings import ConnectorSettings
from pipedrive_client import PipedriveClientSettings
from pipedrive_sandbox import SandboxConfig, SandboxHandle, run_sandbox
from pipedrive_sandbox.clock import SandboxClock
from postgres_store.pool import create_pool
from stream_runner.producer import EventProducer
from tenant_auth.registry import TenantRegistry


class SandboxTime:
    """The connector's clock read from the sandbox's, so advancing the sandbox moves both."""

    def __init__(self, clock: SandboxClock) -> None:
        self._clock = clock

    def now(self) -> float:
        """The sandbox's time."""
        return self._clock.now()

    async def sleep(self, seconds: float) -> None:
        """Real waiting (the sandbox clock follows real time plus what was advanced)."""
        if seconds > 0:
            await asyncio.sleep(seconds)


@asynccontextmanager
async def connector_in_process(
    label: str, base_url: str, clock: SandboxTime | None = None, **settings: Any
) -> AsyncIterator[Connector]:
    """The connector against the sandbox at `base_url`, its tables in `bench_<label>_<hex>` and its
    Pipedrive client's in `bench_<label>_pdc_<hex>` (both dropped on the way out), its producer named
    `<label>-bench`; `settings` are further ConnectorSettings fields."""
    suffix = secrets.token_hex(4)
    connector_settings = ConnectorSettings(
        db_schema=f"bench_{label}_{suffix}",
        pipedrive=PipedriveClientSettings(
            client_schema=f"bench_{label}_pdc_{suffix}", allowed_test_urls=(base_url,)
        ),
        default_api_base_url=base_url,
        **settings,
    )
    pool = await create_pool(connector_settings.database_url.get_secret_value())
    producer = EventProducer(
        connector_settings.kafka_bootstrap,
        client_id=f"{label}-bench",
        namespace=connector_settings.topic_namespace,
    )
    await producer.start()
    try:
        await install_tables(pool, connector_settings.db_schema)
        async with assemble(connector_settings, pool, producer, clock=clock) as connector:
            yield connector
    finally:
        await producer.stop()
        for schema in (connector_settings.db_schema, connector_settings.pipedrive.client_schema):
            await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()


@asynccontextmanager
async def connector_api(connector: Connector, tenant: str) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """The connector's HTTP API served on a free port for `tenant` (registered here, with a new API key):
    its base URL and the headers its calls carry."""
    registry = TenantRegistry(connector.pool)
    await registry.create_tenant(tenant, tenant)
    key = await registry.issue_key(tenant)
    server = TestServer(connector.app)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), {"Authorization": f"Bearer {key.full_key}"}
    finally:
        await server.close()


@dataclass(frozen=True)
class SandboxDays:
    """A sandbox in this process and the connector on its clock, and a tenant's way into the connector's
    API (not connected to Pipedrive yet)."""

    sandbox: SandboxHandle
    connector: Connector
    tenant: str
    base: str
    headers: dict[str, str]


@asynccontextmanager
async def connector_on_sandbox_clock(label: str, organizations: int) -> AsyncIterator[SandboxDays]:
    """The sandbox served in this process (`organizations` seeded; its clock frozen, so time passes only
    as the benchmark advances it), the connector on that clock without schedule jitter, and its API
    served for a new tenant `<label><hex>`."""
    tenant = f"{label}{secrets.token_hex(4)}"
    async with (
        run_sandbox(SandboxConfig(organizations=organizations, frozen_clock=True)) as sandbox,
        connector_in_process(
            label, sandbox.base_url, SandboxTime(sandbox.state.clock), schedule_jitter_s=0
        ) as connector,
        connector_api(connector, tenant) as (base, headers),
    ):
        yield SandboxDays(sandbox, connector, tenant, base, headers)
