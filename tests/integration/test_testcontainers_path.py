"""The testcontainers path of the fixtures: real Kafka and PostgreSQL in containers, where Docker exists.

This machine has no Docker engine, so `make test` runs against the local Kafka and PostgreSQL the Makefile
starts, and this test is skipped with that reason. Where an engine answers, it proves the path works.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.docker_engine import docker_engine_available

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not docker_engine_available(),
        reason="no Docker engine reachable: the testcontainers path cannot run here; "
        "the suite uses the Kafka and PostgreSQL that `make test` starts",
    ),
]


async def test_testcontainers_start_a_kafka_and_a_postgres_that_answer() -> None:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with KafkaContainer().with_kraft() as kafka, PostgresContainer("postgres:15") as postgres:
        bootstrap = kafka.get_bootstrap_server()
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("tc.probe", 1, 1)])
        await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        await producer.send_and_wait("tc.probe", b"hello")
        await producer.stop()
        consumer = AIOKafkaConsumer("tc.probe", bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        record = await asyncio.wait_for(consumer.getone(), 60)
        await consumer.stop()
        url = postgres.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
        answer = await (await asyncpg.connect(url)).fetchval("SELECT 41 + 1")

    assert record.value == b"hello"
    assert answer == 42
