"""`psyncctl resync`: the connector reads a tenant's Pipedrive records again from a time.

Through the connector's own tables, with the connector's store code (connector.cursor_store,
connector.run_store): each object's cursor moves back to the time and the versions emitted since are
forgotten, then a sync is queued, which any connector replica picks up. The records are emitted again with
the event ids they had, so consumers that applied them drop them by id, and whatever a consumer lost (a
restored database, a message past retention) comes back. The connector's HTTP API has no such call: it is
tenant-scoped, and this is an operator's repair, not a tenant's action.

It refuses while one of the tenant's runs is running or paused (that run's next page would move the
cursor forward again), and for a tenant with no Pipedrive connection (unknown, never connected or
disconnected): its sync could read nothing and would only end in Error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from connector.cursor_store import CursorStore
from connector.queued_runs import RESYNC_TRIGGER, RunKindName, RunState
from connector.run_store import RunStore
from psyncctl.context import Context, Refused, Report
from psyncctl.tenant_status_store import TenantStatusReader
from schemas.events.common import SyncObject


async def resync(
    context: Context, tenant: str, since: datetime, objects: Sequence[SyncObject], dry_run: bool
) -> Report:
    """Rewind the tenant's cursors of `objects` to `since` and queue a sync (nothing with `dry_run`)."""
    pool = await context.pool()
    runs = RunStore(pool, context.settings.connector_schema)
    busy = [r for r in await runs.recent(tenant, 20) if r.state in (RunState.RUNNING, RunState.PAUSED)]
    if busy:
        names = ", ".join(f"{r.run_id} ({r.state.value})" for r in busy)
        raise Refused(f"{tenant} has a run in progress: {names}; wait for it to end or cancel it first")
    if tenant not in await TenantStatusReader(pool, context.settings).connections():
        raise Refused(
            f"{tenant} has no Pipedrive connection (an unknown tenant, or never connected or disconnected):"
            " there is nothing to read again; `psyncctl tenants` lists the tenants and their connections"
        )
    rewound = await CursorStore(pool, context.settings.connector_schema).rewind(
        tenant, objects, since, dry_run=dry_run
    )
    rows = [
        {
            "object": obj.value,
            "cursor_before": before,
            "cursor_after": min(before, since) if before else None,
            "versions_forgotten": forgotten,
        }
        for obj, (before, forgotten) in rewound.items()
    ]
    data: dict[str, object] = {"tenant": tenant, "since": since, "dry_run": dry_run, "objects": rows}
    if dry_run:
        return Report(data=data, rows=rows, notes=["dry run: nothing changed, no sync queued"])
    run = await runs.enqueue(tenant, RunKindName.SYNC, RESYNC_TRIGGER)
    data["run_id"] = run.run_id
    notes = [
        f"queued sync {run.run_id} for {tenant}: it reads {', '.join(o.value for o in objects)}"
        f" again from {since.isoformat()}"
    ]
    return Report(data=data, rows=rows, notes=notes)
