"""Every service's /metrics and /openapi.json (the checked-in docs/openapi/ copy), scraped from its own
process. Metrics: HTTP requests by route and status with their
latency, process metrics, and what each service adds (messages, per-message timings, consumer lag and
dead-letter depth for consumers; Pipedrive calls and budget for the services that call Pipedrive; runs
for the activity log; parked pushes for the pusher)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from openapi_docs import DOCS
from schemas.topics import dlq_topic_name, topics_consumed_by
from tests.integration.conditions import eventually
from tests.integration.kafka_offsets import position_group_at_end
from tests.integration.service_process import ServiceProcess

pytestmark = pytest.mark.integration

EVERY_SERVICE = {"psync_http_requests", "psync_http_request_seconds", "process_cpu_seconds", "python_info"}
OWN = {
    "connector": {
        "psync_pipedrive_calls",
        "psync_pipedrive_tokens",
        "psync_pipedrive_budget_remaining_tokens",
    },
    "mapper": {"psync_messages", "psync_message_seconds", "psync_consumer_lag", "psync_dlq_messages"},
    "pusher": {
        "psync_messages",
        "psync_message_seconds",
        "psync_consumer_lag",
        "psync_dlq_messages",
        "psync_pipedrive_calls",
        "psync_parked_pushes",
    },
    "auditlog": {
        "psync_messages",
        "psync_message_seconds",
        "psync_consumer_lag",
        "psync_dlq_messages",
        "psync_runs_finished",
    },
}


@pytest.fixture
async def own_schemas(pg_pool: asyncpg.Pool, kafka_bootstrap: str) -> AsyncIterator[dict[str, str]]:
    """Own schemas, and own groups positioned at the end of their topics (nothing of other tests' history
    to work through)."""
    uid = uuid.uuid4().hex[:8]
    env = {}
    for service in OWN:
        env[f"{service.upper()}_GROUP_ID"] = f"itest-metrics-{service}-{uid}"
        env[f"{service.upper()}_DB_SCHEMA"] = f"itest_metrics_{service}_{uid}"
        if service != "connector":
            await position_group_at_end(
                kafka_bootstrap, env[f"{service.upper()}_GROUP_ID"], topics_consumed_by(service)
            )
    yield env
    for service in OWN:
        await pg_pool.execute(f"DROP SCHEMA IF EXISTS itest_metrics_{service}_{uid} CASCADE")


async def _scrape(process: ServiceProcess) -> dict[str, list[Sample]]:
    async with aiohttp.ClientSession() as session, session.get(process.url + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


@pytest.mark.parametrize("service", sorted(OWN))
async def test_each_service_exports_the_metrics_that_matter(
    service: str, own_schemas: dict[str, str], tmp_path: Path
) -> None:
    process = ServiceProcess(service, own_schemas, tmp_path / f"{service}.log")
    await process.start()
    await process.wait_ready()
    assert await process.get("/healthz") == 200
    assert await process.get("/v1/no/such/route") == 401  # no key: counted under its route all the same

    wanted = EVERY_SERVICE | OWN[service]

    async def families() -> dict[str, list[Sample]]:
        return await _scrape(process)

    found = await eventually(
        families,
        lambda f: wanted <= set(f) and (service == "connector" or bool(f["psync_consumer_lag"])),
        within_s=60,
        what=f"{service} exports {sorted(wanted)}",
    )

    http = {
        (s.labels["route"], s.labels["status"])
        for s in found["psync_http_requests"]
        if s.name.endswith("_total")
    }
    assert ("/healthz", "200") in http
    assert any(status == "401" for _, status in http)
    assert all(not route.startswith("/v1/no/such") for route, _ in http)  # templates, not raw paths
    if service != "connector":
        consumed = {t.name for t in topics_consumed_by(service)}
        assert {s.labels["topic"] for s in found["psync_consumer_lag"]} <= consumed
        assert {s.labels["group"] for s in found["psync_consumer_lag"]} == {
            own_schemas[f"{service.upper()}_GROUP_ID"]
        }
        await eventually(
            families,
            lambda f: any(s.labels.get("topic") == dlq_topic_name(service) for s in f["psync_dlq_messages"]),
            within_s=60,
            what="the dead-letter depth",
        )
    async with aiohttp.ClientSession() as session, session.get(process.url + "/openapi.json") as response:
        served = await response.json()
    assert response.status == 200
    assert served == json.loads((DOCS / f"{service}.json").read_text())  # what docs/openapi/ says
    assert await process.terminate() == 0
