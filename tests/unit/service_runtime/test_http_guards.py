"""The middlewares every service installs: an unexpected exception answers a JSON 500 whose error id is in
the log line with the traceback; aiohttp's plain-text errors (a body over the size limit, a malformed
form) keep their status with the JSON shape; NUL characters in the path or the query string are a 400
naming where; JSON bodies with NUL characters or integers beyond bigint are a 400 naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel
from structlog.testing import capture_logs

from service_runtime.http_guards import api_middlewares
from service_runtime.http_inputs import PositiveId, read_json, read_query

Client = TestClient[web.Request, web.Application]


class Thing(BaseModel):
    """A body with a name, an id and free-form fields."""

    name: str
    pipedrive_id: PositiveId | None = None
    fields: dict[str, object] = {}


class Page(BaseModel):
    """A query string."""

    limit: int = 10


async def _broken(_request: web.Request) -> web.Response:
    raise RuntimeError("a bug nobody expected")


async def _echo(request: web.Request) -> web.Response:
    thing = await read_json(request, Thing)
    return web.json_response(thing.model_dump())


async def _page(request: web.Request) -> web.Response:
    return web.json_response(read_query(request, Page).model_dump())


async def _form(request: web.Request) -> web.Response:
    return web.json_response(dict(await request.post()))


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    """An app with the shared middlewares and a 1 KiB body limit."""
    app = web.Application(middlewares=api_middlewares(), client_max_size=1024)
    app.router.add_get("/v1/broken", _broken)
    app.router.add_post("/v1/things", _echo)
    app.router.add_get("/v1/things", _page)
    app.router.add_get("/v1/things/{thing_id}", _page)
    app.router.add_post("/v1/form", _form)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_an_unexpected_exception_is_a_json_500_with_an_error_id_that_is_in_the_log(
    client: Client,
) -> None:
    with capture_logs() as logs:
        response = await client.get("/v1/broken")

    assert (response.status, response.content_type) == (500, "application/json")
    body = await response.json()
    assert body["error"] == "internal_error" and len(body["error_id"]) == 32
    assert body["error_id"] in body["message"]
    assert "a bug nobody expected" not in str(body)
    [logged] = [entry for entry in logs if entry["event"] == "request_failed"]
    assert logged["error_id"] == body["error_id"]
    assert logged["path"] == "/v1/broken" and logged["error_class"] == "RuntimeError"
    assert isinstance(logged["exc_info"], RuntimeError)


async def test_a_body_over_the_limit_is_a_json_413_naming_the_limit(client: Client) -> None:
    response = await client.post("/v1/things", data=b'{"name": "' + b"x" * 2000 + b'"}')

    assert (response.status, response.content_type) == (413, "application/json")
    body = await response.json()
    assert body["error"] == "payload_too_large" and body["limit_bytes"] == 1024
    assert "1024 bytes" in body["message"]


async def test_a_form_over_the_limit_is_a_json_413_too(client: Client) -> None:
    response = await client.post("/v1/form", data={"field": "x" * 2000})

    assert (response.status, (await response.json())["error"]) == (413, "payload_too_large")


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/v1/things?limit=%00", "limit"),
        ("/v1/things?li%00mit=1", "li\\u0000mit"),
        ("/v1/things/a%00b", "path"),
    ],
)
async def test_a_nul_in_the_path_or_query_is_a_json_400_naming_where(
    client: Client, path: str, named: str
) -> None:
    response = await client.get(path)

    assert (response.status, response.content_type) == (400, "application/json")
    body = await response.json()
    assert body["error"] == "bad_request"
    assert body["problems"] == [f"{named}: must not contain NUL characters"]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"name": "a\u0000b"}, "name: must not contain NUL characters"),
        ({"name": "a", "fields": {"tags": ["ok", "b\u0000"]}}, "fields.tags.1: must not contain NUL"),
        ({"name": "a", "fields": {"k\u0000": 1}}, "fields.k\\u0000: must not contain NUL"),
        ({"name": "a", "pipedrive_id": 2**63}, "pipedrive_id: Input should be less than or equal to"),
        ({"name": "a", "pipedrive_id": "99999999999999999999"}, "pipedrive_id: Input should be less"),
    ],
)
async def test_a_json_body_with_nul_characters_or_a_too_big_id_is_a_400_naming_the_field(
    client: Client, document: dict[str, object], problem: str
) -> None:
    response = await client.post("/v1/things", json=document)

    assert response.status == 400
    body = await response.json()
    assert body["error"] == "bad_request"
    assert body["problems"][0].startswith(problem), body


async def test_a_body_that_is_not_json_is_a_json_400(client: Client) -> None:
    response = await client.post("/v1/things", data=b"{not json")

    assert (response.status, await response.json()) == (
        400,
        {"error": "bad_request", "message": "The body is not valid JSON."},
    )


@pytest.mark.parametrize("path", ["/v1/things", "/v1/form"])
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_that_does_not_decode_as_its_content_encoding_says_is_a_json_400(
    client: Client, path: str, encoding: str
) -> None:
    # Found by probing `make up` from outside: a body claiming to be gzip that is not was a 500.
    response = await client.post(
        path,
        data=b"not compressed",
        headers={"Content-Encoding": encoding, "Content-Type": "application/x-www-form-urlencoded"},
    )

    assert (response.status, response.content_type) == (400, "application/json")
    body = await response.json()
    assert body["error"] == "bad_request"
    assert body["problems"] == [f"body: cannot be decoded as its Content-Encoding ({encoding}) says"]


async def test_good_input_passes(client: Client) -> None:
    created = await client.post("/v1/things", json={"name": "ok", "pipedrive_id": 2**63 - 1})
    page = await client.get("/v1/things?limit=5")

    assert (created.status, (await created.json())["pipedrive_id"]) == (200, 2**63 - 1)
    assert await page.json() == {"limit": 5}
