"""`psyncctl tenants` and `psyncctl tenants show TENANT`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiokafka import TopicPartition

from psyncctl.context import Context, Refused, Report
from psyncctl.lag import group_lag
from psyncctl.positions import tenant_of_key
from psyncctl.tenant_status_store import TenantStatusReader


def _line(t: dict[str, object]) -> dict[str, object]:
    connection = t["connection"] if isinstance(t["connection"], dict) else None
    budget = t["budget"] if isinstance(t["budget"], dict) else None
    last = t["last_run"] if isinstance(t["last_run"], dict) else None
    return {
        "tenant": t["tenant"],
        "connection": f"{connection['kind']} {connection['api_domain']}" if connection else "not connected",
        "spent_today": f"{budget['spent_today']}/{budget['allowance']}" if budget else "0",
        "open_runs": t["open_connector_runs"],
        "last_run": f"{last['service']} {last['kind']} {_status_words(last)} {last['started_at']}"
        if last
        else "",
        "parked_pushes": t["parked_pushes"],
    }


async def list_tenants(context: Context) -> Report:
    """Every tenant with its connection, budget spent today, open runs, last run and parked pushes."""
    tenants = await TenantStatusReader(await context.pool(), context.settings).tenants()
    return Report(data=tenants, rows=[_line(t) for t in tenants], notes=[f"{len(tenants)} tenant(s)"])


async def pending_messages(context: Context, tenant: str, scan_limit: int) -> list[dict[str, object]]:
    """Per service group and topic: the tenant's messages not yet committed, counted by reading at most
    `scan_limit` messages per partition of the lag (`at_least` when the scan stopped there)."""
    found: list[dict[str, object]] = []
    for service, group in context.settings.groups.items():
        counts: dict[str, list[int]] = {}
        for row in await group_lag(context, group):
            if row.lag <= 0:
                continue
            start = row.committed or 0
            tp = TopicPartition(row.topic, row.partition)
            stop = min(row.end, start + scan_limit)
            count = counts.setdefault(row.topic, [0, 0])
            async for message in context.kafka.read({tp: (start, stop)}):
                count[0] += tenant_of_key(message.key) == tenant
            count[1] |= stop < row.end
        found += [
            {"service": service, "group": group, "topic": topic, "pending": n, "at_least": bool(cut)}
            for topic, (n, cut) in sorted(counts.items())
            if n or cut  # a cut scan says "at least n", even at 0
        ]
    return found


async def show_tenant(context: Context, tenant: str, scan_limit: int) -> Report:
    """One tenant: connection, budget, open connector runs, last runs of every service, parked pushes,
    and its messages still waiting in each service's consumer group."""
    reader = TenantStatusReader(await context.pool(), context.settings)
    if not await reader.is_registered(tenant):
        raise Refused(f"no tenant {tenant}: `psyncctl tenants` lists the tenants there are")
    connection = (await reader.connections()).get(tenant)
    budget = (await reader.budgets()).get(tenant)
    open_runs = await reader.open_runs(tenant)
    last_runs = await reader.last_runs(tenant, count=5)
    parked = (await reader.parked_pushes()).get(tenant, 0)
    pending = await pending_messages(context, tenant, scan_limit)
    data = {
        "tenant": tenant,
        "connection": connection,
        "budget": budget,
        "open_connector_runs": open_runs,
        "last_runs": last_runs,
        "parked_pushes": parked,
        "pending_messages": pending,
    }
    notes = [
        f"connection: {_connection_words(connection)}",
        f"budget: {_budget_words(budget)}",
        f"parked pushes: {parked}",
        *(_open_run_line(r) for r in open_runs),
        *(_run_line(r) for r in last_runs),
        f"pending messages: {sum(int(str(p['pending'])) for p in pending)}"
        + (" at least (a scan stopped at --scan-limit)" if any(p["at_least"] for p in pending) else "")
        + (" (per group and topic above)" if pending else ""),
    ]
    return Report(data=data, rows=pending, notes=notes)


def _when(moment: object) -> str:
    return moment.isoformat(timespec="seconds") if isinstance(moment, datetime) else str(moment)


def _connection_words(connection: dict[str, Any] | None) -> str:
    if connection is None:
        return "not connected"
    expires = connection["expires_at"]
    return f"{connection['kind']} {connection['api_domain']}, stored {_when(connection['updated_at'])}" + (
        f", access token expires {_when(expires)}" if expires else ""
    )


def _budget_words(budget: dict[str, Any] | None) -> str:
    if budget is None:
        return "nothing spent"
    closed = (
        f"; closed until {_when(budget['closed_until'])}"
        + (" (the day's share is spent)" if budget["closed_for_day"] else "")
        if budget["closed_until"]
        else ""
    )
    return (
        f"{budget['spent_today']} of {budget['allowance']} tokens spent today (plan {budget['plan']}){closed}"
    )


def _open_run_line(run: dict[str, Any]) -> str:
    return (
        f"open run {run['run_id']}: {run['kind']} ({run['trigger']}) {run['state']};"
        f" queued {_when(run['queued_at'])}"
        + (f", started {_when(run['started_at'])}" if run["started_at"] else "")
        + (f", resumes {_when(run['resume_at'])}" if run["resume_at"] else "")
    )


def _status_words(run: dict[str, Any]) -> str:
    """The run's status as the console shows it; a finishing run with the results it still waits for."""
    pending = run.get("results_pending") or 0
    return f"{run['status']} ({pending} result(s) to come)" if pending else str(run["status"])


def _run_line(run: dict[str, Any]) -> str:
    return (
        f"run {run['run_id']}: {run['service']} {run['kind']} {_status_words(run)}"
        f" started {run['started_at']} created {run['created']} updated {run['updated']}"
        f" skipped {run['skipped']} failed {run['failed']} tokens {run['tokens_spent']}"
    )
