"""The connector assembled on the real PostgreSQL (fresh schemas) and Kafka, against an in-process sandbox
whose received requests are validated against Pipedrive's OpenAPI specs; its API served on a test server."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import SecretStr

from connector.bootstrap import Connector, assemble, install_tables
from connector.queued_runs import Run
from connector.settings import ConnectorSettings
from mapper.bootstrap import add_api_routes as add_mapper_api_routes
from mapper.bootstrap import install_tables as install_mapper_tables
from pipedrive_client import PipedriveClientSettings, RetryPolicy
from pipedrive_sandbox import SandboxConfig
from schemas.topics import ALL_TOPICS, BULK_SOURCE_CHANGES, SETTINGS, SOURCE_CHANGES, SYNC_RUNS
from service_runtime.http_guards import api_middlewares
from stream_runner.producer import EventProducer
from tenant_auth.middleware import tenant_auth_middleware
from tenant_auth.registry import TenantRegistry
from tests.pipedrive_client.sandbox_server import (
    RecordingSandbox,
    SandboxTime,
    recording_sandbox,
    validate_all_against_spec,
)
from tests.sandbox.spec_check import Specs
from tests.support.ports import free_port
from tests.support.schemas import drop_schemas, fresh_schema
from tests.support.service_process import ServiceProcess
from tests.support.tenants import new_tenant_headers
from tests.topic_namespace import NAMESPACE

ApiClient = TestClient[web.Request, web.Application]
_REGISTRY = {spec.name: spec for spec in ALL_TOPICS}


SOURCE_CHANGE_TOPICS = (BULK_SOURCE_CHANGES, SOURCE_CHANGES)
"""The topics of the connector's source changes: bulk reads' (imports, first syncs), then the live ones
(a test's bulk reads come first, so its events read in the order they were emitted)."""


async def events_of(
    reader: TopicReader, marks: dict[str, Any], tenant: str, topic: str | None
) -> list[dict[str, Any]]:
    """The tenant's events on `topic` since `marks` (by default on both source-change topics)."""
    topics = [topic] if topic is not None else [t.name for t in SOURCE_CHANGE_TOPICS]
    return [e for name in topics for e in await reader.events_since(name, marks[name], tenant)]


class TopicReader:
    """Reads back what was produced to topics (named by their logical names) after a mark, for one tenant
    (one consumer, no group)."""

    def __init__(self, bootstrap: str) -> None:
        # The partitions a read assigned stay assigned and are fetched from in the background, and the
        # broker answers the next read's offset request and fetch only after that fetch has waited out
        # fetch_max_wait_ms for new messages (500 by default: a second call of `events` took 0.9 s, 0.09
        # with 50). A topic's first offset request waits for its metadata, then retries after
        # retry_backoff_ms (100 by default: 0.1 s for each of the harness's three marks, 0.012 with 10).
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            fetch_max_wait_ms=50,
            retry_backoff_ms=10,
        )

    async def start(self) -> None:
        """Connect."""
        await self._consumer.start()

    async def stop(self) -> None:
        """Disconnect."""
        with contextlib.suppress(asyncio.CancelledError):
            await self._consumer.stop()

    async def end_offsets(self, topic: str) -> dict[TopicPartition, int]:
        """The current end of every partition of a (logical) topic of the registry. Its partitions are the
        registry's (the session's topics were checked against it), not looked up in the metadata of every
        topic on the shared cluster (40 to 80 ms of CPU a call with 300 topics there)."""
        physical = NAMESPACE.topic(topic)
        partitions = [TopicPartition(physical, p) for p in range(_REGISTRY[topic].partitions)]
        ends: dict[TopicPartition, int] = await self._consumer.end_offsets(partitions)
        return ends

    async def _since(self, topic: str, marks: dict[TopicPartition, int]) -> list[ConsumerRecord[Any, Any]]:
        """Every message on `topic` between the marks and the current end, of every tenant, each partition's
        in offset order."""
        ends = await self.end_offsets(topic)
        wanted = [tp for tp, end in ends.items() if end > marks.get(tp, 0)]
        self._consumer.assign(wanted)
        for tp in wanted:
            self._consumer.seek(tp, marks.get(tp, 0))
        found: list[ConsumerRecord[Any, Any]] = []
        remaining = set(wanted)
        while remaining:
            batch = await self._consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset < ends[tp]:
                        found.append(message)
                    if message.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return found

    async def raw_since(self, topic: str, marks: dict[TopicPartition, int]) -> list[bytes]:
        """Every message on `topic` between the marks and the current end (key, headers and value), of
        every tenant: what a search for a leaked secret must look through."""
        return [
            b" ".join((m.key or b"", b" ".join(k.encode() + b"=" + v for k, v in m.headers), m.value or b""))
            for m in await self._since(topic, marks)
        ]

    async def events_since(
        self, topic: str, marks: dict[TopicPartition, int], tenant: str
    ) -> list[dict[str, Any]]:
        """Every event of `tenant` on `topic` between the marks and the current end, in offset order."""
        events = []
        for message in await self._since(topic, marks):
            event = orjson.loads(message.value) if message.value else {}
            if event.get("tenantid") == tenant:
                events.append({**event, "_key": (message.key or b"").decode()})
        return events


