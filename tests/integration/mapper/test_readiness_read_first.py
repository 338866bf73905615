"""A mapper says it is not ready (/readyz 503, `read_first` failing) until it has read the settings topic
to the end it had at start, and ready once it has: a load balancer or an orchestrator sends it nothing
before it knows every tenant's settings. The settings topic holds the tenant's settings before the mapper
starts; the test holds the replica's row of that tenant (an uncommitted insert) so the mapper's read of
the topic waits on it, and the readiness is read over HTTP only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from mapper.bootstrap import install_tables
from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import SyncObject
from schemas.events.settings import ObjectSettings, TenantSettings
from schemas.keys import settings_key
from schemas.topics import SETTINGS, topics_consumed_by
from tests.support.conditions import eventually
from tests.support.kafka_offsets import position_group_at_end
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


async def readiness(process: ServiceProcess) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of GET /readyz ((0, {}) while nothing answers)."""
    try:
        async with aiohttp.ClientSession() as session, session.get(process.url + "/readyz") as response:
            return response.status, await response.json()
    except aiohttp.ClientError:
        return 0, {}


async def test_readyz_says_not_ready_until_the_settings_topic_is_read_then_ready(
    pg_pool: asyncpg.Pool, kafka_bootstrap: str, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    uid = uuid.uuid4().hex[:8]
    tenant, schema, group = f"mr{uid}", f"itest_mapper_ready_{uid}", f"itest-mapper-ready-{uid}"
    settings = TenantSettings(version=3, objects={SyncObject.ORGANIZATION: ObjectSettings()})
    event = build_event(
        settings, tenant=tenant, subject=settings_key(tenant), source="/itest", id_parts=(uid,), time=NOW
    )
    await producer.send_and_wait(SETTINGS.name, encode_event(event), key=tenant.encode())
    await position_group_at_end(kafka_bootstrap, group, topics_consumed_by("mapper"))
    await install_tables(pg_pool, schema)
    env = {"MAPPER_GROUP_ID": group, "MAPPER_DB_SCHEMA": schema, "MAPPER_COMMIT_INTERVAL_S": "0.2"}
    process = ServiceProcess("mapper", env, tmp_path / "mapper.log")
    holder = await pg_pool.acquire()
    held = holder.transaction()
    try:
        await held.start()
        await holder.execute(
            f"INSERT INTO {schema}.tenant_settings (tenant_id, version, settings, event_id)"
            " VALUES ($1, 1, '{}'::jsonb, 'held-by-the-test')",
            tenant,
        )
        await process.start()
        await eventually(
            lambda: pg_pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
                f"%{schema}.tenant_settings%",
            ),
            lambda waiting: waiting >= 1,
            within_s=60,
            what=f"the mapper's read of the settings topic waiting on the held row ({process.log_path})",
        )

        status, body = await readiness(process)

        assert status == 503, body
        assert set(body["failures"]) == {"read_first"}
        await held.rollback()
        status, body = await eventually(
            lambda: readiness(process),
            lambda answer: answer[0] != 503,
            within_s=60,
            what=f"the mapper ready once the settings are read ({process.log_path})",
        )
        assert status == 200, body
        assert body["checks"] == ["kafka", "postgres", "read_first"]
        kept = await pg_pool.fetchval(
            f"SELECT version FROM {schema}.tenant_settings WHERE tenant_id = $1", tenant
        )
        assert kept == 3
        assert await process.terminate() == 0
    finally:
        await pg_pool.release(holder)  # rolls back the held insert if the test did not
        if process.process is not None and process.process.returncode is None:
            await process.kill()
        await drop_schemas(pg_pool, schema)
