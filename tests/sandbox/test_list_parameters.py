"""Every list parameter of the v2 spec for organizations, persons and deals is served as Pipedrive does, or
refused as it does, with Pipedrive's JSON error body; a malformed or unknown id in a path answers that
body too, never a plain-text 404. Every exchange is checked against openapi-v2.yaml by the client."""

from __future__ import annotations

from typing import Any

import pytest

from pipedrive_sandbox.record_options import INCLUDABLE
from pipedrive_sandbox.store import Entity
from tests.sandbox.conftest import SandboxClient
from tests.sandbox.spec_check import Specs

LISTS = {entity: f"/api/v2/{entity.plural}" for entity in Entity}
ERROR_KEYS = {"success", "error", "error_info", "data", "additional_data"}


async def _all(client: SandboxClient, path: str, check_request: bool = True, **params: Any) -> list[Any]:
    found: list[Any] = []
    cursor = None
    while True:
        query = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
        reply = await client.call("GET", path, params=query, check_request=check_request)
        assert reply.status == 200, reply.body
        found += reply.body["data"]
        cursor = reply.body["additional_data"]["next_cursor"]
        if cursor is None:
            return found


def _is_pipedrive_error(body: Any) -> bool:
    return isinstance(body, dict) and set(body) == ERROR_KEYS and body["success"] is False


def _live(client: SandboxClient, entity: Entity) -> list[dict[str, Any]]:
    return [r.data for r in client.handle.state.tables[entity].live()]


def test_every_list_parameter_of_the_spec_is_known_to_these_tests(specs: Specs) -> None:
    served = {"sort_by", "sort_direction", "owner_id", "org_id", "person_id", "deal_id", "stage_id",
              "pipeline_id", "status", "ids", "include_fields", "custom_fields", "updated_since",
              "updated_until", "limit", "cursor", "filter_id", "include_option_labels",
              "include_labels"}  # fmt: skip
    for entity, path in LISTS.items():
        parameters = {p["name"] for p in specs.operation("v2", "GET", path[len("/api/v2") :])["parameters"]}
        assert parameters <= served, (entity, parameters - served)
        enum = next(
            p["schema"]["enum"]
            for p in specs.operation("v2", "GET", path[len("/api/v2") :])["parameters"]
            if p["name"] == "include_fields"
        )
        assert set(enum) == INCLUDABLE[entity]


async def test_deal_status_takes_a_comma_separated_list_that_may_include_deleted(
    sandbox: SandboxClient,
) -> None:
    deals = _live(sandbox, Entity.DEAL)
    won = next(d["id"] for d in deals if d["status"] == "won")
    await sandbox.call("DELETE", f"/api/v2/deals/{won}")
    deals = _live(sandbox, Entity.DEAL)

    open_and_deleted = await _all(sandbox, LISTS[Entity.DEAL], check_request=False, status="open,deleted")
    won_or_lost = await _all(sandbox, LISTS[Entity.DEAL], check_request=False, status="won,lost")
    only_deleted = await _all(sandbox, LISTS[Entity.DEAL], status="deleted")
    everything = await _all(sandbox, LISTS[Entity.DEAL], check_request=False, status="open,won,lost,deleted")

    table = sandbox.handle.state.tables[Entity.DEAL]
    deleted = {r.id for r in table.records.values() if r.deleted_ts is not None}  # won, and the seed's
    open_ids = {d["id"] for d in deals if d["status"] == "open"}
    assert won in deleted
    assert {d["id"] for d in open_and_deleted} == open_ids | deleted
    assert {d["id"] for d in won_or_lost} == {d["id"] for d in deals if d["status"] in ("won", "lost")}
    assert {d["id"] for d in only_deleted} == deleted and all(d["is_deleted"] for d in only_deleted)
    assert {d["id"] for d in everything} == {d["id"] for d in deals} | deleted


@pytest.mark.parametrize("status", ["closed", "open,archived", "deleted;open"])
async def test_an_unknown_deal_status_is_refused_with_pipedrives_body(
    sandbox: SandboxClient, status: str
) -> None:
    reply = await sandbox.call("GET", LISTS[Entity.DEAL], params={"status": status}, check_request=False)

    assert reply.status == 400 and _is_pipedrive_error(reply.body), reply.body
    assert "status" in reply.body["error"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v2/deals/abc", 400),
        ("PATCH", "/api/v2/organizations/1.5", 400),
        ("DELETE", "/api/v2/persons/-1", 400),
        ("GET", "/api/v2/organizations/%20", 400),
        ("GET", "/v1/users/me1", 400),
        ("GET", "/api/v2/deals/99999999", 404),
        ("GET", "/api/v2/persons/0", 404),
    ],
)
async def test_a_malformed_or_unknown_id_answers_pipedrives_json_error_body(
    sandbox: SandboxClient, method: str, path: str, status: int
) -> None:
    body = {"name": "x"} if method == "PATCH" else None
    reply = await sandbox.call(method, path, json=body, check_request=False)

    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    assert _is_pipedrive_error(reply.body), reply.body


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v2/nothing-here", 404),
        ("GET", "/v1/deals/1/nothing", 404),
        ("PUT", "/api/v2/deals/1", 405),
    ],
)
async def test_a_path_or_method_pipedrive_does_not_serve_answers_its_json_error_body(
    sandbox: SandboxClient, method: str, path: str, status: int
) -> None:
    headers = {"x-api-token": sandbox.handle.api_token}
    async with sandbox.session.request(method, sandbox.handle.base_url + path, headers=headers) as reply:
        assert reply.status == status and reply.content_type == "application/json"
        assert _is_pipedrive_error(await reply.json())


