"""Benchmark: 100,000 `psync.record.applied` results turned into activity-log entries by the auditlog.

The auditlog runs as its own process (as deployed) on the local Kafka and PostgreSQL, with a fresh
consumer group positioned at the end of every topic it reads, a fresh schema and topics of the run's own
(a PSYNC_TOPIC_PREFIX namespace: other runs on a shared Kafka are not consumed); the benchmark produces
100,000 record results (what the mapper emits, one per record applied) for one tenant and one run, then
times from the auditlog's start until every entry is in its `entries` table (and, apart, from the first
entry written), with the CPU seconds the auditlog process used (so a figure taken on a busy machine can
still be compared per CPU second). Writes `bench-results/auditlog-entries.json`. Goal: at least the
mapper's figure (bench-results/mapper-apply.json), since the auditlog writes an entry per record applied."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from report import write_report
from service_process import (
    BOOTSTRAP,
    DSN,
    ROOT,
    children_cpu_seconds,
    count_rows,
    own_topics,
    position_group_at_end,
    start_service,
    topics,
    watch_until,
)

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.record_results import RecordApplied
from schemas.keys import record_key
from schemas.topics import RECORD_RESULTS

RECORDS = int(os.environ.get("BENCH_AUDITLOG_RECORDS", "100000"))
MAPPER_FIGURE = ROOT / "bench-results" / "mapper-apply.json"
OUTCOMES = [RecordOutcome.CREATED, RecordOutcome.UPDATED, RecordOutcome.SKIPPED, RecordOutcome.FAILED]


def record_result(tenant: str, run_id: str, n: int) -> tuple[bytes, bytes]:
    """The mapper's result for the n-th organization of the run, as it emits it."""
    match_key = f"company{n}.com"
    at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=n)
    outcome = OUTCOMES[n % len(OUTCOMES)]
    result = RecordApplied(
        object=SyncObject.ORGANIZATION,
        match_key=match_key,
        pipedrive_id=n + 1,
        abm_id=None if outcome is RecordOutcome.FAILED else f"acc-{n}",
        outcome=outcome,
        message="Required field missing: name" if outcome is RecordOutcome.FAILED else None,
        run_id=run_id,
        name=f"Company {n} Ltd",
    )
    key = record_key(tenant, SyncObject.ORGANIZATION, match_key)
    event = build_event(
        result,
        tenant=tenant,
        subject=key,
        source="/bench",
        id_parts=(key, n, "applied"),
        time=at,
        correlationid=run_id,
    )
    return key.encode(), encode_event(event)


async def produce(tenant: str, run_id: str) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=20, max_batch_size=262144
    )
    await producer.start()
    started = time.perf_counter()
    try:
        futures = []
        for n in range(RECORDS):
            key, value = record_result(tenant, run_id, n)
            futures.append(await producer.send(topics().topic(RECORD_RESULTS.name), value, key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


def mapper_figure() -> int:
    """The goal: the mapper's records per second in the default deployment, from its latest bench."""
    return int(orjson.loads(MAPPER_FIGURE.read_bytes())["records_per_second"])


async def run() -> dict[str, object]:
    uid = uuid.uuid4().hex[:8]
    tenant, schema, group = f"bench{uid}", f"bench_auditlog_{uid}", f"bench-auditlog-{uid}"
    run_id = f"run-{uid}"
    await position_group_at_end(BOOTSTRAP, group, "auditlog")
    produce_s = await produce(tenant, run_id)
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=2)
    load_before = os.getloadavg()
    cpu_before = children_cpu_seconds()
    started = time.perf_counter()
    process = await start_service("auditlog", group, schema, data_dir=ROOT / ".state" / "bench" / "auditlog")
    entries = f"SELECT count(*) FROM {schema}.entries WHERE tenant_id = $1"
    try:
        progress = await watch_until(lambda: count_rows(pool, entries, tenant), RECORDS, [process], started)
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
    cpu_seconds = children_cpu_seconds() - cpu_before
    return {
        "records": RECORDS,
        "entries": progress.reached,
        "seconds_from_auditlog_start": round(progress.seconds, 2),
        "records_per_second": round(progress.per_second),
        "seconds_from_first_entry": round(progress.seconds_from_first, 2),
        "records_per_second_once_writing": progress.per_second_from_first,
        "produce_seconds": round(produce_s, 2),
        "auditlog_cpu_seconds": round(cpu_seconds, 2),
        "records_per_auditlog_cpu_second": round(progress.reached / cpu_seconds) if cpu_seconds else None,
        # The machine is shared (other test runs): its 1-minute load before and after the timed part.
        "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }


async def run_all() -> dict[str, object]:
    goal = mapper_figure()
    async with own_topics(BOOTSTRAP, "auditlog"):
        figures = await run()
    return {
        "benchmark": "auditlog-entries",
        "default_deployment": "1 process",
        **figures,
        "goal_records_per_second": goal,
        "goal_met": int(str(figures["records_per_second"])) >= goal,
        "note": "The default deployment: one auditlog process. records_per_second counts from the"
        " auditlog process's start (start-up, group join included); records_per_second_once_writing"
        " from the first entry seen in the table;"
        " auditlog_cpu_seconds is the user+system CPU of the auditlog process, start-up included. One"
        " tenant, one run, 12 partitions; logs at WARNING; batches of up to 2,000 results per PostgreSQL"
        " transaction (AUDITLOG_MAX_BATCH). The goal is the mapper's figure in"
        " bench-results/mapper-apply.json. Kafka, PostgreSQL and the auditlog share this machine's CPUs.",
    }


def main() -> None:
    """Run the benchmark and write its JSON result."""
    figures = asyncio.run(run_all())
    write_report("auditlog-entries", figures)


if __name__ == "__main__":
    main()
