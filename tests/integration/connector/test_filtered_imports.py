"""The product's filter examples imported as written, compared with the sandbox's own data (read through
its API): deals by value and stage name across pipelines, by pipeline; persons added lately and owned by
the connected user; organizations on any field, custom fields by label. What Pipedrive can filter is
pushed down to its list parameters. Bad filters are 400s naming the column; a tenant not connected gets
409 (after the filter's syntax is checked)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest

from pipedrive_sandbox import SandboxConfig
from tests.integration.connector.conftest import ConnectorHarness
from tests.integration.connector.sandbox_api import SandboxApi

pytestmark = pytest.mark.integration
SEEDED = SandboxConfig(organizations=80, deals_per_organization=2, seats=2)


async def _import(harness: ConnectorHarness, body: dict[str, Any]) -> Counter[tuple[str, int]]:
    """Run an import through the API; what it emitted, as (object, Pipedrive id) counts."""
    started = await harness.api.post("/v1/imports", json=body, headers=harness.headers)
    assert started.status == 202, await started.text()
    run_id = (await started.json())["run_id"]
    await harness.connector.scheduler.work_tenant(harness.tenant)
    run = await (await harness.api.get(f"/v1/runs/{run_id}", headers=harness.headers)).json()
    assert run["status"] == "Success", run["message"]
    return Counter((e["data"]["object"], e["data"]["pipedrive_id"]) for e in await harness.events())


async def _preview(harness: ConnectorHarness, body: dict[str, Any]) -> dict[str, Any]:
    response = await harness.api.post("/v1/imports/preview", json=body, headers=harness.headers)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


def _ids(emitted: Counter[tuple[str, int]], obj: str) -> set[int]:
    return {i for o, i in emitted if o == obj}


def _linked(deals: list[dict[str, Any]], key: str) -> set[int]:
    return {d[key] for d in deals if d.get(key)}


def _list_queries(harness: ConnectorHarness, path: str, since: int) -> list[dict[str, list[str]]]:
    """The queries of the list calls the sandbox received after the first `since` requests."""
    received = harness.sandbox.received[since:]
    return [parse_qs(r.query_string) for r in received if r.path == path and r.method == "GET"]


@pytest.mark.parametrize("sandbox_config", [SEEDED])
async def test_deals_by_value_and_stage_name_across_pipelines_with_their_organizations_and_persons(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    sandbox = SandboxApi(harness.sandbox)
    proposal = {s["id"] for s in await sandbox.every("/api/v2/stages") if s["name"] == "Proposal"}
    deals = await sandbox.every("/api/v2/deals")
    expected = [d for d in deals if d["stage_id"] in proposal and (d["value"] or 0) > 10000]
    assert len(proposal) == 2 and {d["pipeline_id"] for d in expected} == {1, 2}

    preview = await _preview(harness, {"source": "deals", "filter": 'Value > 10000 AND Stage = "Proposal"'})
    emitted = await _import(harness, {"source": "deals", "filter": 'Value > 10000 AND Stage = "Proposal"'})

    assert _ids(emitted, "deal") == {d["id"] for d in expected}
    assert _ids(emitted, "organization") == _linked(expected, "org_id")
    assert _ids(emitted, "person") == _linked(expected, "person_id")
    assert max(emitted.values()) == 1
    assert preview["selected"]["deal"] == len(expected)


@pytest.mark.parametrize("sandbox_config", [SEEDED])
async def test_deals_of_one_pipeline_are_listed_with_the_pipeline_pushed_down(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    sandbox = SandboxApi(harness.sandbox)
    sales = next(p["id"] for p in await sandbox.every("/api/v2/pipelines") if p["name"] == "Sales")
    expected = [
        d for d in await sandbox.every("/api/v2/deals") if d["pipeline_id"] == sales and d["status"] == "open"
    ]

    since = len(harness.sandbox.received)
    emitted = await _import(harness, {"source": "deals", "filter": 'Pipeline = "sales" AND Status = "Open"'})

    assert _ids(emitted, "deal") == {d["id"] for d in expected}
    queries = _list_queries(harness, "/api/v2/deals", since)
    assert queries and all(q["pipeline_id"] == [str(sales)] and q["status"] == ["open"] for q in queries)


@pytest.mark.parametrize("sandbox_config", [SEEDED])
async def test_persons_added_lately_and_owned_by_the_connected_user(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    sandbox = SandboxApi(harness.sandbox)
    me = (await sandbox.call("GET", "/v1/users/me"))["data"]["id"]
    other = next(u["id"] for u in (await sandbox.call("GET", "/v1/users"))["data"] if u["id"] != me)
    for name, owner in (("New Mine", me), ("Also Mine", me), ("New Theirs", other)):
        await sandbox.call("POST", "/api/v2/persons", json={"name": name, "owner_id": owner})
    today = datetime.fromtimestamp(harness.sandbox.handle.state.clock.now(), UTC).date()
    expected = {
        p["id"]
        for p in await sandbox.every("/api/v2/persons")
        if p["owner_id"] == me and datetime.fromisoformat(p["add_time"]).date() > today - timedelta(days=30)
    }
    assert len(expected) >= 2

    since = len(harness.sandbox.received)
    emitted = await _import(
        harness, {"source": "persons", "filter": "Add Time > last 30 days AND Owner = current user"}
    )

    assert _ids(emitted, "person") == expected
    queries = _list_queries(harness, "/api/v2/persons", since)
    assert queries and all(q.get("owner_id") == [str(me)] for q in queries)


@pytest.mark.parametrize("sandbox_config", [SEEDED])
async def test_organizations_on_any_field_and_custom_fields_by_label(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    sandbox = SandboxApi(harness.sandbox)
    fields = {f["field_name"]: f for f in await sandbox.every("/api/v2/organizationFields")}
    tier_a = next(o["id"] for o in fields["Tier"]["options"] if o["label"] == "A")
    tier, score = fields["Tier"]["field_code"], fields["ABM score"]["field_code"]
    organizations = await sandbox.every("/api/v2/organizations")
    expected = {
        o["id"]
        for o in organizations
        if (o["custom_fields"].get(tier) == tier_a and (o["custom_fields"].get(score) or 0) > 50)
        or ((o.get("employee_count") or 0) >= 4000 and ".io" in (o.get("website") or "").lower())
    }
    assert expected

    emitted = await _import(
        harness,
        {
            "source": "organizations",
            "filter": '(Tier = "A" AND ABM score > 50)'
            ' OR (Number of employees >= 4000 AND Website CONTAINS ".io")',
        },
    )

    assert _ids(emitted, "organization") == expected


@pytest.mark.parametrize("sandbox_config", [SEEDED])
async def test_deals_at_stages_named_in_every_pipeline_or_one(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    sandbox = SandboxApi(harness.sandbox)
    stages = await sandbox.every("/api/v2/stages")
    wanted = {s["id"] for s in stages if s["name"] == "Negotiation"} | {
        s["id"] for s in stages if s["name"] == "Qualified" and s["pipeline_id"] == 2
    }
    expected = {d["id"] for d in await sandbox.every("/api/v2/deals") if d["stage_id"] in wanted}

    emitted = await _import(
        harness, {"source": "deals_at_stages", "stages": ["negotiation", "Partnerships / Qualified"]}
    )

    assert _ids(emitted, "deal") == expected


@pytest.mark.parametrize(
    ("body", "column", "problem"),
    [
        ({"source": "deals", "filter": 'Value > 1 AND Colour = "red"'}, 15, 'unknown field "Colour"'),
        ({"source": "deals", "filter": 'Value > "big"'}, 9, '"Value" expects a number'),
        ({"source": "persons", "filter": "Add Time > 30"}, 12, '"Add Time" expects a date'),
        ({"source": "deals", "filter": 'Stage = "Closing"'}, 9, '"Stage" expects one of "Qualified"'),
        ({"source": "organizations", "filter": "Tier = 5 AND"}, 13, "expected a field label"),
    ],
)
async def test_a_bad_filter_is_a_400_naming_the_column_and_the_problem(
    harness: ConnectorHarness, body: dict[str, Any], column: int, problem: str
) -> None:
    await harness.connect_by_token()

    for path in ("/v1/imports", "/v1/imports/preview"):
        response = await harness.api.post(path, json=body, headers=harness.headers)

        refused = await response.json()
        assert response.status == 400 and refused["error"] == "bad_filter", refused
        assert refused["column"] == column and problem in refused["problem"], refused
    assert (await (await harness.api.get("/v1/runs", headers=harness.headers)).json())["data"] == []


async def test_a_stage_name_repeated_in_one_pipeline_is_ambiguous(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    sandbox = SandboxApi(harness.sandbox)
    pipeline = (await sandbox.call("POST", "/api/v2/pipelines", json={"name": "Renewals"}))["data"]["id"]
    for _ in range(2):
        await sandbox.call("POST", "/api/v2/stages", json={"name": "Review", "pipeline_id": pipeline})

    by_filter = await harness.api.post(
        "/v1/imports/preview", json={"source": "deals", "filter": 'Stage = "Review"'}, headers=harness.headers
    )
    by_stage = await harness.api.post(
        "/v1/imports", json={"source": "deals_at_stages", "stages": [1, "Review"]}, headers=harness.headers
    )

    refused = await by_filter.json()
    assert by_filter.status == 400 and refused["column"] == 9
    assert refused["problem"].startswith('stage "Review" is ambiguous: pipeline "Renewals" has 2 stages')
    assert by_stage.status == 400
    assert (await by_stage.json())["message"].startswith('stages[1]: stage "Review" is ambiguous')


async def test_a_tenant_not_connected_gets_409_after_the_filter_syntax_is_checked(
    harness: ConnectorHarness,
) -> None:
    headers = harness.headers
    good = {"source": "organizations", "filter": 'Name CONTAINS "a"'}

    sync = await harness.api.post("/v1/sync", headers=headers)
    started = await harness.api.post("/v1/imports", json=good, headers=headers)
    previewed = await harness.api.post("/v1/imports/preview", json=good, headers=headers)
    bad_syntax = await harness.api.post(
        "/v1/imports/preview", json={"source": "organizations", "filter": "Name CONTAINS"}, headers=headers
    )

    for response in (sync, started, previewed):
        assert response.status == 409 and (await response.json())["error"] == "not_connected"
    assert bad_syntax.status == 400 and (await bad_syntax.json())["column"] == 14
    assert (await (await harness.api.get("/v1/runs", headers=headers)).json())["data"] == []
    assert harness.sandbox.api_requests() == []


@pytest.mark.parametrize("mapper_url", ["http://127.0.0.1:9"])
async def test_a_preview_without_the_mapper_is_a_503_and_emits_nothing(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()

    response = await harness.api.post(
        "/v1/imports/preview", json={"source": "all_organizations"}, headers=harness.headers
    )

    refused = await response.json()
    assert response.status == 503 and refused["error"] == "mapper_unavailable", refused
    assert await harness.events() == []
