"""The router's own 404 and 405 answer the JSON error shape; everything else passes through untouched, and
a call without a valid key gets its 401 before the router's 404 or 405."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import asyncpg
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Middleware

from service_runtime.http_errors import json_error, json_routing_errors
from tenant_auth.middleware import tenant_auth_middleware, tenant_of
from tenant_auth.registry import TenantRegistry

Client = TestClient[web.Request, web.Application]
KEY = {"Authorization": "Bearer good-key"}


class OneKeyRegistry(TenantRegistry):
    """`good-key` belongs to tenant `acme`; nothing else is a key (no database)."""

    def __init__(self) -> None:
        super().__init__(cast(asyncpg.Pool, None))

    async def tenant_of(self, presented: str) -> str | None:
        return "acme" if presented == "good-key" else None


async def _whoami(request: web.Request) -> web.Response:
    return web.json_response({"tenant": tenant_of(request)})


async def _missing_record(_request: web.Request) -> web.Response:
    raise json_error(404, "not_found", "No such run for this tenant.", run_id="r1")


async def _conflict(_request: web.Request) -> web.Response:
    raise json_error(409, "conflict", "Already running.", headers={"Retry-After": "5"})


async def _plain_teapot(_request: web.Request) -> web.Response:
    return web.Response(status=418, text="short and stout")


async def _broken(_request: web.Request) -> web.Response:
    raise RuntimeError("boom")


def _app(middlewares: list[Middleware]) -> web.Application:
    app = web.Application(middlewares=middlewares)
    app.router.add_get("/healthz", _plain_teapot)
    app.router.add_get("/v1/whoami", _whoami)
    app.router.add_get("/v1/runs/missing", _missing_record)
    app.router.add_post("/v1/runs", _conflict)
    app.router.add_get("/v1/teapot", _plain_teapot)
    app.router.add_get("/v1/broken", _broken)
    return app


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    """The middlewares in the order every service uses: routing errors outside the tenant auth (the 401
    still comes first: the router's 404 and 405 are raised by the innermost handler)."""
    async with TestClient(
        TestServer(_app([json_routing_errors, tenant_auth_middleware(OneKeyRegistry())]))
    ) as c:
        yield c


@pytest.fixture
async def bare() -> AsyncIterator[Client]:
    """The same routes without any middleware: aiohttp's own answers."""
    async with TestClient(TestServer(_app([tenant_auth_middleware(OneKeyRegistry())]))) as c:
        yield c


async def test_a_path_no_route_serves_is_a_json_404_naming_the_method_and_path(client: Client) -> None:
    response = await client.get("/v1/nowhere", headers=KEY)

    assert (response.status, response.content_type) == (404, "application/json")
    assert await response.json() == {"error": "not_found", "message": "No route serves GET /v1/nowhere."}


async def test_a_method_the_route_does_not_allow_is_a_json_405_keeping_allow(client: Client) -> None:
    response = await client.delete("/v1/whoami", headers=KEY)

    assert (response.status, response.content_type) == (405, "application/json")
    assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD"}
    assert await response.json() == {
        "error": "method_not_allowed",
        "message": "DELETE is not allowed on /v1/whoami (allowed: GET, HEAD).",
    }


async def test_a_public_path_answers_its_405_without_a_key(client: Client) -> None:
    response = await client.post("/healthz")

    assert response.status == 405
    assert (await response.json())["error"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD"}


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nowhere"), ("DELETE", "/v1/whoami")])
async def test_without_a_key_the_401_comes_before_the_404_or_405(
    client: Client, method: str, path: str
) -> None:
    response = await client.request(method, path)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await response.json())["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/v1/whoami", KEY),
        ("GET", "/v1/runs/missing", KEY),
        ("POST", "/v1/runs", KEY),
        ("GET", "/v1/teapot", KEY),
        ("GET", "/v1/broken", KEY),
        ("GET", "/v1/nowhere", {}),
    ],
)
async def test_every_other_answer_passes_through_byte_for_byte(
    client: Client, bare: Client, method: str, path: str, headers: dict[str, str]
) -> None:
    wrapped = await client.request(method, path, headers=headers)
    plain = await bare.request(method, path, headers=headers)

    assert wrapped.status == plain.status
    assert await wrapped.read() == await plain.read()
    assert _comparable(wrapped) == _comparable(plain)


def _comparable(response: ClientResponse) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in {"Date", "Server"}}


async def test_a_head_of_an_unknown_path_is_a_json_404_without_a_body(client: Client) -> None:
    response = await client.head("/v1/nowhere", headers=KEY)

    assert (response.status, response.content_type) == (404, "application/json")
    assert await response.read() == b""


async def test_the_authenticated_tenant_is_read_back_by_its_request_key(client: Client) -> None:
    response = await client.get("/v1/whoami", headers=KEY)

    assert response.status == 200
    assert await response.json() == {"tenant": "acme"}
