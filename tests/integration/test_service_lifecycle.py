"""Every service starts as `python -m <service>`, becomes ready, serves metrics and stops on SIGTERM."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.service_process import ServiceProcess

pytestmark = pytest.mark.integration

SERVICES = ["connector", "mapper", "pusher", "auditlog"]


@pytest.fixture
async def isolated_env(
    pg_pool: asyncpg.Pool, kafka_admin: AIOKafkaAdminClient
) -> AsyncIterator[dict[str, str]]:
    """Own consumer groups and database schemas, so the test never moves a real group's offsets."""
    uid = uuid.uuid4().hex[:8]
    env = {}
    for service in SERVICES:
        env[f"{service.upper()}_GROUP_ID"] = f"itest-{service}-{uid}"
        env[f"{service.upper()}_DB_SCHEMA"] = f"itest_{service}_{uid}"
    yield env
    for service in SERVICES:
        await pg_pool.execute(f"DROP SCHEMA IF EXISTS itest_{service}_{uid} CASCADE")


@pytest.mark.parametrize("service", SERVICES)
async def test_service_becomes_ready_and_exits_cleanly_on_sigterm(
    service: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    process = ServiceProcess(service, isolated_env, tmp_path / f"{service}.log")
    await process.start()
    await process.wait_ready()

    assert await process.get("/healthz") == 200
    assert await process.get("/metrics") == 200
    exit_code = await process.terminate()

    assert exit_code == 0, process.log_tail()
    assert '"service_stopped"' in process.log_text()


async def test_console_serves_its_page_and_exits_cleanly(tmp_path: Path) -> None:
    process = ServiceProcess("console", {}, tmp_path / "console.log")
    await process.start()
    await process.wait_ready()

    assert await process.get("/") == 200
    assert await process.terminate() == 0, process.log_tail()
