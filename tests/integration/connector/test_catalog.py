"""The catalog of the connected Pipedrive through the connector's API, compared with what the sandbox's
own API lists; read once and kept (costing tokens only when read again), refreshed on demand."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.connector.conftest import ConnectorHarness
from tests.integration.connector.sandbox_api import SandboxApi

pytestmark = pytest.mark.integration
FIELD_LISTS = {"organization": "organizationFields", "person": "personFields", "deal": "dealFields"}
CATALOG_READ_TOKENS = 62


async def _catalog(harness: ConnectorHarness, method: str = "GET", path: str = "/v1/catalog") -> Any:
    response = await harness.api.request(method, path, headers=harness.headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_the_catalog_lists_what_the_connected_account_holds(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    sandbox = SandboxApi(harness.sandbox)

    catalog = await _catalog(harness)

    me = (await sandbox.call("GET", "/v1/users/me"))["data"]
    assert catalog["company"] == {
        "id": me["company_id"],
        "name": me["company_name"],
        "domain": me["company_domain"],
    }
    assert catalog["connected_user"]["id"] == me["id"]
    users = (await sandbox.call("GET", "/v1/users"))["data"]
    assert [(u["id"], u["name"], u["email"]) for u in catalog["users"]] == [
        (u["id"], u["name"], u["email"]) for u in users
    ]
    stages = await sandbox.every("/api/v2/stages")
    assert {p["id"]: p["name"] for p in catalog["pipelines"]} == {
        p["id"]: p["name"] for p in await sandbox.every("/api/v2/pipelines")
    }
    assert sorted((p["id"], s["id"], s["name"]) for p in catalog["pipelines"] for s in p["stages"]) == sorted(
        (s["pipeline_id"], s["id"], s["name"]) for s in stages
    )
    for obj, path in FIELD_LISTS.items():
        listed = await sandbox.every(f"/api/v2/{path}")
        assert [(f["code"], f["label"], f["type"], f["custom"]) for f in catalog["fields"][obj]] == [
            (f["field_code"], f["field_name"], f["field_type"], f["is_custom_field"]) for f in listed
        ]
    by_code = {f["code"]: f for f in catalog["fields"]["organization"]}
    assert by_code["name"]["writable"] and by_code["website"]["writable"]
    assert not by_code["add_time"]["writable"] and not by_code["id"]["writable"]
    tier = next(f for f in catalog["fields"]["organization"] if f["label"] == "Tier")
    assert tier["custom"] and tier["writable"] and [o["label"] for o in tier["options"]] == ["A", "B", "C"]
    status = next(f for f in catalog["fields"]["deal"] if f["code"] == "status")
    assert [o["id"] for o in status["options"]] == ["open", "won", "lost", "deleted"]


async def test_the_catalog_is_read_once_and_again_only_on_demand(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    sandbox = SandboxApi(harness.sandbox)
    before = await sandbox.ledger_tokens()

    first = await _catalog(harness)
    again = await _catalog(harness)
    read_once = await sandbox.ledger_tokens() - before
    await sandbox.call("POST", "/api/v2/dealFields", json={"field_name": "Won because", "field_type": "text"})
    still = await _catalog(harness)
    refreshed = await _catalog(harness, "POST", "/v1/catalog/refresh")

    assert read_once == CATALOG_READ_TOKENS == first["tokens_spent"]
    assert again == first
    assert "Won because" not in {f["label"] for f in still["fields"]["deal"]}
    assert "Won because" in {f["label"] for f in refreshed["fields"]["deal"]}
    assert await sandbox.ledger_tokens() - before == 2 * CATALOG_READ_TOKENS + 5


async def test_a_tenant_not_connected_gets_409_from_the_catalog(harness: ConnectorHarness) -> None:
    for method, path in (("GET", "/v1/catalog"), ("POST", "/v1/catalog/refresh")):
        response = await harness.api.request(method, path, headers=harness.headers)

        assert response.status == 409
        assert (await response.json())["error"] == "not_connected"


async def test_reconnecting_forgets_the_catalog_of_the_account_connected_before(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    sandbox = SandboxApi(harness.sandbox)
    await _catalog(harness)
    await sandbox.call(
        "POST", "/api/v2/personFields", json={"field_name": "Pet name", "field_type": "varchar"}
    )

    assert (await harness.api.delete("/v1/connection", headers=harness.headers)).status == 200
    await harness.connect_by_token()
    catalog = await _catalog(harness)

    assert "Pet name" in {f["label"] for f in catalog["fields"]["person"]}
