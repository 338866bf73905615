"""`psyncctl tenants` and `tenants show`: what the services' tables and Kafka say about a tenant."""

from __future__ import annotations

import contextlib
import importlib
import io
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from connector.queued_runs import Run, RunKindName
from connector.run_store import RunStore
from pipedrive_client.budget import Budget
from pipedrive_client.database import install_schema
from schemas.topics import SCORE_CHANGED, topics_consumed_by
from tenant_auth.registry import TenantRegistry
from tests.integration.psyncctl.conftest import Psyncctl, produce
from tests.support.kafka_offsets import position_group_at_end
from tests.support.schemas import Install, fresh_schema


@pytest.fixture
async def schemas(pg_pool: asyncpg.Pool) -> AsyncIterator[dict[str, str]]:
    """Fresh connector, pusher, auditlog and client schemas, migrated as the services migrate theirs."""
    installs: dict[str, Install] = {
        **{
            s: importlib.import_module(f"{s}.bootstrap").install_tables
            for s in ("connector", "pusher", "auditlog")
        },
        "pipedrive_client": install_schema,
    }
    async with contextlib.AsyncExitStack() as opened:
        yield {
            f"{s}_schema": await opened.enter_async_context(fresh_schema(pg_pool, f"ctl_{s}", install))
            for s, install in installs.items()
        }


async def _tenant_with_runs(
    pg_pool: asyncpg.Pool, schemas: dict[str, str], ended: tuple[str, str, str, int, int]
) -> tuple[str, Run]:
    """A new tenant "Acme Inc." that spent 20 tokens today, with a queued scheduled sync (returned) and one
    connector run in the activity log that ended: (run id, kind, status, created, failed)."""
    tenant = f"ctl{secrets.token_hex(4)}"
    registry = TenantRegistry(pg_pool)
    await registry.install()
    await registry.create_tenant(tenant, "Acme Inc.")
    await Budget(pg_pool, schemas["pipedrive_client_schema"]).spend(
        tenant, 20, is_oauth=False, is_search=False
    )
    open_run = await RunStore(pg_pool, schemas["connector_schema"]).enqueue(
        tenant, RunKindName.SYNC, "schedule"
    )
    run_id, kind, status, created, failed = ended
    await pg_pool.execute(
        f"INSERT INTO {schemas['auditlog_schema']}.runs (tenant_id, run_id, service, kind, direction,"
        " objects, started_at, finished_at, created, failed, own_status, status)"
        " VALUES ($1, $2, 'connector', $3, 'to_abm', '{organization}', $4, $4, $5, $6, $7, $7)",
        tenant, run_id, kind, datetime.now(UTC), created, failed, status,
    )  # fmt: skip
    return tenant, open_run


async def test_tenants_report_connection_budget_runs_parked_pushes_and_pending_messages(
    psyncctl: Psyncctl,
    schemas: dict[str, str],
    pg_pool: asyncpg.Pool,
    raw_producer: AIOKafkaProducer,
    kafka_bootstrap: str,
) -> None:
    tenant, open_run = await _tenant_with_runs(pg_pool, schemas, ("import-1", "import", "Warning", 5, 1))
    await pg_pool.execute(
        f"INSERT INTO {schemas['pusher_schema']}.parked_pushes"
        " (tenant_id, event_id, topic, event, resume_at, reason)"
        " VALUES ($1, 'e1', $2, '{}', now(), 'budget closed')",
        tenant,
        SCORE_CHANGED.name,
    )
    group = f"itest-ctl-{secrets.token_hex(4)}"
    await position_group_at_end(kafka_bootstrap, group, topics_consumed_by("mapper"))
    await produce(
        raw_producer,
        SCORE_CHANGED.name,
        [
            (f"{tenant}:organization:acme.com", b"{}"),
            (f"{tenant}:organization:b.com", b"{}"),
            ("someone-else:organization:c.com", b"{}"),
        ],
    )

    listed = await psyncctl("tenants", "--json", **schemas)
    assert listed.status == 0, listed.stderr
    [mine] = [t for t in listed.json() if t["tenant"] == tenant]
    assert mine["name"] == "Acme Inc." and mine["connection"] is None
    assert mine["budget"]["spent_today"] == 20 and mine["budget"]["allowance"] > 20
    assert mine["open_connector_runs"] == 1 and mine["parked_pushes"] == 1
    last = mine["last_run"]
    assert (last["run_id"], last["status"], last["created"], last["failed"]) == ("import-1", "Warning", 5, 1)
    text = await psyncctl("tenants", **schemas)
    assert any(line.startswith(tenant) and "not connected" in line for line in text.stdout.splitlines())

    shown = await psyncctl("tenants", "show", tenant, "--json", groups={"mapper": group}, **schemas)
    assert shown.status == 0, shown.stderr
    status = shown.json()
    assert [r["run_id"] for r in status["open_connector_runs"]] == [open_run.run_id]
    assert [r["run_id"] for r in status["last_runs"]] == ["import-1"]
    assert status["pending_messages"] == [
        {"service": "mapper", "group": group, "topic": SCORE_CHANGED.name, "pending": 2, "at_least": False}
    ]


