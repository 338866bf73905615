"""`psyncctl runs show RUN_ID`: a run as the console shows it; `psyncctl runs retry-failed RUN_ID`: retry
the failed records of a run through the auditlog's API (`POST /v1/runs/{run_id}/retry`, the call the
console's "Retry failed records" makes).

`show` reads the activity log with the auditlog's own code (`auditlog.activity_read_store`, shown by
`auditlog.run_views.present_run`), so it answers while the auditlog is down, with the console's status.

The API is tenant-scoped; psyncctl holds no tenant's key. It issues the run's tenant a key of its own for
the one call (labelled with who retried), sends `X-Psync-Actor`, and revokes the key at once: the key
table keeps the record of the operator's action next to the activity log's retry run.
"""

from __future__ import annotations

import getpass
from typing import Any
from urllib.parse import quote

import aiohttp

from auditlog.activity_read_store import PostgresActivityReads
from auditlog.retry_rules import NotRetriable, RetryWork, first_run_of, retry_work, runs_holding_failures
from auditlog.retry_store import ActivityRetries
from auditlog.run_views import StoredRun, present_run
from psyncctl.activity_store import tenants_of_run
from psyncctl.context import Context, Refused, Report
from tenant_auth.registry import TenantRegistry


async def _tenant_of_run(context: Context, run_id: str, tenant: str | None) -> str:
    tenants = await tenants_of_run(await context.pool(), context.settings.auditlog_schema, run_id, tenant)
    if not tenants:
        raise Refused(f"the activity log has no run {run_id}" + (f" of tenant {tenant}" if tenant else ""))
    if len(tenants) > 1:
        raise Refused(
            f"run {run_id} exists for several tenants ({', '.join(tenants)}): name one with --tenant"
        )
    return tenants[0]


async def show_run(context: Context, run_id: str, tenant: str | None) -> Report:
    """The run as the console shows it: status (`finishing` while results are still to come), counts,
    tokens, why, and the runs it links to."""
    owner = await _tenant_of_run(context, run_id, tenant)
    reads = PostgresActivityReads(await context.pool(), context.settings.auditlog_schema)
    run = await _stored_run(reads, owner, run_id)
    shown = present_run(run, (await reads.relations(owner, [run]))[run_id])
    return Report(data={"tenant": owner, **shown}, notes=_run_notes(owner, shown))


async def _stored_run(reads: PostgresActivityReads, tenant: str, run_id: str) -> StoredRun:
    """The run as the activity log stores it; Refused when it is gone (removed since its tenant was read)."""
    run = await reads.run(tenant, run_id)
    if run is None:
        raise Refused(f"the activity log has no run {run_id} of tenant {tenant}")
    return run


def _run_notes(tenant: str, run: dict[str, Any]) -> list[str]:
    counts = ", ".join(f"{run[k]} {k}" for k in ("created", "updated", "unchanged", "skipped", "failed"))
    links = {k: v for k, v in run["links"].items() if v}
    notes = [
        f"run {run['run_id']} of {tenant}: {run['service']} {run['kind']} {run['status']}",
        f"started {run['started_at']}, finished {run['finished_at'] or '-'}",
        f"records: {counts}; Pipedrive tokens: {run['tokens_spent']}",
    ]
    if run["message"]:
        notes.append(f"why: {run['message']}")
    notes += [f"{name}: {value}" for name, value in links.items()]
    if run["results_pending"]:
        notes.append(
            f"{run['results_pending']} record result(s) not in the activity log yet; if that stays so,"
            f" look for them in the auditlog's dead letters:"
            f" psyncctl dlq list --service auditlog --tenant {tenant}"
        )
    return notes


async def _planned_retry(context: Context, tenant: str, run_id: str) -> tuple[int, RetryWork]:
    """The run's failed records (a connector run's are filed under its apply run) and the retry the
    auditlog's rule (`auditlog.retry_rules.retry_work`) makes of them; Refused when it makes none."""
    pool, schema = await context.pool(), context.settings.auditlog_schema
    reads = PostgresActivityReads(pool, schema)
    run = await _stored_run(reads, tenant, run_id)
    first = first_run_of(run)
    run = await reads.run(tenant, first) or run
    failed = await ActivityRetries(pool, schema).failed_records(tenant, runs_holding_failures(first))
    try:
        return len(failed), retry_work(run, failed, attempt=1)
    except NotRetriable as refused:
        raise Refused(f"run {run_id} of {tenant}: {refused}") from refused


async def _call_retry(context: Context, tenant: str, run_id: str, actor: str) -> tuple[int, Any]:
    registry = TenantRegistry(await context.pool())
    key = await registry.issue_key(tenant, f"psyncctl runs retry-failed {run_id} by {actor}", actor)
    url = f"{context.settings.auditlog_url.rstrip('/')}/v1/runs/{quote(run_id, safe='')}/retry"
    headers = {"Authorization": f"Bearer {key.full_key}", "X-Psync-Actor": actor}
    try:
        async with aiohttp.ClientSession() as session, session.post(url, headers=headers) as response:
            body: Any = await response.json(content_type=None)
            return response.status, body
    finally:
        await registry.revoke_key(tenant, key.key_id, actor)


async def retry_failed(
    context: Context, run_id: str, tenant: str | None, actor: str | None, dry_run: bool
) -> Report:
    """Ask the auditlog to retry the run's failed records (nothing but a count with `dry_run`)."""
    owner = await _tenant_of_run(context, run_id, tenant)
    failed, work = await _planned_retry(context, owner, run_id)
    data: dict[str, Any] = {"tenant": owner, "run_id": run_id, "failed_records": failed, "dry_run": dry_run}
    if dry_run:
        left_out = f"; {work.left_out} left out (no id the {work.service} can use)" if work.left_out else ""
        return Report(
            data=data,
            notes=[
                f"dry run: {failed} failed record(s) of {owner}'s run {run_id}: the {work.service} would be"
                f" asked to retry {work.records}{left_out}"
            ],
        )
    who = actor or getpass.getuser()
    status, body = await _call_retry(context, owner, run_id, who)
    if status >= 400:
        message = body.get("message") if isinstance(body, dict) else body
        raise Refused(f"the auditlog answered {status}: {message}")
    data["answer"] = body
    retry = body.get("data", body) if isinstance(body, dict) else {}
    notes = [f"retrying {failed} failed record(s) of {owner}'s run {run_id}: run {retry.get('run_id', '?')}"]
    return Report(data=data, notes=notes)
