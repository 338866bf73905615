"""`POST /v1/runs/{run_id}/retry` on the real PostgreSQL, its services stood in by small HTTP apps: what
is asked of whom, the new run and its links, and a clear JSON answer for each case it refuses."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from auditlog.activity_entries import EntryEvent, RecordEntry
from auditlog.activity_log_store import PostgresActivityLog
from auditlog.bootstrap import add_run_routes, install_tables
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStarted, RunStatus
from tenant_auth.middleware import tenant_api_app
from tenant_auth.registry import TenantRegistry
from tests.support.schemas import fresh_schema
from tests.support.tenants import new_tenant_headers

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def connector() -> AsyncIterator[tuple[str, list[Any], list[int]]]:
    """A stand-in of the connector's `POST /v1/retries`: its URL, what it was asked, and the statuses it
    answers in turn (202 once they are used up)."""
    asked: list[Any] = []
    answers: list[int] = []

    async def retries(request: web.Request) -> web.Response:
        asked.append(await request.json())
        if answers:
            status = answers.pop(0)
            return web.json_response({"error": "not_connected", "message": "Connect first."}, status=status)
        return web.json_response({"run_id": "x"}, status=202)

    app = web.Application()
    app.router.add_post("/v1/retries", retries)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), asked, answers
    await server.close()


@pytest.fixture
async def api(
    pg_pool: asyncpg.Pool, connector: tuple[str, list[Any], list[int]]
) -> AsyncIterator[tuple[Client, PostgresActivityLog, dict[str, str], str]]:
    async with fresh_schema(pg_pool, "retry", install_tables) as schema:
        registry = TenantRegistry(pg_pool)
        await registry.install()
        tenant = f"t{uuid.uuid4().hex[:8]}"
        headers = await new_tenant_headers(registry, tenant)
        app = tenant_api_app(registry)
        async with aiohttp.ClientSession() as session:
            # Nothing listens on port 9: the pusher does not answer.
            add_run_routes(
                app, pg_pool, schema, session, {"connector": connector[0], "pusher": "http://127.0.0.1:9"}
            )
            client: Client = TestClient(TestServer(app))
            await client.start_server()
            yield (
                client,
                PostgresActivityLog(pg_pool, schema),
                headers,
                tenant,
            )
            await client.close()


async def _run(
    log: PostgresActivityLog,
    tenant: str,
    run_id: str,
    service: str,
    kind: RunKind,
    failed: int,
    *,
    logged: int | None = None,
) -> None:
    """A run that started and finished with `failed` failed records, `logged` of whose entries (all by
    default) the log received."""
    direction = Direction.TO_PIPEDRIVE if service == "pusher" else Direction.TO_ABM
    started = RunStarted(
        run_id=run_id, service=service, kind=kind, direction=direction, objects=(SyncObject.ORGANIZATION,),
        started_at=T0, applies_run_id=run_id.removeprefix("apply-") if kind is RunKind.APPLY else None,
    )  # fmt: skip
    await log.record_run_started(tenant, f"{run_id}-s", "psync.sync-runs.v1", started)
    status = RunStatus.WARNING if failed else RunStatus.SUCCESS
    finished = RunFinished(
        **started.model_dump(exclude={"trigger"}), finished_at=T0, counts=RunCounts(failed=failed),
        status=status, emitted=failed if service == "connector" else None,
    )  # fmt: skip
    await log.record_run_finished(tenant, f"{run_id}-f", "psync.sync-runs.v1", finished)
    entries = [
        EntryEvent(tenant, f"{run_id}-e{n}", "psync.record-results.v1", _failed_entry(run_id, direction, n))
        for n in range(failed if logged is None else logged)
    ]
    if entries:
        await log.record_entries(entries)


def _failed_entry(run_id: str, direction: Direction, n: int) -> RecordEntry:
    return RecordEntry(
        run_id, "organization", direction.value, f"org{n}.io", 100 + n, f"acc-{n}", "failed",
        "Could not be applied: DataError", 0, T0,
    )  # fmt: skip


async def test_an_imports_failed_records_are_re_read_by_the_connector_as_a_linked_run(
    api: tuple[Client, PostgresActivityLog, dict[str, str], str], connector: tuple[str, list[Any], list[int]]
) -> None:
    client, log, headers, tenant = api
    await _run(log, tenant, "import-1", "connector", RunKind.IMPORT, 0)
    await _run(log, tenant, "apply-import-1", "mapper", RunKind.APPLY, 2)
    connector[2].append(409)  # first asked: not connected

    refused = await client.post("/v1/runs/import-1/retry", headers=headers)
    assert refused.status == 409
    assert (await refused.json())["error"] == "not_connected"

    started = await client.post("/v1/runs/apply-import-1/retry", headers=headers)
    assert started.status == 202
    assert (await started.json())["data"] == {
        "run_id": "retry1-import-1", "retry_of": "import-1", "service": "connector", "records": 2,
        "left_out": 0, "already_running": False,
    }  # fmt: skip
    records = [
        {"object": "organization", "pipedrive_id": 100},
        {"object": "organization", "pipedrive_id": 101},
    ]
    assert connector[1][-1] == {"retry": {"of": "import-1", "attempt": 1}, "records": records}
    first = (await (await client.get("/v1/runs/import-1", headers=headers)).json())["data"]
    retry = (await (await client.get("/v1/runs/retry1-import-1", headers=headers)).json())["data"]
    assert first["links"]["retried_by"] == ["retry1-import-1"]
    assert (retry["status"], retry["kind"], retry["links"]["retry_of"]) == ("running", "import", "import-1")

    again = await client.post("/v1/runs/import-1/retry", headers=headers)
    assert (await again.json())["data"] == {
        "run_id": "retry1-import-1", "retry_of": "import-1", "already_running": True,
    }  # fmt: skip
    assert len(connector[1]) == 2


async def test_what_cannot_be_retried_answers_a_clear_json_error(
    api: tuple[Client, PostgresActivityLog, dict[str, str], str],
) -> None:
    client, log, headers, tenant = api
    await _run(log, tenant, "push-ok", "pusher", RunKind.PUSH, 0)
    await _run(log, tenant, "push-bad", "pusher", RunKind.PUSH, 1)

    answers = {
        path: await client.post(f"/v1/runs/{path}/retry", headers=headers)
        for path in ("no-such-run", "push-ok", "push-bad")
    }

    shown = {path: (r.status, (await r.json())["error"]) for path, r in answers.items()}
    assert shown == {
        "no-such-run": (404, "not_found"),
        "push-ok": (409, "nothing_to_retry"),
        "push-bad": (502, "service_unavailable"),
    }
    first = (await (await client.get("/v1/runs/push-bad", headers=headers)).json())["data"]
    assert first["links"]["retried_by"] == []


async def test_a_retry_waits_until_the_ended_runs_failed_records_are_all_in_the_log(
    api: tuple[Client, PostgresActivityLog, dict[str, str], str],
) -> None:
    client, log, headers, tenant = api
    # The push's end came before one of its two failed records' results (they travel on another topic).
    await _run(log, tenant, "push-early", "pusher", RunKind.PUSH, 2, logged=1)

    early = await client.post("/v1/runs/push-early/retry", headers=headers)

    assert early.status == 409
    assert early.headers["Retry-After"] == "1"
    body = await early.json()
    assert body["error"] == "results_still_arriving"
    assert body["message"].startswith("1 failed record(s) of this run are not in the activity log yet")
    entry = _failed_entry("push-early", Direction.TO_PIPEDRIVE, 1)
    late = EntryEvent(tenant, "push-early-e1", "psync.record-results.v1", entry)
    await log.record_entries([late])
    # Both are in: the retry goes to the pusher (which does not answer here).
    again = await client.post("/v1/runs/push-early/retry", headers=headers)
    assert (again.status, (await again.json())["error"]) == (502, "service_unavailable")
