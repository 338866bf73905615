"""The stream runner against real Kafka and PostgreSQL: effects once, dead letters, commits after effects."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import CollectorRegistry

from postgres_store.inbox import claim_event, install_inbox, was_applied
from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.envelope import CloudEvent
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunKind, RunStarted
from schemas.keys import run_key
from schemas.topics import SYNC_RUNS, dlq_topic_name
from stream_runner.kafka_runner import KafkaStreamRunner
from stream_runner.messages import Handled, IncomingMessage
from stream_runner.metrics import RunnerMetrics
from stream_runner.namespace import TopicNamespace
from stream_runner.processor import MessageProcessor
from stream_runner.producer import EventProducer
from tests.support.conditions import eventually
from tests.support.schemas import drop_schemas

pytestmark = pytest.mark.integration

SCRATCH = TopicNamespace()
"""Every test here has throwaway topics of its own (unique names), so they need no namespace."""


class Scratch:
    """A throwaway topic pair, database schema and consumer group for one test."""

    def __init__(self) -> None:
        self.uid = uuid.uuid4().hex[:10]
        self.service = f"itest-{self.uid}"
        self.topic = f"itest.{self.uid}.sync-runs"
        self.dlq = dlq_topic_name(self.service)
        self.schema = f"itest_{self.uid}"
        self.tenant = f"t{self.uid}"


@pytest.fixture
async def scratch(kafka_admin: AIOKafkaAdminClient, pg_pool: asyncpg.Pool) -> AsyncIterator[Scratch]:
    s = Scratch()
    await kafka_admin.create_topics(
        [NewTopic(s.topic, num_partitions=12, replication_factor=1), NewTopic(s.dlq, 1, 1)]
    )
    await install_inbox(pg_pool, s.schema)
    await pg_pool.execute(f"CREATE TABLE {s.schema}.applied (tenant_id text, run_id text, event_id text)")
    yield s
    await drop_schemas(pg_pool, s.schema)
    await kafka_admin.delete_topics([s.topic, s.dlq])


def run_started(tenant: str, run_id: str) -> CloudEvent[Any]:
    payload = RunStarted(
        run_id=run_id,
        service="itest",
        kind=RunKind.SYNC,
        direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,),
        started_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    return build_event(
        payload,
        tenant=tenant,
        subject=run_key(tenant, run_id),
        source="/itest",
        id_parts=(run_id,),
        time=datetime(2026, 11, 1, tzinfo=UTC),
    )


def recording_handler(pool: asyncpg.Pool, schema: str) -> Any:
    async def handle(event: CloudEvent[Any], message: IncomingMessage) -> Handled:
        async with pool.acquire() as conn, conn.transaction():
            if not await claim_event(conn, schema, event.tenantid, event.id, message.topic):
                return Handled(duplicate=True)
            await conn.execute(
                f"INSERT INTO {schema}.applied VALUES ($1, $2, $3)",
                event.tenantid,
                event.data.run_id,
                event.id,
            )
        return Handled()

    return handle


class RunningRunner:
    def __init__(self, runner: KafkaStreamRunner, registry: CollectorRegistry, topic: str) -> None:
        self.runner, self.registry, self.topic = runner, registry, topic
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(runner.run(self.stop))

    def outcomes(self, outcome: str) -> float:
        value = self.registry.get_sample_value(
            "psync_messages_total", {"topic": self.topic, "outcome": outcome}
        )
        return value or 0.0

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


def recording_replica(
    scratch: Scratch, kafka_bootstrap: str, pg_pool: asyncpg.Pool, producer: EventProducer, **options: Any
) -> RunningRunner:
    """A replica of the scratch service, started: it records each run start it consumes in its table,
    committing every 0.2 s (`scratch_runner`, whose KafkaStreamRunner `options` go to)."""
    registry = CollectorRegistry()
    processor = MessageProcessor(
        scratch.service,
        {"psync.run.started": recording_handler(pg_pool, scratch.schema)},
        producer,
        RunnerMetrics(registry),
        topic_contracts={scratch.topic: SYNC_RUNS.name},
    )
    runner = scratch_runner(scratch, kafka_bootstrap, processor, commit_interval_s=0.2, **options)
    return RunningRunner(runner, registry, scratch.topic)


def scratch_runner(
    scratch: Scratch, kafka_bootstrap: str, processor: MessageProcessor, **options: Any
) -> KafkaStreamRunner:
    """A consumer loop of the scratch service on its topic, in the group `group-<uid>`; `options` go to
    KafkaStreamRunner."""
    return KafkaStreamRunner(
        bootstrap=kafka_bootstrap,
        group_id=f"group-{scratch.uid}",
        topics=[scratch.topic],
        processor=processor,
        client_id=scratch.service,
        namespace=SCRATCH,
        **options,
    )


@pytest.fixture
async def runner(
    scratch: Scratch, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[RunningRunner]:
    producer = EventProducer(kafka_bootstrap, client_id=scratch.service, namespace=SCRATCH)
    await producer.start()
    running = recording_replica(scratch, kafka_bootstrap, pg_pool, producer)
    yield running
    if not running.task.done():
        await running.shutdown()
    await producer.stop()


@pytest.fixture
async def raw_producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    yield producer
    await producer.stop()


async def count_applied(pool: asyncpg.Pool, scratch: Scratch) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM {scratch.schema}.applied"))


async def test_an_event_delivered_twice_is_applied_once(
    scratch: Scratch, runner: RunningRunner, raw_producer: AIOKafkaProducer, pg_pool: asyncpg.Pool
) -> None:
    event = run_started(scratch.tenant, "run-1")
    for _ in range(2):
        await raw_producer.send_and_wait(scratch.topic, encode_event(event), key=event.subject.encode())

    await eventually(lambda: asyncio.sleep(0, runner.outcomes("duplicate")), lambda n: n == 1, within_s=60,
                     what="the second delivery seen as a duplicate")  # fmt: skip

    assert await count_applied(pg_pool, scratch) == 1
    assert runner.outcomes("applied") == 1


async def test_a_malformed_event_is_dead_lettered_and_the_partition_keeps_flowing(
    scratch: Scratch,
    runner: RunningRunner,
    raw_producer: AIOKafkaProducer,
    pg_pool: asyncpg.Pool,
    kafka_bootstrap: str,
) -> None:
    good = run_started(scratch.tenant, "run-after-poison")
    key = good.subject.encode()
    poison = await raw_producer.send_and_wait(scratch.topic, b'{"type": "psync.run.started"', key=key)
    await raw_producer.send_and_wait(scratch.topic, encode_event(good), key=key)

    await eventually(lambda: count_applied(pg_pool, scratch), lambda n: n == 1, within_s=60,
                     what="the event behind the poison message applied")  # fmt: skip

    consumer = AIOKafkaConsumer(scratch.dlq, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        letter = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    headers = {k: v.decode() for k, v in letter.headers}
    assert letter.key == key
    assert letter.value == b'{"type": "psync.run.started"'
    assert headers["dlq.origin.topic"] == scratch.topic
    assert headers["dlq.origin.partition"] == str(poison.partition)
    assert headers["dlq.origin.offset"] == str(poison.offset)
    assert headers["dlq.error.class"] == "InvalidEvent"
    assert "not JSON" in headers["dlq.error.message"]


async def test_offsets_are_committed_after_the_effects_and_on_shutdown(
    scratch: Scratch,
    runner: RunningRunner,
    raw_producer: AIOKafkaProducer,
    pg_pool: asyncpg.Pool,
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    sent = [run_started(scratch.tenant, f"run-{i}") for i in range(20)]
    for event in sent:
        await raw_producer.send_and_wait(scratch.topic, encode_event(event), key=event.subject.encode())
    await eventually(lambda: count_applied(pg_pool, scratch), lambda n: n == 20, within_s=60,
                     what="all 20 events applied")  # fmt: skip

    await runner.shutdown()

    committed = await kafka_admin.list_consumer_group_offsets(f"group-{scratch.uid}")
    end_offsets = await _end_offsets(raw_producer, scratch.topic)
    assert {tp.partition: meta.offset for tp, meta in committed.items() if meta.offset >= 0} == {
        tp.partition: end for tp, end in end_offsets.items() if end > 0
    }


async def _end_offsets(producer: AIOKafkaProducer, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=producer.client._bootstrap_servers)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(12)]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


async def test_one_poll_of_many_partitions_is_applied_as_one_batch_in_partition_order(
    scratch: Scratch, kafka_bootstrap: str, raw_producer: AIOKafkaProducer
) -> None:
    events = [run_started(scratch.tenant, f"run-{n}") for n in range(240)]
    for event in events:  # all written before the runner starts: its first polls span many partitions
        await raw_producer.send(scratch.topic, encode_event(event), key=event.subject.encode())
    await raw_producer.flush()
    batches: list[list[tuple[int, int]]] = []

    async def record_batch(items: Any) -> list[Handled]:
        batches.append([(message.partition, message.offset) for _, message in items])
        return [Handled() for _ in items]

    producer = EventProducer(kafka_bootstrap, client_id=scratch.service, namespace=SCRATCH)
    await producer.start()
    processor = MessageProcessor(
        scratch.service,
        {},
        producer,
        RunnerMetrics(CollectorRegistry()),
        batch_handlers={"psync.run.started": record_batch},
        topic_contracts={scratch.topic: SYNC_RUNS.name},
    )
    kafka_runner = scratch_runner(scratch, kafka_bootstrap, processor, max_poll_records=500)
    stop = asyncio.Event()
    task = asyncio.create_task(kafka_runner.run(stop))
    try:
        await eventually(lambda: asyncio.sleep(0, sum(map(len, batches))), lambda n: n >= len(events),
                         within_s=60, what="every event handed to the batch handler")  # fmt: skip
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await producer.stop()

    seen = [position for batch in batches for position in batch]
    assert len(seen) == len(set(seen)) == len(events)
    assert max(len({partition for partition, _ in batch}) for batch in batches) > 1, batches
    for batch in batches:
        for partition in {p for p, _ in batch}:
            offsets = [offset for p, offset in batch if p == partition]
            assert offsets == sorted(offsets)


async def _members(admin: AIOKafkaAdminClient, group: str) -> list[str]:
    """The member ids the group's coordinator lists for `group`."""
    [response] = await admin.describe_consumer_groups([group])
    [described] = response.groups
    return [member[0] for member in described[5]]


