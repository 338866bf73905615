"""The auditlog's HTTP API on the real PostgreSQL: runs and entries written by its handlers' adapter, read
page by page, filtered, and never across tenants."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from auditlog.activity_api import add_activity_routes
from auditlog.activity_entries import EntryEvent, RecordEntry
from auditlog.activity_log_store import PostgresActivityLog
from auditlog.activity_read_store import PostgresActivityReads
from auditlog.bootstrap import install_tables
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStarted, RunStatus
from tenant_auth.registry import TenantRegistry
from tests.support.schemas import schema_fixture
from tests.support.tenants import Client, new_tenant, tenant_api_client

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)


auditlog_schema = schema_fixture("auditlog", install_tables, scope="module")


@pytest.fixture
async def api(pg_pool: asyncpg.Pool, auditlog_schema: str) -> AsyncIterator[tuple[Client, TenantRegistry]]:
    reads = PostgresActivityReads(pg_pool, auditlog_schema)
    async with tenant_api_client(pg_pool, lambda app: add_activity_routes(app, reads)) as api:
        yield api


async def _runs(log: PostgresActivityLog, tenant: str, statuses: list[RunStatus | None]) -> None:
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
    tenant, headers = await new_tenant(registry)
    statuses = [RunStatus.SUCCESS, RunStatus.WARNING, RunStatus.ERROR, RunStatus.SUCCESS, None]
    await _runs(PostgresActivityLog(pg_pool, auditlog_schema), tenant, statuses)

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
    # Started within a range: at or after started_since, before started_before (one run a minute from T0).
    between = {
        "started_since": (T0 + timedelta(minutes=1)).isoformat(),
        "started_before": (T0 + timedelta(minutes=3)).isoformat(),
    }
    ranged = await (await client.get("/v1/runs", params=between, headers=headers)).json()
    assert [r["run_id"] for r in ranged["data"]] == ["run-2", "run-1"]
    since = {"started_since": (T0 + timedelta(minutes=3)).isoformat(), "limit": "1"}
    first = await (await client.get("/v1/runs", params=since, headers=headers)).json()
    rest = {**since, "cursor": first["next_cursor"]}
    second = await (await client.get("/v1/runs", params=rest, headers=headers)).json()
    assert [r["run_id"] for r in first["data"] + second["data"]] == ["run-4", "run-3"]
    assert second["next_cursor"] is None


async def test_a_runs_entries_are_listed_oldest_first_and_filtered_by_outcome(
    api: tuple[Client, TenantRegistry], pg_pool: asyncpg.Pool, auditlog_schema: str
) -> None:
    client, registry = api
    tenant, headers = await new_tenant(registry)
    log = PostgresActivityLog(pg_pool, auditlog_schema)
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
    owner, _ = await new_tenant(registry)
    _, stranger = await new_tenant(registry)
    await _runs(PostgresActivityLog(pg_pool, auditlog_schema), owner, [RunStatus.SUCCESS])

    assert (await (await client.get("/v1/runs", headers=stranger)).json())["data"] == []
    missing = await client.get("/v1/runs/run-0", headers=stranger)
    assert missing.status == 404
    assert await missing.json() == {"error": "not_found", "message": "No such run for this tenant."}
    assert (await client.get("/v1/runs")).status == 401
    # A mistyped service or kind answered 200 with no runs, as if the tenant had none of them.
    bad = ({"limit": "0"}, {"status": "Fine"}, {"cursor": "not-ours"}, {"sort": "x"}, {"service": "mappr"})
    for params in (*bad, {"kind": "synk"}):
        response = await client.get("/v1/runs", params=params, headers=stranger)
        body = await response.json()
        assert response.status == 400 and body["error"] == "bad_request", params
        assert any(next(iter(params)) in problem for problem in body["problems"]), body
        assert body["message"] == "; ".join(body["problems"]), body
    # A name given twice: before, the first value was taken and the second ignored, even a bad one.
    backwards = {"started_since": T0.isoformat(), "started_before": (T0 - timedelta(days=1)).isoformat()}
    for params in (backwards, {"started_since": "2026-11-01T09:00:00"}, {"started_before": "yesterday"}):
        response = await client.get("/v1/runs", params=params, headers=stranger)
        body = await response.json()
        assert response.status == 400 and body["error"] == "bad_request", (params, body)
        assert any(name in problem for problem in body["problems"] for name in params), body
    twice = await client.get("/v1/runs", params=[("limit", "3"), ("limit", "abc")], headers=stranger)
    assert twice.status == 400
    assert (await twice.json())["problems"] == ["limit: given 2 times; give it once"]


def _entry(run_id: str, n: int, outcome: str, message: str | None = None, tokens: int = 0) -> RecordEntry:
    return RecordEntry(
        run_id=run_id, object="organization", direction="to_pipedrive", match_key=f"org{n}.io",
        pipedrive_id=n + 1, abm_id=None, outcome=outcome, message=message, tokens_spent=tokens,
        occurred_at=T0 + timedelta(seconds=n),
    )  # fmt: skip


async def test_a_running_run_shows_running_and_counts_its_entries_as_they_come(
    api: tuple[Client, TenantRegistry], pg_pool: asyncpg.Pool, auditlog_schema: str
) -> None:
    client, registry = api
    tenant, headers = await new_tenant(registry)
    log = PostgresActivityLog(pg_pool, auditlog_schema)
    window = RunStarted(
        run_id="auto-push-1", service="pusher", kind=RunKind.AUTO_PUSH, direction=Direction.TO_PIPEDRIVE,
        objects=(SyncObject.ORGANIZATION,), started_at=T0, trigger="auto_push",
    )  # fmt: skip
    await log.record_run_started(tenant, "w-start", "psync.sync-runs.v1", window)

    async def shown() -> dict[str, object]:
        body = await (await client.get("/v1/runs/auto-push-1", headers=headers)).json()
        return dict(body["data"])

    assert ((await shown())["status"], (await shown())["created"]) == ("running", 0)
    await log.record_entries(
        [
            EntryEvent(tenant, "p1", "psync.push-results.v1", _entry("auto-push-1", 1, "created", tokens=5)),
            EntryEvent(
                tenant, "p2", "psync.push-results.v1", _entry("auto-push-1", 2, "unchanged", "No changes")
            ),
        ]
    )
    await log.record_entry(
        tenant, "p3", "psync.push-results.v1", _entry("auto-push-1", 3, "created", tokens=5)
    )
    await log.record_entry(
        tenant, "p3", "psync.push-results.v1", _entry("auto-push-1", 3, "created", tokens=5)
    )

    live = await shown()
    assert (live["status"], live["created"], live["unchanged"], live["tokens_spent"]) == ("running", 2, 1, 10)
    assert live["finished_at"] is None
    listed = await (await client.get("/v1/runs", params={"status": "running"}, headers=headers)).json()
    assert [(r["run_id"], r["created"]) for r in listed["data"]] == [("auto-push-1", 2)]


async def test_an_unknown_runs_entries_are_a_404_like_the_run(api: tuple[Client, TenantRegistry]) -> None:
    client, registry = api
    _, headers = await new_tenant(registry)

    for path in ("/v1/runs/nope", "/v1/runs/nope/entries", "/v1/runs/nope/entries.csv"):
        response = await client.get(path, headers=headers)
        assert response.status == 404, path
        assert await response.json() == {"error": "not_found", "message": "No such run for this tenant."}


async def test_an_import_shows_its_records_outcomes_and_its_apply_run_holds_its_entries(
    api: tuple[Client, TenantRegistry], pg_pool: asyncpg.Pool, auditlog_schema: str
) -> None:
    client, registry = api
    tenant, headers = await new_tenant(registry)
    log = PostgresActivityLog(pg_pool, auditlog_schema)
    imported = RunStarted(
        run_id="import-1", service="connector", kind=RunKind.IMPORT, direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,), started_at=T0, trigger="manual",
    )  # fmt: skip
    applying = imported.model_copy(
        update={"run_id": "apply-import-1", "service": "mapper", "kind": RunKind.APPLY,
                "applies_run_id": "import-1", "started_at": T0 + timedelta(seconds=1)}
    )  # fmt: skip
    await log.record_run_started(tenant, "i-start", "psync.sync-runs.v1", imported)
    await log.record_run_finished(tenant, "i-end", "psync.sync-runs.v1", RunFinished(
        **imported.model_dump(exclude={"trigger"}), finished_at=T0 + timedelta(seconds=2),
        counts=RunCounts(), tokens_spent=30, status=RunStatus.SUCCESS, emitted=3,
    ))  # fmt: skip
    await log.record_run_started(tenant, "a-start", "psync.sync-runs.v1", applying)
    for n in range(3):
        entry = _entry("apply-import-1", n, "skipped", "Duplicate found")._replace(direction="to_abm")
        await log.record_entry(tenant, f"e{n}", "psync.record-results.v1", entry)

    still = (await (await client.get("/v1/runs/import-1", headers=headers)).json())["data"]
    assert (still["status"], still["skipped"], still["emitted"]) == ("running", 3, 3)

    await log.record_run_finished(tenant, "a-end", "psync.sync-runs.v1", RunFinished(
        **applying.model_dump(exclude={"trigger"}), finished_at=T0 + timedelta(seconds=9),
        counts=RunCounts(skipped=3), status=RunStatus.WARNING,
    ))  # fmt: skip

    done = (await (await client.get("/v1/runs/import-1", headers=headers)).json())["data"]
    assert (done["created"], done["updated"], done["skipped"], done["tokens_spent"]) == (0, 0, 3, 30)
    assert (done["status"], done["message"]) == ("Warning", "3 skipped: Duplicate found")
    assert done["links"]["apply_run_id"] == "apply-import-1"
    apply = (await (await client.get("/v1/runs/apply-import-1", headers=headers)).json())["data"]
    assert (apply["status"], apply["skipped"], apply["links"]["applies_run_id"]) == ("Warning", 3, "import-1")
    entries = await (await client.get("/v1/runs/apply-import-1/entries", headers=headers)).json()
    assert [e["match_key"] for e in entries["data"]] == ["org0.io", "org1.io", "org2.io"]
    warned = await (await client.get("/v1/runs", params={"status": "Warning"}, headers=headers)).json()
    assert {r["run_id"] for r in warned["data"]} == {"import-1", "apply-import-1"}


async def test_a_runs_entries_export_as_csv(
    api: tuple[Client, TenantRegistry], pg_pool: asyncpg.Pool, auditlog_schema: str
) -> None:
    client, registry = api
    tenant, headers = await new_tenant(registry)
    log = PostgresActivityLog(pg_pool, auditlog_schema)
    await log.record_entry(tenant, "c1", "psync.push-results.v1", _entry("push-1", 1, "created", tokens=5))
    await log.record_entry(
        tenant, "c2", "psync.push-results.v1", _entry("push-1", 2, "failed", 'Said "no", twice')
    )

    response = await client.get("/v1/runs/push-1/entries.csv", headers=headers)
    failed = await client.get("/v1/runs/push-1/entries.csv", params={"outcome": "failed"}, headers=headers)

    assert response.status == 200 and response.content_type == "text/csv"
    assert "push-1-entries.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][:4] == ["event_id", "run_id", "source_topic", "object"]
    assert [(r[0], r[5], r[8], r[9], r[10]) for r in rows[1:]] == [
        ("c1", "org1.io", "created", "", "5"), ("c2", "org2.io", "failed", 'Said "no", twice', "0"),
    ]  # fmt: skip
    assert [r[0] for r in csv.reader(io.StringIO(await failed.text()))][1:] == ["c2"]
