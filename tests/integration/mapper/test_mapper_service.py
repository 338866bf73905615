"""The mapper as a process on real Kafka: a replay changes nothing and re-sends the first results byte for
byte; poison, and an event claiming a tenant
its key does not belong to, go to the DLQ."""

from __future__ import annotations

import uuid
from asyncio import timeout as asyncio_timeout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import source_change_key
from schemas.topics import RECORD_RESULTS, SOURCE_CHANGES, dlq_topic_name
from tests.support.conditions import eventually
from tests.support.kafka_offsets import end_offsets, keyed_values_since, rewind_group
from tests.support.service_process import ServiceProcess
from tests.topic_namespace import NAMESPACE

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)


def change_event(
    tenant: str, pipedrive_id: int, minutes: int, record: dict[str, Any] | None
) -> tuple[bytes, bytes]:
    at = T0 + timedelta(minutes=minutes)
    change = SourceChange(
        object=SyncObject.ORGANIZATION,
        pipedrive_id=pipedrive_id,
        action=ChangeAction.UPSERTED if record is not None else ChangeAction.DELETED,
        update_time=at,
        record=None if record is None else {"id": pipedrive_id, **record},
        origin=ChangeOrigin.POLL,
    )
    key = source_change_key(tenant, SyncObject.ORGANIZATION, pipedrive_id)
    event = build_event(change, tenant=tenant, subject=key, source="/itest", id_parts=(key, at), time=at)
    return key.encode(), encode_event(event)


async def snapshot(pool: asyncpg.Pool, schema: str, tenant: str) -> dict[str, list[dict[str, Any]]]:
    tables = {}
    for table in ("accounts", "contacts", "opportunities", "links"):
        rows = await pool.fetch(f"SELECT * FROM {schema}.{table} WHERE tenant_id = $1 ORDER BY 2, 3", tenant)
        tables[table] = [dict(r) for r in rows]
    return tables


