"""A mapper killed with SIGKILL in the middle of an import loses nothing and doubles nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import SyncObject
from schemas.events.source_changes import (
    ChangeAction,
    ChangeOrigin,
    DuplicateHandling,
    ImportContext,
    SourceChange,
)
from schemas.keys import source_change_key
from schemas.topics import SOURCE_CHANGES
from tests.integration.conditions import eventually
from tests.integration.service_process import ServiceProcess

pytestmark = pytest.mark.integration

RECORDS = 3000
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def import_change(tenant: str, n: int) -> tuple[bytes, bytes]:
    at = T0 + timedelta(seconds=n)
    change = SourceChange(
        object=SyncObject.ORGANIZATION,
        pipedrive_id=n + 1,
        action=ChangeAction.UPSERTED,
        update_time=at,
        record={"id": n + 1, "name": f"Company {n}", "website": f"https://www.company{n}.com/"},
        origin=ChangeOrigin.IMPORT,
        import_context=ImportContext(
            import_id="import-1", duplicate_handling=DuplicateHandling.UPDATE_EXISTING
        ),
    )
    key = source_change_key(tenant, SyncObject.ORGANIZATION, n + 1)
    event = build_event(change, tenant=tenant, subject=key, source="/itest", id_parts=(key, at), time=at)
    return key.encode(), encode_event(event)


async def test_a_sigkill_in_the_middle_of_an_import_loses_and_doubles_nothing(
    mapper_env: dict[str, str], kafka_bootstrap: str, pg_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant = f"kill{uuid.uuid4().hex[:8]}"
    schema = mapper_env["MAPPER_DB_SCHEMA"]
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    try:
        futures = [
            await producer.send(SOURCE_CHANGES.name, v, key=k)
            for k, v in map(lambda n: import_change(tenant, n), range(RECORDS))
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()

    async def count(table: str) -> int:
        return int(
            await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.{table} WHERE tenant_id = $1", tenant) or 0
        )

    first = ServiceProcess("mapper", {**mapper_env, "MAPPER_COMMIT_INTERVAL_S": "2"}, tmp_path / "first.log")
    await first.start()
    await first.wait_ready()
    await eventually(
        lambda: count("links"), lambda n: n >= RECORDS // 3, within_s=120, what="a third applied"
    )
    await first.kill()
    killed_at = await count("links")

    second = ServiceProcess(
        "mapper", {**mapper_env, "MAPPER_COMMIT_INTERVAL_S": "2"}, tmp_path / "second.log"
    )
    await second.start()
    await second.wait_ready()
    await eventually(
        lambda: count("links"), lambda n: n == RECORDS, within_s=180, what="every record applied"
    )
    assert await second.terminate() == 0

    assert killed_at < RECORDS, "the kill came after the import had finished: nothing was tested"
    assert await count("accounts") == RECORDS
    assert await count("inbox") == RECORDS
    distinct = await pg_pool.fetchval(
        f"SELECT count(DISTINCT match_key) FROM {schema}.accounts WHERE tenant_id = $1", tenant
    )
    assert distinct == RECORDS
