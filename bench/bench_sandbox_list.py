"""Benchmark: list 100,000 seeded organizations from the sandbox in pages of 500 over real HTTP.

The sandbox runs in its own process on 127.0.0.1 (as in the demo), the client in this one. The burst window
is switched off so the figure is the sandbox's serving speed, not Pipedrive's rate limit; every call is still
charged and recorded in the ledger. Writes `bench-results/sandbox-list.json`. Goal: >= 20,000 records/s.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from report import write_report
from service_process import free_port, wait_answering

from pipedrive_sandbox import Plan, SandboxConfig, create_app

ORGANIZATIONS = 100_000
PAGE_SIZE = 500
GOAL_RECORDS_PER_SECOND = 20_000
RESULT_NAME = "sandbox-list"
API_TOKEN = "b" * 40


def _serve(port: int) -> None:
    config = SandboxConfig(
        plan=Plan.LITE, organizations=ORGANIZATIONS, api_token=API_TOKEN, enforce_burst_limit=False, seed=42
    )
    web.run_app(create_app(config), host="127.0.0.1", port=port, print=None, access_log=None)


async def _list_everything(session: aiohttp.ClientSession, base: str) -> tuple[int, int, float]:
    records = pages = 0
    cursor: str | None = None
    started = time.perf_counter()
    while True:
        params = {"limit": str(PAGE_SIZE), **({"cursor": cursor} if cursor else {})}
        async with session.get(f"{base}/api/v2/organizations", params=params) as response:
            assert response.status == 200, await response.text()
            body = orjson.loads(await response.read())
        records += len(body["data"])
        pages += 1
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            return records, pages, time.perf_counter() - started


async def run() -> dict[str, Any]:
    """Start the sandbox process, list all organizations, and return the figures."""
    port = free_port()
    server = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(headers={"x-api-token": API_TOKEN}) as session:
            startup_s = await wait_answering(f"{base}/_sandbox/state", lambda: not server.is_alive(), 120)
            records, pages, elapsed = await _list_everything(session, base)
            async with session.get(f"{base}/_sandbox/ledger", params={"limit": "0"}) as response:
                ledger = (await response.json())["summary"]
    finally:
        server.terminate()
        server.join(10)
    return {
        "benchmark": "sandbox-list",
        "organizations_seeded": ORGANIZATIONS,
        "page_size": PAGE_SIZE,
        "records": records,
        "pages": pages,
        "seconds": round(elapsed, 3),
        "records_per_second": round(records / elapsed),
        "goal_records_per_second": GOAL_RECORDS_PER_SECOND,
        "goal_met": records / elapsed >= GOAL_RECORDS_PER_SECOND,
        "burst_limit_enforced": False,
        "note": "burst window off to measure serving speed (Lite allows 10 pages/s); every call charged",
        "tokens_charged": ledger["tokens"],
        "calls_in_ledger": ledger["calls"],
        "sandbox_startup_and_seed_seconds": round(startup_s, 2),
    }


def main() -> None:
    """Run the benchmark and write its JSON result."""
    figures = asyncio.run(run())
    write_report(RESULT_NAME, figures)


if __name__ == "__main__":
    main()
