"""Alerts on the real PostgreSQL, delivered to a local webhook receiver (aiohttp): an Error run raises one
alert, delivered once; repeated causes within the window are debounced into it; a receiver that fails and
recovers gets the alert after retries; the settings and the banner's alerts through the auditlog's API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from auditlog.activity_log_store import PostgresActivityLog
from auditlog.alert_api import add_alert_routes
from auditlog.alert_delivery import AlertDelivery
from auditlog.alert_rules import AlertSettings
from auditlog.alert_store import AlertStore
from auditlog.bootstrap import install_tables
from auditlog.handlers import build_handlers
from schemas.catalog import build_event
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus
from stream_runner.messages import IncomingMessage
from tenant_auth.registry import TenantRegistry
from tests.integration.alert_receiver import FAST, Receiver, serve_receiver
from tests.support.conditions import eventually
from tests.support.schemas import schema_fixture
from tests.support.tenants import Client, new_tenant, tenant_api_client

pytestmark = pytest.mark.integration


auditlog_schema = schema_fixture("alerts", install_tables, scope="module")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    async with serve_receiver() as served:
        yield served


@pytest.fixture
async def delivering(pg_pool: asyncpg.Pool, auditlog_schema: str) -> AsyncIterator[None]:
    stop = asyncio.Event()
    worker = asyncio.create_task(AlertDelivery(AlertStore(pg_pool, auditlog_schema), FAST).run(stop))
    yield
    stop.set()
    await worker


@pytest.fixture
async def api(pg_pool: asyncpg.Pool, auditlog_schema: str) -> AsyncIterator[tuple[Client, TenantRegistry]]:
    store = AlertStore(pg_pool, auditlog_schema)
    async with tenant_api_client(
        pg_pool, lambda app: add_alert_routes(app, store, frozenset({"127.0.0.1"}))
    ) as api:
        yield api


async def _run_ends(pg_pool: asyncpg.Pool, schema: str, tenant: str, run_id: str, message: str) -> None:
    """The auditlog's handler receives the end of a run that failed, as the consumer loop would give it."""
    now = datetime.now(UTC)
    run = RunFinished(
        run_id=run_id, service="connector", kind=RunKind.SYNC, direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,), started_at=now - timedelta(seconds=5), finished_at=now,
        counts=RunCounts(), status=RunStatus.ERROR, message=message,
    )  # fmt: skip
    event = build_event(
        run,
        tenant=tenant,
        subject=f"{tenant}:{run_id}",
        source="/psync/connector",
        id_parts=(run_id,),
        time=now,
    )
    handle = build_handlers(PostgresActivityLog(pg_pool, schema), alerts=AlertStore(pg_pool, schema))[
        "psync.run.finished"
    ]
    await handle(event, IncomingMessage("psync.sync-runs.v1", 0, 0, None, b""))


async def _use_webhook(client: Client, headers: dict[str, str], url: str) -> None:
    body = {"webhook_url": url, "failure_threshold": 3, "window_minutes": 5}
    response = await client.put("/v1/alerts/settings", json=body, headers=headers)
    assert response.status == 200, await response.text()


async def test_an_error_run_is_delivered_once_and_repeats_in_the_window_are_debounced(
    api: tuple[Client, TenantRegistry],
    receiver: tuple[Receiver, str],
    delivering: None,
    pg_pool: asyncpg.Pool,
    auditlog_schema: str,
) -> None:
    client, registry = api
    hook, url = receiver
    tenant, headers = await new_tenant(registry)
    await _use_webhook(client, headers, url)

    for n in range(3):
        await _run_ends(pg_pool, auditlog_schema, tenant, f"run-{n}", "Pipedrive answered 500")
    await _run_ends(pg_pool, auditlog_schema, tenant, "run-0", "Pipedrive answered 500")  # redelivered

    [delivered] = await eventually(
        lambda: asyncio.sleep(0, hook.of(tenant)), lambda got: len(got) >= 1, within_s=10, what="delivery"
    )
    assert "A sync run failed" in delivered["text"] and "run-0" in delivered["text"]
    assert delivered["blocks"][0]["type"] == "header"
    store = AlertStore(pg_pool, auditlog_schema)
    await eventually(
        lambda: store.deliveries(tenant), lambda d: d[0]["delivered_at"] is not None, within_s=10, what="done"
    )
    assert len(hook.of(tenant)) == 1

    body = await (await client.get("/v1/alerts", headers=headers)).json()
    [alert] = body["data"]
    assert (alert["cause"], alert["occurrences"], alert["delivery"]["state"]) == ("run_error", 4, "delivered")
    assert alert["run_id"] == "run-0"  # the first run of the window: the console links to its page
    acknowledged = await client.post(f"/v1/alerts/{alert['alert_id']}/acknowledge", headers=headers)
    assert acknowledged.status == 200
    assert (await (await client.get("/v1/alerts", headers=headers)).json())["data"] == []


