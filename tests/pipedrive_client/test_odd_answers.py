"""Odd answers never crash the client: bad JSON, no data, wrong types and odd cursors are
`UnexpectedResponse`; network failures are retried, then `PipedriveUnavailable`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from pipedrive_client import (
    ApiDomainPolicy,
    ApiTokenCredentials,
    PipedriveClient,
    PipedriveClientFactory,
    PipedriveUnavailable,
    RetryPolicy,
    UnexpectedResponse,
)

ANSWERS: dict[str, bytes] = {
    "1": b"<html>maintenance</html>",
    "2": b'{"success": true}',
    "3": b'{"success": true, "data": {"id": "not-a-number", "name": "x"}}',
    "4": b'{"success": true, "data": {"id": 4}}',
    "5": b"[1, 2, 3]",
    "6": b'{"success": false, "data": null}',
}


async def _odd_answer(request: web.Request) -> web.Response:
    return web.Response(body=ANSWERS[request.match_info["id"]], content_type="application/json")


async def _odd_page(request: web.Request) -> web.Response:
    return web.Response(body=b'{"success": true, "data": [], "additional_data": {"next_cursor": 7}}')


@pytest.fixture
async def odd_server() -> AsyncIterator[TestServer]:
    """A server that answers every organization request with something odd."""
    app = web.Application()
    app.router.add_get("/api/v2/organizations/{id}", _odd_answer)
    app.router.add_get("/api/v2/organizations", _odd_page)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def odd_client(
    odd_server: TestServer,
    http_session: aiohttp.ClientSession,
    pg_pool: asyncpg.Pool,
    credentials_key: bytes,
    schema: str,
    tenant: str,
) -> PipedriveClient:
    """A client of the odd server."""
    base_url = str(odd_server.make_url("")).rstrip("/")
    factory = PipedriveClientFactory(
        http_session,
        pg_pool,
        credentials_key,
        policy=ApiDomainPolicy((base_url,)),
        retry=RetryPolicy(base_delay_seconds=0.001),
        schema=schema,
    )
    await factory.credentials.save(tenant, ApiTokenCredentials(SecretStr("odd-token"), base_url))
    return factory.for_tenant(tenant)


@pytest.mark.parametrize("answer", sorted(ANSWERS))
async def test_odd_bodies_are_unexpected_responses(odd_client: PipedriveClient, answer: str) -> None:
    with pytest.raises(UnexpectedResponse, match=r"^Unexpected response from Pipedrive"):
        await odd_client.organizations.get(int(answer))


async def test_a_malformed_cursor_is_an_unexpected_response(odd_client: PipedriveClient) -> None:
    with pytest.raises(UnexpectedResponse, match="cursor"):
        await odd_client.organizations.list_page()


async def test_an_unreachable_pipedrive_is_unavailable_after_bounded_retries(
    http_session: aiohttp.ClientSession,
    pg_pool: asyncpg.Pool,
    credentials_key: bytes,
    schema: str,
    tenant: str,
) -> None:
    closed_port = "http://127.0.0.1:9"
    factory = PipedriveClientFactory(
        http_session,
        pg_pool,
        credentials_key,
        policy=ApiDomainPolicy((closed_port,)),
        retry=RetryPolicy(max_attempts=3, base_delay_seconds=0.001),
        schema=schema,
    )
    await factory.credentials.save(tenant, ApiTokenCredentials(SecretStr("t"), closed_port))

    with pytest.raises(PipedriveUnavailable, match=r"^Pipedrive is unavailable$"):
        await factory.for_tenant(tenant).organizations.get(1)
    assert await factory.budget.spent_today(tenant) == 3
