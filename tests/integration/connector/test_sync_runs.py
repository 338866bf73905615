"""Incremental sync runs against the sandbox, with real Kafka and PostgreSQL: every version exactly once,
cursor after acks, overlap dedupe, faults (429 storms, 5xx, revoked token, exhausted budget)."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from typing import Any

import pytest

from connector.queued_runs import Run, RunKindName, RunState
from pipedrive_sandbox import SandboxConfig
from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.store import Entity
from schemas.events.common import SyncObject
from tests.integration.connector.conftest import ConnectorHarness
from tests.pipedrive_client.sandbox_server import ReceivedRequest

pytestmark = pytest.mark.integration


async def _sync(harness: ConnectorHarness, trigger: str = "manual") -> Run:
    run = await harness.connector.runs.enqueue(harness.tenant, RunKindName.SYNC, trigger)
    worked = await harness.connector.scheduler.work_tenant(harness.tenant)
    assert worked >= 1
    done = await harness.connector.runs.get(harness.tenant, run.run_id)
    assert done is not None
    return done


def _versions(events: list[dict[str, Any]]) -> Counter[tuple[str, int, str, str]]:
    return Counter(
        (e["data"]["object"], e["data"]["pipedrive_id"], e["data"]["update_time"], e["data"]["action"])
        for e in events
    )


def _upserts(events: list[dict[str, Any]]) -> int:
    return sum(1 for e in events if e["data"]["action"] == "upserted")


def _live_counts(harness: ConnectorHarness) -> dict[str, int]:
    tables = harness.sandbox.handle.state.tables
    return {e.value: sum(1 for _ in tables[e].live()) for e in tables}


async def test_a_sync_emits_every_record_once_and_a_second_sync_only_what_changed(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()

    first = await _sync(harness)
    events = await harness.events()

    live = _live_counts(harness)
    assert first.status == "Success", first.message
    by_object = Counter(e["data"]["object"] for e in events if e["data"]["action"] == "upserted")
    assert by_object == Counter({k: v for k, v in live.items() if v})
    assert max(_versions(events).values()) == 1
    assert all(e["correlationid"] == first.run_id for e in events)
    assert all(
        e["_key"] == f"{harness.tenant}:{e['data']['object']}:{e['data']['pipedrive_id']}" for e in events
    )
    assert first.counts.created == sum(by_object.values())
    cursor = await harness.connector.cursors.cursor(harness.tenant, SyncObject.ORGANIZATION)
    assert cursor is not None

    harness.sandbox.handle.state.clock.advance(5)
    changes = harness.sandbox.handle.state
    from pipedrive_sandbox.changes import generate_changes
    from pipedrive_sandbox.store import Entity

    done = generate_changes(changes.entities, changes.change_rng, Entity.ORGANIZATION, 4, 0, 0)
    second = await _sync(harness)
    after = await harness.events()

    first_ids = {e["id"] for e in events}
    new = [e for e in after if e["id"] not in first_ids]
    assert second.status == "Success"
    edited = {c["id"] for c in done}
    assert {e["data"]["pipedrive_id"] for e in new} == edited  # the overlap re-read emitted nothing else
    assert max(_versions(after).values()) == 1
    assert second.counts.updated == len(edited)
    assert second.counts.skipped > 0  # the overlap window re-read versions already emitted


async def test_run_events_report_counts_and_the_tokens_of_the_ledger(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    harness.sandbox.handle.state.ledger.reset()

    run = await _sync(harness)

    runs = [e for e in await harness.run_events() if e["data"]["run_id"] == run.run_id]
    assert [e["type"] for e in runs] == ["psync.run.started", "psync.run.finished"]
    finished = runs[1]["data"]
    ledger_tokens = sum(e.tokens for e in harness.sandbox.handle.state.ledger.entries)
    assert finished["tokens_spent"] == ledger_tokens == run.tokens_spent > 0
    assert finished["status"] == "Success"
    # What became of the records is the apply run's to say: the connector run counts what it emitted.
    assert finished["emitted"] == run.counts.created + run.counts.updated > 0
    assert finished["counts"] == {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}


async def test_the_cursor_does_not_move_when_kafka_does_not_acknowledge(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    run = await harness.connector.runs.enqueue(harness.tenant, RunKindName.SYNC, "manual")
    await harness.work_interrupted(
        run, harness.connector.producer, "send_all", lambda _, __: True, "broker unavailable"
    )

    assert await harness.connector.cursors.cursor(harness.tenant, SyncObject.ORGANIZATION) is None
    resumed = await harness.connector.scheduler.work_tenant(harness.tenant)
    assert resumed == 1
    assert _upserts(await harness.events()) == sum(_live_counts(harness).values())


async def test_a_crash_while_storing_a_page_leaves_it_to_be_emitted_again_and_counted_once(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    runs = harness.connector.runs
    run = await runs.enqueue(harness.tenant, RunKindName.SYNC, "manual")
    await harness.work_interrupted(
        run, runs, "save_progress", lambda call, _: call == 2, "the process died here"
    )
    assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1

    done = await runs.get(harness.tenant, run.run_id)
    events = await harness.events()
    assert done is not None and done.status == "Success"
    assert sum(1 for v in _versions(events) if v[3] == "upserted") == sum(_live_counts(harness).values())
    assert done.counts.created + done.counts.updated == len(_versions(events))


async def test_a_429_storm_and_server_errors_are_survived_with_nothing_lost(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    faults = harness.sandbox.handle.state.faults
    faults.storm_requests_left = 2
    faults.error_share = 0.3

    run = await _sync(harness)

    assert run.status == "Success", run.message
    statuses = Counter(e.status for e in harness.sandbox.handle.state.ledger.entries)
    assert statuses[429] >= 2 and statuses[503] >= 1
    assert _upserts(await harness.events()) == sum(_live_counts(harness).values())


async def test_a_429_storm_outlasting_the_clients_waits_pauses_the_run_which_completes_later(
    harness: ConnectorHarness,
) -> None:
    from connector.run_executor import retry_delay

    await harness.connect_by_token()
    state = harness.sandbox.handle.state
    state.faults.storm_requests_left = 6  # as many 429s as the client waits through for one call (6)

    paused = await _sync(harness)

    assert paused.state is RunState.PAUSED and paused.resume_at is not None, paused.message
    assert await harness.connector.scheduler.work_tenant(harness.tenant) == 0  # not before its time
    state.clock.advance(retry_delay(1).total_seconds() + 1)
    assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1
    done = await harness.connector.runs.get(harness.tenant, paused.run_id)

    assert done is not None and done.status == "Success", done and done.message
    events = await harness.events()
    assert _upserts(events) == sum(_live_counts(harness).values())
    assert max(_versions(events).values()) == 1


async def test_a_revoked_token_ends_the_run_in_error_with_invalid_api_key(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    harness.sandbox.handle.state.revoked_api_tokens.add(harness.sandbox.handle.api_token)

    run = await _sync(harness)

    assert (run.state, run.status, run.message) == (RunState.FINISHED, "Error", "Invalid API key")
    finished = [e for e in await harness.run_events() if e["type"] == "psync.run.finished"]
    assert finished[-1]["data"]["message"] == "Invalid API key"


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=300)])
async def test_an_exhausted_budget_pauses_the_run_which_completes_after_the_reset(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    state = harness.sandbox.handle.state
    state.limiter.spent_today = state.limiter.budget - 25  # two pages of 100, then the day is spent

    paused = await _sync(harness)

    assert paused.state is RunState.PAUSED and paused.resume_at is not None
    emitted_before = _upserts(await harness.events())
    assert 0 < emitted_before < sum(_live_counts(harness).values())
    assert await harness.connector.scheduler.work_tenant(harness.tenant) == 0  # nothing before the reset

    state.clock.advance(paused.resume_at.timestamp() - state.clock.now() + 1)
    assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1
    done = await harness.connector.runs.get(harness.tenant, paused.run_id)

    assert done is not None and done.status == "Success", done and done.message
    events = await harness.events()
    assert _upserts(events) == sum(_live_counts(harness).values())
    assert max(_versions(events).values()) == 1


async def test_two_edits_within_one_second_are_both_emitted_and_the_overlap_re_read_neither_again(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    await _sync(harness)
    state = harness.sandbox.handle.state
    from pipedrive_sandbox.events import ChangeSource
    from pipedrive_sandbox.store import Entity

    organizations = state.tables[Entity.ORGANIZATION]
    org = next(organizations.live())
    state.clock.advance(5)
    state.entities.update(Entity.ORGANIZATION, org.id, {"name": "Renamed once"}, 1, ChangeSource.APP)
    first_second = org.update_ts
    await _sync(harness)
    state.entities.update(Entity.ORGANIZATION, org.id, {"name": "Renamed twice"}, 1, ChangeSource.APP)
    organizations.touch(org, first_second)  # Pipedrive stamped the second edit within the same second
    await _sync(harness)
    await _sync(harness)  # the overlap window re-reads the second edit

    edits = [
        e for e in await harness.events()
        if e["data"]["object"] == "organization" and e["data"]["pipedrive_id"] == org.id
    ][1:]  # fmt: skip
    assert [e["data"]["record"]["name"] for e in edits] == ["Renamed once", "Renamed twice"]
    assert edits[0]["data"]["update_time"] == edits[1]["data"]["update_time"]
    assert edits[0]["id"] != edits[1]["id"]


async def test_a_run_failing_unexpectedly_waits_longer_each_time_then_ends_in_error(
    harness: ConnectorHarness,
) -> None:
    from connector.run_executor import MAX_RUN_FAILURES, RunContext

    await harness.connect_by_token()
    attempts = 0

    async def broken(context: RunContext) -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("a record no rule expected")

    harness.connector.executor._work[RunKindName.SYNC] = broken
    run = await harness.connector.runs.enqueue(harness.tenant, RunKindName.SYNC, "manual")
    clock = harness.sandbox.handle.state.clock
    waits = []
    for attempt in range(1, MAX_RUN_FAILURES + 1):
        assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1
        assert attempts == attempt
        assert await harness.connector.scheduler.work_tenant(harness.tenant) == 0  # not before its time
        seen = await harness.connector.runs.get(harness.tenant, run.run_id)
        assert seen is not None
        if seen.state is RunState.FINISHED:
            break
        assert seen.state is RunState.PAUSED and seen.resume_at is not None
        waits.append(seen.resume_at.timestamp() - clock.now())
        clock.advance(3600)

    ended = await harness.connector.runs.get(harness.tenant, run.run_id)
    assert ended is not None and attempts == MAX_RUN_FAILURES
    assert (ended.state, ended.status) == (RunState.FINISHED, "Error")
    assert ended.message == f"Failed {MAX_RUN_FAILURES} times: ValueError: a record no rule expected"
    assert all(later > earlier for earlier, later in pairwise(waits)) and len(waits) == 4
    [finished] = [e for e in await harness.run_events() if e["type"] == "psync.run.finished"]
    assert finished["data"]["status"] == "Error" and finished["data"]["message"] == ended.message


async def test_a_sync_sees_deletes_of_every_object_within_the_run(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    await _sync(harness)
    state = harness.sandbox.handle.state
    doomed = {entity: next(state.tables[entity].live()).id for entity in Entity}
    state.clock.advance(5)
    for entity, record_id in doomed.items():
        state.entities.delete(entity, record_id, 1, ChangeSource.APP)

    run = await _sync(harness)

    deletes = {(e["data"]["object"], e["data"]["pipedrive_id"]): e for e in await harness.events()
               if e["data"]["action"] == "deleted"}  # fmt: skip
    assert {(e.value, i) for e, i in doomed.items()} <= set(deletes)
    assert all(deletes[(e.value, i)]["correlationid"] == run.run_id for e, i in doomed.items())


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=30, frozen_clock=True)])
async def test_records_created_then_deleted_or_merged_within_one_second_are_emitted_as_such(
    harness: ConnectorHarness,
) -> None:
    # Pipedrive stamps whole seconds: a record synced and then deleted (or merged away) within the
    # second it was created in has one update_time for its live version and its deletion.
    await harness.connect_by_token()
    await _sync(harness)
    state = harness.sandbox.handle.state
    doomed, loser, survivor = (
        state.entities.create(Entity.ORGANIZATION, {"name": name}, 1, ChangeSource.APP).id
        for name in ("Doomed", "Loser", "Survivor")
    )
    # Without webhooks a merged organization is told from a deleted one by the persons it moved.
    state.entities.create(Entity.PERSON, {"name": "Pat", "org_id": loser}, 1, ChangeSource.APP)
    await _sync(harness)
    state.entities.delete(Entity.ORGANIZATION, doomed, 1, ChangeSource.APP)
    state.entities.merge(Entity.ORGANIZATION, loser, survivor, 1, ChangeSource.APP)

    await _sync(harness)

    ends = {e["data"]["pipedrive_id"]: (e["data"]["action"], e["data"].get("merged_into_id"))
            for e in await harness.events() if e["data"]["object"] == "organization"
            and e["data"]["action"] in ("deleted", "merged")}  # fmt: skip
    assert ends == {doomed: ("deleted", None), loser: ("merged", survivor)}


async def test_an_unchanged_account_costs_one_recents_call_per_sync(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    await _sync(harness)
    before = len(await harness.events())
    ledger = harness.sandbox.handle.state.ledger
    ledger.reset()
    harness.sandbox.handle.state.clock.advance(3600)

    run = await _sync(harness)

    assert [(e.operation_id, e.tokens) for e in ledger.entries] == [("getRecents", 20)]
    assert run.tokens_spent == 20 and run.status == "Success"
    assert len(await harness.events()) == before


async def test_merged_persons_and_organizations_are_emitted_as_merged_into_their_survivor(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    await _sync(harness)
    state = harness.sandbox.handle.state
    people = list(state.tables[Entity.PERSON].live())
    person_gone, person_kept = people[0].id, people[1].id
    org_gone = next(p.data["org_id"] for p in people[2:] if p.data["org_id"] is not None)
    org_kept = next(o.id for o in state.tables[Entity.ORGANIZATION].live() if o.id != org_gone)
    state.clock.advance(5)
    state.entities.merge(Entity.PERSON, person_gone, person_kept, 1, ChangeSource.APP)
    state.entities.merge(Entity.ORGANIZATION, org_gone, org_kept, 1, ChangeSource.APP)

    await _sync(harness)

    merged = {(e["data"]["object"], e["data"]["pipedrive_id"]): e["data"]["merged_into_id"]
              for e in await harness.events() if e["data"]["action"] == "merged"}  # fmt: skip
    assert merged == {("person", person_gone): person_kept, ("organization", org_gone): org_kept}


async def test_with_webhooks_on_a_scheduled_sync_scans_recents_once_a_day_and_a_manual_one_always(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    await _sync(harness)
    response = await harness.api.put("/v1/webhooks", json={"enabled": True}, headers=harness.headers)
    assert response.status == 200
    state = harness.sandbox.handle.state
    state.ledger.reset()

    state.clock.advance(3600)
    scheduled = await _sync(harness, trigger="schedule")
    quiet = list(state.ledger.entries)
    state.clock.advance(86_400)
    due = await _sync(harness, trigger="schedule")
    manual = await _sync(harness)

    assert quiet == [] and scheduled.tokens_spent == 0
    assert due.tokens_spent == 20 and manual.tokens_spent == 20
    assert [e.operation_id for e in state.ledger.entries] == ["getRecents", "getRecents"]


async def test_a_sync_after_recents_reach_lists_everything_and_reconciles_ids(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    await _sync(harness)
    state = harness.sandbox.handle.state
    deal = next(state.tables[Entity.DEAL].live())
    org = next(state.tables[Entity.ORGANIZATION].live())
    state.clock.advance(5)
    state.entities.delete(Entity.DEAL, deal.id, 1, ChangeSource.APP)
    state.entities.delete(Entity.ORGANIZATION, org.id, 1, ChangeSource.APP)
    state.clock.advance(40 * 86_400)  # beyond what /v1/recents remembers
    state.ledger.reset()

    await _sync(harness)

    deletes = {(e["data"]["object"], e["data"]["pipedrive_id"], e["data"]["origin"])
               for e in await harness.events() if e["data"]["action"] == "deleted"}  # fmt: skip
    assert {("deal", deal.id, "reconcile"), ("organization", org.id, "reconcile")} <= deletes
    assert "getRecents" not in {e.operation_id for e in state.ledger.entries}


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=600)])
async def test_deletions_moved_across_a_recents_page_boundary_by_edits_between_pages_are_emitted(
    harness: ConnectorHarness,
) -> None:
    # Recents are paged by position: records edited between two page calls move to the end of the list,
    # and every item after their old places moves back, some into the page already read. The deletions
    # among those must still be emitted (by the next sync, which scans the same window again).
    await harness.connect_by_token()
    await _sync(harness)
    state = harness.sandbox.handle.state
    organizations = [record.id for record in state.tables[Entity.ORGANIZATION].live()]
    edited, doomed = organizations[:300], organizations[300:600]
    state.clock.advance(600)
    for record_id in edited:
        state.entities.update(
            Entity.ORGANIZATION, record_id, {"name": f"Edited {record_id}"}, 1, ChangeSource.APP
        )
    state.clock.advance(1)
    for record_id in doomed:
        state.entities.delete(Entity.ORGANIZATION, record_id, 1, ChangeSource.APP)
    state.clock.advance(600)  # the deletions are older than the next scan's overlap
    edits_between_pages: list[int] = []

    def edit_between_pages(request: ReceivedRequest) -> None:
        if (
            request.path == "/v1/recents"
            and "start=0" not in request.query_string
            and not edits_between_pages
        ):
            state.clock.advance(1)
            for record_id in edited[:50]:
                state.entities.update(Entity.ORGANIZATION, record_id, {"name": "Again"}, 1, ChangeSource.APP)
                edits_between_pages.append(record_id)

    harness.sandbox.on_request = edit_between_pages
    shifted = await _sync(harness)
    harness.sandbox.on_request = None
    state.clock.advance(60)
    await _sync(harness)

    assert edits_between_pages, "the first sync read recents in one page"
    assert shifted.status == "Success", shifted.message
    events = [e["data"] for e in await harness.events()]
    deletions = Counter(
        d["pipedrive_id"] for d in events if (d["object"], d["action"]) == ("organization", "deleted")
    )
    assert set(deletions) == set(doomed), f"{len(set(doomed) - set(deletions))} deletions missing"
    assert max(deletions.values()) == 1
