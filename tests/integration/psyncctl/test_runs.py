"""`psyncctl runs retry-failed`: finds the run's tenant and failed records in the activity log, and calls
the auditlog's retry API (served here by the auditlog's own app) with a one-call key it revokes after."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from auditlog.activity_api import add_activity_routes
from auditlog.activity_reads import ActivityReads
from auditlog.bootstrap import install_tables
from service_runtime.http_guards import api_middlewares
from tenant_auth.middleware import tenant_auth_middleware
from tenant_auth.registry import TenantRegistry
from tests.integration.psyncctl.conftest import Psyncctl


@pytest.fixture
async def auditlog(pg_pool: asyncpg.Pool) -> AsyncIterator[tuple[str, str]]:
    """The auditlog's HTTP app on a fresh schema, as its bootstrap assembles it: (schema, its URL)."""
    schema = f"itest_ctl_auditlog_{secrets.token_hex(4)}"
    await install_tables(pg_pool, schema)
    registry = TenantRegistry(pg_pool)
    await registry.install()
    app = web.Application(middlewares=api_middlewares(tenant_auth_middleware(registry)))
    add_activity_routes(app, ActivityReads(pg_pool, schema))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield schema, str(server.make_url("")).rstrip("/")
    await server.close()
    await pg_pool.execute(f"DROP SCHEMA {schema} CASCADE")


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
            " match_key, outcome, message, occurred_at) VALUES ($1, $2, $3, 'psync.push-results.v1',"
            " 'organization', 'to_pipedrive', $4, 'failed', 'Required field missing: name', $5)",
            tenant, f"e{n}", run_id, f"acme{n}.com", now,
        )  # fmt: skip


async def _keys(pool: asyncpg.Pool, tenant: str) -> list[asyncpg.Record]:
    return list(
        await pool.fetch("SELECT label, revoked_at FROM tenant_auth.api_keys WHERE tenant_id = $1", tenant)
    )


async def test_retry_failed_counts_then_calls_the_auditlog_with_a_key_it_revokes(
    psyncctl: Psyncctl, auditlog: tuple[str, str], pg_pool: asyncpg.Pool
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

    # The auditlog answered: with its retry run once it serves the retry API, with a JSON 404 before.
    assert done.status == 0 or "the auditlog answered 404" in done.stderr, (done.status, done.stderr)
    [key] = await _keys(pg_pool, tenant)
    assert key["label"] == f"psyncctl runs retry-failed {run_id} by sre@example.com"
    assert key["revoked_at"] is not None
