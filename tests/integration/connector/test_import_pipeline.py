"""An import hands a page over while the pages before it are stored (their acknowledgements awaited, their
checkpoint written). The guarantees stay per page: a cancel stops the run after the pages in flight, which
are stored with their counts; a checkpoint that fails (pages waiting together share one) leaves its pages
and those after it unstored, and the resumed run emits them again with the same ids and content (only the
envelope's `time`, when it was emitted, differs). Either way every event is counted once and the run's
RunFinished says how many it emitted."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from connector.queued_runs import Run, RunKindName, RunState
from pipedrive_sandbox import SandboxConfig
from pipedrive_sandbox.store import Entity
from schemas.events.common import SyncObject
from tests.integration.connector.conftest import ConnectorHarness
from tests.pipedrive_client.sandbox_server import ReceivedRequest
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration

ORGANIZATIONS = 500  # five pages of 100


def _organizations(harness: ConnectorHarness) -> int:
    return sum(1 for _ in harness.sandbox.handle.state.tables[Entity.ORGANIZATION].live())


def _by_id(events: list[dict[str, Any]]) -> dict[str, set[bytes]]:
    """Each event id with the distinct contents it was emitted with: everything but the envelope's `time`
    (when it was emitted)."""
    encodings: dict[str, set[bytes]] = defaultdict(set)
    for event in events:
        content = {k: v for k, v in event.items() if k != "time"}
        encodings[event["id"]].add(orjson.dumps(content, option=orjson.OPT_SORT_KEYS))
    return encodings


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=ORGANIZATIONS)])
async def test_a_cancelled_import_stops_after_the_page_in_flight_and_counts_every_event_it_emitted(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    runs = harness.connector.runs
    run = await runs.enqueue(harness.tenant, RunKindName.IMPORT, "manual", {"source": "all_organizations"})
    listed, cancels = 0, list[str]()

    def cancel_at_the_second_page(request: ReceivedRequest) -> None:
        nonlocal listed
        if request.path == "/api/v2/organizations":
            listed += 1
            if listed == 2:  # asked while the first page is handed over
                cancels.append(run.run_id)

    harness.sandbox.on_request = cancel_at_the_second_page
    original = runs.save_progress_with_versions

    async def cancel_once_asked(run_: Run, *page: Any, **options: Any) -> bool:
        if cancels:  # the admin cancels: the checkpoint under way sees it
            await runs.request_cancel(harness.tenant, cancels.pop())
        return await original(run_, *page, **options)

    runs.save_progress_with_versions = cancel_once_asked  # type: ignore[method-assign,assignment]
    try:
        await harness.connector.scheduler.work_tenant(harness.tenant)
    finally:
        runs.save_progress_with_versions = original  # type: ignore[method-assign]
        harness.sandbox.on_request = None

    done = await runs.get(harness.tenant, run.run_id)
    assert done is not None and done.state is RunState.CANCELLED, done
    events = await harness.events()
    assert 0 < len(events) < _organizations(harness), "the run stopped before the last page"
    assert len(_by_id(events)) == len(events), "each record emitted once"
    assert done.counts.created + done.counts.updated == len(events) == done.progress["read"]
    finished = [e for e in await harness.run_events() if e["type"] == "psync.run.finished"]
    assert [e["data"]["emitted"] for e in finished] == [len(events)]


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=ORGANIZATIONS)])
async def test_an_import_whose_checkpoint_failed_emits_the_pages_after_it_again_with_the_same_bytes(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    organizations = _organizations(harness)
    runs = harness.connector.runs
    run = await runs.enqueue(harness.tenant, RunKindName.IMPORT, "manual", {"source": "all_organizations"})
    original, stored_reads = runs.save_progress_with_versions, list[int]()

    async def fails_the_second_checkpoint(run_: Run, *pages: Any, **options: Any) -> bool:
        if stored_reads:
            raise ConnectionError("the database went away while the second checkpoint was written")
        stored_reads.append(run_.progress["read"])
        return await original(run_, *pages, **options)

    runs.save_progress_with_versions = fails_the_second_checkpoint  # type: ignore[method-assign,assignment]
    try:
        with pytest.raises(ConnectionError):
            await harness.connector.scheduler.work_tenant(harness.tenant)
    finally:
        runs.save_progress_with_versions = original  # type: ignore[method-assign]
    interrupted = await runs.get(harness.tenant, run.run_id)
    # Pages waiting together share a checkpoint: the first one stored one page or more, not all.
    assert interrupted is not None and stored_reads, "one checkpoint stored"
    assert interrupted.progress["read"] == stored_reads[0] < organizations, "only the first checkpoint stored"
    await eventually(
        harness.events,
        lambda events: len(events) >= stored_reads[0] + 100,
        within_s=10,
        what="the pages of the failed checkpoint, handed over before it, are emitted",
    )

    assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1
    done = await runs.get(harness.tenant, run.run_id)
    assert done is not None and done.state is RunState.FINISHED and done.status == "Success", done
    encodings = _by_id(await harness.events())
    assert len(encodings) == organizations, "nothing lost"
    assert all(len(e) == 1 for e in encodings.values()), "an event emitted again has the same content"
    assert done.counts.created + done.counts.updated == organizations == done.progress["read"]
    finished = [e for e in await harness.run_events() if e["type"] == "psync.run.finished"]
    assert [e["data"]["emitted"] for e in finished] == [organizations]


async def test_an_import_page_is_stored_with_the_run_in_one_statement(harness: ConnectorHarness) -> None:
    runs, cursors = harness.connector.runs, harness.connector.cursors
    run = await runs.enqueue(harness.tenant, RunKindName.IMPORT, "manual", {"source": "all_organizations"})
    at = datetime(2026, 11, 1, 10, tzinfo=UTC)
    run.progress = {"position": {"page_cursor": "c2"}, "read": 2}
    run.counts.created, run.tokens_spent = 2, 20

    cancel = await runs.save_progress_with_versions(
        run, SyncObject.ORGANIZATION, [(1, (at, "d1")), (2, (at, None))]
    )

    assert cancel is False
    stored = await runs.get(harness.tenant, run.run_id)
    assert stored is not None and stored.progress == run.progress and stored.tokens_spent == 20
    assert stored.counts.created == 2
    assert await cursors.emitted(harness.tenant, SyncObject.ORGANIZATION, [1, 2, 3]) == {
        1: (at, "d1"),
        2: (at, None),
    }
    await runs.request_cancel(harness.tenant, run.run_id)
    later = datetime(2026, 11, 1, 11, tzinfo=UTC)
    assert await runs.save_progress_with_versions(run, SyncObject.ORGANIZATION, [(1, (later, "d2"))])
    assert (await cursors.emitted(harness.tenant, SyncObject.ORGANIZATION, [1]))[1] == (later, "d2")


async def test_an_import_page_whose_records_were_new_at_its_lookup_is_stored_even_when_one_was_stored_since(
    harness: ConnectorHarness,
) -> None:
    """A page none of whose records had a stored version is inserted without the upsert's conflict
    handling; when one was stored since its lookup (a page before it), the insert fails whole and the
    upsert stores the page, the run's progress with it."""
    runs, cursors = harness.connector.runs, harness.connector.cursors
    run = await runs.enqueue(harness.tenant, RunKindName.IMPORT, "manual", {"source": "all_organizations"})
    at, later = datetime(2026, 11, 1, 10, tzinfo=UTC), datetime(2026, 11, 1, 11, tzinfo=UTC)
    page = [(1, (at, "d1")), (2, (at, "d2"))]
    run.progress = {"position": {"page_cursor": "c1"}, "read": 2}

    first = await runs.save_progress_with_versions(run, SyncObject.ORGANIZATION, page, new=True)
    run.progress = {"position": {"page_cursor": "c2"}, "read": 4}
    second = await runs.save_progress_with_versions(
        run, SyncObject.ORGANIZATION, [(2, (later, "d3")), (3, (at, "d4"))], new=True
    )

    assert (first, second) == (False, False)
    assert await cursors.emitted(harness.tenant, SyncObject.ORGANIZATION, [1, 2, 3]) == {
        1: (at, "d1"),
        2: (later, "d3"),
        3: (at, "d4"),
    }
    stored = await runs.get(harness.tenant, run.run_id)
    assert stored is not None and stored.progress == run.progress
