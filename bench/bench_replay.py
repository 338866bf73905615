"""Benchmark: 100,000 source changes the mapper already applied, replayed into it, in events per second.

The mapper runs as the default deployment runs it (`make up`: as many processes as `deploy/local/
services.sh instances` lists, in one consumer group) on the local Kafka and PostgreSQL, with a fresh
consumer group and schema, in topics of the run's own (a PSYNC_TOPIC_PREFIX namespace: other runs on a
shared Kafka are not consumed). The benchmark produces 100,000 organization changes for one tenant, lets
the mapper apply them, stops it, moves the group back to the first of them (as `psyncctl replay` does)
and starts the mapper again: the clock runs from that start until the mapper counted every replayed
change as a duplicate (its processes' `psync_messages_total{outcome="duplicate"}`). A replay must change
nothing: the tenant's rows of every store table are compared before and after.
The mapper calls no Pipedrive API at all; the figure reports that its process opened no connection to one
(there is none configured). Writes `bench-results/replay.json`. Goal: >= 20,000 events/s."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaProducer, TopicPartition
from bench_mapper_apply import change
from report import write_report
from service_process import (
    BOOTSTRAP,
    DSN,
    children_cpu_seconds,
    count_rows,
    deployed_processes,
    free_port,
    own_topics,
    position_group_at_end,
    start_service,
    topics,
    watch_until,
)

from schemas.topics import SOURCE_CHANGES
from tests.support.kafka_offsets import rewind_group
from tests.support.service_process import messages_counted

RECORDS = int(os.environ.get("BENCH_REPLAY_RECORDS", "100000"))
GOAL = 20_000
STORE_TABLES = ("accounts", "contacts", "opportunities", "links")
PROCESSES = deployed_processes("mapper")


async def produce(tenant: str) -> dict[TopicPartition, int]:
    """Send the changes; returns the first offset written per partition (where the replay starts)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=20, max_batch_size=262144
    )
    await producer.start()
    try:
        futures = []
        for n in range(RECORDS):
            key, value = change(tenant, n)
            futures.append(await producer.send(topics().topic(SOURCE_CHANGES.name), value, key=key))
        firsts: dict[TopicPartition, int] = {}
        for meta in await asyncio.gather(*futures):
            partition = TopicPartition(meta.topic, meta.partition)
            firsts[partition] = min(firsts.get(partition, meta.offset), meta.offset)
        return firsts
    finally:
        await producer.stop()


async def duplicates(ports: list[int]) -> int:
    """The mapper processes' count of source changes they recognized as already applied."""
    return sum([await duplicates_of(port) for port in ports])


async def duplicates_of(port: int) -> int:
    """One mapper process's count of source changes it recognized as already applied."""
    return await messages_counted(f"http://127.0.0.1:{port}", "duplicate", SOURCE_CHANGES.name)


async def store_rows(pool: asyncpg.Pool, schema: str, tenant: str) -> list[list[str]]:
    """Every row of the tenant in each store table, write times included."""
    return [
        sorted(
            repr(tuple(r))
            for r in await pool.fetch(f"SELECT * FROM {schema}.{table} WHERE tenant_id = $1", tenant)
        )
        for table in STORE_TABLES
    ]


async def run() -> dict[str, object]:
    """Apply, then replay, in topics of the run's own (other runs on a shared Kafka are not consumed)."""
    async with own_topics(BOOTSTRAP, "replay"):
        return await run_in_own_topics()


async def run_in_own_topics() -> dict[str, object]:
    uid = uuid.uuid4().hex[:8]
    tenant, schema, group = f"bench{uid}", f"bench_replay_{uid}", f"bench-replay-{uid}"
    await position_group_at_end(BOOTSTRAP, group, "mapper")
    firsts = await produce(tenant)
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=2)
    applied_q = f"SELECT count(*) FROM {schema}.inbox WHERE tenant_id = $1 AND topic = $2"

    async def applied() -> int:
        return await count_rows(pool, applied_q, tenant, SOURCE_CHANGES.name)

    try:
        first = [await start_service("mapper", group, schema) for _ in range(PROCESSES)]
        await watch_until(applied, RECORDS, first, time.perf_counter())
        before = await store_rows(pool, schema, tenant)
        await rewind_group(BOOTSTRAP, group, firsts)
        load_before = os.getloadavg()
        cpu_before = children_cpu_seconds()
        ports = [free_port() for _ in range(PROCESSES)]
        started = time.perf_counter()
        second = [await start_service("mapper", group, schema, port) for port in ports]
        progress = await watch_until(lambda: duplicates(ports), RECORDS, second, started)
        replayed, elapsed = progress.reached, progress.seconds
        cpu_seconds = children_cpu_seconds() - cpu_before
        after = await store_rows(pool, schema, tenant)
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
    return {
        "benchmark": "replay",
        "records": RECORDS,
        "mapper_processes": PROCESSES,
        "replayed_as_duplicates": replayed,
        "seconds_from_mapper_start": round(elapsed, 2),
        "events_per_second": round(replayed / elapsed),
        "goal_events_per_second": GOAL,
        "goal_met": replayed / elapsed >= GOAL,
        "store_rows_unchanged": before == after,
        "pipedrive_calls": 0,
        "mapper_cpu_seconds": round(cpu_seconds, 2),
        "events_per_mapper_cpu_second": round(replayed / cpu_seconds) if cpu_seconds else None,
        # The machine is shared (other runs): its 1-minute load before and after the timed part.
        "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "note": "The default deployment: as many mapper processes as `make up` runs, in one group. The"
        " replay is timed from the mappers' start (start-up and group join included) until they counted"
        " every replayed change as a duplicate; each duplicate re-sends the record result saved with it,"
        " byte for byte, found in the inbox from the message's head without decoding the change."
        " mapper_cpu_seconds is the user+system CPU of the mapper processes of the replay, start-up"
        " included. The mapper has no Pipedrive client: pipedrive_calls is 0 by construction. Kafka,"
        " PostgreSQL and the mapper share this machine's CPUs.",
    }


def main() -> None:
    """Run the benchmark and write its JSON result."""
    figures = asyncio.run(run())
    write_report("replay", figures)
    if not figures["store_rows_unchanged"]:
        raise SystemExit("the replay changed the store")


if __name__ == "__main__":
    main()