@dataclass
class ConnectorHarness:
    """One assembled connector, its API client, a tenant with a key, the sandbox and a topic reader."""

    connector: Connector
    api: ApiClient
    registry: TenantRegistry
    sandbox: RecordingSandbox
    reader: TopicReader
    tenant: str
    headers: dict[str, str]
    marks: dict[str, dict[TopicPartition, int]]
    return_origin: str
    """An origin on the connector's OAuth return allow-list (nothing listens there until a test does)."""

    async def connect_by_token(self) -> None:
        """Connect the tenant with the sandbox's API token."""
        response = await self.api.post(
            "/v1/connection/api-token",
            json={"api_token": self.sandbox.handle.api_token},
            headers=self.headers,
        )
        assert response.status == 200, await response.text()

    async def events(self, topic: str | None = None) -> list[dict[str, Any]]:
        """The tenant's events on `topic` since the test began (by default its source changes, bulk reads'
        first)."""
        return await events_of(self.reader, self.marks, self.tenant, topic)

    async def run_events(self) -> list[dict[str, Any]]:
        """The connector's own run events of the tenant since the test began: every mapper on this Kafka
        (`make up`'s, other tests') applies the tenant's changes too and reports apply runs on the topic."""
        return [e for e in await self.events(SYNC_RUNS.name) if e["source"] == "/connector"]

    async def work_interrupted(
        self,
        run: Run,
        target: object,
        method: str,
        fails: Callable[[int, tuple[Any, ...]], bool],
        reason: str,
    ) -> None:
        """Work the run while `target.method` raises ConnectionError(`reason`) at the calls `fails` picks
        (by the call's number, from 1, and its arguments), as if the database or the broker went away
        there; the work must end in that error. The method is the original again afterwards."""
        original = getattr(target, method)
        calls = 0

        async def interrupted(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if fails(calls, args):
                raise ConnectionError(reason)
            return await original(*args, **kwargs)

        setattr(target, method, interrupted)
        try:
            with pytest.raises(ConnectionError, match=reason):
                await self.connector.executor.work(run)
        finally:
            setattr(target, method, original)

    async def new_tenant_headers(self, tenant: str) -> dict[str, str]:
        """A second tenant with its own key."""
        return await new_tenant_headers(self.registry, tenant)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """A small Lite company; tests override it for more data."""
    return SandboxConfig(organizations=30)


@pytest.fixture(scope="session")
def specs() -> Specs:
    """Pipedrive's published OpenAPI specs."""
    return Specs.load()


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig, specs: Specs) -> AsyncIterator[RecordingSandbox]:
    """A fresh sandbox; every request the connector sent it is checked against the spec at the end."""
    async with recording_sandbox(sandbox_config) as running:
        yield running
    validate_all_against_spec(specs, running.api_requests())