@pytest.mark.parametrize(
    ("entity", "name", "attribute"),
    [
        (Entity.ORGANIZATION, "owner_id", "owner_id"),
        (Entity.PERSON, "owner_id", "owner_id"),
        (Entity.PERSON, "org_id", "org_id"),
        (Entity.DEAL, "owner_id", "owner_id"),
        (Entity.DEAL, "org_id", "org_id"),
        (Entity.DEAL, "person_id", "person_id"),
        (Entity.DEAL, "stage_id", "stage_id"),
        (Entity.DEAL, "pipeline_id", "pipeline_id"),
    ],
)
async def test_each_id_filter_returns_exactly_the_matching_records(
    sandbox: SandboxClient, entity: Entity, name: str, attribute: str
) -> None:
    records = _live(sandbox, entity)
    value = next(r[attribute] for r in records if r[attribute] is not None)

    found = await _all(sandbox, LISTS[entity], **{name: value})

    assert sorted(r["id"] for r in found) == sorted(r["id"] for r in records if r[attribute] == value)


async def test_persons_of_a_deal(sandbox: SandboxClient) -> None:
    deal = next(d for d in _live(sandbox, Entity.DEAL) if d["person_id"] is not None)

    found = await _all(sandbox, LISTS[Entity.PERSON], deal_id=deal["id"])

    assert [p["id"] for p in found] == [deal["person_id"]]


@pytest.mark.parametrize("entity", list(Entity))
@pytest.mark.parametrize("sort_by", ["id", "update_time", "add_time"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
async def test_every_sort_order_pages_every_record_once_in_order(
    sandbox: SandboxClient, entity: Entity, sort_by: str, direction: str
) -> None:
    sandbox.handle.state.clock.advance(5)
    await sandbox.call("PATCH", f"{LISTS[entity]}/3", json={"owner_id": 1})  # one update_time apart

    found = await _all(sandbox, LISTS[entity], sort_by=sort_by, sort_direction=direction, limit=7)

    keys = [(r[sort_by], r["id"]) for r in found]
    assert keys == sorted(keys, reverse=direction == "desc")
    assert sorted(r["id"] for r in found) == sorted(r["id"] for r in _live(sandbox, entity))


@pytest.mark.parametrize(
    ("name", "value"),
    [("sort_by", "name"), ("sort_direction", "up"), ("owner_id", "me"), ("ids", "1,x"), ("limit", "0")],
)
async def test_a_bad_list_parameter_is_refused_with_pipedrives_body(
    sandbox: SandboxClient, name: str, value: str
) -> None:
    reply = await sandbox.call("GET", LISTS[Entity.DEAL], params={name: value}, check_request=False)

    assert reply.status == 400 and _is_pipedrive_error(reply.body)
    assert name in reply.body["error"]


@pytest.mark.parametrize("entity", list(Entity))
async def test_include_fields_adds_each_requested_field_and_refuses_others(
    sandbox: SandboxClient, entity: Entity
) -> None:
    wanted = sorted(INCLUDABLE[entity] - {"marketing_status", "doi_status"})

    found = await _all(sandbox, LISTS[entity], check_request=False, include_fields=",".join(wanted))
    one = await sandbox.call("GET", f"{LISTS[entity]}/2", params={"include_fields": wanted[0]})
    refused = await sandbox.call(
        "GET", LISTS[entity], params={"include_fields": "salary"}, check_request=False
    )

    assert found and all(set(wanted) <= set(record) for record in found)
    assert wanted[0] in one.body["data"]
    assert refused.status == 400 and _is_pipedrive_error(refused.body)
    assert "include_fields" in refused.body["error"]


async def test_included_counts_agree_with_the_data(sandbox: SandboxClient) -> None:
    deals = _live(sandbox, Entity.DEAL)
    org_id = next(d["org_id"] for d in deals if d["org_id"] is not None)
    fields = "open_deals_count,won_deals_count,closed_deals_count,people_count,smart_bcc_email"

    org = (await sandbox.call("GET", f"/api/v2/organizations/{org_id}", params={"include_fields": fields},
                              check_request=False)).body["data"]  # fmt: skip

    of_org = [d for d in deals if d["org_id"] == org_id]
    assert org["open_deals_count"] == sum(d["status"] == "open" for d in of_org)
    assert org["won_deals_count"] == sum(d["status"] == "won" for d in of_org)
    assert org["closed_deals_count"] == sum(d["status"] in ("won", "lost") for d in of_org)
    assert org["people_count"] == sum(p["org_id"] == org_id for p in _live(sandbox, Entity.PERSON))
    assert org["smart_bcc_email"].endswith("@pipedrivemail.com")


async def test_custom_fields_returns_only_the_listed_keys_at_most_15(sandbox: SandboxClient) -> None:
    codes = list(sandbox.handle.state.account.custom_fields(Entity.ORGANIZATION))
    kept = codes[:1]

    found = await _all(sandbox, LISTS[Entity.ORGANIZATION], custom_fields=",".join(kept))
    too_many = await sandbox.call(
        "GET", LISTS[Entity.ORGANIZATION], params={"custom_fields": ",".join(f"{i:040x}" for i in range(16))}
    )

    assert codes and all(set(record["custom_fields"]) <= set(kept) for record in found)
    assert any(record["custom_fields"] for record in found) or not codes
    assert too_many.status == 400 and _is_pipedrive_error(too_many.body)


async def test_a_saved_filter_the_company_does_not_have_is_not_found(sandbox: SandboxClient) -> None:
    reply = await sandbox.call("GET", LISTS[Entity.ORGANIZATION], params={"filter_id": 1})

    assert reply.status == 404 and _is_pipedrive_error(reply.body)
