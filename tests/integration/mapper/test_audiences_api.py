"""The mapper's HTTP API: authenticated per tenant, paginated, filtered, and blind to other tenants."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from mapper.bootstrap import add_api_routes
from schemas.events.common import SyncObject
from schemas.events.settings import ObjectSettings, TenantSettings
from schemas.events.source_changes import ChangeAction
from tenant_auth.registry import TenantRegistry
from tests.integration.mapper.conftest import MapperHarness
from tests.support.tenants import Client, new_tenant_headers, tenant_api_client

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(pg_pool: asyncpg.Pool, mapper_schema: str) -> AsyncIterator[tuple[Client, TenantRegistry]]:
    async with tenant_api_client(pg_pool, lambda app: add_api_routes(app, pg_pool, mapper_schema)) as api:
        yield api


async def test_a_tenant_lists_its_accounts_page_by_page(
    api: tuple[Client, TenantRegistry], mapper: MapperHarness
) -> None:
    client, registry = api
    headers = await new_tenant_headers(registry, mapper.tenant)
    for n in range(5):
        await mapper.change(SyncObject.ORGANIZATION, 100 + n, {"name": f"Org {n}", "website": f"org{n}.io"})

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/accounts", params=params, headers=headers)
        assert response.status == 200
        body = await response.json()
        seen += [row["match_key"] for row in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"org{n}.io" for n in range(5)]


async def test_a_search_filters_by_name_or_key(
    api: tuple[Client, TenantRegistry], mapper: MapperHarness
) -> None:
    client, registry = api
    headers = await new_tenant_headers(registry, mapper.tenant)
    await mapper.change(SyncObject.ORGANIZATION, 200, {"name": "Globex", "website": "globex.io"})
    await mapper.change(SyncObject.ORGANIZATION, 201, {"name": "Initech", "website": "initech.io"})

    response = await client.get("/v1/accounts", params={"q": "glob"}, headers=headers)

    assert [row["match_key"] for row in (await response.json())["data"]] == ["globex.io"]


async def test_another_tenants_key_sees_nothing_of_this_tenant(
    api: tuple[Client, TenantRegistry], mapper: MapperHarness
) -> None:
    client, registry = api
    own = await new_tenant_headers(registry, mapper.tenant)
    other = await new_tenant_headers(registry, f"other-{mapper.tenant}")
    await mapper.change(SyncObject.ORGANIZATION, 300, {"name": "Private", "website": "private.io"})
    abm_id = (await mapper.account("private.io"))["abm_id"]

    assert (await client.get(f"/v1/accounts/{abm_id}", headers=own)).status == 200
    assert (await client.get(f"/v1/accounts/{abm_id}", headers=other)).status == 404
    listed = await (await client.get("/v1/accounts", headers=other)).json()
    assert listed["data"] == []


@pytest.mark.parametrize(
    "authorization", [None, "Bearer nonsense", "Bearer psk_aaaaaaaaaaaa_" + "x" * 43, "Basic abc"]
)
async def test_calls_without_a_valid_key_are_refused(
    api: tuple[Client, TenantRegistry], authorization: str | None
) -> None:
    client, _ = api
    headers = {"Authorization": authorization} if authorization else {}

    response = await client.get("/v1/accounts", headers=headers)

    assert response.status == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    body = await response.json()
    assert body["error"] == "unauthorized" and "API key" in body["message"]


async def test_a_revoked_key_is_refused(api: tuple[Client, TenantRegistry], mapper: MapperHarness) -> None:
    client, registry = api
    await registry.create_tenant(mapper.tenant, mapper.tenant)
    key = await registry.issue_key(mapper.tenant)

    await registry.revoke_key(mapper.tenant, key.key_id)

    response = await client.get("/v1/accounts", headers={"Authorization": f"Bearer {key.full_key}"})
    assert response.status == 401


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "x"}, {"deleted_in_crm": "maybe"}, {"sort": "name"}]
)
async def test_a_bad_query_gets_a_clear_400(
    api: tuple[Client, TenantRegistry],
    mapper: MapperHarness,
    query: dict[str, str],
) -> None:
    client, registry = api
    headers = await new_tenant_headers(registry, mapper.tenant)

    response = await client.get("/v1/accounts", params=query, headers=headers)

    assert response.status == 400
    body = await response.json()
    assert body["error"] == "bad_request" and body["problems"], body
    assert body["message"] == "; ".join(body["problems"])


@pytest.mark.parametrize("cursor", ["abc", "eyJ4IjoxfQ", "WyJhIiwxXQ", "WzFd", "%ff", "WyJhXHUwMDAwYiJd"])
async def test_a_tampered_cursor_is_a_400_naming_the_cursor(
    api: tuple[Client, TenantRegistry],
    mapper: MapperHarness,
    cursor: str,
) -> None:
    # Found by probing `make up`: any string was taken as a position in the list (200, a page).
    client, registry = api
    headers = await new_tenant_headers(registry, mapper.tenant)

    response = await client.get("/v1/accounts", params={"cursor": cursor}, headers=headers)

    assert (response.status, (await response.json())["problems"]) == (
        400,
        ["cursor: not a cursor this API returned"],
    )


async def test_an_unknown_collection_is_404(
    api: tuple[Client, TenantRegistry], mapper: MapperHarness
) -> None:
    client, registry = api
    headers = await new_tenant_headers(registry, mapper.tenant)

    response = await client.get("/v1/leads", headers=headers)

    assert response.status == 404
    body = await response.json()
    assert body["error"] == "not_found" and "leads" in body["message"]


async def test_records_show_their_pipedrive_link_and_accounts_their_normalized_domain(
    api: tuple[Client, TenantRegistry], mapper: MapperHarness
) -> None:
    client, registry = api
    headers = await new_tenant_headers(registry, mapper.tenant)
    objects = {
        SyncObject.ORGANIZATION: ObjectSettings(),
        SyncObject.PERSON: ObjectSettings(),
        SyncObject.DEAL: ObjectSettings(),
    }
    web_url = "https://acme.pipedrive.com"
    await mapper.settings(TenantSettings(version=1, objects=objects, pipedrive_web_url=web_url))
    org = SyncObject.ORGANIZATION
    await mapper.change(org, 400, {"name": "Linked", "website": "https://www.Linked.io/about"})
    await mapper.change(org, 401, {"name": "Gone", "website": "gone.io"})
    await mapper.change(org, 401, None, action=ChangeAction.DELETED, at="2026-11-01T11:00:00Z")
    await mapper.change(org, 402, {"name": "Loser", "website": "loser.io"})
    await mapper.change(org, 403, {"name": "Survivor", "website": "survivor.io"})
    await mapper.change(
        org, 402, None, action=ChangeAction.MERGED, merged_into=403, at="2026-11-01T11:00:00Z"
    )
    await mapper.change(SyncObject.PERSON, 500, {"name": "Pat", "emails": [{"value": "pat@linked.io"}]})

    accounts = {
        a["domain"]: a for a in (await (await client.get("/v1/accounts", headers=headers)).json())["data"]
    }
    contact = (await (await client.get("/v1/contacts", headers=headers)).json())["data"][0]
    one = await (await client.get(f"/v1/accounts/{accounts['linked.io']['abm_id']}", headers=headers)).json()

    linked = accounts["linked.io"]
    assert (linked["domain"], linked["website"]) == ("linked.io", "https://www.Linked.io/about")
    assert linked["pipedrive"] == {
        "id": 400, "url": f"{web_url}/organization/400", "deleted": False, "merged_from_id": None,
    }  # fmt: skip
    assert one["data"]["pipedrive"] == linked["pipedrive"]
    assert (accounts["gone.io"]["pipedrive"]["id"], accounts["gone.io"]["pipedrive"]["deleted"]) == (
        401,
        True,
    )
    assert accounts["loser.io"]["pipedrive"] == {
        "id": 403, "url": f"{web_url}/organization/403", "deleted": False, "merged_from_id": 402,
    }  # fmt: skip
    assert contact["pipedrive"]["url"] == f"{web_url}/person/500"


async def test_records_can_be_asked_for_by_abm_ids_up_to_a_hundred(
    api: tuple[Client, TenantRegistry], mapper: MapperHarness
) -> None:
    client, registry = api
    headers = await new_tenant_headers(registry, mapper.tenant)
    for n in range(3):
        await mapper.change(SyncObject.ORGANIZATION, 600 + n, {"name": f"Org {n}", "website": f"ids{n}.io"})
    wanted = [(await mapper.account(f"ids{n}.io"))["abm_id"] for n in (0, 2)]

    found = await client.get("/v1/accounts", params={"ids": ",".join([*wanted, "nope"])}, headers=headers)
    too_many = await client.get("/v1/accounts", params={"ids": ",".join(["x"] * 101)}, headers=headers)

    assert sorted(r["abm_id"] for r in (await found.json())["data"]) == sorted(wanted)
    assert too_many.status == 400 and "at most 100" in (await too_many.json())["message"]
