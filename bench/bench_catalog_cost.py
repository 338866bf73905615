"""Benchmark: what the catalog of the connected Pipedrive (fields, pipelines and stages, users, company)
costs in tokens per day for a tenant syncing hourly.

The sandbox runs in this process so that the connector's clock is the sandbox's: a day passes in seconds.
The connector is assembled on the real Kafka and PostgreSQL (KAFKA_BOOTSTRAP / DATABASE_URL, as `make
bench` sets them) and driven through its HTTP API: connect by API token, frequency 1h. For DAYS days the
clock advances hour by hour; at each hour the scheduler queues and works the due sync and, depending on the
scenario, an admin uses what needs the catalog:

- `syncs_only`: nobody opens the console; the syncs need no catalog;
- `console_every_hour`: the catalog is shown (GET /v1/catalog), a custom field mapping is changed (PATCH
  /v1/settings) and a filtered import is checked and queued (then cancelled before it reads anything);
- `unknown_field_every_hour`: as above, plus a filter naming a field the account does not have, which reads
  the catalog again (the worst case: the stored one is older than CONNECTOR_CATALOG_MISSING_REFRESH_S).

The sandbox's ledger counts every call and token; catalog tokens are those of the catalog's operations.
Writes `bench-results/catalog-cost.json`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aiohttp
from connector_in_process import connector_on_sandbox_clock
from report import write_report

from connector.bootstrap import Connector
from connector.catalog import CATALOG_READ_TOKENS
from connector.settings import ConnectorSettings
from pipedrive_sandbox import SandboxHandle

RESULT_NAME = "catalog-cost"
ORGANIZATIONS = 500
DAYS = 2
HOUR_S = 3600
SCENARIOS = ("syncs_only", "console_every_hour", "unknown_field_every_hour")
CATALOG_OPERATIONS = frozenset(
    {
        "getCurrentUser",
        "getUsers",
        "getPipelines",
        "getStages",
        "getOrganizationFields",
        "getPersonFields",
        "getDealFields",
    }
)


class Admin:
    """The tenant's admin calling the connector's API."""

    def __init__(self, session: aiohttp.ClientSession, base: str, headers: dict[str, str]) -> None:
        self._session, self._base, self._headers = session, base, headers

    async def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        """One call; its JSON answer (a status other than `expect` stops the benchmark)."""
        url = f"{self._base}{path}"
        async with self._session.request(method, url, json=body, headers=self._headers) as response:
            answer = await response.json()
            if response.status != expect:
                raise RuntimeError(f"{method} {path}: {response.status} {answer}")
            return answer

    async def use_the_catalog(self, hour: int, unknown_field: bool) -> None:
        """What an hour of console use asks of the catalog."""
        await self.call("GET", "/v1/catalog")
        label = ("Domain", "Tier")[hour % 2]  # a changed mapping needs the account's fields
        mapping = {"abm_field": "industry", "pipedrive_field": label, "custom": True}
        await self.call("PATCH", "/v1/settings", {"objects": {"organization": {"fields": [mapping]}}})
        body = {"source": "organizations", "filter": 'Tier = "A" AND Owner = current user'}
        queued = await self.call("POST", "/v1/imports", body, expect=202)
        await self.call("POST", f"/v1/runs/{queued['run_id']}/cancel", expect=202)
        if unknown_field:
            missing = {"source": "organizations", "filter": "Shoe size > 42"}
            await self.call("POST", "/v1/imports", missing, expect=400)


async def _days(
    connector: Connector, sandbox: SandboxHandle, tenant: str, admin: Admin, scenario: str
) -> dict[str, Any]:
    state, scheduler = sandbox.state, connector.scheduler
    await scheduler.queue_due_syncs()
    await scheduler.work_tenant(tenant)  # the first sync: the full read, not counted
    state.ledger.reset()
    for hour in range(DAYS * 24):
        state.clock.advance(HOUR_S)
        await scheduler.queue_due_syncs()
        if scenario != "syncs_only":
            await admin.use_the_catalog(hour, unknown_field=scenario == "unknown_field_every_hour")
        await scheduler.work_tenant(tenant)
    entries = list(state.ledger.entries)  # this sandbox serves this tenant only
    catalog = [e for e in entries if e.operation_id in CATALOG_OPERATIONS]
    catalog_tokens = sum(e.tokens for e in catalog)
    return {
        "days": DAYS,
        "catalog_tokens_per_day": catalog_tokens / DAYS,
        "catalog_reads_per_day": catalog_tokens / CATALOG_READ_TOKENS / DAYS,
        "all_tokens_per_day": sum(e.tokens for e in entries) / DAYS,
        "catalog_calls_by_operation": dict(Counter(str(e.operation_id) for e in catalog)),
    }


async def _measure(scenario: str) -> dict[str, Any]:
    async with (
        connector_on_sandbox_clock("catalog", ORGANIZATIONS) as days,
        aiohttp.ClientSession() as session,
    ):
        admin = Admin(session, days.base, days.headers)
        await admin.call("POST", "/v1/connection/api-token", {"api_token": days.sandbox.api_token})
        await admin.call("PATCH", "/v1/settings", {"frequency": "1h"})
        return await _days(days.connector, days.sandbox, days.tenant, admin, scenario)


async def run() -> dict[str, Any]:
    """Every scenario and the figures."""
    measured = {scenario: await _measure(scenario) for scenario in SCENARIOS}
    return {
        "benchmark": RESULT_NAME,
        "account": {"organizations": ORGANIZATIONS, "pipelines": 2, "stages": 8, "users": 1},
        "schedule": "sync every hour",
        "catalog_read_tokens": CATALOG_READ_TOKENS,
        "catalog_max_age_s": ConnectorSettings().catalog_max_age_s,
        "catalog_missing_refresh_s": ConnectorSettings().catalog_missing_refresh_s,
        **measured,
        "sandbox": "in this process (clock shared with the connector, advanced an hour at a time)",
    }


def main() -> None:
    """Run the benchmark and write its JSON result."""
    figures = asyncio.run(run())
    write_report(RESULT_NAME, figures)
    if figures["console_every_hour"]["catalog_reads_per_day"] > 1:
        raise SystemExit("the catalog was read more than once a day with a stored one fresh enough")


if __name__ == "__main__":
    main()
