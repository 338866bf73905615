"""A mapper killed with SIGKILL in the middle of an import loses nothing and doubles nothing.

`make test` imports 10,000 records; `make nightly` runs the same test with 100,000
(`PSYNC_CRASH_RECORDS`).

The import goes through Kafka to a mapper process, which is killed once a third of it is applied and
started again. Afterwards the store must equal, row for row, the store a clean apply of the same events
gives (applied here in-process, on a schema of its own); every event is in the inbox once; every change has
exactly one result on `psync.record-results.v1` (sent again byte for byte, if at all); and the import's
apply run counts each record once.

What the killed mapper applied but had not sent the results of yet is sent when the restarted one reads
those changes again (the inbox keeps the results), so the results are checked only once the restarted
mapper committed past every change: the store and the run's counts are complete before that (the killed
mapper applied those changes), the results not necessarily.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from mapper.bootstrap import build_handlers, install_tables
from schemas.catalog import build_event
from schemas.codec import decode_event, encode_event
from schemas.events.common import Direction, SyncObject
from schemas.events.source_changes import (
    ChangeAction,
    ChangeOrigin,
    DuplicateHandling,
    ImportContext,
    SourceChange,
)
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus
from schemas.keys import run_key, source_change_key
from schemas.topics import RECORD_RESULTS, SOURCE_CHANGES, SYNC_RUNS
from stream_runner.messages import IncomingMessage
from tests.support.conditions import eventually
from tests.support.kafka_offsets import committed_short_of, end_offsets, values_since
from tests.support.rows import count_rows
from tests.support.schemas import schema_fixture
from tests.support.service_process import ServiceProcess
from tests.topic_namespace import NamespacedProducer

pytestmark = pytest.mark.integration

RECORDS = int(os.environ.get("PSYNC_CRASH_RECORDS", "10000"))
IMPORT = "import-1"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
WEBSITES = ["https://www.{d}/", "{d}", "HTTP://{D}/about", "www.{d}."]
# The store as a clean apply leaves it; timestamps of when a row was written are left out.
COLUMNS = {
    "accounts": "abm_id, match_key, is_duplicate, fields, deleted_in_crm",
    "links": "object, pipedrive_id, abm_id, source_update_time, deleted_in_crm, merged_into_id",
}


def import_change(tenant: str, n: int) -> tuple[bytes, bytes]:
    at = T0 + timedelta(seconds=n)
    domain = f"company{n}.com"
    change = SourceChange(
        object=SyncObject.ORGANIZATION,
        pipedrive_id=n + 1,
        action=ChangeAction.UPSERTED,
        update_time=at,
        record={
            "id": n + 1,
            "name": f"Company {n}",
            "website": WEBSITES[n % 4].format(d=domain, D=domain.upper()),
        },
        origin=ChangeOrigin.IMPORT,
        import_context=ImportContext(import_id=IMPORT, duplicate_handling=DuplicateHandling.UPDATE_EXISTING),
    )
    key = source_change_key(tenant, SyncObject.ORGANIZATION, n + 1)
    event = build_event(
        change, tenant=tenant, subject=key, source="/itest", id_parts=(key, at), time=at, correlationid=IMPORT
    )
    return key.encode(), encode_event(event)


def import_finished(tenant: str) -> tuple[bytes, bytes]:
    finished = RunFinished(
        run_id=IMPORT, service="connector", kind=RunKind.IMPORT, direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,), started_at=T0, finished_at=T0, counts=RunCounts(created=RECORDS),
        status=RunStatus.SUCCESS, emitted=RECORDS,
    )  # fmt: skip
    key = run_key(tenant, IMPORT)
    event = build_event(finished, tenant=tenant, subject=key, source="/itest", id_parts=(IMPORT,), time=T0)
    return key.encode(), encode_event(event)


async def produce(
    bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]
) -> dict[TopicPartition, int]:
    """Send and wait for every ack; returns the offset after the last written per partition."""
    producer = NamespacedProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20, max_batch_size=262144
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        ends: dict[TopicPartition, int] = {}
        for future in futures:
            meta = await future
            partition = TopicPartition(meta.topic, meta.partition)
            ends[partition] = max(ends.get(partition, 0), meta.offset + 1)
        return ends
    finally:
        await producer.stop()


async def results_by_change(
    bootstrap: str, since: dict[TopicPartition, int], tenant: str
) -> dict[str, set[bytes]]:
    """The record results of `tenant` written after `since`, by the id of the change each is the result
    of: the distinct messages (a result sent again is the same bytes)."""
    found: dict[str, set[bytes]] = {}
    for value in await values_since(bootstrap, RECORD_RESULTS, since):
        event = orjson.loads(value or b"{}")
        if event.get("tenantid") == tenant:
            found.setdefault(event["causationid"], set()).add(value)
    return found


clean_schema = schema_fixture("mapper_clean", install_tables)
"""The mapper's tables, for the same changes applied cleanly to compare with."""


