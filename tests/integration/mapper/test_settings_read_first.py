"""A mapper starting on a new schema under a group that read its tenant's settings already (a restored
or new schema) reads the settings topic from its beginning before any source change: a tenant that syncs
organizations only into Pipedrive gets no ABM account from an organization read afterwards (without its
settings, the mapper's defaults would import it into ABM)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import SyncObject
from schemas.events.settings import DirectionSwitches, ObjectSettings, TenantSettings
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import settings_key, source_change_key
from schemas.topics import SETTINGS, SOURCE_CHANGES, topics_consumed_by
from tests.support.conditions import eventually
from tests.support.kafka_offsets import position_group_at_end
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
INTO_PIPEDRIVE_ONLY = DirectionSwitches(
    create_in_pipedrive=True, update_in_pipedrive=True, create_in_abm=False, update_in_abm=False
)


async def test_settings_published_before_the_groups_offsets_apply_to_the_changes_after_them(
    pg_pool: asyncpg.Pool, kafka_bootstrap: str, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    uid = uuid.uuid4().hex[:8]
    tenant, schema, group = f"ms{uid}", f"itest_mapper_first_{uid}", f"itest-mapper-first-{uid}"
    settings = TenantSettings(
        version=1, objects={SyncObject.ORGANIZATION: ObjectSettings(directions=INTO_PIPEDRIVE_ONLY)}
    )
    event = build_event(
        settings, tenant=tenant, subject=settings_key(tenant), source="/itest", id_parts=(uid,), time=NOW
    )
    await producer.send_and_wait(SETTINGS.name, encode_event(event), key=tenant.encode())
    await position_group_at_end(kafka_bootstrap, group, topics_consumed_by("mapper"))
    key = source_change_key(tenant, SyncObject.ORGANIZATION, 1)
    change = SourceChange(
        object=SyncObject.ORGANIZATION, pipedrive_id=1, action=ChangeAction.UPSERTED, update_time=NOW,
        record={"id": 1, "name": "Acme", "website": "acme.io"}, origin=ChangeOrigin.POLL,
    )  # fmt: skip
    event = build_event(change, tenant=tenant, subject=key, source="/itest", id_parts=(key,), time=NOW)
    await producer.send_and_wait(SOURCE_CHANGES.name, encode_event(event), key=key.encode())
    env = {"MAPPER_GROUP_ID": group, "MAPPER_DB_SCHEMA": schema, "MAPPER_COMMIT_INTERVAL_S": "0.2"}
    process = ServiceProcess("mapper", env, tmp_path / "mapper.log")
    try:
        await process.start()
        await process.wait_ready()
        await eventually(
            lambda: process.messages_processed(None, SOURCE_CHANGES.name),
            lambda handled: handled >= 1,
            within_s=60,
            what=f"the change handled (the mapper's log: {process.log_path})",
        )
        accounts = await pg_pool.fetchval(
            f"SELECT count(*) FROM {schema}.accounts WHERE tenant_id = $1", tenant
        )
        assert accounts == 0
        assert await process.terminate() == 0
    finally:
        await drop_schemas(pg_pool, schema)
