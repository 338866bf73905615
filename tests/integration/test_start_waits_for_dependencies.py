"""A service started while Kafka or PostgreSQL is unreachable waits for it (docs/operations.md, "Outages"):
it logs that it waits, becomes ready once the server answers, and gives up only at its start deadline
(`<SERVICE>_START_DEADLINE_S`), with one `start_failed` line naming the setting to check (KAFKA_BOOTSTRAP,
DATABASE_URL) and exit status 1, no traceback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from schemas.topics import topics_consumed_by
from tests.support.conditions import eventually
from tests.support.kafka_offsets import position_group_at_end
from tests.support.ports import free_port
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration


@pytest.fixture
async def mapper_env(kafka_bootstrap: str, pg_pool: asyncpg.Pool) -> AsyncIterator[dict[str, str]]:
    """A mapper of its own schema and group (at the end of its topics: no other test's history)."""
    uid = uuid.uuid4().hex[:8]
    env = {"MAPPER_GROUP_ID": f"itest-mapper-{uid}", "MAPPER_DB_SCHEMA": f"itest_mapper_{uid}"}
    await position_group_at_end(kafka_bootstrap, env["MAPPER_GROUP_ID"], topics_consumed_by("mapper"))
    yield env
    await ServiceProcess.kill_all_running()
    await drop_schemas(pg_pool, env["MAPPER_DB_SCHEMA"])


def _log_events(process: ServiceProcess) -> list[dict[str, object]]:
    return [json.loads(line) for line in process.log_text().splitlines() if line.startswith("{")]


def _waits_for(process: ServiceProcess, dependency: str) -> int:
    return sum(
        1
        for line in _log_events(process)
        if line.get("event") == "dependency_not_reachable_yet" and line.get("dependency") == dependency
    )


@pytest.mark.parametrize(
    ("dependency", "setting", "address", "named"),
    [
        ("kafka", "KAFKA_BOOTSTRAP", "127.0.0.1:{port}", "KAFKA_BOOTSTRAP (127.0.0.1:{port})"),
        # Where, not the whole URL: it holds a password.
        (
            "postgres",
            "DATABASE_URL",
            "postgresql://psync:pw@127.0.0.1:{port}/psync",
            "DATABASE_URL (127.0.0.1:{port}/psync)",
        ),
    ],
)
async def test_a_service_started_with_a_dependency_unreachable_waits_then_exits_naming_its_setting(
    mapper_env: dict[str, str], tmp_path: Path, dependency: str, setting: str, address: str, named: str
) -> None:
    port = free_port()  # nobody listens there
    env = {**mapper_env, setting: address.format(port=port), "MAPPER_START_DEADLINE_S": "3"}
    process = ServiceProcess("mapper", env, tmp_path / "mapper.log")
    await process.start()
    assert process.process is not None

    exit_code = await asyncio.wait_for(process.process.wait(), 60)

    assert exit_code == 1, process.log_tail()
    assert _waits_for(process, dependency) >= 2, process.log_tail()  # tried again, not gone at once
    last = _log_events(process)[-1]
    assert last["event"] == "start_failed", process.log_tail()
    assert last["dependency"] == dependency
    assert str(last["error"]).endswith(f"; check {named.format(port=port)}"), last
    assert "Traceback" not in process.log_text() and ":pw@" not in process.log_text()
    assert all(line.startswith("{") for line in process.log_text().splitlines()), process.log_tail()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65_536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def forwarder(port: int, to: str) -> AsyncIterator[None]:
    """Accept connections on 127.0.0.1:`port` and forward each to `to` (host:port), both ways."""
    host, _, target_port = to.partition(",")[0].rpartition(":")
    pipes: set[asyncio.Task[None]] = set()

    async def forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(host, int(target_port))
        for task in (
            asyncio.create_task(_pipe(client_reader, server_writer)),
            asyncio.create_task(_pipe(server_reader, client_writer)),
        ):
            pipes.add(task)
            task.add_done_callback(pipes.discard)

    server = await asyncio.start_server(forward, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for task in list(pipes):
            task.cancel()
        await server.wait_closed()


async def test_a_service_started_before_kafka_answers_becomes_ready_once_it_does(
    mapper_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {**mapper_env, "KAFKA_BOOTSTRAP": f"127.0.0.1:{port}", "MAPPER_START_DEADLINE_S": "120"}
    process = ServiceProcess("mapper", env, tmp_path / "mapper.log")
    await process.start()

    async def waits() -> int:
        assert process.process is not None and process.process.returncode is None, process.log_tail()
        return _waits_for(process, "kafka")

    await eventually(waits, lambda n: n >= 2, within_s=60, what="the mapper waiting for Kafka")
    # The bootstrap address answers from now on (the broker then advertises its own address).
    async with forwarder(port, kafka_bootstrap):
        await process.wait_ready(within_s=60)
        assert await process.terminate() == 0, process.log_tail()
    assert "start_failed" not in process.log_text()
