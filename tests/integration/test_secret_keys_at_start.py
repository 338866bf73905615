"""Service processes are safe by default: the connector, the pusher and the console refuse to start
with no key of their own or with the public development key (exit status 2, naming the variable), and
start in local mode only, saying at start that they run on public keys."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from console.settings import LOCAL_DEV_SERVICE_KEYS_KEY
from pipedrive_client.crypto import LOCAL_DEV_CREDENTIALS_KEY
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration

KEY_OF = {
    "connector": ("PSYNC_CREDENTIALS_KEY", LOCAL_DEV_CREDENTIALS_KEY),
    "pusher": ("PSYNC_CREDENTIALS_KEY", LOCAL_DEV_CREDENTIALS_KEY),
    "console": ("CONSOLE_SERVICE_KEYS_KEY", LOCAL_DEV_SERVICE_KEYS_KEY),
}


@pytest.fixture
async def schemas(pg_pool: asyncpg.Pool) -> AsyncIterator[dict[str, str]]:
    """Fresh schemas for whatever a process that does start creates."""
    suffix = secrets.token_hex(4)
    env = {
        "CONNECTOR_DB_SCHEMA": f"itest_keys_connector_{suffix}",
        "PUSHER_DB_SCHEMA": f"itest_keys_pusher_{suffix}",
        "PUSHER_GROUP_ID": f"itest-keys-pusher-{suffix}",
        "CONSOLE_DB_SCHEMA": f"itest_keys_console_{suffix}",
        "PIPEDRIVE_CLIENT_SCHEMA": f"itest_keys_pdc_{suffix}",
    }
    yield env
    await drop_schemas(pg_pool, *(value for name, value in env.items() if name.endswith("_SCHEMA")))


def _process(service: str, env: dict[str, str], tmp_path: Path, key: str | None) -> ServiceProcess:
    process = ServiceProcess(service, env, tmp_path / f"{service}.log")
    variable, _ = KEY_OF[service]
    process.env.pop(variable, None)
    process.env.pop("PSYNC_LOCAL_MODE", None)
    if key is not None:
        process.env[variable] = key
    return process


async def test_each_service_refuses_to_start_without_a_key_of_its_own(
    schemas: dict[str, str], tmp_path: Path
) -> None:
    # Each service once, each way once (every service and way: the settings' unit tests).
    cases = [("connector", "none"), ("pusher", "development"), ("console", "development")]
    processes = [
        _process(service, schemas, tmp_path / which, None if which == "none" else KEY_OF[service][1])
        for service, which in cases
    ]
    for process in processes:
        process.log_path.parent.mkdir(exist_ok=True)
        await process.start()

    codes = await asyncio.wait_for(
        asyncio.gather(*(p.process.wait() for p in processes if p.process is not None)), 120
    )

    for (service, which), process, code in zip(cases, processes, codes, strict=True):
        variable = KEY_OF[service][0]
        problem = "is not set" if which == "none" else "is the public development key"
        assert code == 2, process.log_tail()
        assert f"{variable} {problem}" in process.log_text()
        assert "service_started" not in process.log_text()


async def test_in_local_mode_a_service_starts_on_the_development_key_and_warns(
    schemas: dict[str, str], tmp_path: Path
) -> None:
    variable, _ = KEY_OF["connector"]
    process = _process("connector", schemas, tmp_path, None)
    process.env["PSYNC_LOCAL_MODE"] = "true"

    await process.start()
    await process.wait_ready()
    await process.terminate()

    warnings = [line for line in process.log_text().splitlines() if "insecure_development_keys" in line]
    assert len(warnings) == 1 and variable in warnings[0] and '"warning"' in warnings[0]
