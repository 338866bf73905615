"""No tenant slows another: a tenant's live change is applied ahead of another tenant's import backlog.

Driven from outside, as two customers and their Pipedrive companies would: tenant A's first sync reads
12,000 organizations while the mapper is down (a deployment, a crash), so they wait in Kafka; then tenant
B renames one of its organizations and syncs. When the mapper comes back, B's rename must not wait behind
A's backlog. The ABM store's own times (the mapper API's `created_at` / `updated_at`: the applying
transaction's start) say how many of A's accounts were applied before B's rename.

Before bulk reads had a topic of their own, B's rename sat behind about a twelfth of A's backlog in its
partition (the keys spread over 12 partitions): 2,548 and 4,339 of A's 10,690 accounts were applied
first in two runs (2026-12-04). Now it is on partitions of its own, read on the live topic's turn: none
came first in the runs since; at most the batch in flight and one more (batches of 200 here) may.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from pipedrive_sandbox import SandboxConfig, SandboxHandle, run_sandbox
from tests.browser.stack import Stack, Tenant
from tests.support.conditions import eventually

IMPORTED = 12_000
BATCH = 200
APPLIED_FIRST_AT_MOST = 3 * BATCH
"""A's accounts the mapper may apply before B's rename: the batch in flight, the live turn's and slack
for a poll that had not fetched B's rename yet; about 1,000 of A's wait in B's partition alone."""
WAIT_S = 180
NEW_NAME = "Renamed while A imports"


@pytest.fixture
async def stack(pg_pool: asyncpg.Pool, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """Two Pipedrive companies (A's large, B's small) and every service, the mapper in batches of 200."""
    big = SandboxConfig(organizations=IMPORTED, persons_per_organization=0, deals_per_organization=0)
    small = SandboxConfig(organizations=3, persons_per_organization=0, deals_per_organization=0)
    async with run_sandbox(big) as company_a, run_sandbox(small) as company_b:
        stack = Stack(pg_pool, kafka_bootstrap, company_a, tmp_path, more_sandboxes=[company_b])
        stack.consumers["mapper"].env["MAPPER_MAX_BATCH"] = str(BATCH)
        try:
            await stack.start()
            yield stack
        finally:
            await stack.stop()


async def _connect_and_sync(stack: Stack, tenant: Tenant, company: SandboxHandle) -> dict[str, Any]:
    """Connect the tenant to `company` by API token, sync now and wait for the run to finish."""
    body = {"api_token": company.api_token, "api_base_url": company.base_url}
    await stack.api(tenant, "connector", "POST", "/v1/connection/api-token", body)
    return await _sync(stack, tenant)


async def _sync(stack: Stack, tenant: Tenant) -> dict[str, Any]:
    run = await stack.api(tenant, "connector", "POST", "/v1/sync")
    finished: dict[str, Any] = await eventually(
        lambda: stack.api(tenant, "connector", "GET", f"/v1/runs/{run['run_id']}"),
        lambda r: r["state"] == "finished",
        within_s=WAIT_S,
        what="the sync",
    )
    assert finished["status"] == "Success", finished
    return finished


async def _accounts(stack: Stack, tenant: Tenant) -> list[dict[str, Any]]:
    """Every account of the tenant, through the mapper's API."""
    accounts: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await stack.api(tenant, "mapper", "GET", f"/v1/accounts?limit=500{cursor}")
        accounts += page["data"]
        if page["next_cursor"] is None:
            return accounts
        cursor = f"&cursor={page['next_cursor']}"


async def _apply_status(stack: Stack, tenant: Tenant, run_id: str) -> str | None:
    """The status of the mapper's apply run of a connector run, as the activity log shows it (None while
    it is not reported)."""
    try:
        run = await stack.api(tenant, "auditlog", "GET", f"/v1/runs/apply-{run_id}")
    except AssertionError:  # 404 until the mapper reports it
        return None
    status: str | None = run["data"].get("status")
    return status


async def _rename(company: SandboxHandle, org_id: int, name: str) -> None:
    """A Pipedrive user renames an organization (the company's own API)."""
    async with (
        aiohttp.ClientSession() as session,
        session.patch(
            f"{company.base_url}/api/v2/organizations/{org_id}",
            json={"name": name},
            headers={"x-api-token": company.api_token},
        ) as response,
    ):
        assert response.status == 200, await response.text()


async def test_a_tenants_live_change_is_applied_ahead_of_another_tenants_import_backlog(stack: Stack) -> None:
    tenant_a, tenant_b = await stack.new_tenant(), await stack.new_tenant()
    [company_b] = stack.more_sandboxes
    await _connect_and_sync(stack, tenant_b, company_b)
    [renamed, *_] = await eventually(
        lambda: _accounts(stack, tenant_b), lambda found: len(found) == 3, within_s=WAIT_S, what="B's 3"
    )

    mapper = stack.consumers["mapper"]
    assert await mapper.terminate() == 0, mapper.log_tail()
    read = await _connect_and_sync(stack, tenant_a, stack.sandbox)
    assert sum(read["counts"].values()) == IMPORTED, read
    await _rename(company_b, renamed["pipedrive"]["id"], NEW_NAME)
    await _sync(stack, tenant_b)
    await mapper.start()
    await mapper.wait_ready(within_s=WAIT_S)

    async def renames() -> list[dict[str, Any]]:
        return [a for a in await _accounts(stack, tenant_b) if a["fields"].get("name") == NEW_NAME]

    [rename] = await eventually(renames, bool, within_s=WAIT_S, what="B's rename in the ABM store")
    await eventually(
        lambda: _apply_status(stack, tenant_a, read["run_id"]),
        lambda status: status not in (None, "running"),
        within_s=WAIT_S,
        what="A's sync applied",
    )
    accounts_a = await _accounts(stack, tenant_a)

    renamed_at = datetime.fromisoformat(rename["updated_at"])
    applied_first = sum(1 for a in accounts_a if datetime.fromisoformat(a["created_at"]) < renamed_at)
    assert len(accounts_a) > IMPORTED // 2, "A's sync applied"
    assert applied_first <= APPLIED_FIRST_AT_MOST, (
        f"{applied_first} of A's {len(accounts_a)} accounts were applied before B's rename"
    )