async def test_a_replay_leaves_the_store_exactly_as_it_was(
    mapper_env: dict[str, str],
    producer: AIOKafkaProducer,
    pg_pool: asyncpg.Pool,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    tenant = f"replay{uuid.uuid4().hex[:8]}"
    schema = mapper_env["MAPPER_DB_SCHEMA"]
    sent = [
        change_event(tenant, pid, minutes, record)
        for pid, minutes, record in [
            (1, 0, {"name": "Acme", "website": "acme.io"}),
            (2, 1, {"name": "Globex", "website": "https://www.globex.io/"}),
            (1, 5, {"name": "Acme Renamed", "website": "acme.io"}),
            (3, 2, {"name": "Acme twin", "website": "ACME.io."}),
            (2, 9, None),
        ]
    ]
    results_mark = await end_offsets(kafka_bootstrap, RECORD_RESULTS)
    first_offsets: dict[TopicPartition, int] = {}
    for key, value in sent:
        meta = await producer.send_and_wait(SOURCE_CHANGES.name, value, key=key)
        first_offsets.setdefault(TopicPartition(meta.topic, meta.partition), meta.offset)

    async def links() -> int:
        return int(
            await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.links WHERE tenant_id = $1", tenant) or 0
        )

    first = ServiceProcess("mapper", mapper_env, tmp_path / "first.log")
    await first.start()
    await first.wait_ready()
    # Acme's twin (another organization of acme.io) is a duplicate of Acme or Acme of it, whichever
    # partition's batch came first: two links, acme.io's and globex.io's.
    await eventually(links, lambda n: n == 2, within_s=90, what="two links in the store")
    deleted = f"SELECT deleted_in_crm FROM {schema}.links WHERE tenant_id = $1 AND pipedrive_id = 2"
    await eventually(lambda: pg_pool.fetchval(deleted, tenant), lambda d: d is True, within_s=30,
                     what="the delete applied")  # fmt: skip
    before = await snapshot(pg_pool, schema, tenant)
    assert await first.terminate() == 0

    async def results() -> list[bytes]:
        found = await keyed_values_since(kafka_bootstrap, RECORD_RESULTS, results_mark)
        return sorted(value for key, value in found if key.startswith(f"{tenant}:".encode()))

    first_results = await results()
    assert len(first_results) == len(sent)

    # Replay from this test's first message on (on a fresh cluster that is offset zero).
    await rewind_group(kafka_bootstrap, mapper_env["MAPPER_GROUP_ID"], first_offsets)
    second = ServiceProcess("mapper", mapper_env, tmp_path / "second.log")
    await second.start()
    await second.wait_ready()
    marker_key, marker = change_event(tenant, 99, 30, {"name": "Marker", "website": "marker.io"})
    await producer.send_and_wait(SOURCE_CHANGES.name, marker, key=marker_key)
    await eventually(links, lambda n: n == 3, within_s=90, what="the marker applied after the replay")

    async def replayed() -> int:
        return await second.messages_processed("duplicate")

    await eventually(replayed, lambda n: n >= len(sent), within_s=60, what="every replayed event seen again")
    assert await second.terminate() == 0

    # The replayed changes were not applied again: each re-sent the result it produced the first time.
    replayed_results = [r for r in await results() if b"marker.io" not in r]
    assert replayed_results == sorted(first_results * 2)
    after = await snapshot(pg_pool, schema, tenant)
    after["links"] = [row for row in after["links"] if row["pipedrive_id"] != 99]
    after["accounts"] = [row for row in after["accounts"] if row["match_key"] != "marker.io"]
    assert after == before


async def test_poison_and_an_event_claiming_another_tenant_go_to_the_dlq_and_the_partition_keeps_flowing(
    mapper_env: dict[str, str],
    producer: AIOKafkaProducer,
    pg_pool: asyncpg.Pool,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    tenant = f"poison{uuid.uuid4().hex[:8]}"
    schema = mapper_env["MAPPER_DB_SCHEMA"]
    victim = f"victim{uuid.uuid4().hex[:8]}"
    key, good = change_event(tenant, 7, 0, {"name": "After poison", "website": "after.io"})
    _, claiming = change_event(victim, 7, 0, {"name": "Planted", "website": "planted.io"})
    poison = await producer.send_and_wait(
        SOURCE_CHANGES.name, b'{"type": "psync.source.changed", "data": 1}', key=key
    )
    mismatch = await producer.send_and_wait(SOURCE_CHANGES.name, claiming, key=key)  # victim's, our key
    # An aware time that falls before year 1 once in UTC (it stopped the consumer at that message once).
    dated = orjson.loads(change_event(tenant, 8, 0, {"name": "Too early", "website": "early.io"})[1])
    dated["time"] = "0001-01-01T00:30:00+01:00"
    too_early = await producer.send_and_wait(SOURCE_CHANGES.name, orjson.dumps(dated), key=key)
    await producer.send_and_wait(SOURCE_CHANGES.name, good, key=key)

    process = ServiceProcess("mapper", mapper_env, tmp_path / "mapper.log")
    await process.start()
    await process.wait_ready()
    await eventually(
        lambda: pg_pool.fetchval(f"SELECT count(*) FROM {schema}.accounts WHERE tenant_id = $1", tenant),
        lambda n: n == 1, within_s=90, what="the change behind the poison applied",
    )  # fmt: skip
    assert await process.terminate() == 0

    consumer = AIOKafkaConsumer(
        NAMESPACE.topic(dlq_topic_name("mapper")),
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        letters: list[Any] = []
        wanted = {str(r.offset).encode() for r in (poison, mismatch, too_early)}
        async with asyncio_timeout(30):
            while not wanted <= {dict(r.headers).get("dlq.origin.offset") for r in letters if r.key == key}:
                letters += [r for batch in (await consumer.getmany(timeout_ms=1000)).values() for r in batch]
    finally:
        await consumer.stop()
    by_offset = {
        int(dict(r.headers)["dlq.origin.offset"]): {k: v.decode() for k, v in r.headers}
        for r in letters
        if r.key == key
    }
    headers = by_offset[poison.offset]
    assert headers["dlq.origin.topic"] == SOURCE_CHANGES.name
    assert headers["dlq.origin.partition"] == str(poison.partition)
    assert headers["dlq.error.class"] == "InvalidEvent"
    claimed = by_offset[mismatch.offset]
    assert claimed["dlq.error.class"] == "TenantMismatch"
    assert (
        f"tenantid '{victim}' disagrees with the tenant of the key, '{tenant}'"
        in claimed["dlq.error.message"]
    )
    early = by_offset[too_early.offset]
    assert early["dlq.error.class"] == "InvalidEvent"
    assert "time must fall within the years 1 to 9999 in UTC" in early["dlq.error.message"]
    planted = f"SELECT count(*) FROM {schema}.accounts WHERE tenant_id = ANY($1::text[]) AND match_key = $2"
    assert await pg_pool.fetchval(planted, [tenant, victim], "planted.io") == 0
