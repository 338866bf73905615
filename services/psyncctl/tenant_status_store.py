"""Read-only queries over the services' schemas for `psyncctl tenants`: the tenant registry, connections,
the budget, the connector's open runs, the activity log's last runs (through the auditlog's own reads and
view, so a run shows the status the console shows) and the pusher's parked pushes.

psyncctl only reads these tables (their owners write them). A schema a deployment does not have (a
service never started there) reads as empty rather than failing the whole report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from auditlog.activity_read_store import PostgresActivityReads
from auditlog.run_views import RunFilter, present_run
from pipedrive_client.budget import BudgetPolicy
from pipedrive_client.plans import Plan
from psyncctl.settings import CtlSettings

_SECONDS_PER_DAY = 86_400


async def _rows(pool: asyncpg.Pool, sql: str, *args: object) -> list[asyncpg.Record]:
    try:
        return list(await pool.fetch(sql, *args))
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return []


class TenantStatusReader:
    """What psyncctl reports about tenants, one query per table."""

    def __init__(self, pool: asyncpg.Pool, settings: CtlSettings) -> None:
        self._pool = pool
        self._s = settings

    async def tenants(self) -> list[dict[str, Any]]:
        """Every registered tenant, with its connection, budget, open runs, last run and parked pushes."""
        rows = await _rows(
            self._pool, f"SELECT tenant_id, name FROM {self._s.tenant_auth_schema}.tenants ORDER BY tenant_id"
        )
        connections = await self.connections()
        budgets = await self.budgets()
        open_runs = await self.open_runs_count()
        parked = await self.parked_pushes()
        return [
            {
                "tenant": r["tenant_id"],
                "name": r["name"],
                "connection": connections.get(r["tenant_id"]),
                "budget": budgets.get(r["tenant_id"]),
                "open_connector_runs": open_runs.get(r["tenant_id"], 0),
                "last_run": next(iter(await self.last_runs(r["tenant_id"], count=1)), None),
                "parked_pushes": parked.get(r["tenant_id"], 0),
            }
            for r in rows
        ]

    async def is_registered(self, tenant: str) -> bool:
        """Whether the tenant registry has the tenant."""
        rows = await _rows(
            self._pool, f"SELECT 1 FROM {self._s.tenant_auth_schema}.tenants WHERE tenant_id = $1", tenant
        )
        return bool(rows)

    async def connections(self) -> dict[str, dict[str, Any]]:
        """Per connected tenant: credential kind, API domain, when stored and when an OAuth token expires."""
        rows = await _rows(
            self._pool,
            f"SELECT tenant_id, kind, api_domain, updated_at, expires_at"
            f" FROM {self._s.pipedrive_client_schema}.credentials",
        )
        return {
            r["tenant_id"]: {
                "kind": r["kind"],
                "api_domain": r["api_domain"],
                "updated_at": r["updated_at"],
                "expires_at": r["expires_at"],
            }
            for r in rows
        }

    async def budgets(self, share: float = BudgetPolicy().daily_share) -> dict[str, dict[str, Any]]:
        """Per tenant: tokens spent today (UTC day), this integration's allowance, whether closed, until."""
        rows = await _rows(
            self._pool,
            f"SELECT tenant_id, plan, seats, day, spent_today, closed_until, closed_for_day"
            f" FROM {self._s.pipedrive_client_schema}.budget",
        )
        now = datetime.now(UTC).timestamp()
        today = int(now // _SECONDS_PER_DAY)
        policy = BudgetPolicy(daily_share=share)
        return {
            r["tenant_id"]: {
                "plan": r["plan"],
                "spent_today": r["spent_today"] if r["day"] == today else 0,
                "allowance": policy.allowance(Plan(r["plan"]), r["seats"]),
                "closed_until": (
                    datetime.fromtimestamp(r["closed_until"], UTC) if r["closed_until"] > now else None
                ),
                "closed_for_day": bool(r["closed_for_day"]) and r["closed_until"] > now,
            }
            for r in rows
        }

    async def open_runs_count(self) -> dict[str, int]:
        """Per tenant: the connector's runs queued, running or paused (waiting for the budget)."""
        rows = await _rows(
            self._pool,
            f"SELECT tenant_id, count(*) AS n FROM {self._s.connector_schema}.runs"
            " WHERE state IN ('queued', 'running', 'paused') GROUP BY tenant_id",
        )
        return {r["tenant_id"]: r["n"] for r in rows}

    async def open_runs(self, tenant: str) -> list[dict[str, Any]]:
        """The connector's open runs of one tenant, oldest first."""
        rows = await _rows(
            self._pool,
            f"SELECT run_id, kind, trigger, state, resume_at, queued_at, started_at"
            f" FROM {self._s.connector_schema}.runs"
            " WHERE tenant_id = $1 AND state IN ('queued', 'running', 'paused') ORDER BY queued_at",
            tenant,
        )
        return [dict(r) for r in rows]

    async def last_runs(self, tenant: str, count: int = 5) -> list[dict[str, Any]]:
        """The tenant's newest runs of every service as the activity log shows them (the auditlog's own
        reads and view, `run_views.present_run`): a run whose records' results are still arriving is
        `finishing`, with its entries' counts so far and `results_pending`; a connector run shows its apply
        run's outcomes."""
        reads = PostgresActivityReads(self._pool, self._s.auditlog_schema)
        try:
            runs = await reads.runs_page(tenant, RunFilter(), None, count)
            around = await reads.relations(tenant, runs)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return []
        return [present_run(run, around[run.run_id]) for run in runs]

    async def parked_pushes(self) -> dict[str, int]:
        """Per tenant: pushes the pusher holds back (budget closed, or failing and retried)."""
        rows = await _rows(
            self._pool,
            f"SELECT tenant_id, count(*) AS n FROM {self._s.pusher_schema}.parked_pushes GROUP BY tenant_id",
        )
        return {r["tenant_id"]: r["n"] for r in rows}
