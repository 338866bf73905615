"""The Kafka broker killed (SIGKILL) in the middle of an import, away a few seconds (OUTAGE_S), then
started again, on a private broker (and the shared PostgreSQL): ridden out, not fatal, nothing lost or
doubled (tests/outages/ride_out.py).

`make faults` runs the same scenario with 60-second outages and larger imports (tests/faults), and both
outages in one import.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.outages.private_infra import PrivateKafka
from tests.outages.ride_out import (
    RECORDS,
    assert_nothing_lost_or_doubled,
    crash_for_a_while,
    midway,
    ride_out_and_finish,
)
from tests.outages.stack import SERVICES, import_stack

pytestmark = pytest.mark.integration


async def test_a_kafka_crash_mid_import_is_ridden_out_and_loses_nothing(
    database_url: str, private_kafka: PrivateKafka, tmp_path: Path
) -> None:
    # The restarted broker registers once the killed one's session lapsed: 4 s here, not Kafka's 9 s.
    assert private_kafka.broker_settings()["broker.session.timeout.ms"] == "4000"
    # A broker of a minute compiles with the JIT's first tier only (about half the CPU to start).
    assert "-XX:TieredStopAtLevel=1" in private_kafka.jvm_arguments()
    async with import_stack(
        database_url, private_kafka.bootstrap, RECORDS, tmp_path, shared_database=True
    ) as stack:
        run_id = await stack.start_import()
        await midway(stack, run_id)
        without_kafka = await crash_for_a_while(stack, private_kafka.crash, private_kafka.start)
        await ride_out_and_finish(stack, run_id)
        await assert_nothing_lost_or_doubled(stack)
    assert set(without_kafka) == set(SERVICES)
