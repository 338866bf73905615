"""Integration-test hygiene (no service process outlives the test that started it) and the producer tests
write to the services' input topics with."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from tests.support.service_process import ServiceProcess
from tests.topic_namespace import NamespacedProducer


@pytest.fixture(autouse=True)
async def _no_leftover_service_processes() -> AsyncIterator[None]:
    yield
    await ServiceProcess.kill_all_running()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A plain idempotent producer in the test's topic namespace, for tests that write to a service's input
    topics as other services or the ABM platform would."""
    producer = NamespacedProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    yield producer
    await producer.stop()
