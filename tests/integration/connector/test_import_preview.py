"""An import's preview tells what the import then does: the connector reads what the import selects and
the mapper (its own process, with its own store) plans those changes by a dry run of its planning. For
each duplicate handling in turn: preview, then import, and the mapper's apply run and per-record results
equal the preview's counts and reasons. Nothing is written by a preview."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiokafka import TopicPartition

from pipedrive_sandbox import SandboxConfig
from schemas.catalog import build_event
from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import SyncObject
from schemas.keys import record_key
from schemas.topics import COMPANY_REVEALED, RECORD_RESULTS, SYNC_RUNS
from stream_runner.messages import OutgoingMessage
from stream_runner.producer import EventProducer
from sync_rules.match_keys import website_match_key
from tests.integration.connector.conftest import ConnectorHarness
from tests.integration.connector.sandbox_api import SandboxApi
from tests.support.conditions import eventually
from tests.support.service_env import isolated_env
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration
OUTCOMES = ("created", "updated", "unchanged", "skipped", "failed")


@pytest.fixture
async def mapper_url(pg_pool: asyncpg.Pool, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[str]:
    """A mapper process on a schema of its own, consuming from the topics' current end."""
    async with isolated_env(pg_pool, kafka_bootstrap, "mapper", commit_interval_s="0.2") as env:
        mapper = ServiceProcess("mapper", env, tmp_path / "mapper.log")
        await mapper.start()
        try:
            await mapper.wait_ready()
            yield mapper.url
        finally:
            await mapper.terminate()


async def _mapper_get(url: str, path: str, headers: dict[str, str]) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url + path, headers=headers) as reply:
        assert reply.status == 200, await reply.text()
        return await reply.json()


async def _reveal(producer: EventProducer, tenant: str, domains: list[str]) -> None:
    """The ABM platform reveals companies: the mapper keeps accounts for them (no Pipedrive link yet)."""
    messages = []
    for domain in domains:
        key = record_key(tenant, SyncObject.ORGANIZATION, domain)
        event = build_event(
            CompanyRevealed(domain=domain, name=f"Revealed {domain}", revealed_at=datetime.now(UTC)),
            tenant=tenant,
            subject=key,
            source="/itest",
            id_parts=(key,),
            time=datetime.now(UTC),
        )
        messages.append(OutgoingMessage.of_event(COMPANY_REVEALED.name, event))
    await producer.send_all(messages)


# Kafka is shared: other mapper processes (of other test runs) may apply this tenant's changes too and
# report them under the same run. Every report of the run is read; this test's mapper's is among them.


async def _apply_runs(harness: ConnectorHarness, run_id: str) -> list[dict[str, Any]]:
    """Every report of the import's apply run on `psync.sync-runs.v1`, once there is one."""

    async def finished() -> list[dict[str, Any]]:
        return [
            e["data"]
            for e in await harness.events(SYNC_RUNS.name)
            if e["type"] == "psync.run.finished" and e["data"]["run_id"] == f"apply-{run_id}"
        ]

    return await eventually(finished, lambda found: len(found) >= 1, within_s=60, what="the apply run")


async def _result_variants(
    harness: ConnectorHarness, marks: dict[TopicPartition, int], run_id: str
) -> dict[str, set[tuple[str, str | None]]]:
    """The run's per-record results by event id (a redelivery repeats an id), with every (outcome,
    message) reported for it."""
    events = await harness.reader.events_since(RECORD_RESULTS.name, marks, harness.tenant)
    variants: dict[str, set[tuple[str, str | None]]] = {}
    for event in events:
        if event["data"].get("run_id") in (run_id, f"apply-{run_id}"):
            key = f"{event['data']['object']}:{event['data'].get('pipedrive_id')}"
            variants.setdefault(key, set()).add((event["data"]["outcome"], event["data"].get("message")))
    return variants


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=60, seed=7)])
async def test_the_preview_of_each_duplicate_handling_is_what_the_import_then_does(
    harness: ConnectorHarness, connector_producer: EventProducer, mapper_url: str
) -> None:
    await harness.connect_by_token()
    sandbox = SandboxApi(harness.sandbox)
    organizations = await sandbox.every("/api/v2/organizations")
    domains = sorted({d for o in organizations if (d := website_match_key(o.get("website")))})
    await _reveal(connector_producer, harness.tenant, domains[:12])
    await eventually(
        lambda: _mapper_get(mapper_url, "/v1/accounts?limit=500", harness.headers),
        lambda page: len(page["data"]) == 12,
        within_s=60,
        what="the revealed accounts in the ABM store",
    )
    marks = await harness.reader.end_offsets(RECORD_RESULTS.name)
    seen_outcomes: Counter[str] = Counter()

    # Each import leaves one ABM record per Pipedrive record (update_existing last): the outcomes of two
    # Pipedrive records ending on one ABM record would depend on the order the mapper meets them in.
    for handling in ("skip_duplicates", "create_duplicates", "update_existing"):
        if handling == "update_existing":
            for organization in organizations[:5]:
                renamed = {"name": f"{organization['name']} (renamed)"}
                await sandbox.call("PATCH", f"/api/v2/organizations/{organization['id']}", json=renamed)
        body = {"source": "organizations", "duplicate_handling": handling}
        accounts_before = await _mapper_get(mapper_url, "/v1/accounts?limit=500", harness.headers)
        preview = await harness.api.post("/v1/imports/preview", json=body, headers=harness.headers)
        assert preview.status == 200, await preview.text()
        previewed = await preview.json()
        assert await _mapper_get(mapper_url, "/v1/accounts?limit=500", harness.headers) == accounts_before
        started = await harness.api.post("/v1/imports", json=body, headers=harness.headers)
        run_id = (await started.json())["run_id"]
        await harness.connector.scheduler.work_tenant(harness.tenant)
        reports = await _apply_runs(harness, run_id)
        variants = await _result_variants(harness, marks, run_id)

        would = previewed["would"]["organization"]
        assert previewed["by_duplicate_handling"][handling]["organization"]["created"] == would["created"]
        reported = [{k: r["counts"][k] for k in OUTCOMES} for r in reports]
        assert {k: would[k] for k in OUTCOMES} in reported, (handling, would, reported)
        if all(len(v) == 1 for v in variants.values()):  # one mapper reported (always, off shared Kafka)
            told = Counter(m for v in variants.values() for o, m in v if o in ("skipped", "failed"))
            assert dict(told) == previewed["reasons"]["organization"], handling
        seen_outcomes.update({k: v for k, v in would.items() if v})

    assert {"created", "updated", "unchanged", "skipped"} <= set(seen_outcomes), seen_outcomes
