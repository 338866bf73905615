"""`psyncctl runs retry-failed`: finds the run's tenant and failed records in the activity log, and calls
the auditlog's retry API (served here by the auditlog's own app, whose retry reaches a stand-in of the
pusher's `POST /v1/push` that records what it was asked) with a one-call key it revokes after."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from auditlog.bootstrap import add_run_routes, install_tables
from tenant_auth.middleware import tenant_api_app
from tenant_auth.registry import TenantRegistry
from tests.integration.psyncctl.conftest import Psyncctl
from tests.support.schemas import fresh_schema


@pytest.fixture
async def pushes() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in of the pusher's push API: its URL, and the pushes asked of it (body and actor)."""
    asked: list[dict[str, Any]] = []

    async def push(request: web.Request) -> web.Response:
        asked.append({"body": await request.json(), "actor": request.headers.get("X-Psync-Actor")})
        return web.json_response({"run_id": "whatever", "records": 2}, status=202)

    app = web.Application()
    app.router.add_post("/v1/push", push)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), asked
    await server.close()


@pytest.fixture
async def auditlog(
    pg_pool: asyncpg.Pool, pushes: tuple[str, list[dict[str, Any]]]
) -> AsyncIterator[tuple[str, str]]:
    """The auditlog's HTTP app on a fresh schema, as its bootstrap assembles it: (schema, its URL)."""
    async with fresh_schema(pg_pool, "ctl_auditlog", install_tables) as schema:
        registry = TenantRegistry(pg_pool)
        await registry.install()
        app = tenant_api_app(registry)
        async with aiohttp.ClientSession() as session:
            add_run_routes(
                app, pg_pool, schema, session, {"pusher": pushes[0], "connector": "http://127.0.0.1:9"}
            )
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            yield schema, str(server.make_url("")).rstrip("/")
            await server.close()


async def _run_with_failures(pool: asyncpg.Pool, schema: str, tenant: str, run_id: str, failed: int) -> None:
    await TenantRegistry(pool).create_tenant(tenant, tenant)
    now = datetime.now(UTC)
    await pool.execute(
        f"INSERT INTO {schema}.runs (tenant_id, run_id, service, kind, direction, objects, started_at,"
        " finished_at, failed, status) VALUES ($1, $2, 'pusher', 'push', 'to_pipedrive', '{organization}',"
        " $3, $3, $4, 'Warning')",
        tenant, run_id, now, failed,
    )  # fmt: skip
    for n in range(failed):
        await pool.execute(
            f"INSERT INTO {schema}.entries (tenant_id, event_id, run_id, source_topic, object, direction,"
            " match_key, abm_id, outcome, message, occurred_at) VALUES ($1, $2, $3, 'psync.push-results.v1',"
            " 'organization', 'to_pipedrive', $4, $5, 'failed', 'Required field missing: name', $6)",
            tenant, f"e{n}", run_id, f"acme{n}.com", f"acc-{n}", now,
        )  # fmt: skip


async def _keys(pool: asyncpg.Pool, tenant: str) -> list[asyncpg.Record]:
    return list(
        await pool.fetch("SELECT label, revoked_at FROM tenant_auth.api_keys WHERE tenant_id = $1", tenant)
    )


