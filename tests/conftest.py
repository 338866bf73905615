"""Where the integration tests find real Kafka and PostgreSQL, and the secret keys they run with.

Keys: services refuse to start without keys of their own (or local mode). The one place the tests get
theirs is `_TEST_KEYS` below: random keys for the session, set in the environment unless the caller set
them, so every settings object built in a test and every service process a test starts share them.

1. `KAFKA_BOOTSTRAP` / `DATABASE_URL` set (what `make test` and CI do): those are used.
2. Otherwise, when a Docker engine answers: testcontainers starts both for the session.
3. Otherwise the integration tests are skipped with the reason; but under CI (`CI=true`) a missing or
   unreachable service is an error, never a skip.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from postgres_store.pool import create_pool
from schemas.topics import ALL_TOPICS
from tests.docker_engine import docker_engine_available

pytest_plugins = ["tests.hang_report"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_TEST_KEYS = ("PSYNC_CREDENTIALS_KEY", "CONSOLE_SERVICE_KEYS_KEY")
for _name in _TEST_KEYS:
    os.environ.setdefault(_name, secrets.token_hex(32))
_REACH_DEADLINE_S = 60.0
_TESTS = Path(__file__).resolve().parent
# Packages whose tests share one stack of service processes (package-scoped fixtures). Under
# `pytest -n 2 --dist loadgroup` (what `make test` runs) each of them runs on one worker, so its stack
# starts once; every other test goes to whichever worker is free.
_ONE_WORKER_PACKAGES = ("browser", "end_to_end")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep each package of `_ONE_WORKER_PACKAGES` on one xdist worker (an xdist_group mark)."""
    for item in items:
        if not item.path.is_relative_to(_TESTS):
            continue
        package = item.path.relative_to(_TESTS).parts[0]
        if package in _ONE_WORKER_PACKAGES:
            item.add_marker(pytest.mark.xdist_group(package))


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI needs real Kafka and PostgreSQL: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[tuple[str, str]]:
    """(kafka bootstrap, database url) of real servers, by the order of the module docstring."""
    bootstrap, dsn = os.environ.get("KAFKA_BOOTSTRAP"), os.environ.get("DATABASE_URL")
    if bootstrap and dsn:
        yield bootstrap, dsn
        return
    if not docker_engine_available():
        _unavailable(
            "no KAFKA_BOOTSTRAP/DATABASE_URL and no Docker engine for testcontainers: run `make test`"
        )
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with KafkaContainer().with_kraft() as kafka, PostgresContainer("postgres:15") as postgres:
        url = postgres.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
        yield kafka.get_bootstrap_server(), url


@pytest.fixture(scope="session")
def kafka_bootstrap(infrastructure: tuple[str, str]) -> str:
    """The bootstrap address of the real Kafka the tests use."""
    return infrastructure[0]


@pytest.fixture(scope="session")
def database_url(infrastructure: tuple[str, str]) -> str:
    """The URL of the real PostgreSQL database the tests use."""
    return infrastructure[1]


@pytest.fixture(scope="session")
async def kafka_admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    """An admin client of the real cluster, once it answers (and the registry's topics exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(admin.start(), _REACH_DEADLINE_S)
        existing = set(await admin.list_topics())
    except Exception as exc:
        await admin.close()
        _unavailable(f"Kafka at {kafka_bootstrap} does not answer: {exc!r}")
    missing = {t.name for t in ALL_TOPICS} - existing
    if missing:
        await admin.close()
        _unavailable(f"topics missing on {kafka_bootstrap} (run deploy/local/create_topics.py): {missing}")
    yield admin
    await admin.close()


@pytest.fixture(scope="session")
async def pg_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the real PostgreSQL, once it answers (configured as the services configure theirs)."""
    try:
        pool = await create_pool(database_url, min_size=1, max_size=4, connect_deadline_s=30)
    except Exception as exc:
        _unavailable(f"PostgreSQL at {database_url.rsplit('@', 1)[-1]} does not answer: {exc!r}")
    assert pool is not None
    yield pool
    await pool.close()
