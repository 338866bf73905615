"""Every operation the sandbox serves answers as Pipedrive's published spec says."""

from __future__ import annotations

import csv
from typing import Any

import pytest

from pipedrive_sandbox.operations import OPERATIONS, Api, Operation
from tests.sandbox.conftest import SandboxClient
from tests.sandbox.spec_check import SPEC_DIR, Specs

SPEC_OF_API = {Api.V2: "v2", Api.V1: "v1", Api.V1_LEGACY: "legacy"}
VISIT = {
    "subject": "Website visit: 1 page",
    "type": "task",
    "org_id": 1,
    "done": True,
    "due_date": "2026-08-20",
    "note": "<p>Pages visited</p>",
}


def test_operation_costs_match_the_published_token_costs() -> None:
    with (SPEC_DIR / "token_costs.tsv").open() as table:
        published = {
            (row["api"], row["method"], row["path"]): (row["operation_id"], int(row["tokens"]))
            for row in csv.DictReader(table, delimiter="\t")
        }
    for operation in OPERATIONS:
        key = (operation.api.value, operation.method, operation.path)
        assert published[key] == (operation.operation_id, operation.tokens), operation


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.key)
def test_every_operation_exists_in_its_spec_with_the_same_cost(specs: Specs, operation: Operation) -> None:
    spec_operation = specs.operation(SPEC_OF_API[operation.api], operation.method, operation.path)
    assert spec_operation["operationId"] == operation.operation_id
    assert spec_operation["x-token-cost"] == operation.tokens


async def _exercise(client: SandboxClient, operation: Operation) -> Any:
    """One valid call of `operation`; returns the reply so the test can check its status."""
    org = {"name": "Spec Org", "website": "https://spec.example", "address": {"value": "1 Spec Street"}}
    key = operation.key
    path = operation.url_path
    if key == "v2.getActivities":
        await client.call("POST", path, json=VISIT)
        return await client.call("GET", path, params={"org_id": 1, "done": "true", "limit": 2})
    if operation.method == "GET" and "{id}" not in path:
        params: dict[str, Any] = {"limit": 2}
        if path.endswith("/search"):
            params = {"term": "an", "limit": 2}
        if key == "v1.getRecents":
            params = {"since_timestamp": "2026-08-01 00:00:00", "limit": 2}
        return await client.call("GET", path, params=params)
    if operation.method == "GET":
        target = 12415231 if "/users/" in path else 2
        return await client.call("GET", path.replace("{id}", str(target)))
    if key.startswith("v2.add") and "Field" in key:
        return await client.call("POST", path, json={"field_name": "Spec field", "field_type": "varchar"})
    if key.startswith("v1.add") and "Field" in key:
        return await client.call("POST", path, json={"name": "Spec field", "field_type": "varchar"})
    if key == "v1.addWebhook":
        body = {
            "subscription_url": "https://hooks.example/p",
            "event_action": "*",
            "event_object": "*",
            "name": "spec",
            "version": "2.0",
        }
        return await client.call("POST", path, json=body)
    if key == "v1.deleteWebhook":
        created = await client.call(
            "POST",
            "/v1/webhooks",
            json={
                "subscription_url": "https://hooks.example/p",
                "event_action": "*",
                "event_object": "*",
                "name": "x",
            },
        )
        return await client.call("DELETE", path.replace("{id}", str(created.body["data"]["id"])))
    if operation.method == "POST":
        bodies: dict[str, dict[str, Any]] = {
            "/api/v2/organizations": org,
            "/api/v2/persons": {"name": "Spec Person", "org_id": 1},
            "/api/v2/deals": {"title": "Spec deal", "org_id": 1, "value": 100},
            "/api/v2/activities": VISIT,
            "/api/v2/pipelines": {"name": "Spec pipeline"},
            "/api/v2/stages": {"name": "Spec stage", "pipeline_id": 1, "deal_probability": 40},
        }
        return await client.call("POST", path, json=bodies[path])
    if operation.method == "PATCH":
        body = {"title": "Renamed"} if "deals" in path else {"name": "Renamed"}
        return await client.call("PATCH", path.replace("{id}", "3"), json=body)
    if operation.method == "DELETE":
        return await client.call("DELETE", path.replace("{id}", "4"))
    if operation.method == "PUT":
        return await client.call("PUT", path.replace("{id}", "5"), json={"merge_with_id": 6})
    raise AssertionError(f"no scenario for {key}")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.key)
async def test_every_operation_answers_as_the_spec_says(sandbox: SandboxClient, operation: Operation) -> None:
    reply = await _exercise(sandbox, operation)

    assert reply.status in (200, 201), reply.body
    assert reply.body["success"] is True
    assert sandbox.checked, "the exchange was validated against a spec"


async def test_unauthorized_answer_is_the_documented_401(sandbox: SandboxClient) -> None:
    sandbox.token = "not-a-token"

    reply = await sandbox.call("GET", "/v1/users/me", check_request=False)

    assert reply.status == 401
    assert reply.body["success"] is False
    assert reply.body["error"] == "unauthorized access"
    assert reply.body["errorCode"] == 401
