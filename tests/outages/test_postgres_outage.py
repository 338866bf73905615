"""PostgreSQL crashed (`pg_ctl stop -m immediate`) in the middle of an import, away a few seconds
(OUTAGE_S), then started again, on a private PostgreSQL as durable as `make up` runs it (and the shared
Kafka): ridden out, not fatal, nothing lost or doubled (tests/outages/ride_out.py).

`make faults` runs the same scenario with 60-second outages and larger imports (tests/faults), and both
outages in one import.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tests.outages.private_infra import PrivatePostgres
from tests.outages.ride_out import (
    RECORDS,
    assert_nothing_lost_or_doubled,
    crash_for_a_while,
    midway,
    ride_out_and_finish,
)
from tests.outages.stack import SERVICES, import_stack

pytestmark = pytest.mark.integration

DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")
"""What `make up`'s PostgreSQL must keep on, or a crash loses commits the services were told were done."""


async def _durability(server: PrivatePostgres) -> dict[str, str]:
    """The settings of a PostgreSQL that `deploy/local/postgres.sh` started, as `make up` does."""
    connection = await asyncpg.connect(server.url)
    try:
        return {name: await connection.fetchval(f"SHOW {name}") for name in DURABILITY}
    finally:
        await connection.close()


async def test_a_postgres_crash_mid_import_is_ridden_out_and_loses_nothing(
    private_postgres: PrivatePostgres, kafka_bootstrap: str, tmp_path: Path
) -> None:
    assert await _durability(private_postgres) == dict.fromkeys(DURABILITY, "on")
    async with import_stack(private_postgres.url, kafka_bootstrap, RECORDS, tmp_path) as stack:
        run_id = await stack.start_import()
        await midway(stack, run_id)
        without_postgres = await crash_for_a_while(stack, private_postgres.crash, private_postgres.start)
        await ride_out_and_finish(stack, run_id)
        await assert_nothing_lost_or_doubled(stack)
    assert set(without_postgres) == set(SERVICES)
