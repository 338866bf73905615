"""A revoked API key is refused at once by every replica: two connector processes that have just served
the key (reads and a write) both answer 401 to it the moment the admin command has revoked it, and the
write it then attempts changes nothing; the tenant's other key keeps working."""

from __future__ import annotations

import aiohttp
import pytest

from tenant_auth.keys import split_api_key
from tenant_auth.registry import TenantRegistry
from tests.integration.connector.conftest import ConnectorProcesses
from tests.support.commands import run_module

pytestmark = pytest.mark.integration


async def _revoke_with_the_admin_command(database_url: str, tenant: str, key_id: str) -> None:
    revoked = await run_module(
        "tenant_auth", "revoke-key", tenant, key_id, env={"DATABASE_URL": database_url}
    )
    assert revoked.status == 0, revoked.output


async def _statuses(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], frequency: str
) -> tuple[int, int]:
    async with http.get(f"{url}/v1/runs", headers=headers) as read:
        read_status = read.status
    async with http.put(f"{url}/v1/settings", json={"frequency": frequency}, headers=headers) as write:
        write_status = write.status
    return read_status, write_status


async def test_a_revoked_key_is_refused_at_once_by_every_replica_writes_included(
    connector_processes: ConnectorProcesses, database_url: str
) -> None:
    processes = connector_processes
    replicas = [processes.process("first"), processes.process("second")]
    for replica in replicas:
        await replica.start()
    for replica in replicas:
        await replica.wait_ready()
    other_key = await TenantRegistry(processes.pool).issue_key(processes.tenant, "kept")
    kept = {"Authorization": f"Bearer {other_key.full_key}"}
    key_id, _ = split_api_key(processes.headers["Authorization"].removeprefix("Bearer "))

    async with aiohttp.ClientSession() as http:
        for replica in replicas:  # each replica has just checked (and may remember) the key
            assert await _statuses(http, replica.url, processes.headers, "24h") == (200, 200)
        version_before = await processes.pool.fetchval(
            f"SELECT version FROM {processes.schema}.tenant_settings WHERE tenant_id = $1", processes.tenant
        )

        await _revoke_with_the_admin_command(database_url, processes.tenant, key_id)

        for replica in replicas:
            assert await _statuses(http, replica.url, processes.headers, "1h") == (401, 401)
        version_after = await processes.pool.fetchval(
            f"SELECT version FROM {processes.schema}.tenant_settings WHERE tenant_id = $1", processes.tenant
        )
        assert version_after == version_before
        for replica in replicas:
            assert await _statuses(http, replica.url, kept, "6h") == (200, 200)
