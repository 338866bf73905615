"""psyncctl run as an operator runs it (`python -m psyncctl`, its own process), on scratch topics of its
own (unique names) and fresh schemas, against the real Kafka and PostgreSQL.

psyncctl works in the test process's topic namespace (it reads `PSYNC_TOPIC_PREFIX` as the services do),
so the helpers here take logical topic and group names too and find them in `NAMESPACE`."""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import SecretStr

from psyncctl.cli import execute
from psyncctl.settings import CtlSettings
from tests.support.commands import CommandResult, run_module
from tests.support.kafka_offsets import rewind_group
from tests.support.schemas import fresh_schema
from tests.topic_namespace import NAMESPACE, NamespacedProducer

CtlResult = CommandResult
"""What one psyncctl invocation printed and returned."""


Psyncctl = Callable[..., Awaitable[CtlResult]]


@pytest.fixture
async def ctl_settings(
    kafka_bootstrap: str, database_url: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[CtlSettings]:
    """psyncctl's settings for the test's infrastructure, with a schema of its own, dropped afterwards
    (tests add theirs)."""
    async with fresh_schema(pg_pool, "ctl") as schema:
        yield CtlSettings(
            kafka_bootstrap=kafka_bootstrap, database_url=SecretStr(database_url), db_schema=schema
        )


@pytest.fixture
def psyncctl(ctl_settings: CtlSettings) -> Psyncctl:
    """Run a psyncctl command line as the console script does (`cli.execute`), in this process; settings
    fields given as keywords override the test's."""

    async def run(*args: str, **overrides: Any) -> CtlResult:
        settings = ctl_settings.model_copy(update=overrides)
        out, err = io.StringIO(), io.StringIO()
        status = await execute(list(args), settings, out, err)
        return CtlResult(status, out.getvalue(), err.getvalue())

    return run


async def run_psyncctl_process(*args: str, env: dict[str, str]) -> CtlResult:
    """`python -m psyncctl ARGS...` as its own process."""
    return await run_module("psyncctl", *args, env=env)


@pytest.fixture
async def scratch_topic(kafka_admin: AIOKafkaAdminClient) -> AsyncIterator[str]:
    """A topic of 3 partitions only this test writes to (deleted afterwards), by its logical name."""
    async with new_scratch_topic(kafka_admin) as name:
        yield name


@pytest.fixture
async def another_scratch_topic(kafka_admin: AIOKafkaAdminClient) -> AsyncIterator[str]:
    """A second topic like `scratch_topic`."""
    async with new_scratch_topic(kafka_admin) as name:
        yield name


@contextlib.asynccontextmanager
async def new_scratch_topic(kafka_admin: AIOKafkaAdminClient) -> AsyncIterator[str]:
    """A new topic of 3 partitions, by its logical name, deleted on the way out."""
    name = f"itest.psyncctl.{secrets.token_hex(5)}"
    await kafka_admin.create_topics([NewTopic(NAMESPACE.topic(name), num_partitions=3, replication_factor=1)])
    try:
        yield name
    finally:
        await kafka_admin.delete_topics([NAMESPACE.topic(name)])


@pytest.fixture(scope="session")
async def raw_producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A plain producer for test input (to logical topic names)."""
    producer = NamespacedProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def produce(
    producer: AIOKafkaProducer,
    topic: str,
    messages: Sequence[tuple[str, bytes]],
    partition: int | None = None,
) -> list[tuple[int, int]]:
    """Produce (key, value) pairs in order; their (partition, offset) once acknowledged."""
    sent = [
        await producer.send_and_wait(topic, key=k.encode(), value=v, partition=partition) for k, v in messages
    ]
    return [(s.partition, s.offset) for s in sent]


async def read_all(
    bootstrap: str, topic: str, partitions: int = 3
) -> list[tuple[int, int, bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    """Every message of a small topic (a scratch topic has 3 partitions): partition, offset, key, value,
    headers."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(NAMESPACE.topic(topic), p) for p in range(partitions)]
        ends = await consumer.end_offsets(assigned)
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        found = []
        remaining = {tp for tp in assigned if ends[tp] > 0}
        while remaining:
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=1000)).items():
                found += [
                    (r.partition, r.offset, r.key, r.value, list(r.headers))
                    for r in records
                    if r.offset < ends[tp]
                ]
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return sorted(found, key=lambda m: (m[0], m[1]))
    finally:
        await consumer.stop()


async def committed(admin: AIOKafkaAdminClient, group: str) -> dict[tuple[str, int], int]:
    """The group's committed offsets (by logical topic names)."""
    return {
        (NAMESPACE.logical_topic(tp.topic), tp.partition): m.offset
        for tp, m in (await admin.list_consumer_group_offsets(NAMESPACE.group(group))).items()
    }


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit offsets (of logical topics) for a group with no members."""
    physical = {TopicPartition(NAMESPACE.topic(tp.topic), tp.partition): o for tp, o in offsets.items()}
    await rewind_group(bootstrap, group, physical)
