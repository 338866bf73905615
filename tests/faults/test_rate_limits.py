"""The product under Pipedrive's rate limits, each during an import of PSYNC_FAULT_LIMIT_RECORDS
organizations (5,000 by default) through every service:

- a 429 storm of PSYNC_FAULT_STORM_S (30 s) from the import's start: every call answered 429;
- the company's daily budget spent mid-import (a sandbox company with a budget of a few pages).

Both are read from the sandbox's ledger: a call inside a closed window is a call with the same token
less than the wait a 429 told (its retry-after, else its x-ratelimit-reset) after that 429. The import
must end with every record, nothing lost or doubled (tests/outages/stack.py's tally).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pipedrive_sandbox.ledger import LedgerEntry
from pipedrive_sandbox.ratelimit import SECONDS_PER_DAY
from tests.faults.conftest import FaultReport
from tests.outages.private_infra import PrivateKafka, PrivatePostgres
from tests.outages.stack import ImportStack, Tally, import_stack
from tests.support.conditions import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

RECORDS = int(os.environ.get("PSYNC_FAULT_LIMIT_RECORDS", "5000"))
STORM_S = float(os.environ.get("PSYNC_FAULT_STORM_S", "30"))
# The company's budget: a list page costs 10 tokens, so an import of RECORDS needs about two days of it.
DAILY_BUDGET = 10 * RECORDS // 500 * 6 // 10
# How long the sandbox's day still runs when the import starts.
DAY_LEFT_S = 60.0
FINISH_WITHIN_S = 600.0


def calls_inside_closed_windows(entries: Sequence[LedgerEntry]) -> int:
    """Calls sent with a token before the wait a 429 to that token told had passed."""
    inside: set[int] = set()
    for n, refused in enumerate(entries):
        if refused.status != 429 or refused.wait_seconds is None:
            continue
        until = refused.time + refused.wait_seconds
        inside.update(
            m
            for m, later in enumerate(entries[n + 1 :], start=n + 1)
            if later.token == refused.token and later.time < until
        )
    return len(inside)


async def _set_faults(stack: ImportStack, faults: dict[str, Any]) -> None:
    """Switch sandbox faults on through its admin API."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.sandbox.base_url + "/_sandbox/faults", json=faults) as answer,
    ):
        assert answer.status == 200, await answer.text()


async def _finished(stack: ImportStack, run_id: str) -> tuple[dict[str, Any], Tally]:
    run = await eventually(
        lambda: stack.run_of(run_id),
        lambda r: r.get("state") == "finished",
        within_s=FINISH_WITHIN_S,
        what="the import",
    )
    if run["status"] == "Success":
        await stack.settled(within_s=FINISH_WITHIN_S)
    return run, await stack.tally()


def _figures(stack: ImportStack, run: dict[str, Any], tally: Tally, started: float) -> dict[str, Any]:
    entries = stack.sandbox.handle.state.ledger.entries
    return {
        "records": tally.sandbox,
        "run_status": run.get("status"),
        "run_message": run.get("message"),
        "lost": tally.lost,
        "doubled": tally.doubled,
        "store_equals_clean_apply": tally.store_equals_clean_apply,
        "calls": len(entries),
        "answered_429": sum(1 for e in entries if e.status == 429),
        "calls_inside_closed_windows": calls_inside_closed_windows(entries),
        "pipedrive_writes": stack.pipedrive_writes(),
        "services_exited": len(stack.exited()),
        "seconds_to_finish": round(time.monotonic() - started, 1),
    }


def _ok(figures: dict[str, Any]) -> bool:
    return bool(
        figures["run_status"] == "Success"
        and figures["lost"] == figures["doubled"] == figures["calls_inside_closed_windows"] == 0
        and figures["store_equals_clean_apply"]
        and figures["pipedrive_writes"] == figures["services_exited"] == 0
    )


async def test_a_429_storm_mid_import_sends_nothing_inside_a_closed_window(
    private_postgres: PrivatePostgres, private_kafka: PrivateKafka, fault_report: FaultReport, tmp_path: Path
) -> None:
    name = f"a 429 storm of {STORM_S:.0f} s from the import's start"
    async with import_stack(private_postgres.url, private_kafka.bootstrap, RECORDS, tmp_path) as stack:
        started = time.monotonic()
        await _set_faults(stack, {"storm_seconds": STORM_S})
        run_id = await stack.start_import()
        try:
            run, tally = await _finished(stack, run_id)
        except BaseException as failure:
            fault_report.record(name, {"result": f"failed: {type(failure).__name__}: {failure}"[:500]})
            raise
        figures = _figures(stack, run, tally, started)
        fault_report.record(name, {**figures, "result": "ok" if _ok(figures) else "failed"})
    assert figures["calls_inside_closed_windows"] == 0, figures
    assert figures["answered_429"] > 0, figures
    assert run["status"] == "Success", run
    assert tally.lost_or_doubled == {}, tally


async def test_an_exhausted_daily_budget_pauses_the_import_until_the_reset(
    private_postgres: PrivatePostgres, private_kafka: PrivateKafka, fault_report: FaultReport, tmp_path: Path
) -> None:
    name = "daily budget exhausted mid-import: paused until the reset, resumed"
    async with import_stack(
        private_postgres.url, private_kafka.bootstrap, RECORDS, tmp_path, daily_budget=DAILY_BUDGET
    ) as stack:
        clock = stack.sandbox.handle.state.clock
        clock.advance(SECONDS_PER_DAY - clock.now() % SECONDS_PER_DAY - DAY_LEFT_S)
        reset_at = clock.now() + DAY_LEFT_S
        started = time.monotonic()
        run_id = await stack.start_import()
        try:
            paused = await eventually(
                lambda: stack.run_of(run_id),
                lambda r: r.get("state") in ("paused", "finished"),
                within_s=FINISH_WITHIN_S,
                what="the import paused",
            )
            run, tally = await _finished(stack, run_id)
        except BaseException as failure:
            fault_report.record(name, {"result": f"failed: {type(failure).__name__}: {failure}"[:500]})
            raise
        entries = stack.sandbox.handle.state.ledger.entries
        refused_for_day = [e for e in entries if e.status == 429 and (e.wait_seconds or 0) > 2]
        figures = {
            **_figures(stack, run, tally, started),
            "daily_budget_tokens": DAILY_BUDGET,
            "paused": paused.get("state") == "paused",
            "paused_at_emitted": paused.get("counts", {}).get("created"),
            "resume_at": paused.get("resume_at"),
            "calls_after_the_day_was_refused_before_the_reset": sum(
                1 for e in entries if refused_for_day and refused_for_day[0].time < e.time < reset_at
            ),
            "tokens_spent_by_the_run": run.get("tokens_spent"),
        }
        fault_report.record(name, {**figures, "result": "ok" if _ok(figures) else "failed"})
    assert figures["paused"], paused
    assert figures["calls_inside_closed_windows"] == 0, figures
    assert run["status"] == "Success", run
    assert tally.lost_or_doubled == {}, tally
