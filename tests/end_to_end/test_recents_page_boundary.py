"""Deletions moved across a `/v1/recents` page boundary, seen only from outside: the sandbox's API (people
using Pipedrive, and its admin API making 50 edits at the one moment that matters: between two recents
pages), the connector's HTTP API (the admin triggering syncs) and `psync.source-changes.v1` (what the
integration emitted). Recents are paged by position: records edited between two page calls move to the
end of the list and every item after their old places moves back, some into the page already read. The
deletions among those must still reach the topic, each once (the next sync scans the same window again).
The connector process has its own sandbox company (600 organizations) and schemas; its scan overlap is 1 s,
so a deletion skipped by one sync is not simply listed again by the next one's overlap.
The inside version is tests/integration/connector/test_sync_runs.py."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest

from pipedrive_sandbox import Plan, SandboxConfig, SandboxHandle, run_sandbox
from schemas.topics import SOURCE_CHANGES
from tenant_auth.registry import TenantRegistry
from tests.support.conditions import eventually
from tests.support.kafka_offsets import end_offsets, values_since
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration

ORGANIZATIONS = 600
EDITED = 60  # changed first: the head of the next scan's recents
DOOMED = 500  # deleted next: with the edits, more than one page of recents (500 items)
EDITED_BETWEEN_PAGES = 50


class Connector:
    """The connector process and the tenant's admin using its API."""

    def __init__(self, process: ServiceProcess, tenant: str, api_key: str) -> None:
        self.process, self.tenant, self.api_key = process, tenant, api_key

    async def call(self, method: str, path: str, body: object = None) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.process.url + path, json=body, headers=headers) as response,
        ):
            assert response.status < 300, f"{method} {path}: {response.status} {await response.text()}"
            return await response.json()

    async def sync(self) -> dict[str, Any]:
        """Sync now through the API, and wait for the run to finish."""
        run = await self.call("POST", "/v1/sync")
        return await eventually(
            lambda: self.call("GET", f"/v1/runs/{run['run_id']}"),
            lambda r: r["state"] == "finished",
            within_s=180,
            what="the sync",
        )


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    """A company of 600 organizations on the Ultimate plan, its burst window off: under Ultimate's 120
    calls in 2 s the test's own 560 changes took about 9 s (80 of its deletions answered 429 and were
    waited out), while the connector's three syncs (pages of 500) and the test's two lists made 14 calls
    in all, far below any plan's window. Calls are still charged against the daily budget and recorded."""
    config = SandboxConfig(
        plan=Plan.ULTIMATE,
        organizations=ORGANIZATIONS,
        persons_per_organization=0,
        deals_per_organization=0,
        enforce_burst_limit=False,
    )
    async with run_sandbox(config) as handle:
        yield handle