async def apply_cleanly(pool: asyncpg.Pool, schema: str, changes: list[tuple[bytes, bytes]]) -> None:
    """The same events applied in-process, once each, in batches (no Kafka, no kill)."""
    handlers = build_handlers(pool, schema)
    items = [
        (decode_event(SOURCE_CHANGES.name, value), IncomingMessage(SOURCE_CHANGES.name, 0, n, key, value))
        for n, (key, value) in enumerate(changes)
    ]
    for start in range(0, len(items), 2000):
        await handlers.source_changed_batch(items[start : start + 2000])


async def store_rows(pool: asyncpg.Pool, schema: str, tenant: str) -> dict[str, list[Any]]:
    return {
        table: [
            tuple(r)
            for r in await pool.fetch(
                f"SELECT {columns} FROM {schema}.{table} WHERE tenant_id = $1 ORDER BY 1, 2, 3", tenant
            )
        ]
        for table, columns in COLUMNS.items()
    }


async def test_a_sigkill_in_the_middle_of_an_import_loses_and_doubles_nothing(
    mapper_env: dict[str, str],
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    pg_pool: asyncpg.Pool,
    clean_schema: str,
    tmp_path: Path,
) -> None:
    tenant = f"kill{uuid.uuid4().hex[:8]}"
    schema = mapper_env["MAPPER_DB_SCHEMA"]
    changes = [import_change(tenant, n) for n in range(RECORDS)]
    results_before = await end_offsets(kafka_bootstrap, RECORD_RESULTS)
    changes_end = await produce(kafka_bootstrap, SOURCE_CHANGES.name, changes)

    async def count(table: str) -> int:
        return await count_rows(
            pg_pool, f"SELECT count(*) FROM {schema}.{table} WHERE tenant_id = $1", tenant
        )

    # A line per message would be most of the mapper's work at this size; this test reads no logs.
    # One static group member: the restarted mapper takes the killed one's partitions back at once, without
    # waiting out its session (the shortest, 6 s, should that not work).
    env = {
        **mapper_env,
        "MAPPER_GROUP_INSTANCE_ID": "itest-mapper-crash-0",
        "MAPPER_COMMIT_INTERVAL_S": "2",
        "MAPPER_LOG_LEVEL": "WARNING",
        "MAPPER_SESSION_TIMEOUT_S": "6",
    }
    first = ServiceProcess("mapper", env, tmp_path / "first.log")
    await first.start()
    await first.wait_ready()
    await eventually(
        lambda: count("links"), lambda n: n >= RECORDS // 3, within_s=120, what="a third applied"
    )
    await first.kill()
    killed_at = await count("links")

    second = ServiceProcess("mapper", env, tmp_path / "second.log")
    await second.start()
    await second.wait_ready()
    await produce(kafka_bootstrap, SYNC_RUNS.name, [import_finished(tenant)])
    await eventually(
        lambda: count("links"), lambda n: n == RECORDS, within_s=180, what="every record applied"
    )
    reported = f"SELECT * FROM {schema}.apply_runs WHERE tenant_id = $1 AND reported_at IS NOT NULL"
    run = await eventually(
        lambda: pg_pool.fetchrow(reported, tenant),
        lambda r: r is not None,
        within_s=60,
        what="the run reported",
    )
    # The changes the killed mapper applied last may still be ahead of the restarted one (their results
    # with them); a clean stop before it read them would leave them to the next start.
    await eventually(
        lambda: committed_short_of(kafka_admin, env["MAPPER_GROUP_ID"], changes_end),
        lambda short: not short,
        within_s=60,
        what="every change read again and committed",
    )
    assert await second.terminate() == 0

    assert killed_at < RECORDS, "the kill came after the import had finished: nothing was tested"
    claimed = f"SELECT count(*) FROM {schema}.inbox WHERE tenant_id = $1 AND topic = $2"
    assert await pg_pool.fetchval(claimed, tenant, SOURCE_CHANGES.name) == RECORDS
    assert run is not None
    assert (run["created"], run["updated"], run["skipped"], run["failed"]) == (RECORDS, 0, 0, 0)
    results = await results_by_change(kafka_bootstrap, results_before, tenant)
    change_ids = [orjson.loads(value)["id"] for _, value in changes]
    assert [n for n, change in enumerate(change_ids) if change not in results] == [], "changes, no result"
    assert [change for change, values in results.items() if len(values) != 1] == [], "two different results"
    assert len(results) == RECORDS
    await apply_cleanly(pg_pool, clean_schema, changes)
    killed, clean = await store_rows(pg_pool, schema, tenant), await store_rows(pg_pool, clean_schema, tenant)
    assert len(clean["accounts"]) == len(clean["links"]) == RECORDS
    assert killed == clean
