"""Incremental syncs while the sandbox churns (edits, deletes and merges made between and during the
syncs' page reads): every record's final version reaches the topic, every deleted record is reported
deleted, and no version is emitted twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime

import pytest

from connector.queued_runs import RunKindName
from pipedrive_sandbox import SandboxConfig
from pipedrive_sandbox.changes import generate_changes
from pipedrive_sandbox.store import Entity
from tests.integration.connector.conftest import ConnectorHarness

pytestmark = pytest.mark.integration


async def _churn(harness: ConnectorHarness, stop: asyncio.Event) -> int:
    """Change records every few milliseconds, a second of sandbox time apart, until `stop`."""
    state, changed = harness.sandbox.handle.state, 0
    while not stop.is_set():
        state.clock.advance(1)
        for entity, edits, deletes, merges in (
            (Entity.ORGANIZATION, 3, 1, 1),
            (Entity.PERSON, 3, 1, 0),
            (Entity.DEAL, 2, 1, 0),
        ):
            changed += len(generate_changes(state.entities, state.change_rng, entity, edits, deletes, merges))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.01)
    return changed


async def _sync(harness: ConnectorHarness) -> None:
    run = await harness.connector.runs.enqueue(harness.tenant, RunKindName.SYNC, "manual")
    assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1
    done = await harness.connector.runs.get(harness.tenant, run.run_id)
    assert done is not None and done.status == "Success", done and done.message


def _epoch(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).timestamp())


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=400)])
async def test_syncs_during_churn_emit_every_final_version_and_every_delete_once(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    await _sync(harness)
    stop = asyncio.Event()
    churn = asyncio.create_task(_churn(harness, stop))
    try:
        for _ in range(4):
            await _sync(harness)
    finally:
        stop.set()
        changed = await churn
    await _sync(harness)
    harness.sandbox.handle.state.clock.advance(2 * 86_400)  # the daily reconciliation of ids is due
    await _sync(harness)

    events = [e["data"] for e in await harness.events()]
    versions = Counter(
        (d["object"], d["pipedrive_id"], _epoch(d["update_time"]), d["action"]) for d in events
    )
    assert changed > 100
    assert max(versions.values()) == 1, "a version emitted twice"
    upserted = {(o, i, t) for o, i, t, action in versions if action == "upserted"}
    deleted = {(o, i) for o, i, _, action in versions if action in ("deleted", "merged")}
    tables = harness.sandbox.handle.state.tables
    for entity, table in tables.items():
        for record in table.records.values():
            key = (entity.value, record.id)
            if record.deleted_ts is None:
                assert (*key, record.update_ts) in upserted, f"final version of {key} missing"
                assert key not in deleted
            elif any(o == entity.value and i == record.id for o, i, _ in upserted):
                assert key in deleted, f"deletion of {key} missing"
