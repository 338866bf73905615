"""v2 lists (cursor pagination and filters) and writes (create, patch, soft delete, merge, search)."""

from __future__ import annotations

from typing import Any

from pipedrive_sandbox.store import Entity
from pipedrive_sandbox.timestamps import format_time
from tests.sandbox.conftest import START, SandboxClient


async def _all_pages(client: SandboxClient, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    records: list[dict[str, Any]] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        reply = await client.call("GET", path, params=query)
        assert reply.status == 200, reply.body
        records += reply.body["data"]
        pages += 1
        cursor = reply.body["additional_data"]["next_cursor"]
        if cursor is None:
            return records, pages


async def test_cursor_pages_cover_every_live_record_once_and_end_with_a_null_cursor(
    sandbox: SandboxClient,
) -> None:
    records, pages = await _all_pages(sandbox, "/api/v2/organizations", limit=7)

    ids = [r["id"] for r in records]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 60
    assert pages == 9


async def test_limit_above_500_is_rejected(sandbox: SandboxClient) -> None:
    reply = await sandbox.call("GET", "/api/v2/organizations", params={"limit": 501})

    assert reply.status == 400 and reply.body["success"] is False


async def test_updated_since_is_inclusive_and_updated_until_exclusive(sandbox: SandboxClient) -> None:
    everything, _ = await _all_pages(sandbox, "/api/v2/persons", limit=500, sort_by="update_time")
    pivot, later = everything[10]["update_time"], everything[20]["update_time"]

    window, _ = await _all_pages(
        sandbox, "/api/v2/persons", sort_by="update_time", updated_since=pivot, updated_until=later
    )

    expected = [r["id"] for r in everything if pivot <= r["update_time"] < later]
    assert [r["id"] for r in window] == expected
    assert window[0]["update_time"] == pivot and all(r["update_time"] != later for r in window)


async def test_sort_by_update_time_descending_pages_in_reverse_order(sandbox: SandboxClient) -> None:
    records, _ = await _all_pages(
        sandbox, "/api/v2/deals", limit=4, sort_by="update_time", sort_direction="desc"
    )

    keys = [(r["update_time"], r["id"]) for r in records]
    assert keys == sorted(keys, reverse=True)


async def test_ids_filter_returns_exactly_those_records(sandbox: SandboxClient) -> None:
    reply = await sandbox.call("GET", "/api/v2/organizations", params={"ids": "3,5,8"})

    assert [r["id"] for r in reply.body["data"]] == [3, 5, 8]


async def test_more_than_100_ids_are_rejected(sandbox: SandboxClient) -> None:
    reply = await sandbox.call(
        "GET", "/api/v2/organizations", params={"ids": ",".join(map(str, range(1, 102)))}
    )

    assert reply.status == 400


async def test_deal_filters_combine(sandbox: SandboxClient) -> None:
    records, _ = await _all_pages(sandbox, "/api/v2/deals", limit=500, pipeline_id=1, status="open")

    assert records and all(r["pipeline_id"] == 1 and r["status"] == "open" for r in records)


async def test_persons_filter_by_organization(sandbox: SandboxClient) -> None:
    org_id = sandbox.handle.state.tables[Entity.PERSON].records[1].data["org_id"]

    records, _ = await _all_pages(sandbox, "/api/v2/persons", org_id=org_id)

    assert records and all(r["org_id"] == org_id for r in records)


async def test_status_deleted_lists_deals_deleted_in_the_last_30_days(sandbox: SandboxClient) -> None:
    await sandbox.call("DELETE", "/api/v2/deals/2")
    sandbox.handle.state.clock.advance(29 * 86400)
    recent, _ = await _all_pages(sandbox, "/api/v2/deals", status="deleted", ids="2")
    sandbox.handle.state.clock.advance(2 * 86400)

    expired, _ = await _all_pages(sandbox, "/api/v2/deals", status="deleted", ids="2")

    assert [r["id"] for r in recent] == [2] and recent[0]["is_deleted"] is True
    assert expired == []


async def test_create_answers_200_with_the_record_and_rfc3339_times(sandbox: SandboxClient) -> None:
    reply = await sandbox.call(
        "POST", "/api/v2/organizations", json={"name": "Example AS", "website": "example.ee"}
    )

    assert reply.status == 200
    assert reply.body["data"]["name"] == "Example AS" and reply.body["data"]["website"] == "example.ee"
    assert reply.body["data"]["add_time"] == format_time(int(START))


async def test_create_requires_the_name(sandbox: SandboxClient) -> None:
    reply = await sandbox.call("POST", "/api/v2/persons", json={"emails": [{"value": "x@y.z"}]})

    assert reply.status == 400


async def test_a_deal_needs_a_person_or_an_organization(sandbox: SandboxClient) -> None:
    reply = await sandbox.call("POST", "/api/v2/deals", json={"title": "Orphan"})

    assert reply.status == 400


async def test_patch_changes_fields_and_bumps_update_time(sandbox: SandboxClient) -> None:
    sandbox.handle.state.clock.advance(60)

    reply = await sandbox.call("PATCH", "/api/v2/organizations/4", json={"name": "Renamed Ltd"})

    assert reply.body["data"]["name"] == "Renamed Ltd"
    assert reply.body["data"]["update_time"] == format_time(int(START) + 60)


async def test_custom_fields_are_checked_against_their_definitions(sandbox: SandboxClient) -> None:
    fields = sandbox.handle.state.account.custom_fields(Entity.ORGANIZATION)
    score = next(code for code, d in fields.items() if d.field_type == "double")

    good = await sandbox.call("PATCH", "/api/v2/organizations/4", json={"custom_fields": {score: 42.5}})
    bad = await sandbox.call("PATCH", "/api/v2/organizations/4", json={"custom_fields": {score: "high"}})

    assert good.body["data"]["custom_fields"][score] == 42.5
    assert bad.status == 400


async def test_deleted_organizations_leave_lists_but_stay_readable(sandbox: SandboxClient) -> None:
    deleted = await sandbox.call("DELETE", "/api/v2/organizations/9")

    listed = await sandbox.call("GET", "/api/v2/organizations", params={"ids": "9"})
    read = await sandbox.call("GET", "/api/v2/organizations/9")

    assert deleted.body["data"] == {"id": 9}
    assert listed.body["data"] == []
    assert read.body["data"]["is_deleted"] is True


async def test_merge_deletes_the_merged_record_and_moves_its_persons(sandbox: SandboxClient) -> None:
    persons = sandbox.handle.state.tables[Entity.PERSON]
    moved = next(r.id for r in persons.live() if r.data["org_id"] == 11)

    reply = await sandbox.call("PUT", "/v1/organizations/11/merge", json={"merge_with_id": 12})

    assert reply.body["data"]["id"] == 12
    assert (await sandbox.call("GET", "/api/v2/organizations/11")).body["data"]["is_deleted"] is True
    assert (await sandbox.call("GET", f"/api/v2/persons/{moved}")).body["data"]["org_id"] == 12


async def test_person_search_by_email_is_exact_and_case_insensitive(sandbox: SandboxClient) -> None:
    person = sandbox.handle.state.tables[Entity.PERSON].records[5].data
    email = person["emails"][0]["value"]

    reply = await sandbox.call(
        "GET",
        "/api/v2/persons/search",
        params={"term": email.upper(), "fields": "email", "exact_match": True},
    )

    items = reply.body["data"]["items"]
    assert 5 in [i["item"]["id"] for i in items]
    assert all(email in i["item"]["emails"] for i in items)
    assert items[0]["result_score"] == 1.0


async def test_search_needs_two_characters(sandbox: SandboxClient) -> None:
    reply = await sandbox.call("GET", "/api/v2/organizations/search", params={"term": "a"})

    assert reply.status == 400


async def test_stages_are_added_last_in_their_pipeline_and_may_repeat_a_name(sandbox: SandboxClient) -> None:
    pipeline = await sandbox.call("POST", "/api/v2/pipelines", json={"name": "Renewals"})
    first = await sandbox.call(
        "POST", "/api/v2/stages", json={"name": "Review", "pipeline_id": pipeline.body["data"]["id"]}
    )
    second = await sandbox.call(
        "POST", "/api/v2/stages", json={"name": "Review", "pipeline_id": pipeline.body["data"]["id"]}
    )
    unknown = await sandbox.call(
        "POST", "/api/v2/stages", json={"name": "X", "pipeline_id": 999}, check_request=False
    )

    listed = await sandbox.call("GET", "/api/v2/stages", params={"pipeline_id": pipeline.body["data"]["id"]})
    assert [(s["name"], s["order_nr"]) for s in listed.body["data"]] == [("Review", 1), ("Review", 2)]
    assert first.body["data"]["id"] != second.body["data"]["id"]
    assert unknown.status == 400 and unknown.body["success"] is False
