"""The connector's HTTP API: tenant isolation, connecting by token, settings validated, versioned and
published, imports with filters (bad filter -> 400 with the column), preview, the OpenAPI description."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from connector.openapi import PATHS
from connector.queued_runs import RunKindName
from pipedrive_sandbox import SandboxConfig
from schemas.topics import SETTINGS
from tests.integration.connector.conftest import ConnectorHarness
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def test_calls_without_a_key_are_refused(harness: ConnectorHarness) -> None:
    for method, path in (("GET", "/v1/settings"), ("POST", "/v1/sync"), ("DELETE", "/v1/connection")):
        response = await harness.api.request(method, path)
        assert response.status == 401


async def test_a_tenant_cannot_see_or_touch_another_tenants_runs_settings_or_connection(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    queued = await (await harness.api.post("/v1/sync", headers=harness.headers)).json()
    other = await harness.new_tenant_headers(f"{harness.tenant}x")

    assert (await harness.api.get(f"/v1/runs/{queued['run_id']}", headers=other)).status == 404
    assert (await harness.api.post(f"/v1/runs/{queued['run_id']}/cancel", headers=other)).status == 404
    assert (await (await harness.api.get("/v1/runs", headers=other)).json())["data"] == []
    assert (await (await harness.api.get("/v1/connection", headers=other)).json()) == {"connected": False}
    assert (await harness.api.delete("/v1/connection", headers=other)).status == 200

    status = await (await harness.api.get("/v1/connection", headers=harness.headers)).json()
    assert status["connected"] is True
    mine = await (await harness.api.get(f"/v1/runs/{queued['run_id']}", headers=harness.headers)).json()
    assert mine["cancel_requested"] is False


async def test_the_runs_list_takes_a_limit_and_refuses_what_it_cannot_do(harness: ConnectorHarness) -> None:
    """Before: GET /v1/runs answered its latest 50 runs whatever the query said (`limit=-1`, `limit=abc`,
    `cursor=garbage`, `page=2`), so a client paging it as the auditlog's list got the same page again."""
    await harness.connect_by_token()
    queued = await (await harness.api.post("/v1/sync", headers=harness.headers)).json()
    await harness.connector.runs.enqueue(harness.tenant, RunKindName.IMPORT, "manual")

    newest = await harness.api.get("/v1/runs", params={"limit": "1"}, headers=harness.headers)
    assert newest.status == 200
    [run] = (await newest.json())["data"]
    assert run["run_id"] != queued["run_id"] and run["kind"] == "import"
    for params, problem in (
        ({"limit": "-1"}, "limit: Input should be greater than or equal to 1"),
        ({"limit": "abc"}, "limit: Input should be a valid integer"),
        ({"limit": "201"}, "limit: Input should be less than or equal to 200"),
        ({"cursor": "garbage"}, "cursor: Extra inputs are not permitted"),
        ([("limit", "1"), ("limit", "2")], "limit: given 2 times; give it once"),
    ):
        refused = await harness.api.get("/v1/runs", params=params, headers=harness.headers)
        body = await refused.json()
        assert refused.status == 400 and body["error"] == "bad_request", params
        assert any(p.startswith(problem) for p in body["problems"]), body


async def test_connecting_with_a_bad_token_is_refused_and_stores_nothing(harness: ConnectorHarness) -> None:
    response = await harness.api.post(
        "/v1/connection/api-token", json={"api_token": "0" * 40}, headers=harness.headers
    )

    assert response.status == 400
    assert (await response.json())["message"] == "Invalid API key"
    status = await (await harness.api.get("/v1/connection", headers=harness.headers)).json()
    assert status == {"connected": False}


async def test_an_api_base_url_off_the_allow_list_is_refused(harness: ConnectorHarness) -> None:
    response = await harness.api.post(
        "/v1/connection/api-token",
        json={"api_token": harness.sandbox.handle.api_token, "api_base_url": "https://evil.example"},
        headers=harness.headers,
    )

    assert response.status == 400
    message = (await response.json())["message"]
    assert "https://<company>.pipedrive.com" in message
    assert f"PIPEDRIVE_ALLOWED_TEST_URLS ({harness.sandbox.base_url})" in message
    status = await (await harness.api.get("/v1/connection", headers=harness.headers)).json()
    assert status == {"connected": False}


async def test_connecting_by_token_publishes_settings_without_the_token(harness: ConnectorHarness) -> None:
    token = harness.sandbox.handle.api_token
    with capture_logs() as logs:
        await harness.connect_by_token()
        await harness.api.post("/v1/sync", headers=harness.headers)
        await harness.connector.scheduler.work_tenant(harness.tenant)

    status = await (await harness.api.get("/v1/connection", headers=harness.headers)).json()
    assert status["connected"] is True and status["kind"] == "api_token"
    assert token not in str(status)
    published = await harness.events(SETTINGS.name)
    assert published[-1]["data"]["connected"] is True
    # Links to records point into the company's web app (the sandbox's own origin here).
    assert published[-1]["data"]["pipedrive_web_url"] == harness.sandbox.base_url.rstrip("/")
    assert published[-1]["id"]
    assert token not in str(logs)
    assert all(token not in str(e) for e in published + await harness.events())


