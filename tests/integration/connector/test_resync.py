"""`psyncctl resync`: the connector reads a tenant's records again from a time and emits them with the
event ids they had; other objects are not read again."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from connector.queued_runs import RunKindName, RunState
from psyncctl.cli import execute
from psyncctl.settings import CtlSettings
from schemas.events.common import SyncObject
from schemas.topics import BULK_SOURCE_CHANGES
from tests.integration.connector.conftest import ConnectorHarness


async def _psyncctl(
    harness: ConnectorHarness, kafka_bootstrap: str, database_url: str, *args: str
) -> tuple[int, str]:
    settings = CtlSettings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=SecretStr(database_url),
        connector_schema=harness.connector.settings.db_schema,
        pipedrive_client_schema=harness.connector.settings.pipedrive.client_schema,
    )
    out, err = io.StringIO(), io.StringIO()
    status = await execute(list(args), settings, out, err)
    return status, out.getvalue() + err.getvalue()


async def _sync_queued(harness: ConnectorHarness) -> None:
    await harness.connector.scheduler.work_tenant(harness.tenant)


async def test_resync_re_emits_the_objects_records_with_their_event_ids(
    harness: ConnectorHarness, kafka_bootstrap: str, database_url: str
) -> None:
    await harness.connect_by_token()
    await harness.connector.runs.enqueue(harness.tenant, RunKindName.SYNC, "manual")
    await _sync_queued(harness)
    first = await harness.events()
    organizations = {e["id"] for e in first if e["data"]["object"] == "organization"}
    assert organizations
    since = (datetime.now(UTC) - timedelta(days=3650)).isoformat()

    resync = ("resync", harness.tenant, "--since", since, "--objects", "organization")
    status, output = await _psyncctl(harness, kafka_bootstrap, database_url, *resync, "--dry-run")
    assert status == 0, output
    assert f"{len(organizations)}" in output and "no sync queued" in output
    assert [
        r for r in await harness.connector.runs.recent(harness.tenant) if r.state is RunState.QUEUED
    ] == []

    status, output = await _psyncctl(harness, kafka_bootstrap, database_url, *resync, "--json")
    assert status == 0, output
    [queued] = [r for r in await harness.connector.runs.recent(harness.tenant) if r.state is RunState.QUEUED]
    assert queued.trigger == "resync"
    mark = await harness.reader.end_offsets(BULK_SOURCE_CHANGES.name)
    await _sync_queued(harness)

    # An operator's re-read is bulk work: on the bulk topic, behind no other tenant's live change.
    again = await harness.reader.events_since(BULK_SOURCE_CHANGES.name, mark, harness.tenant)
    source_changes = [e for e in again if e["type"] == "psync.source.changed"]
    assert Counter(e["data"]["object"] for e in source_changes) == Counter(
        {"organization": len(organizations)}
    )
    assert {e["id"] for e in source_changes} == organizations


async def test_resync_refuses_while_a_run_of_the_tenant_is_running(
    harness: ConnectorHarness, kafka_bootstrap: str, database_url: str
) -> None:
    run = await harness.connector.runs.enqueue(harness.tenant, RunKindName.SYNC, "manual")
    assert await harness.connector.runs.start(run, datetime.now(UTC))
    cursor_before = await harness.connector.cursors.cursor(harness.tenant, SyncObject.PERSON)

    status, output = await _psyncctl(
        harness, kafka_bootstrap, database_url, "resync", harness.tenant, "--since", "2d"
    )

    assert status == 3 and run.run_id in output
    assert await harness.connector.cursors.cursor(harness.tenant, SyncObject.PERSON) == cursor_before


async def test_resync_refuses_a_tenant_without_a_connection_and_a_time_to_come(
    harness: ConnectorHarness, kafka_bootstrap: str, database_url: str
) -> None:
    """Before, a resync of a tenant that never connected (or of a mistyped tenant id) queued a sync that
    ended in Error `Invalid API key`, and a --since in the future was taken as it was."""
    since = ("--since", "2d")
    for tenant in (harness.tenant, f"{harness.tenant}-typo"):
        status, output = await _psyncctl(harness, kafka_bootstrap, database_url, "resync", tenant, *since)
        assert status == 3 and f"{tenant} has no Pipedrive connection" in output, output
        assert await harness.connector.runs.recent(tenant) == []

    await harness.connect_by_token()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    status, output = await _psyncctl(
        harness, kafka_bootstrap, database_url, "resync", harness.tenant, "--since", future
    )
    assert status == 2 and "in the future" in output
    assert await harness.connector.runs.recent(harness.tenant) == []
