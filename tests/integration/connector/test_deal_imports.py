"""Imports of deals at chosen pipeline stages: exactly those deals, their organizations and persons once
each, the duplicate handling carried on every event, and the run counted."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from connector.runs import Run, RunKindName
from pipedrive_sandbox import SandboxConfig
from pipedrive_sandbox.store import Entity
from schemas.topics import SOURCE_CHANGES, SYNC_RUNS
from tests.integration.connector.conftest import ConnectorHarness

pytestmark = pytest.mark.integration


def _chosen_stages(harness: ConnectorHarness) -> tuple[list[int], list[dict[str, Any]]]:
    """Two stages that hold deals (of different organizations), and the live deals at them."""
    deals = [r.data for r in harness.sandbox.handle.state.tables[Entity.DEAL].live()]
    by_stage = Counter(d["stage_id"] for d in deals)
    stages = sorted(s for s, _ in by_stage.most_common(2))
    return stages, [d for d in deals if d["stage_id"] in stages]


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=120, deals_per_organization=2.5)])
async def test_an_import_of_deals_at_stages_emits_those_deals_with_their_organizations_and_persons_once(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    stages, expected = _chosen_stages(harness)
    expected_orgs = {d["org_id"] for d in expected if d.get("org_id")}
    expected_persons = {d["person_id"] for d in expected if d.get("person_id")}
    assert len(expected) > len(expected_orgs) > 0, "some organizations hold several chosen deals"

    started = await harness.api.post(
        "/v1/imports",
        json={"source": "deals_at_stages", "stage_ids": stages, "duplicate_handling": "create_duplicates"},
        headers=harness.headers,
    )
    assert started.status == 202, await started.text()
    run_id = (await started.json())["run_id"]
    await harness.connector.scheduler.work_tenant(harness.tenant)

    events = await harness.events(SOURCE_CHANGES.name)
    emitted = Counter((e["data"]["object"], e["data"]["pipedrive_id"]) for e in events)
    assert max(emitted.values()) == 1
    assert {i for o, i in emitted if o == "deal"} == {d["id"] for d in expected}
    assert {i for o, i in emitted if o == "organization"} == expected_orgs
    assert {i for o, i in emitted if o == "person"} == expected_persons
    assert {e["data"]["import_context"]["duplicate_handling"] for e in events} == {"create_duplicates"}
    assert {e["data"]["import_context"]["import_id"] for e in events} == {run_id}
    assert {e["data"]["origin"] for e in events} == {"import"}
    assert {e["correlationid"] for e in events} == {run_id}

    run = await (await harness.api.get(f"/v1/runs/{run_id}", headers=harness.headers)).json()
    assert run["status"] == "Success", run["message"]
    assert run["progress"]["read"] == len(expected)
    assert run["progress"]["selected"] == {
        "deal": len(expected),
        "organization": len(expected_orgs),
        "person": len(expected_persons),
    }
    assert run["counts"]["created"] == len(events)
    finished = [
        e["data"]
        for e in await harness.events(SYNC_RUNS.name)
        if e["type"] == "psync.run.finished" and e["data"]["run_id"] == run_id
    ]
    assert [f["counts"]["created"] for f in finished] == [len(events)]
    assert [f["kind"] for f in finished] == ["import"]


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=60, deals_per_organization=2)])
async def test_the_preview_of_a_deal_import_counts_what_the_import_would_emit(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    stages, expected = _chosen_stages(harness)

    preview = await harness.api.post(
        "/v1/imports/preview",
        json={"source": "deals_at_stages", "stage_ids": stages},
        headers=harness.headers,
    )

    assert preview.status == 200, await preview.text()
    counts = await preview.json()
    assert counts["read"] == len(expected)
    assert counts["selected"]["deal"] == len(expected)
    assert counts["selected"]["organization"] == len({d["org_id"] for d in expected if d.get("org_id")})
    assert await harness.events(SOURCE_CHANGES.name) == []


async def test_a_deal_import_without_stages_or_with_a_filter_is_refused(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()

    no_stages = await harness.api.post(
        "/v1/imports", json={"source": "deals_at_stages"}, headers=harness.headers
    )
    with_filter = await harness.api.post(
        "/v1/imports",
        json={"source": "deals_at_stages", "stage_ids": [1], "filter": 'Name = "x"'},
        headers=harness.headers,
    )

    assert no_stages.status == 400 and "stage_ids" in (await no_stages.json())["message"]
    assert with_filter.status == 400 and "filter" in (await with_filter.json())["message"]
    assert (await (await harness.api.get("/v1/runs", headers=harness.headers)).json())["data"] == []


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=40)])
async def test_the_preview_says_what_each_duplicate_handling_would_create_update_and_skip(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()

    async def would(handling: str) -> dict[str, int]:
        body = {"source": "all_organizations", "duplicate_handling": handling}
        response = await harness.api.post("/v1/imports/preview", json=body, headers=harness.headers)
        assert response.status == 200, await response.text()
        outcomes: dict[str, int] = (await response.json())["would"]["organization"]
        return outcomes

    before = await would("skip_duplicates")
    await harness.connector.deps.runs.enqueue(harness.tenant, RunKindName.SYNC, "manual")
    await harness.connector.scheduler.work_tenant(harness.tenant)  # every organization is now known

    assert before == {"created": 40, "updated": 0, "skipped": 0}
    assert await would("skip_duplicates") == {"created": 0, "updated": 0, "skipped": 40}
    assert await would("update_existing") == {"created": 0, "updated": 40, "skipped": 0}
    assert await would("create_duplicates") == {"created": 40, "updated": 0, "skipped": 0}


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=120, deals_per_organization=2.5)])
async def test_a_deal_import_interrupted_after_a_page_resumes_there_and_counts_each_record_once(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    stages, expected = _chosen_stages(harness)
    wanted = {("deal", d["id"]) for d in expected}
    wanted |= {("organization", d["org_id"]) for d in expected if d.get("org_id")}
    wanted |= {("person", d["person_id"]) for d in expected if d.get("person_id")}
    runs = harness.connector.deps.runs
    spec = {"source": "deals_at_stages", "stage_ids": stages}
    run = await runs.enqueue(harness.tenant, RunKindName.IMPORT, "manual", spec)
    original, calls = runs.save_progress, 0

    async def dies_at_the_second_page(run: Run, conn: Any = None) -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("the process died here")
        return await original(run, conn)

    runs.save_progress = dies_at_the_second_page  # type: ignore[method-assign]
    try:
        with pytest.raises(ConnectionError):
            await harness.connector.executor.execute(run)
    finally:
        runs.save_progress = original  # type: ignore[method-assign]
    interrupted = await runs.get(harness.tenant, run.run_id)
    assert interrupted is not None and interrupted.progress["position"]["stage_index"] == 1
    assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1

    done = await runs.get(harness.tenant, run.run_id)
    events = await harness.events(SOURCE_CHANGES.name)
    ids: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in events:
        ids[(e["data"]["object"], e["data"]["pipedrive_id"])].add(e["id"])
    assert done is not None and done.status == "Success", done and done.message
    assert set(ids) == wanted
    assert all(len(v) == 1 for v in ids.values()), "a record emitted again keeps its event id"
    assert done.counts.created + done.counts.updated == len(wanted)
    assert done.progress["read"] == len(expected)
    assert sum(done.progress["selected"].values()) == len(wanted)
