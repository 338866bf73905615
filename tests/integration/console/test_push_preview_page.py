"""The console's push preview, signed in and driven over HTTP like a browser, against the services' APIs
served by a stand-in (the console's own tables on the real PostgreSQL): what the "Fields this push writes"
card says when the pusher's mapping cannot be read, and when it maps nothing into Pipedrive."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from console.bootstrap import create_app, install_tables
from console.settings import ConsoleSettings
from tenant_auth.passwords import new_password
from tenant_auth.registry import TenantRegistry
from tenant_auth.users import ConsoleUsers, Role
from tests.support.schemas import schema_fixture

pytestmark = pytest.mark.integration
Client = TestClient[web.Request, web.Application]

schema = schema_fixture("console", install_tables)

ACCOUNT = {"abm_id": "a1", "match_key": "acme.io", "fields": {"name": "Acme"}, "pipedrive": None}
PREVIEW = {
    "object": "organization",
    "summary": {"create": 1, "update": 0, "unchanged": 0, "skip": 0, "fail": 0},
    "records": [
        {"abm_id": "a1", "match_key": "acme.io", "action": "create", "pipedrive_id": None,
         "changes": {"name": {"from": None, "to": "Acme"}}, "message": None},
    ],
}  # fmt: skip
UNREADABLE = (503, {"error": "unavailable", "message": "The settings store is not answering"})
NOTHING_INTO_PIPEDRIVE = (
    200,
    {"object": "organization", "directions": {}, "fields": [
        {"abm_field": "name", "pipedrive_field": "name", "custom": False, "mode": "Don't sync"},
    ]},
)  # fmt: skip


@dataclass
class Services:
    """The mapper's, the pusher's, the connector's and the auditlog's APIs as the console calls them, the
    pusher's mapping answering `mapping`; the pushes asked for are kept."""

    mapping: tuple[int, dict[str, Any]] = UNREADABLE
    pushes: list[Any] = field(default_factory=list)

    def app(self) -> web.Application:
        async def accounts(_: web.Request) -> web.Response:
            return web.json_response({"data": [ACCOUNT], "next_cursor": None})

        async def preview(_: web.Request) -> web.Response:
            return web.json_response(PREVIEW)

        async def mapping(_: web.Request) -> web.Response:
            return web.json_response(self.mapping[1], status=self.mapping[0])

        async def push(request: web.Request) -> web.Response:
            self.pushes.append(await request.json())
            return web.json_response({"run_id": "push-1", "records": 1}, status=202)

        async def catalog(_: web.Request) -> web.Response:
            return web.json_response({"fields": {"organization": []}})

        async def alerts(_: web.Request) -> web.Response:
            return web.json_response({"data": []})

        app = web.Application()
        app.router.add_get("/v1/accounts", accounts)
        app.router.add_post("/v1/push/preview", preview)
        app.router.add_get("/v1/push/mapping", mapping)
        app.router.add_post("/v1/push", push)
        app.router.add_get("/v1/catalog", catalog)
        app.router.add_get("/v1/alerts", alerts)
        return app


@pytest.fixture
async def services() -> AsyncIterator[tuple[Services, str]]:
    stand_in = Services()
    server = TestServer(stand_in.app())
    await server.start_server()
    yield stand_in, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def admin(pg_pool: asyncpg.Pool, schema: str, services: tuple[Services, str]) -> AsyncIterator[Client]:
    """The console, an admin of a fresh tenant signed in through its sign-in form."""
    tenant, password = f"c{uuid.uuid4().hex[:8]}", new_password()
    await TenantRegistry(pg_pool).create_tenant(tenant, tenant)
    await ConsoleUsers(pg_pool).add(tenant, f"admin@{tenant}.example", Role.ADMIN, password)
    url = services[1]
    settings = ConsoleSettings(
        db_schema=schema, connector_url=url, mapper_url=url, pusher_url=url, auditlog_url=url,
        service_keys_key=SecretStr(secrets.token_hex(32)), cookie_secure=False,
    )  # fmt: skip
    async with TestClient(TestServer(create_app(settings, pg_pool))) as client:
        form = await (await client.get("/login")).text()
        signed_in = await client.post(
            "/login",
            data={"email": f"admin@{tenant}.example", "password": password, "csrf_token": _csrf(form)},
            allow_redirects=False,
        )
        assert signed_in.status == 303, await signed_in.text()
        yield client


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


async def _preview(client: Client) -> str:
    browse = await (await client.get("/push")).text()
    form = {"csrf_token": _csrf(browse), "collection": "accounts", "abm_id": "a1"}
    answer = await client.post("/push/preview", data=form)
    assert answer.status == 200
    return await answer.text()


async def test_a_mapping_that_cannot_be_read_is_said_so_and_no_push_is_offered(
    admin: Client, services: tuple[Services, str]
) -> None:
    """It once said "None: every field is set to Don't sync into Pipedrive" and offered the push."""
    page = await _preview(admin)

    assert (
        "every field is set to Don&#39;t sync" not in page and "every field is set to Don't sync" not in page
    )
    assert "The field mapping could not be read, so this push is not offered" in page
    assert "The settings store is not answering" in page
    assert "Confirm and push" not in page and 'action="/push/confirm"' not in page
    assert 'action="/push/preview"' in page and "Preview again" in page
    assert services[0].pushes == []


async def test_a_mapping_that_writes_nothing_into_pipedrive_is_said_so_and_the_push_is_offered(
    admin: Client, services: tuple[Services, str]
) -> None:
    services[0].mapping = NOTHING_INTO_PIPEDRIVE

    page = await _preview(admin)

    assert "None: every field is set to Don" in page
    assert "could not be read" not in page
    assert 'action="/push/confirm"' in page and "Confirm and push" in page
