"""The fault scenarios of `make faults`, each during an import of PSYNC_FAULT_RECORDS organizations
(100,000 by default) through every service, each ending with nothing lost and nothing doubled:

- every service killed (SIGKILL) three times during the import, one service per scenario;
- PostgreSQL crashed (`pg_ctl stop -m immediate`) and kept away PSYNC_FAULT_OUTAGE_S (60 s), then started;
- the Kafka broker killed and kept away as long, then started;
- both, one after the other, in one import.

(test_pusher_creates.py: the pusher killed after each create call, 50 times.)

Each scenario's figures go to bench-results/faults.json as soon as it ends, failed or not.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import FaultReport
from tests.outages.private_infra import PrivateKafka, PrivatePostgres
from tests.outages.stack import ImportStack, Tally, import_stack
from tests.support.conditions import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(7200)]

RECORDS = int(os.environ.get("PSYNC_FAULT_RECORDS", "100000"))
OUTAGE_S = float(os.environ.get("PSYNC_FAULT_OUTAGE_S", "60"))
KILLS = 3
FINISH_WITHIN_S = 3600.0


def _figures(tally: Tally, stack: ImportStack, started: float, **extra: Any) -> dict[str, Any]:
    return {
        "records": tally.sandbox,
        "lost": tally.lost,
        "doubled": tally.doubled,
        "store_equals_clean_apply": tally.store_equals_clean_apply,
        "resent_messages_same_ids": tally.emitted_messages - tally.emitted_ids,
        "pipedrive_writes": stack.pipedrive_writes(),
        "seconds_to_finish": round(time.monotonic() - started, 1),
        **extra,
    }


async def _progress(stack: ImportStack, service: str) -> int:
    """How far the import got, as the service itself shows it."""
    if service == "connector":
        runs = [await stack.run_of(run_id) for run_id in stack.marks.get("runs", [])]
        return sum(run.get("counts", {}).get("created", 0) for run in runs)
    if service == "mapper":
        return await stack.applied()
    if service == "pusher":
        return await stack.pusher_mirror()
    return await stack.audit_entries()


async def _finish(stack: ImportStack, run_id: str) -> Tally:
    run = await eventually(
        lambda: stack.run_of(run_id),
        lambda r: r.get("state") == "finished",
        within_s=FINISH_WITHIN_S,
        what="the import",
    )
    assert run["status"] == "Success", run
    await stack.settled(within_s=FINISH_WITHIN_S)
    return await stack.tally()


async def _scenario(
    report: FaultReport,
    name: str,
    stack: ImportStack,
    disturb: Callable[[ImportStack, str], Awaitable[dict[str, Any]]],
) -> None:
    """Import, disturb, finish; record the figures, then hold the product to them."""
    started = time.monotonic()
    run_id = await stack.start_import()
    stack.marks["runs"] = [run_id]
    extra: dict[str, Any] = {}
    try:
        extra = await disturb(stack, run_id)
        tally = await _finish(stack, run_id)
    except BaseException as failure:
        report.record(
            name, {"records": RECORDS, "result": f"failed: {type(failure).__name__}: {failure}"[:500]}
        )
        raise
    exited = stack.exited()
    figures = _figures(tally, stack, started, services_exited=len(exited), **extra)
    ok = tally.lost == tally.doubled == figures["pipedrive_writes"] == 0 and tally.store_equals_clean_apply
    report.record(name, {**figures, "result": "ok" if ok and not exited else "failed"})
    assert tally.lost_or_doubled == {}, tally
    assert figures["pipedrive_writes"] == 0
    assert exited == {}


def _past(threshold: int) -> Callable[[int], bool]:
    return lambda done: done >= threshold


def _killing(service: str) -> Callable[[ImportStack, str], Awaitable[dict[str, Any]]]:
    async def kill_three_times(stack: ImportStack, run_id: str) -> dict[str, Any]:
        killed_at = []
        for n in range(1, KILLS + 1):
            await eventually(
                lambda: _progress(stack, service),
                _past(RECORDS * n // (KILLS + 1)),
                within_s=FINISH_WITHIN_S,
                what=f"{service} past {n}/{KILLS + 1} of the import",
            )
            killed_at.append(await _progress(stack, service))
            await stack.kill_and_restart(service, generation=n + 1)
        return {"kills": KILLS, "killed_at_progress": killed_at}

    return kill_three_times


@pytest.mark.parametrize("service", ["connector", "mapper", "pusher", "auditlog"])
async def test_each_service_killed_three_times_during_an_import(
    service: str,
    private_postgres: PrivatePostgres,
    private_kafka: PrivateKafka,
    fault_report: FaultReport,
    tmp_path: Path,
) -> None:
    async with import_stack(private_postgres.url, private_kafka.bootstrap, RECORDS, tmp_path) as stack:
        await _scenario(fault_report, f"kill -9 {service} x{KILLS} mid-import", stack, _killing(service))


def _outage(
    crash: Callable[[], Awaitable[None]], restart: Callable[[], Awaitable[None]]
) -> Callable[[ImportStack, str], Awaitable[dict[str, Any]]]:
    async def away_for_a_while(stack: ImportStack, run_id: str) -> dict[str, Any]:
        await eventually(
            lambda: _progress(stack, "connector"),
            lambda done: done >= RECORDS // 4,
            within_s=FINISH_WITHIN_S,
            what="a quarter emitted",
        )
        await crash()
        statuses = await eventually(
            stack.readiness,
            lambda found: all(status == 503 for status in found.values()),
            within_s=60,
            what="every service saying it is unavailable",
        )
        await asyncio.sleep(OUTAGE_S)
        alive_through = stack.exited() == {}
        back = time.monotonic()
        await restart()
        await eventually(
            stack.readiness,
            lambda found: all(status == 200 for status in found.values()),
            within_s=300,
            what="every service ready again",
        )
        return {
            "outage_s": OUTAGE_S,
            "all_unavailable_during": all(status == 503 for status in statuses.values()),
            "every_service_alive_through": alive_through,
            "seconds_to_ready_again": round(time.monotonic() - back, 1),
        }

    return away_for_a_while


async def test_postgres_restarted_mid_import(
    private_postgres: PrivatePostgres, private_kafka: PrivateKafka, fault_report: FaultReport, tmp_path: Path
) -> None:
    async with import_stack(private_postgres.url, private_kafka.bootstrap, RECORDS, tmp_path) as stack:
        outage = _outage(private_postgres.crash, private_postgres.start)
        await _scenario(fault_report, f"PostgreSQL crashed mid-import, {OUTAGE_S:.0f} s away", stack, outage)


async def test_kafka_restarted_mid_import(
    private_postgres: PrivatePostgres, private_kafka: PrivateKafka, fault_report: FaultReport, tmp_path: Path
) -> None:
    async with import_stack(private_postgres.url, private_kafka.bootstrap, RECORDS, tmp_path) as stack:
        outage = _outage(private_kafka.crash, private_kafka.start)
        await _scenario(fault_report, f"Kafka broker killed mid-import, {OUTAGE_S:.0f} s away", stack, outage)


async def test_postgres_then_kafka_restarted_in_one_import(
    private_postgres: PrivatePostgres, private_kafka: PrivateKafka, fault_report: FaultReport, tmp_path: Path
) -> None:
    """Both outages in one import, the broker's after the services came back from the database's (what
    `make test`'s tests/outages checked in one import before it ran each outage in a test of its own)."""
    postgres = _outage(private_postgres.crash, private_postgres.start)
    kafka = _outage(private_kafka.crash, private_kafka.start)

    async def one_then_the_other(stack: ImportStack, run_id: str) -> dict[str, Any]:
        first = await postgres(stack, run_id)
        second = await kafka(stack, run_id)
        return {
            **{f"postgres_{name}": value for name, value in first.items()},
            **{f"kafka_{name}": value for name, value in second.items()},
        }

    async with import_stack(private_postgres.url, private_kafka.bootstrap, RECORDS, tmp_path) as stack:
        name = f"PostgreSQL then Kafka crashed in one import, {OUTAGE_S:.0f} s away each"
        await _scenario(fault_report, name, stack, one_then_the_other)
