"""One broker of a three-broker KRaft cluster (replication factor 3, min.insync.replicas 2; the jars of
deploy/local/kafka.sh) killed (SIGKILL) mid-import and left dead: every event a producer had
acknowledged is still there (the connector checkpoints only acknowledged pages, so its records are the
acknowledged ones), nothing lost or doubled in any service, no service exits."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.conftest import FaultReport
from tests.faults.kraft_cluster import KraftCluster
from tests.integration.conditions import eventually
from tests.integration.service_process import ServiceProcess
from tests.outages.private_infra import PrivatePostgres, remove_state
from tests.outages.stack import import_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

RECORDS = int(os.environ.get("PSYNC_FAULT_CLUSTER_RECORDS", "10000"))
FINISH_WITHIN_S = 1200.0
KILLED = 2


@pytest.fixture
async def kraft_cluster() -> AsyncIterator[KraftCluster]:
    """A started three-broker cluster with every topic of the registry."""
    cluster = KraftCluster(Path(tempfile.mkdtemp(prefix="psync-kraft-")))
    try:
        await cluster.start()
        await cluster.create_topics()
        yield cluster
    finally:
        await ServiceProcess.kill_all_running()
        with contextlib.suppress(Exception):
            await cluster.stop()
        await remove_state(cluster.state)


async def test_one_broker_of_three_killed_mid_import_loses_no_acknowledged_event(
    private_postgres: PrivatePostgres, kraft_cluster: KraftCluster, fault_report: FaultReport, tmp_path: Path
) -> None:
    name = "one broker of three (RF 3, min.insync.replicas 2) killed mid-import"
    async with import_stack(private_postgres.url, kraft_cluster.bootstrap, RECORDS, tmp_path) as stack:
        started = time.monotonic()
        run_id = await stack.start_import()
        try:
            emitting = await eventually(
                lambda: stack.run_of(run_id),
                lambda r: r.get("counts", {}).get("created", 0) >= RECORDS // 4,
                within_s=FINISH_WITHIN_S,
                what="a quarter emitted",
            )
            applied_at_kill = await stack.applied()
            await kraft_cluster.kill(KILLED)
            run = await eventually(
                lambda: stack.run_of(run_id),
                lambda r: r.get("state") == "finished",
                within_s=FINISH_WITHIN_S,
                what="the import",
            )
            await stack.settled(within_s=FINISH_WITHIN_S)
            tally = await stack.tally()
        except BaseException as failure:
            fault_report.record(name, {"result": f"failed: {type(failure).__name__}: {failure}"[:500]})
            raise
        exited = stack.exited()
        figures = {
            "records": tally.sandbox,
            "run_status": run.get("status"),
            "emitted_when_killed": emitting["counts"]["created"],
            "applied_when_killed": applied_at_kill,
            "acknowledged_by_the_connector": run.get("counts", {}).get("created"),
            "lost": tally.lost,
            "doubled": tally.doubled,
            "store_equals_clean_apply": tally.store_equals_clean_apply,
            "resent_messages_same_ids": tally.emitted_messages - tally.emitted_ids,
            "pipedrive_writes": stack.pipedrive_writes(),
            "services_exited": len(exited),
            "seconds_to_finish": round(time.monotonic() - started, 1),
        }
        ok = tally.lost_or_doubled == {} and run.get("status") == "Success" and not exited
        fault_report.record(name, {**figures, "result": "ok" if ok else "failed"})
    assert run["status"] == "Success", run
    assert tally.lost_or_doubled == {}, tally
    assert exited == {}
