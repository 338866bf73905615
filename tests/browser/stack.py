"""The whole product for browser tests: the sandbox (in-process, on a free port) and every service as its
own process on free ports, with fresh schemas and consumer groups positioned at the end of their topics,
so the tests see only what they cause. One stack serves every browser test; each test has its own tenant."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from pipedrive_sandbox import SandboxConfig, SandboxHandle, run_sandbox
from schemas.catalog import build_event, event_type_of
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import SyncObject
from schemas.keys import record_key
from schemas.topics import topics_consumed_by
from tenant_auth.passwords import new_password
from tenant_auth.registry import TenantRegistry
from tenant_auth.users import ConsoleUsers, Role
from tests.support.kafka_offsets import position_group_at_end
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess
from tests.topic_namespace import NamespacedProducer

CONSUMERS = ("mapper", "pusher", "auditlog")


@dataclass(frozen=True)
class ConsoleUser:
    """Someone who signs in: email and password."""

    email: str
    password: str


@dataclass(frozen=True)
class Tenant:
    """A tenant of the stack with an admin and a viewer, and an API key for arranging things."""

    tenant_id: str
    admin: ConsoleUser
    viewer: ConsoleUser
    api_key: str


BROWSER_SANDBOX = SandboxConfig(organizations=40, seats=3, deals_per_organization=1.0)
"""The Pipedrive company the browser tests (and `python -m tests.browser.manual_stack`) run against."""


class Stack:
    """The processes, their schemas, and helpers to arrange tenants."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bootstrap: str,
        sandbox: SandboxHandle,
        logs: Path,
        more_sandboxes: Sequence[SandboxHandle] = (),
    ) -> None:
        """`more_sandboxes`: other Pipedrive companies tenants may connect to (by `api_base_url`)."""
        self.pool, self.bootstrap, self.sandbox, self.logs = pool, bootstrap, sandbox, logs
        self.more_sandboxes = more_sandboxes
        self.uid = uuid.uuid4().hex[:8]
        self.schemas = [f"itest_{name}_b{self.uid}" for name in (*CONSUMERS, "connector", "pdc", "console")]
        self.console = ServiceProcess("console", {}, logs / "console.log")
        self.connector = ServiceProcess("connector", {}, logs / "connector.log")
        self.consumers = {name: ServiceProcess(name, {}, logs / f"{name}.log") for name in CONSUMERS}
        self.producer = NamespacedProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)

    @property
    def processes(self) -> list[ServiceProcess]:
        """Every service process of the stack."""
        return [self.connector, *self.consumers.values(), self.console]

    def _configure(self) -> None:
        sandbox, uid, config = self.sandbox.base_url, self.uid, self.sandbox.state.config
        shared = {  # the Pipedrive client of the connector and the pusher
            "PSYNC_CREDENTIALS_KEY": uuid.uuid4().hex * 2,
            "PIPEDRIVE_CLIENT_SCHEMA": f"itest_pdc_b{uid}",
            "PIPEDRIVE_ALLOWED_TEST_URLS": ",".join([sandbox, *(s.base_url for s in self.more_sandboxes)]),
            "PIPEDRIVE_OAUTH_BASE_URL": sandbox,
            "PIPEDRIVE_OAUTH_CLIENT_ID": config.oauth_client_id,
            "PIPEDRIVE_OAUTH_CLIENT_SECRET": config.oauth_client_secret,
            "PIPEDRIVE_OAUTH_REDIRECT_URI": f"{self.console.url}/pipedrive/callback",
        }
        self.connector.env.update(
            shared,
            CONNECTOR_DB_SCHEMA=f"itest_connector_b{uid}",
            CONNECTOR_DEFAULT_API_BASE_URL=sandbox,
            CONNECTOR_PUBLIC_BASE_URL=self.connector.url,
            CONNECTOR_OAUTH_RETURN_URLS=self.console.url,
            CONNECTOR_SCHEDULER_INTERVAL_S="0.5",
            CONNECTOR_MAPPER_URL=self.consumers["mapper"].url,
        )
        for name, process in self.consumers.items():
            prefix = name.upper()
            process.env.update(
                {
                    f"{prefix}_GROUP_ID": f"itest-{name}-b{uid}",
                    f"{prefix}_DB_SCHEMA": f"itest_{name}_b{uid}",
                    f"{prefix}_COMMIT_INTERVAL_S": "0.2",
                }
            )
        self.consumers["pusher"].env.update(shared, PUSHER_MAPPER_URL=self.consumers["mapper"].url)
        # Where the auditlog sends a retry of a run's failed records: this stack's own services.
        self.consumers["auditlog"].env.update(
            AUDITLOG_PUSHER_URL=self.consumers["pusher"].url, AUDITLOG_CONNECTOR_URL=self.connector.url
        )
        self.console.env.update(
            CONSOLE_DB_SCHEMA=f"itest_console_b{uid}",
            CONSOLE_PUBLIC_URL=self.console.url,
            CONSOLE_CONNECTOR_URL=self.connector.url,
            CONSOLE_MAPPER_URL=self.consumers["mapper"].url,
            CONSOLE_PUSHER_URL=self.consumers["pusher"].url,
            CONSOLE_AUDITLOG_URL=self.consumers["auditlog"].url,
        )

    async def start(self) -> None:
        """Position the consumer groups, then start every process and wait until each is ready."""
        self._configure()
        await self.producer.start()
        await asyncio.gather(
            *(
                position_group_at_end(self.bootstrap, f"itest-{name}-b{self.uid}", topics_consumed_by(name))
                for name in CONSUMERS
            )
        )
        for process in self.processes:
            await process.start()
        await asyncio.gather(*(p.wait_ready(within_s=90) for p in self.processes))

    async def stop(self) -> None:
        """SIGTERM every process (SIGKILL what does not stop), then drop the schemas."""
        await self.producer.stop()
        for process in self.processes:
            if process.process is not None and process.process.returncode is None:
                try:
                    await process.terminate(within_s=20)
                except TimeoutError:
                    await process.kill()
        await drop_schemas(self.pool, *self.schemas)

    async def new_tenant(self) -> Tenant:
        """A fresh tenant with an admin and a viewer (and an API key for arranging things)."""
        tenant_id = f"b{self.uid}{uuid.uuid4().hex[:6]}"
        registry, users = TenantRegistry(self.pool), ConsoleUsers(self.pool)
        await registry.create_tenant(tenant_id, f"Browser test {tenant_id}")
        key = await registry.issue_key(tenant_id, "test")
        admin = ConsoleUser(f"admin@{tenant_id}.example", new_password())
        viewer = ConsoleUser(f"viewer@{tenant_id}.example", new_password())
        await users.add(tenant_id, admin.email, Role.ADMIN, admin.password)
        await users.add(tenant_id, viewer.email, Role.VIEWER, viewer.password)
        return Tenant(tenant_id, admin, viewer, key.full_key)

    async def api(self, tenant: Tenant, service: str, method: str, path: str, body: object = None) -> Any:
        """Arrange or observe through a service's public API with the tenant's own key."""
        process = self.connector if service == "connector" else self.consumers[service]
        headers = {"Authorization": f"Bearer {tenant.api_key}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, process.url + path, json=body, headers=headers) as response,
        ):
            assert response.status < 300, f"{method} {path}: {response.status} {await response.text()}"
            return await response.json()

    async def reveal(self, tenant: Tenant, domain: str, name: str, **more: Any) -> None:
        """The visitor-identification platform reveals a company (abm.company-revealed.v1)."""
        now = datetime.now(UTC)
        payload = CompanyRevealed(domain=domain, name=name, revealed_at=now, **more)
        key = record_key(tenant.tenant_id, SyncObject.ORGANIZATION, domain)
        event = build_event(
            payload, tenant=tenant.tenant_id, subject=key, source="/itest/visitor-platform",
            id_parts=(domain, now.isoformat()), time=now,
        )  # fmt: skip
        await self.producer.send_and_wait(
            event_type_of(payload).topic.name, encode_event(event), key=key.encode()
        )


@asynccontextmanager
async def running_stack(
    pool: asyncpg.Pool, bootstrap: str, config: SandboxConfig, logs: Path
) -> AsyncIterator[Stack]:
    """The sandbox (in this process, seeded as `config` says) and every service started on it, their
    logs in `logs`; all stopped on the way out."""
    async with run_sandbox(config) as sandbox:
        stack = Stack(pool, bootstrap, sandbox, logs)
        try:
            await stack.start()
            yield stack
        finally:
            await stack.stop()
