"""Benchmark: the connector imports 100,000 organizations from the sandbox into
`psync.bulk-source-changes.v1`.

The sandbox runs as its own process (`python -m pipedrive_sandbox`, Ultimate plan, burst limit on), the
connector in this one on the real Kafka and PostgreSQL (KAFKA_BOOTSTRAP / DATABASE_URL, as `make bench`
sets them). An "all organizations" import run is queued and worked by the scheduler exactly as in the
service. Reports records per second and the tokens spent, checked against the sandbox's ledger: exactly
10 per page of 500 (2,000) plus the run's fixed costs. Writes `bench-results/connector-import.json`.
BENCH_CONNECTOR_ORGANIZATIONS seeds another number of organizations (a quick run; the figure is 100,000's).
"""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import time
from typing import Any

import aiohttp
from connector_in_process import connector_in_process
from infra_cpu import process_seconds
from pydantic import SecretStr
from report import write_report
from service_process import free_port, start_sandbox, wait_answering

from connector.queued_runs import RunKindName
from pipedrive_client import ApiTokenCredentials, Plan
from service_runtime.logs import configure_logging
from service_runtime.process import tune_garbage_collection

ORGANIZATIONS = int(os.environ.get("BENCH_CONNECTOR_ORGANIZATIONS", "100000"))
PAGE_SIZE = 500
TOKENS_PER_PAGE = 10
PAGES = -(-ORGANIZATIONS // PAGE_SIZE)
RESULT_NAME = "connector-import"
API_TOKEN = "c" * 40


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _ledger(base: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/_sandbox/ledger") as response:
        ledger: dict[str, Any] = await response.json()
        return ledger


async def _import(base: str) -> dict[str, Any]:
    tenant = f"bench{secrets.token_hex(4)}"
    async with connector_in_process("connector", base, page_size=PAGE_SIZE) as connector:
        await connector.factory.credentials.save(tenant, ApiTokenCredentials(SecretStr(API_TOKEN), base))
        await connector.factory.budget.set_plan(tenant, Plan.ULTIMATE, 1)
        run = await connector.runs.enqueue(
            tenant, RunKindName.IMPORT, "bench", {"source": "all_organizations"}
        )
        tune_garbage_collection()  # as the connector's process does once it serves
        cpu_before = _own_cpu_seconds()
        started = time.perf_counter()
        await connector.scheduler.work_tenant(tenant)
        elapsed = time.perf_counter() - started
        cpu_seconds = _own_cpu_seconds() - cpu_before
        done = await connector.runs.get(tenant, run.run_id)
        assert done is not None
        return {"run": done.as_json(), "seconds": elapsed, "cpu_seconds": cpu_seconds}


async def run() -> dict[str, Any]:
    """Start the sandbox process, import every organization, and return the figures."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = await start_sandbox(port, ORGANIZATIONS, API_TOKEN)
    load_before = os.getloadavg()
    try:
        startup_s = await wait_answering(f"{base}/_sandbox/state", lambda: server.returncode is not None, 180)
        sandbox_cpu_before = process_seconds(server.pid)
        async with aiohttp.ClientSession() as session:
            await session.delete(f"{base}/_sandbox/ledger")
        outcome = await _import(base)
        sandbox_cpu = process_seconds(server.pid) - sandbox_cpu_before
        ledger = await _ledger(base)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)
    run_json = outcome["run"]
    records = run_json["progress"]["read"]
    entries = ledger["entries"]
    list_pages = sum(1 for e in entries if e["path"] == "/api/v2/organizations" and e["status"] == 200)
    ledger_tokens = sum(int(e["tokens"]) for e in entries)
    fixed = ledger_tokens - TOKENS_PER_PAGE * list_pages
    return {
        "benchmark": "connector-import",
        "organizations_seeded": ORGANIZATIONS,
        "page_size": PAGE_SIZE,
        "records_emitted": run_json["counts"]["created"] + run_json["counts"]["updated"],
        "records_read": records,
        "run_status": run_json["status"],
        "seconds": round(outcome["seconds"], 3),
        "records_per_second": round(records / outcome["seconds"]),
        "connector_cpu_seconds": round(outcome["cpu_seconds"], 2),
        "connector_cpu_microseconds_per_record": round(outcome["cpu_seconds"] / records * 1e6, 1),
        "sandbox_cpu_seconds_serving": round(sandbox_cpu, 2),
        # The machine is shared (other runs): its 1-minute load before the run and after it.
        "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "list_pages": list_pages,
        "tokens_spent_by_run": run_json["tokens_spent"],
        "tokens_in_sandbox_ledger": ledger_tokens,
        "tokens_for_pages": TOKENS_PER_PAGE * list_pages,
        "fixed_tokens_of_run": fixed,
        "tokens_as_expected": ledger_tokens == run_json["tokens_spent"] == TOKENS_PER_PAGE * PAGES + fixed
        and list_pages == PAGES,
        "calls_in_ledger": len(entries),
        "sandbox": "python -m pipedrive_sandbox (own process), plan ultimate, burst limit enforced",
        "sandbox_startup_and_seed_seconds": round(startup_s, 2),
    }


def main() -> None:
    """Run the benchmark and write its JSON result."""
    configure_logging("connector", "WARNING", json=True)  # a line per page call is not what is measured
    figures = asyncio.run(run())
    write_report(RESULT_NAME, figures)
    if not figures["tokens_as_expected"] or figures["run_status"] != "Success":
        raise SystemExit("tokens or status not as expected")


if __name__ == "__main__":
    main()
