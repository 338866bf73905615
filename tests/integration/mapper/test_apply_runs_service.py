"""The mapper as a process reports each connector run it applied as one APPLY run, on real Kafka.

A connector-like run (source changes correlated with its run id, then its RunFinished) goes to Kafka; the
mapper emits one RunStarted/RunFinished pair of kind APPLY, the auditlog shows it in the activity log,
and a redelivery of everything (the group rewound) neither counts twice nor reports another run.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import TopicPartition

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import Direction, SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus
from schemas.keys import run_key, source_change_key
from schemas.topics import SOURCE_CHANGES, SYNC_RUNS
from tests.support.conditions import eventually
from tests.support.kafka_offsets import end_offsets, rewind_group, values_since
from tests.support.service_env import isolated_env
from tests.support.service_process import ServiceProcess
from tests.topic_namespace import NamespacedProducer

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
RECORDS = 40


@pytest.fixture
async def auditlog_env(pg_pool: asyncpg.Pool, kafka_bootstrap: str) -> AsyncIterator[dict[str, str]]:
    async with isolated_env(pg_pool, kafka_bootstrap, "auditlog") as env:
        yield env


def connector_run(tenant: str, run_id: str) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) of a run: RECORDS changes (the last one a re-read, so unchanged), then its end."""
    sent = []
    for n in range(RECORDS):
        pid = n + 1 if n < RECORDS - 1 else 1
        at = T0 + timedelta(minutes=pid)
        change = SourceChange(
            object=SyncObject.ORGANIZATION, pipedrive_id=pid, action=ChangeAction.UPSERTED, update_time=at,
            record={"id": pid, "name": f"Org {pid}", "website": f"org{pid}.io"}, origin=ChangeOrigin.POLL,
        )  # fmt: skip
        key = source_change_key(tenant, SyncObject.ORGANIZATION, pid)
        event = build_event(
            change, tenant=tenant, subject=key, source="/itest", id_parts=(key, n), time=at,
            correlationid=run_id,
        )  # fmt: skip
        sent.append((SOURCE_CHANGES.name, key.encode(), encode_event(event)))
    finished = RunFinished(
        run_id=run_id, service="connector", kind=RunKind.SYNC, direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,), started_at=T0, finished_at=T0 + timedelta(minutes=1),
        counts=RunCounts(created=RECORDS - 1, updated=1), status=RunStatus.SUCCESS, emitted=RECORDS,
    )  # fmt: skip
    key = run_key(tenant, run_id)
    event = build_event(
        finished, tenant=tenant, subject=key, source="/connector", id_parts=(run_id, "finished"), time=T0,
        correlationid=run_id,
    )  # fmt: skip
    sent.append((SYNC_RUNS.name, key.encode(), encode_event(event)))
    return sent


async def mapper_run_events(bootstrap: str, since: dict[TopicPartition, int], tenant: str) -> list[bytes]:
    """The mappers' sync-runs events of `tenant` written after `since`, as sent. Not only this test's
    mapper: every mapper on this Kafka in another group (`make up`'s, other tests') applies the tenant's
    changes too and reports the same apply run, with the same ids and bytes, so the test counts ids."""
    return [
        value
        for value in await values_since(bootstrap, SYNC_RUNS, since)
        if (event := orjson.loads(value or b"{}")).get("tenantid") == tenant
        and event.get("source") == "/psync/mapper"
    ]


async def test_a_connector_run_applied_is_reported_once_as_an_apply_run(
    mapper_env: dict[str, str],
    auditlog_env: dict[str, str],
    kafka_bootstrap: str,
    pg_pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    tenant, run_id = f"runs{uuid.uuid4().hex[:8]}", f"run-{uuid.uuid4().hex[:6]}"
    runs_before = await end_offsets(kafka_bootstrap, SYNC_RUNS)
    first_offsets: dict[TopicPartition, int] = {}
    producer = NamespacedProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for topic, key, value in connector_run(tenant, run_id):
            meta = await producer.send_and_wait(topic, value, key=key)
            first_offsets.setdefault(TopicPartition(meta.topic, meta.partition), meta.offset)
    finally:
        await producer.stop()
    mapper_schema, audit_schema = mapper_env["MAPPER_DB_SCHEMA"], auditlog_env["AUDITLOG_DB_SCHEMA"]
    logged = f"SELECT * FROM {audit_schema}.runs WHERE tenant_id = $1 AND run_id = $2"
    tally = (
        f"SELECT created, updated, unchanged, skipped, failed, emitted FROM {mapper_schema}.apply_runs"
        " WHERE tenant_id = $1 AND source_run_id = $2"
    )

    async def logged_run() -> dict[str, Any] | None:
        try:
            row = await pg_pool.fetchrow(logged, tenant, f"apply-{run_id}")
        except asyncpg.UndefinedTableError:
            return None
        return dict(row) if row is not None else None

    mapper = ServiceProcess("mapper", mapper_env, tmp_path / "mapper.log")
    auditlog = ServiceProcess("auditlog", auditlog_env, tmp_path / "auditlog.log")
    await mapper.start()
    await auditlog.start()
    await mapper.wait_ready()
    await auditlog.wait_ready()
    run = await eventually(
        logged_run, lambda r: r is not None and r["finished_at"] is not None, within_s=90,
        what="the apply run in the activity log",
    )  # fmt: skip
    assert run is not None
    assert (run["service"], run["kind"], run["direction"], run["status"], run["skipped"]) == (
        "mapper", "apply", "to_abm", "Success", 0,
    )  # fmt: skip
    assert (run["created"], run["updated"], run["unchanged"], run["skipped"], run["failed"]) == (
        RECORDS - 1, 0, 1, 0, 0,
    )  # fmt: skip
    reported = await mapper_run_events(kafka_bootstrap, runs_before, tenant)
    # The start when the first record was applied (sent again with the end, under the same id), the end.
    assert len({(e["type"], e["id"]) for e in map(orjson.loads, reported)}) == 2
    assert await mapper.terminate() == 0

    # Redeliver everything the mapper read of this run: the group rewound to this test's first messages.
    await rewind_group(kafka_bootstrap, mapper_env["MAPPER_GROUP_ID"], first_offsets)
    again = ServiceProcess("mapper", mapper_env, tmp_path / "again.log")
    await again.start()
    await again.wait_ready()

    async def duplicates() -> int:
        return await again.messages_processed("duplicate")

    await eventually(duplicates, lambda n: n >= RECORDS + 1, within_s=60, what="every event seen again")
    assert await again.terminate() == 0
    assert await auditlog.terminate() == 0

    counted = await pg_pool.fetchrow(tally, tenant, run_id)
    assert counted is not None and tuple(counted) == (RECORDS - 1, 0, 1, 0, 0, RECORDS)
    # The redelivery re-sent the same events (same ids), which the auditlog dropped. (Bytes are not
    # compared: on a shared Kafka, other suites' mapper processes may report this tenant's run too.)
    resent = await mapper_run_events(kafka_bootstrap, runs_before, tenant)
    assert {orjson.loads(v)["id"] for v in resent} == {orjson.loads(v)["id"] for v in reported}
    assert await logged_run() == run
