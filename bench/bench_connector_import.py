"""Benchmark: the connector imports 100,000 organizations from the sandbox into `psync.source-changes.v1`.

The sandbox runs as its own process (`python -m pipedrive_sandbox`, Ultimate plan, burst limit on), the
connector in this one on the real Kafka and PostgreSQL (KAFKA_BOOTSTRAP / DATABASE_URL, as `make bench`
sets them). An "all organizations" import run is queued and worked by the scheduler exactly as in the
service. Reports records per second and the tokens spent, checked against the sandbox's ledger: exactly
10 per page of 500 (2,000) plus the run's fixed costs. Writes `bench-results/connector-import.json`.
"""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr
from report import machine_facts, measured_at, write_report

from connector.bootstrap import assemble, install_tables
from connector.queued_runs import RunKindName
from connector.settings import ConnectorSettings
from pipedrive_client import ApiTokenCredentials, PipedriveClientSettings, Plan
from postgres_store.pool import create_pool
from service_runtime.logs import configure_logging
from service_runtime.process import tune_garbage_collection
from stream_runner.producer import EventProducer

ORGANIZATIONS = 100_000
PAGE_SIZE = 500
TOKENS_PER_PAGE = 10
RESULT_NAME = "connector-import"
API_TOKEN = "c" * 40


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_sandbox(port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SANDBOX_PLAN": "ultimate",
        "SANDBOX_ORGANIZATIONS": str(ORGANIZATIONS),
        "SANDBOX_API_TOKEN": API_TOKEN,
        "SANDBOX_SEED": "42",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pipedrive_sandbox", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_until_serving(base: str, server: subprocess.Popen[bytes], deadline_s: float = 180) -> float:
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() - started < deadline_s and server.poll() is None:
            try:
                async with session.get(f"{base}/_sandbox/state") as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)
    raise RuntimeError("sandbox did not start in time")


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _ledger(base: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/_sandbox/ledger") as response:
        ledger: dict[str, Any] = await response.json()
        return ledger


async def _import(base: str) -> dict[str, Any]:
    suffix = secrets.token_hex(4)
    settings = ConnectorSettings(
        db_schema=f"bench_connector_{suffix}",
        pipedrive=PipedriveClientSettings(client_schema=f"bench_pdc_{suffix}", allowed_test_urls=(base,)),
        default_api_base_url=base,
        page_size=PAGE_SIZE,
    )
    pool = await create_pool(settings.database_url.get_secret_value())
    producer = EventProducer(
        settings.kafka_bootstrap, client_id="connector-bench", namespace=settings.topic_namespace
    )
    await producer.start()
    tenant = f"bench{suffix}"
    try:
        await install_tables(pool, settings.db_schema)
        async with assemble(settings, pool, producer) as connector:
            deps = connector
            await deps.factory.credentials.save(tenant, ApiTokenCredentials(SecretStr(API_TOKEN), base))
            await deps.factory.budget.set_plan(tenant, Plan.ULTIMATE, 1)
            run = await deps.runs.enqueue(
                tenant, RunKindName.IMPORT, "bench", {"source": "all_organizations"}
            )
            tune_garbage_collection()  # as the connector's process does once it serves
            cpu_before = _own_cpu_seconds()
            started = time.perf_counter()
            await connector.scheduler.work_tenant(tenant)
            elapsed = time.perf_counter() - started
            cpu_seconds = _own_cpu_seconds() - cpu_before
            done = await deps.runs.get(tenant, run.run_id)
            assert done is not None
            return {"run": done.as_json(), "seconds": elapsed, "cpu_seconds": cpu_seconds}
    finally:
        await producer.stop()
        for schema in (settings.db_schema, settings.pipedrive.client_schema):
            await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()


async def run() -> dict[str, Any]:
    """Start the sandbox process, import every organization, and return the figures."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_sandbox(port)
    load_before = os.getloadavg()
    try:
        startup_s = await _wait_until_serving(base, server)
        sandbox_cpu_before = _process_cpu_seconds(server.pid)
        async with aiohttp.ClientSession() as session:
            await session.delete(f"{base}/_sandbox/ledger")
        outcome = await _import(base)
        sandbox_cpu = _process_cpu_seconds(server.pid) - sandbox_cpu_before
        ledger = await _ledger(base)
    finally:
        server.terminate()
        server.wait(30)
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
        "tokens_as_expected": ledger_tokens == run_json["tokens_spent"] == 2_000 + fixed
        and list_pages == 200,
        "calls_in_ledger": len(entries),
        "sandbox": "python -m pipedrive_sandbox (own process), plan ultimate, burst limit enforced",
        "sandbox_startup_and_seed_seconds": round(startup_s, 2),
        "machine": machine_facts(),
        "measured_at": measured_at(),
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
