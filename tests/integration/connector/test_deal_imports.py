"""Imports of deals at chosen pipeline stages: exactly those deals, their organizations and persons once
each (also when deals on different pages, or on both sides of a crash, share them), the duplicate handling
carried on every event, and the run counted; the run's progress does not grow with what it emitted."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import orjson
import pytest

from connector.bootstrap import MIGRATIONS
from connector.queued_runs import Run, RunKindName
from pipedrive_sandbox import SandboxConfig
from pipedrive_sandbox.store import Entity
from schemas.topics import SYNC_RUNS
from tests.integration.connector.conftest import ConnectorHarness

pytestmark = pytest.mark.integration


def _chosen_stages(harness: ConnectorHarness) -> tuple[list[int], list[dict[str, Any]]]:
    """Two stages that hold deals (of different organizations), and the live deals at them."""
    deals = [r.data for r in harness.sandbox.handle.state.tables[Entity.DEAL].live()]
    by_stage = Counter(d["stage_id"] for d in deals)
    stages = sorted(s for s, _ in by_stage.most_common(2))
    return stages, [d for d in deals if d["stage_id"] in stages]


def _share_across_pages(harness: ConnectorHarness, stages: list[int]) -> tuple[int, int]:
    """Link the last deal of the second stage to the organization and person of a deal of the first stage
    (its first page): two deals on different pages then share both; returns (organization, person)."""
    deals = harness.sandbox.handle.state.tables[Entity.DEAL]
    first = next(
        r.data
        for r in deals.live()
        if r.data["stage_id"] == stages[0] and r.data.get("org_id") and r.data.get("person_id")
    )
    last = max((r for r in deals.live() if r.data["stage_id"] == stages[1]), key=lambda r: r.id)
    last.data["org_id"], last.data["person_id"] = first["org_id"], first["person_id"]
    return first["org_id"], first["person_id"]


async def _emitted_rows(harness: ConnectorHarness, run_id: str) -> int:
    deps = harness.connector
    count: int = await deps.pool.fetchval(
        f"SELECT count(*) FROM {deps.settings.db_schema}.import_emitted WHERE tenant_id = $1 AND run_id = $2",
        harness.tenant,
        run_id,
    )
    return count


def _linked(deals: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """The organizations and persons the deals link to, as (object, Pipedrive id)."""
    return {("organization", d["org_id"]) for d in deals if d.get("org_id")} | {
        ("person", d["person_id"]) for d in deals if d.get("person_id")
    }


async def _worked_to_success(harness: ConnectorHarness, run: Run) -> Run:
    """Let the tenant's worker take its one queued run and check that it ends in Success."""
    assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1
    done = await harness.connector.runs.get(harness.tenant, run.run_id)
    assert done is not None and done.status == "Success", done and done.message
    return done


async def _emitted(harness: ConnectorHarness) -> Counter[tuple[str, int]]:
    """How often each (object, Pipedrive id) reached the source-changes topic."""
    return Counter((e["data"]["object"], e["data"]["pipedrive_id"]) for e in await harness.events())


async def _import_interrupted_at_the_second_page(harness: ConnectorHarness, stages: list[int]) -> Run:
    """A deal import whose process died while storing its second page: left `running` after page one."""
    runs = harness.connector.runs
    spec = {"source": "deals_at_stages", "stage_ids": stages}
    run = await runs.enqueue(harness.tenant, RunKindName.IMPORT, "manual", spec)
    await harness.work_interrupted(
        run, runs, "save_progress", lambda call, _: call == 2, "the process died here"
    )
    interrupted = await runs.get(harness.tenant, run.run_id)
    assert interrupted is not None and interrupted.progress["position"]["stage_index"] == 1
    return run


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

    events = await harness.events()
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
    assert [f["emitted"] for f in finished] == [len(events)]
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
    assert await harness.events() == []


