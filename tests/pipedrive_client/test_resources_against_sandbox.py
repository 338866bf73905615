"""Typed resources against the sandbox: v2 entities with filters, search, fields, users, pipelines,
stages, v1 webhooks and merge; each request is also checked against the spec by the `sandbox` fixture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from pipedrive_client import (
    ListFilters,
    NotFound,
    PipedriveClientFactory,
    RequestRejected,
    WebhookSubscription,
)
from tests.pipedrive_client.sandbox_server import RecordingSandbox


async def test_organizations_persons_and_deals_are_created_read_patched_and_deleted(
    factory: PipedriveClientFactory, api_token_tenant: str
) -> None:
    client = factory.for_tenant(api_token_tenant)

    org = await client.organizations.create({"name": "Acme Contract Test"})
    person = await client.persons.create(
        {"name": "Ada Lovelace", "org_id": org.id, "emails": [{"value": "ada@acme.test", "primary": True}]}
    )
    deal = await client.deals.create({"title": "Big deal", "org_id": org.id, "person_id": person.id})
    renamed = await client.organizations.update(org.id, {"name": "Acme Renamed"})
    fetched = await client.persons.get(person.id)
    deleted_id = await client.deals.delete(deal.id)

    assert renamed.name == "Acme Renamed" and renamed.id == org.id
    assert fetched.org_id == org.id and fetched.emails[0].value == "ada@acme.test"
    assert deleted_id == deal.id


async def test_values_pipedrive_holds_with_nul_characters_are_read_without_them(
    factory: PipedriveClientFactory, api_token_tenant: str
) -> None:
    client = factory.for_tenant(api_token_tenant)
    [domain] = [f for f in await client.fields.list("organization") if f.field_name == "Domain"]

    created = await client.organizations.create(
        {"name": "Nul\u0000 Ltd", "custom_fields": {domain.field_code: "nul\u0000.io"}}
    )
    fetched = await client.organizations.get(created.id)
    [row] = (await client.organizations.list_rows(ListFilters(ids=[created.id]))).items

    assert created.name == fetched.name == row.values["name"] == "Nul Ltd"
    assert row.values["custom_fields"][domain.field_code] == "nul.io"


async def test_lists_take_filters_and_refuse_those_the_entity_lacks(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    client = factory.for_tenant(api_token_tenant)
    now = datetime.now(UTC).replace(microsecond=0)

    page = await client.deals.list_page(
        ListFilters(updated_since=now - timedelta(days=3650), updated_until=now + timedelta(days=1),
                    sort_by="update_time", stage_id=1, pipeline_id=1, status="open"),
        limit=50,
    )  # fmt: skip
    by_ids = await client.organizations.list_page(ListFilters(ids=[1, 2, 3]))

    assert all(d.stage_id == 1 and d.status == "open" for d in page.items)
    assert sorted(o.id for o in by_ids.items) == [1, 2, 3]
    assert "updated_since=" in sandbox.api_requests()[0].query_string
    with pytest.raises(ValueError, match="stage_id"):
        await client.organizations.list_page(ListFilters(stage_id=1))


@pytest.mark.parametrize("entity", ["organizations", "persons", "deals"])
async def test_a_page_read_as_rows_is_the_page_its_models_read(
    factory: PipedriveClientFactory, api_token_tenant: str, entity: str
) -> None:
    resource = getattr(factory.for_tenant(api_token_tenant), entity)

    rows = await resource.list_rows(limit=100)
    page = await resource.list_page(cursor=None, limit=100)

    assert rows.items and rows.next_cursor == page.next_cursor
    assert [(r.id, r.update_time, r.values) for r in rows.items] == [
        (m.id, m.update_time, m.model_dump(mode="json")) for m in page.items
    ]


async def test_search_finds_an_organization_by_exact_name(
    factory: PipedriveClientFactory, api_token_tenant: str
) -> None:
    client = factory.for_tenant(api_token_tenant)
    org = await client.organizations.create({"name": "Zyxwv Searchable"})

    hits = await client.organizations.search("Zyxwv Searchable", fields=["name"], exact_match=True)

    assert [hit.id for hit in hits] == [org.id]


async def test_fields_users_pipelines_and_stages_are_read_and_fields_created(
    factory: PipedriveClientFactory, api_token_tenant: str
) -> None:
    client = factory.for_tenant(api_token_tenant)

    created = await client.fields.create("organization", "Domain", "varchar")
    fields = await client.fields.list("organization")
    users = await client.users.list()
    pipelines = await client.pipelines.list()
    stages = await client.stages.list(pipelines[0].id)
    stage = await client.stages.get(stages[0].id)

    assert created.field_code in {f.field_code for f in fields} and len(created.field_code) == 40
    assert any(u.is_you for u in users)
    assert (await client.pipelines.get(pipelines[0].id)).name == pipelines[0].name
    assert stage.pipeline_id == pipelines[0].id


async def test_webhooks_are_registered_listed_and_removed(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    client = factory.for_tenant(api_token_tenant)
    subscription = WebhookSubscription(
        "https://abm.example/hooks/t1", "*", "organization", "psync", "hook-user", SecretStr("hook-pass")
    )

    webhook = await client.webhooks.create(subscription)
    listed = await client.webhooks.list()
    await client.webhooks.delete(webhook.id)

    assert webhook.id in {w.id for w in listed}
    assert await client.webhooks.list() == []


async def test_merge_keeps_the_target_and_deletes_the_merged_record(
    factory: PipedriveClientFactory, api_token_tenant: str
) -> None:
    client = factory.for_tenant(api_token_tenant)
    kept, merged = (
        await client.organizations.create({"name": "Keep"}),
        await client.organizations.create({"name": "Go"}),
    )

    survivor = await client.organizations.merge(merged.id, kept.id)

    assert survivor == kept.id
    gone = await client.organizations.list_page(ListFilters(ids=[merged.id]))
    assert gone.items == []


async def test_missing_records_and_refused_writes_are_typed_errors(
    factory: PipedriveClientFactory, api_token_tenant: str
) -> None:
    client = factory.for_tenant(api_token_tenant)

    with pytest.raises(NotFound):
        await client.organizations.get(987_654)
    with pytest.raises(RequestRejected, match="name"):
        await client.organizations.create({"name": ""})


async def test_tokens_travel_in_headers_never_in_urls(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    await factory.for_tenant(api_token_tenant).organizations.get(1)

    (request,) = sandbox.api_requests()
    assert request.headers["x-api-token"] == sandbox.handle.api_token
    assert "api_token" not in request.query_string


async def test_an_activity_is_added_to_an_organization_and_listed_with_its_cost(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    client = factory.for_tenant(api_token_tenant)
    org = await client.organizations.create({"name": "Visited Org"})
    spent_before = client.tokens_spent

    added = await client.activities.add(
        {"subject": "Website visit: 2 pages", "org_id": org.id, "done": True, "note": "<p>/pricing</p>"}
    )
    pages = [page async for page in client.activities.of_organization(org.id)]

    assert added.done and added.org_id == org.id and added.subject == "Website visit: 2 pages"
    assert [a.id for p in pages for a in p.items] == [added.id]
    assert client.tokens_spent - spent_before == 5 + 10
    assert [r.path for r in sandbox.api_requests()][-2:] == ["/api/v2/activities", "/api/v2/activities"]


async def test_recents_list_changes_deletions_and_the_person_a_merge_absorbed(
    factory: PipedriveClientFactory, api_token_tenant: str, sandbox: RecordingSandbox
) -> None:
    client = factory.for_tenant(api_token_tenant)
    since = datetime.fromtimestamp(sandbox.handle.state.clock.now(), UTC) - timedelta(seconds=1)
    org = await client.organizations.create({"name": "Recent Org"})
    doomed = await client.organizations.create({"name": "Deleted Org"})
    await client.organizations.delete(doomed.id)
    kept = await client.persons.create({"name": "Kept", "emails": [{"value": "k@recent.test"}]})
    gone = await client.persons.create({"name": "Gone", "emails": [{"value": "g@recent.test"}]})
    await client.persons.merge(gone.id, kept.id)

    page = await client.recents.page(since, ["organization", "person"])

    seen = {(i.item, i.id): i for i in page.items}
    assert not seen[("organization", org.id)].is_deleted
    assert seen[("organization", doomed.id)].is_deleted
    assert seen[("person", gone.id)].is_deleted
    assert seen[("person", kept.id)].merge_what_id == gone.id
    assert all(i.update_time is not None and i.update_time >= since for i in page.items)
    assert page.next_start is None
    assert client.tokens_spent >= 20  # a recents page costs 20 tokens


async def test_recents_pages_continue_from_next_start(
    factory: PipedriveClientFactory, api_token_tenant: str, sandbox: RecordingSandbox
) -> None:
    client = factory.for_tenant(api_token_tenant)
    since = datetime.fromtimestamp(sandbox.handle.state.clock.now(), UTC) - timedelta(seconds=1)
    for n in range(3):
        await client.organizations.create({"name": f"Paged {n}"})

    first = await client.recents.page(since, ["organization"], limit=2)
    assert first.next_start == 2
    second = await client.recents.page(since, ["organization"], start=first.next_start, limit=2)

    assert len(first.items) == 2 and len(second.items) == 1 and second.next_start is None
