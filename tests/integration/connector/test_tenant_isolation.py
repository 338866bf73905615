"""One tenant never stalls another in the connector's workers: a tenant whose stored row is bad (an id
events cannot carry, settings that no longer parse) does not stop the other tenants' scheduled syncs nor
the publication of their settings; a tenant whose budget is spent does not hold the other tenants'
webhook hints (its own wait for the reset); and many tenants working at once, one of them with
unreadable credentials and one with a closed budget, all get their imports worked."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from pipedrive_client.budget import ClosedWindow
from pipedrive_sandbox import SandboxConfig
from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.store import Entity
from schemas.topics import SETTINGS, SOURCE_CHANGES
from tests.integration.connector.conftest import ConnectorHarness
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def _running(worker: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """A connector worker running in the background until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _connected(harness: ConnectorHarness, tenant: str) -> dict[str, str]:
    headers = await harness.new_tenant_headers(tenant)
    connect = await harness.api.post(
        "/v1/connection/api-token", json={"api_token": harness.sandbox.handle.api_token}, headers=headers
    )
    assert connect.status == 200, await connect.text()
    return headers


async def _runs(harness: ConnectorHarness, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await harness.api.get("/v1/runs", headers=headers)
    assert response.status == 200, await response.text()
    runs: list[dict[str, Any]] = (await response.json())["data"]
    return runs


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=5)])
async def test_a_tenant_with_a_bad_row_does_not_stop_other_tenants_schedules_or_settings(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    saved = await harness.api.put("/v1/settings", json={"frequency": "1h"}, headers=harness.headers)
    assert saved.status == 200, await saved.text()
    deps = harness.connector
    table = f"{deps.settings.db_schema}.tenant_settings"
    good = await deps.pool.fetchval(f"SELECT settings FROM {table} WHERE tenant_id = $1", harness.tenant)
    # Rows written before tenant ids and settings were checked: an id with a space, and settings that
    # no longer parse, both connected, scheduled and waiting to be published; and the good tenant's
    # last publication failed.
    await deps.pool.execute(
        f"INSERT INTO {table} (tenant_id, version, settings, published_version)"
        " VALUES ('acme inc', 3, $1, 0), ($2, 2, $3, 0)",
        good,
        f"{harness.tenant}-broken",
        {**good, "objects": "garbage"},
    )
    await deps.pool.execute(f"UPDATE {table} SET published_version = 0 WHERE tenant_id = $1", harness.tenant)

    try:
        async with _running(harness.connector.scheduler.run):
            scheduled = await eventually(
                lambda: _runs(harness, harness.headers),
                lambda runs: any(r["trigger"] == "schedule" and r["status"] == "Success" for r in runs),
                within_s=30,
                what="the good tenant's scheduled sync, finished",
            )
            published = await eventually(
                lambda: harness.events(SETTINGS.name),
                lambda events: sum(e["data"]["version"] == good["version"] for e in events) >= 2,
                within_s=30,
                what="the good tenant's settings published again",
            )
    finally:  # the schema is the session's: leave no bad row to the next tests
        bad = ["acme inc", f"{harness.tenant}-broken"]
        for name in ("tenant_settings", "runs"):
            await deps.pool.execute(
                f"DELETE FROM {deps.settings.db_schema}.{name} WHERE tenant_id = ANY($1)", bad
            )

    assert [r["trigger"] for r in scheduled] == ["schedule"]
    assert {e["tenantid"] for e in published} == {harness.tenant}


async def _webhook_events(harness: ConnectorHarness, tenant: str) -> list[dict[str, Any]]:
    events = await harness.reader.events_since(
        SOURCE_CHANGES.name, harness.marks[SOURCE_CHANGES.name], tenant
    )
    return [e for e in events if e["data"]["origin"] == "webhook"]


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=5)])
async def test_a_tenant_whose_budget_is_spent_does_not_hold_other_tenants_webhook_hints(
    harness: ConnectorHarness,
) -> None:
    spent, other = harness.tenant, f"{harness.tenant}b"
    await harness.connect_by_token()
    on = await harness.api.put("/v1/webhooks", json={"enabled": True}, headers=harness.headers)
    assert on.status == 200, await on.text()
    state = harness.sandbox.handle.state
    reopens = state.clock.now() + 3600
    await harness.connector.factory.budget.close(spent, ClosedWindow(until=reopens, for_day=True))
    first, second = list(state.tables[Entity.ORGANIZATION].live())[:2]
    state.clock.advance(2)
    state.entities.update(Entity.ORGANIZATION, first.id, {"name": "First rename"}, 1, ChangeSource.APP)
    other_headers = await _connected(harness, other)
    on = await harness.api.put("/v1/webhooks", json={"enabled": True}, headers=other_headers)
    assert on.status == 200, await on.text()
    state.entities.update(Entity.ORGANIZATION, second.id, {"name": "Second rename"}, 1, ChangeSource.APP)

    async with _running(harness.connector.hints.run):
        emitted = await eventually(
            lambda: _webhook_events(harness, other),
            lambda events: len(events) >= 1,
            within_s=20,
            what="the other tenant's webhook change",
        )
        assert [e["data"]["pipedrive_id"] for e in emitted] == [second.id]
        assert await _webhook_events(harness, spent) == []

        state.clock.advance(reopens - state.clock.now() + 1)
        harness.connector.hints_available.set()
        resumed = await eventually(
            lambda: _webhook_events(harness, spent),
            lambda events: len(events) >= 2,
            within_s=20,
            what="the spent tenant's webhook changes after the reset",
        )
    assert sorted(e["data"]["pipedrive_id"] for e in resumed) == sorted([first.id, second.id])


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=5)])
async def test_many_tenants_working_at_once_each_get_their_import_worked(harness: ConnectorHarness) -> None:
    tenants = {f"{harness.tenant}n{i}": await _connected(harness, f"{harness.tenant}n{i}") for i in range(6)}
    unreadable, closed, *healthy = tenants
    deps = harness.connector
    credentials = f"{deps.settings.pipedrive.client_schema}.credentials"
    await deps.pool.execute(  # a row copied from another tenant: it does not decrypt for this one
        f"UPDATE {credentials} SET ciphertext = (SELECT ciphertext FROM {credentials} WHERE tenant_id = $2)"
        " WHERE tenant_id = $1",
        unreadable,
        healthy[0],
    )
    reopens = harness.sandbox.handle.state.clock.now() + 3600
    await deps.factory.budget.close(closed, ClosedWindow(until=reopens, for_day=True))
    for headers in tenants.values():
        started = await harness.api.post("/v1/imports", json={"source": "all_organizations"}, headers=headers)
        assert started.status == 202, await started.text()

    async def states() -> dict[str, tuple[str, str | None]]:
        found = {}
        for tenant, headers in tenants.items():
            # Bounded: when every pooled connection is held, the API cannot answer either.
            [run] = await asyncio.wait_for(_runs(harness, headers), 10)
            found[tenant] = (run["state"], run["status"])
        return found

    async with _running(harness.connector.scheduler.run):
        final = await eventually(
            states,
            lambda found: all(state != "queued" and state != "running" for state, _ in found.values()),
            within_s=60,
            what="every tenant's import worked",
        )

    assert final[unreadable] == ("finished", "Error")
    assert final[closed] == ("paused", None)
    assert all(final[t] == ("finished", "Success") for t in healthy)
