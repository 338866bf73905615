"""Two deployments on one Kafka, each with its own PSYNC_TOPIC_PREFIX: a tenant's events sent to one are
consumed by that deployment's mapper only, although both mappers run under the same consumer group id."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import RECORD_RESULTS, SOURCE_CHANGES, dlq_topic, topics_consumed_by
from stream_runner.namespace import TopicNamespace
from stream_runner.topic_admin import create_topics
from tests.integration.mapper.test_mapper_service import change_event
from tests.support.conditions import eventually
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess
from tests.topic_namespace import NAMESPACE

pytestmark = pytest.mark.integration

MAPPER_TOPICS = (*topics_consumed_by("mapper"), RECORD_RESULTS, dlq_topic("mapper"))


@pytest.fixture
async def namespaces(
    kafka_bootstrap: str, kafka_admin: AIOKafkaAdminClient, pg_pool: asyncpg.Pool
) -> AsyncIterator[tuple[TopicNamespace, TopicNamespace]]:
    """Two fresh deployments' namespaces with the mapper's topics (deleted afterwards)."""
    uid = uuid.uuid4().hex[:8]
    blue, green = (TopicNamespace(f"{NAMESPACE.prefix}ns{uid}-{colour}.") for colour in ("blue", "green"))
    for namespace in (blue, green):
        await create_topics(kafka_bootstrap, MAPPER_TOPICS, 1, namespace=namespace)
    yield blue, green
    await kafka_admin.delete_topics([n.topic(t.name) for n in (blue, green) for t in MAPPER_TOPICS])
    await drop_schemas(pg_pool, _schema(blue), _schema(green))


def _schema(namespace: TopicNamespace) -> str:
    return "itest_" + namespace.prefix.replace("-", "_").replace(".", "_").strip("_")


async def _links(pool: asyncpg.Pool, namespace: TopicNamespace, tenant: str) -> int:
    query = f"SELECT count(*) FROM {_schema(namespace)}.links WHERE tenant_id = $1"
    return int(await pool.fetchval(query, tenant) or 0)


async def _applied(pool: asyncpg.Pool, namespace: TopicNamespace, tenant: str) -> None:
    await eventually(lambda: _links(pool, namespace, tenant), lambda n: n == 1, within_s=90,
                     what=f"{tenant}'s change applied by its own deployment")  # fmt: skip


async def test_a_deployment_never_consumes_another_deployments_events(
    namespaces: tuple[TopicNamespace, TopicNamespace],
    kafka_bootstrap: str,
    pg_pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    blue, green = namespaces
    mappers = {
        namespace: ServiceProcess(
            "mapper",
            {
                "PSYNC_TOPIC_PREFIX": namespace.prefix,
                "MAPPER_GROUP_ID": "psync-mapper",  # the same group id in both deployments
                "MAPPER_DB_SCHEMA": _schema(namespace),
                "MAPPER_COMMIT_INTERVAL_S": "0.2",
            },
            tmp_path / f"{_schema(namespace)}.log",
        )
        for namespace in (blue, green)
    }
    tenants = {blue: f"blue{uuid.uuid4().hex[:8]}", green: f"green{uuid.uuid4().hex[:8]}"}
    try:
        for mapper in mappers.values():
            await mapper.start()
        for mapper in mappers.values():
            await mapper.wait_ready()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for namespace, tenant in tenants.items():
                key, value = change_event(tenant, 1, 0, {"name": "Acme", "website": "acme.io"})
                await producer.send_and_wait(namespace.topic(SOURCE_CHANGES.name), value, key=key)
        finally:
            await producer.stop()

        for namespace, tenant in tenants.items():
            await _applied(pg_pool, namespace, tenant)
        for mapper in mappers.values():
            # The metric counts a message once its batch is done (its results produced too), a moment
            # after the store shows the change: wait for the count, then it is this deployment's one.
            counted = await eventually(
                functools.partial(mapper.messages_processed, None, SOURCE_CHANGES.name), lambda n: n >= 1,
                within_s=30, what=f"{mapper.service}'s message counted",
            )  # fmt: skip
            assert counted == 1, mapper.log_tail()
    finally:
        for mapper in mappers.values():
            if mapper.process is not None and mapper.process.returncode is None:
                await mapper.terminate()

    assert await _links(pg_pool, blue, tenants[green]) == 0
    assert await _links(pg_pool, green, tenants[blue]) == 0
