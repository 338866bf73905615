"""One broker of a three-broker KRaft cluster (replication factor 3, min.insync.replicas 2; the jars of
deploy/local/kafka.sh) killed (SIGKILL) mid-import and left dead until the import is through: every event
a producer had acknowledged is still there (the connector checkpoints only acknowledged pages, so its
records are the acknowledged ones), nothing lost or doubled in any service, no service exits.

Then the killed node is started again: it rejoins the ISR of every partition (every topic's, Kafka's own
included: three in sync again). To show that it caught up with what was acknowledged while it was away,
another node is then killed, so the node brought back leads what that one led, and every event id of
every topic read before is read again through the two left (none lost)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import FaultReport
from tests.faults.kraft_cluster import NODES, KraftCluster
from tests.faults.places import event_ids_by_topic
from tests.outages.private_infra import PrivatePostgres, remove_state
from tests.outages.stack import import_stack
from tests.support.conditions import eventually
from tests.support.service_process import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

RECORDS = int(os.environ.get("PSYNC_FAULT_CLUSTER_RECORDS", "10000"))
FINISH_WITHIN_S = 1200.0
KILLED = 2
KILLED_AFTER_THE_REJOIN = 1


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
            rejoin = await _rejoin(kraft_cluster)
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
            "brought_back": rejoin,
        }
        ok = tally.lost_or_doubled == {} and run.get("status") == "Success" and not exited
        ok = ok and rejoin["acknowledged_events_lost"] == 0
        fault_report.record(name, {**figures, "result": "ok" if ok else "failed"})
    assert run["status"] == "Success", run
    assert tally.lost_or_doubled == {}, tally
    assert exited == {}
    assert rejoin["acknowledged_events_lost"] == 0, rejoin


async def _rejoin(cluster: KraftCluster) -> dict[str, Any]:
    """Start the killed node again, wait until every partition has its three replicas in sync; then kill
    another node and read every topic again through the two left."""
    held = await event_ids_by_topic(cluster.bootstrap)
    back = time.monotonic()
    await cluster.start_node(KILLED)
    partitions = await cluster.wait_partitions(lambda p: len(p["isr"]) == NODES, within_s=600)
    in_sync_after = time.monotonic() - back
    await cluster.kill(KILLED_AFTER_THE_REJOIN)
    left = tuple(n for n in range(1, NODES + 1) if n != KILLED_AFTER_THE_REJOIN)
    await cluster.wait_partitions(lambda p: p["leader"] in left, within_s=300)
    led_by_the_node_brought_back = sum(1 for p in await cluster.partitions() if p["leader"] == KILLED)
    read_again = await event_ids_by_topic(cluster.bootstrap)
    lost = sum((ids - read_again.get(topic, Counter())).total() for topic, ids in held.items())
    return {
        "node_started_again": KILLED,
        "partitions": partitions,
        "seconds_until_every_partition_had_3_in_sync": round(in_sync_after, 1),
        "node_killed_after_the_rejoin": KILLED_AFTER_THE_REJOIN,
        "partitions_then_led_by_the_node_brought_back": led_by_the_node_brought_back,
        "acknowledged_events_read_before": sum(sum(ids.values()) for ids in held.values()),
        "acknowledged_events_lost": lost,
    }