async def test_tenants_and_runs_show_a_run_still_receiving_its_results_as_finishing_as_the_console_does(
    psyncctl: Psyncctl, schemas: dict[str, str], pg_pool: asyncpg.Pool
) -> None:
    # A push run whose end reported 3 failed records while the activity log holds the entry of 1 so far.
    tenant = f"ctl{secrets.token_hex(4)}"
    registry = TenantRegistry(pg_pool)
    await registry.install()
    await registry.create_tenant(tenant, "Acme Inc.")
    auditlog = schemas["auditlog_schema"]
    await pg_pool.execute(
        f"INSERT INTO {auditlog}.runs (tenant_id, run_id, service, kind, direction, objects, started_at,"
        " finished_at, failed, own_status, status, message)"
        " VALUES ($1, 'push-1', 'pusher', 'push', 'to_pipedrive', '{organization}', $2, $2, 3, 'Error',"
        " 'Error', NULL)",
        tenant,
        datetime.now(UTC),
    )
    tally = (
        f"INSERT INTO {auditlog}.run_tallies (tenant_id, run_id, outcome, reason, records, tokens)"
        " VALUES ($1, 'push-1', 'failed', 'Pipedrive refused', $2, 0)"
        " ON CONFLICT (tenant_id, run_id, outcome, reason) DO UPDATE SET records = excluded.records"
    )
    await pg_pool.execute(tally, tenant, 1)

    shown = await psyncctl("tenants", "show", tenant, "--json", **schemas)
    assert shown.status == 0, shown.stderr
    [run] = shown.json()["last_runs"]
    assert (run["status"], run["failed"], run["results_pending"]) == ("finishing", 1, 2)
    listed = await psyncctl("tenants", **schemas)
    [line] = [line for line in listed.stdout.splitlines() if line.startswith(tenant)]
    assert "pusher push finishing (2 result(s) to come)" in line
    one = await psyncctl("runs", "show", "push-1", "--tenant", tenant, "--json", **schemas)
    assert one.status == 0, one.stderr
    assert (one.json()["tenant"], one.json()["status"], one.json()["results_pending"]) == (
        tenant, "finishing", 2,
    )  # fmt: skip
    words = await psyncctl("runs", "show", "push-1", "--tenant", tenant, **schemas)
    assert f"run push-1 of {tenant}: pusher push finishing" in words.stdout
    assert f"psyncctl dlq list --service auditlog --tenant {tenant}" in words.stdout
    unknown = await psyncctl("runs", "show", "push-404", "--tenant", tenant, **schemas)
    assert unknown.status == 3 and "has no run push-404" in unknown.stderr

    await pg_pool.execute(tally, tenant, 3)  # the last two results logged
    shown = await psyncctl("tenants", "show", tenant, **schemas)
    assert shown.status == 0, shown.stderr
    assert "run push-1: pusher push Error started" in shown.stdout and "failed 3" in shown.stdout
    one = await psyncctl("runs", "show", "push-1", "--json", **schemas)
    assert (one.json()["status"], one.json()["failed"], one.json()["results_pending"]) == ("Error", 3, 0)


async def test_what_an_operator_types_wrong_or_reads_is_told_plainly(
    psyncctl: Psyncctl, schemas: dict[str, str], pg_pool: asyncpg.Pool
) -> None:
    """Before: `tenants show` of a mistyped tenant answered as if it existed (exit 0), printed the connection
    and budget as Python reprs (`{'plan': ..., 'updated_at': datetime.datetime(...)}`); `--json` given
    before a sub-verb (`dlq --json list`) was ignored; `dlq list --limit -1` answered 'the first -1 shown';
    `runs retry-failed --dry-run` of a run with nothing failed exited 0 where the real call refuses."""
    tenant, open_run = await _tenant_with_runs(pg_pool, schemas, ("sync-ok", "sync", "Success", 5, 0))

    unknown = await psyncctl("tenants", "show", f"{tenant}-typo", **schemas)
    assert unknown.status == 3 and f"no tenant {tenant}-typo" in unknown.stderr
    shown = await psyncctl("tenants", "show", tenant, **schemas)
    assert shown.status == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "connection: not connected" in lines
    assert any(line.startswith("budget: 20 of ") and "tokens spent today (plan " in line for line in lines)
    assert any(
        line.startswith(f"open run {open_run.run_id}: sync (schedule) queued; queued ") for line in lines
    )
    assert "datetime.datetime(" not in shown.stdout and "{'" not in shown.stdout

    for grouped in (("tenants", "--json", "list"), ("tenants", "--json", "show", tenant)):
        assert (await psyncctl(*grouped, **schemas)).json(), grouped
    assert (await psyncctl("runs", "--json", "show", "sync-ok", **schemas)).json()["run_id"] == "sync-ok"
    assert (await psyncctl("dlq", "--json", "list", "--tenant", tenant, "--since", "1m")).json() == []

    for args in (("dlq", "list", "--limit", "-1"), ("tenants", "show", tenant, "--scan-limit", "0")):
        with contextlib.redirect_stderr(io.StringIO()) as said:  # argparse writes to sys.stderr
            bad = await psyncctl(*args, **schemas)
        assert bad.status == 2 and "is not a whole number of at least 1" in said.getvalue(), args
    nothing = await psyncctl("runs", "retry-failed", "sync-ok", "--dry-run", **schemas)
    assert nothing.status == 3 and "has no failed records" in nothing.stderr