async def test_a_static_member_keeps_its_place_when_it_stops_and_its_restart_takes_it_over(
    scratch: Scratch,
    raw_producer: AIOKafkaProducer,
    pg_pool: asyncpg.Pool,
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    """With a group instance id, a replica that goes away (a crash, a restart) leaves its partitions
    waiting for it rather than to a rebalance, and the replica started again under the same id replaces it
    in the group at once, instead of joining next to it and waiting out its session."""
    producer = EventProducer(kafka_bootstrap, client_id=scratch.service, namespace=SCRATCH)
    await producer.start()
    group = f"group-{scratch.uid}"

    def replica() -> RunningRunner:
        return recording_replica(
            scratch, kafka_bootstrap, pg_pool, producer, session_timeout_s=60, group_instance_id="replica-0"
        )

    async def send(run_id: str) -> None:
        event = run_started(scratch.tenant, run_id)
        await raw_producer.send_and_wait(scratch.topic, encode_event(event), key=event.subject.encode())

    try:
        first = replica()
        await send("run-1")
        await eventually(lambda: count_applied(pg_pool, scratch), lambda n: n == 1, within_s=60,
                         what="run-1 applied by the first replica")  # fmt: skip
        await first.shutdown()
        [stopped] = await _members(kafka_admin, group)  # still the group's member: it did not leave

        second = replica()
        await send("run-2")
        await eventually(lambda: count_applied(pg_pool, scratch), lambda n: n == 2, within_s=60,
                         what="run-2 applied by the restarted replica")  # fmt: skip
        [replacing] = await _members(kafka_admin, group)
        assert replacing != stopped, "the restarted replica took the stopped one's place"
        await second.shutdown()
    finally:
        await producer.stop()


def pushing_handler(
    pool: asyncpg.Pool, scratch: Scratch, replica: str, held: asyncio.Event | None = None
) -> Any:
    """A batch handler shaped like the pusher's pushes (`pusher.event_pushes`): it looks in the inbox for
    the events applied already, makes the external calls of the others (each a row in `effects`, standing
    for a Pipedrive write: outside the inbox's transaction, it cannot be taken back), then claims each event
    in the inbox. With `held`, its first batch waits after the look, as a batch of slow Pipedrive calls
    keeps the replica busy, until `held` is set."""
    holding = held

    async def push(items: Any) -> list[Handled]:
        nonlocal holding
        async with pool.acquire() as conn:
            fresh = [e for e, _ in items if not await was_applied(conn, scratch.schema, e.tenantid, e.id)]
        if holding is not None:
            hold, holding = holding, None
            await hold.wait()
        for event in fresh:
            await pool.execute(f"INSERT INTO {scratch.schema}.effects VALUES ($1, $2)", event.id, replica)
        handled = []
        for event, message in items:
            async with pool.acquire() as conn, conn.transaction():
                claimed = await claim_event(conn, scratch.schema, event.tenantid, event.id, message.topic)
            handled.append(Handled(duplicate=not claimed))
        return handled

    return push


async def test_a_batch_in_flight_when_a_replica_joins_makes_its_external_effects_once(
    scratch: Scratch,
    raw_producer: AIOKafkaProducer,
    pg_pool: asyncpg.Pool,
    kafka_bootstrap: str,
) -> None:
    """A second replica joins the group (a rebalance) while the first one is in the middle of a batch: the
    partitions that move to the second one must not be processed again there while, or after, the first
    one finishes them; each event's external effect (a Pipedrive write) happens once."""
    await pg_pool.execute(f"CREATE TABLE {scratch.schema}.effects (event_id text, replica text)")
    events = [run_started(scratch.tenant, f"run-{n}") for n in range(24)]
    for n, event in enumerate(events):  # two per partition, all there before the first replica polls
        await raw_producer.send(
            scratch.topic, encode_event(event), key=event.subject.encode(), partition=n % 12
        )
    await raw_producer.flush()
    producer = EventProducer(kafka_bootstrap, client_id=scratch.service, namespace=SCRATCH)
    await producer.start()
    second_applied, released = asyncio.Event(), asyncio.Event()
    first_batch: list[int] = []

    def replica(name: str, held: asyncio.Event | None) -> RunningRunner:
        handler = pushing_handler(pg_pool, scratch, name, held)

        async def push(items: Any) -> list[Handled]:
            if held is not None and not first_batch:
                first_batch.extend(message.partition for _, message in items)
            handled: list[Handled] = await handler(items)
            if held is None and any(not h.duplicate for h in handled):
                second_applied.set()
            return handled

        registry = CollectorRegistry()
        processor = MessageProcessor(
            scratch.service, {}, producer, RunnerMetrics(registry),
            batch_handlers={"psync.run.started": push}, topic_contracts={scratch.topic: SYNC_RUNS.name},
        )  # fmt: skip
        # A short session: the first replica hears of the rebalance at its next heartbeat (within 1 s).
        runner = scratch_runner(
            scratch,
            kafka_bootstrap,
            processor,
            commit_interval_s=0.2,
            max_poll_records=500,
            session_timeout_s=6,
        )
        return RunningRunner(runner, registry, scratch.topic)

    first = replica("first", held=released)
    second: RunningRunner | None = None
    try:
        await eventually(lambda: asyncio.sleep(0, len(first_batch)), lambda n: n > 0, within_s=60,
                         what="the first replica in its first batch")  # fmt: skip
        second = joined = replica("second", held=None)
        # The first replica's batch goes on once the second replica applied events of its own, or (when the
        # rebalance waits for the batch in flight, so the second replica gets nothing yet) after a while.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(second_applied.wait(), 6)
        released.set()
        await eventually(lambda: count_inbox(pg_pool, scratch), lambda n: n == len(events), within_s=60,
                         what="every event claimed in the inbox")  # fmt: skip
        await eventually(lambda: asyncio.sleep(0, joined.runner._consumer.assignment()), bool, within_s=60,
                         what="partitions assigned to the second replica")  # fmt: skip
        moved = {tp.partition for tp in joined.runner._consumer.assignment()} & set(first_batch)
    finally:  # both replicas stopped (their batches finished) before their effects are counted
        released.set()
        for running in (first, second):
            if running is not None:
                await running.shutdown()
        await producer.stop()

    assert moved, "the rebalance moved partitions of the batch in flight to the second replica"
    rows = await pg_pool.fetch(
        f"SELECT event_id, array_agg(replica) AS replicas FROM {scratch.schema}.effects GROUP BY event_id"
    )
    repeated = {row["event_id"]: row["replicas"] for row in rows if len(row["replicas"]) > 1}
    assert repeated == {}
    assert {row["event_id"] for row in rows} == {event.id for event in events}


async def count_inbox(pool: asyncpg.Pool, scratch: Scratch) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM {scratch.schema}.inbox"))
