"""What the lifecycle test checks of every running service: its /metrics (HTTP requests by route and status
with their latency, process metrics, and what each service adds: messages, per-message timings, consumer
lag and dead-letter depth for consumers; Pipedrive calls and budget for the services that call Pipedrive;
runs for the activity log; parked pushes for the pusher) and its /openapi.json (the checked-in
docs/openapi/ copy)."""

from __future__ import annotations

import json

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from openapi_docs import DOCS
from schemas.topics import dlq_topic_name, topics_consumed_by
from tests.support.conditions import eventually
from tests.support.service_process import ServiceProcess

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


async def _scrape(process: ServiceProcess) -> dict[str, list[Sample]]:
    async with aiohttp.ClientSession() as session, session.get(process.url + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


async def check_metrics_and_openapi(process: ServiceProcess, service: str, group: str | None) -> None:
    """The running service exports the metrics that matter (after a 200 and a 401 of its own) and serves
    the checked-in OpenAPI document; called by the lifecycle test, which starts every service."""
    assert await process.get("/healthz") == 200
    assert await process.get("/v1/no/such/route") == 401  # no key: counted under its route all the same
    wanted = EVERY_SERVICE | OWN[service]

    async def families() -> dict[str, list[Sample]]:
        return await _scrape(process)

    found = await eventually(
        families,
        lambda f: wanted <= set(f) and (group is None or bool(f["psync_consumer_lag"])),
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
    if group is not None:
        consumed = {t.name for t in topics_consumed_by(service)}
        assert {s.labels["topic"] for s in found["psync_consumer_lag"]} <= consumed
        assert {s.labels["group"] for s in found["psync_consumer_lag"]} == {group}
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
