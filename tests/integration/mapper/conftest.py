"""The mapper's handlers on a fresh schema of the real PostgreSQL (no Kafka: they are called directly)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from mapper.bootstrap import build_handlers, install_tables
from schemas.catalog import build_event, event_type_of
from schemas.envelope import CloudEvent
from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings
from schemas.events.source_changes import (
    ChangeAction,
    ChangeOrigin,
    DuplicateHandling,
    ImportContext,
    SourceChange,
)
from schemas.keys import settings_key, source_change_key
from schemas.topics import RECORD_RESULTS
from stream_runner.messages import Handled, IncomingMessage
from tests.support.event_dispatch import apply_as_consumed
from tests.support.schemas import schema_fixture
from tests.support.service_env import isolated_env


class MapperHarness:
    """Feeds events to the mapper's handlers and reads the store back."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool, self.schema = pool, schema
        self.tenant = f"t{uuid.uuid4().hex[:8]}"
        self.handlers = build_handlers(pool, schema)
        self.offset = 0

    async def send(self, payload: Any, *, subject: str | None = None, event_id: str | None = None) -> Handled:
        kind = event_type_of(payload)
        event = build_event(
            payload,
            tenant=self.tenant,
            subject=subject or f"{self.tenant}:x",
            source="/itest",
            id_parts=(event_id or uuid.uuid4().hex,),
            time=datetime.now(UTC),
            correlationid="run-1",
        )
        return await self.deliver(event, kind.topic.name)

    async def deliver(self, event: CloudEvent[Any], topic: str) -> Handled:
        self.offset += 1
        message = IncomingMessage(topic, 0, self.offset, event.subject.encode(), b"")
        handlers = self.handlers
        return await apply_as_consumed(handlers.by_event_type(), handlers.batch_handlers(), event, message)

    async def change(
        self,
        obj: SyncObject,
        pipedrive_id: int,
        record: dict[str, Any] | None,
        *,
        at: str = "2026-11-01T10:00:00Z",
        action: ChangeAction = ChangeAction.UPSERTED,
        duplicates: DuplicateHandling | None = None,
        merged_into: int | None = None,
    ) -> Handled:
        change = SourceChange(
            object=obj,
            pipedrive_id=pipedrive_id,
            action=action,
            update_time=datetime.fromisoformat(at),
            record=None if record is None else {"id": pipedrive_id, **record},
            merged_into_id=merged_into,
            origin=ChangeOrigin.IMPORT if duplicates else ChangeOrigin.POLL,
            import_context=ImportContext(import_id="imp-1", duplicate_handling=duplicates)
            if duplicates
            else None,
        )
        subject = source_change_key(self.tenant, obj, pipedrive_id)
        return await self.send(change, subject=subject, event_id=f"{subject}@{at}/{action.value}")

    async def settings(self, settings: TenantSettings) -> Handled:
        return await self.send(settings, subject=settings_key(self.tenant))

    async def rows(self, table: str) -> list[dict[str, Any]]:
        records = await self.pool.fetch(
            f"SELECT * FROM {self.schema}.{table} WHERE tenant_id = $1 ORDER BY 2", self.tenant
        )
        return [dict(r) for r in records]

    async def account(self, domain: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"SELECT * FROM {self.schema}.accounts"
            " WHERE tenant_id = $1 AND match_key = $2 AND NOT is_duplicate",
            self.tenant,
            domain,
        )
        assert row is not None, f"no account for {domain}"
        return dict(row)


def result_of(handled: Handled) -> dict[str, Any]:
    """The RecordApplied payload a handler emitted (besides the start of its apply run, if it began it)."""
    [result] = [m for m in handled.outputs if m.topic == RECORD_RESULTS.name]
    data: dict[str, Any] = orjson.loads(result.value)["data"]
    return data


mapper_schema = schema_fixture("mapper", install_tables, scope="session")


@pytest.fixture
def mapper(pg_pool: asyncpg.Pool, mapper_schema: str) -> MapperHarness:
    """A harness for a fresh tenant (tenants never see each other's rows)."""
    return MapperHarness(pg_pool, mapper_schema)


@pytest.fixture
async def mapper_env(
    pg_pool: asyncpg.Pool, kafka_admin: AIOKafkaAdminClient, kafka_bootstrap: str
) -> AsyncIterator[dict[str, str]]:
    """Environment of a mapper process with its own group (at the topics' end) and its own schema."""
    async with isolated_env(pg_pool, kafka_bootstrap, "mapper", commit_interval_s="0.2") as env:
        yield env
