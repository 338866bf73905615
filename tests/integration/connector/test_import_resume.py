"""An import interrupted after its last page was stored, before the run was closed (the database went away,
the process died): resumed, it has nothing left to read. It must not read every page again, emit every
record again and count each twice: the connector's RunFinished would then say it emitted twice as many
changes as there are records, and the mapper, whose inbox drops the repeats, would never see that many
applied and never report the apply run (issue #14 item 8, the outage test)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from connector.queued_runs import RunKindName, RunState
from pipedrive_sandbox import SandboxConfig
from pipedrive_sandbox.store import Entity
from stream_runner.messages import OutgoingMessage
from tests.integration.connector.conftest import ConnectorHarness

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=250)])
async def test_an_import_interrupted_after_its_last_page_was_stored_emits_and_counts_each_record_once(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    organizations = sum(1 for _ in harness.sandbox.handle.state.tables[Entity.ORGANIZATION].live())
    runs = harness.connector.runs
    run = await runs.enqueue(harness.tenant, RunKindName.IMPORT, "manual", {"source": "all_organizations"})
    closing = "the database went away after the last page was stored"
    await harness.work_interrupted(run, runs, "finish", lambda _, __: True, closing)
    interrupted = await runs.get(harness.tenant, run.run_id)
    assert interrupted is not None and interrupted.state is RunState.RUNNING
    assert interrupted.progress["read"] == organizations, "every page was stored before the interruption"
    ledger = harness.sandbox.handle.state.ledger
    calls_before = len(ledger.entries)

    assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1
    done = await runs.get(harness.tenant, run.run_id)
    assert done is not None and done.state is RunState.FINISHED and done.status == "Success", done

    emitted = Counter(e["id"] for e in await harness.events())
    assert len(emitted) == organizations and max(emitted.values()) == 1, "nothing read or emitted again"
    assert len(ledger.entries) == calls_before, "the resumed run asked Pipedrive for nothing"
    assert done.counts.created + done.counts.updated == organizations
    assert done.progress["read"] == organizations
    # Its end was published before the failed close, and again (the same event) by the resumed run.
    finished = [e for e in await harness.run_events() if e["type"] == "psync.run.finished"]
    assert {e["id"] for e in finished} == {finished[0]["id"]}
    assert {e["data"]["emitted"] for e in finished} == {organizations}


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=120)])
async def test_a_run_whose_end_could_not_be_published_stays_open_and_publishes_it_when_resumed(
    harness: ConnectorHarness,
) -> None:
    # As if the process died (or the broker was away) between the run's last page and its RunFinished:
    # closed first, the run would never be resumed and the mapper never learn what it emitted.
    await harness.connect_by_token()
    organizations = sum(1 for _ in harness.sandbox.handle.state.tables[Entity.ORGANIZATION].live())
    runs, producer = harness.connector.runs, harness.connector.producer
    run = await runs.enqueue(harness.tenant, RunKindName.IMPORT, "manual", {"source": "all_organizations"})

    def the_end(_: int, args: tuple[Any, ...]) -> bool:
        messages: Sequence[OutgoingMessage] = args[0]
        return any(b'"psync.run.finished"' in m.value for m in messages)

    ending = "the broker went away before the run's end was acknowledged"
    await harness.work_interrupted(run, producer, "send_all", the_end, ending)
    interrupted = await runs.get(harness.tenant, run.run_id)
    assert interrupted is not None and interrupted.state is RunState.RUNNING

    assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1
    done = await runs.get(harness.tenant, run.run_id)
    assert done is not None and done.state is RunState.FINISHED and done.status == "Success", done
    finished = [e for e in await harness.run_events() if e["type"] == "psync.run.finished"]
    assert [e["data"]["emitted"] for e in finished] == [organizations]
    assert len(await harness.events()) == organizations