async def test_a_receiver_failing_then_recovering_gets_the_alert_after_retries(
    api: tuple[Client, TenantRegistry],
    receiver: tuple[Receiver, str],
    delivering: None,
    pg_pool: asyncpg.Pool,
    auditlog_schema: str,
) -> None:
    client, registry = api
    hook, url = receiver
    hook.failures = 2
    tenant, headers = await new_tenant(registry)
    await _use_webhook(client, headers, url)

    await _run_ends(pg_pool, auditlog_schema, tenant, "run-1", "Invalid API key: token revoked; reconnect")

    [delivered] = await eventually(
        lambda: asyncio.sleep(0, hook.of(tenant)), lambda got: len(got) >= 1, within_s=10, what="delivery"
    )
    assert "Pipedrive credentials refused" in delivered["text"]
    store = AlertStore(pg_pool, auditlog_schema)
    [row] = await eventually(
        lambda: store.deliveries(tenant), lambda d: d[0]["delivered_at"] is not None, within_s=10, what="done"
    )
    assert (hook.refused, row["attempts"]) == (2, 3)


async def test_bad_settings_get_a_400_and_change_nothing(api: tuple[Client, TenantRegistry]) -> None:
    client, registry = api
    _, headers = await new_tenant(registry)
    defaults = await (await client.get("/v1/alerts/settings", headers=headers)).json()
    assert defaults == {"webhook_url": None, "failure_threshold": 10, "window_minutes": 15}

    bad_bodies: list[object] = [
        {"webhook_url": "ftp://example.com/x"},
        {"webhook_url": "http://example.com/hook"},
        {"webhook_url": "https://169.254.169.254/latest/meta-data"},
        {"webhook_url": "https://127.1/hook"},  # IPv4 shorthands of 127.0.0.1: addresses, not names
        {"webhook_url": "https://2130706433/hook"},
        {"failure_threshold": 0},
        {"window_minutes": 100000},
        {"unknown": 1},
        [],
    ]
    for bad in bad_bodies:
        response = await client.put("/v1/alerts/settings", json=bad, headers=headers)
        assert response.status == 400, bad
        assert (await response.json())["error"] == "bad_request"
    not_json = await client.put("/v1/alerts/settings", data=b"{", headers=headers)
    assert not_json.status == 400
    assert await (await client.get("/v1/alerts/settings", headers=headers)).json() == defaults
    unknown = await client.post("/v1/alerts/nope/acknowledge", headers=headers)
    assert unknown.status == 404
    assert (await client.get("/v1/alerts/settings")).status == 401


async def test_a_webhook_resolving_to_a_loopback_address_is_not_delivered_to(
    receiver: tuple[Receiver, str], pg_pool: asyncpg.Pool, auditlog_schema: str
) -> None:
    hook, url = receiver
    tenant = f"t{uuid.uuid4().hex[:8]}"
    store = AlertStore(pg_pool, auditlog_schema)
    # Saved as an operator could have before the check (the API refuses plain http to localhost).
    by_name = url.replace("127.0.0.1", "localhost")
    await store.save_settings(tenant, AlertSettings(webhook_url=by_name))
    stop = asyncio.Event()
    worker = asyncio.create_task(AlertDelivery(store, replace(FAST, private_hosts=frozenset())).run(stop))
    try:
        await _run_ends(pg_pool, auditlog_schema, tenant, "run-1", "Pipedrive answered 500")

        [row] = await eventually(
            lambda: store.deliveries(tenant),
            lambda d: bool(d and d[0]["last_error"]),
            within_s=10,
            what="attempt",
        )
    finally:
        stop.set()
        await worker

    assert "private, loopback, link-local or reserved address" in row["last_error"]
    assert row["delivered_at"] is None and hook.of(tenant) == []
