"""The mapper scaled from 1 to 3 replicas and back to 1 during an import loses nothing and applies
nothing twice, and with 3 replicas the import's partitions are worked by all three at once.

The import arrives in three parts, one per phase, so each phase certainly has work: part 1 with one
replica, part 2 once three replicas share the group (4 of the 12 partitions each, as each replica's
consumer-lag metric says), part 3 after two of them stopped (SIGTERM) and the first took every partition
back. Part 2's records are spread over all 12 partitions, so each of the three replicas applied the ones
on its 4 (other tests share the topic, so the replicas' message counters alone cannot attribute them).
The time is measured by the mapper bench, not here: `BENCH_MAPPER_PROCESSES=1,3 make bench`
(bench/bench_mapper_apply.py drains the same import with one and with three processes)."""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mapper.bootstrap import install_tables
from schemas.topics import KEYED_PARTITIONS, RECORD_RESULTS, SOURCE_CHANGES
from tests.integration.mapper.test_mapper_crash import (
    apply_cleanly,
    import_change,
    results_by_change,
    store_rows,
)
from tests.support.conditions import eventually
from tests.support.kafka_offsets import end_offsets
from tests.support.rows import count_rows
from tests.support.schemas import schema_fixture
from tests.support.service_process import ServiceProcess
from tests.topic_namespace import NamespacedProducer

pytestmark = pytest.mark.integration

PART = 1000
SHARE = KEYED_PARTITIONS // 3


clean_schema = schema_fixture("mapper_clean", install_tables)
"""The mapper's tables, for the same changes applied cleanly to compare with."""


async def owned_partitions(process: ServiceProcess) -> set[int]:
    """The source-changes partitions the replica reports lag for: the ones it owns."""
    try:
        async with aiohttp.ClientSession() as session, session.get(process.url + "/metrics") as response:
            text = await response.text()
    except aiohttp.ClientError:
        return set()
    return {
        int(sample.labels["partition"])
        for family in text_string_to_metric_families(text)
        if family.name == "psync_consumer_lag"
        for sample in family.samples
        if sample.labels["topic"] == SOURCE_CHANGES.name
    }


async def applied(process: ServiceProcess) -> int:
    return await process.messages_processed("applied", SOURCE_CHANGES.name)


async def produce(bootstrap: str, messages: list[tuple[bytes, bytes]]) -> list[int]:
    """Send source changes, wait for every ack; the partition each landed on."""
    producer = NamespacedProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    try:
        futures = [await producer.send(SOURCE_CHANGES.name, value, key=key) for key, value in messages]
        return [(await future).partition for future in futures]
    finally:
        await producer.stop()


async def test_scaling_the_mapper_out_and_back_during_an_import_loses_and_doubles_nothing(
    mapper_env: dict[str, str], kafka_bootstrap: str, pg_pool: asyncpg.Pool, clean_schema: str, tmp_path: Path
) -> None:
    tenant = f"scale{uuid.uuid4().hex[:8]}"
    schema = mapper_env["MAPPER_DB_SCHEMA"]
    changes = [import_change(tenant, n) for n in range(3 * PART)]
    results_before = await end_offsets(kafka_bootstrap, RECORD_RESULTS)
    env = {
        **mapper_env,
        "MAPPER_LOG_LEVEL": "WARNING",
        "MAPPER_SESSION_TIMEOUT_S": "6",
        "MAPPER_MAX_BATCH": "100",
    }
    replicas = [ServiceProcess("mapper", env, tmp_path / f"mapper-{n}.log") for n in (1, 2, 3)]
    first, second, third = replicas

    async def links() -> int:
        return await count_rows(pg_pool, f"SELECT count(*) FROM {schema}.links WHERE tenant_id = $1", tenant)

    # One replica: part 1.
    await first.start()
    await first.wait_ready()
    await produce(kafka_bootstrap, changes[:PART])
    await eventually(links, lambda n: n == PART, within_s=120, what="part 1 applied by one replica")
    alone = await applied(first)

    # Three replicas: part 2, once the group shares the partitions out.
    for replica in (second, third):
        await replica.start()
    for replica in (second, third):
        await replica.wait_ready()

    async def shares() -> list[set[int]]:
        return [await owned_partitions(r) for r in replicas]

    await eventually(
        shares,
        lambda owned: (
            [len(o) for o in owned] == [SHARE] * 3 and set().union(*owned) == set(range(KEYED_PARTITIONS))
        ),
        within_s=90,
        what="three replicas owning 4 partitions each",
    )
    owners = await shares()
    before = [await applied(r) for r in replicas]
    landed = await produce(kafka_bootstrap, changes[PART : 2 * PART])
    await eventually(links, lambda n: n == 2 * PART, within_s=120, what="part 2 applied by three replicas")
    assert await shares() == owners, "the partitions moved during part 2"
    after = [await applied(r) for r in replicas]
    worked = [a - b for a, b in zip(after, before, strict=True)]
    share_of_part_2 = [sum(1 for p in landed if p in owned) for owned in owners]

    # Back to one: the other two stop cleanly, the first takes every partition back; part 3.
    for replica in (second, third):
        assert await replica.terminate() == 0, replica.log_tail()
    await eventually(
        lambda: owned_partitions(first),
        lambda owned: owned == set(range(KEYED_PARTITIONS)),
        within_s=90,
        what="the first replica owning every partition again",
    )
    await produce(kafka_bootstrap, changes[2 * PART :])
    await eventually(links, lambda n: n == 3 * PART, within_s=120, what="part 3 applied by one replica")
    assert await first.terminate() == 0

    # Part 1 was the first replica's alone; part 2 was worked by all three at once, each its partitions'.
    assert alone >= PART
    assert sum(share_of_part_2) == PART and all(share > 0 for share in share_of_part_2), share_of_part_2
    assert all(n >= share for n, share in zip(worked, share_of_part_2, strict=True)), (
        worked,
        share_of_part_2,
    )
    # Nothing lost, nothing applied twice: one inbox claim, one link, one result per record (the same
    # bytes, if sent again), and the store equals a clean apply of the same events.
    claimed = f"SELECT count(*) FROM {schema}.inbox WHERE tenant_id = $1 AND topic = $2"
    assert await pg_pool.fetchval(claimed, tenant, SOURCE_CHANGES.name) == 3 * PART
    results = await results_by_change(kafka_bootstrap, results_before, tenant)
    assert (len(results), {len(values) for values in results.values()}) == (3 * PART, {1})
    await apply_cleanly(pg_pool, clean_schema, changes)
    scaled, clean = await store_rows(pg_pool, schema, tenant), await store_rows(pg_pool, clean_schema, tenant)
    assert len(clean["links"]) == 3 * PART
    assert scaled == clean
