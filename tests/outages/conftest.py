"""Private PostgreSQL and Kafka servers for outage tests, removed afterwards."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.outages.private_infra import PrivateKafka, PrivatePostgres, remove_state
from tests.support.service_process import ServiceProcess


def private_state_dir(kind: str) -> Path:
    """A state folder outside pytest's temporary root: pytest makes that root private to its owner
    whenever a session starts, and PostgreSQL runs as another user that must reach its data."""
    return Path(tempfile.mkdtemp(prefix=f"psync-{kind}-"))


@pytest.fixture
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    """A started private PostgreSQL (durable, as `make up` runs it)."""
    server = PrivatePostgres(private_state_dir("pg"))
    await server.start()
    try:
        yield server
    finally:
        await ServiceProcess.kill_all_running()
        with contextlib.suppress(Exception):
            await server.stop()
        await remove_state(server.state)


@pytest.fixture
async def private_kafka() -> AsyncIterator[PrivateKafka]:
    """A started private Kafka broker with every topic of the registry; short-lived (tests/outages) unless
    `make faults` runs (PSYNC_FAULTS=1: imports of 100,000 records, a broker compiled as `make up`'s)."""
    short_lived = os.environ.get("PSYNC_FAULTS") != "1"
    server = PrivateKafka(private_state_dir("kafka"), short_lived=short_lived)
    await server.start()
    try:
        await server.create_topics()
        yield server
    finally:
        await ServiceProcess.kill_all_running()
        with contextlib.suppress(Exception):
            await server.stop()
        await remove_state(server.state)