@pytest.fixture
async def connector(
    sandbox: SandboxHandle, pg_pool: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[Connector]:
    """The connector process on fresh schemas, its tenant connected to the sandbox by API token."""
    uid = uuid.uuid4().hex[:8]
    schemas = [f"itest_connector_rp{uid}", f"itest_pdc_rp{uid}"]
    process = ServiceProcess("connector", {}, tmp_path / "connector.log")
    process.env.update(
        PSYNC_CREDENTIALS_KEY=uuid.uuid4().hex * 2,
        PIPEDRIVE_CLIENT_SCHEMA=schemas[1],
        PIPEDRIVE_ALLOWED_TEST_URLS=sandbox.base_url,
        PIPEDRIVE_OAUTH_BASE_URL=sandbox.base_url,
        CONNECTOR_DB_SCHEMA=schemas[0],
        CONNECTOR_DEFAULT_API_BASE_URL=sandbox.base_url,
        CONNECTOR_PUBLIC_BASE_URL=process.url,
        CONNECTOR_OVERLAP_SECONDS="1",
    )
    tenant = f"rp{uid}"
    registry = TenantRegistry(pg_pool)
    await registry.create_tenant(tenant, "Recents page boundary")
    admin = Connector(process, tenant, (await registry.issue_key(tenant, "test")).full_key)
    await process.start()
    try:
        await process.wait_ready(within_s=90)
        await admin.call("POST", "/v1/connection/api-token", {"api_token": sandbox.api_token})
        yield admin
    finally:
        if process.process is not None and process.process.returncode is None:
            await process.terminate()
        await drop_schemas(pg_pool, *schemas)


async def _pipedrive(session: aiohttp.ClientSession, sandbox: SandboxHandle, method: str, path: str,
                     body: object = None) -> Any:  # fmt: skip
    """A person using Pipedrive (its 429s waited out, as a client must)."""
    for _ in range(20):
        async with session.request(
            method, sandbox.base_url + path, json=body, headers={"x-api-token": sandbox.api_token}
        ) as response:
            if response.status == 429:
                await asyncio.sleep(float(response.headers.get("x-ratelimit-reset") or 1))
                continue
            assert response.status < 300, f"{method} {path}: {response.status} {await response.text()}"
            return await response.json()
    raise AssertionError(f"{method} {path}: still rate limited")


async def _in_turn(calls: list[Any], at_once: int = 10) -> None:
    for start in range(0, len(calls), at_once):
        await asyncio.gather(*calls[start : start + at_once])


async def _admin(sandbox: SandboxHandle, method: str, path: str, body: object = None) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{sandbox.base_url}/_sandbox{path}", json=body) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def test_deletions_moved_across_a_recents_page_boundary_reach_the_topic_once(
    sandbox: SandboxHandle, connector: Connector, kafka_bootstrap: str
) -> None:
    since = await end_offsets(kafka_bootstrap, SOURCE_CHANGES)
    first = await connector.sync()
    async with aiohttp.ClientSession() as session:
        page = "/api/v2/organizations?limit=500&sort_by=id"
        listed = await _pipedrive(session, sandbox, "GET", page)
        cursor = listed["additional_data"]["next_cursor"]
        more = await _pipedrive(session, sandbox, "GET", f"{page}&cursor={cursor}")
        ids = [o["id"] for o in listed["data"] + more["data"]]
        edited, doomed = ids[:EDITED], ids[EDITED : EDITED + DOOMED]
        await asyncio.sleep(2)  # the changes are later than the first sync's scan (and its 1 s overlap)
        await _in_turn([
            _pipedrive(session, sandbox, "PATCH", f"/api/v2/organizations/{i}", {"name": f"Edited {i}"})
            for i in edited
        ])  # fmt: skip
        await asyncio.sleep(1.1)  # recents list the edits first, then the deletions
        await _in_turn([_pipedrive(session, sandbox, "DELETE", f"/api/v2/organizations/{i}") for i in doomed])
    await asyncio.sleep(2)  # the deletions are older than the next scan's overlap
    await _admin(sandbox, "POST", "/between-pages", {
        "path": "/v1/recents", "entity": "organization", "ids": edited[:EDITED_BETWEEN_PAGES],
        "changes": {"name": "Edited again between two recents pages"},
    })  # fmt: skip

    shifted = await connector.sync()
    between = await _admin(sandbox, "GET", "/between-pages")
    await asyncio.sleep(2)
    last = await connector.sync()

    async def deletions() -> Counter[int]:
        values = await values_since(kafka_bootstrap, SOURCE_CHANGES, since)
        events = [orjson.loads(value) for value in values]
        return Counter(
            e["data"]["pipedrive_id"]
            for e in events
            if e["tenantid"] == connector.tenant
            and (e["data"]["object"], e["data"]["action"]) == ("organization", "deleted")
        )

    async def missing() -> list[int]:
        return sorted(set(doomed) - set(await deletions()))

    await eventually(missing, lambda m: not m, within_s=30, what="every deletion on the topic (missing)")
    found = await deletions()
    assert [r["status"] for r in (first, shifted, last)] == ["Success"] * 3
    assert len(between["edits"][0]["done_ids"]) == EDITED_BETWEEN_PAGES, "no second recents page was read"
    assert set(found) == set(doomed), f"{len(set(doomed) - set(found))} deletions missing"
    assert max(found.values()) == 1, "a deletion emitted twice"
