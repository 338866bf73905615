"""Benchmark: what an hourly sync of an unchanged account costs in Pipedrive tokens per day, without and
with webhooks (goal: at most 720 a day, and 30 with webhooks on; it was 960 at 40 tokens per idle sync).

The sandbox runs in this process so that the connector's clock is the sandbox's: a day passes in seconds.
It holds an account of ORGANIZATIONS organizations with their persons and deals. The connector is
assembled on the real Kafka and PostgreSQL (KAFKA_BOOTSTRAP / DATABASE_URL, as `make bench` sets them)
and driven as an admin would, through its HTTP API: connect by API token, frequency 1h, webhooks off or
on. After the first sync (the full read, not counted), the clock advances hour by hour for DAYS days; at
each hour the scheduler queues the sync that is due and works it, as in the service. Nothing changes in
the account, so no webhook is delivered. The sandbox's ledger counts every call and token of the tenant.
Writes `bench-results/idle-cost.json`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aiohttp
from connector_in_process import connector_on_sandbox_clock
from report import write_report

from connector.bootstrap import Connector
from pipedrive_sandbox import SandboxHandle

RESULT_NAME = "idle-cost"
ORGANIZATIONS = 2_000
DAYS = 2
HOUR_S = 3600
GOAL_WITHOUT_WEBHOOKS = 720
GOAL_WITH_WEBHOOKS = 30
BEFORE = 960


async def _admin(base: str, headers: dict[str, str], api_token: str, webhooks: bool) -> None:
    """Connect by API token, sync every hour, webhooks on or off: as an admin does through the API."""
    async with aiohttp.ClientSession() as session:
        for method, path, body in (
            ("POST", "/v1/connection/api-token", {"api_token": api_token}),
            ("PUT", "/v1/settings", {"frequency": "1h"}),
            ("PUT", "/v1/webhooks", {"enabled": webhooks}),
        ):
            async with session.request(method, f"{base}{path}", json=body, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")


async def _day_of_idle_syncs(connector: Connector, sandbox: SandboxHandle, tenant: str) -> dict[str, Any]:
    """The first sync, then DAYS days of hourly scheduled syncs; the ledger's calls of the latter."""
    state = sandbox.state
    scheduler = connector.scheduler
    await scheduler.queue_due_syncs()
    await scheduler.work_tenant(tenant)  # the first sync: the full read
    state.ledger.reset()
    syncs = 0
    for _ in range(DAYS * 24):
        state.clock.advance(HOUR_S)
        syncs += await scheduler.queue_due_syncs()
        await scheduler.work_tenant(tenant)
    entries = list(state.ledger.entries)  # this sandbox serves this tenant only
    tokens = sum(e.tokens for e in entries)
    return {
        "scheduled_syncs": syncs,
        "days": DAYS,
        "tokens": tokens,
        "tokens_per_day": tokens / DAYS,
        "tokens_per_sync": round(tokens / syncs, 2) if syncs else None,
        "calls_by_operation": dict(Counter(e.operation_id or e.path for e in entries)),
    }


async def _measure(webhooks: bool) -> dict[str, Any]:
    async with connector_on_sandbox_clock("idle", ORGANIZATIONS) as days:
        await _admin(days.base, days.headers, days.sandbox.api_token, webhooks)
        return await _day_of_idle_syncs(days.connector, days.sandbox, days.tenant)


async def run() -> dict[str, Any]:
    """Both measurements and the figures."""
    without = await _measure(webhooks=False)
    with_webhooks = await _measure(webhooks=True)
    return {
        "benchmark": RESULT_NAME,
        "account": {
            "organizations": ORGANIZATIONS,
            "persons_per_organization": 1.5,
            "deals_per_organization": 0.5,
        },
        "schedule": "every hour, nothing changed in Pipedrive",
        "without_webhooks": without,
        "with_webhooks": with_webhooks,
        "tokens_per_day_before": BEFORE,
        "goal_tokens_per_day_without_webhooks": GOAL_WITHOUT_WEBHOOKS,
        "goal_tokens_per_day_with_webhooks": GOAL_WITH_WEBHOOKS,
        "goals_met": without["tokens_per_day"] <= GOAL_WITHOUT_WEBHOOKS
        and with_webhooks["tokens_per_day"] <= GOAL_WITH_WEBHOOKS,
        "sandbox": "in this process (clock shared with the connector, advanced an hour at a time)",
    }


def main() -> None:
    """Run the benchmark and write its JSON result."""
    figures = asyncio.run(run())
    write_report(RESULT_NAME, figures)
    if not figures["goals_met"]:
        raise SystemExit("idle cost over its goal")


if __name__ == "__main__":
    main()
