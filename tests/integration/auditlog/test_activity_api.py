"""The auditlog's HTTP API on the real PostgreSQL: runs and entries written by its handlers' adapter, read
page by page, filtered, and never across tenants."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from auditlog.activity_api import add_activity_routes
from auditlog.activity_log import ActivityLog, RecordEntry
from auditlog.bootstrap import MIGRATIONS
from postgres_store.migrations import apply_migrations
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStarted, RunStatus
from tenant_auth.middleware import tenant_auth_middleware
from tenant_auth.registry import TenantRegistry

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="module")
async def auditlog_schema(pg_pool: asyncpg.Pool) -> AsyncIterator[str]:
    schema = f"itest_auditlog_{uuid.uuid4().hex[:8]}"
    await apply_migrations(pg_pool, schema, MIGRATIONS)
    yield schema
    await pg_pool.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
async def api(pg_pool: asyncpg.Pool, auditlog_schema: str) -> AsyncIterator[tuple[Client, TenantRegistry]]:
    registry = TenantRegistry(pg_pool)
    await registry.install()
    app = web.Application(middlewares=[tenant_auth_middleware(registry)])
    add_activity_routes(app, pg_pool, auditlog_schema)
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    yield client, registry
    await client.close()


async def _tenant(registry: TenantRegistry) -> tuple[str, dict[str, str]]:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    await registry.create_tenant(tenant, tenant)
    key = await registry.issue_key(tenant)
    return tenant, {"Authorization": f"Bearer {key.full_key}"}


async def _runs(log: ActivityLog, tenant: str, statuses: list[RunStatus | None]) -> None:
    """One run a minute; None: started, not finished."""
    for n, status in enumerate(statuses):
        started = RunStarted(
            run_id=f"run-{n}", service="connector", kind=RunKind.SYNC, direction=Direction.TO_ABM,
            objects=(SyncObject.ORGANIZATION,), started_at=T0 + timedelta(minutes=n),
        )  # fmt: skip
        await log.record_run_started(tenant, f"{tenant}-s{n}", "psync.sync-runs.v1", started)
        if status is not None:
            finished = RunFinished(
                **started.model_dump(exclude={"trigger"}),
                finished_at=started.started_at + timedelta(seconds=5),
                counts=RunCounts(created=n, failed=1 if status is RunStatus.WARNING else 0),
                tokens_spent=10 * n, status=status,
                message="Invalid API key" if status is RunStatus.ERROR else None,
            )  # fmt: skip
            await log.record_run_finished(tenant, f"{tenant}-f{n}", "psync.sync-runs.v1", finished)


async def test_runs_are_listed_newest_first_page_by_page_and_filtered(
    api: tuple[Client, TenantRegistry], pg_pool: asyncpg.Pool, auditlog_schema: str
) -> None:
    client, registry = api
    tenant, headers = await _tenant(registry)
    statuses = [RunStatus.SUCCESS, RunStatus.WARNING, RunStatus.ERROR, RunStatus.SUCCESS, None]
    await _runs(ActivityLog(pg_pool, auditlog_schema), tenant, statuses)

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/runs", params=params, headers=headers)
        assert response.status == 200
        body = await response.json()
        seen += [run["run_id"] for run in body["data"]]
        if (cursor := body["next_cursor"]) is None:
            break
    assert seen == ["run-4", "run-3", "run-2", "run-1", "run-0"]

    errors = await (await client.get("/v1/runs", params={"status": "Error"}, headers=headers)).json()
    [error] = errors["data"]
    assert (error["run_id"], error["message"], error["tokens_spent"]) == ("run-2", "Invalid API key", 20)
    running = await (await client.get("/v1/runs", params={"status": "running"}, headers=headers)).json()
    assert [r["run_id"] for r in running["data"]] == ["run-4"]
    one = await (await client.get("/v1/runs/run-1", headers=headers)).json()
    assert one["data"]["status"] == "Warning" and (one["data"]["created"], one["data"]["failed"]) == (1, 1)


async def test_a_runs_entries_are_listed_oldest_first_and_filtered_by_outcome(
    api: tuple[Client, TenantRegistry], pg_pool: asyncpg.Pool, auditlog_schema: str
) -> None:
    client, registry = api
    tenant, headers = await _tenant(registry)
    log = ActivityLog(pg_pool, auditlog_schema)
    outcomes = ["created", "skipped", "failed", "updated", "created"]
    for n, outcome in enumerate(outcomes):
        entry = RecordEntry(
            run_id="run-0", object="organization", direction="to_abm", match_key=f"org{n}.io",
            pipedrive_id=n, abm_id=None, outcome=outcome,
            message="Required field missing: name" if outcome == "failed" else None,
            tokens_spent=0, occurred_at=T0 + timedelta(seconds=n),
        )  # fmt: skip
        await log.record_entry(tenant, f"{tenant}-e{n}", "psync.record-results.v1", entry)

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        body = await (await client.get("/v1/runs/run-0/entries", params=params, headers=headers)).json()
        seen += [e["match_key"] for e in body["data"]]
        if (cursor := body["next_cursor"]) is None:
            break
    assert seen == [f"org{n}.io" for n in range(5)]
    failed = await (
        await client.get("/v1/runs/run-0/entries", params={"outcome": "failed"}, headers=headers)
    ).json()
    assert [(e["match_key"], e["message"]) for e in failed["data"]] == [
        ("org2.io", "Required field missing: name")
    ]


async def test_a_tenant_sees_nothing_of_another_and_bad_queries_get_a_400(
    api: tuple[Client, TenantRegistry], pg_pool: asyncpg.Pool, auditlog_schema: str
) -> None:
    client, registry = api
    owner, _ = await _tenant(registry)
    _, stranger = await _tenant(registry)
    await _runs(ActivityLog(pg_pool, auditlog_schema), owner, [RunStatus.SUCCESS])

    assert (await (await client.get("/v1/runs", headers=stranger)).json())["data"] == []
    missing = await client.get("/v1/runs/run-0", headers=stranger)
    assert missing.status == 404
    assert await missing.json() == {"error": "not_found", "message": "No such run for this tenant."}
    assert (await client.get("/v1/runs")).status == 401
    for params in ({"limit": "0"}, {"status": "Fine"}, {"cursor": "not-ours"}, {"sort": "x"}):
        response = await client.get("/v1/runs", params=params, headers=stranger)
        body = await response.json()
        assert response.status == 400 and body["error"] == "bad_request", params
        assert any(next(iter(params)) in problem for problem in body["problems"]), body
        assert body["message"] == "; ".join(body["problems"]), body