async def test_a_deal_import_without_stages_or_with_a_field_deals_lack_is_refused(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()

    no_stages = await harness.api.post(
        "/v1/imports", json={"source": "deals_at_stages"}, headers=harness.headers
    )
    with_filter = await harness.api.post(
        "/v1/imports",
        json={"source": "deals_at_stages", "stage_ids": [1], "filter": 'Website = "x"'},
        headers=harness.headers,
    )

    assert no_stages.status == 400 and "stages" in (await no_stages.json())["message"]
    refused = await with_filter.json()
    assert with_filter.status == 400 and refused["error"] == "bad_filter" and refused["column"] == 1
    assert 'unknown field "Website"' in refused["message"]
    assert (await (await harness.api.get("/v1/runs", headers=harness.headers)).json())["data"] == []


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=120, deals_per_organization=2.5)])
async def test_a_deal_import_interrupted_after_a_page_resumes_there_and_counts_each_record_once(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    stages, expected = _chosen_stages(harness)
    wanted = {("deal", d["id"]) for d in expected} | _linked(expected)
    run = await _import_interrupted_at_the_second_page(harness, stages)
    done = await _worked_to_success(harness, run)

    ids: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in await harness.events():
        ids[(e["data"]["object"], e["data"]["pipedrive_id"])].add(e["id"])
    assert set(ids) == wanted
    assert all(len(v) == 1 for v in ids.values()), "a record emitted again keeps its event id"
    assert done.counts.created + done.counts.updated == len(wanted)
    assert done.progress["read"] == len(expected)
    assert sum(done.progress["selected"].values()) == len(wanted)


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=120, deals_per_organization=2.5)])
async def test_an_organization_and_a_person_shared_by_deals_on_two_pages_are_emitted_once(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    stages, expected = _chosen_stages(harness)
    shared_org, shared_person = _share_across_pages(harness, stages)
    runs = harness.connector.runs
    spec = {"source": "deals_at_stages", "stage_ids": stages}
    run = await runs.enqueue(harness.tenant, RunKindName.IMPORT, "manual", spec)
    await _worked_to_success(harness, run)

    emitted = await _emitted(harness)
    assert emitted[("organization", shared_org)] == 1
    assert emitted[("person", shared_person)] == 1
    assert max(emitted.values()) == 1
    organizations = {d["org_id"] for d in expected if d.get("org_id")}
    assert {i for o, i in emitted if o == "organization"} == organizations
    assert await _emitted_rows(harness, run.run_id) == 0, "a finished run's emitted ids are deleted"


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=300, deals_per_organization=3)])
async def test_the_progress_of_a_deal_import_does_not_grow_with_the_ids_it_emitted(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    deals = [r.data for r in harness.sandbox.handle.state.tables[Entity.DEAL].live()]
    stages = sorted({d["stage_id"] for d in deals})
    runs = harness.connector.runs
    run = await runs.enqueue(
        harness.tenant, RunKindName.IMPORT, "manual", {"source": "deals_at_stages", "stage_ids": stages}
    )
    original = runs.save_progress
    stored: list[tuple[int, int]] = []  # per page: the progress's size, the ids in the table then

    async def measured(run: Run, conn: Any = None) -> bool:
        if conn is not None:  # a page's checkpoint (or the run's end): its transaction's ids are visible
            deps = harness.connector
            ids = await conn.fetchval(
                f"SELECT count(*) FROM {deps.settings.db_schema}.import_emitted WHERE run_id = $1", run.run_id
            )
            stored.append((len(orjson.dumps(run.progress)), ids))
        return await original(run, conn)

    runs.save_progress = measured  # type: ignore[method-assign]
    try:
        assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1
    finally:
        runs.save_progress = original  # type: ignore[method-assign]

    done = await runs.get(harness.tenant, run.run_id)
    assert done is not None and done.status == "Success", done and done.message
    organizations = {d["org_id"] for d in deals if d.get("org_id")}
    assert done.progress["selected"]["organization"] == len(organizations) > 200
    assert set(done.progress["position"]) == {"stage_index", "page_cursor"}
    pages = [ids for _, ids in stored]
    assert len(pages) >= 9 and pages == sorted(pages) and pages[-1] > 400, "the ids went to the table"
    sizes = [size for size, _ in stored]
    assert max(sizes) < 300, f"the progress grew to {max(sizes)} bytes"
    assert await _emitted_rows(harness, run.run_id) == 0


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=120, deals_per_organization=2.5)])
async def test_a_deal_import_resumed_after_a_crash_does_not_emit_again_what_earlier_pages_emitted(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    stages, expected = _chosen_stages(harness)
    shared_org, shared_person = _share_across_pages(harness, stages)
    run = await _import_interrupted_at_the_second_page(harness, stages)
    first_page = [d for d in expected if d["stage_id"] == stages[0]]
    assert await _emitted_rows(harness, run.run_id) == len(_linked(first_page)), "the first page's only"

    await _worked_to_success(harness, run)
    emitted = await _emitted(harness)
    assert emitted[("organization", shared_org)] == 1, "emitted before the crash, not again after it"
    assert emitted[("person", shared_person)] == 1
    first_page_orgs = {d["org_id"] for d in first_page if d.get("org_id")}
    assert all(emitted[("organization", o)] == 1 for o in first_page_orgs)
    assert await _emitted_rows(harness, run.run_id) == 0


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=60, deals_per_organization=2)])
async def test_a_deal_import_interrupted_with_its_emitted_ids_in_its_progress_resumes_without_them(
    harness: ConnectorHarness,
) -> None:
    # A run interrupted before migration 0004 kept its emitted organizations and persons in its progress;
    # migration 0013 moves them to import_emitted when the connector is upgraded.
    await harness.connect_by_token()
    stages, expected = _chosen_stages(harness)
    runs = harness.connector.runs
    run = await runs.enqueue(
        harness.tenant, RunKindName.IMPORT, "manual", {"source": "deals_at_stages", "stage_ids": stages}
    )
    done_org = next(d["org_id"] for d in expected if d.get("org_id"))
    done_person = next(d["person_id"] for d in expected if d.get("person_id"))
    run.progress = {
        "position": {
            "stage_index": 0,
            "page_cursor": None,
            "seen_organizations": [done_org],
            "seen_persons": [done_person],
        }
    }
    await runs.save_progress(run)
    await _migrate_again(harness, "0013_import_positions_without_emitted_ids.sql")

    done = await _worked_to_success(harness, run)
    emitted = await _emitted(harness)
    assert ("organization", done_org) not in emitted and ("person", done_person) not in emitted
    orgs = {d["org_id"] for d in expected if d.get("org_id")} - {done_org}
    assert {i for o, i in emitted if o == "organization"} == orgs
    assert max(emitted.values()) == 1
    assert set(done.progress["position"]) == {"stage_index", "page_cursor"}
    assert await _emitted_rows(harness, run.run_id) == 0


async def _migrate_again(harness: ConnectorHarness, migration: str) -> None:
    """Run one of the connector's migrations again on the harness's schema, as an upgrade would run it."""
    deps = harness.connector
    async with deps.pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL search_path TO {deps.settings.db_schema}")
        await conn.execute((MIGRATIONS / migration).read_text())
