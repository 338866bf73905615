"""No tenant slows another: a tenant's reveal is auto-pushed while another tenant's large manual push is
still under way, not after it.

Driven from outside, as two customers and their Pipedrive companies would: tenant A's Pipedrive answers
slowly (50 ms a call, the sandbox's latency fault; real Pipedrive takes 100 to 300 ms) and A confirms a
manual push of 150 organizations (the pusher's API); right after, the ABM platform reveals a company of
tenant B, whose auto-push is on. B's organization must be in B's Pipedrive while most of A's are not yet
in A's: A's sandbox is counted the moment B's organization shows in B's (counted a little late, if
anything, which only makes A's count larger). Both companies are watched through their state, not their
API (whose token the integration calls with: watching would spend its rate limit).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from pipedrive_sandbox import Plan, SandboxConfig, SandboxHandle, run_sandbox
from pipedrive_sandbox.store import Entity
from tests.browser.stack import Stack, Tenant
from tests.end_to_end.test_deletes_merges_and_pushes import BOTH_WAYS, WAIT_S
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration

PUSHED = 150
LATENCY_MS = 50
PUSHED_FIRST_AT_MOST = PUSHED // 2
"""A's organizations that may be in A's Pipedrive when B's reveal is: fewer than half of A's push."""


@pytest.fixture
async def stack(pg_pool: asyncpg.Pool, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """Two empty Pipedrive companies (A's on a plan whose burst limit its pushes stay under: they wait for
    A's latency, not for its rate limit) and every service."""
    empty = SandboxConfig(organizations=0, persons_per_organization=0, deals_per_organization=0)
    async with (
        run_sandbox(empty.model_copy(update={"plan": Plan.ULTIMATE})) as company_a,
        run_sandbox(empty) as company_b,
    ):
        stack = Stack(pg_pool, kafka_bootstrap, company_a, tmp_path, more_sandboxes=[company_b])
        try:
            await stack.start()
            yield stack
        finally:
            await stack.stop()


async def _connect(stack: Stack, tenant: Tenant, company: SandboxHandle, **settings: Any) -> None:
    """Connect the tenant to `company` by API token, save `settings` and wait until the pusher has them."""
    body = {"api_token": company.api_token, "api_base_url": company.base_url}
    await stack.api(tenant, "connector", "POST", "/v1/connection/api-token", body)
    await stack.api(tenant, "connector", "PUT", "/v1/settings", settings)
    await eventually(
        lambda: stack.api(tenant, "pusher", "GET", "/v1/push/mapping?object=organization"),
        lambda mapping: mapping["directions"]["create_in_pipedrive"],
        within_s=WAIT_S,
        what="the pusher has the settings",
    )


async def _organizations(company: SandboxHandle) -> list[dict[str, Any]]:
    """The company's organizations, through its API (its own token)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{company.base_url}/api/v2/organizations?limit=500", headers={"x-api-token": company.api_token}
        ) as response,
    ):
        assert response.status == 200, await response.text()
        found: list[dict[str, Any]] = (await response.json())["data"]
        return found


def _held(company: SandboxHandle) -> Callable[[], Awaitable[int]]:
    """How many organizations the company holds, read from its state (watching it often through its API
    would spend the token the integration calls with, and slow the pushes down)."""

    async def count() -> int:
        return sum(1 for _ in company.state.tables[Entity.ORGANIZATION].live())

    return count


async def _slow_down(company: SandboxHandle, latency_ms: int) -> None:
    """Every API call to the company takes `latency_ms` longer (the sandbox's admin API)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{company.base_url}/_sandbox/faults", json={"latency_ms": latency_ms}) as response,
    ):
        assert response.status == 200, await response.text()


async def test_a_tenants_reveal_is_pushed_while_another_tenants_large_push_is_under_way(stack: Stack) -> None:
    uid = uuid.uuid4().hex[:6]
    tenant_a, tenant_b = await stack.new_tenant(), await stack.new_tenant()
    company_a, [company_b] = stack.sandbox, stack.more_sandboxes
    organizations = {"organization": {"directions": BOTH_WAYS}}
    await _connect(stack, tenant_a, company_a, objects=organizations)
    await _connect(stack, tenant_b, company_b, objects=organizations, auto_push={"enabled": True})
    await _slow_down(company_a, LATENCY_MS)
    records = [{"fields": {"name": f"A {i}", "website": f"a{i}-{uid}.io"}} for i in range(PUSHED)]

    await stack.api(tenant_a, "pusher", "POST", "/v1/push", {"object": "organization", "records": records})
    await stack.reveal(tenant_b, f"b-{uid}.io", f"B {uid}")

    await eventually(_held(company_b), bool, within_s=WAIT_S, what="B's revealed organization")
    pushed_first = await _held(company_a)()
    await eventually(_held(company_a), lambda held: held == PUSHED, within_s=WAIT_S, what="A's push")
    assert [o["name"] for o in await _organizations(company_b)] == [f"B {uid}"]
    assert len(await _organizations(company_a)) == PUSHED
    assert pushed_first <= PUSHED_FIRST_AT_MOST, (
        f"{pushed_first} of A's {PUSHED} organizations were in A's Pipedrive before B's reveal was in B's"
    )
