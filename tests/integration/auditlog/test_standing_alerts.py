"""Alerts no event carries, polled from the Pipedrive client's schema on the real PostgreSQL and delivered
to a local webhook receiver: a tenant whose daily budget is closed gets one `budget` alert however often
it is polled, and another when it is spent again for the next day; a connection Pipedrive refused for
good gets one `credentials` alert. The client's rows are written through the client library itself."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic import SecretStr

from auditlog.alert_api import add_alert_routes
from auditlog.alert_delivery import AlertDelivery
from auditlog.alert_store import AlertStore
from auditlog.bootstrap import install_tables, standing_alerts_poll
from auditlog.settings import AuditlogSettings
from auditlog.standing_alerts import StandingAlerts
from pipedrive_client import ApiTokenCredentials, Budget, CredentialCipher, CredentialStore, install_schema
from pipedrive_client.authorization import API_TOKEN_REFUSED
from pipedrive_client.budget import ClosedWindow
from tenant_auth.registry import TenantRegistry
from tests.integration.alert_receiver import FAST, Receiver, serve_receiver
from tests.support.conditions import eventually
from tests.support.schemas import fresh_schema
from tests.support.tenants import Client, new_tenant, tenant_api_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def schemas(pg_pool: asyncpg.Pool) -> AsyncIterator[tuple[str, str]]:
    """The auditlog's schema and a Pipedrive client schema of this module's own."""
    async with (
        fresh_schema(pg_pool, "standing", install_tables) as auditlog,
        fresh_schema(pg_pool, "pdc_standing", install_schema) as client,
    ):
        yield auditlog, client


@pytest.fixture
async def stack(
    pg_pool: asyncpg.Pool, schemas: tuple[str, str]
) -> AsyncIterator[tuple[StandingAlerts, Client, TenantRegistry, Receiver, str]]:
    """The poll as the auditlog's bootstrap builds it, the delivery worker, the alerts API and a receiver."""
    auditlog_schema, client_schema = schemas
    store = AlertStore(pg_pool, auditlog_schema)
    settings = AuditlogSettings(pipedrive_client_schema=client_schema)
    poll = standing_alerts_poll(settings, pg_pool, store)
    api = tenant_api_client(pg_pool, lambda app: add_alert_routes(app, store, frozenset({"127.0.0.1"})))
    async with api as (client, registry), serve_receiver() as (hook, url):
        stop = asyncio.Event()
        delivering = asyncio.create_task(AlertDelivery(store, FAST).run(stop))
        yield poll, client, registry, hook, url
        stop.set()
        await delivering


async def _tenant_with_webhook(
    client: Client, registry: TenantRegistry, url: str
) -> tuple[str, dict[str, str]]:
    tenant, headers = await new_tenant(registry)
    body = {"webhook_url": url, "failure_threshold": 3, "window_minutes": 5}
    response = await client.put("/v1/alerts/settings", json=body, headers=headers)
    assert response.status == 200, await response.text()
    return tenant, headers


async def _banner(client: Client, headers: dict[str, str]) -> list[dict[str, object]]:
    body = await (await client.get("/v1/alerts", headers=headers)).json()
    alerts: list[dict[str, object]] = body["data"]
    return alerts


async def test_a_closed_daily_budget_alerts_once_and_again_when_spent_the_next_day(
    stack: tuple[StandingAlerts, Client, TenantRegistry, Receiver, str],
    pg_pool: asyncpg.Pool,
    schemas: tuple[str, str],
) -> None:
    poll, client, registry, hook, url = stack
    tenant, headers = await _tenant_with_webhook(client, registry, url)
    budget = Budget(pg_pool, schemas[1])
    tomorrow = datetime.now(UTC).timestamp() + 86_400
    await budget.close(tenant, ClosedWindow(tomorrow - 3_600, for_day=True))  # a daily 429 from Pipedrive

    polls = [await poll.poll() for _ in range(3)]  # every minute, as the worker polls

    assert [len(raised) for raised in polls] == [1, 0, 0]

    [delivered] = await eventually(
        lambda: asyncio.sleep(0, hook.of(tenant)), lambda got: len(got) >= 1, within_s=10, what="delivery"
    )
    assert "Daily Pipedrive budget exhausted" in delivered["text"]
    [alert] = await _banner(client, headers)
    assert (alert["cause"], alert["occurrences"]) == ("budget", 1)

    await budget.close(tenant, ClosedWindow(tomorrow + 86_400, for_day=True))  # spent again, a day on
    assert len(await poll.poll(datetime.now(UTC) + timedelta(days=1))) == 1

    await eventually(
        lambda: asyncio.sleep(0, hook.of(tenant)), lambda got: len(got) >= 2, within_s=10, what="next day"
    )
    assert [a["cause"] for a in await _banner(client, headers)] == ["budget", "budget"]
    assert await poll.poll(datetime.now(UTC) + timedelta(days=1, minutes=1)) == []


async def test_a_connection_needing_reconnection_alerts_once(
    stack: tuple[StandingAlerts, Client, TenantRegistry, Receiver, str],
    pg_pool: asyncpg.Pool,
    schemas: tuple[str, str],
) -> None:
    poll, client, registry, hook, url = stack
    tenant, headers = await _tenant_with_webhook(client, registry, url)
    credentials = CredentialStore(pg_pool, CredentialCipher(os.urandom(32)), schemas[1])
    version = await credentials.save(tenant, ApiTokenCredentials(SecretStr("tok"), "https://x.pipedrive.com"))
    await poll.poll()
    assert await _banner(client, headers) == []

    await credentials.mark_refused(tenant, version, API_TOKEN_REFUSED)  # as a refused call marks it
    polls = [await poll.poll() for _ in range(2)]

    assert [len(raised) for raised in polls] == [1, 0]

    [delivered] = await eventually(
        lambda: asyncio.sleep(0, hook.of(tenant)), lambda got: len(got) >= 1, within_s=10, what="delivery"
    )
    assert "Pipedrive credentials refused" in delivered["text"] and API_TOKEN_REFUSED in delivered["text"]
    [alert] = await _banner(client, headers)
    assert (alert["cause"], alert["occurrences"]) == ("credentials", 1)
    store = AlertStore(pg_pool, schemas[0])
    await eventually(
        lambda: store.deliveries(tenant), lambda d: d[0]["delivered_at"] is not None, within_s=10, what="done"
    )
    assert len(hook.of(tenant)) == 1