@pytest.fixture(scope="session")
async def connector_producer(kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
    """The idempotent producer the connector writes with."""
    producer = EventProducer(kafka_bootstrap, client_id="connector-itest", namespace=NAMESPACE)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture(scope="session")
async def connector_schemas(pg_pool: asyncpg.Pool) -> AsyncIterator[tuple[str, str]]:
    """Fresh schemas of the connector and of the client for this session."""
    async with fresh_schema(pg_pool, "connector") as connector, fresh_schema(pg_pool, "pdc") as client:
        yield connector, client


@pytest.fixture(scope="session")
async def mapper_api(pg_pool: asyncpg.Pool) -> AsyncIterator[str]:
    """The mapper's HTTP API (the ABM store and its import dry runs) served in-process on a fresh schema
    of its own: what import previews ask. Its store stays empty unless a test fills it."""
    async with fresh_schema(pg_pool, "mapper_api", install_mapper_tables) as schema:
        registry = TenantRegistry(pg_pool)
        await registry.install()
        app = web.Application(middlewares=api_middlewares(tenant_auth_middleware(registry)))
        add_mapper_api_routes(app, pg_pool, schema)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        await runner.cleanup()


@pytest.fixture
def mapper_url(mapper_api: str) -> str:
    """Where the connector finds the mapper (a test module may give a mapper process instead)."""
    return mapper_api


@pytest.fixture
async def harness(
    pg_pool: asyncpg.Pool,
    connector_producer: EventProducer,
    connector_schemas: tuple[str, str],
    sandbox: RecordingSandbox,
    kafka_bootstrap: str,
    mapper_url: str,
) -> AsyncIterator[ConnectorHarness]:
    """The connector wired to the sandbox, with a fresh tenant and its API key."""
    port, return_port = free_port(), free_port()
    return_origin = f"http://127.0.0.1:{return_port}"
    settings = ConnectorSettings(
        db_schema=connector_schemas[0],
        pipedrive=PipedriveClientSettings(
            client_schema=connector_schemas[1],
            allowed_test_urls=(sandbox.base_url,),
            oauth_base_url=sandbox.base_url,
            oauth_client_id=sandbox.handle.state.config.oauth_client_id,
            oauth_client_secret=SecretStr(sandbox.handle.state.config.oauth_client_secret),
        ),
        default_api_base_url=sandbox.base_url,
        public_base_url=f"http://127.0.0.1:{port}",
        oauth_return_urls=(return_origin,),
        page_size=100,
        overlap_seconds=60,
        mapper_url=mapper_url,
    )
    retry = RetryPolicy(base_delay_seconds=0.01, max_delay_seconds=0.05, max_attempts=6)
    clock = SandboxTime(sandbox.handle.state.clock)
    reader = TopicReader(kafka_bootstrap)
    await reader.start()
    marks = {t.name: await reader.end_offsets(t.name) for t in (*SOURCE_CHANGE_TOPICS, SETTINGS, SYNC_RUNS)}
    await install_tables(pg_pool, settings.db_schema)
    async with assemble(settings, pg_pool, connector_producer, clock=clock, retry=retry) as connector:
        api: ApiClient = TestClient(TestServer(connector.app, port=port))
        await api.start_server()
        registry = TenantRegistry(pg_pool)
        tenant = f"t{secrets.token_hex(5)}"
        headers = await new_tenant_headers(registry, tenant)
        yield ConnectorHarness(
            connector, api, registry, sandbox, reader, tenant, headers, marks, return_origin
        )
        await api.close()
    await reader.stop()


@dataclass
class ConnectorProcesses:
    """`python -m connector` processes on fresh schemas, pointed at the sandbox, with a tenant and its key;
    each process logs to its own file under `log_dir`."""

    env: dict[str, str]
    pool: asyncpg.Pool
    sandbox: RecordingSandbox
    reader: TopicReader
    tenant: str
    headers: dict[str, str]
    log_dir: Path
    marks: dict[str, dict[TopicPartition, int]]

    @property
    def schema(self) -> str:
        """The connector's schema."""
        return self.env["CONNECTOR_DB_SCHEMA"]

    def process(self, name: str, **env: str) -> ServiceProcess:
        """A connector process (not started) whose webhook receiver is its own listener."""
        process = ServiceProcess("connector", {**self.env, **env}, self.log_dir / f"{name}.log")
        process.env["CONNECTOR_PUBLIC_BASE_URL"] = process.url
        return process

    async def run_row(self, run_id: str) -> dict[str, Any] | None:
        """The run as stored."""
        row = await self.pool.fetchrow(
            f"SELECT * FROM {self.schema}.runs WHERE tenant_id = $1 AND run_id = $2", self.tenant, run_id
        )
        return dict(row) if row is not None else None

    async def events(self, topic: str | None = None) -> list[dict[str, Any]]:
        """The tenant's events on `topic` since the test began (by default its source changes, bulk reads'
        first)."""
        return await events_of(self.reader, self.marks, self.tenant, topic)


@pytest.fixture
async def connector_processes(
    pg_pool: asyncpg.Pool, sandbox: RecordingSandbox, kafka_bootstrap: str, tmp_path: Path, mapper_api: str
) -> AsyncIterator[ConnectorProcesses]:
    """What connector process tests need; the schemas are dropped afterwards."""
    suffix = secrets.token_hex(4)
    schemas = (f"itest_connector_p{suffix}", f"itest_pdc_p{suffix}")
    env = {
        "CONNECTOR_DB_SCHEMA": schemas[0],
        "PIPEDRIVE_CLIENT_SCHEMA": schemas[1],
        "PIPEDRIVE_ALLOWED_TEST_URLS": sandbox.base_url,
        "CONNECTOR_DEFAULT_API_BASE_URL": sandbox.base_url,
        "PIPEDRIVE_OAUTH_BASE_URL": sandbox.base_url,
        "CONNECTOR_PAGE_SIZE": "50",
        "CONNECTOR_SCHEDULER_INTERVAL_S": "0.2",
        "CONNECTOR_MAPPER_URL": mapper_api,
    }
    registry = TenantRegistry(pg_pool)
    await registry.install()
    tenant = f"p{secrets.token_hex(5)}"
    headers = await new_tenant_headers(registry, tenant)
    reader = TopicReader(kafka_bootstrap)
    await reader.start()
    marks = {t.name: await reader.end_offsets(t.name) for t in (*SOURCE_CHANGE_TOPICS, SETTINGS, SYNC_RUNS)}
    try:
        yield ConnectorProcesses(
            env,
            pg_pool,
            sandbox,
            reader,
            tenant,
            headers,
            tmp_path,
            marks,
        )
    finally:
        await ServiceProcess.kill_all_running()
        await reader.stop()
        await drop_schemas(pg_pool, *schemas)
