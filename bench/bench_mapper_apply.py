"""Benchmark: 100,000 source changes applied to the ABM store by the mapper, in records per second.

The mapper runs as its own processes (as deployed) on the local Kafka and PostgreSQL, with a fresh consumer
group positioned at the end of every topic it reads and a fresh schema; the benchmark produces 100,000
organization changes (distinct domains, messy website forms) for one tenant, then times from the
mappers' start until every record is linked in the store (and, apart, from the first record applied).
It measures the default deployment, as many processes in one group as `make up` starts
(`deploy/local/services.sh instances`: 2 unless MAPPER_REPLICAS says otherwise), and, apart, one process
(the figure per process), each on a fresh group and schema, with the CPU seconds the mapper processes used
(so a figure taken on a busy machine can still be compared per CPU second). Each run has topics of its
own (`service_process.own_topics`), so other runs on the same Kafka are neither applied nor counted.
`BENCH_MAPPER_PROCESSES` picks the deployments (default `1,<the default's count>`: processes per run).
Writes `bench-results/mapper-apply.json`. Goal: >= 10,000 records/s with the default deployment."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pg_statements
from aiokafka import AIOKafkaProducer
from infra_cpu import InfrastructureCpu
from report import write_report
from service_process import (
    BOOTSTRAP,
    DSN,
    ROOT,
    GroupReady,
    children_cpu_seconds,
    count_rows,
    deployed_processes,
    group_ready,
    own_topics,
    position_group_at_end,
    start_service,
    topics,
    watch_until,
)

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import source_change_key
from schemas.topics import SOURCE_CHANGES

RECORDS = int(os.environ.get("BENCH_MAPPER_RECORDS", "100000"))
GOAL = 10_000


DEFAULT_PROCESSES = deployed_processes("mapper")
PROCESSES = [
    int(n)
    for n in os.environ.get(
        "BENCH_MAPPER_PROCESSES", ",".join(map(str, sorted({1, DEFAULT_PROCESSES})))
    ).split(",")
]
WEBSITES = ["https://www.{d}/about", "{d}", "HTTP://{D}/", "www.{d}.", "http://{d}:8080/x?y=1"]


def change(tenant: str, n: int) -> tuple[bytes, bytes]:
    domain = f"company{n}.com"
    at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=n)
    website = WEBSITES[n % len(WEBSITES)].format(d=domain, D=domain.upper())
    record = {
        "id": n + 1,
        "name": f"Company {n}",
        "website": website,
        "owner_id": 1 + n % 7,
        "update_time": at.isoformat(),
    }
    payload = SourceChange(
        object=SyncObject.ORGANIZATION,
        pipedrive_id=n + 1,
        action=ChangeAction.UPSERTED,
        update_time=at,
        record=record,
        origin=ChangeOrigin.IMPORT,
    )
    key = source_change_key(tenant, SyncObject.ORGANIZATION, n + 1)
    event = build_event(payload, tenant=tenant, subject=key, source="/bench", id_parts=(key, at), time=at)
    return key.encode(), encode_event(event)


async def produce(tenant: str) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=20, max_batch_size=262144
    )
    await producer.start()
    started = time.perf_counter()
    try:
        futures = []
        for n in range(RECORDS):
            key, value = change(tenant, n)
            futures.append(await producer.send(topics().topic(SOURCE_CHANGES.name), value, key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def run(replicas: int) -> dict[str, object]:
    uid = uuid.uuid4().hex[:8]
    tenant, schema, group = f"bench{uid}", f"bench_mapper_{uid}", f"bench-mapper-{uid}"
    await position_group_at_end(BOOTSTRAP, group, "mapper")
    produce_s = await produce(tenant)
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=2)
    load_before = os.getloadavg()
    cpu_before = children_cpu_seconds()
    infrastructure = await InfrastructureCpu.of(pool, BOOTSTRAP)
    statements_before = await pg_statements.snapshot(pool)
    started = time.perf_counter()
    processes = [
        await start_service("mapper", group, schema, data_dir=ROOT / ".state" / "bench" / f"replica-{n}")
        for n in range(replicas)
    ]

    async def applied() -> int:
        return await count_rows(pool, f"SELECT count(*) FROM {schema}.links WHERE tenant_id = $1", tenant)

    ready = asyncio.ensure_future(group_ready(BOOTSTRAP, group, replicas, applied))
    try:
        progress = await watch_until(applied, RECORDS, processes, started)
        # None when every record was applied before the last process joined (nothing to time after it).
        ready_at = ready.result() if ready.done() else None
        infrastructure_cpu = infrastructure.spent()
        statements_after = await pg_statements.snapshot(pool)
        accounts = await pool.fetchval(f"SELECT count(*) FROM {schema}.accounts WHERE tenant_id = $1", tenant)
    finally:
        ready.cancel()
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
    cpu_seconds = children_cpu_seconds() - cpu_before
    return {
        "mapper_processes": replicas,
        "records": RECORDS,
        "applied": progress.reached,
        "accounts_created": accounts,
        "seconds_from_mapper_start": round(progress.seconds, 2),
        "records_per_second": round(progress.per_second),
        "goal_records_per_second": GOAL,
        "goal_met": progress.per_second >= GOAL,
        **from_group_ready(ready_at, progress.reached, started + progress.seconds),
        "seconds_from_first_applied": round(progress.seconds_from_first, 2),
        "records_per_second_once_applying": progress.per_second_from_first,
        "produce_seconds": round(produce_s, 2),
        "mapper_cpu_seconds": round(cpu_seconds, 2),
        "records_per_mapper_cpu_second": round(progress.reached / cpu_seconds) if cpu_seconds else None,
        "mapper_cpu_microseconds_per_record": round(cpu_seconds / max(progress.reached, 1) * 1e6, 1),
        "infrastructure_cpu_seconds": infrastructure_cpu,
        "infrastructure_cpu_microseconds_per_record": {
            name: round(seconds / max(progress.reached, 1) * 1e6, 1) if seconds is not None else None
            for name, seconds in infrastructure_cpu.items()
        },
        "postgres_statements": (
            pg_statements.report(
                pg_statements.spent(statements_before, statements_after),
                {"mapper": schema},
                {
                    f"SELECT count(*) FROM {schema}.links": "bench (its count)",
                    "SELECT count(pg_advisory_xact_lock(": "mapper (its match-key locks)",
                },
            )
            if statements_before is not None and statements_after is not None
            else None
        ),
        # The machine is shared (other test runs): its 1-minute load before and after the timed part.
        "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }


def from_group_ready(ready: GroupReady | None, reached: int, finished: float) -> dict[str, object]:
    """The figures counted from the moment all mapper processes were up and consuming."""
    if ready is None or ready.at >= finished or ready.counted >= reached:
        return {"seconds_from_group_ready": None, "applied_before_group_ready": None,
                "records_per_second_from_group_ready": None}  # fmt: skip
    return {
        "seconds_from_group_ready": round(finished - ready.at, 2),
        "applied_before_group_ready": ready.counted,
        "records_per_second_from_group_ready": round((reached - ready.counted) / (finished - ready.at)),
    }


async def run_all() -> dict[str, object]:
    runs = []
    for replicas in PROCESSES:
        async with own_topics(BOOTSTRAP, "mapper"):
            runs.append(await run(replicas))
    default = next((r for r in runs if r["mapper_processes"] == DEFAULT_PROCESSES), runs[0])
    met = [f"{r['mapper_processes']} process(es)" for r in runs if r["goal_met"]]
    return {
        "benchmark": "mapper-apply",
        "records": RECORDS,
        "default_deployment": f"{DEFAULT_PROCESSES} mapper process(es), as `make up` starts them",
        "records_per_second": default["records_per_second"],
        "goal_records_per_second": GOAL,
        "goal_met_by_default_deployment": default["goal_met"],
        "goal_met_by": met,
        # The same run counted from the moment all its processes were up and consuming (see the note).
        "records_per_second_from_group_ready": default["records_per_second_from_group_ready"],
        "best_records_per_second": max(int(str(r["records_per_second"])) for r in runs),
        "runs": runs,
        "note": f"records_per_second (top level) is the default deployment's: {DEFAULT_PROCESSES} mapper"
        " process(es) in one group (deploy/local/services.sh instances)."
        " Per run: records_per_second counts from the mapper processes' start (interpreter start, imports,"
        " migrations, group join included: the figure the goal was first measured with);"
        " records_per_second_from_group_ready from the moment the consumer group first held every"
        " process with its partitions (all mappers up and consuming, as a deployed mapper is when events"
        " arrive), counting the records applied after it (applied_before_group_ready are those a first"
        " process applied while the others joined); records_per_second_once_applying from the first"
        " record seen in the store;"
        " mapper_cpu_seconds is the user+system CPU of the mapper processes, start-up included;"
        " infrastructure_cpu_seconds the PostgreSQL server's (all its processes) and the Kafka broker's"
        " over the same span, when they run on this machine (on a shared server, others' work included:"
        " see load_average_1m); postgres_statements: pg_stat_statements over that span (execution time"
        " inside the server, lock waits included), by owner and the largest statements."
        " Processes of a run share one group; logs at WARNING; batches of up to 2,000 changes per"
        " PostgreSQL transaction. Kafka, PostgreSQL and the mapper share this machine's CPUs.",
    }


def main() -> None:
    """Run the benchmark and write its JSON result."""
    figures = asyncio.run(run_all())
    write_report("mapper-apply", figures)


if __name__ == "__main__":
    main()
