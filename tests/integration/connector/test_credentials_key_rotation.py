"""Rotating the credentials key: connector processes given the new key with the old one as old read the
credentials stored under the old key; `python -m pipedrive_client re-encrypt` moves them to the new key;
then a process given only the new key syncs all the same."""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from pipedrive_client import ApiTokenCredentials, CredentialCipher, CredentialStore, install_schema
from pipedrive_sandbox import SandboxConfig
from tests.integration.connector.conftest import ConnectorProcesses
from tests.support.commands import run_module
from tests.support.conditions import eventually
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration


async def _synced(process: ServiceProcess, headers: dict[str, str]) -> dict[str, Any]:
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{process.url}/v1/sync") as queued:
            assert queued.status == 202, await queued.text()
            run_id = (await queued.json())["run_id"]

        async def run() -> dict[str, Any]:
            async with http.get(f"{process.url}/v1/runs/{run_id}") as answer:
                found: dict[str, Any] = await answer.json()
                return found

        return await eventually(run, lambda r: r["state"] == "finished", within_s=60, what="the sync")


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=5)])
async def test_credentials_under_the_old_key_stay_readable_until_re_encrypted_under_the_new_one(
    connector_processes: ConnectorProcesses,
) -> None:
    processes = connector_processes
    old, new = secrets.token_hex(32), secrets.token_hex(32)
    sandbox = processes.sandbox.handle
    client_schema = processes.env["PIPEDRIVE_CLIENT_SCHEMA"]
    await install_schema(processes.pool, client_schema)
    stored_under_old = CredentialStore(processes.pool, CredentialCipher(SecretStr(old)), client_schema)
    await stored_under_old.save(
        processes.tenant, ApiTokenCredentials(SecretStr(sandbox.api_token), sandbox.base_url)
    )
    rotating = {"PSYNC_CREDENTIALS_KEY": new, "PSYNC_CREDENTIALS_OLD_KEYS": old}

    during = processes.process("during", **rotating)
    await during.start()
    await during.wait_ready()
    read_during = await _synced(during, processes.headers)
    re_encrypted = await run_module("pipedrive_client", "re-encrypt", env={**processes.env, **rotating})
    await during.terminate()
    after = processes.process("after", PSYNC_CREDENTIALS_KEY=new, PSYNC_CREDENTIALS_OLD_KEYS="")
    await after.start()
    await after.wait_ready()
    read_after = await _synced(after, processes.headers)

    assert read_during["status"] == "Success", read_during
    assert re_encrypted.status == 0 and "re-encrypted 1 credential(s)" in re_encrypted.output, re_encrypted
    assert read_after["status"] == "Success", read_after