async def test_settings_are_validated_with_clear_400s_and_change_nothing(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    before = await (await harness.api.get("/v1/settings", headers=harness.headers)).json()

    bad_frequency = await harness.api.put("/v1/settings", json={"frequency": "2h"}, headers=harness.headers)
    unknown_label = await harness.api.put(
        "/v1/settings",
        json={"organization_domain": {"custom_field_label": "No Such Field"}},
        headers=harness.headers,
    )
    not_json = await harness.api.put("/v1/settings", data=b"{", headers=harness.headers)

    assert bad_frequency.status == 400
    frequency_body = await bad_frequency.json()
    assert frequency_body["error"] == "bad_request" and "frequency" in frequency_body["message"]
    assert any(p.startswith("frequency") for p in frequency_body["problems"]), frequency_body
    assert unknown_label.status == 400
    assert "No Such Field" in (await unknown_label.json())["message"]
    assert not_json.status == 400
    assert (await not_json.json())["message"] == "The body is not valid JSON."
    after = await (await harness.api.get("/v1/settings", headers=harness.headers)).json()
    assert after == before


async def test_saved_settings_get_the_next_version_and_are_published_with_resolved_field_codes(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    custom = harness.sandbox.handle.state.account.custom_fields
    from pipedrive_sandbox.store import Entity

    label, code = next((d.field_name, d.field_code) for d in custom(Entity.ORGANIZATION).values())
    body = {
        "frequency": "6h",
        "organization_domain": {"custom_field_label": label},
        "objects": {
            "organization": {
                "fields": [
                    {"abm_field": "industry", "pipedrive_field": label, "custom": True, "to_abm": "overwrite"}
                ]
            }
        },
    }
    first = await (await harness.api.put("/v1/settings", json=body, headers=harness.headers)).json()
    second = await (await harness.api.put("/v1/settings", json=body, headers=harness.headers)).json()

    assert second["version"] == first["version"] + 1
    assert first["organization_domain"]["custom_field_code"] == code
    assert first["objects"]["organization"]["fields"][0]["field_code"] == code
    published = await harness.events(SETTINGS.name)
    assert [e["data"]["version"] for e in published][-2:] == [first["version"], second["version"]]
    assert len({e["id"] for e in published}) == len(published)


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=250)])
async def test_an_import_preview_counts_without_emitting_and_a_bad_filter_names_its_column(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()

    bad = await harness.api.post(
        "/v1/imports/preview",
        json={"source": "filtered_organizations", "filter": 'Name = "x" AND Colour = "red"'},
        headers=harness.headers,
    )
    preview = await harness.api.post(
        "/v1/imports/preview",
        json={"source": "filtered_organizations", "filter": 'Name CONTAINS "a" AND Owner = current user'},
        headers=harness.headers,
    )
    everything = await harness.api.post(
        "/v1/imports/preview", json={"source": "all_organizations"}, headers=harness.headers
    )

    assert bad.status == 400
    problem = await bad.json()
    assert problem["error"] == "bad_filter" and problem["column"] == 16
    assert preview.status == 200, await preview.text()
    counts = await preview.json()
    me = harness.sandbox.handle.state.account.users
    first_user = min(me)
    expected = sum(
        1
        for r in harness.sandbox.handle.state.tables[next(iter(harness.sandbox.handle.state.tables))].live()
        if "a" in r.data["name"].lower() and r.data.get("owner_id") == first_user
    )
    assert counts["selected"].get("organization", 0) == expected
    assert (await everything.json())["selected"]["organization"] == 250
    assert await harness.events() == []


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=250)])
async def test_an_import_run_emits_what_it_selects_with_its_duplicate_handling_and_can_be_followed(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    started = await harness.api.post(
        "/v1/imports",
        json={"source": "all_organizations", "duplicate_handling": "update_existing"},
        headers=harness.headers,
    )
    assert started.status == 202
    run_id = (await started.json())["run_id"]

    await harness.connector.scheduler.work_tenant(harness.tenant)

    run = await (await harness.api.get(f"/v1/runs/{run_id}", headers=harness.headers)).json()
    assert run["status"] == "Success" and run["progress"]["read"] == 250
    events = await harness.events()
    assert len(events) == 250
    assert {e["data"]["import_context"]["duplicate_handling"] for e in events} == {"update_existing"}
    assert {e["data"]["origin"] for e in events} == {"import"}


async def test_a_cancelled_queued_import_ends_without_reading(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    started = await harness.api.post(
        "/v1/imports", json={"source": "all_organizations"}, headers=harness.headers
    )
    run_id = (await started.json())["run_id"]

    assert (await harness.api.post(f"/v1/runs/{run_id}/cancel", headers=harness.headers)).status == 202
    await harness.connector.scheduler.work_tenant(harness.tenant)

    run = await eventually(
        lambda: harness.connector.runs.get(harness.tenant, run_id),
        lambda r: r is not None and r.state.value == "cancelled",
        within_s=5,
        what="the import is cancelled",
    )
    assert run is not None and run.tokens_spent == 0


async def test_the_openapi_description_names_exactly_the_served_routes(harness: ConnectorHarness) -> None:
    document = await (await harness.api.get("/openapi.json")).json()

    served = {
        (route.method.lower(), route.resource.canonical)
        for route in harness.connector.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    described = {(method, path) for path, operations in document["paths"].items() for method in operations}
    assert served == described
    assert set(document["paths"]) == set(PATHS)
