"""A consumer killed between its Postgres commit and its offset commit applies nothing twice.

Both kinds of guard are covered: the auditlog's inbox and the pusher's version-guarded settings replica.
Each service runs as a real process with an offset-commit interval of an hour, so after it applied an
event the offset is certainly not committed; SIGKILL leaves it so. The restarted process is redelivered
the event, recognizes it as applied, and the effect stays single.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.record_results import RecordApplied
from schemas.events.settings import Frequency, TenantSettings
from schemas.keys import record_key, settings_key
from schemas.topics import RECORD_RESULTS, SETTINGS
from tests.support.conditions import eventually
from tests.support.service_env import isolated_env
from tests.support.service_process import ServiceProcess
from tests.topic_namespace import NAMESPACE, NamespacedProducer

SETTINGS_UPDATED = "psync.settings.updated"

pytestmark = pytest.mark.integration


@pytest.fixture
async def auditlog_env(
    pg_pool: asyncpg.Pool, kafka_admin: AIOKafkaAdminClient, kafka_bootstrap: str
) -> AsyncIterator[dict[str, str]]:
    async with isolated_env(pg_pool, kafka_bootstrap, "auditlog", session_timeout_s="6") as env:
        # One static group member: the restarted process takes the killed one's partitions back at once.
        yield {**env, "AUDITLOG_GROUP_INSTANCE_ID": env["AUDITLOG_GROUP_ID"] + "-0"}


def record_result(tenant: str, match_key: str) -> bytes:
    payload = RecordApplied(
        object=SyncObject.ORGANIZATION, match_key=match_key, pipedrive_id=7, outcome=RecordOutcome.CREATED
    )
    event = build_event(
        payload,
        tenant=tenant,
        subject=record_key(tenant, SyncObject.ORGANIZATION, match_key),
        source="/itest",
        id_parts=(match_key,),
        time=datetime.now(UTC),
    )
    return encode_event(event)


async def test_sigkill_after_the_effect_and_before_the_offset_commit_applies_nothing_twice(
    auditlog_env: dict[str, str],
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    pg_pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    tenant = f"crash{uuid.uuid4().hex[:8]}"
    schema = auditlog_env["AUDITLOG_DB_SCHEMA"]
    key = record_key(tenant, SyncObject.ORGANIZATION, "example.com").encode()
    producer = NamespacedProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()

    async def entries(match_key: str) -> int:
        query = f"SELECT count(*) FROM {schema}.entries WHERE tenant_id = $1 AND match_key = $2"
        return int(await pg_pool.fetchval(query, tenant, match_key) or 0)

    try:
        first = ServiceProcess(
            "auditlog", {**auditlog_env, "AUDITLOG_COMMIT_INTERVAL_S": "3600"}, tmp_path / "first.log"
        )
        await first.start()
        await first.wait_ready()
        sent = await producer.send_and_wait(
            RECORD_RESULTS.name, record_result(tenant, "example.com"), key=key
        )
        await eventually(lambda: entries("example.com"), lambda n: n == 1, within_s=90,
                         what="the event applied by the first process")  # fmt: skip
        await first.kill()
        partition = TopicPartition(sent.topic, sent.partition)
        group = NAMESPACE.group(auditlog_env["AUDITLOG_GROUP_ID"])
        committed = await kafka_admin.list_consumer_group_offsets(group)
        assert committed[partition].offset <= sent.offset, "the killed process committed the event"

        second = ServiceProcess("auditlog", auditlog_env, tmp_path / "second.log")
        await second.start()
        await second.wait_ready()
        # A marker behind the event on the same partition: once it is applied, the redelivery was seen.
        marker = await producer.send_and_wait(
            RECORD_RESULTS.name, record_result(tenant, "marker.example"), key=key
        )
        await eventually(lambda: entries("marker.example"), lambda n: n == 1, within_s=90,
                         what="the marker applied by the restarted process")  # fmt: skip
        assert await second.terminate() == 0
    finally:
        await producer.stop()

    assert await entries("example.com") == 1
    # The event was not committed when the first process died, and the second committed past the marker
    # behind it (other tests may have written further on the shared topic): it was redelivered the event.
    committed = await kafka_admin.list_consumer_group_offsets(group)
    assert committed[partition].offset > marker.offset, "the clean stop committed the marker"


@pytest.fixture
async def pusher_env(
    pg_pool: asyncpg.Pool, kafka_admin: AIOKafkaAdminClient, kafka_bootstrap: str
) -> AsyncIterator[dict[str, str]]:
    async with isolated_env(pg_pool, kafka_bootstrap, "pusher", session_timeout_s="6") as env:
        # One static group member: the restarted process takes the killed one's partitions back at once.
        yield {**env, "PUSHER_GROUP_INSTANCE_ID": env["PUSHER_GROUP_ID"] + "-0"}


def settings_duplicates(log_text: str) -> int:
    """How many settings events the service's log says it consumed as duplicates: one per line of a
    handler, or a batch line's count (settings are stored a batch at a time)."""
    count = 0
    for line in log_text.splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("event_type", SETTINGS_UPDATED) != SETTINGS_UPDATED:
            continue
        count += int(entry.get("outcome_duplicate", 0)) + (entry.get("outcome") == "duplicate")
    return count


def settings_event(tenant: str, version: int) -> bytes:
    payload = TenantSettings(version=version, objects={}, frequency=Frequency.EVERY_6H)
    event = build_event(
        payload,
        tenant=tenant,
        subject=settings_key(tenant),
        source="/itest",
        id_parts=(version,),
        time=datetime.now(UTC),
    )
    return encode_event(event)


async def test_sigkill_of_the_pusher_before_its_commit_loses_and_regresses_nothing(
    pusher_env: dict[str, str], kafka_bootstrap: str, pg_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant = f"crash{uuid.uuid4().hex[:8]}"
    schema = pusher_env["PUSHER_DB_SCHEMA"]
    producer = NamespacedProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()

    async def stored_version() -> int:
        query = f"SELECT version FROM {schema}.tenant_settings WHERE tenant_id = $1"
        return int(await pg_pool.fetchval(query, tenant) or 0)

    try:
        no_commit_env = {**pusher_env, "PUSHER_COMMIT_INTERVAL_S": "3600"}
        first = ServiceProcess("pusher", no_commit_env, tmp_path / "1.log")
        await first.start()
        await first.wait_ready()
        await producer.send_and_wait(SETTINGS.name, settings_event(tenant, 1), key=tenant.encode())
        await eventually(stored_version, lambda v: v == 1, within_s=90, what="settings v1 applied")
        await first.kill()

        second = ServiceProcess("pusher", pusher_env, tmp_path / "2.log")
        await second.start()
        await second.wait_ready()
        await producer.send_and_wait(SETTINGS.name, settings_event(tenant, 2), key=tenant.encode())
        await eventually(stored_version, lambda v: v == 2, within_s=90, what="settings v2 applied")
        assert await second.terminate() == 0
    finally:
        await producer.stop()

    assert settings_duplicates(second.log_text()) >= 1, "the restarted pusher was not redelivered v1"
    assert await stored_version() == 2
