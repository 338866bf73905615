"""One stack for the package's tests: an empty Pipedrive company (the sandbox, in-process) and every
service as its own process on fresh schemas and consumer groups (not under tests/integration, whose
hygiene fixture stops every service process after each test); and the ABM platform's producer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from pipedrive_sandbox import SandboxConfig
from tests.browser.stack import Stack, running_stack
from tests.topic_namespace import NamespacedProducer


@pytest.fixture(scope="package")
async def stack(
    pg_pool: asyncpg.Pool, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """An empty Pipedrive company of two users and every service, started once for the package."""
    empty = SandboxConfig(organizations=0, persons_per_organization=0, seats=2)
    async with running_stack(pg_pool, kafka_bootstrap, empty, tmp_path_factory.mktemp("e2e")) as running:
        yield running


@pytest.fixture(scope="package")
async def abm_platform(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """The visitor-identification platform's producer."""
    producer = NamespacedProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    yield producer
    await producer.stop()
