"""A connector process killed (SIGKILL) in the middle of a sync or an import: the restarted process resumes
the run from its cursor and finishes it, and `psync.source-changes.v1` holds every record version with
one event id each; the only repeats are re-sends of the page in flight (same ids, dropped by consumers)."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from typing import Any

import aiohttp
import pytest

from connector.import_paging import UNSTORED_PAGES
from pipedrive_sandbox import SandboxConfig
from schemas.topics import SYNC_RUNS
from tests.integration.connector.conftest import ConnectorProcesses
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration

PAGE_SIZE = 50  # the processes' CONNECTOR_PAGE_SIZE
BURST_LIMIT = 20  # requests in any 2 seconds for an API token on the sandbox's plan (Lite)


def _live(processes: ConnectorProcesses, objects: set[str]) -> set[tuple[str, int]]:
    tables = processes.sandbox.handle.state.tables
    return {
        (entity.value, r.id) for entity in tables if entity.value in objects for r in tables[entity].live()
    }


@pytest.mark.parametrize(
    ("kind", "objects"),
    [("sync", {"organization", "person", "deal"}), ("import", {"organization"})],
)
@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=600)])
async def test_a_run_killed_midway_is_resumed_after_restart_with_nothing_lost_or_duplicated(
    connector_processes: ConnectorProcesses, kind: str, objects: set[str]
) -> None:
    processes = connector_processes
    live = _live(processes, objects)
    # Each Pipedrive call answers after 20 ms: the run is still going when it is killed a third of the way
    # (on a quiet machine the whole import could otherwise end between the check and the kill).
    processes.sandbox.handle.state.faults.latency_seconds = 0.02
    first = processes.process("first")
    await first.start()
    await first.wait_ready()
    async with aiohttp.ClientSession(headers=processes.headers) as http:
        token = processes.sandbox.handle.api_token
        async with http.post(f"{first.url}/v1/connection/api-token", json={"api_token": token}) as connected:
            assert connected.status == 200, await connected.text()
        if kind == "sync":
            started = await http.post(f"{first.url}/v1/sync")
        else:
            started = await http.post(f"{first.url}/v1/imports", json={"source": "all_organizations"})
        assert started.status == 202, await started.text()
        run_id = (await started.json())["run_id"]

    def midway(row: dict[str, Any] | None) -> bool:
        return row is not None and row["counts"].get("created", 0) >= len(live) // 3

    await eventually(lambda: processes.run_row(run_id), midway, within_s=60, what="a third emitted")
    await first.kill()
    interrupted = await processes.run_row(run_id)
    assert interrupted is not None and interrupted["state"] == "running"
    emitted_before_the_kill = len(await processes.events())
    assert emitted_before_the_kill < len(live)

    second = processes.process("second")
    await second.start()
    await second.wait_ready()
    done = await eventually(
        lambda: processes.run_row(run_id),
        lambda row: row is not None and row["state"] == "finished",
        within_s=120,
        what="the interrupted run finished by the restarted process",
    )
    assert await second.terminate() == 0, second.log_tail()

    assert done is not None and done["status"] == "Success", done
    runs = await processes.pool.fetch(
        f"SELECT run_id FROM {processes.schema}.runs WHERE tenant_id = $1", processes.tenant
    )
    assert [r["run_id"] for r in runs] == [run_id], "resumed, not replaced"
    events = [e for e in await processes.events() if e["data"]["object"] in objects]
    assert len(events) > emitted_before_the_kill, "the restarted process emitted the rest"
    ids_by_version: dict[tuple[str, int, str, str], set[str]] = defaultdict(set)
    for event in events:
        data = event["data"]
        ids_by_version[(data["object"], data["pipedrive_id"], data["update_time"], data["action"])].add(
            event["id"]
        )
    assert {(o, i) for o, i, _, _ in ids_by_version} == live, "nothing lost, nothing extra"
    assert len(ids_by_version) == len(live), "one version per record (nothing changed meanwhile)"
    assert all(len(ids) == 1 for ids in ids_by_version.values()), "a re-sent version keeps its event id"
    counts = done["counts"]
    assert counts["created"] + counts["updated"] == len(ids_by_version), "each version counted once"
    repeats = len(events) - len(ids_by_version)
    # An import hands a page over while up to UNSTORED_PAGES before it are still being stored: all of
    # them are re-sent after a kill (a loaded machine's kill finds them all in flight).
    in_flight = UNSTORED_PAGES + 1 if kind == "import" else len(objects)
    assert repeats <= PAGE_SIZE * in_flight, f"{repeats} repeats: more than the pages in flight"
    ledger = processes.sandbox.handle.state.ledger.entries
    assert [e.status for e in ledger if e.status == 429] == [], "the burst window held across the restart"
    times = sorted(e.time for e in ledger)
    assert max(bisect.bisect_right(times, t + 2.0) - i for i, t in enumerate(times)) <= BURST_LIMIT
    run_events = await processes.events(SYNC_RUNS.name)
    reported = {(e["type"], e["id"]) for e in run_events if e["data"]["run_id"] == run_id}
    # Reported once each; a start reported again after the crash carries the same event id.
    assert Counter(kind for kind, _ in reported) == {"psync.run.started": 1, "psync.run.finished": 1}
