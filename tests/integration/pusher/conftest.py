"""The pusher's handlers on a fresh schema of the real PostgreSQL, writing into an in-process sandbox."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest
from pydantic import SecretStr

from pipedrive_client import (
    ApiDomainPolicy,
    ApiTokenCredentials,
    PipedriveClientFactory,
    RetryPolicy,
    install_schema,
)
from pipedrive_sandbox import SandboxConfig, SandboxHandle, run_sandbox
from pipedrive_sandbox.store import Entity
from postgres_store.pool import create_pool
from pusher.bootstrap import build_handlers, install_tables
from pusher.handlers import PusherHandlers
from schemas.catalog import build_event, event_type_of
from schemas.codec import encode_event
from schemas.envelope import CloudEvent
from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import SyncObject
from schemas.events.settings import AutoPush, DirectionSwitches, FieldMapping, ObjectSettings, TenantSettings
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import record_key, settings_key, source_change_key
from stream_runner.messages import Handled, IncomingMessage
from tests.pipedrive_client.sandbox_server import SandboxTime
from tests.support.event_dispatch import apply_as_consumed
from tests.support.schemas import schema_fixture

BOTH_WAYS = DirectionSwitches(
    create_in_pipedrive=True, update_in_pipedrive=True, create_in_abm=True, update_in_abm=True
)
WRITES = {"POST", "PATCH", "PUT", "DELETE"}


def push_settings(version: int = 1, **objects: ObjectSettings) -> TenantSettings:
    """Auto-push on, organizations and persons synced both ways with the default mappings."""
    chosen = {
        SyncObject.ORGANIZATION: ObjectSettings(directions=BOTH_WAYS),
        SyncObject.PERSON: ObjectSettings(directions=BOTH_WAYS),
        SyncObject.DEAL: ObjectSettings(directions=BOTH_WAYS),
    }
    chosen.update({SyncObject(k): v for k, v in objects.items()})
    return TenantSettings(version=version, objects=chosen, auto_push=AutoPush(enabled=True), connected=True)


def reveal_message(tenant: str, domain: str, at: datetime) -> tuple[bytes, bytes]:
    """A reveal of `domain` (named after its first label) as the visitor platform publishes it: its key
    (the record key) and its value."""
    key = record_key(tenant, SyncObject.ORGANIZATION, domain)
    event = build_event(
        CompanyRevealed(domain=domain, name=domain.split(".")[0].title(), revealed_at=at),
        tenant=tenant, subject=key, source="/itest", id_parts=(key,), time=at,
    )  # fmt: skip
    return key.encode(), encode_event(event)


def mapped(abm: str, pipedrive: str, mode: str) -> FieldMapping:
    """A native field mapped toward Pipedrive with `mode`."""
    return FieldMapping(abm_field=abm, pipedrive_field=pipedrive, to_pipedrive=mode)  # type: ignore[arg-type]


class PusherHarness:
    """Feeds events to the pusher's handlers and reads the sandbox back."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        handlers: PusherHandlers,
        sandbox: SandboxHandle,
        clients: PipedriveClientFactory,
    ) -> None:
        self.pool, self.schema, self.handlers, self.sandbox = pool, schema, handlers, sandbox
        self.clients = clients
        self.by_type, self.batches = handlers.by_event_type(), handlers.batch_handlers()
        self.tenant = f"t{uuid.uuid4().hex[:8]}"
        self.offset = 0

    async def send(self, payload: Any, *, subject: str | None = None, event_id: str | None = None) -> Handled:
        event = build_event(
            payload,
            tenant=self.tenant,
            subject=subject or f"{self.tenant}:x",
            source="/itest",
            id_parts=(event_id or uuid.uuid4().hex,),
            time=datetime.now(UTC),
        )
        return await self.deliver(event)

    async def deliver(self, event: CloudEvent[Any]) -> Handled:
        self.offset += 1
        topic = event_type_of(event.data).topic.name
        message = IncomingMessage(topic, 0, self.offset, b"k", b"")
        return await apply_as_consumed(self.by_type, self.batches, event, message)

    async def settings(self, settings: TenantSettings) -> None:
        await self.send(settings, subject=settings_key(self.tenant))

    async def mirror(
        self, obj: SyncObject, record: dict[str, Any], at: str = "2026-01-01T00:00:00Z"
    ) -> Handled:
        change = SourceChange(
            object=obj,
            pipedrive_id=record["id"],
            action=ChangeAction.UPSERTED,
            update_time=datetime.fromisoformat(at),
            record=record,
            origin=ChangeOrigin.POLL,
        )
        return await self.send(change, subject=source_change_key(self.tenant, obj, record["id"]))

    def writes(self) -> list[tuple[str, str]]:
        """Every write call the sandbox received (method, path)."""
        return [(e.method, e.path) for e in self.sandbox.state.ledger.entries if e.method in WRITES]

    def calls(self) -> int:
        return len(self.sandbox.state.ledger.entries)

    def organizations(self, website: str) -> list[dict[str, Any]]:
        table = self.sandbox.state.tables[Entity.ORGANIZATION]
        return [r.data for r in table.live() if (r.data.get("website") or "") == website]

    def record(self, entity: Entity, pipedrive_id: int) -> dict[str, Any]:
        return dict(self.sandbox.state.tables[entity].records[pipedrive_id].data)


def results_of(handled: Handled) -> list[dict[str, Any]]:
    """The PushCompleted payloads a handler emitted."""
    import orjson

    return [orjson.loads(m.value)["data"] for m in handled.outputs if m.topic == "psync.push-results.v1"]


@pytest.fixture(scope="session")
async def pusher_pool(database_url: str, pg_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A pool sized like the service's (record locks hold a connection while a push runs)."""
    pool = await create_pool(database_url, min_size=1, max_size=20)
    yield pool
    await pool.close()


pusher_schema = schema_fixture("pusher", install_tables, scope="session")
client_schema = schema_fixture("pdc", install_schema, scope="session")


@pytest.fixture(scope="session")
def credentials_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    async with run_sandbox(SandboxConfig(organizations=0, persons_per_organization=0)) as handle:
        yield handle


@pytest.fixture
async def clients(
    pusher_pool: asyncpg.Pool, client_schema: str, credentials_key: bytes, sandbox: SandboxHandle
) -> AsyncIterator[PipedriveClientFactory]:
    async with aiohttp.ClientSession() as session:
        yield PipedriveClientFactory(
            session,
            pusher_pool,
            credentials_key,
            policy=ApiDomainPolicy((sandbox.base_url,)),
            retry=RetryPolicy(max_attempts=2, base_delay_seconds=0.01, max_delay_seconds=0.05),
            schema=client_schema,
            clock=SandboxTime(sandbox.state.clock),  # a closed window's wait passes on the sandbox's clock
        )


@pytest.fixture
async def pusher(
    pusher_pool: asyncpg.Pool, pusher_schema: str, clients: PipedriveClientFactory, sandbox: SandboxHandle
) -> PusherHarness:
    """A harness for a fresh tenant connected to the sandbox with its API token, auto-push on."""
    handlers = build_handlers(pusher_pool, pusher_schema, clients)
    harness = PusherHarness(pusher_pool, pusher_schema, handlers, sandbox, clients)
    await clients.credentials.save(
        harness.tenant, ApiTokenCredentials(SecretStr(sandbox.api_token), sandbox.base_url)
    )
    await harness.settings(push_settings())
    return harness