async def test_retry_failed_counts_then_calls_the_auditlog_with_a_key_it_revokes(
    psyncctl: Psyncctl,
    auditlog: tuple[str, str],
    pushes: tuple[str, list[dict[str, Any]]],
    pg_pool: asyncpg.Pool,
) -> None:
    schema, url = auditlog
    tenant, run_id = f"ctl{secrets.token_hex(4)}", f"push-{secrets.token_hex(4)}"
    await _run_with_failures(pg_pool, schema, tenant, run_id, failed=2)

    dry = await psyncctl(
        "runs", "retry-failed", run_id, "--dry-run", "--json", auditlog_schema=schema, auditlog_url=url
    )
    assert dry.status == 0, dry.stderr
    assert dry.json() == {"tenant": tenant, "run_id": run_id, "failed_records": 2, "dry_run": True}
    assert await _keys(pg_pool, tenant) == []

    unknown = await psyncctl("runs", "retry-failed", "no-such-run", auditlog_schema=schema, auditlog_url=url)
    assert unknown.status == 3 and "no run no-such-run" in unknown.stderr

    done = await psyncctl(
        "runs", "retry-failed", run_id, "--actor", "sre@example.com", auditlog_schema=schema, auditlog_url=url
    )

    # The auditlog started the retry: the pusher was asked to push exactly the failed records again, as
    # the operator, and the activity log holds the new run, linked to the first.
    assert done.status == 0, done.stderr
    retry_id = f"retry1-{run_id}"
    assert f"run {retry_id}" in done.stdout
    assert pushes[1] == [
        {
            "body": {
                "object": "organization",
                "records": [{"abm_id": "acc-0"}, {"abm_id": "acc-1"}],
                "retry": {"of": run_id, "attempt": 1},
            },
            "actor": "sre@example.com",
        }
    ]
    retry = await pg_pool.fetchrow(
        f"SELECT retry_of, status, trigger FROM {schema}.runs WHERE tenant_id = $1 AND run_id = $2",
        tenant, retry_id,
    )  # fmt: skip
    assert retry is not None and dict(retry) == {"retry_of": run_id, "status": None, "trigger": "retry"}
    [key] = await _keys(pg_pool, tenant)
    assert key["label"] == f"psyncctl runs retry-failed {run_id} by sre@example.com"
    assert key["revoked_at"] is not None

    # Asked again while that retry runs: the same retry is answered and nothing is pushed twice.
    again = await psyncctl("runs", "retry-failed", run_id, auditlog_schema=schema, auditlog_url=url)
    assert again.status == 0 and f"run {retry_id}" in again.stdout, again.stderr
    assert len(pushes[1]) == 1


async def test_a_dry_run_answers_what_the_auditlog_would_of_records_it_cannot_name(
    psyncctl: Psyncctl, auditlog: tuple[str, str], pg_pool: asyncpg.Pool
) -> None:
    """Before: the dry run counted failed entries ('2 failed record(s) ... would be retried', exit 0) where
    the retry itself was refused (a push of records sent by their fields names no ABM record)."""
    schema, url = auditlog
    tenant, run_id = f"ctl{secrets.token_hex(4)}", f"push-{secrets.token_hex(4)}"
    await _run_with_failures(pg_pool, schema, tenant, run_id, failed=2)
    await pg_pool.execute(f"UPDATE {schema}.entries SET abm_id = NULL WHERE tenant_id = $1", tenant)

    dry = await psyncctl(
        "runs", "retry-failed", run_id, "--dry-run", auditlog_schema=schema, auditlog_url=url
    )
    done = await psyncctl("runs", "retry-failed", run_id, auditlog_schema=schema, auditlog_url=url)

    assert dry.status == 3 and done.status == 3, (dry, done)
    assert "None of the failed records names its ABM record" in dry.stderr
    assert "None of the failed records names its ABM record" in done.stderr

    await pg_pool.execute(
        f"UPDATE {schema}.entries SET abm_id = 'acc-0' WHERE tenant_id = $1 AND event_id = 'e0'", tenant
    )
    one = await psyncctl(
        "runs", "retry-failed", run_id, "--dry-run", auditlog_schema=schema, auditlog_url=url
    )
    assert one.status == 0, one.stderr
    assert "the pusher would be asked to retry 1; 1 left out" in one.stdout

    # The key psyncctl issues for the call, and revokes, names the operator in the audit trail (before,
    # both entries said the system acted: actor {key_id: null, name: null}).
    done = await psyncctl(
        "runs", "retry-failed", run_id, "--actor", "sre@example.com", auditlog_schema=schema, auditlog_url=url
    )
    assert done.status == 0, done.stderr
    [key] = await pg_pool.fetch(
        "SELECT issued_by, revoked_by FROM tenant_auth.api_keys WHERE tenant_id = $1", tenant
    )
    assert dict(key) == {"issued_by": "sre@example.com", "revoked_by": "sre@example.com"}
